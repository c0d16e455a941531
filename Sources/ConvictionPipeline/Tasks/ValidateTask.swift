import ConvictionCore
import ConvictionModeling
import ConvictionScoring
import ConvictionStore
import Foundation

/// Checks what a run needs before any work: archives readable, the XGBoost library loadable, the
/// sentiment model present (its absence only degrades scoring), and says what will run.
public struct ValidateTask: Sendable {
    public static let stage = "validate"
    let context: PipelineContext
    let archives: [String]
    let twitterSentiment: Bool

    public init(context: PipelineContext, archives: [String], twitterSentiment: Bool) {
        self.context = context; self.archives = archives; self.twitterSentiment = twitterSentiment
    }

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: Self.stage)
        let config = context.configuration
        for archive in archives where !FileManager.default.isReadableFile(atPath: archive) {
            outcome.failures.append("archive \(archive): no such file or folder, or not readable")
        }
        if config.simulates && !archives.isEmpty {
            outcome.failures.append("data.source = simulator with real archives would mix simulated bars and news with real posts; set data.source = \"stored\" (and import bars) to run on the archives")
        }
        if !context.dryRun, let origin = try await StoreOrigin.current(in: context.store) {
            if config.simulates && origin == .real {
                outcome.failures.append("data.source = simulator, but \(context.store.location) holds real data; the simulator would mix with it: use another --data-dir for the demo")
            }
        }
        do {
            _ = try XGBoostLibrary.locate(explicit: config.xgboostLibrary)
        } catch {
            outcome.failures.append("\(error)")
        }
        if twitterSentiment, config.scoring.scorer == .transformer {
            let folder = config.scoring.model.isEmpty ? ProjectFiles.model(ScoreTask.defaultModelName) : config.scoring.model
            if folder.map({ !FileManager.default.fileExists(atPath: $0 + "/model.onnx") }) ?? true {
                outcome.notes.append("warning: no transformer model at \(folder ?? ScoreTask.defaultModel); posts will be scored with the lexicon")
            }
        }
        let line = "configuration valid; \(config.symbols.count) symbols; data from \(config.simulates ? "the simulator" : "the store"); posts from \(twitterSentiment ? (archives.isEmpty ? (config.simulates ? "the simulator's stream" : "the store (raw/posts/)") : "\(archives.count) archive(s)") : "no post stage (existing scores, if any)")"
        if context.dryRun { outcome.planned = [line] } else { outcome.notes.append(line) }
        outcome.done = outcome.failures.isEmpty ? 1 : 0
        return outcome
    }
}
