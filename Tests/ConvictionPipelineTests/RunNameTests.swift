import ConvictionCore
import ConvictionPipeline
import Testing

@Suite(.timeLimit(.minutes(10))) struct RunNameTests {
    let t: EpochMillis = 1_795_530_601_250  // 2026-11-24T14:30:01.250Z

    @Test func batchRunNamesSortByTimeAndCarryARandomSuffix() {
        let a = BatchManifest.newRun(now: t), b = BatchManifest.newRun(now: t + 1000)
        #expect(a.hasPrefix("20261124T143001Z-") && a.count == 23)
        #expect(a < b)
    }

    @Test func sageMakerStampIsYearToMinuteInUTC() {
        #expect(SageMakerTuning.stamp(now: t) == "2611241430")
    }

    @Test func featuresUnitsRoundTripTheirSymbol() {
        #expect(FeaturesTask.symbol(ofUnit: FeaturesTask.unit(Symbol("AAPL"))) == Symbol("AAPL"))
        #expect(FeaturesTask.symbol(ofUnit: "symbol=") == nil)
        #expect(FeaturesTask.symbol(ofUnit: "date=2026-11-24") == nil)
    }
}
