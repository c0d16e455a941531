import ConvictionCore
import ConvictionXPayload
import Foundation

/// The posts the local X API server publishes, in id order, each parsed once for rule matching and
/// pre-encoded for the stream and for search answers.
struct EmulatorFeed: Sendable {
    struct Entry: Sendable {
        let id: UInt64
        /// `created_at`: search and counts select by it.
        let createdAt: EpochMillis
        let subject: RuleQuery.Subject
        /// The post object's bytes, as the feed line has them.
        let data: [UInt8]
        /// The `includes` object's bytes; nil when the post has no expansions.
        let includes: [UInt8]?
        /// The author's user object bytes, for search answers' `includes.users`.
        let author: [UInt8]?

        /// The stream line for this post, with `matching_rules` for the rules it matched.
        func streamLine(matching rules: [(id: String, tag: String?)]) -> [UInt8] {
            XPayloadWriter.streamMessage(data: data, includes: includes, matchingRules: rules)
        }
    }

    let entries: [Entry]

    struct LoadError: ConvictionError {
        let description: String
        var errorCode: ErrorCode { .badInput }
    }

    /// Reads X API v2 stream messages (or bare posts), one per line, as the simulator writes them.
    init(lines: [Data]) throws {
        var entries: [Entry] = []
        entries.reserveCapacity(lines.count)
        for (n, line) in lines.enumerated() where !line.isEmpty {
            let fields: XPayloadReader.Fields
            do { fields = try XPayloadReader.parse(line) } catch { throw LoadError(description: "feed line \(n + 1): \(error.detail)") }
            guard !fields.isV1 else { throw LoadError(description: "feed line \(n + 1): an X API v1.1 status; the local X API server serves v2 posts") }
            guard let idText = fields.id, let id = UInt64(idText), let text = fields.text, let dataRange = fields.dataRange else {
                throw LoadError(description: "feed line \(n + 1): data.id or data.text missing")
            }
            guard let createdAt = fields.createdAt.flatMap(Timestamps.parseISO8601) else {
                throw LoadError(description: "feed line \(n + 1): data.created_at missing or not RFC 3339")
            }
            let bytes = [UInt8](line)
            let author = fields.users.first { $0.id == fields.authorID }.map { Array(bytes[$0.range]) }
            entries.append(Entry(
                id: id, createdAt: createdAt,
                subject: RuleQuery.Subject(text: text, cashtags: fields.cashtags, lang: fields.lang, isRetweet: fields.isRetweet),
                data: Array(bytes[dataRange]), includes: fields.includesRange.map { Array(bytes[$0]) }, author: author))
        }
        self.entries = entries.sorted { $0.id < $1.id }
    }

    /// The index of the first entry (among the first `limit`) whose id is above `id`.
    func firstIndex(after id: UInt64, below limit: Int) -> Int { firstIndex(below: limit) { $0 > id } }

    /// The index of the first entry (among the first `limit`) whose id is at least `id`.
    func firstIndex(atOrAbove id: UInt64, below limit: Int) -> Int { firstIndex(below: limit) { $0 >= id } }

    private func firstIndex(below limit: Int, where isPast: (UInt64) -> Bool) -> Int {
        var low = 0, high = min(limit, entries.count)
        while low < high {
            let mid = (low + high) / 2
            if isPast(entries[mid].id) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
