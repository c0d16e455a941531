import ConvictionCore
import ConvictionFeatures
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct FeatureBuilderTests {
    let session = TradingCalendar().session(on: CivilDate(iso: "2026-01-05")!)!
    let builder = FeatureBuilder(configuration: .init(barMinutes: 5, labelHorizonBars: 1, includeSentiment: true))

    /// One session of 1-minute bars with a steady rise.
    var bars: [PriceBar] {
        (0..<390).map { m in
            let start = session.open + Int64(m) * Timestamps.minute
            let price = 100 + Double(m) * 0.01 + (m % 7 == 0 ? -0.05 : 0)
            return PriceBar(symbol: Symbol("AAPL"), start: start, end: start + Timestamps.minute, open: price, high: price + 0.02,
                            low: price - 0.02, close: price, volume: 1000 + Double(m))
        }
    }

    func column(_ m: FeatureMatrix, _ name: String) -> [Double?] { m.columns[m.definitions.firstIndex { $0.name == name }!] }

    @Test func rowsAreStampedAtBarClosesAndLabelsStayInTheSession() {
        let m = builder.build(symbol: Symbol("AAPL"), minuteBars: bars, news: [], posts: [])
        #expect(m.rowCount == 78)
        #expect(m.timestamps.first == session.open + 5 * Timestamps.minute)
        #expect(m.timestamps.last == session.close)
        #expect(m.labels.last! == nil, "no label across the close")
        #expect(m.labels.dropLast().allSatisfy { $0 != nil })
        for i in 0..<(m.rowCount - 1) { #expect(m.labelEnds[i] == m.timestamps[i + 1]) }
        // ret_1 at a bar close is the return of that (closed) bar, never the next one.
        let ret1 = column(m, "ret_1")
        #expect(abs(ret1[1]! - log(bars[9].close / bars[4].close)) < 1e-12)
        #expect(column(m, "ret_12")[10] == nil && column(m, "ret_12")[12] != nil)
    }

    @Test func emptySentimentWindowsAreNullWithAZeroCount() {
        let m = builder.build(symbol: Symbol("AAPL"), minuteBars: bars, news: [], posts: [])
        #expect(column(m, "sent_5m").allSatisfy { $0 == nil })
        #expect(column(m, "posts_5m").allSatisfy { $0 == 0 })
    }

    /// Moving one post by a millisecond across a bar close changes exactly the rows whose
    /// windows it enters or leaves.
    @Test func aPostCountsOnlyStrictlyBeforeTheDecisionTime() {
        let close = session.open + 30 * Timestamps.minute  // the 6th bar's close, row 5
        func build(_ t: EpochMillis) -> FeatureMatrix {
            builder.build(symbol: Symbol("AAPL"), minuteBars: bars, news: [],
                          posts: [SentimentObservation(time: t, polarity: 0.8, followers: 10)])
        }
        let before = build(close - 1), at = build(close)
        let s5Before = column(before, "sent_5m"), s5At = column(at, "sent_5m")
        #expect(s5Before[5] == 0.8, "a post 1 ms before the close counts at that close")
        #expect(s5At[5] == nil, "a post at the close instant does not")
        #expect(s5At[6] == 0.8 && s5Before[6] == nil)
        let changed = (0..<before.rowCount).filter { column(before, "posts_60m")[$0] != column(at, "posts_60m")[$0] }
        #expect(changed == [5, 17], "enters the 60-minute window one bar later and leaves it one bar later")
    }

    @Test func newsFeaturesUseOnlyPublishedNews() {
        let t = session.open + 60 * Timestamps.minute
        let news = [NewsEvent(symbol: Symbol("AAPL"), publishedAt: t, sentiment: 0.5, articles: 3, headline: "h")]
        let m = builder.build(symbol: Symbol("AAPL"), minuteBars: bars, news: news, posts: [])
        let row = m.timestamps.firstIndex(of: t)!
        #expect(column(m, "news_volume")[row] == 0)
        #expect(column(m, "news_volume")[row + 1] == 3)
        #expect(column(m, "news_sentiment")[row] == nil && column(m, "news_sentiment")[row + 1] == 0.5)
    }

    @Test func postOrderDoesNotMatter() {
        var rng = SeededGenerator(seed: 3)
        let posts = (0..<2000).map { _ in
            SentimentObservation(time: session.open - Timestamps.hour + Int64(rng.uniform() * Double(8 * Timestamps.hour)),
                                 polarity: rng.normal() * 0.3, followers: Int(rng.next() % 5000), engagement: Int(rng.next() % 9), label: Int(rng.next() % 3) - 1)
        }
        let sorted = posts.sorted { $0.time < $1.time }
        let a = builder.build(symbol: Symbol("AAPL"), minuteBars: bars, news: [], posts: posts)
        let b = builder.build(symbol: Symbol("AAPL"), minuteBars: bars, news: [], posts: sorted)
        #expect(a.columns == b.columns)
        #expect(column(a, "posts_daily").contains { ($0 ?? 0) > 100 })
    }

    @Test func withoutSentimentTheMatrixHoldsTheBaseSetOnly() {
        let base = FeatureBuilder(configuration: .init(includeSentiment: false))
        #expect(base.definitions.map(\.name) == FeatureDefinition.base.map(\.name))
        #expect(builder.definitions.contains { $0.name == "sent_daily" })
    }
}
