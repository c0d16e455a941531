import ConvictionCore
import Foundation

/// Turns one X API v2 payload line into a `Post` and the symbols it is about, or says exactly
/// what is wrong with it.
public struct PostNormalizer: Sendable {
    /// Why a line was not accepted; `reason` is a short stable code, `detail` names the field.
    public struct Rejection: Error, Sendable, CustomStringConvertible {
        public let reason: String
        public let detail: String
        public var description: String { "\(reason): \(detail)" }
    }

    public let symbols: Set<Symbol>

    public init(symbols: some Sequence<Symbol>) { self.symbols = Set(symbols) }

    /// Accepts a filtered-stream message (`{"data": {...}, "includes": ..., "matching_rules": ...}`)
    /// or a bare post object, as archives often hold. `receivedAt` nil means the line carries no
    /// arrival time (an archive): the post's `created_at` stands in for it.
    public func normalize(_ line: Data, receivedAt: EpochMillis?) throws(Rejection) -> (post: Post, symbols: [Symbol]) {
        let message: XStreamMessage
        do {
            message = try Self.decoder.decode(XStreamMessage.self, from: line)
        } catch {
            if let tweet = try? Self.decoder.decode(XTweet.self, from: line) {
                message = XStreamMessage(data: tweet)
            } else {
                throw Rejection(reason: "malformed", detail: Self.describe(error))
            }
        }
        let tweet = message.data
        guard !tweet.id.isEmpty, tweet.id.allSatisfy(\.isASCIIDigit) else {
            throw Rejection(reason: "bad_value", detail: "field data.id: expected a numeric string, got \(tweet.id.debugDescription)")
        }
        guard let createdAt = Timestamps.parseISO8601(tweet.createdAt) else {
            throw Rejection(reason: "bad_value", detail: "field data.created_at: not an RFC 3339 time: \(tweet.createdAt.debugDescription)")
        }
        let cashtags = Self.uniqued((tweet.entities?.cashtags ?? []).map { Symbol($0.tag) })
        let tagged = (message.matchingRules ?? []).compactMap { $0.tag.map(Symbol.init) }
        let matched = Self.uniqued(tagged + cashtags).filter { symbols.contains($0) }
        guard !matched.isEmpty else {
            throw Rejection(reason: "no_symbol", detail: "no configured symbol in matching_rules tags or entities.cashtags")
        }
        let author = message.includes?.users?.first { $0.id == tweet.authorID }
        let post = Post(
            id: tweet.id, text: tweet.text, createdAt: createdAt, receivedAt: receivedAt ?? createdAt,
            authorID: tweet.authorID, authorFollowers: author?.publicMetrics?.followersCount ?? 0, lang: tweet.lang,
            cashtags: cashtags, isRetweet: tweet.referencedTweets?.contains { $0.type == "retweeted" } ?? false,
            likeCount: tweet.publicMetrics?.likeCount ?? 0, retweetCount: tweet.publicMetrics?.retweetCount ?? 0)
        return (post, matched)
    }

    private static let decoder = JSONDecoder()

    private static func uniqued(_ symbols: [Symbol]) -> [Symbol] {
        var seen: Set<Symbol> = []
        return symbols.filter { seen.insert($0).inserted }
    }

    /// A decoding error as "field a.b: what" rather than Foundation's long dump.
    static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "not valid JSON" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch decoding {
        case .keyNotFound(let key, let context):
            let p = path(context)
            return "field \(p.isEmpty ? "" : p + ".")\(key.stringValue): missing"
        case .typeMismatch(let type, let context): return "field \(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "field \(path(context)): expected \(type), got null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "field \(path(context)): \(context.debugDescription)"
        @unknown default: return "not valid JSON"
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
