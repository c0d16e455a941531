import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionFeatures
import ConvictionModeling
import ConvictionPipeline
import ConvictionScoring
import ConvictionStore
import Foundation

/// Prints a stage's summary and turns failures into a non-zero exit.
func report(_ outcome: StageOutcome, context: PipelineContext) throws {
    for line in outcome.planned { print("plan: \(line)") }
    if !context.dryRun { print(outcome.summary) }
    for note in outcome.notes { print("\(outcome.stage): \(note)") }
    guard outcome.failures.isEmpty else {
        for failure in outcome.failures { FileHandle.standardError.write(Data("error: \(failure)\n".utf8)) }
        throw ExitCode(2)
    }
}

extension Conviction.Score {
    /// The queue worker: stops after the batch in hand on SIGINT, SIGTERM or a spot interruption notice.
    func runWorker(_ context: PipelineContext) async throws {
        let stop = StopSignal()
        let scoring = context.configuration.scoring
        let watcher = scoring.spotNoticeEndpoint.isEmpty ? nil : Task {
            if let notice = await SpotInterruptionNotice.watch(endpoint: scoring.spotNoticeEndpoint,
                                                               interval: scoring.spotPollInterval) {
                FileHandle.standardError.write(Data("score: spot interruption notice (\(notice.action) at \(notice.time)); finishing the batch in hand\n".utf8))
                stop.request("spot interruption notice")
            }
        }
        defer { watcher?.cancel() }
        let task = ScoreTask(context: context, worker: workerID ?? LeaseBoard.defaultWorkerID(), stop: stop)
        let outcome = try await GracefulShutdown.run(logger: context.logger, onShutdown: {
            FileHandle.standardError.write(Data("score: shutdown requested (SIGTERM or SIGINT); finishing the batch in hand\n".utf8))
            stop.request("SIGTERM or SIGINT")
        }) { try await task.run() }
        try report(outcome, context: context)
    }
}

extension Conviction {
    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Simulate prices, news and posts (the embedded default data source).",
            discussion: """
            Writes market/bars_1m/, market/news/ and sim/stream/ (X API v2 stream lines). Deterministic: the
            same seed and settings give byte-identical files. Example:
              conviction simulate --sessions 20 --signal 0 --seed 7
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Seed (simulation.seed).") var seed: Int?
        @Option(help: "Trading sessions (simulation.sessions).") var sessions: Int?
        @Option(help: "Sentiment-leads-returns strength, 0 = none (simulation.signal).") var signal: Double?
        @Option(help: "First day, YYYY-MM-DD (simulation.start).") var start: String?

        func run() async throws {
            let configuration = try global.resolve(overrides: [
                ("simulation.seed", seed.map(String.init)), ("simulation.sessions", sessions.map(String.init)),
                ("simulation.signal", signal.map { String($0) }), ("simulation.start", start)])
            let context = try await global.context(configuration)
            try report(try await SimulateTask(context: context).run(), context: context)
        }
    }

    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score raw posts for sentiment, or score texts you give it.",
            discussion: """
            Pipeline stage: reads raw/posts/, writes scores/dt=/symbol=/part-0.parquet (positive, negative, neutral,
            label, confidence, scorer, model_hash) with the transformer model; if the model is missing or fails,
            the lexicon scorer takes over and the output says so. With llm.endpoint set, an LLM behind an
            OpenAI-compatible server scores first and the CPU model scores what it cannot; each row names its scorer.

            The stage is a queue: several `conviction score` workers (processes or machines on one store) share
            it through leases in the store, and checkpoint every scoring.checkpoint_posts posts. SIGTERM or a spot
            interruption notice (scoring.spot_notice_endpoint) stops a worker after the batch in hand; it exits 0
            and leaves the rest to the others. Ad hoc: --text and --input print label, confidence and the three
            probabilities for each text, in input order. Examples:
              conviction score --symbols AAPL,TSLA
              conviction score --llm-endpoint http://10.0.0.12:8000/v1 --llm-model fingpt-llama3-8b
              conviction score --text "$AAPL beats estimates, shares up 5%" --format jsonl
              conviction score --input posts.csv          (a CSV with a text column)
              cat posts.txt | conviction score --input -  (one text per line)
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Score this text and print the result (repeatable).") var text: [String] = []
        @Option(help: "Score a file's texts: one per line, or a CSV with a text column (.csv, or --csv); - = standard input.")
        var input: String?
        @Flag(help: "Read --input as CSV whatever its name.") var csv = false
        @Option(help: "Ad-hoc output: csv or jsonl.") var format: AdHocScoring.Format = .csv
        @Option(help: "transformer or lexicon (scoring.scorer).") var scorer: String?
        @Option(help: "Model folder (scoring.model).") var model: String?
        @Option(help: "Texts per batch (scoring.batch_size).") var batchSize: Int?
        @Option(help: "ONNX Runtime intra-op threads, 0 = one per core (scoring.threads).") var threads: Int?
        @Option(help: "OpenAI-compatible base URL of an LLM scorer (llm.endpoint).") var llmEndpoint: String?
        @Option(help: "Model the LLM server serves (llm.model).") var llmModel: String?
        @Option(help: "This worker's name in lease records; default <host>-<pid>.") var workerID: String?

        func run() async throws {
            let configuration = try global.resolve(overrides: [
                ("scoring.scorer", scorer), ("scoring.model", model), ("scoring.batch_size", batchSize.map(String.init)),
                ("scoring.threads", threads.map(String.init)), ("llm.endpoint", llmEndpoint), ("llm.model", llmModel)])
            guard !text.isEmpty || input != nil else {
                let context = try await global.context(configuration)
                try await runWorker(context)
                return
            }
            var records = text.enumerated().map { AdHocScoring.Record(text: $0.element, line: $0.offset + 1, invalidUTF8: false) }
            if let input {
                let data: Data
                if input == "-" {
                    data = FileHandle.standardInput.readDataToEndOfFile()
                } else {
                    guard let read = FileManager.default.contents(atPath: input) else {
                        throw ValidationError("--input \(input): no such file or not readable")
                    }
                    data = read
                }
                do {
                    records += try AdHocScoring.read(data, source: input == "-" ? "<stdin>" : input, csv: csv ? true : nil)
                } catch let error as AdHocScoring.InputError {
                    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                    throw ExitCode(2)
                }
            }
            let chain = ScoreTask.chain(configuration)
            let loadNotices = chain.notices
            for notice in loadNotices { FileHandle.standardError.write(Data("warning: \(notice)\n".utf8)) }
            FileHandle.standardError.write(Data("score: \(records.count) text(s) with \(chain.active.name) (model \(chain.active.modelHash))\n".utf8))
            if let header = AdHocScoring.header(format) { print(header) }
            AdHocScoring.score(records, chain: chain, format: format) { print($0) }
            for notice in chain.notices.dropFirst(loadNotices.count) { FileHandle.standardError.write(Data("warning: \(notice)\n".utf8)) }
        }
    }

    struct Features: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build point-in-time feature matrices.",
            discussion: """
            Reads market/bars_1m/, market/news/ and scores/; writes features/symbol=/part-0.parquet and
            features/feature_metadata.json. Example:
              conviction features --include-sentiment
            """,
            subcommands: [Build.self, Describe.self, ImportBars.self], defaultSubcommand: Build.self)
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "describe",
            abstract: "Print every feature's definition as Markdown (the source of docs/training.md).",
            discussion: "Example: conviction features describe > docs/training.md")
        func run() async throws { print(FeatureDefinition.markdownReference(), terminator: "") }
    }

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Build point-in-time feature matrices (the default).",
            discussion: "Example: conviction features build --no-include-sentiment")
        @OptionGroup var global: GlobalOptions
        @Flag(inversion: .prefixedNo, help: "Add the sentiment features.") var includeSentiment = true

        func run() async throws {
            var configuration = try global.resolve()
            configuration.features.includeSentiment = includeSentiment
            let context = try await global.context(configuration)
            try report(try await FeaturesTask(context: context).run(), context: context)
        }
    }

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train XGBoost walk-forward with and without sentiment and report the uplift.",
            discussion: """
            Reads features/; writes runs/<run-id>/report.md, report.json and fold_delta_auc.svg. Example:
              conviction train --algorithm xgboost
              conviction train --trials 30     (TPE search inside each fold's training window)
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Learning algorithm.") var algorithm: Algorithm = .xgboost
        @Option(help: "Hyperparameter search trials per fold and model; 0 = fixed parameters (training.trials).") var trials: Int?
        @Option(help: "local, or sagemaker: export, tune on SageMaker, wait, fetch and compare (docs/scale-out.md).") var engine: Engine = .local

        enum Engine: String, ExpressibleByArgument, CaseIterable { case local, sagemaker }

        func run() async throws {
            let context = try await global.context(try global.resolve(overrides: [("training.trials", trials.map(String.init))]))
            if engine == .sagemaker {
                let steps = SageMakerSteps(context: context)
                try await steps.submit(force: false)
                if context.dryRun { return }
                try await steps.status(wait: true, interval: 60)
                try await steps.fetch()
                return
            }
            let (outcome, runReport) = try await TrainTask(context: context, algorithm: algorithm.rawValue).run()
            runReport?.terminalSummary.forEach { print($0) }
            try report(outcome, context: context)
        }
    }

    struct PipelineCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pipeline",
            abstract: "Run every stage: [simulate,] ingest, score, features, train, report.",
            discussion: """
            Finished work is skipped (each stage says so), so a re-run resumes and gives the same results.
            Example, as in the project plan:
              conviction pipeline --symbols AAPL --algorithm xgboost --twitter-sentiment --include-sentiment
            With --dry-run it validates the configuration and inputs and prints the plan, training nothing.
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Learning algorithm.") var algorithm: Algorithm = .xgboost
        @Flag(help: "Run the post stages (ingest and score).") var twitterSentiment = false
        @Flag(help: "Add the sentiment features and measure their uplift.") var includeSentiment = false
        @Option(help: "Simulated sessions (simulation.sessions).") var sessions: Int?
        @Option(help: "Simulation signal strength, 0 = none (simulation.signal).") var signal: Double?
        @Option(help: "Simulation seed (simulation.seed).") var seed: Int?
        @Option(help: "Hyperparameter search trials per fold and model; 0 = fixed parameters (training.trials).") var trials: Int?
        @Option(name: .customLong("archive"), help: "Replay this archive file or folder of real posts first (repeatable; data.source = stored).")
        var archives: [String] = []

        func run() async throws {
            var configuration = try global.resolve(overrides: [
                ("simulation.sessions", sessions.map(String.init)), ("simulation.signal", signal.map { String($0) }),
                ("simulation.seed", seed.map(String.init)), ("training.trials", trials.map(String.init))])
            configuration.features.includeSentiment = includeSentiment
            let context = try await global.context(configuration)
            var options = Pipeline.Options()
            options.twitterSentiment = twitterSentiment
            options.archives = archives
            options.algorithm = algorithm.rawValue
            let started = Date()
            let summary = try await ConvictionPipeline.Pipeline(context: context, options: options).run()
            if context.dryRun {
                print("dry run: configuration valid; nothing was written")
                return
            }
            if let runReport = summary.report { runReport.terminalSummary.forEach { print($0) } }
            if let location = summary.reportLocation { print("report: \(location)") }
            print(String(format: "pipeline finished in %.1fs", Date().timeIntervalSince(started)))
            if summary.failed { throw ExitCode(2) }
        }
    }
}

extension AdHocScoring.Format: ExpressibleByArgument {}

enum Algorithm: String, ExpressibleByArgument, CaseIterable {
    case xgboost
}

extension Conviction {
    struct ImportBars: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-bars",
            abstract: "Load OHLCV bars from a CSV file into market/bars_1m/ (or market/bars_1d/).",
            discussion: """
            Column names are case-insensitive (timestamp/datetime, or date and time; open, high, low, close, volume;
            optional symbol/ticker). Timestamps label the bar's start: RFC 3339 with a zone, epoch seconds or
            milliseconds, or a local New York time. Bad rows (unreadable fields, non-positive prices, duplicates,
            out-of-session times) are reported by line and quarantined; missing bars are reported per session.
            Example:
              conviction features import-bars --symbol AAPL aapl_1min.csv
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Symbol, when the file has no symbol column.") var symbol: String?
        @Option(help: "Bar length: 1m or 1d.") var frequency: String = "1m"
        @Argument(help: "CSV files.") var files: [String]

        func run() async throws {
            guard let freq = BarImporter.Frequency(rawValue: frequency) else { throw ValidationError("--frequency must be 1m or 1d") }
            let context = try await global.context(try global.resolve())
            if !context.dryRun { try await StoreOrigin.claim(.real, by: "conviction features import-bars", in: context.store) }
            var failed = false
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot read") }
                if context.dryRun { print("plan: import \(file) as \(freq.rawValue) bars"); continue }
                let report = try await BarImporter(store: context.store, symbol: symbol.map(Symbol.init), frequency: freq)
                    .importCSV(String(decoding: data, as: UTF8.self), source: file)
                print("\(file): \(report.imported) bars imported into \(report.keys.count) partition(s), \(report.rejected.count) rejected")
                for line in report.missing { print("warning: \(file): \(line)") }
                for line in report.rejected { FileHandle.standardError.write(Data("error: \(file): \(line)\n".utf8)) }
                failed = failed || !report.rejected.isEmpty
            }
            if failed { throw ExitCode(2) }
        }
    }
}
