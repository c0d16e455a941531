import ConvictionCore
import ConvictionXPayload

/// Derives Conviction's rules from the configuration: one rule per symbol, tagged with the symbol,
/// so `matching_rules` names it. Ambiguous cashtags ($V, $MA) also require a financial keyword.
public struct StreamRuleSet: Sendable {
    /// X's limits, checked before anything is sent.
    public static let maxRuleLength = XAPILimits.maxRuleLength
    public static let maxRules = XAPILimits.maxRules
    public static let maxQueryLength = XAPILimits.maxQueryLength

    public let symbols: [Symbol]
    public let filters: IngestFilters
    /// Keywords named in rules, in configuration order.
    public let ruleKeywords: [String]

    public init(symbols: [Symbol], filters: IngestFilters, ruleKeywords: [String]) {
        self.symbols = symbols; self.filters = filters; self.ruleKeywords = ruleKeywords
    }

    public struct Invalid: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let description: String
    }

    /// The common operators every rule and backfill query ends with: language and retweets.
    var suffix: String {
        var parts: [String] = []
        if filters.languages.count == 1, let lang = filters.languages.first { parts.append("lang:\(lang)") }
        if filters.dropRetweets { parts.append("-is:retweet") }
        return parts.joined(separator: " ")
    }

    public func rules() throws(Invalid) -> [StreamRule] {
        let keywordGroup = ruleKeywords.isEmpty ? "" : "(" + ruleKeywords.map(Self.quoteIfNeeded).joined(separator: " OR ") + ")"
        let rules = symbols.map { symbol -> StreamRule in
            var parts = [symbol.cashtag]
            if filters.needsKeyword(symbol), !keywordGroup.isEmpty { parts.append(keywordGroup) }
            if !suffix.isEmpty { parts.append(suffix) }
            return StreamRule(value: parts.joined(separator: " "), tag: symbol.rawValue)
        }
        try Self.validate(rules)
        return rules
    }

    public static func validate(_ rules: [StreamRule]) throws(Invalid) {
        guard rules.count <= maxRules else { throw Invalid(description: "\(rules.count) rules; X allows at most \(maxRules)") }
        for rule in rules {
            guard !rule.value.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Invalid(description: "rule tagged \(rule.tag ?? "-") is empty")
            }
            guard rule.value.count <= maxRuleLength else {
                throw Invalid(description: "rule tagged \(rule.tag ?? "-") is \(rule.value.count) characters; X allows at most \(maxRuleLength)")
            }
        }
    }

    /// Recent-search queries that ask for what the rules ask for, each within 512 characters: the
    /// symbols without a keyword requirement OR-ed together, and each keyword symbol with its
    /// keywords (split across queries when they do not fit; the overlap is de-duplicated by id).
    public func backfillQueries() -> [String] {
        var queries: [String] = []
        func query(_ core: String) -> String { core + (suffix.isEmpty ? "" : " " + suffix) }
        var group: [String] = []
        func grouped(_ tags: [String]) -> String { query("(" + tags.joined(separator: " OR ") + ")") }
        for symbol in symbols where !(filters.needsKeyword(symbol) && !ruleKeywords.isEmpty) {
            if !group.isEmpty, grouped(group + [symbol.cashtag]).count > Self.maxQueryLength {
                queries.append(grouped(group)); group = []
            }
            group.append(symbol.cashtag)
        }
        if !group.isEmpty { queries.append(grouped(group)) }
        for symbol in symbols where filters.needsKeyword(symbol) && !ruleKeywords.isEmpty {
            func keyworded(_ words: [String]) -> String { query(symbol.cashtag + " (" + words.map(Self.quoteIfNeeded).joined(separator: " OR ") + ")") }
            var words: [String] = []
            for keyword in ruleKeywords {
                if !words.isEmpty, keyworded(words + [keyword]).count > Self.maxQueryLength {
                    queries.append(keyworded(words)); words = []
                }
                words.append(keyword)
            }
            if !words.isEmpty { queries.append(keyworded(words)) }
        }
        return queries
    }

    static func quoteIfNeeded(_ keyword: String) -> String {
        keyword.contains(" ") ? "\"\(keyword)\"" : keyword
    }

    /// What to send so the server's rules become `wanted`: rules are matched by value and tag.
    public static func diff(current: [StreamRule], wanted: [StreamRule]) -> (add: [StreamRule], delete: [StreamRule]) {
        func key(_ r: StreamRule) -> String { r.value + "\u{0}" + (r.tag ?? "") }
        let currentKeys = Set(current.map(key)), wantedKeys = Set(wanted.map(key))
        return (wanted.filter { !currentKeys.contains(key($0)) }, current.filter { !wantedKeys.contains(key($0)) })
    }
}

import Foundation
