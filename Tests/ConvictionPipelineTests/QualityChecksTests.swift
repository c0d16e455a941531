import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionPipeline
import ConvictionXPayload
import Testing

@Suite(.timeLimit(.minutes(10))) struct QualityChecksTests {
    let symbol = Symbol("AAPL")

    func data(dropping day: CivilDate? = nil, breakScore: Bool = false) -> ([SentimentScore], FeatureMatrix) {
        let out = MarketSimulator(configuration: .init(seed: 4, sessions: 8, symbols: [symbol])).simulate(symbol)
        var scores = out.posts.map { p in
            SentimentScore(postID: p.message.data.id, symbol: symbol, createdAt: p.createdAt, receivedAt: p.createdAt, authorFollowers: 10,
                           positive: 0.5, negative: 0.2, neutral: 0.3, scorer: "test")
        }
        if let day { scores.removeAll { Timestamps.floorDiv($0.createdAt, Timestamps.day) >= Int64(day.daysSinceEpoch) - 1 && Eastern.local($0.createdAt).date <= day } }
        if breakScore { scores[3].positive = 1.4 }
        let observations = scores.map { SentimentObservation(time: $0.createdAt, polarity: $0.polarity, followers: 10) }
        let matrix = FeatureBuilder(configuration: .init()).build(symbol: symbol, minuteBars: out.bars, news: out.news, posts: observations)
        return (scores, matrix)
    }

    @Test func cleanDataPassesEveryCheck() {
        let (scores, matrix) = data()
        let findings = QualityChecks().run(symbol: symbol, scores: scores, matrix: matrix)
        #expect(findings.map(\.check) == ["score_range", "completeness", "stale_sentiment", "post_volume"])
        #expect(findings.allSatisfy { !$0.failed }, "\(findings)")
    }

    @Test func anOutageDayFailsVolumeAndStaleness() {
        let day = TradingCalendar().sessions(from: CivilDate(year: 2026, month: 1, day: 2), count: 8)[4].date
        let (scores, matrix) = data(dropping: day)
        let findings = QualityChecks().run(symbol: symbol, scores: scores, matrix: matrix)
        let failed = Dictionary(uniqueKeysWithValues: findings.map { ($0.check, $0) })
        #expect(failed["post_volume"]?.failed == true && failed["post_volume"]!.detail.contains(day.isoString))
        #expect(failed["stale_sentiment"]?.failed == true)
    }

    @Test func outOfRangeProbabilitiesFail() {
        let (scores, matrix) = data(breakScore: true)
        let finding = QualityChecks().run(symbol: symbol, scores: scores, matrix: matrix).first { $0.check == "score_range" }!
        #expect(finding.failed && finding.detail.hasPrefix("1 of"))
    }
}
