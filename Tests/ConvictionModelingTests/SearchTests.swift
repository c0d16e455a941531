import ConvictionCore
@testable import ConvictionModeling
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct SamplerTests {
    let space = SearchSpace(parameters: [
        .init(name: "x", low: 0, high: 1), .init(name: "y", low: 0.001, high: 10, log: true), .init(name: "n", low: 2, high: 8, integer: true),
    ])

    /// A smooth objective with its optimum at x = 0.7, y = 0.1, n = 6.
    func objective(_ p: [String: Double]) -> Double {
        -pow(p["x"]! - 0.7, 2) - pow(log10(p["y"]!) + 1, 2) / 4 - pow(p["n"]! - 6, 2) / 36
    }

    func runTrials(_ sampler: any Sampler, count: Int) -> [Trial] {
        var history: [Trial] = []
        for n in 0..<count {
            let p = sampler.sample(space, history: history, trialNumber: n)
            history.append(Trial(number: n, parameters: p, value: objective(p), rounds: 0, state: .complete, intermediate: []))
        }
        return history
    }

    @Test func samplesStayInRangeAndAreReproducible() {
        for sampler in [TPESampler(seed: 3) as any Sampler, RandomSampler(seed: 3)] {
            let a = runTrials(sampler, count: 40), b = runTrials(sampler, count: 40)
            #expect(a == b, "same seed, same trials")
            for t in a {
                #expect((0...1).contains(t.parameters["x"]!) && (0.001...10).contains(t.parameters["y"]!))
                #expect([2, 3, 4, 5, 6, 7, 8].contains(t.parameters["n"]!))
            }
        }
        #expect(runTrials(TPESampler(seed: 3), count: 15) != runTrials(TPESampler(seed: 4), count: 15))
    }

    /// After its random start-up trials TPE samples where the good trials were: over 8 seeds its
    /// best of 50 beats random search's best of 50 on average, and its late trials sit nearer the optimum.
    @Test func tpeConcentratesNearTheOptimum() {
        var tpeBest = 0.0, randomBest = 0.0, tpeLate = 0.0, randomLate = 0.0
        for seed in 1...8 {
            let tpe = runTrials(TPESampler(seed: UInt64(seed)), count: 50), random = runTrials(RandomSampler(seed: UInt64(seed)), count: 50)
            tpeBest += tpe.map(\.value).max()!; randomBest += random.map(\.value).max()!
            tpeLate += tpe.suffix(20).map(\.value).reduce(0, +) / 20; randomLate += random.suffix(20).map(\.value).reduce(0, +) / 20
        }
        #expect(tpeBest > randomBest, "TPE best \(tpeBest / 8), random \(randomBest / 8)")
        #expect(tpeLate > randomLate + 0.1, "TPE late mean \(tpeLate / 8), random \(randomLate / 8)")
    }

    @Test func medianPrunerStopsTrialsBelowTheMedianAfterWarmUp() {
        let pruner = MedianPruner(startupTrials: 3, warmupRounds: 20)
        let history = [0.60, 0.62, 0.64].enumerated().map { Trial(number: $0.offset, parameters: [:], value: $0.element, rounds: 20, state: .complete,
                                                                     intermediate: [[10, $0.element - 0.01], [20, $0.element]]) }
        #expect(!pruner.shouldPrune(round: 20, value: 0.61, history: Array(history.prefix(2))), "before the start-up trials")
        #expect(!pruner.shouldPrune(round: 10, value: 0.50, history: history), "before warm-up")
        #expect(pruner.shouldPrune(round: 20, value: 0.61, history: history))
        #expect(!pruner.shouldPrune(round: 20, value: 0.63, history: history))
    }
}

@Suite(.enabled(if: TestSupport.xgboostLibrary != nil, "needs libxgboost.so in .venv (make setup)"), .timeLimit(.minutes(10)))
struct NestedSearchTests {
    /// Weak signal in one feature of two, 12 days of 5-minute rows.
    func dataset() -> UpliftExperiment.Dataset {
        var rng = SeededGenerator(seed: 21)
        var values: [Float] = [], labels: [Int] = [], t0: [EpochMillis] = []
        for i in 0..<(12 * 78) {
            let forward = rng.normal()
            labels.append(forward > 0 ? 1 : 0)
            values += [Float(0.3 * forward + rng.normal()), Float(rng.normal())]
            t0.append(EpochMillis(i / 78) * Timestamps.day + EpochMillis(i % 78) * 300_000)
        }
        return UpliftExperiment.Dataset(featureNames: ["signal", "noise"], values: values, labels: labels, t0: t0,
                                        t1: t0.map { $0 + 300_000 }, day: t0.map { Int($0 / Timestamps.day) })
    }

    @Test func tunesInsideEachTrainingWindowOnly() throws {
        let data = dataset()
        var configuration = UpliftExperiment.Configuration()
        configuration.folds = 3
        configuration.bootstrapReplicates = 50
        configuration.search.trials = 12
        configuration.search.maxRounds = 120
        let experiment = UpliftExperiment(configuration: configuration, library: try XGBoostLibrary.locate(explicit: TestSupport.xgboostLibrary))
        let folds = WalkForwardSplitter(folds: 3, embargo: configuration.embargo).split(t0: data.t0, t1: data.t1, day: data.day)
        for fold in folds {
            let (inner, validation) = experiment.innerSplit(data, rows: fold.train)
            let testStart = fold.test.map { data.t0[$0] }.min()!
            #expect(!inner.isEmpty && !validation.isEmpty)
            #expect(Set(inner).isDisjoint(with: validation) && Set(inner + validation).isSubset(of: fold.train))
            #expect(validation.allSatisfy { data.t0[$0] < testStart }, "the test fold is never used to tune")
            let validationStart = validation.map { data.t0[$0] }.min()!
            #expect(inner.allSatisfy { data.t1[$0] < validationStart - configuration.embargo }, "purged and embargoed before validation")
        }
        let result = try experiment.run(data, baseline: ["noise"], added: ["signal"])
        #expect(result.searches.count == 6, "one search per fold and model")
        for record in result.searches {
            #expect(record.trials.count == 12)
            #expect(record.best.rounds >= 1 && record.best.rounds <= 120)
            #expect(record.trials.allSatisfy { !$0.intermediate.isEmpty })
        }
        #expect(result.searches.contains { $0.trials.contains { $0.state == .pruned } }, "median pruning stops some trials")
        #expect(result.augmentedAUC > result.baselineAUC)
        #expect(result.roc?.augmented.first == [0, 0] && result.roc?.augmented.last == [1, 1])
        #expect(result.importance.first?.feature == "signal")
        #expect(Set(result.models.keys) == ["baseline", "sentiment"])
        // Same seed, same search, same result.
        let again = try experiment.run(data, baseline: ["noise"], added: ["signal"])
        #expect(again.searches == result.searches && again.augmentedAUC == result.augmentedAUC)
        // A control reusing the baseline gets the very same baseline.
        let control = try experiment.run(data.shifting(["signal"], by: 78), baseline: ["noise"], added: ["signal"], reusingBaseline: result)
        #expect(control.baselineAUC == result.baselineAUC && control.searches.count == 3)
    }

    @Test func rocCurveIsMonotoneFromCornerToCorner() {
        let curve = AUC.rocCurve(scores: [0.1, 0.4, 0.35, 0.8, 0.8], labels: [0, 0, 1, 1, 0])
        #expect(curve.first == [0, 0] && curve.last == [1, 1])
        for (a, b) in zip(curve, curve.dropFirst()) { #expect(b[0] >= a[0] && b[1] >= a[1]) }
        var area = 0.0
        for (a, b) in zip(curve, curve.dropFirst()) { area += (b[0] - a[0]) * (a[1] + b[1]) / 2 }
        #expect(abs(area - AUC.compute(scores: [0.1, 0.4, 0.35, 0.8, 0.8], labels: [0, 0, 1, 1, 0])!) < 1e-12)
    }
}
