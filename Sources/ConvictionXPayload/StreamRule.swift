/// A filtered-stream rule: X matches `value` and reports `tag` in `matching_rules`.
public struct StreamRule: Codable, Sendable, Hashable {
    public var id: String?
    public var value: String
    public var tag: String?

    public init(id: String? = nil, value: String, tag: String?) { self.id = id; self.value = value; self.tag = tag }
}

/// X's limits for the pay-per-use tier (see docs/ingestion.md): the client checks them before
/// anything is sent, and the local X API server enforces them as X does.
public enum XAPILimits {
    public static let maxRuleLength = 1024
    public static let maxRules = 1000
    /// Recent search's query limit, for the backfill queries.
    public static let maxQueryLength = 512
}
