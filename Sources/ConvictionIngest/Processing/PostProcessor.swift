import ConvictionCore
import Foundation

/// Decides, post by post, what is kept: normalise, then de-duplicate and filter, in a fixed order
/// so that every source (stream, backfill, archive) gives the same answer for the same posts.
///
/// The order: normalise (`malformed`, `bad_value`, `no_symbol`), `duplicate_id` (any id seen
/// before, whatever became of it), `language`, `retweet`, `cashtag_spam`, `bot_pattern`,
/// `no_keyword` (keyword symbols without a keyword are dropped; none left rejects), and
/// `duplicate_text` (same author and text as an accepted post within the window).
public struct PostProcessor: Sendable {
    public enum Decision: Sendable {
        case accepted(Post, symbols: [Symbol])
        case rejected(reason: String, detail: String, id: UInt64?, createdAt: EpochMillis? = nil)
        /// A v1.1 stream notice (`delete`, `limit`, ...): not a post, counted but not quarantined.
        case skipped(notice: String)
    }

    public let normalizer: PostNormalizer
    public let filters: IngestFilters
    private let botPatterns: [[UInt8]]
    /// Ids decided on, with their `created_at` (for pruning).
    private(set) var seenIDs: [UInt64: EpochMillis] = [:]
    /// Author and text (FNV-1a, so it can be persisted) -> `created_at` of the last accepted post.
    private(set) var acceptedTexts: [UInt64: EpochMillis] = [:]

    public init(symbols: some Sequence<Symbol>, filters: IngestFilters) {
        normalizer = PostNormalizer(symbols: symbols, aliases: filters.aliases)
        self.filters = filters
        botPatterns = filters.botPatterns.map { Array($0.utf8).map(Self.asciiLower) }
    }

    /// Restores state after a restart: ids already stored or quarantined, and recent texts.
    public mutating func remember(id: UInt64, createdAt: EpochMillis) { seenIDs[id] = createdAt }
    public mutating func remember(textKey: UInt64, createdAt: EpochMillis) {
        acceptedTexts[textKey] = max(acceptedTexts[textKey] ?? .min, createdAt)
    }

    /// How far behind the newest post an id is remembered: recent search's 7 days and a day more.
    /// A duplicate from further back is not caught here but by scoring, which reads each post once
    /// per partition (a post's partition follows from its `created_at`, so copies share one).
    public static let idRetention = 8 * Timestamps.day

    /// Forgets what is too far behind `newest` (a `created_at`) to come back, so memory stays
    /// bounded however long the stream or the archive: ids after `idRetention`, texts a day after
    /// the duplicate-text window.
    public mutating func forget(behind newest: EpochMillis) {
        prune(idsBefore: newest - Self.idRetention, textsBefore: newest - Int64(filters.duplicateTextWindowSeconds) * 1000 - Timestamps.day)
    }

    mutating func prune(idsBefore idCutoff: EpochMillis, textsBefore textCutoff: EpochMillis) {
        seenIDs = seenIDs.filter { $0.value >= idCutoff }
        acceptedTexts = acceptedTexts.filter { $0.value >= textCutoff }
    }

    public mutating func process(_ line: Data, receivedAt: EpochMillis?) -> Decision {
        decide(screen(line, receivedAt: receivedAt))
    }

    /// A line normalised and put through the filters that need no memory of other posts. Screening
    /// changes nothing, so lines can be screened ahead, on other threads, and decided in order.
    public struct Screened: Sendable {
        enum Verdict: Sendable {
            case notPost(Decision)
            /// `rejection` is the first memoryless filter that failed, applied after the id check.
            case post(Post, symbols: [Symbol], rejection: (reason: String, detail: String)?, textKey: UInt64)
        }
        let verdict: Verdict
    }

    public func screen(_ line: Data, receivedAt: EpochMillis?) -> Screened {
        let post: Post, matched: [Symbol]
        do {
            (post, matched) = try normalizer.normalize(line, receivedAt: receivedAt)
        } catch {
            if error.isNotice { return Screened(verdict: .notPost(.skipped(notice: error.reason.replacingOccurrences(of: "notice_", with: "")))) }
            return Screened(verdict: .notPost(.rejected(reason: error.reason, detail: error.detail, id: nil, createdAt: nil)))
        }
        func rejected(_ reason: String, _ detail: String) -> Screened {
            Screened(verdict: .post(post, symbols: matched, rejection: (reason, detail), textKey: 0))
        }
        if !filters.languages.isEmpty, !filters.languages.contains(post.lang ?? "und") {
            return rejected("language", "lang \(post.lang ?? "und") is not one of \(filters.languages.sorted().joined(separator: ", "))")
        }
        if filters.dropRetweets, post.isRetweet { return rejected("retweet", "referenced_tweets has type retweeted") }
        if filters.maxCashtags > 0, post.cashtags.count > filters.maxCashtags {
            return rejected("cashtag_spam", "\(post.cashtags.count) cashtags, more than \(filters.maxCashtags)")
        }
        let lowered = Array(post.text.utf8).map(Self.asciiLower)
        if let pattern = botPatterns.firstIndex(where: { Self.contains(lowered, $0) }) {
            return rejected("bot_pattern", "text contains \(filters.botPatterns[pattern].debugDescription)")
        }
        var symbols = matched
        if symbols.contains(where: filters.needsKeyword) {
            let hasKeyword = Self.words(lowered).contains { filters.keywords.contains($0) }
            if !hasKeyword { symbols.removeAll(where: filters.needsKeyword) }
            if symbols.isEmpty { return rejected("no_keyword", "\(matched.map(\.cashtag).joined(separator: " ")) without a financial keyword") }
        }
        return Screened(verdict: .post(post, symbols: symbols, rejection: nil, textKey: Self.textKey(author: post.authorID, text: post.text)))
    }

    /// The decision for a screened line, in order: what needs memory of earlier posts (ids, texts).
    public mutating func decide(_ screened: Screened) -> Decision {
        let post: Post, symbols: [Symbol], rejection: (reason: String, detail: String)?, key: UInt64
        switch screened.verdict {
        case .notPost(let decision): return decision
        case .post(let p, let s, let r, let k): (post, symbols, rejection, key) = (p, s, r, k)
        }
        let id = UInt64(post.id) ?? 0
        guard seenIDs.updateValue(post.createdAt, forKey: id) == nil else {
            return .rejected(reason: "duplicate_id", detail: "post \(post.id) was already received", id: id, createdAt: post.createdAt)
        }
        if let rejection { return .rejected(reason: rejection.reason, detail: rejection.detail, id: id, createdAt: post.createdAt) }
        if let last = acceptedTexts[key], abs(post.createdAt - last) <= Int64(filters.duplicateTextWindowSeconds) * 1000 {
            return .rejected(reason: "duplicate_text", detail: "author \(post.authorID) posted the same text within \(filters.duplicateTextWindowSeconds) s", id: id, createdAt: post.createdAt)
        }
        acceptedTexts[key] = max(acceptedTexts[key] ?? post.createdAt, post.createdAt)
        return .accepted(post, symbols: symbols)
    }

    /// FNV-1a over author, a separator and text: stable across runs, unlike `Hasher`.
    public static func textKey(author: String, text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in author.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01b3
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    public static func asciiLower(_ byte: UInt8) -> UInt8 { (byte >= 65 && byte <= 90) ? byte + 32 : byte }

    /// Words of lower-cased bytes: runs of `a-z0-9`; every other byte separates.
    public static func words(_ bytes: [UInt8]) -> [String] {
        var words: [String] = []
        var start = -1
        for (i, b) in bytes.enumerated() {
            let isWordByte = (b >= 97 && b <= 122) || (b >= 48 && b <= 57)
            if isWordByte { if start < 0 { start = i } } else if start >= 0 {
                words.append(String(decoding: bytes[start..<i], as: UTF8.self)); start = -1
            }
        }
        if start >= 0 { words.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return words
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}
