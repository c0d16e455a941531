import Foundation

/// The sentiment side of the pipeline as one task: ingest posts (the simulator's stream or archives)
/// and score them. When posts turn out to be unavailable, the features and train stages measure
/// news sentiment instead (`PostCoverage`), so this task never has to fail the run for that.
public struct TwitterSentimentTask: Sendable {
    let context: PipelineContext
    let archives: [String]

    public init(context: PipelineContext, archives: [String] = []) { self.context = context; self.archives = archives }

    /// The ingest outcome, then the score outcome (none when ingestion could not finish).
    public func run() async throws -> [StageOutcome] {
        let ingest = try await IngestTask(context: context, files: archives).run()
        guard ingest.failures.isEmpty else { return [ingest] }
        return [ingest, try await ScoreTask(context: context).run()]
    }
}
