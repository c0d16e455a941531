/// A post as the pipeline uses it, normalised from an X API v2 payload.
public struct Post: Sendable, Hashable, Codable {
    public var id: String
    public var text: String
    /// When the author posted it (X `created_at`).
    public var createdAt: EpochMillis
    /// When Conviction received it (stream arrival; for archives, see `PostNormalizer`).
    public var receivedAt: EpochMillis
    public var authorID: String
    public var authorFollowers: Int
    public var lang: String?
    /// Cashtags in the text, upper-cased, in order of appearance, without repeats.
    public var cashtags: [Symbol]
    public var isRetweet: Bool
    public var likeCount: Int
    public var retweetCount: Int

    public init(id: String, text: String, createdAt: EpochMillis, receivedAt: EpochMillis, authorID: String,
                authorFollowers: Int, lang: String?, cashtags: [Symbol], isRetweet: Bool, likeCount: Int, retweetCount: Int) {
        self.id = id; self.text = text; self.createdAt = createdAt; self.receivedAt = receivedAt
        self.authorID = authorID; self.authorFollowers = authorFollowers; self.lang = lang
        self.cashtags = cashtags; self.isRetweet = isRetweet; self.likeCount = likeCount; self.retweetCount = retweetCount
    }
}
