/// P(negative), P(neutral), P(positive) for one text.
public struct SentimentProbabilities: Sendable, Equatable {
    public let negative: Double
    public let neutral: Double
    public let positive: Double

    public init(negative: Double, neutral: Double, positive: Double) {
        self.negative = negative; self.neutral = neutral; self.positive = positive
    }

    /// What an empty text gets: no evidence either way.
    public static let certainNeutral = SentimentProbabilities(negative: 0, neutral: 1, positive: 0)
}

/// Something unusual about a text that was scored anyway; counted and reported, never fatal.
public enum TextIssue: String, Sendable, CaseIterable {
    case empty
    case whitespaceOnly = "whitespace-only"
    /// Longer than the model's input: the tail was cut.
    case truncated
    /// Bytes that were not UTF-8, replaced by U+FFFD before scoring.
    case invalidUTF8 = "invalid-utf8"

    static func of(_ text: String) -> TextIssue? {
        if text.isEmpty { return .empty }
        if text.unicodeScalars.allSatisfy(\.properties.isWhitespace) { return .whitespaceOnly }
        return nil
    }
}

public struct ScoredText: Sendable, Equatable {
    public let probabilities: SentimentProbabilities
    public let issue: TextIssue?

    public init(probabilities: SentimentProbabilities, issue: TextIssue?) {
        self.probabilities = probabilities; self.issue = issue
    }
}

/// A sentiment classifier that scores texts in batches, in input order.
public protocol SentimentScorer: Sendable {
    /// Written to every score row, e.g. `finance-tweet-minilm-int8` or `lexicon-v1`.
    var name: String { get }
    /// Identifies the exact weights (a SHA-256 prefix of the model file); `builtin` for code.
    var modelHash: String { get }
    func score(_ texts: [String]) throws -> [ScoredText]
}
