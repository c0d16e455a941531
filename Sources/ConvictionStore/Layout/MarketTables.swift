import ConvictionCore
import Foundation

/// Parquet layouts of bars, news and scores, shared by the stages that write and read them.
public enum MarketTables {
    /// `extra`: further double columns (an import's raw prices), one value per bar.
    public static func encode(bars: [PriceBar], extra: [(String, [Double])] = []) throws -> Data {
        try ParquetWriter.encode(ParquetTable(columns: [
            ParquetColumn(name: "symbol", nullable: false, values: .string(bars.map { $0.symbol.rawValue })),
            ParquetColumn(name: "start", nullable: false, values: .timestamp(bars.map { $0.start * 1000 })),
            ParquetColumn(name: "end", nullable: false, values: .timestamp(bars.map { $0.end * 1000 })),
            ParquetColumn(name: "open", nullable: false, values: .double(bars.map(\.open))),
            ParquetColumn(name: "high", nullable: false, values: .double(bars.map(\.high))),
            ParquetColumn(name: "low", nullable: false, values: .double(bars.map(\.low))),
            ParquetColumn(name: "close", nullable: false, values: .double(bars.map(\.close))),
            ParquetColumn(name: "volume", nullable: false, values: .double(bars.map(\.volume))),
        ] + extra.map { ParquetColumn(name: $0.0, nullable: false, values: .double($0.1)) }))
    }

    public static func decodeBars(_ data: Data, source: String) throws -> [PriceBar] {
        let table = try ParquetReader.decode(data, source: source)
        let symbol = try strings(table, "symbol", source), start = try times(table, "start", source), end = try times(table, "end", source)
        let open = try doubles(table, "open", source), high = try doubles(table, "high", source)
        let low = try doubles(table, "low", source), close = try doubles(table, "close", source), volume = try doubles(table, "volume", source)
        return (0..<table.rowCount).map { i in
            PriceBar(symbol: Symbol(symbol[i] ?? ""), start: start[i] ?? 0, end: end[i] ?? 0, open: open[i] ?? .nan,
                     high: high[i] ?? .nan, low: low[i] ?? .nan, close: close[i] ?? .nan, volume: volume[i] ?? 0)
        }
    }

    public static func encode(news: [NewsEvent]) throws -> Data {
        try ParquetWriter.encode(ParquetTable(columns: [
            ParquetColumn(name: "symbol", nullable: false, values: .string(news.map { $0.symbol.rawValue })),
            ParquetColumn(name: "published_at", nullable: false, values: .timestamp(news.map { $0.publishedAt * 1000 })),
            ParquetColumn(name: "sentiment", nullable: false, values: .double(news.map(\.sentiment))),
            ParquetColumn(name: "articles", nullable: false, values: .int64(news.map { Int64($0.articles) })),
            ParquetColumn(name: "headline", nullable: false, values: .string(news.map(\.headline))),
        ]))
    }

    public static func decodeNews(_ data: Data, source: String) throws -> [NewsEvent] {
        let table = try ParquetReader.decode(data, source: source)
        let symbol = try strings(table, "symbol", source), at = try times(table, "published_at", source)
        let tone = try doubles(table, "sentiment", source), headline = try strings(table, "headline", source)
        guard case .int64(let articles)? = table.column("articles")?.values else { throw missing("articles", source) }
        return (0..<table.rowCount).map { i in
            NewsEvent(symbol: Symbol(symbol[i] ?? ""), publishedAt: at[i] ?? 0, sentiment: tone[i] ?? 0,
                      articles: Int(articles[i] ?? 0), headline: headline[i] ?? "")
        }
    }

    public static func encode(scores: [SentimentScore]) throws -> Data {
        try ParquetWriter.encode(ParquetTable(columns: [
            ParquetColumn(name: "post_id", nullable: false, values: .string(scores.map(\.postID))),
            ParquetColumn(name: "symbol", nullable: false, values: .string(scores.map { $0.symbol.rawValue })),
            ParquetColumn(name: "created_at", nullable: false, values: .timestamp(scores.map { $0.createdAt * 1000 })),
            ParquetColumn(name: "received_at", nullable: false, values: .timestamp(scores.map { $0.receivedAt * 1000 })),
            ParquetColumn(name: "author_followers", nullable: false, values: .int64(scores.map { Int64($0.authorFollowers) })),
            ParquetColumn(name: "engagement", nullable: false, values: .int64(scores.map { Int64($0.engagement) })),
            ParquetColumn(name: "positive", nullable: false, values: .double(scores.map(\.positive))),
            ParquetColumn(name: "negative", nullable: false, values: .double(scores.map(\.negative))),
            ParquetColumn(name: "neutral", nullable: false, values: .double(scores.map(\.neutral))),
            ParquetColumn(name: "label", nullable: false, values: .string(scores.map(\.label.rawValue))),
            ParquetColumn(name: "confidence", nullable: false, values: .double(scores.map(\.confidence))),
            ParquetColumn(name: "scorer", nullable: false, values: .string(scores.map(\.scorer))),
            ParquetColumn(name: "model_hash", nullable: false, values: .string(scores.map(\.modelHash))),
        ]))
    }

    public static func decodeScores(_ data: Data, source: String) throws -> [SentimentScore] {
        let table = try ParquetReader.decode(data, source: source)
        let id = try strings(table, "post_id", source), symbol = try strings(table, "symbol", source)
        let created = try times(table, "created_at", source), received = try times(table, "received_at", source)
        let pos = try doubles(table, "positive", source), neg = try doubles(table, "negative", source), neu = try doubles(table, "neutral", source)
        let scorer = try strings(table, "scorer", source)
        let modelHash = (try? strings(table, "model_hash", source)) ?? []  // absent in files from before the column
        guard case .int64(let followers)? = table.column("author_followers")?.values else { throw missing("author_followers", source) }
        guard case .int64(let engagement)? = table.column("engagement")?.values else { throw missing("engagement", source) }
        return (0..<table.rowCount).map { i in
            SentimentScore(postID: id[i] ?? "", symbol: Symbol(symbol[i] ?? ""), createdAt: created[i] ?? 0, receivedAt: received[i] ?? 0,
                           authorFollowers: Int(followers[i] ?? 0), engagement: Int(engagement[i] ?? 0), positive: pos[i] ?? 0, negative: neg[i] ?? 0, neutral: neu[i] ?? 0,
                           scorer: scorer[i] ?? "", modelHash: i < modelHash.count ? modelHash[i] ?? "" : "")
        }
    }

    static func strings(_ t: ParquetTable, _ name: String, _ source: String) throws -> ParquetArray<String> {
        guard case .string(let v)? = t.column(name)?.values else { throw missing(name, source) }
        return v
    }
    static func doubles(_ t: ParquetTable, _ name: String, _ source: String) throws -> ParquetArray<Double> {
        guard case .double(let v)? = t.column(name)?.values else { throw missing(name, source) }
        return v
    }
    /// Timestamps in milliseconds (Parquet holds microseconds).
    static func times(_ t: ParquetTable, _ name: String, _ source: String) throws -> [EpochMillis?] {
        guard case .timestamp(let v)? = t.column(name)?.values else { throw missing(name, source) }
        return v.map { $0.map { Timestamps.floorDiv($0, 1000) } }
    }
    static func missing(_ name: String, _ source: String) -> StoreError {
        StoreError(key: source, message: "column \(name) is missing or has the wrong type")
    }
}
