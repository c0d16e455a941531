import ConvictionCore
import ConvictionIngest
import Foundation

/// The posts the local X API server publishes, in id order, each parsed once for rule matching and
/// pre-encoded for the stream and for search answers.
struct EmulatorFeed: Sendable {
    struct Entry: Sendable {
        let id: UInt64
        let subject: RuleQuery.Subject
        /// `"data":{...}` value bytes.
        let data: [UInt8]
        /// `"includes":{...}` value bytes, empty when the post has no expansions.
        let includes: [UInt8]
        /// The author's user object bytes, for search answers' `includes.users`.
        let author: [UInt8]?

        /// The stream line for this post, with `matching_rules` for the rules it matched.
        func streamLine(matching rules: [(id: String, tag: String?)]) -> [UInt8] {
            var line = Array("{\"data\":".utf8) + data
            if !includes.isEmpty { line += Array(",\"includes\":".utf8) + includes }
            let matched = rules.map { r in "{\"id\":\"\(r.id)\"" + (r.tag.map { ",\"tag\":\"\($0)\"" } ?? "") + "}" }
            line += Array(",\"matching_rules\":[\(matched.joined(separator: ","))]}".utf8)
            return line
        }
    }

    let entries: [Entry]

    struct LoadError: Error, CustomStringConvertible { let description: String }

    /// Reads stream messages (or bare posts), one per line, as the simulator writes them.
    init(lines: [Data]) throws {
        var entries: [Entry] = []
        entries.reserveCapacity(lines.count)
        for (n, line) in lines.enumerated() where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else {
                throw LoadError(description: "feed line \(n + 1): not a JSON object")
            }
            let data = object["data"] as? [String: Any] ?? object
            guard let idText = data["id"] as? String, let id = UInt64(idText), let text = data["text"] as? String else {
                throw LoadError(description: "feed line \(n + 1): data.id or data.text missing")
            }
            let cashtags = ((data["entities"] as? [String: Any])?["cashtags"] as? [[String: Any]] ?? []).compactMap { ($0["tag"] as? String)?.uppercased() }
            let retweet = (data["referenced_tweets"] as? [[String: Any]] ?? []).contains { $0["type"] as? String == "retweeted" }
            let lowered = Array(text.utf8).map(PostProcessor.asciiLower)
            let subject = RuleQuery.Subject(cashtags: Set(cashtags), words: Set(PostProcessor.words(lowered)),
                                            loweredText: String(decoding: lowered, as: UTF8.self), lang: data["lang"] as? String, isRetweet: retweet)
            let includes = object["includes"] as? [String: Any]
            let authorID = data["author_id"] as? String
            let author = (includes?["users"] as? [[String: Any]])?.first { $0["id"] as? String == authorID }
            entries.append(Entry(
                id: id, subject: subject,
                data: Array(try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes])),
                includes: includes.map { Array((try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()) } ?? [],
                author: try author.map { Array(try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .withoutEscapingSlashes])) }))
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
