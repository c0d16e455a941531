import ConvictionCore
import ConvictionFeatures
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
    public static let version = 3
    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    public func run() async throws -> (StageOutcome, RunReport?) {
        var outcome = StageOutcome(stage: Self.stage)
        let config = context.configuration
        let library = try XGBoostLibrary.locate(explicit: config.xgboostLibrary)
        let partitions = try await context.store.partitions(of: .features, symbols: context.symbolSet)
        let keys = partitions.filter { $0.key.symbol != nil }.flatMap(\.value).filter { $0.hasSuffix(".parquet") }.sorted()
        if context.dryRun {
            outcome.planned = ["train XGBoost \(library.versionString) (\(library.path)) walk-forward, \(config.training.folds) folds, \(config.training.rounds) rounds, with and without sentiment; \(keys.count) feature matrices present now"]
            return (outcome, nil)
        }
        guard !keys.isEmpty else { throw StoreError(key: Dataset.features.rawValue, message: "no feature matrices: run `conviction features` first") }

        var hasher = ContentHasher()
        hasher.update("train-v\(Self.version)")
        hasher.update(try JSON.encode(config.training))
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
            let report = try JSONDecoder().decode(RunReport.self, from: try await context.store.get(reportKey))
            return (outcome, report)
        }

        let dataset = try Self.dataset(from: files)
        let base = FeatureDefinition.base.map(\.name)
        let sentiment = FeatureDefinition.sentiment.map(\.name).filter { dataset.data.featureNames.contains($0) }
        context.logger.info("train: \(dataset.data.rowCount) labelled rows, \(dataset.symbols.count) symbols, \(Set(dataset.data.day).count) days; XGBoost \(library.versionString)")
        let experiment = UpliftExperiment(configuration: config.training, library: library)
        let logger = context.logger
        // 1. Leakage audit, before anything is claimed.
        var audit = LeakageAudit().run(dataset.data)
        for finding in audit.findings { logger.info("audit: \(finding.check) \(finding.failed ? "FAILED" : "passed"): \(finding.detail)") }
        // 2. The comparison.
        let result = try experiment.run(dataset.data, baseline: base, added: sentiment) { logger.info("\($0)") }
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
            group: dataset.data.group, barMillis: Int64(config.features.barMinutes) * Timestamps.minute)
        // 3. Negative control: the same comparison with sentiment moved five sessions late.
        var control: UpliftExperiment.Result?
        if !sentiment.isEmpty {
            let shift = 5 * (390 / config.features.barMinutes)
            logger.info("negative control: sentiment shifted \(shift) bars (5 sessions) later within each symbol")
            control = try experiment.run(dataset.data.shifting(sentiment, by: shift), baseline: base, added: sentiment) { logger.info("control \($0)") }
        }
        let report = RunReport(runID: runID, createdAt: Timestamps.iso8601(Timestamps.now()), symbols: dataset.symbols.map(\.rawValue),
                               firstDay: dataset.firstDay, lastDay: dataset.lastDay, simulation: config.simulation,
                               barMinutes: config.features.barMinutes, labelHorizonBars: config.features.labelHorizonBars,
                               pointInTime: config.pointInTime, training: config.training, result: result,
                               sentimentIncluded: !sentiment.isEmpty, audit: audit, negativeControl: control,
                               informationCoefficients: ics)
        let folder = Dataset.runs.rawValue + "/\(runID)/"
        let outputs = [folder + "report.json", folder + "report.md", folder + "fold_delta_auc.svg"]
        try await context.store.put(outputs[0], data: try JSON.encode(report))
        try await context.store.put(outputs[1], data: Data(report.markdown().utf8))
        try await context.store.put(outputs[2], data: Data(report.foldChartSVG().utf8))
        try await context.catalog.record(.init(stage: Self.stage, unit: runID, inputHash: inputHash, outputKeys: outputs.joined(separator: "\n"),
                                         outputHash: ContentHasher.hash(try JSON.encode(result)), rows: result.testRows,
                                         completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
        outcome.done = 1
        outcome.rows = result.testRows
        return (outcome, report)
    }

    struct PooledData {
        let data: UpliftExperiment.Dataset
        let symbols: [Symbol]
        let firstDay: String
        let lastDay: String
    }

    /// Pools the symbols' labelled rows, ordered by decision time.
    static func dataset(from files: [(String, Data)]) throws -> PooledData {
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
                  case .int64(let labels)? = table.column("label")?.values else {
                throw StoreError(key: key, message: "timestamp, label or label_end column missing")
            }
            let values: [[Double?]] = try featureColumns.map {
                guard case .double(let v) = $0.values else { throw StoreError(key: key, message: "column \($0.name) is not double") }
                return v
            }
            if let symbol = Partition.containing(key, in: .features)?.symbol { symbols.append(symbol) }
            for i in 0..<table.rowCount {
                guard let label = labels[i], let start = t0[i], let end = t1[i] else { continue }
                rows.append((start / 1000, end / 1000, Int(label), values.map { $0[i].map(Float.init) ?? .nan }, symbols.count - 1))
            }
        }
        rows.sort { $0.t0 < $1.t0 }
        let day = rows.map { Int(Timestamps.floorDiv($0.t0, Timestamps.day)) }
        let data = UpliftExperiment.Dataset(featureNames: names ?? [], values: rows.flatMap(\.values), labels: rows.map(\.label),
                                            t0: rows.map(\.t0), t1: rows.map(\.t1), day: day, group: rows.map(\.group))
        return PooledData(data: data, symbols: symbols,
                          firstDay: day.first.map { CivilDate(daysSinceEpoch: $0).isoString } ?? "-",
                          lastDay: day.last.map { CivilDate(daysSinceEpoch: $0).isoString } ?? "-")
    }
}
