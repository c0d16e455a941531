import ConvictionCore
import ConvictionStore
import Foundation
import Logging

/// The whole job in order: simulate -> ingest -> score -> features -> train -> report. Each stage
/// reads and writes the store and skips work the catalog says is finished, so a re-run resumes.
public struct Pipeline: Sendable {
    public struct Options: Sendable {
        /// Run the post stages (ingest, score); without it features use whatever scores exist.
        public var twitterSentiment = true
        /// Archives to replay instead of the simulator's stream.
        public var archives: [String] = []
        /// Run the simulator first (the embedded default data source).
        public var simulate = true
        public init() {}
    }

    public struct Summary: Sendable {
        public var outcomes: [StageOutcome] = []
        public var report: RunReport?
        public var reportLocation: String?
        public var failed: Bool { outcomes.contains { !$0.failures.isEmpty } }
    }

    let context: PipelineContext
    let options: Options

    public init(context: PipelineContext, options: Options) { self.context = context; self.options = options }

    public func run() async throws -> Summary {
        var summary = Summary()
        let logger = context.logger
        func finish(_ outcome: StageOutcome) -> Bool {
            summary.outcomes.append(outcome)
            for line in outcome.planned { logger.info("plan: \(line)") }
            if !context.dryRun { logger.info("\(outcome.summary)") }
            for note in outcome.notes { logger.info("\(outcome.stage): \(note)") }
            for failure in outcome.failures { logger.error("\(outcome.stage): \(failure)") }
            // Never train on incomplete inputs: stop after a stage that could not finish.
            return outcome.failures.isEmpty
        }
        if options.simulate, options.archives.isEmpty {
            guard finish(try await SimulateTask(context: context).run()) else { return summary }
        }
        if options.twitterSentiment {
            guard finish(try await IngestTask(context: context, files: options.archives).run()) else { return summary }
            guard finish(try await ScoreTask(context: context).run()) else { return summary }
        }
        guard finish(try await FeaturesTask(context: context).run()) else { return summary }
        let (outcome, report) = try await TrainTask(context: context).run()
        _ = finish(outcome)
        summary.report = report
        if let report { summary.reportLocation = context.store.location + "/" + Dataset.runs.rawValue + "/\(report.runID)/report.md" }
        return summary
    }
}
