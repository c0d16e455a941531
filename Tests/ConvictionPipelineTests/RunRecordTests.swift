import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionPipeline
import ConvictionScoring
import ConvictionTesting
import Foundation
import Logging
import Testing

@Suite(.enabled(if: TestSupport.xgboostLibrary != nil, "needs libxgboost.so in .venv (make setup)"), .timeLimit(.minutes(10)))
struct RunRecordTests {
    /// A tuned run leaves everything needed to understand and redo it in runs/<id>/.
    @Test func aTunedRunWritesItsRecordReportAndModels() async throws {
        let dir = TestSupport.temporaryDirectory("record")
        let summary = try await Pipeline(context: try await makeContext(dir) {
            $0.symbols = [Symbol("AAPL"), Symbol("MSFT")]
            $0.simulation.sessions = 8
            $0.training.folds = 3
            $0.training.bootstrapReplicates = 50
            $0.training.search.trials = 4
            $0.training.search.maxRounds = 60
            $0.scoring.scorer = .lexicon
            $0.features.includeSentiment = true
        }, options: .init()).run()
        let report = try #require(summary.report)
        let run = dir.appendingPathComponent("runs/\(report.runID)")
        for file in ["report.json", "report.md", "report.html", "fold_delta_auc.svg", "configuration.toml", "record.json", "trials.json",
                     "train.log", "models/baseline.json", "models/sentiment.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file)")
        }
        #expect(report.result.searches.count == 6)
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        for marker in ["ROC, out of sample", "ΔAUC per walk-forward fold", "Search history", "Feature importance", "IC decay", "Tuned hyperparameters"] {
            #expect(html.contains(marker), "report.html lacks \(marker)")
        }
        #expect(!html.contains("<script"))
        let md = try String(contentsOf: run.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(md.contains("## Hyperparameter search (nested)"))
        // Every symbol studied gets its own line: in the terminal summary, report.md and report.html.
        #expect(report.result.perGroup.count == 2 && report.result.perGroup.map(\.testRows).reduce(0, +) == report.result.testRows)
        #expect(report.terminalSummary.contains { $0.hasPrefix("  AAPL ") } && report.terminalSummary.contains { $0.hasPrefix("  MSFT ") })
        #expect(md.contains("## Per symbol") && html.contains("<h2>Per symbol</h2>"))
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("record.json"))) as! [String: Any]
        #expect((record["inputs"] as? [[String: String]])?.count == 2)
        #expect((record["seeds"] as? [String: Int])?["training"] == 7)
        // The commit of this checkout when the tests run inside a plain git checkout; "unknown" otherwise.
        let version = record["code_version"] as? String ?? ""
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: TestSupport.packageRoot.appendingPathComponent(".git").path, isDirectory: &isDirectory), isDirectory.boolValue {
            #expect(version.range(of: #"commit [0-9a-f]{40}"#, options: .regularExpression) != nil, "\(version)")
        } else {
            #expect(version.contains("commit unknown"))
        }
        let log = try String(contentsOf: run.appendingPathComponent("train.log"), encoding: .utf8)
        #expect(log.contains("search: fold 1 baseline: 4 trials"))
        #expect(try String(contentsOf: run.appendingPathComponent("configuration.toml"), encoding: .utf8).contains("trials = 4"))
        // The saved model is a real XGBoost model.
        let library = try XGBoostLibrary.locate(explicit: TestSupport.xgboostLibrary)
        _ = try Booster(library: library, loadingFrom: run.appendingPathComponent("models/sentiment.json").path)
        // Reports from before the search existed still read.
        let decoded = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: run.appendingPathComponent("report.json")))
        #expect(decoded.result.searches == report.result.searches)
    }
}

@Suite(.enabled(if: TestSupport.xgboostLibrary != nil, "needs libxgboost.so in .venv (make setup)"), .timeLimit(.minutes(10)))
struct DegradationTests {
    /// No posts (the post stages could not run: X down, no credentials): the run measures what news
    /// sentiment adds, says so first, and does not fail.
    @Test func withoutPostsTheRunMeasuresNewsSentimentAndSaysSo() async throws {
        let dir = TestSupport.temporaryDirectory("no-posts")
        var options = Pipeline.Options()
        options.twitterSentiment = false
        let summary = try await Pipeline(context: try await makeContext(dir) {
            $0.symbols = [Symbol("AAPL"), Symbol("TSLA")]
            $0.simulation.sessions = 8
            $0.training.folds = 3
            $0.training.bootstrapReplicates = 50
            $0.features.includeSentiment = true
        }, options: options).run()
        #expect(!summary.failed, "\(summary.outcomes.flatMap(\.failures))")
        let features = try #require(summary.outcomes.first { $0.stage == "features" })
        #expect(features.notes.contains { $0.contains("posts unavailable: 0 of") && $0.contains("not enforced") }, "\(features.notes)")
        let report = try #require(summary.report)
        #expect(report.degradation?.hasPrefix("posts unavailable: 0 of 16 symbol-days") == true, "\(report.degradation ?? "nil")")
        #expect(report.verdict.hasPrefix("DEGRADED, posts unavailable"))
        #expect(report.verdict.contains("news sentiment"))
        #expect(report.result.addedFeatures.contains("news_sentiment") && !report.result.baselineFeatures.contains("news_sentiment"))
        #expect(!report.result.addedFeatures.contains("sent_5m"))
    }
}

@Suite(.timeLimit(.minutes(10))) struct PipelineGraphTests {
    /// The plan's smoke test: every task, in dependency order, nothing written; a missing archive
    /// stops the plan at validation and nothing after it runs.
    @Test func dryRunPlansEveryTaskAndValidationStopsTheRest() async throws {
        let dir = TestSupport.temporaryDirectory("graph").appendingPathComponent("not-yet")
        var configuration = ConvictionConfiguration.demo
        configuration.dataDir = dir.path
        let context = try await PipelineContext.open(configuration, logger: .init(label: "t"), dryRun: true)
        let plan = try await Pipeline(context: context, options: .init()).run()
        #expect(plan.outcomes.map(\.stage) == ["validate", "simulate", "ingest", "score", "features", "train"])
        #expect(plan.outcomes.first?.planned.first?.hasPrefix("configuration valid; 11 symbols") == true)
        var options = Pipeline.Options()
        options.archives = [dir.appendingPathComponent("missing.jsonl.gz").path]
        let stopped = try await Pipeline(context: context, options: options).run()
        #expect(stopped.failed && stopped.outcomes.map(\.stage) == ["validate"])
        #expect(stopped.outcomes[0].failures.first?.contains("missing.jsonl.gz: no such file") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }
}
