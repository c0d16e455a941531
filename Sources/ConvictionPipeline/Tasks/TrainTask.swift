import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionStore
import Foundation
import Logging

/// Trains XGBoost walk-forward on the pooled feature matrices, with and without the sentiment
/// features, and writes the run's report to `runs/<run-id>/`.
public struct TrainTask: Sendable {
    public static let stage = "train"
    /// Part of the run's input hash: bumped when the training or the report changes, so finished
    /// runs made by older code are redone rather than reused.
    public static let version = 6
    let context: PipelineContext
    /// The learner (`--algorithm`), recorded in the run. XGBoost is the only one today.
    let algorithm: String

    public init(context: PipelineContext, algorithm: String = "xgboost") { self.context = context; self.algorithm = algorithm }

    public func run() async throws -> (StageOutcome, RunReport?) {
        var outcome = StageOutcome(stage: Self.stage)
        let config = context.configuration
        let library = try XGBoostLibrary.locate(explicit: config.xgboostLibrary)
        let partitions = try await context.store.partitions(of: .features, symbols: context.symbolSet)
        let keys = partitions.filter { $0.key.symbol != nil }.flatMap(\.value).filter { $0.hasSuffix(".parquet") }.sorted()
        if context.dryRun {
            let search = config.training.search
            let tuning = search.trials > 0
                ? "\(search.sampler.rawValue) search of \(search.trials) trials per fold and model inside each training window (up to \(search.maxRounds) rounds, early stopping \(search.earlyStoppingRounds))"
                : "\(config.training.rounds) rounds with fixed parameters"
            outcome.planned = ["train XGBoost \(library.versionString) (\(library.path)) walk-forward, \(config.training.folds) folds, \(tuning), with and without sentiment, then a negative control; \(keys.count) feature matrices present now"]
            return (outcome, nil)
        }
        guard !keys.isEmpty else { throw StoreError(key: Dataset.features.rawValue, message: "no feature matrices: run `conviction features` first", code: .missingInput) }

        guard algorithm == "xgboost" else { throw StoreError(key: "--algorithm", message: "\(algorithm.debugDescription) is not a learner Conviction has; xgboost is the only one") }
        var hasher = ContentHasher()
        hasher.update("train-v\(Self.version)")
        hasher.update(algorithm)
        hasher.update(try JSON.encode(config.training))
        hasher.update(String(config.minPostCoverage))
        hasher.update(library.versionString)
        var files: [(String, Data)] = []
        for key in keys {
            let data = try await context.store.get(key)
            files.append((key, data)); hasher.update(key); hasher.update(data)
        }
        let inputHash = hasher.finalize()
        let runID = "run-" + inputHash.prefix(12)
        if let done = try await context.catalog.finished(stage: Self.stage, unit: runID, inputHash: inputHash, store: context.store),
           let reportKey = done.outputKeyList.first(where: { $0.hasSuffix("report.json") }) {
            outcome.skipped = 1
            outcome.rows = done.rows
            context.logger.info("train: skipped, \(runID) already holds these results")
            let report = try RunReport.decode(try await context.store.get(reportKey))
            return (outcome, report)
        }

        let daily = config.features.frequency == .daily
        let dataset = try Self.dataset(from: files, deadZone: config.training.deadZone)
        let (base, sentiment, degradation) = try await Self.columns(of: dataset, context: context)
        if let degradation { context.logger.warning("train: \(degradation)") }
        context.logger.info("train: \(dataset.data.rowCount) labelled rows, \(dataset.symbols.count) symbols, \(Set(dataset.data.day).count) days; XGBoost \(library.versionString)")
        let experiment = UpliftExperiment(configuration: config.training, library: library)
        let started = Date()
        // Everything said while training goes to the console and into the run folder's train.log.
        var logLines: [String] = []
        let consoleLogger = context.logger
        func log(_ line: String) {
            consoleLogger.info("\(line)")
            logLines.append(String(format: "%7.1fs ", Date().timeIntervalSince(started)) + line)
        }
        // 1. Leakage audit, before anything is claimed.
        var audit = LeakageAudit().run(dataset.data)
        for finding in audit.findings { log("audit: \(finding.check) \(finding.failed ? "FAILED" : "passed"): \(finding.detail)") }
        // 2. The comparison.
        let result = try experiment.run(dataset.data, baseline: base, added: sentiment) { log($0) }
        let trainSeconds = Date().timeIntervalSince(started)
        let modelFinding = LeakageAudit().modelFinding(baselineAUC: result.baselineAUC, augmentedAUC: result.augmentedAUC)
        audit = LeakageAudit.Result(findings: audit.findings + [modelFinding], featureAUCs: audit.featureAUCs)
        // Information coefficients of the sentiment features, by horizon.
        let width = dataset.data.featureNames.count
        func columnValues(_ name: String) -> [Double?] {
            guard let c = dataset.data.featureNames.firstIndex(of: name) else { return [] }
            return (0..<dataset.data.rowCount).map { r in let v = dataset.data.values[r * width + c]; return v.isNaN ? nil : Double(v) }
        }
        let ics = InformationCoefficient.analyze(
            features: sentiment.map { ($0, columnValues($0)) }, oneBarReturn: columnValues("ret_1"), t0: dataset.data.t0,
            group: dataset.data.group, barMillis: daily ? 0 : Int64(config.features.barMinutes) * Timestamps.minute)
        // 3. Negative control: the same comparison with sentiment moved five sessions late.
        var control: UpliftExperiment.Result?
        if !sentiment.isEmpty {
            let shift = daily ? 5 : 5 * (390 / config.features.barMinutes)
            log("negative control: sentiment shifted \(shift) bars (5 sessions) later within each symbol")
            // The baseline does not use sentiment, so its scores are the same: reuse them.
            control = try experiment.run(dataset.data.shifting(sentiment, by: shift), baseline: base, added: sentiment,
                                         reusingBaseline: result) { log("control \($0)") }
        }
        let plainReport = RunReport(runID: runID, createdAt: Timestamps.iso8601(Timestamps.now()), symbols: dataset.symbols.map(\.rawValue),
                               firstDay: dataset.firstDay, lastDay: dataset.lastDay, simulation: config.simulation,
                               barMinutes: config.features.barMinutes, labelHorizonBars: config.features.labelHorizonBars,
                               pointInTime: config.pointInTime.rawValue, training: config.training, result: result,
                               sentimentIncluded: !sentiment.isEmpty, audit: audit, negativeControl: control,
                               informationCoefficients: ics, degradation: degradation)
        let testLabels = result.testIndices.map { dataset.data.labels[$0] }
        let classification = RunReport.TestClassification(
            baseline: Classification(scores: result.baselineScores, labels: testLabels),
            withSentiment: Classification(scores: result.augmentedScores, labels: testLabels), deadZoneDropped: dataset.deadZoneDropped)
        var fullReport = plainReport
        fullReport.frequency = config.features.frequency.rawValue
        fullReport.algorithm = algorithm
        fullReport.classification = classification
        let folder = Dataset.runs.rawValue + "/\(runID)/"
        // The run record: what was run on what, with what, how long it took, what it said and made.
        let record = RunRecord(runID: runID, codeVersion: "conviction train v\(Self.version), commit \(ProjectFiles.gitCommit() ?? "unknown (not run from a checkout)")", xgboost: library.versionString,
                               seeds: ["simulation": Int(truncatingIfNeeded: config.simulation.seed), "training": config.training.seed],
                               inputs: zip(files.map(\.0), files.map { ContentHasher.hash($0.1) }).map { RunRecord.Input(key: $0, sha256: $1) },
                               timings: ["train_seconds": trainSeconds, "total_seconds": Date().timeIntervalSince(started)])
        let report = fullReport
        var outputs: [(String, Data)] = [
            (folder + "report.json", try JSON.encode(report)), (folder + "report.md", Data(report.markdown().utf8)),
            (folder + "metrics.json", try JSON.encode(Metrics(report: report), snakeCase: true)),
            (folder + "test_predictions.csv", Data(Self.predictionsCSV(result, dataset: dataset).utf8)),
            (folder + "report.html", Data(report.html().utf8)), (folder + "fold_delta_auc.svg", Data(report.foldChartSVG().utf8)),
            (folder + "configuration.toml", Data(config.renderTOML().utf8)), (folder + "record.json", try JSON.encode(record, snakeCase: true)),
            (folder + "trials.json", try JSON.encode(result.searches)), (folder + "train.log", Data((logLines.joined(separator: "\n") + "\n").utf8)),
        ]
        for (name, model) in result.models.sorted(by: { $0.key < $1.key }) { outputs.append((folder + "models/\(name).json", model)) }
        for (key, data) in outputs { try await context.store.put(key, data: data) }
        try await context.catalog.record(.init(stage: Self.stage, unit: runID, inputHash: inputHash, outputKeys: outputs.map(\.0).joined(separator: "\n"),
                                         outputHash: ContentHasher.hash(try JSON.encode(result)), rows: result.testRows,
                                         completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
        outcome.done = 1
        outcome.rows = result.testRows
        return (outcome, report)
    }

    /// The baseline's columns and the added ones (sentiment). When posts are unavailable (X down,
    /// no credentials, too little coverage) the added ones are news sentiment instead, and the
    /// reason says so: the run measures what it can and does not fail.
    static func columns(of dataset: PooledData, context: PipelineContext) async throws -> (base: [String], added: [String], degradation: String?) {
        let config = context.configuration
        var base = FeatureDefinition.base(frequency: config.features.frequency).map(\.name)
        var sentiment = FeatureDefinition.sentiment(frequency: config.features.frequency).map(\.name).filter { dataset.data.featureNames.contains($0) }
        if let missing = base.first(where: { !dataset.data.featureNames.contains($0) }) {
            throw StoreError(key: Dataset.features.rawValue, message: "the feature matrices have no column \(missing) of features.frequency = \"\(config.features.frequency)\": rebuild them with `conviction features`")
        }
        var degradation: String?
        if !sentiment.isEmpty, let reason = try await PostCoverage.measure(context.store, symbols: context.symbolSet, daily: config.features.frequency == .daily)
            .unavailable(threshold: config.minPostCoverage) {
            let news = FeatureDefinition.base(frequency: config.features.frequency).filter { $0.group == .news }.map(\.name)
            degradation = reason + "; measured what news sentiment adds instead (" + news.joined(separator: ", ") + ")"
            base.removeAll { news.contains($0) }
            sentiment = news
        }
        return (base, sentiment, degradation)
    }

    /// The store's feature matrices (key, bytes), in key order.
    static func matrices(_ context: PipelineContext) async throws -> [(String, Data)] {
        let partitions = try await context.store.partitions(of: .features, symbols: context.symbolSet)
        let keys = partitions.filter { $0.key.symbol != nil }.flatMap(\.value).filter { $0.hasSuffix(".parquet") }.sorted()
        guard !keys.isEmpty else { throw StoreError(key: Dataset.features.rawValue, message: "no feature matrices: run `conviction features` first", code: .missingInput) }
        var files: [(String, Data)] = []
        for key in keys { files.append((key, try await context.store.get(key))) }
        return files
    }

    /// `runs/<id>/metrics.json`: the test figures in a form other tools read.
    struct Metrics: Encodable {
        struct Model: Encodable { let accuracy: Double; let mcc: Double; let auc: Double; let n: Int }
        struct Test: Encodable {
            let baseline: Model
            let withSentiment: Model
            let start: String
            let end: String
            let evaluation: String
        }
        struct Control: Encodable { let deltaAuc: Double; let pValue: Double; let passed: Bool }
        let runId: String
        let algorithm: String
        let frequency: String
        let symbols: [String]
        let test: Test
        let deltaAuc: Double
        /// DeLong, one-sided (with sentiment better).
        let pValue: Double
        let bootstrapCi: [Double]?
        let negativeControl: Control?
        let deadZone: [Double]?
        let deadZoneDropped: Int
        let leakageAuditPassed: Bool
        let upliftClaimed: Bool

        init(report: RunReport) {
            let r = report.result, c = report.classification!
            runId = report.runID; algorithm = report.algorithm ?? "xgboost"; frequency = report.frequency ?? "1m"; symbols = report.symbols
            test = Test(baseline: Model(accuracy: c.baseline.accuracy, mcc: c.baseline.mcc, auc: r.baselineAUC, n: c.baseline.n),
                        withSentiment: Model(accuracy: c.withSentiment.accuracy, mcc: c.withSentiment.mcc, auc: r.augmentedAUC, n: c.withSentiment.n),
                        start: report.training.testStart?.isoString ?? report.firstDay, end: report.training.testEnd?.isoString ?? report.lastDay,
                        evaluation: report.training.isFixedDate ? "fixed dates" : "walk-forward (\(report.training.folds) folds, pooled)")
            deltaAuc = r.deltaAUC; pValue = r.delong.pOneSided
            bootstrapCi = r.bootstrap.map { [$0.lower, $0.upper] }
            negativeControl = report.negativeControl.map { Control(deltaAuc: $0.deltaAUC, pValue: $0.delong.pOneSided, passed: !$0.significant) }
            deadZone = report.training.deadZone; deadZoneDropped = c.deadZoneDropped
            leakageAuditPassed = report.audit?.passed ?? true; upliftClaimed = report.upliftClaimed
        }
    }

    /// One row per test example: its New York date, symbol, label and both models' probabilities.
    static func predictionsCSV(_ result: UpliftExperiment.Result, dataset: PooledData) -> String {
        var csv = "date,symbol,label,baseline_prob,with_sentiment_prob\n"
        for (k, row) in result.testIndices.enumerated() {
            let group = dataset.data.group[row]
            let symbol = group < dataset.symbols.count ? dataset.symbols[group].rawValue : "group\(group)"
            csv += "\(Eastern.local(dataset.data.t0[row]).date.isoString),\(symbol),\(dataset.data.labels[row]),"
                + String(format: "%.9g,%.9g\n", result.baselineScores[k], result.augmentedScores[k])
        }
        return csv
    }

    /// `runs/<id>/record.json`: provenance beside the report.
    struct RunRecord: Codable {
        struct Input: Codable { let key: String; let sha256: String }
        let runID: String
        let codeVersion: String
        let xgboost: String
        let seeds: [String: Int]
        let inputs: [Input]
        let timings: [String: Double]
    }

    struct PooledData {
        let data: UpliftExperiment.Dataset
        let symbols: [Symbol]
        let firstDay: String
        let lastDay: String
        /// Rows dropped because their forward return fell inside the dead zone.
        var deadZoneDropped = 0
    }

    /// Pools the symbols' labelled rows, ordered by decision time. With a dead zone [low, high]
    /// (simple returns), a row is up at high or more, down at low or less, dropped in between.
    static func dataset(from files: [(String, Data)], deadZone: [Double]? = nil) throws -> PooledData {
        var dropped = 0
        var names: [String]?
        var rows: [(t0: EpochMillis, t1: EpochMillis, label: Int, values: [Float], group: Int)] = []
        var symbols: [Symbol] = []
        for (key, data) in files {
            let table = try ParquetReader.decode(data, source: key)
            let featureColumns = table.columns.filter {
                !["timestamp", "symbol", "label", "forward_return", "label_end"].contains($0.name)
            }
            let columnNames = featureColumns.map(\.name)
            if let names, names != columnNames {
                throw StoreError(key: key, message: "feature columns differ from the other symbols' (\(columnNames.count) vs \(names.count)): rebuild features")
            }
            names = columnNames
            guard case .timestamp(let t0)? = table.column("timestamp")?.values,
                  case .timestamp(let t1)? = table.column("label_end")?.values,
                  case .int64(let labels)? = table.column("label")?.values,
                  case .double(let forward)? = table.column("forward_return")?.values else {
                throw StoreError(key: key, message: "timestamp, label, forward_return or label_end column missing")
            }
            let values: [ParquetArray<Double>] = try featureColumns.map {
                guard case .double(let v) = $0.values else { throw StoreError(key: key, message: "column \($0.name) is not double") }
                return v
            }
            if let symbol = Partition.containing(key, in: .features)?.symbol { symbols.append(symbol) }
            for i in 0..<table.rowCount {
                guard var label = labels[i].map(Int.init), let start = t0[i], let end = t1[i] else { continue }
                if let zone = deadZone, let logReturn = forward[i] {
                    let simple = exp(logReturn) - 1
                    if simple >= zone[1] { label = 1 } else if simple <= zone[0] { label = 0 } else { dropped += 1; continue }
                }
                rows.append((start / 1000, end / 1000, label, values.map { $0[i].map(Float.init) ?? .nan }, symbols.count - 1))
            }
        }
        rows.sort { $0.t0 < $1.t0 }
        let day = rows.map { Int(Timestamps.floorDiv($0.t0, Timestamps.day)) }
        let data = UpliftExperiment.Dataset(featureNames: names ?? [], values: rows.flatMap(\.values), labels: rows.map(\.label),
                                            t0: rows.map(\.t0), t1: rows.map(\.t1), day: day, group: rows.map(\.group))
        return PooledData(data: data, symbols: symbols,
                          firstDay: day.first.map { CivilDate(daysSinceEpoch: $0).isoString } ?? "-",
                          lastDay: day.last.map { CivilDate(daysSinceEpoch: $0).isoString } ?? "-", deadZoneDropped: dropped)
    }
}
