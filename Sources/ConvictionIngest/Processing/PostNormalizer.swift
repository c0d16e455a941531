import ConvictionCore
import ConvictionXPayload
import Foundation

/// Turns one X API payload line (v2, or a v1.1 status) into a `Post` and the symbols it is about,
/// or says exactly what is wrong with it. The same post as v1.1 and as v2 gives the same `Post`.
public struct PostNormalizer: Sendable {
    /// Why a line was not accepted; `reason` is a short stable code, `detail` names the field.
    public struct Rejection: ConvictionError {
        public var errorCode: ErrorCode { .badInput }
        public let reason: String
        public let detail: String
        /// A v1.1 stream notice (`delete`, `limit`, ...): no post, nothing wrong; skipped and counted.
        public var isNotice = false
        public var description: String { "\(reason): \(detail)" }
    }

    public let symbols: Set<Symbol>
    /// Former or alternative tickers -> the configured symbol (FB -> META): applied to cashtags and
    /// rule tags before matching.
    public let aliases: [Symbol: Symbol]

    public init(symbols: some Sequence<Symbol>, aliases: [Symbol: Symbol] = [:]) {
        self.symbols = Set(symbols)
        self.aliases = aliases
    }

    /// Accepts a filtered-stream message (`{"data": {...}, "includes": ..., "matching_rules": ...}`)
    /// or a bare post object, as archives often hold. `receivedAt` nil means the line carries no
    /// arrival time (an archive): the post's `created_at` stands in for it.
    public func normalize(_ line: Data, receivedAt: EpochMillis?) throws(Rejection) -> (post: Post, symbols: [Symbol]) {
        let fields: XPayloadReader.Fields
        do { fields = try XPayloadReader.parse(line) } catch { throw Rejection(reason: "malformed", detail: error.detail) }
        if let notice = fields.notice, fields.id == nil {
            throw Rejection(reason: "notice_" + notice, detail: "a v1.1 \(notice) notice, not a post", isNotice: true)
        }
        // Required in the order X documents them (and Codable would check them).
        guard let id = fields.id else { throw Rejection(reason: "malformed", detail: "field data.id: missing") }
        guard let text = fields.text else { throw Rejection(reason: "malformed", detail: "field data.text: missing") }
        guard let createdAtText = fields.createdAt else { throw Rejection(reason: "malformed", detail: "field data.created_at: missing") }
        guard let authorID = fields.authorID else { throw Rejection(reason: "malformed", detail: "field data.author_id: missing") }
        guard !id.isEmpty, id.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw Rejection(reason: "bad_value", detail: "field data.id: expected a numeric string, got \(id.debugDescription)")
        }
        guard let createdAt = Timestamps.parseISO8601(createdAtText) ?? Timestamps.parseV1(createdAtText) else {
            throw Rejection(reason: "bad_value", detail: "field data.created_at: neither an RFC 3339 time nor a v1.1 time (Tue Jun 02 10:29:27 +0000 2015): \(createdAtText.debugDescription)")
        }
        let cashtags = Self.uniqued(fields.cashtags.map { canonical(Symbol($0)) })
        let tagged = fields.ruleTags.map { canonical(Symbol($0)) }
        let matched = Self.uniqued(tagged + cashtags).filter { symbols.contains($0) }
        guard !matched.isEmpty else {
            throw Rejection(reason: "no_symbol", detail: "no configured symbol in matching_rules tags or entities.cashtags")
        }
        let followers = fields.users.first { $0.id == authorID }?.followers ?? 0
        let post = Post(
            id: id, text: text, createdAt: createdAt, receivedAt: receivedAt ?? createdAt,
            authorID: authorID, authorFollowers: followers, lang: fields.lang,
            cashtags: cashtags, isRetweet: fields.isRetweet, likeCount: fields.likeCount, retweetCount: fields.retweetCount)
        return (post, matched)
    }

    func canonical(_ symbol: Symbol) -> Symbol { aliases[symbol] ?? symbol }

    private static func uniqued(_ symbols: [Symbol]) -> [Symbol] {
        var seen: Set<Symbol> = []
        return symbols.filter { seen.insert($0).inserted }
    }
}
