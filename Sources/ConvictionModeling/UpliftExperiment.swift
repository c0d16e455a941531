import ConvictionCore
import Foundation

/// Measures what a group of features adds: the same XGBoost model, trained walk-forward with and
/// without the group, compared on the same out-of-sample rows with DeLong's paired test and a
/// day-block bootstrap interval.
public struct UpliftExperiment: Sendable {
    public struct Configuration: Sendable, Hashable, Codable {
        public var folds = 5
        /// Embargo after each test span, in milliseconds.
        public var embargo: EpochMillis = 30 * Timestamps.minute
        public var rounds = 150
        public var maxDepth = 3
        public var learningRate = 0.05
        public var subsample = 0.8
        public var columnSample = 0.8
        public var minChildWeight = 50.0
        public var seed = 7
        public var threads = 2
        public var bootstrapReplicates = 500
        /// Significance level for calling an uplift significant.
        public var alpha = 0.05

        public init() {}
    }

    /// Rows pooled over symbols. `values` is row-major with NaN for missing.
    public struct Dataset: Sendable {
        public let featureNames: [String]
        public let values: [Float]
        public let labels: [Int]
        public let t0: [EpochMillis]
        public let t1: [EpochMillis]
        /// Block id per row for the bootstrap and the fold boundaries: days since the epoch.
        public let day: [Int]
        /// Which series (symbol) a row belongs to; the negative control shifts within a series.
        public let group: [Int]

        public init(featureNames: [String], values: [Float], labels: [Int], t0: [EpochMillis], t1: [EpochMillis], day: [Int], group: [Int]? = nil) {
            precondition(values.count == labels.count * featureNames.count)
            self.featureNames = featureNames; self.values = values; self.labels = labels; self.t0 = t0; self.t1 = t1; self.day = day
            self.group = group ?? Array(repeating: 0, count: labels.count)
        }

        /// The same rows with `columns` moved `rows` rows later in time within each group: each
        /// row gets the values its series had `rows` rows before (NaN where there were none).
        public func shifting(_ columns: [String], by rows: Int) -> Dataset {
            var values = self.values
            let width = featureNames.count
            let indices = columns.compactMap { featureNames.firstIndex(of: $0) }
            var byGroup: [Int: [Int]] = [:]
            for r in 0..<rowCount { byGroup[group[r], default: []].append(r) }
            for rowsOfGroup in byGroup.values {
                let ordered = rowsOfGroup.sorted { t0[$0] < t0[$1] }
                for (k, r) in ordered.enumerated() {
                    for c in indices { values[r * width + c] = k >= rows ? self.values[ordered[k - rows] * width + c] : .nan }
                }
            }
            return Dataset(featureNames: featureNames, values: values, labels: labels, t0: t0, t1: t1, day: day, group: group)
        }

        public var rowCount: Int { labels.count }

        func matrix(rows: [Int], columns: [Int]) -> [Float] {
            var out = [Float](); out.reserveCapacity(rows.count * columns.count)
            let width = featureNames.count
            for r in rows { for c in columns { out.append(values[r * width + c]) } }
            return out
        }
    }

    public struct FoldResult: Sendable, Codable, Equatable {
        public let fold: Int
        public let trainRows: Int
        public let testRows: Int
        public let purged: Int
        public let embargoed: Int
        public let baselineAUC: Double
        public let augmentedAUC: Double
    }

    public struct Result: Sendable, Codable, Equatable {
        public let baselineFeatures: [String]
        public let addedFeatures: [String]
        public let rows: Int
        public let testRows: Int
        public let baselineAUC: Double
        public let augmentedAUC: Double
        public let delong: DeLong.Result
        public let bootstrap: BlockBootstrap.Interval?
        public let folds: [FoldResult]
        /// ΔAUC > 0, DeLong one-sided p < alpha, and the bootstrap interval above zero.
        public let significant: Bool
        public let xgboostVersion: String
        public var deltaAUC: Double { augmentedAUC - baselineAUC }
    }

    public let configuration: Configuration
    public let library: XGBoostLibrary

    public init(configuration: Configuration, library: XGBoostLibrary) {
        self.configuration = configuration; self.library = library
    }

    public func run(_ data: Dataset, baseline: [String], added: [String], progress: (String) -> Void = { _ in }) throws -> Result {
        func columns(_ names: [String]) throws -> [Int] {
            try names.map { name in
                guard let i = data.featureNames.firstIndex(of: name) else { throw XGBoostError(message: "no feature column \(name)") }
                return i
            }
        }
        let baseColumns = try columns(baseline)
        let fullColumns = baseColumns + (try columns(added))
        let splitter = WalkForwardSplitter(folds: configuration.folds, embargo: configuration.embargo)
        let folds = splitter.split(t0: data.t0, t1: data.t1, day: data.day)
        guard !folds.isEmpty else {
            throw XGBoostError(message: "not enough days for \(configuration.folds) walk-forward folds (need at least \(configuration.folds + 1))")
        }
        var testRows: [Int] = [], baseScores: [Double] = [], fullScores: [Double] = []
        var foldResults: [FoldResult] = []
        let started = Date()
        for (n, fold) in folds.enumerated() {
            let labels = fold.test.map { data.labels[$0] }
            let a = try fitPredict(data, fold: fold, columns: baseColumns)
            let b = try fitPredict(data, fold: fold, columns: fullColumns)
            foldResults.append(FoldResult(fold: fold.index, trainRows: fold.train.count, testRows: fold.test.count,
                                          purged: fold.purged, embargoed: fold.embargoed,
                                          baselineAUC: AUC.compute(scores: a, labels: labels) ?? .nan,
                                          augmentedAUC: AUC.compute(scores: b, labels: labels) ?? .nan))
            testRows += fold.test; baseScores += a; fullScores += b
            let elapsed = Date().timeIntervalSince(started)
            let eta = elapsed / Double(n + 1) * Double(folds.count - n - 1)
            progress(String(format: "train: fold %d/%d, %d train / %d test rows, ΔAUC %+.4f, %.1fs elapsed, ETA %.0fs",
                            n + 1, folds.count, fold.train.count, fold.test.count,
                            foldResults.last!.augmentedAUC - foldResults.last!.baselineAUC, elapsed, eta))
        }
        let labels = testRows.map { data.labels[$0] }
        guard let delong = DeLong.compare(scoresA: baseScores, scoresB: fullScores, labels: labels) else {
            throw XGBoostError(message: "out-of-sample rows hold a single class; cannot compute AUC")
        }
        let interval = BlockBootstrap.differenceInterval(scoresA: baseScores, scoresB: fullScores, labels: labels,
                                                         blocks: testRows.map { data.day[$0] },
                                                         replicates: configuration.bootstrapReplicates, seed: UInt64(configuration.seed))
        let significant = delong.difference > 0 && delong.pOneSided < configuration.alpha && (interval?.lower ?? 0) > 0
        return Result(baselineFeatures: baseline, addedFeatures: added, rows: data.rowCount, testRows: testRows.count,
                      baselineAUC: delong.aucA, augmentedAUC: delong.aucB, delong: delong, bootstrap: interval,
                      folds: foldResults, significant: significant, xgboostVersion: library.versionString)
    }

    func fitPredict(_ data: Dataset, fold: WalkForwardSplitter.Fold, columns: [Int]) throws -> [Double] {
        let train = try DMatrix(library: library, values: data.matrix(rows: fold.train, columns: columns), rows: fold.train.count,
                                columns: columns.count, labels: fold.train.map { Float(data.labels[$0]) })
        let test = try DMatrix(library: library, values: data.matrix(rows: fold.test, columns: columns), rows: fold.test.count, columns: columns.count)
        let booster = try Booster(library: library, parameters: parameters, training: train)
        try booster.train(on: train, rounds: configuration.rounds)
        return try booster.predict(test).map(Double.init)
    }

    var parameters: [(String, String)] {
        [("objective", "binary:logistic"), ("eval_metric", "auc"), ("tree_method", "hist"),
         ("max_depth", "\(configuration.maxDepth)"), ("eta", "\(configuration.learningRate)"),
         ("subsample", "\(configuration.subsample)"), ("colsample_bytree", "\(configuration.columnSample)"),
         ("min_child_weight", "\(configuration.minChildWeight)"), ("seed", "\(configuration.seed)"),
         ("nthread", "\(configuration.threads)"), ("base_score", "0.5"), ("verbosity", "0")]
    }
}
