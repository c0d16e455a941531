import ConvictionCore
import Foundation

/// Tunes XGBoost on one training window: each trial trains on the window's earlier part and is
/// scored by AUC on its later part (never on the test fold), with early stopping and median pruning
/// at every checkpoint; the best trial's parameters and rounds are returned with the whole history.
public struct HyperparameterSearch: Sendable {
    public struct Settings: Sendable, Hashable, Codable {
        public var trials = 0
        public enum SamplerKind: String, Sendable, Hashable, Codable, CaseIterable {
            /// Tree-structured Parzen Estimator.
            case tpe
            case random
        }
        public var sampler = SamplerKind.tpe
        public var maxRounds = 400
        public var earlyStoppingRounds = 30
        /// Validation AUC is computed every this many rounds (the pruning checkpoints).
        public var evaluationInterval = 10
        /// Share of a training window's days (its latest) held out to score trials.
        public var validationShare = 0.2
        public var space = SearchSpace.xgboost
        public init() {}
    }

    public let settings: Settings
    public let library: XGBoostLibrary
    public let seed: Int
    public let threads: Int

    public init(settings: Settings, library: XGBoostLibrary, seed: Int, threads: Int) {
        self.settings = settings; self.library = library; self.seed = seed; self.threads = threads
    }

    /// XGBoost parameters for a trial's values (integers printed as integers).
    public static func parameters(_ values: [String: Double], seed: Int, threads: Int) -> [(String, String)] {
        var out: [(String, String)] = [("objective", "binary:logistic"), ("eval_metric", "auc"), ("tree_method", "hist"),
                                       ("seed", "\(seed)"), ("nthread", "\(threads)"), ("base_score", "0.5"), ("verbosity", "0")]
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            out.append((name, value == value.rounded() && name == "max_depth" ? String(Int(value)) : String(value)))
        }
        return out
    }

    /// Runs the trials; `stream` makes the samplers' draws distinct per fold and variant yet reproducible.
    public func run(train: DMatrix, validation: DMatrix, validationLabels: [Int], stream: String,
                    progress: (Trial) -> Void = { _ in }) throws -> [Trial] {
        let samplerSeed = UInt64(truncatingIfNeeded: seed) &+ UInt64(truncatingIfNeeded: stream.hashValueStable)
        let sampler: any Sampler = settings.sampler == .random ? RandomSampler(seed: samplerSeed) : TPESampler(seed: samplerSeed)
        let pruner = MedianPruner(warmupRounds: 3 * settings.evaluationInterval)
        var history: [Trial] = []
        for number in 0..<settings.trials {
            let values = sampler.sample(settings.space, history: history, trialNumber: number)
            let booster = try Booster(library: library, parameters: Self.parameters(values, seed: seed, threads: threads), training: train)
            var intermediate: [[Double]] = []
            var best = (auc: -Double.infinity, round: 0)
            var state = Trial.State.complete
            for round in 1...settings.maxRounds {
                try booster.update(iteration: round - 1, on: train)
                guard round % settings.evaluationInterval == 0 || round == settings.maxRounds else { continue }
                let scores = try booster.predict(validation).map(Double.init)
                let auc = AUC.compute(scores: scores, labels: validationLabels) ?? 0.5
                intermediate.append([Double(round), auc])
                if auc > best.auc { best = (auc, round) }
                if round - best.round >= settings.earlyStoppingRounds { break }
                if pruner.shouldPrune(round: round, value: auc, history: history) { state = .pruned; break }
            }
            let trial = Trial(number: number, parameters: values, value: best.auc, rounds: best.round, state: state, intermediate: intermediate)
            history.append(trial)
            progress(trial)
        }
        return history
    }

    /// The best complete trial (pruned ones only if every trial was pruned).
    public static func best(_ trials: [Trial]) -> Trial? {
        let complete = trials.filter { $0.state == .complete }
        return (complete.isEmpty ? trials : complete).max { ($0.value, -$0.number) < ($1.value, -$1.number) }
    }
}

extension String {
    /// FNV-1a: a hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }
}
