import ConvictionCore
import Foundation

/// Reads the fields Conviction uses from one X API payload line, straight from the bytes: a v2
/// filtered-stream message or bare v2 post, or an X API v1.1 status (StockNet, twarc 1 exports, the
/// Internet Archive's stream grabs), told apart by their keys line by line.
///
/// A strict JSON reader (RFC 8259: every value is checked, unknown keys are skipped) that
/// materialises only the fields the normaliser needs, instead of building Codable containers for
/// every key: ingestion parses each post once, and this is most of its time. Errors name the field
/// the way `PostNormalizer` reports them (`field data.text: missing`).
struct PostLineParser {
    struct Failure: Error { let detail: String }

    /// The fields of a stream message (or of a bare post object).
    struct Fields {
        var id: String?
        var text: String?
        var createdAt: String?
        var authorID: String?
        var lang: String?
        var likeCount = 0
        var retweetCount = 0
        var cashtags: [String] = []
        var isRetweet = false
        var ruleTags: [String] = []
        /// (user id, followers) from `includes.users`.
        var users: [(String, Int)] = []
        var sawData = false
        /// v1.1: `extended_tweet.full_text` / `full_text` and the extended entities win over the
        /// truncated `text` and its entities.
        var fullText: String?
        var extendedCashtags: [String]?
        /// v1.1 stream notices (`delete`, `limit`, ...): not posts.
        var notice: String?
    }

    /// Top-level keys of the v1.1 stream's notices, which carry no post.
    static let noticeKeys: Set<String> = ["delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect", "warning"]

    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func parse(_ line: some ContiguousBytes) throws(Failure) -> Fields {
        let result: Result<Fields, Failure> = line.withUnsafeBytes { raw in
            var parser = PostLineParser(raw.bindMemory(to: UInt8.self))
            do throws(Failure) { return .success(try parser.message()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    // MARK: - The message's shape

    private mutating func message() throws(Failure) -> Fields {
        var fields = Fields()
        var bare = Fields()
        try object { key, p throws(Failure) in
            switch key {
            case "data":
                try p.expectObjectStart("data")
                try p.tweet(&fields, path: "data")
                fields.sawData = true
            case "includes":
                try p.object { key, p throws(Failure) in
                    guard key == "users" else { return try p.skipValue() }
                    try p.array { p throws(Failure) in
                        var id: String?, followers = 0
                        try p.object { key, p throws(Failure) in
                            switch key {
                            case "id": id = try p.string("includes.users.id")
                            case "public_metrics":
                                try p.object { key, p throws(Failure) in
                                    if key == "followers_count" { followers = try p.integer("includes.users.public_metrics.followers_count") } else { try p.skipValue() }
                                }
                            default: try p.skipValue()
                            }
                        }
                        if let id { fields.users.append((id, followers)) }
                    }
                }
            case "matching_rules":
                try p.array { p throws(Failure) in
                    try p.object { key, p throws(Failure) in
                        if key == "tag" { if let tag = try p.optionalString("matching_rules.tag") { fields.ruleTags.append(tag) } } else { try p.skipValue() }
                    }
                }
            case _ where Self.noticeKeys.contains(key):
                bare.notice = key
                try p.skipValue()
            default:
                // A bare post object keeps its fields at the top level.
                try p.tweetField(key, &bare, path: "")
            }
        }
        skipWhitespace()
        guard i == bytes.count else { throw Failure(detail: "not valid JSON") }
        guard !fields.sawData else { return fields.resolved() }
        if bare.notice != nil, bare.id == nil { return bare }
        bare = bare.resolved()
        guard bare.id != nil, bare.text != nil, bare.createdAt != nil, bare.authorID != nil else { throw Failure(detail: "field data: missing") }
        bare.users += fields.users
        bare.ruleTags = fields.ruleTags
        return bare
    }

    private mutating func tweet(_ fields: inout Fields, path: String) throws(Failure) {
        try object { key, p throws(Failure) in try p.tweetField(key, &fields, path: path) }
    }

    private mutating func tweetField(_ key: String, _ fields: inout Fields, path: String) throws(Failure) {
        let prefix = path.isEmpty ? "" : path + "."
        switch key {
        // v2 sends ids as strings; v1.1 as a number with `id_str` beside it (the digits are read as
        // written, so ids beyond 2^53 stay exact).
        case "id": let id = try identifier(prefix + "id"); if fields.id == nil { fields.id = id }
        case "id_str": fields.id = try string(prefix + "id_str")
        case "text": fields.text = try string(prefix + "text")
        case "full_text": fields.fullText = try string(prefix + "full_text")
        case "user":
            // v1.1: the author inline.
            if try null() { return }
            var userID: String?, followers = 0
            try object { key, p throws(Failure) in
                switch key {
                case "id_str": userID = try p.string(prefix + "user.id_str")
                case "id": let id = try p.identifier(prefix + "user.id"); if userID == nil { userID = id }
                case "followers_count": followers = try p.integer(prefix + "user.followers_count")
                default: try p.skipValue()
                }
            }
            guard let userID else { throw Failure(detail: "field \(prefix)user.id_str: missing") }
            fields.authorID = userID
            fields.users.insert((userID, followers), at: 0)
        case "favorite_count": if try !null() { fields.likeCount = try integer(prefix + "favorite_count") }
        case "retweet_count": if try !null() { fields.retweetCount = try integer(prefix + "retweet_count") }
        case "retweeted_status":
            if try null() { return }
            fields.isRetweet = true
            try skipValue()
        case "extended_tweet":
            if try null() { return }
            try object { key, p throws(Failure) in
                switch key {
                case "full_text": fields.fullText = try p.string(prefix + "extended_tweet.full_text")
                case "entities":
                    var extended = Fields()
                    try p.entities(&extended, path: prefix + "extended_tweet.entities")
                    fields.extendedCashtags = extended.cashtags
                default: try p.skipValue()
                }
            }
        case "created_at": fields.createdAt = try string(prefix + "created_at")
        case "author_id": fields.authorID = try string(prefix + "author_id")
        case "lang": fields.lang = try optionalString(prefix + "lang")
        case "public_metrics":
            if try null() { return }
            try object { key, p throws(Failure) in
                switch key {
                case "like_count": fields.likeCount = try p.integer(prefix + "public_metrics.like_count")
                case "retweet_count": fields.retweetCount = try p.integer(prefix + "public_metrics.retweet_count")
                default: try p.skipValue()
                }
            }
        case "entities": try entities(&fields, path: prefix + "entities")
        case "referenced_tweets":
            if try null() { return }
            try array { p throws(Failure) in
                try p.object { key, p throws(Failure) in
                    if key == "type" { if try p.string(prefix + "referenced_tweets.type") == "retweeted" { fields.isRetweet = true } } else { try p.skipValue() }
                }
            }
        default: try skipValue()
        }
    }

    /// `entities`: v2 `cashtags[].tag` or v1.1 `symbols[].text`.
    private mutating func entities(_ fields: inout Fields, path: String) throws(Failure) {
        if try null() { return }
        try object { key, p throws(Failure) in
            let field: String
            switch key {
            case "cashtags": field = "tag"
            case "symbols": field = "text"
            default: return try p.skipValue()
            }
            if try p.null() { return }
            try p.array { p throws(Failure) in
                var tag: String?
                try p.object { key, p throws(Failure) in if key == field { tag = try p.string("\(path).\(key).\(field)") } else { try p.skipValue() } }
                guard let tag else { throw Failure(detail: "field \(path).\(key).\(field): missing") }
                fields.cashtags.append(tag)
            }
        }
    }

    /// An id written as a string (v2) or as a non-negative integer (v1.1), as its digits.
    private mutating func identifier(_ path: String) throws(Failure) -> String {
        let c = try peek()
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "n") { return try string(path) }
        let start = i
        guard c >= 48 && c <= 57 else { try skipValue(); throw Failure(detail: "field \(path): expected String or Int") }
        try number()
        let digits = UnsafeBufferPointer(rebasing: bytes[start..<i])
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { throw Failure(detail: "field \(path): expected an integer id") }
        return String(decoding: digits, as: UTF8.self)
    }
}


extension PostLineParser.Fields {
    /// v1.1's extended text and entities in place of the truncated ones.
    func resolved() -> Self {
        var copy = self
        if let fullText { copy.text = fullText }
        if let extendedCashtags { copy.cashtags = extendedCashtags }
        return copy
    }
}
