import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    static let trainingKeys: [Key] = [
        Key(name: "training.dead_zone", help: "[low, high] next-period simple returns: up at high or more, down at low or less, rows in between dropped (StockNet: [-0.005, 0.0055]); [] = up when positive.",
            get: { .array(($0.training.deadZone ?? []).map { .float($0) }) },
            set: { c, v throws(ValueError) in
                if case .array(let items) = v, items.isEmpty { c.training.deadZone = nil; return }
                let (low, high) = try range(v, -1...1)
                guard low <= 0, high >= 0 else { throw ValueError(message: "the dead zone [\(low), \(high)] must contain 0") }
                c.training.deadZone = [low, high]
            }),
        Key(name: "training.validation_start", help: "Fixed-date evaluation: first day (YYYY-MM-DD) of the validation period that tunes and early-stops; empty = the latest training.validation_share of the training days.",
            get: { .string($0.training.validationStart?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.validationStart = try date(v) }),
        Key(name: "training.train_start", help: "Fixed-date evaluation: first training day (YYYY-MM-DD), e.g. when the posts begin; empty = all days before the test.",
            get: { .string($0.training.trainStart?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.trainStart = try date(v) }),
        Key(name: "training.test_start", help: "Fixed-date evaluation: first test day (YYYY-MM-DD); the model sees nothing from it on and is scored once on the test period. Empty = walk-forward.",
            get: { .string($0.training.testStart?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.testStart = try date(v) }),
        Key(name: "training.test_end", help: "Fixed-date evaluation: last test day (YYYY-MM-DD); empty = the last day with data.",
            get: { .string($0.training.testEnd?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.testEnd = try date(v) }),
        Key(name: "training.folds", help: "Walk-forward folds.",
            get: { .integer($0.training.folds) }, set: { c, v throws(ValueError) in c.training.folds = try int(v, 1...50) }),
        Key(name: "training.embargo_minutes", help: "Embargo after each test span, in minutes.",
            get: { .integer(Int($0.training.embargo / Timestamps.minute)) },
            set: { c, v throws(ValueError) in c.training.embargo = Int64(try int(v, 0...100_000)) * Timestamps.minute }),
        Key(name: "training.rounds", help: "Boosting rounds.",
            get: { .integer($0.training.rounds) }, set: { c, v throws(ValueError) in c.training.rounds = try int(v, 1...10_000) }),
        Key(name: "training.max_depth", help: "Tree depth.",
            get: { .integer($0.training.maxDepth) }, set: { c, v throws(ValueError) in c.training.maxDepth = try int(v, 1...16) }),
        Key(name: "training.learning_rate", help: "Shrinkage (eta).",
            get: { .float($0.training.learningRate) }, set: { c, v throws(ValueError) in c.training.learningRate = try double(v, 0.0001...1) }),
        Key(name: "training.subsample", help: "Row subsample per tree.",
            get: { .float($0.training.subsample) }, set: { c, v throws(ValueError) in c.training.subsample = try double(v, 0.05...1) }),
        Key(name: "training.colsample_bytree", help: "Column subsample per tree.",
            get: { .float($0.training.columnSample) }, set: { c, v throws(ValueError) in c.training.columnSample = try double(v, 0.05...1) }),
        Key(name: "training.min_child_weight", help: "Minimum hessian weight in a leaf.",
            get: { .float($0.training.minChildWeight) }, set: { c, v throws(ValueError) in c.training.minChildWeight = try double(v, 0...100_000) }),
        Key(name: "training.seed", help: "Model seed.",
            get: { .integer($0.training.seed) }, set: { c, v throws(ValueError) in c.training.seed = try int(v, 0...Int(Int32.max)) }),
        Key(name: "training.threads", help: "XGBoost threads.",
            get: { .integer($0.training.threads) }, set: { c, v throws(ValueError) in c.training.threads = try int(v, 1...256) }),
        Key(name: "training.bootstrap_replicates", help: "Day-block bootstrap replicates for the ΔAUC interval.",
            get: { .integer($0.training.bootstrapReplicates) }, set: { c, v throws(ValueError) in c.training.bootstrapReplicates = try int(v, 20...100_000) }),
        Key(name: "training.alpha", help: "Significance level.",
            get: { .float($0.training.alpha) }, set: { c, v throws(ValueError) in c.training.alpha = try double(v, 0.0001...0.5) }),
        Key(name: "training.trials", help: "Hyperparameter search trials per fold and model, tuned inside each training window; 0 = the fixed parameters above.",
            get: { .integer($0.training.search.trials) }, set: { c, v throws(ValueError) in c.training.search.trials = try int(v, 0...1000) }),
        Key(name: "training.sampler", help: "Search sampler: tpe (Tree-structured Parzen Estimator) or random.",
            get: { .string($0.training.search.sampler.rawValue) }, set: { c, v throws(ValueError) in c.training.search.sampler = try choice(v) }),
        Key(name: "training.max_rounds", help: "Most boosting rounds a search trial may use (early stopping picks the number).",
            get: { .integer($0.training.search.maxRounds) }, set: { c, v throws(ValueError) in c.training.search.maxRounds = try int(v, 10...10_000) }),
        Key(name: "training.early_stopping_rounds", help: "A trial stops after this many rounds without a better validation AUC.",
            get: { .integer($0.training.search.earlyStoppingRounds) }, set: { c, v throws(ValueError) in c.training.search.earlyStoppingRounds = try int(v, 10...10_000) }),
        Key(name: "training.validation_share", help: "Share of each training window's latest days that scores the search trials.",
            get: { .float($0.training.search.validationShare) }, set: { c, v throws(ValueError) in c.training.search.validationShare = try double(v, 0.05...0.5) }),
    ] + searchSpaceKeys + [
        Key(name: "training.xgboost_library", help: "Path to libxgboost.so; empty = .venv, then the system.",
            get: { .string($0.xgboostLibrary) }, set: { c, v throws(ValueError) in c.xgboostLibrary = try string(v) }),
    ]

    /// One `training.search_<parameter> = [low, high]` key per parameter of the search space.
    static let searchSpaceKeys: [Key] = SearchSpace.xgboost.parameters.map { template in
        let limits: ClosedRange<Double> = template.integer ? 1...64 : (template.log ? 1e-6...1e6 : 0.01...1)
        return Key(name: "training.search_\(template.name)",
                   help: "Search range of \(template.name)\(template.log ? " (sampled on a log scale)" : "")\(template.integer ? " (integer)" : "").",
                   get: { c in
                       let p = c.training.search.space.parameters.first { $0.name == template.name } ?? template
                       return .array(template.integer ? [.integer(Int(p.low)), .integer(Int(p.high))] : [.float(p.low), .float(p.high)])
                   },
                   set: { c, v throws(ValueError) in
                       let (low, high) = try range(v, limits)
                       let updated = SearchSpace.Parameter(name: template.name, low: low, high: high, log: template.log, integer: template.integer)
                       c.training.search.space.parameters = c.training.search.space.parameters.map { $0.name == template.name ? updated : $0 }
                   })
    }
}
