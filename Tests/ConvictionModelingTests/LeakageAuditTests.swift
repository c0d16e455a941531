import ConvictionCore
import ConvictionModeling
import Testing

@Suite(.timeLimit(.minutes(10))) struct LeakageAuditTests {
    func dataset(leak: Bool, badTimes: Bool = false, seed: UInt64 = 8) -> UpliftExperiment.Dataset {
        var rng = SeededGenerator(seed: seed)
        let n = 3000
        var values: [Float] = [], labels: [Int] = [], t0: [EpochMillis] = [], t1: [EpochMillis] = []
        for i in 0..<n {
            let forward = rng.normal()
            labels.append(forward > 0 ? 1 : 0)
            let honest = Float(0.05 * forward + rng.normal())   // weakly predictive, like a real feature
            let leaked = Float(forward + 0.3 * rng.normal())    // the future return, barely disguised
            values += leak ? [honest, leaked] : [honest, Float(rng.normal())]
            t0.append(EpochMillis(i) * 300_000)
            t1.append(badTimes && i % 100 == 0 ? EpochMillis(i) * 300_000 : EpochMillis(i + 1) * 300_000)
        }
        return UpliftExperiment.Dataset(featureNames: ["honest", leak ? "leak" : "noise"], values: values, labels: labels,
                                        t0: t0, t1: t1, day: t0.map { Int($0 / Timestamps.day) })
    }

    @Test func cleanDataPasses() {
        let result = LeakageAudit().run(dataset(leak: false))
        #expect(result.passed, "\(result.findings)")
        #expect(result.featureAUCs.count == 2)
    }

    /// Caught every time: ten seeds.
    @Test(arguments: 1...10)
    func aPlantedLeakIsCaughtByName(seed: Int) {
        let result = LeakageAudit().run(dataset(leak: true, seed: UInt64(seed)))
        #expect(!result.passed)
        let finding = result.findings.first { $0.check == "single_feature_auc" }!
        #expect(finding.failed && finding.detail.contains("leak (AUC 0.9"))
        #expect(!finding.detail.contains("honest"))
    }

    @Test func labelsThatDoNotFollowTheFeaturesFail() {
        let result = LeakageAudit().run(dataset(leak: false, badTimes: true))
        #expect(result.findings.first { $0.check == "timestamps" }?.failed == true)
    }

    @Test func implausibleModelAUCFails() {
        #expect(LeakageAudit().modelFinding(baselineAUC: 0.9989, augmentedAUC: 0.9991).failed)
        #expect(!LeakageAudit().modelFinding(baselineAUC: 0.52, augmentedAUC: 0.535).failed)
    }

    @Test func shiftingMovesValuesLaterWithinEachGroup() {
        let d = UpliftExperiment.Dataset(featureNames: ["a", "b"], values: [1, 10, 2, 20, 3, 30, 4, 40], labels: [0, 1, 0, 1],
                                         t0: [1, 1, 2, 2], t1: [5, 5, 6, 6], day: [0, 0, 0, 0], group: [0, 1, 0, 1])
        let shifted = d.shifting(["b"], by: 1)
        #expect(shifted.values[0] == 1 && shifted.values[1].isNaN && shifted.values[3].isNaN)
        #expect(shifted.values[5] == 10 && shifted.values[7] == 20, "row 2 (group 0) gets row 0's b; row 3 (group 1) gets row 1's")
    }
}
