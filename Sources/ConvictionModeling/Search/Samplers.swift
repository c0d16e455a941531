import ConvictionCore
import Foundation

/// Proposes the next trial's hyperparameters from the history so far.
public protocol Sampler: Sendable {
    func sample(_ space: SearchSpace, history: [Trial], trialNumber: Int) -> [String: Double]
}

/// Independent uniform draws (log-uniform for log parameters); reproducible from its seed.
public struct RandomSampler: Sampler {
    public let seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    public func sample(_ space: SearchSpace, history: [Trial], trialNumber: Int) -> [String: Double] {
        var rng = SeededGenerator(seed: seed, stream: "random-\(trialNumber)")
        var out: [String: Double] = [:]
        for p in space.parameters {
            out[p.name] = p.external(p.internalLow + rng.uniform() * (p.internalHigh - p.internalLow))
        }
        return out
    }
}

/// The Tree-structured Parzen Estimator (Bergstra et al. 2011) with Optuna's defaults as the
/// reference behaviour: 10 random start-up trials; then the trials are split into the best
/// γ(n) = min(⌈0.1 n⌉, 25) and the rest; each parameter gets two Parzen mixtures of truncated
/// normals (one per side, each with a prior component spanning the range, weight 1), bandwidths
/// from the distance to neighbouring points clipped to [range / min(100, 1 + n), range]; 24
/// candidates are drawn from the good side's mixture and the one maximising l(x) / g(x) is taken.
/// Univariate (each parameter independently), as Optuna's default. Maximises the trial value.
public struct TPESampler: Sampler {
    public let seed: UInt64
    public let startupTrials: Int
    public let candidates: Int

    public init(seed: UInt64, startupTrials: Int = 10, candidates: Int = 24) {
        self.seed = seed; self.startupTrials = startupTrials; self.candidates = candidates
    }

    public func sample(_ space: SearchSpace, history: [Trial], trialNumber: Int) -> [String: Double] {
        guard history.count >= startupTrials else {
            return RandomSampler(seed: seed).sample(space, history: history, trialNumber: trialNumber)
        }
        var rng = SeededGenerator(seed: seed, stream: "tpe-\(trialNumber)")
        let ranked = history.sorted { ($0.value, -$0.number) > ($1.value, -$1.number) }
        let nGood = min(Int((0.1 * Double(ranked.count)).rounded(.up)), 25)
        let good = Array(ranked.prefix(max(1, nGood))), bad = Array(ranked.dropFirst(max(1, nGood)))
        var out: [String: Double] = [:]
        for p in space.parameters {
            let lo = p.internalLow, hi = p.internalHigh
            let l = Parzen(points: good.compactMap { $0.parameters[p.name].map(p.internalValue) }, low: lo, high: hi)
            let g = Parzen(points: bad.compactMap { $0.parameters[p.name].map(p.internalValue) }, low: lo, high: hi)
            var best = (score: -Double.infinity, x: (lo + hi) / 2)
            for _ in 0..<candidates {
                let x = l.sample(&rng)
                let score = l.logDensity(x) - g.logDensity(x)
                if score > best.score { best = (score, x) }
            }
            out[p.name] = p.external(best.x)
        }
        return out
    }
}

/// A mixture of normals truncated to [low, high], one per point plus a broad prior component.
struct Parzen {
    let mus: [Double]
    let sigmas: [Double]
    let low: Double, high: Double

    init(points: [Double], low: Double, high: Double) {
        self.low = low; self.high = high
        let range = high - low
        let prior = (low + high) / 2
        var mus = points + [prior]
        let order = mus.indices.sorted { mus[$0] < mus[$1] }
        let sorted = order.map { mus[$0] }
        var sigmas = [Double](repeating: range, count: mus.count)
        let minSigma = range / min(100, 1 + Double(mus.count))
        for (rank, index) in order.enumerated() {
            let left = rank > 0 ? sorted[rank] - sorted[rank - 1] : sorted[rank] - low
            let right = rank + 1 < sorted.count ? sorted[rank + 1] - sorted[rank] : high - sorted[rank]
            sigmas[index] = min(range, max(minSigma, max(left, right)))
        }
        sigmas[mus.count - 1] = range  // the prior
        mus = mus.map { min(high, max(low, $0)) }
        self.mus = mus; self.sigmas = sigmas
    }

    func sample(_ rng: inout SeededGenerator) -> Double {
        let k = Int(rng.uniform() * Double(mus.count)) % mus.count
        for _ in 0..<100 {
            let x = mus[k] + sigmas[k] * rng.normal()
            if x >= low, x <= high { return x }
        }
        return min(high, max(low, mus[k]))
    }

    func logDensity(_ x: Double) -> Double {
        var total = 0.0
        for (mu, sigma) in zip(mus, sigmas) {
            let mass = Self.phi((high - mu) / sigma) - Self.phi((low - mu) / sigma)
            let z = (x - mu) / sigma
            total += exp(-0.5 * z * z) / (sigma * (2 * Double.pi).squareRoot()) / max(mass, 1e-12)
        }
        return log(max(total / Double(mus.count), 1e-300))
    }

    static func phi(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }
}

/// Stops a trial whose validation AUC at a checkpoint is below the median of earlier trials at the
/// same checkpoint (Optuna's MedianPruner: 5 start-up trials, no pruning before `warmupRounds`).
public struct MedianPruner: Sendable {
    public let startupTrials: Int
    public let warmupRounds: Int
    public init(startupTrials: Int = 5, warmupRounds: Int = 30) { self.startupTrials = startupTrials; self.warmupRounds = warmupRounds }

    public func shouldPrune(round: Int, value: Double, history: [Trial]) -> Bool {
        guard history.count >= startupTrials, round >= warmupRounds else { return false }
        let others = history.compactMap { t in t.intermediate.first { Int($0[0]) == round }?[1] }.sorted()
        guard !others.isEmpty else { return false }
        let median = others.count % 2 == 1 ? others[others.count / 2] : (others[others.count / 2 - 1] + others[others.count / 2]) / 2
        return value < median
    }
}
