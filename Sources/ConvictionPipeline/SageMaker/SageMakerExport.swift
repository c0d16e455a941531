import ConvictionAWS
import ConvictionCore
import ConvictionFeatures
import ConvictionModeling
import ConvictionStore
import Foundation
import Logging

/// Writes the feature matrices as channels SageMaker's built-in XGBoost reads: CSV, label first,
/// no header, a missing value as an empty field, each float in the shortest form that reads back
/// as the same float32 (as exact as `%.9g`, shorter).
///
/// The rows are the local run's, split the same way: the walk-forward folds (purged and embargoed)
/// of `training`, and a tuning pair cut from the first fold's training window (its latest days,
/// purged), so the tuning job never sees a row of any test fold. For each model (`baseline`,
/// `sentiment`):
///
///     <prefix>/<run>/<model>/tuning/{train,validation}/part-0.csv   the tuning job's channels
///     <prefix>/<run>/<model>/fold-<k>/{train,validation}/part-0.csv  each fold's training and test rows
///     <prefix>/<run>/export.json                                    columns, folds, rows, input hash
///     <prefix>/<run>/feature_metadata.json and <prefix>/feature_metadata.json
public struct SageMakerExport: Sendable {
    public static let stage = "sagemaker-export"
    public static let models = ["baseline", "sentiment"]

    /// What is (or would be) written, and what the tuning jobs are built from.
    public struct Plan: Codable, Sendable {
        public struct Fold: Codable, Sendable {
            public let index: Int
            public let trainRows: Int
            public let testRows: Int
            public let purged: Int
            public let embargoed: Int
        }
        public let run: String
        public let inputHash: String
        public let prefix: String
        /// Columns after the label, by model.
        public let columns: [String: [String]]
        public let folds: [Fold]
        public let tuningTrainRows: Int
        public let tuningValidationRows: Int
        public let degradation: String?
        public let rows: Int
        public var keys: [String] = []

        public var folder: String { "\(prefix)/\(run)" }
        public func channel(_ model: String, _ part: String, _ channel: String) -> String { "\(folder)/\(model)/\(part)/\(channel)/" }
    }

    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    /// The run name: the same inputs and settings always give the same one.
    static func run(inputHash: String) -> String { "sm-" + inputHash.prefix(12) }

    /// The pooled rows, the columns and the folds, as training computes them.
    struct Prepared {
        let dataset: TrainTask.PooledData
        let base: [String]
        let added: [String]
        let degradation: String?
        let folds: [WalkForwardSplitter.Fold]
        let tuning: (train: [Int], validation: [Int])
        let inputHash: String
        let metadata: Data?
    }

    func prepare() async throws -> Prepared {
        let config = context.configuration
        let files = try await TrainTask.matrices(context)
        var hasher = ContentHasher()
        hasher.update("sagemaker-export-v1")
        hasher.update(try JSON.encode(config.training))
        hasher.update(String(config.minPostCoverage))
        for (key, data) in files { hasher.update(key); hasher.update(data) }
        let dataset = try TrainTask.dataset(from: files, deadZone: config.training.deadZone)
        let (base, added, degradation) = try await TrainTask.columns(of: dataset, context: context)
        let library = try XGBoostLibrary.locate(explicit: config.xgboostLibrary)
        let experiment = UpliftExperiment(configuration: config.training, library: library)
        let folds = try experiment.folds(dataset.data)
        let tuning = experiment.innerSplit(dataset.data, rows: folds[0].train)
        guard !tuning.train.isEmpty, Set(tuning.validation.map { dataset.data.labels[$0] }).count == 2 else {
            throw StoreError(key: Dataset.features.rawValue, message: "the first fold's training window (\(folds[0].train.count) rows) leaves no tuning split with both classes: more days, or a larger training.validation_share", code: .missingInput)
        }
        let metadataKey = Dataset.features.rawValue + "/feature_metadata.json"
        let metadata = try await context.store.exists(metadataKey) ? try await context.store.get(metadataKey) : nil
        return Prepared(dataset: dataset, base: base, added: added, degradation: degradation, folds: folds, tuning: tuning,
                        inputHash: hasher.finalize(), metadata: metadata)
    }

    func plan(_ prepared: Prepared) -> Plan {
        Plan(run: Self.run(inputHash: prepared.inputHash), inputHash: prepared.inputHash, prefix: context.configuration.sagemaker.prefix,
             columns: ["baseline": prepared.base, "sentiment": prepared.base + prepared.added],
             folds: prepared.folds.map { Plan.Fold(index: $0.index, trainRows: $0.train.count, testRows: $0.test.count, purged: $0.purged, embargoed: $0.embargoed) },
             tuningTrainRows: prepared.tuning.train.count, tuningValidationRows: prepared.tuning.validation.count,
             degradation: prepared.degradation, rows: prepared.dataset.data.rowCount)
    }

    /// Writes the channels (skipped when this run's export is finished) and returns the plan; with
    /// a dry run, only the plan.
    public func run() async throws -> (StageOutcome, Plan) {
        var outcome = StageOutcome(stage: Self.stage)
        let prepared = try await prepare()
        var plan = plan(prepared)
        let planKey = plan.folder + "/export.json"
        if context.dryRun {
            outcome.planned = ["export \(plan.rows) rows to \(plan.folder)/: for baseline (\(plan.columns["baseline"]!.count) columns) and sentiment (\(plan.columns["sentiment"]!.count) columns), a tuning pair (\(plan.tuningTrainRows) train / \(plan.tuningValidationRows) validation rows, before every test fold) and \(plan.folds.count) fold pairs (train / test rows: \(plan.folds.map { "\($0.trainRows)/\($0.testRows)" }.joined(separator: ", ")))"]
            return (outcome, plan)
        }
        if let done = try await context.catalog.finished(stage: Self.stage, unit: plan.run, inputHash: prepared.inputHash, store: context.store) {
            outcome.skipped = 1
            outcome.rows = done.rows
            return (outcome, try JSONDecoder().decode(Plan.self, from: try await context.store.get(planKey)))
        }
        let data = prepared.dataset.data
        var outputs: [(String, Data)] = []
        for model in Self.models {
            let columns = plan.columns[model]!.map { data.featureNames.firstIndex(of: $0)! }
            var pairs: [(String, [Int], [Int])] = [("tuning", prepared.tuning.train, prepared.tuning.validation)]
            pairs += prepared.folds.map { ("fold-\($0.index)", $0.train, $0.test) }
            for (part, train, validation) in pairs {
                outputs.append((plan.channel(model, part, "train") + "part-0.csv", Self.csv(data, rows: train, columns: columns)))
                outputs.append((plan.channel(model, part, "validation") + "part-0.csv", Self.csv(data, rows: validation, columns: columns)))
            }
            context.logger.info("sagemaker: \(model) channels ready (\(pairs.count) pairs)")
        }
        if let metadata = prepared.metadata {
            outputs.append((plan.folder + "/feature_metadata.json", metadata))
            outputs.append((plan.prefix + "/feature_metadata.json", metadata))
        }
        plan.keys = outputs.map(\.0)
        outputs.append((planKey, try JSON.encode(plan)))
        var written = 0
        for (key, bytes) in outputs {
            try await context.store.put(key, data: bytes)
            written += bytes.count
        }
        try await context.catalog.record(.init(stage: Self.stage, unit: plan.run, inputHash: prepared.inputHash,
                                               outputKeys: outputs.map(\.0).joined(separator: "\n"), outputHash: ContentHasher.hash(try JSON.encode(plan)),
                                               rows: plan.rows, completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
        outcome.done = 1
        outcome.rows = plan.rows
        outcome.notes.append("wrote \(outputs.count) objects, \(written / 1_000_000) MB, under \(plan.folder)/")
        return (outcome, plan)
    }

    /// Label first, no header; missing values as empty fields.
    static func csv(_ data: UpliftExperiment.Dataset, rows: [Int], columns: [Int]) -> Data {
        let width = data.featureNames.count
        var out = ""
        out.reserveCapacity(rows.count * (columns.count * 10 + 4))
        for r in rows {
            out += data.labels[r] == 1 ? "1" : "0"
            for c in columns {
                out += ","
                let v = data.values[r * width + c]
                if !v.isNaN { out += v.description }
            }
            out += "\n"
        }
        return Data(out.utf8)
    }
}
