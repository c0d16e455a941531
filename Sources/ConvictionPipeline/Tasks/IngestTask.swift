import ConvictionCore
import ConvictionIngest
import ConvictionStore
import Foundation
import Logging

/// Replays post archives into the raw store: by default the simulator's `sim/stream/` archive,
/// or files named on the command line (X API v2 JSON lines, optionally gzipped).
public struct IngestTask: Sendable {
    let context: PipelineContext
    let files: [String]

    public init(context: PipelineContext, files: [String] = []) { self.context = context; self.files = files }

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: ReplayIngestor.stage)
        let store = context.store
        var sources: [ReplayIngestor.Source] = []
        if files.isEmpty {
            for key in try await store.list(prefix: Dataset.simulatedStream.rawValue + "/") where key.hasSuffix(".jsonl.gz") {
                sources.append(.init(name: key) { try await store.get(key) })
            }
        } else {
            for file in files {
                let path = URL(fileURLWithPath: file).standardizedFileURL.path
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw StoreError(key: file, message: "cannot read the archive file")
                }
                sources.append(.init(name: path) {
                    guard let data = FileManager.default.contents(atPath: path) else { throw StoreError(key: path, message: "cannot read") }
                    return data
                })
            }
        }
        if context.dryRun {
            outcome.planned = [files.isEmpty && sources.isEmpty
                ? "replay the simulator's post archive (sim/stream/) into raw/posts/ once simulate has written it"
                : "replay \(sources.count) archive file(s) into raw/posts/ (already finished ones are skipped)"]
            return outcome
        }
        let ingestor = ReplayIngestor(store: store, catalog: context.catalog, symbols: context.configuration.symbols)
        var meter = ProgressMeter(stage: "ingest", total: sources.count, logger: context.logger)
        var rejected: [String: Int] = [:]
        for (i, source) in sources.enumerated() {
            let result = try await ingestor.replay(source)
            if result.skipped { outcome.skipped += 1 } else { outcome.done += 1 }
            outcome.rows += result.accepted
            for (reason, count) in result.rejected { rejected[reason, default: 0] += count }
            if let failure = result.failure {
                outcome.failures.append(failure)
                context.logger.error("ingest: \(failure); its good lines were stored, the rest quarantined; fix or replace the file and re-run")
            }
            meter.step(i + 1, rows: outcome.rows)
        }
        if !rejected.isEmpty {
            outcome.notes.append("quarantined: " + rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                                 + " (see raw/quarantine/ingest/)")
        }
        return outcome
    }
}
