import ConvictionCore
import Foundation

/// Stream messages for tests of the stream client and the local X API server.
public enum TestFeed {
    /// `count` clean posts, one configured symbol each, ids increasing, every text with a multi-byte
    /// character (so a split inside a character is possible anywhere), all passing the filters.
    /// Posts are created `spacing` apart from `start` (the test clock's start: nothing depends on today's date).
    public static func posts(count: Int, start: EpochMillis = TestClock.defaultStart, spacing: Duration = .seconds(1),
                     firstID: UInt64 = 1_900_000_000_000_000_000) -> [Data] {
        let texts = ["breaking out, buying more shares 🚀", "earnings beat, price target raised 📈", "weak guidance, selling — bearish",
                     "options flow looks bullish 👀", "chart says rally into the close ✅", "dip buyers at the market open 💎"]
        return (0..<count).map { i in
            let symbol = Symbol.universe[i % Symbol.universe.count]
            let text = "$\(symbol.rawValue) \(texts[i % texts.count]) #\(i)"
            let created = Timestamps.iso8601(start + Int64(i) * spacing.milliseconds)
            let author = 1000 + i % 97
            return Data("""
            {"data":{"id":"\(firstID + UInt64(i) * 7)","text":"\(text)","created_at":"\(created)","author_id":"\(author)","lang":"en","public_metrics":{"retweet_count":0,"reply_count":0,"like_count":\(i % 5),"quote_count":0},"entities":{"cashtags":[{"start":0,"end":\(symbol.rawValue.count + 1),"tag":"\(symbol.rawValue)"}]}},"includes":{"users":[{"id":"\(author)","username":"user\(author)","public_metrics":{"followers_count":\(100 + author),"following_count":5,"tweet_count":50}}]}}
            """.utf8)
        }
    }

}
