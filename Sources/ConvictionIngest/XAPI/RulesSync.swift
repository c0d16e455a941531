import ConvictionXPayload
/// Makes the server's stream rules equal the wanted ones: list, diff by value and tag, validate
/// the additions with `dry_run`, then add and delete.
public struct RulesSync: Sendable {
    public struct Result: Sendable {
        public var current: [StreamRule]
        public var added: [StreamRule]
        public var deleted: [StreamRule]
    }

    let api: XAPIClient
    let wanted: [StreamRule]

    public init(api: XAPIClient, wanted: [StreamRule]) { self.api = api; self.wanted = wanted }

    /// With `dryRun`, X validates the additions and nothing changes.
    public func apply(dryRun: Bool) async throws -> Result {
        try StreamRuleSet.validate(wanted)
        let current = try await api.listRules()
        let (add, delete) = StreamRuleSet.diff(current: current, wanted: wanted)
        if !add.isEmpty { _ = try await api.addRules(add, dryRun: true) }
        if !dryRun {
            if !add.isEmpty { _ = try await api.addRules(add, dryRun: false) }
            if !delete.isEmpty { _ = try await api.deleteRules(ids: delete.compactMap(\.id), dryRun: false) }
        }
        return Result(current: current, added: add, deleted: delete)
    }
}
