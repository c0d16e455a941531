import ConvictionCore
import ConvictionModeling
import ConvictionStore
import CoreMetrics
import Foundation
import Logging

/// The whole job as a small graph of tasks, each run after the tasks it depends on:
///
///     validate -> [simulate] -> twitter-sentiment (ingest, score) -> features -> train (search
///     without and with sentiment, compare, negative control, report)
///
/// `simulate` runs only with `data.source = "simulator"` (the demo); otherwise every stage reads
/// the store: posts ingested or replayed, bars imported, news imported.
/// Each task reads and writes the store and skips work the catalog says is finished, so a re-run
/// resumes. A task whose dependency failed does not run: nothing trains on incomplete inputs.
public struct Pipeline: Sendable {
    public struct Options: Sendable {
        /// Run the post stages (ingest, score); without it features use whatever scores exist.
        public var twitterSentiment = true
        /// Archive files or folders of real posts to replay first (with `data.source = "stored"`).
        public var archives: [String] = []
        /// The learner (`--algorithm`), recorded in the run.
        public var algorithm = "xgboost"
        public init() {}
    }

    public struct Summary: Sendable {
        public var outcomes: [StageOutcome] = []
        public var report: RunReport?
        public var reportLocation: String?
        /// Each task's wall time, in the order run: what a user waits for.
        public var seconds: [(task: String, seconds: Double)] = []
        public var failed: Bool { outcomes.contains { !$0.failures.isEmpty } }

        /// `time by task: ingest 12.3 s (15%), score ...`.
        public var timings: String {
            let total = seconds.reduce(0) { $0 + $1.seconds }
            return "time by task: " + seconds.map { String(format: "%@ %.1f s (%.0f%%)", $0.task, $0.seconds, 100 * $0.seconds / max(total, 1e-9)) }
                .joined(separator: ", ") + String(format: "; %.1f s in all", total)
        }
    }

    let context: PipelineContext
    let options: Options

    public init(context: PipelineContext, options: Options) { self.context = context; self.options = options }

    /// One node of the graph: its name, what it runs after, and its work (several outcomes for a
    /// composite task such as twitter-sentiment).
    struct Node {
        let name: String
        let after: [String]
        let work: () async throws -> [StageOutcome]
    }

    var nodes: [Node] {
        var nodes = [Node(name: "validate", after: []) {
            [try await ValidateTask(context: context, archives: options.archives, twitterSentiment: options.twitterSentiment).run()]
        }]
        let simulating = context.configuration.simulates
        if simulating { nodes.append(Node(name: "simulate", after: ["validate"]) { [try await SimulateTask(context: context).run()] }) }
        if options.twitterSentiment {
            nodes.append(Node(name: "twitter-sentiment", after: simulating ? ["simulate"] : ["validate"]) {
                try await TwitterSentimentTask(context: context, archives: options.archives).run()
            })
        }
        let featuresAfter = options.twitterSentiment ? ["twitter-sentiment"] : (simulating ? ["simulate"] : ["validate"])
        nodes.append(Node(name: "features", after: featuresAfter) { [try await FeaturesTask(context: context).run()] })
        nodes.append(Node(name: "train", after: ["features"]) { [] })  // run below: it also returns the report
        return nodes
    }

    /// The nodes in an order that respects every dependency (Kahn's algorithm, stable by position).
    static func order(_ nodes: [Node]) -> [Node] {
        var done: Set<String> = [], ordered: [Node] = [], pending = nodes
        while !pending.isEmpty {
            guard let next = pending.firstIndex(where: { $0.after.allSatisfy(done.contains) }) else {
                preconditionFailure("pipeline graph has a cycle among \(pending.map(\.name))")
            }
            let node = pending.remove(at: next)
            ordered.append(node); done.insert(node.name)
        }
        return ordered
    }

    public func run() async throws -> Summary {
        var summary = Summary()
        let logger = context.logger
        func finish(_ outcome: StageOutcome) -> Bool {
            summary.outcomes.append(outcome)
            if !context.dryRun { PipelineMetrics.stage(outcome) }
            for line in outcome.planned { logger.info("plan: \(line)") }
            if !context.dryRun { logger.info("\(outcome.summary)") }
            for note in outcome.notes { logger.info("\(outcome.stage): \(note)") }
            for failure in outcome.failures { logger.error("\(outcome.stage): \(failure)") }
            return outcome.failures.isEmpty
        }
        var failed: Set<String> = []
        for node in Self.order(nodes) {
            if let broken = node.after.first(where: failed.contains) {
                // Never run on incomplete inputs: everything after a failed task waits for a re-run.
                logger.error("\(node.name): not run, because \(broken) did not finish")
                failed.insert(node.name)
                continue
            }
            if node.name == "train" {
                let started = ContinuousClock.now
                let (outcome, report) = try await TrainTask(context: context, algorithm: options.algorithm).run()
                PipelineMetrics.duration(of: outcome.stage, since: started)
                summary.seconds.append((node.name, Self.seconds(since: started)))
                if !finish(outcome) { failed.insert(node.name) }
                if let report, !context.dryRun { PipelineMetrics.uplift(report) }
                summary.report = report
                if let report { summary.reportLocation = context.store.location + "/" + Dataset.runs.rawValue + "/\(report.runID)/report.md" }
                continue
            }
            let started = ContinuousClock.now
            let outcomes = try await node.work()
            if !context.dryRun { PipelineMetrics.duration(of: node.name, since: started) }
            summary.seconds.append((node.name, Self.seconds(since: started)))
            for outcome in outcomes where !finish(outcome) { failed.insert(node.name) }
        }
        if !context.dryRun { logger.info("\(summary.timings)") }
        return summary
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// What the pipeline reports through swift-metrics (to CloudWatch with `monitoring.cloudwatch`):
/// each stage's duration and failures, and each run's ΔAUC and its one-sided DeLong p.
enum PipelineMetrics {
    static func duration(of stage: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        CoreMetrics.Timer(label: "conviction_pipeline_stage_seconds", dimensions: [("stage", stage)])
            .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    static func stage(_ outcome: StageOutcome) {
        Counter(label: "conviction_pipeline_stage_failures_total", dimensions: [("stage", outcome.stage)]).increment(by: outcome.failures.count)
    }

    static func uplift(_ report: RunReport) {
        Gauge(label: "conviction_pipeline_delta_auc").record(report.result.deltaAUC)
        Gauge(label: "conviction_pipeline_delta_auc_p").record(report.result.delong.pOneSided)
    }
}
