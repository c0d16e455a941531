/// The X API v2 filtered-stream message, as far as Conviction reads it. Unknown fields are ignored
/// on decoding; the raw store keeps the payload verbatim, so nothing is lost by decoding less.
public struct XStreamMessage: Codable, Sendable, Hashable {
    public var data: XTweet
    public var includes: XIncludes?
    public var matchingRules: [XMatchingRule]?

    public init(data: XTweet, includes: XIncludes? = nil, matchingRules: [XMatchingRule]? = nil) {
        self.data = data; self.includes = includes; self.matchingRules = matchingRules
    }

    enum CodingKeys: String, CodingKey {
        case data, includes
        case matchingRules = "matching_rules"
    }
}

public struct XTweet: Codable, Sendable, Hashable {
    public var id: String
    public var text: String
    /// When the author posted it (`created_at`, RFC 3339 UTC).
    public var createdAt: String
    public var authorID: String
    public var lang: String?
    public var publicMetrics: XTweetMetrics?
    public var entities: XEntities?
    public var referencedTweets: [XReferencedTweet]?

    public init(id: String, text: String, createdAt: String, authorID: String, lang: String?,
                publicMetrics: XTweetMetrics?, entities: XEntities?, referencedTweets: [XReferencedTweet]?) {
        self.id = id; self.text = text; self.createdAt = createdAt; self.authorID = authorID; self.lang = lang
        self.publicMetrics = publicMetrics; self.entities = entities; self.referencedTweets = referencedTweets
    }

    enum CodingKeys: String, CodingKey {
        case id, text, lang, entities
        case createdAt = "created_at"
        case authorID = "author_id"
        case publicMetrics = "public_metrics"
        case referencedTweets = "referenced_tweets"
    }
}

public struct XTweetMetrics: Codable, Sendable, Hashable {
    public var retweetCount: Int
    public var replyCount: Int
    public var likeCount: Int
    public var quoteCount: Int

    public init(retweetCount: Int, replyCount: Int, likeCount: Int, quoteCount: Int) {
        self.retweetCount = retweetCount; self.replyCount = replyCount; self.likeCount = likeCount; self.quoteCount = quoteCount
    }

    enum CodingKeys: String, CodingKey {
        case retweetCount = "retweet_count", replyCount = "reply_count", likeCount = "like_count", quoteCount = "quote_count"
    }
}

public struct XEntities: Codable, Sendable, Hashable {
    public var cashtags: [XCashtag]?
    public init(cashtags: [XCashtag]?) { self.cashtags = cashtags }
}

/// A cashtag entity; `start`/`end` are code-point offsets into the text, `tag` has no `$`.
public struct XCashtag: Codable, Sendable, Hashable {
    public var start: Int
    public var end: Int
    public var tag: String
    public init(start: Int, end: Int, tag: String) { self.start = start; self.end = end; self.tag = tag }
}

public struct XReferencedTweet: Codable, Sendable, Hashable {
    public var type: String  // "retweeted", "quoted", "replied_to"
    public var id: String
    public init(type: String, id: String) { self.type = type; self.id = id }
}

public struct XIncludes: Codable, Sendable, Hashable {
    public var users: [XUser]?
    public init(users: [XUser]?) { self.users = users }
}

public struct XUser: Codable, Sendable, Hashable {
    public var id: String
    public var username: String
    public var publicMetrics: XUserMetrics?

    public init(id: String, username: String, publicMetrics: XUserMetrics?) {
        self.id = id; self.username = username; self.publicMetrics = publicMetrics
    }

    enum CodingKeys: String, CodingKey {
        case id, username
        case publicMetrics = "public_metrics"
    }
}

public struct XUserMetrics: Codable, Sendable, Hashable {
    public var followersCount: Int
    public var followingCount: Int
    public var tweetCount: Int

    public init(followersCount: Int, followingCount: Int, tweetCount: Int) {
        self.followersCount = followersCount; self.followingCount = followingCount; self.tweetCount = tweetCount
    }

    enum CodingKeys: String, CodingKey {
        case followersCount = "followers_count", followingCount = "following_count", tweetCount = "tweet_count"
    }
}

/// Which stream rule matched; Conviction tags each rule with its symbol.
public struct XMatchingRule: Codable, Sendable, Hashable {
    public var id: String
    public var tag: String?
    public init(id: String, tag: String?) { self.id = id; self.tag = tag }
}
