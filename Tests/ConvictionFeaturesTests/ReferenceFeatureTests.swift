import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionScoring
import ConvictionTesting
import ConvictionXPayload
import Foundation
import Testing

/// Every feature against an independent numpy implementation of its definition
/// (Tests/reference/features.py), on simulated data that spans Thanksgiving's half day.
@Suite(.timeLimit(.minutes(10))) struct ReferenceFeatureTests {
    @Test(.enabled(if: TestSupport.pythonHas("numpy"), "needs .venv with numpy (make setup)"))
    func everyFeatureMatchesTheReference() throws {
        let symbol = Symbol("TSLA")
        let sim = MarketSimulator(configuration: .init(seed: 9, start: CivilDate(iso: "2026-11-10")!, sessions: 14, symbols: [symbol]))
        let out = sim.simulate(symbol)
        let scorer = LexiconScorer()
        let posts: [SentimentObservation] = out.posts.map { post in
            let p = scorer.score(post.message.data.text)
            let label = p.positive > max(p.negative, p.neutral) ? 1 : (p.negative > max(p.positive, p.neutral) ? -1 : 0)
            let metrics = post.message.data.publicMetrics
            return SentimentObservation(time: post.createdAt, polarity: p.positive - p.negative,
                                        followers: post.message.includes?.users?.first?.publicMetrics?.followersCount ?? 0,
                                        engagement: (metrics?.likeCount ?? 0) + (metrics?.retweetCount ?? 0), label: label)
        }
        let builder = FeatureBuilder(configuration: .init(barMinutes: 5, labelHorizonBars: 1, includeSentiment: true))
        let matrix = builder.build(symbol: symbol, minuteBars: out.bars, news: out.news, posts: posts)
        #expect(matrix.definitions.count == 67 + 37)
        #expect(matrix.definitions.filter { $0.group != .sentiment }.count == 67)
        #expect(Set(matrix.definitions.map(\.name)).count == matrix.definitions.count, "unique names")

        var swift: [String: [Double?]] = [:]
        for (definition, column) in zip(matrix.definitions, matrix.columns) {
            #expect(!column.contains { $0?.isNaN == true || $0?.isInfinite == true }, "\(definition.name) holds NaN or infinity")
            swift[definition.name] = column
        }
        let input: [String: Any] = [
            "bar_minutes": 5,
            "minute_bars": out.bars.map { [Double($0.start), Double($0.end), $0.open, $0.high, $0.low, $0.close, $0.volume] },
            "news": out.news.map { [Double($0.publishedAt), $0.sentiment, Double($0.articles)] },
            "posts": posts.map { [Double($0.time), $0.polarity, Double($0.followers), Double($0.engagement), Double($0.label)] },
            "timestamps": matrix.timestamps.map(Double.init),
            "swift": swift.mapValues { $0.map { $0 as Any? ?? NSNull() } },
        ]
        let file = TestSupport.temporaryDirectory("features").appendingPathComponent("input.json")
        try JSONSerialization.data(withJSONObject: input).write(to: file)
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/reference/features.py").path
        let result = try TestSupport.run(TestSupport.python!, [script, file.path])
        try #require(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [Any]])
        #expect(report.count == matrix.definitions.count)
        for definition in matrix.definitions {
            let row = try #require(report[definition.name])
            let nonNull = row[2] as? Int ?? 0
            if let worst = row[0] as? Double {
                #expect(worst < 1e-9, "\(definition.name): relative difference \(worst)")
            } else {
                Issue.record("\(definition.name): \(row[0])")
            }
            #expect(nonNull > 0, "\(definition.name) was never computed on the test data")
        }
    }
}
