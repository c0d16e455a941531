import Foundation

/// A record that a stage could not use, kept with why and where it came from. Nothing is dropped
/// silently: `raw/quarantine/<stage>/` holds these as JSON lines.
public struct QuarantineRecord: Codable, Sendable, Equatable {
    public var stage: String
    /// The file or object the record came from.
    public var source: String
    /// 1-based line number in `source`.
    public var line: Int
    /// Short stable code: `malformed`, `bad_value`, `no_symbol`, `duplicate_id`, `truncated`, ...
    public var reason: String
    public var detail: String
    /// The original text, untouched.
    public var raw: String

    public init(stage: String, source: String, line: Int, reason: String, detail: String, raw: String) {
        self.stage = stage; self.source = source; self.line = line; self.reason = reason; self.detail = detail; self.raw = raw
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}
