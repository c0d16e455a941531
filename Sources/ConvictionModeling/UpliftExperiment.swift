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
        /// Nested tuning: with `search.trials > 0` every fold tunes each model on its own training
        /// window (the parameters above are then only the fallback), never on the test fold.
        public var search = HyperparameterSearch.Settings()
        /// Fixed-date evaluation instead of walk-forward: train on everything before `testStart`
        /// (tuned and early-stopped with `validationStart..<testStart` as the validation period),
        /// then score once on `testStart...testEnd`.
        public var validationStart: CivilDate?
        /// Rows before this day are left out of training (e.g. before the posts begin); nil = all.
        public var trainStart: CivilDate?
        public var testStart: CivilDate?
        public var testEnd: CivilDate?
        /// `[low, high]` simple returns: a row is up at `high` or more, down at `low` or less, and
        /// dropped in between (StockNet: [-0.005, 0.0055]); nil = up when the return is positive.
        public var deadZone: [Double]?

        public init() {}

        public var isFixedDate: Bool { testStart != nil }

        enum CodingKeys: String, CodingKey {
            case folds, embargo, rounds, maxDepth, learningRate, subsample, columnSample, minChildWeight, seed, threads
            case bootstrapReplicates, alpha, search, validationStart, trainStart, testStart, testEnd, deadZone
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            folds = try c.decode(Int.self, forKey: .folds); embargo = try c.decode(EpochMillis.self, forKey: .embargo)
            rounds = try c.decode(Int.self, forKey: .rounds); maxDepth = try c.decode(Int.self, forKey: .maxDepth)
            learningRate = try c.decode(Double.self, forKey: .learningRate); subsample = try c.decode(Double.self, forKey: .subsample)
            columnSample = try c.decode(Double.self, forKey: .columnSample); minChildWeight = try c.decode(Double.self, forKey: .minChildWeight)
            seed = try c.decode(Int.self, forKey: .seed); threads = try c.decode(Int.self, forKey: .threads)
            bootstrapReplicates = try c.decode(Int.self, forKey: .bootstrapReplicates); alpha = try c.decode(Double.self, forKey: .alpha)
            // Absent in reports written before the search existed.
            search = try c.decodeIfPresent(HyperparameterSearch.Settings.self, forKey: .search) ?? .init()
            validationStart = try c.decodeIfPresent(CivilDate.self, forKey: .validationStart)
            trainStart = try c.decodeIfPresent(CivilDate.self, forKey: .trainStart)
            testStart = try c.decodeIfPresent(CivilDate.self, forKey: .testStart)
            testEnd = try c.decodeIfPresent(CivilDate.self, forKey: .testEnd)
            deadZone = try c.decodeIfPresent([Double].self, forKey: .deadZone)
        }
    }

    /// One fold's search for one model: every trial, and the one chosen.
    public struct SearchRecord: Sendable, Codable, Equatable {
        public let fold: Int
        /// `baseline` or `sentiment`.
        public let model: String
        public let trainRows: Int
        public let validationRows: Int
        public let trials: [Trial]
        public let best: Trial
    }

    /// ROC curve points (false positive rate, true positive rate), at most about 100 of them.
    public struct ROC: Sendable, Codable, Equatable {
        public let baseline: [[Double]]
        public let augmented: [[Double]]
    }

    /// The same comparison restricted to one series (symbol) of the pooled out-of-sample rows.
    public struct GroupResult: Sendable, Codable, Equatable {
        public let group: Int
        public let testRows: Int
        public let baselineAUC: Double
        public let augmentedAUC: Double
        /// Nil when the series' test rows hold a single class.
        public let delong: DeLong.Result?
        public let bootstrap: BlockBootstrap.Interval?
        public var deltaAUC: Double { augmentedAUC - baselineAUC }
    }

    public struct FeatureGain: Sendable, Codable, Equatable {
        public let feature: String
        public let gain: Double
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
        /// Nested searches, one per fold and model (empty without a search).
        public var searches: [SearchRecord] = []
        public var roc: ROC?
        /// Per series (symbol), from the same out-of-sample predictions.
        public var perGroup: [GroupResult] = []
        /// Total gain per feature of the last fold's model with the added features, largest first.
        public var importance: [FeatureGain] = []
        /// The baseline's out-of-sample scores per fold, so a control run can reuse them (not stored).
        public var baselineFoldScores: [[Double]] = []
        /// The last fold's models as XGBoost JSON, by model name (kept in the run folder, not in the report).
        public var models: [String: Data] = [:]
        /// Every out-of-sample row (dataset index) with both models' scores, in test order (not in
        /// the report; the run writes them to test_predictions.csv).
        public var testIndices: [Int] = []
        public var baselineScores: [Double] = []
        public var augmentedScores: [Double] = []
        public var deltaAUC: Double { augmentedAUC - baselineAUC }

        enum CodingKeys: String, CodingKey {
            case baselineFeatures, addedFeatures, rows, testRows, baselineAUC, augmentedAUC, delong, bootstrap, folds, significant
            case xgboostVersion, searches, roc, importance, perGroup
        }

        /// Equal results report the same things; the in-memory extras (scores, model bytes) do not count.
        public static func == (a: Result, b: Result) -> Bool {
            a.baselineFeatures == b.baselineFeatures && a.addedFeatures == b.addedFeatures && a.rows == b.rows && a.testRows == b.testRows
                && a.baselineAUC == b.baselineAUC && a.augmentedAUC == b.augmentedAUC && a.delong == b.delong && a.bootstrap == b.bootstrap
                && a.folds == b.folds && a.significant == b.significant && a.xgboostVersion == b.xgboostVersion && a.searches == b.searches
                && a.roc == b.roc && a.importance == b.importance && a.perGroup == b.perGroup
        }

        public init(baselineFeatures: [String], addedFeatures: [String], rows: Int, testRows: Int, baselineAUC: Double, augmentedAUC: Double,
                    delong: DeLong.Result, bootstrap: BlockBootstrap.Interval?, folds: [FoldResult], significant: Bool, xgboostVersion: String) {
            self.baselineFeatures = baselineFeatures; self.addedFeatures = addedFeatures; self.rows = rows; self.testRows = testRows
            self.baselineAUC = baselineAUC; self.augmentedAUC = augmentedAUC; self.delong = delong; self.bootstrap = bootstrap
            self.folds = folds; self.significant = significant; self.xgboostVersion = xgboostVersion
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            baselineFeatures = try c.decode([String].self, forKey: .baselineFeatures); addedFeatures = try c.decode([String].self, forKey: .addedFeatures)
            rows = try c.decode(Int.self, forKey: .rows); testRows = try c.decode(Int.self, forKey: .testRows)
            baselineAUC = try c.decode(Double.self, forKey: .baselineAUC); augmentedAUC = try c.decode(Double.self, forKey: .augmentedAUC)
            delong = try c.decode(DeLong.Result.self, forKey: .delong); bootstrap = try c.decodeIfPresent(BlockBootstrap.Interval.self, forKey: .bootstrap)
            folds = try c.decode([FoldResult].self, forKey: .folds); significant = try c.decode(Bool.self, forKey: .significant)
            xgboostVersion = try c.decode(String.self, forKey: .xgboostVersion)
            searches = try c.decodeIfPresent([SearchRecord].self, forKey: .searches) ?? []
            roc = try c.decodeIfPresent(ROC.self, forKey: .roc)
            importance = try c.decodeIfPresent([FeatureGain].self, forKey: .importance) ?? []
            perGroup = try c.decodeIfPresent([GroupResult].self, forKey: .perGroup) ?? []
        }
    }

    public let configuration: Configuration
    public let library: XGBoostLibrary
    /// Hyperparameters tuned elsewhere (a SageMaker tuning job) and their rounds, by model
    /// (`baseline`, `sentiment`): every fold fits that model with them, with no search of its own.
    public let fixed: [String: (parameters: [(String, String)], rounds: Int)]

    public init(configuration: Configuration, library: XGBoostLibrary, fixed: [String: (parameters: [(String, String)], rounds: Int)] = [:]) {
        self.configuration = configuration; self.library = library; self.fixed = fixed
    }

    /// The evaluation's folds: walk-forward (purged and embargoed), or the one fixed-date split.
    public func folds(_ data: Dataset) throws -> [WalkForwardSplitter.Fold] {
        let splitter = WalkForwardSplitter(folds: configuration.folds, embargo: configuration.embargo)
        let folds: [WalkForwardSplitter.Fold]
        if let testStart = configuration.testStart {
            let fold = splitter.fixed(t0: data.t0, t1: data.t1, day: data.day, trainStart: configuration.trainStart?.daysSinceEpoch ?? Int.min,
                                      testStart: testStart.daysSinceEpoch, testEnd: configuration.testEnd?.daysSinceEpoch ?? Int.max)
            guard !fold.test.isEmpty, !fold.train.isEmpty else {
                throw XGBoostError(message: "training.test_start \(testStart.isoString): \(fold.train.count) training rows before it and \(fold.test.count) test rows in the test period; both must be non-empty")
            }
            folds = [fold]
        } else {
            folds = splitter.split(t0: data.t0, t1: data.t1, day: data.day)
        }
        guard !folds.isEmpty else {
            throw XGBoostError(message: "not enough days for \(configuration.folds) walk-forward folds (need at least \(configuration.folds + 1))")
        }
        return folds
    }

    /// `reusingBaseline`: a result of the same data's baseline (same folds and settings) whose
    /// baseline scores are taken instead of training the baseline again (the negative control).
    public func run(_ data: Dataset, baseline: [String], added: [String], reusingBaseline: Result? = nil,
                    progress: (String) -> Void = { _ in }) throws -> Result {
        func columns(_ names: [String]) throws -> [Int] {
            try names.map { name in
                guard let i = data.featureNames.firstIndex(of: name) else { throw XGBoostError(message: "no feature column \(name)") }
                return i
            }
        }
        let baseColumns = try columns(baseline)
        let fullColumns = baseColumns + (try columns(added))
        let folds = try self.folds(data)
        var testRows: [Int] = [], baseScores: [Double] = [], fullScores: [Double] = []
        var foldResults: [FoldResult] = []
        var searches: [SearchRecord] = []
        var baselineFoldScores: [[Double]] = []
        var importance: [FeatureGain] = []
        var models: [String: Data] = [:]
        let started = Date()
        let reuse = reusingBaseline.map { $0.baselineFoldScores.count == folds.count } ?? false
        for (n, fold) in folds.enumerated() {
            let labels = fold.test.map { data.labels[$0] }
            let a: [Double]
            if reuse, let previous = reusingBaseline {
                a = previous.baselineFoldScores[n]
            } else {
                let fitted = try fitPredict(data, fold: fold, columns: baseColumns, model: "baseline", keep: n == folds.count - 1, progress: progress)
                a = fitted.scores
                if let record = fitted.search { searches.append(record) }
                if let model = fitted.model { models["baseline"] = model }
            }
            let fitted = try fitPredict(data, fold: fold, columns: fullColumns, model: "sentiment", keep: n == folds.count - 1, progress: progress)
            let b = fitted.scores
            if let record = fitted.search { searches.append(record) }
            if let model = fitted.model {
                models["sentiment"] = model
                importance = fitted.gain.map { FeatureGain(feature: data.featureNames[fullColumns[$0.key]], gain: $0.value) }
                    .sorted { ($0.gain, $1.feature) > ($1.gain, $0.feature) }
            }
            baselineFoldScores.append(a)
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
        var result = Result(baselineFeatures: baseline, addedFeatures: added, rows: data.rowCount, testRows: testRows.count,
                            baselineAUC: delong.aucA, augmentedAUC: delong.aucB, delong: delong, bootstrap: interval,
                            folds: foldResults, significant: significant, xgboostVersion: library.versionString)
        result.searches = searches
        result.roc = ROC(baseline: AUC.rocCurve(scores: baseScores, labels: labels), augmented: AUC.rocCurve(scores: fullScores, labels: labels))
        result.importance = importance
        var byGroup: [Int: [Int]] = [:]
        for (k, row) in testRows.enumerated() { byGroup[data.group[row], default: []].append(k) }
        result.perGroup = byGroup.keys.sorted().map { group in
            let ks = byGroup[group]!
            let a = ks.map { baseScores[$0] }, b = ks.map { fullScores[$0] }, y = ks.map { labels[$0] }
            let test = DeLong.compare(scoresA: a, scoresB: b, labels: y)
            let ci = BlockBootstrap.differenceInterval(scoresA: a, scoresB: b, labels: y, blocks: ks.map { data.day[testRows[$0]] },
                                                       replicates: max(100, configuration.bootstrapReplicates / 2), seed: UInt64(configuration.seed + group))
            return GroupResult(group: group, testRows: ks.count, baselineAUC: test?.aucA ?? .nan, augmentedAUC: test?.aucB ?? .nan, delong: test, bootstrap: ci)
        }
        result.baselineFoldScores = baselineFoldScores
        result.models = models
        result.testIndices = testRows
        result.baselineScores = baseScores
        result.augmentedScores = fullScores
        return result
    }

    struct Fitted {
        let scores: [Double]
        let search: SearchRecord?
        /// Total gain per column index, and the model as XGBoost JSON: only for a kept fold (the last).
        let gain: [Int: Double]
        let model: Data?
    }

    /// Trains on the fold's training rows and scores its test rows; with a search, first tunes on
    /// the training window alone: its latest days score the trials (purged like a test span).
    func fitPredict(_ data: Dataset, fold: WalkForwardSplitter.Fold, columns: [Int], model: String, keep: Bool,
                    progress: (String) -> Void) throws -> Fitted {
        func matrix(_ rows: [Int], labelled: Bool) throws -> DMatrix {
            try DMatrix(library: library, values: data.matrix(rows: rows, columns: columns), rows: rows.count, columns: columns.count,
                        labels: labelled ? rows.map { Float(data.labels[$0]) } : nil)
        }
        var parameters = fixed[model]?.parameters ?? self.parameters
        var rounds = fixed[model]?.rounds ?? configuration.rounds
        var record: SearchRecord?
        if configuration.search.trials > 0 && fixed[model] == nil {
            let (inner, validation) = innerSplit(data, rows: fold.train)
            if !inner.isEmpty, Set(validation.map { data.labels[$0] }).count == 2 {
                let search = HyperparameterSearch(settings: configuration.search, library: library, seed: configuration.seed, threads: configuration.threads)
                let trials = try search.run(train: try matrix(inner, labelled: true), validation: try matrix(validation, labelled: false),
                                            validationLabels: validation.map { data.labels[$0] }, stream: "fold\(fold.index)-\(model)")
                if let best = HyperparameterSearch.best(trials) {
                    parameters = HyperparameterSearch.parameters(best.parameters, seed: configuration.seed, threads: configuration.threads)
                    rounds = max(1, best.rounds)
                    record = SearchRecord(fold: fold.index, model: model, trainRows: inner.count, validationRows: validation.count, trials: trials, best: best)
                    progress(String(format: "search: fold %d %@: %d trials (%d pruned), best validation AUC %.4f after %d rounds",
                                    fold.index, model, trials.count, trials.filter { $0.state == .pruned }.count, best.value, best.rounds))
                }
            }
        }
        let train = try matrix(fold.train, labelled: true)
        let booster = try Booster(library: library, parameters: parameters, training: train)
        try booster.train(on: train, rounds: rounds)
        let scores = try booster.predict(try matrix(fold.test, labelled: false)).map(Double.init)
        guard keep else { return Fitted(scores: scores, search: record, gain: [:], model: nil) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("conviction-model-\(UUID().uuidString).json")
        try booster.save(to: file.path)
        defer { try? FileManager.default.removeItem(at: file) }
        return Fitted(scores: scores, search: record, gain: try booster.gainImportance(), model: try Data(contentsOf: file))
    }

    /// The training window's latest `validationShare` of days scores the trials; earlier rows whose
    /// label reaches into them, or ends within the embargo before them, are left out.
    public func innerSplit(_ data: Dataset, rows: [Int]) -> (train: [Int], validation: [Int]) {
        if let validationStart = configuration.validationStart, configuration.isFixedDate {
            // Fixed dates: the validation period is the one configured.
            let validation = rows.filter { data.day[$0] >= validationStart.daysSinceEpoch }
            guard let start = validation.map({ data.t0[$0] }).min() else { return ([], []) }
            return (rows.filter { data.day[$0] < validationStart.daysSinceEpoch && data.t1[$0] < start - configuration.embargo }, validation)
        }
        let days = Array(Set(rows.map { data.day[$0] })).sorted()
        let held = max(1, Int((Double(days.count) * configuration.search.validationShare).rounded()))
        guard days.count > held else { return ([], []) }
        let firstHeldDay = days[days.count - held]
        let validation = rows.filter { data.day[$0] >= firstHeldDay }
        guard let start = validation.map({ data.t0[$0] }).min() else { return ([], []) }
        let train = rows.filter { data.day[$0] < firstHeldDay && data.t1[$0] < start - configuration.embargo }
        return (train, validation)
    }

    public var parameters: [(String, String)] {
        [("objective", "binary:logistic"), ("eval_metric", "auc"), ("tree_method", "hist"),
         ("max_depth", "\(configuration.maxDepth)"), ("eta", "\(configuration.learningRate)"),
         ("subsample", "\(configuration.subsample)"), ("colsample_bytree", "\(configuration.columnSample)"),
         ("min_child_weight", "\(configuration.minChildWeight)"), ("seed", "\(configuration.seed)"),
         ("nthread", "\(configuration.threads)"), ("base_score", "0.5"), ("verbosity", "0")]
    }
}
