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

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0

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

    // MARK: - JSON

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func peek() throws(Failure) -> UInt8 {
        skipWhitespace()
        guard i < bytes.count else { throw Failure(detail: "not valid JSON") }
        return bytes[i]
    }

    private mutating func expectObjectStart(_ path: String) throws(Failure) {
        guard try peek() == UInt8(ascii: "{") else { throw Failure(detail: "field \(path): expected an object") }
    }

    /// Iterates an object's members; `body` must consume the value.
    private mutating func object(_ body: (String, inout PostLineParser) throws(Failure) -> Void) throws(Failure) {
        guard try peek() == UInt8(ascii: "{") else { throw Failure(detail: "not valid JSON") }
        i += 1
        if try peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw Failure(detail: "not valid JSON") }
            let key = try rawString()
            guard try peek() == UInt8(ascii: ":") else { throw Failure(detail: "not valid JSON") }
            i += 1
            try body(key, &self)
            let next = try peek()
            i += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw Failure(detail: "not valid JSON") }
        }
    }

    private mutating func array(_ body: (inout PostLineParser) throws(Failure) -> Void) throws(Failure) {
        guard try peek() == UInt8(ascii: "[") else { throw Failure(detail: "not valid JSON") }
        i += 1
        if try peek() == UInt8(ascii: "]") { i += 1; return }
        while true {
            try body(&self)
            let next = try peek()
            i += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw Failure(detail: "not valid JSON") }
        }
    }

    private mutating func null() throws(Failure) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func string(_ path: String) throws(Failure) -> String {
        let c = try peek()
        guard c == UInt8(ascii: "\"") else {
            if c == UInt8(ascii: "n") { try literal("null"); throw Failure(detail: "field \(path): expected String, got null") }
            try skipValue()
            throw Failure(detail: "field \(path): expected String")
        }
        return try rawString()
    }

    private mutating func optionalString(_ path: String) throws(Failure) -> String? {
        if try null() { return nil }
        return try string(path)
    }

    private mutating func integer(_ path: String) throws(Failure) -> Int {
        let start = i
        guard try peek() != UInt8(ascii: "\"") else { throw Failure(detail: "field \(path): expected Int") }
        try skipValue()
        var value = 0
        var negative = false
        var j = start
        while j < i, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
        if j < i, bytes[j] == UInt8(ascii: "-") { negative = true; j += 1 }
        guard j < i else { throw Failure(detail: "field \(path): expected Int") }
        while j < i {
            let b = bytes[j]
            guard b >= 48 && b <= 57 else { throw Failure(detail: "field \(path): expected Int") }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - 48))
            guard !o1 && !o2 else { throw Failure(detail: "field \(path): expected Int") }
            value = a
            j += 1
        }
        return negative ? -value : value
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw Failure(detail: "not valid JSON") }
        let w = word.utf8Start
        for k in 0..<n where bytes[i + k] != w[k] { throw Failure(detail: "not valid JSON") }
        i += n
    }

    /// A string at `i` (which is at its opening quote), unescaped.
    private mutating func rawString() throws(Failure) -> String {
        i += 1
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { return try escapedString(from: start) }
            if b < 0x20 { throw Failure(detail: "not valid JSON") }
            i += 1
        }
        throw Failure(detail: "not valid JSON")
    }

    private mutating func escapedString(from start: Int) throws(Failure) -> String {
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if b < 0x20 { throw Failure(detail: "not valid JSON") }
            guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
            guard i + 1 < bytes.count else { throw Failure(detail: "not valid JSON") }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { throw Failure(detail: "not valid JSON") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure(detail: "not valid JSON") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw Failure(detail: "not valid JSON")
                }
                guard let u = Unicode.Scalar(scalar) else { throw Failure(detail: "not valid JSON") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw Failure(detail: "not valid JSON")
            }
        }
        throw Failure(detail: "not valid JSON")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= bytes.count else { throw Failure(detail: "not valid JSON") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case 48...57: d = b - 48
            case 65...70: d = b - 55
            case 97...102: d = b - 87
            default: throw Failure(detail: "not valid JSON")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// Checks and skips any value.
    private mutating func skipValue() throws(Failure) {
        switch try peek() {
        case UInt8(ascii: "{"): try object { _, p throws(Failure) in try p.skipValue() }
        case UInt8(ascii: "["): try array { p throws(Failure) in try p.skipValue() }
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    private mutating func skipString() throws(Failure) {
        i += 1
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; return }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { break }
                if bytes[i + 1] == UInt8(ascii: "u") { i += 2; _ = try hex4(); continue }
                guard [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                       UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t")].contains(bytes[i + 1]) else { break }
                i += 2
                continue
            }
            if b < 0x20 { break }
            i += 1
        }
        throw Failure(detail: "not valid JSON")
    }

    /// RFC 8259 number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    private mutating func number() throws(Failure) {
        func digits(_ p: inout PostLineParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, p.bytes[p.i] >= 48, p.bytes[p.i] <= 57 { p.i += 1 }
            return p.i - s
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count else { throw Failure(detail: "not valid JSON") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else if digits(&self) == 0 { throw Failure(detail: "not valid JSON") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") { i += 1; guard digits(&self) > 0 else { throw Failure(detail: "not valid JSON") } }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw Failure(detail: "not valid JSON") }
        }
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
