import ConvictionCore
import ConvictionModeling
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct AUCTests {
    @Test func countsTiesAsOneHalf() {
        #expect(AUC.compute(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1]) == 0.75)
        #expect(AUC.compute(scores: [0.5, 0.5, 0.5, 0.5], labels: [0, 1, 0, 1]) == 0.5)
        #expect(AUC.compute(scores: [1, 2, 2, 3], labels: [0, 0, 1, 1]) == 0.875)
        #expect(AUC.compute(scores: [1, 2], labels: [1, 1]) == nil)
    }

    @Test(.enabled(if: TestSupport.pythonHas("sklearn"), "needs .venv with scikit-learn (make setup)"))
    func matchesScikitLearn() throws {
        var rng = SeededGenerator(seed: 3)
        let labels = (0..<3000).map { _ in rng.chance(0.4) ? 1 : 0 }
        // Rounded scores give many ties.
        let scores = labels.map { (Double($0) * 0.3 + rng.normal()).rounded(toPlaces: 1) }
        let script = """
        import sys, json; from sklearn.metrics import roc_auc_score
        d = json.load(sys.stdin); print(repr(roc_auc_score(d["y"], d["s"])))
        """
        let input = try JSONSerialization.data(withJSONObject: ["y": labels, "s": scores])
        let result = try TestSupport.run(TestSupport.python!, ["-c", script], input: input)
        let reference = try #require(Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(result.stderr)")
        #expect(abs(AUC.compute(scores: scores, labels: labels)! - reference) < 1e-12)
    }
}

@Suite(.timeLimit(.minutes(10))) struct DeLongTests {
    /// DeLong's variance from the O(m n) definition of the structural components, written
    /// independently of the mid-rank algorithm under test.
    func bruteForce(_ a: [Double], _ b: [Double], _ y: [Int]) -> (Double, Double) {
        let pos = y.indices.filter { y[$0] == 1 }, neg = y.indices.filter { y[$0] == 0 }
        func psi(_ x: Double, _ z: Double) -> Double { x > z ? 1 : (x == z ? 0.5 : 0) }
        func components(_ s: [Double]) -> ([Double], [Double]) {
            (pos.map { i in neg.reduce(0) { $0 + psi(s[i], s[$1]) } / Double(neg.count) },
             neg.map { j in pos.reduce(0) { $0 + psi(s[$1], s[j]) } / Double(pos.count) })
        }
        let (a10, a01) = components(a), (b10, b01) = components(b)
        func cov(_ p: [Double], _ q: [Double]) -> Double {
            let mp = p.reduce(0, +) / Double(p.count), mq = q.reduce(0, +) / Double(q.count)
            return zip(p, q).reduce(0) { $0 + ($1.0 - mp) * ($1.1 - mq) } / Double(p.count - 1)
        }
        let variance = (cov(a10, a10) + cov(b10, b10) - 2 * cov(a10, b10)) / Double(pos.count)
            + (cov(a01, a01) + cov(b01, b01) - 2 * cov(a01, b01)) / Double(neg.count)
        let delta = b10.reduce(0, +) / Double(pos.count) - a10.reduce(0, +) / Double(pos.count)
        return (delta, variance.squareRoot())
    }

    @Test func matchesTheDefinitionIncludingTies() throws {
        var rng = SeededGenerator(seed: 9)
        let y = (0..<400).map { _ in rng.chance(0.5) ? 1 : 0 }
        let a = y.map { (Double($0) * 0.5 + rng.normal()).rounded(toPlaces: 1) }
        let b = zip(y, a).map { (Double($0) * 0.4 + 0.5 * $1 + rng.normal()).rounded(toPlaces: 1) }
        let result = try #require(DeLong.compare(scoresA: a, scoresB: b, labels: y))
        let (delta, se) = bruteForce(a, b, y)
        #expect(abs(result.difference - delta) < 1e-12)
        #expect(abs(result.standardError - se) < 1e-12)
        #expect(abs(result.aucA - AUC.compute(scores: a, labels: y)!) < 1e-12)
        #expect(result.pTwoSided > 0 && result.pTwoSided <= 1)
    }

    @Test func identicalScoresGiveNoDifference() throws {
        let y = [0, 1, 0, 1, 1, 0], s = [0.1, 0.9, 0.3, 0.6, 0.2, 0.5]
        let r = try #require(DeLong.compare(scoresA: s, scoresB: s, labels: y))
        #expect(r.difference == 0 && r.pTwoSided == 1)
    }

    @Test func blockBootstrapIntervalCoversTheDifference() throws {
        var rng = SeededGenerator(seed: 4)
        let n = 4000
        let y = (0..<n).map { _ in rng.chance(0.5) ? 1 : 0 }
        let a = y.map { Double($0) * 0.2 + rng.normal() }
        let b = y.map { Double($0) * 0.6 + rng.normal() }
        let blocks = (0..<n).map { $0 / 100 }
        let ci = try #require(BlockBootstrap.differenceInterval(scoresA: a, scoresB: b, labels: y, blocks: blocks, replicates: 300))
        let delta = AUC.compute(scores: b, labels: y)! - AUC.compute(scores: a, labels: y)!
        #expect(ci.lower < delta && delta < ci.upper && ci.lower > 0)
    }
}

@Suite(.timeLimit(.minutes(10))) struct WalkForwardSplitterTests {
    @Test func neverTrainsOnTheFutureAndPurgesOverlappingLabels() {
        // 12 days x 10 rows; labels last 3 rows (overlapping, and crossing day ends).
        let step = Timestamps.hour
        let t0 = (0..<120).map { EpochMillis($0) * step }
        let t1 = t0.map { $0 + 3 * step }
        let day = (0..<120).map { $0 / 10 }
        let folds = WalkForwardSplitter(folds: 3, embargo: 2 * step).split(t0: t0, t1: t1, day: day)
        #expect(folds.count == 3)
        for fold in folds {
            let testStart = fold.test.map { t0[$0] }.min()!, testEnd = fold.test.map { t1[$0] }.max()!
            #expect(fold.train.allSatisfy { t1[$0] < testStart }, "train labels end before the test span")
            #expect(fold.purged == 3, "the 3 rows whose labels reach into the test span are purged")
            #expect(fold.embargoed == 1, "the row whose label ends 1 h before the test span falls in the 2 h embargo")
            #expect(fold.train.allSatisfy { t1[$0] <= testStart - 2 * step })
            #expect(Set(fold.train).isDisjoint(with: fold.test))
            _ = testEnd
        }
        #expect(folds.map(\.test.count) == [30, 30, 30])
    }

    @Test func tooFewDaysGiveNoFolds() {
        #expect(WalkForwardSplitter(folds: 5, embargo: 0).split(t0: [0, 1], t1: [1, 2], day: [0, 1]).isEmpty)
    }
}

@Suite(.timeLimit(.minutes(10))) struct XGBoostTests {
    @Test(.enabled(if: TestSupport.xgboostLibrary != nil, "needs libxgboost.so in .venv (make setup)"))
    func learnsASimpleRuleThroughTheCAPI() throws {
        let library = try XGBoostLibrary(path: TestSupport.xgboostLibrary!)
        #expect(library.versionString.hasPrefix("3."))
        var rng = SeededGenerator(seed: 1)
        let n = 2000
        var values: [Float] = [], labels: [Float] = []
        for _ in 0..<n {
            let x0 = rng.normal(), x1 = rng.normal()
            values += [Float(x0), rng.chance(0.1) ? .nan : Float(x1)]  // NaN = missing
            labels.append(x0 + 0.5 * x1 > 0 ? 1 : 0)
        }
        let train = try DMatrix(library: library, values: values, rows: n, columns: 2, labels: labels)
        let booster = try Booster(library: library, parameters: [("objective", "binary:logistic"), ("max_depth", "3"), ("nthread", "1"), ("seed", "1")], training: train)
        try booster.train(on: train, rounds: 30)
        let predictions = try booster.predict(train).map(Double.init)
        #expect(predictions.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(AUC.compute(scores: predictions, labels: labels.map { Int($0) })! > 0.95)
        // Same seed, same data: the same predictions.
        let again = try Booster(library: library, parameters: [("objective", "binary:logistic"), ("max_depth", "3"), ("nthread", "1"), ("seed", "1")], training: train)
        try again.train(on: train, rounds: 30)
        #expect(try again.predict(train) == predictions.map(Float.init))
    }

    @Test(.enabled(if: TestSupport.xgboostLibrary != nil, "needs libxgboost.so in .venv (make setup)"))
    func errorsCarryXGBoostsMessage() throws {
        let library = try XGBoostLibrary(path: TestSupport.xgboostLibrary!)
        let m = try DMatrix(library: library, values: [1, 2], rows: 2, columns: 1, labels: [0, 1])
        #expect {
            let b = try Booster(library: library, parameters: [("max_depth", "not-a-number")], training: m)
            try b.train(on: m, rounds: 1)
        } throws: { error in
            "\(error)".contains("XGBoost") && "\(error)".contains("max_depth")
        }
    }

    @Test func aMissingLibraryIsAClearError() {
        #expect { try XGBoostLibrary(path: "/nonexistent/libxgboost.so") } throws: { "\($0)".contains("/nonexistent/libxgboost.so") }
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}

@Suite(.timeLimit(.minutes(10))) struct XGBoostModelFileTests {
    @Test(.enabled(if: TestSupport.xgboostLibrary != nil && TestSupport.pythonHas("xgboost", "numpy"), "needs .venv with xgboost (make setup)"))
    func modelsRoundTripWithPythonXGBoost() throws {
        let library = try XGBoostLibrary(path: TestSupport.xgboostLibrary!)
        var rng = SeededGenerator(seed: 5)
        let n = 500
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<n {
            let a = rng.normal(), b = rng.normal()
            x += [Float(a), rng.chance(0.1) ? .nan : Float(b), Float(rng.normal())]
            y.append(a - b > 0 ? 1 : 0)
        }
        let dir = TestSupport.temporaryDirectory("xgb")
        let m = try DMatrix(library: library, values: x, rows: n, columns: 3, labels: y)
        let booster = try Booster(library: library, parameters: [("objective", "binary:logistic"), ("max_depth", "3"), ("nthread", "1"), ("base_score", "0.5")], training: m)
        try booster.train(on: m, rounds: 20)
        let swiftPredictions = try booster.predict(m)
        try booster.save(to: dir.appendingPathComponent("swift.json").path)
        try x.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("x.f32")) }
        let gain = try booster.gainImportance()
        #expect(gain[0]! > gain[2] ?? 0 && gain[1]! > gain[2] ?? 0, "the two informative features carry the gain: \(gain)")

        let script = """
        import sys, numpy as np, xgboost as xgb
        d = sys.argv[1]
        x = np.fromfile(d + "/x.f32", dtype=np.float32).reshape(-1, 3)
        m = xgb.DMatrix(x, missing=np.nan)
        b = xgb.Booster(model_file=d + "/swift.json")
        b.predict(m).astype(np.float32).tofile(d + "/python_predictions.f32")
        b.save_model(d + "/python.json")
        """
        let result = try TestSupport.run(TestSupport.python!, ["-c", script, dir.path])
        try #require(result.status == 0, "\(result.stderr)")
        let data = try Data(contentsOf: dir.appendingPathComponent("python_predictions.f32"))
        let pythonPredictions = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(pythonPredictions == swiftPredictions, "Python xgboost predicts identically from Swift's model")
        let loaded = try Booster(library: library, loadingFrom: dir.appendingPathComponent("python.json").path)
        #expect(try loaded.predict(m) == swiftPredictions, "and Swift from Python's")
        #expect(throws: XGBoostError.self) { try Booster(library: library, loadingFrom: dir.appendingPathComponent("missing.json").path) }
    }
}

@Suite(.timeLimit(.minutes(10))) struct InformationCoefficientTests {
    @Test func pearsonAndSpearmanOnAHandCheckedCase() {
        // x and y: Spearman with a tie in x; ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4].
        let x = [1.0, 2, 2, 5], y = [10.0, 30, 20, 40]
        #expect(abs(InformationCoefficient.spearman(x, y)! - 0.9486832980505138) < 1e-12)
        #expect(abs(InformationCoefficient.pearson([1, 2, 3], [2, 4, 7])! - 0.9933992677987828) < 1e-12)
        #expect(InformationCoefficient.pearson([1, 1, 1], [1, 2, 3]) == nil)
    }

    @Test func forwardReturnsStayInTheSessionAndSymbol() {
        let bar: EpochMillis = 300_000
        // Symbol 0: three consecutive bars, then a gap (next session); symbol 1 interleaved.
        let t0: [EpochMillis] = [0, 0, bar, bar, 2 * bar, 10 * bar]
        let group = [0, 1, 0, 1, 0, 0]
        let oneBar: [Double?] = [0.1, 1, 0.2, 2, 0.3, 0.4]
        let f1 = InformationCoefficient.forwardReturns(oneBar: oneBar, t0: t0, group: group, horizon: 1, barMillis: bar)
        #expect(f1[0] == 0.2 && f1[1] == 2 && f1[2] == 0.3 && f1[3] == nil && f1[4] == nil)
        let f2 = InformationCoefficient.forwardReturns(oneBar: oneBar, t0: t0, group: group, horizon: 2, barMillis: bar)
        #expect(abs(f2[0]! - 0.5) < 1e-12 && f2[2] == nil)
    }

    @Test func aPredictiveFeatureHasPositiveDecayingICAndOrderedQuintiles() {
        var rng = SeededGenerator(seed: 2)
        let bar: EpochMillis = 300_000
        var t0: [EpochMillis] = [], oneBar: [Double?] = [], feature: [Double?] = []
        var signal = 0.0
        for i in 0..<5000 {
            t0.append(EpochMillis(i) * bar)
            feature.append(signal)
            let next = 0.02 * signal + rng.normal() * 0.1   // the next bar's return leans on the current signal
            oneBar.append(next)
            signal = 0.5 * signal + rng.normal()
        }
        // Row i's feature predicts row i+1's one-bar return: shift returns so oneBar[i] is the return INTO row i.
        let returns: [Double?] = [nil] + oneBar.dropLast()
        let result = InformationCoefficient.analyze(features: [("s", feature)], oneBarReturn: returns, t0: t0, group: t0.map { _ in 0 }, barMillis: bar)[0]
        #expect(result.rankIC[0] > 0.05 && result.rankIC[0] > result.rankIC[3])
        #expect(result.quintileReturns.first! < result.quintileReturns.last!)
    }
}
