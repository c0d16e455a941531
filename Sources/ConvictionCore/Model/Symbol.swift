/// A ticker, upper-case, without the `$` of its cashtag.
public struct Symbol: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue.uppercased() }

    public var description: String { rawValue }
    public var cashtag: String { "$" + rawValue }

    public static func < (lhs: Symbol, rhs: Symbol) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The mission's universe: the stream is filtered for these cashtags.
    public static let universe: [Symbol] = ["AAPL", "AMZN", "GOOGL", "TSLA", "META", "MSFT", "NVDA", "JPM", "JNJ", "V", "MA"]
        .map(Symbol.init)
}
