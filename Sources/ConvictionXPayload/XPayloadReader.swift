import ConvictionCore
import Foundation

/// Reads the fields Conviction uses from one X API payload line, straight from the bytes: a v2
/// filtered-stream message or bare v2 post, or an X API v1.1 status (StockNet, twarc 1 exports, the
/// Internet Archive's stream grabs), told apart by their keys line by line.
///
/// A strict JSON reader (RFC 8259: every value is checked, unknown keys are skipped) that
/// materialises only the fields the normaliser needs, instead of building Codable containers for
/// every key: ingestion parses each post once, and this is most of its time. Errors name the field
/// the way the normaliser reports them (`field data.text: missing`).
///
/// The one reader of the X payload schema: ingestion, the local X API server and the X client's
/// search pages all read through it; `XPayloadWriter` is the one writer.
public struct XPayloadReader {
    public struct Failure: ConvictionError {
        public var errorCode: ErrorCode { .badInput }
        public let detail: String
        public var description: String { detail }
    }

    /// The fields of a stream message (or of a bare post object).
    public struct Fields: Sendable {
        public var id: String?
        public var text: String?
        public var createdAt: String?
        public var authorID: String?
        public var lang: String?
        public var likeCount = 0
        public var retweetCount = 0
        public var cashtags: [String] = []
        public var isRetweet = false
        public var ruleTags: [String] = []
        /// The users of `includes.users`, or v1.1's inline author (first).
        public var users: [User] = []
        public var sawData = false
        /// v1.1: `extended_tweet.full_text` / `full_text` and the extended entities win over the
        /// truncated `text` and its entities.
        public var fullText: String?
        public var extendedCashtags: [String]?
        /// v1.1 stream notices (`delete`, `limit`, ...): not posts.
        public var notice: String?
        /// True for an X API v1.1 status (numeric `id`, `id_str`, or an inline `user`).
        public var isV1 = false
        /// Where the post object lies in the line (`data`, or the whole line for a bare post), and
        /// `includes`, so they can be served again byte for byte.
        public var dataRange: Range<Int>?
        public var includesRange: Range<Int>?
    }

    /// A user object: its id, followers, and where it lies in the bytes read.
    public struct User: Sendable {
        public var id: String
        public var followers: Int
        public var range: Range<Int>
    }

    /// Top-level keys of the v1.1 stream's notices, which carry no post.
    public static let noticeKeys: Set<String> = ["delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect", "warning"]

    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    public static func parse(_ line: some ContiguousBytes) throws(Failure) -> Fields {
        try read(line) { p throws(Failure) in try p.message() }
    }

    /// Runs `body` over the bytes of `input`.
    private static func read<T>(_ input: some ContiguousBytes, _ body: (inout XPayloadReader) throws(Failure) -> T) throws(Failure) -> T {
        let result: Result<T, Failure> = input.withUnsafeBytes { raw in
            var parser = XPayloadReader(raw.bindMemory(to: UInt8.self))
            do throws(Failure) { return .success(try body(&parser)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    // MARK: - The message's shape

    private mutating func message() throws(Failure) -> Fields {
        var fields = Fields()
        var bare = Fields()
        skipWhitespace()
        let lineStart = i
        try object { key, p throws(Failure) in
            switch key {
            case "data":
                try p.expectObjectStart("data")
                let start = p.i
                try p.tweet(&fields, path: "data")
                fields.sawData = true
                fields.dataRange = start..<p.i
            case "includes":
                p.skipWhitespace()
                let start = p.i
                fields.users += try p.includedUsers()
                fields.includesRange = start..<p.i
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
        let lineEnd = i
        skipWhitespace()
        guard i == bytes.count else { throw Failure(detail: "not valid JSON") }
        guard !fields.sawData else { return fields.resolved() }
        bare.dataRange = lineStart..<lineEnd
        if bare.notice != nil, bare.id == nil { return bare }
        bare = bare.resolved()
        guard bare.id != nil, bare.text != nil, bare.createdAt != nil, bare.authorID != nil else { throw Failure(detail: "field data: missing") }
        bare.users += fields.users
        bare.includesRange = fields.includesRange
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
        case "id":
            if try peek() != UInt8(ascii: "\"") { fields.isV1 = true }
            let id = try identifier(prefix + "id"); if fields.id == nil { fields.id = id }
        case "id_str": fields.id = try string(prefix + "id_str"); fields.isV1 = true
        case "text": fields.text = try string(prefix + "text")
        case "full_text": fields.fullText = try string(prefix + "full_text")
        case "user":
            // v1.1: the author inline.
            if try null() { return }
            fields.isV1 = true
            let start = i
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
            fields.users.insert(User(id: userID, followers: followers, range: start..<i), at: 0)
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

    /// `includes`: its `users` objects (a stream message's, or a search page's); other members are skipped.
    private mutating func includedUsers() throws(Failure) -> [User] {
        var users: [User] = []
        try object { key, p throws(Failure) in
            guard key == "users" else { return try p.skipValue() }
            try p.array { p throws(Failure) in
                p.skipWhitespace()
                let start = p.i
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
                if let id { users.append(User(id: id, followers: followers, range: start..<p.i)) }
            }
        }
        return users
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


extension XPayloadReader.Fields {
    /// v1.1's extended text and entities in place of the truncated ones.
    public func resolved() -> Self {
        var copy = self
        if let fullText { copy.text = fullText }
        if let extendedCashtags { copy.cashtags = extendedCashtags }
        return copy
    }
}

extension XPayloadReader {
    /// One page of a search answer (`{"data":[...],"includes":{"users":[...]},"meta":{...}}`): where
    /// each post and each user object lies in the body, so they can be stored byte for byte.
    public struct SearchPage: Sendable {
        public var posts: [(range: Range<Int>, authorID: String?, id: String?)] = []
        public var users: [User] = []
        public var nextToken: String?
    }

    public static func searchPage(_ body: some ContiguousBytes) throws(Failure) -> SearchPage {
        try read(body) { p throws(Failure) in try p.searchPageBody() }
    }

    private mutating func searchPageBody() throws(Failure) -> SearchPage {
        var page = SearchPage()
        try object { key, p throws(Failure) in
            switch key {
            case "data":
                try p.array { p throws(Failure) in
                    try p.expectObjectStart("data")
                    let start = p.i
                    var fields = Fields()
                    try p.tweet(&fields, path: "data")
                    page.posts.append((start..<p.i, fields.authorID, fields.id))
                }
            case "includes":
                page.users = try p.includedUsers()
            case "meta":
                try p.object { key, p throws(Failure) in
                    if key == "next_token" { page.nextToken = try p.optionalString("meta.next_token") } else { try p.skipValue() }
                }
            default: try p.skipValue()
            }
        }
        skipWhitespace()
        guard i == bytes.count else { throw Failure(detail: "not valid JSON") }
        return page
    }
}
