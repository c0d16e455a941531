/// How often a bar series or a feature matrix has a row.
public enum BarFrequency: String, Sendable, Hashable, Codable, CaseIterable {
    /// 1-minute bars (`market/bars_1m/`); feature rows every `features.bar_minutes`.
    case minute = "1m"
    /// Daily bars (`market/bars_1d/`); one feature row per session, at its close.
    case daily = "1d"
}

/// One OHLCV bar. `start` is the instant the bar opens, `end` the instant it closes; a bar's values
/// are knowable only from `end` on.
public struct PriceBar: Sendable, Hashable, Codable {
    public var symbol: Symbol
    public var start: EpochMillis
    public var end: EpochMillis
    public var open: Double
    public var high: Double
    public var low: Double
    public var close: Double
    public var volume: Double

    public init(symbol: Symbol, start: EpochMillis, end: EpochMillis, open: Double, high: Double, low: Double, close: Double, volume: Double) {
        self.symbol = symbol; self.start = start; self.end = end
        self.open = open; self.high = high; self.low = low; self.close = close; self.volume = volume
    }
}

/// A news item about a symbol. `publishedAt` is when it became public.
public struct NewsEvent: Sendable, Hashable, Codable {
    public var symbol: Symbol
    public var publishedAt: EpochMillis
    /// Tone of the coverage in [-1, 1].
    public var sentiment: Double
    /// Number of articles carrying the story.
    public var articles: Int
    public var headline: String

    public init(symbol: Symbol, publishedAt: EpochMillis, sentiment: Double, articles: Int, headline: String) {
        self.symbol = symbol; self.publishedAt = publishedAt; self.sentiment = sentiment; self.articles = articles; self.headline = headline
    }
}
