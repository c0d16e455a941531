import Foundation

/// The one writer of the X payload schema. Posts that came from X (or from a feed file) are written
/// again from their verbatim bytes, never re-encoded, so the raw store keeps what X sent; only the
/// simulator encodes new messages, always the same way (sorted keys, slashes unescaped), so the
/// same seed gives the same bytes.
public enum XPayloadWriter {
    /// A new stream message (the simulator's).
    public static func encode(_ message: XStreamMessage) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(message)
    }

    /// `{"data":<post>,"includes":<includes>,"matching_rules":[...]}` from verbatim pieces;
    /// `includes` and `matchingRules` are left out when nil.
    public static func streamMessage(data: some Collection<UInt8>, includes: [UInt8]?, matchingRules: [(id: String, tag: String?)]?) -> [UInt8] {
        var out = Array("{\"data\":".utf8) + data
        if let includes { out += Array(",\"includes\":".utf8) + includes }
        if let matchingRules {
            let rules = matchingRules.map { "{\"id\":\(quoted($0.id))" + ($0.tag.map { ",\"tag\":\(quoted($0))" } ?? "") + "}" }
            out += Array(",\"matching_rules\":[\(rules.joined(separator: ","))]".utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"users":[...]}` from verbatim user objects.
    public static func includes(users: [[UInt8]]) -> [UInt8] {
        Array("{\"users\":[".utf8) + Array(users.joined(separator: [UInt8(ascii: ",")])) + Array("]}".utf8)
    }

    /// A search answer: `data` and `includes.users` from verbatim objects, and `meta`.
    public static func searchPage(posts: [[UInt8]], users: [[UInt8]], newestID: String?, oldestID: String?, nextToken: String?) -> [UInt8] {
        var out = Array("{".utf8)
        if !posts.isEmpty {
            out += Array("\"data\":[".utf8) + Array(posts.joined(separator: [UInt8(ascii: ",")])) + Array("],".utf8)
            out += Array("\"includes\":".utf8) + includes(users: users) + [UInt8(ascii: ",")]
        }
        var meta = ["\"result_count\":\(posts.count)"]
        if let newestID { meta.append("\"newest_id\":\(quoted(newestID))") }
        if let oldestID { meta.append("\"oldest_id\":\(quoted(oldestID))") }
        if let nextToken { meta.append("\"next_token\":\(quoted(nextToken))") }
        out += Array("\"meta\":{\(meta.joined(separator: ","))}}".utf8)
        return out
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
