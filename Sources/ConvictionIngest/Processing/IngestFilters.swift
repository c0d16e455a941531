import ConvictionCore

/// What the client keeps of the posts that reach it, from the stream, a backfill or an archive.
/// The stream rules already ask X for most of this; applying the same filters on the client makes
/// replayed archives (which no rule filtered) and streamed posts land in the same shape.
public struct IngestFilters: Sendable, Equatable {
    /// Accepted `lang` codes; empty accepts all. A post without `lang` counts as `und`.
    public var languages: Set<String> = ["en"]
    public var dropRetweets = true
    /// Posts naming more distinct cashtags than this are cashtag piggybacking; 0 = no limit.
    public var maxCashtags = 5
    /// Symbols whose cashtag is also an ordinary word ($V, $MA): their posts must carry a financial
    /// keyword. `*` = every symbol.
    public var keywordSymbols: Set<Symbol> = [Symbol("V"), Symbol("MA")]
    /// Whole words, lower-case ASCII.
    public var keywords: Set<String> = Set(IngestFilters.defaultKeywords)
    /// Case-insensitive (ASCII) phrases that mark known bot spam.
    public var botPatterns = IngestFilters.defaultBotPatterns
    /// The same text from the same author within this window (by `created_at`) is a duplicate.
    public var duplicateTextWindowSeconds = 3600
    /// Former or alternative tickers and the symbol they count as (FB -> META): posts tagged with
    /// one are stored under the other.
    public var aliases: [Symbol: Symbol] = [:]

    public init() {}

    public static let defaultKeywords = [
        "stock", "stocks", "shares", "share", "earnings", "buy", "buying", "sell", "selling", "calls", "puts", "bullish",
        "bearish", "price", "market", "long", "short", "trading", "options", "dividend", "guidance", "estimates", "upgrade",
        "downgrade", "target", "chart", "rally", "dip", "breakout", "valuation", "revenue", "eps", "ipo", "ticker",
        "investors", "nyse", "nasdaq",
    ]
    public static let defaultBotPatterns = ["join our free discord", "link in bio", "free newsletter", "% win rate", "signals are live"]

    /// Whether posts about `symbol` need a keyword.
    public func needsKeyword(_ symbol: Symbol) -> Bool {
        keywordSymbols.contains(symbol) || keywordSymbols.contains(Symbol("*"))
    }

    /// Stable text for input hashes: a change of filters re-does replayed archives.
    public var fingerprint: String {
        [languages.sorted().joined(separator: ","), String(dropRetweets), String(maxCashtags),
         keywordSymbols.map(\.rawValue).sorted().joined(separator: ","), keywords.sorted().joined(separator: ","),
         botPatterns.joined(separator: "|"), String(duplicateTextWindowSeconds)].joined(separator: ";")
            + (aliases.isEmpty ? "" : ";" + aliases.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","))
    }
}
