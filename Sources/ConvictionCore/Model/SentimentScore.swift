/// The sentiment of one post about one symbol.
public struct SentimentScore: Sendable, Hashable, Codable {
    public enum Label: String, Sendable, Codable, CaseIterable {
        case negative, neutral, positive
    }

    public var postID: String
    public var symbol: Symbol
    /// The post's `created_at`.
    public var createdAt: EpochMillis
    /// When the post was received.
    public var receivedAt: EpochMillis
    public var authorFollowers: Int
    /// Likes plus reposts when the post was captured.
    public var engagement: Int
    public var positive: Double
    public var negative: Double
    public var neutral: Double
    public var label: Label
    /// Probability of `label`.
    public var confidence: Double
    /// Which scorer produced it, e.g. `finance-tweet-minilm-int8` or `lexicon-v1`.
    public var scorer: String
    /// The exact weights: a SHA-256 prefix of the model file, `builtin` for the lexicon.
    public var modelHash: String

    /// P(positive) - P(negative), the quantity the `sent_*` features average.
    public var polarity: Double { positive - negative }

    public init(postID: String, symbol: Symbol, createdAt: EpochMillis, receivedAt: EpochMillis, authorFollowers: Int, engagement: Int = 0,
                positive: Double, negative: Double, neutral: Double, scorer: String, modelHash: String = "builtin") {
        self.postID = postID; self.symbol = symbol; self.createdAt = createdAt; self.receivedAt = receivedAt
        self.authorFollowers = authorFollowers; self.engagement = engagement
        self.positive = positive; self.negative = negative; self.neutral = neutral; self.scorer = scorer
        self.modelHash = modelHash
        let best = [(Label.negative, negative), (.neutral, neutral), (.positive, positive)].max { $0.1 < $1.1 }!
        self.label = best.0
        self.confidence = best.1
    }
}
