import ConvictionCore
import ConvictionHTTP
import ConvictionXPayload
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

extension XAPIEmulator {
    // MARK: - Rules

    func rules(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter, limitHeaders: [(String, String)]) async throws {
        let sent = Timestamps.iso8601(configuration.clock.now())
        if request.method == .GET {
            let rules = mutable.withLockedValue { $0.rules }
            var body: [String: Any] = ["meta": ["sent": sent, "result_count": rules.count]]
            if !rules.isEmpty { body["data"] = rules.map { r in ["id": r.id ?? "", "value": r.value].merging(r.tag.map { ["tag": $0] } ?? [:]) { a, _ in a } } }
            return try await writer.respond(.ok, body: json(body), headers: limitHeaders)
        }
        let dryRun = request.query["dry_run"] == "true"
        guard let object = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any] else {
            return try await writer.respond(.badRequest, body: json(["title": "Invalid Request", "detail": "body is not a JSON object", "status": 400]), headers: limitHeaders)
        }
        if let add = object["add"] as? [[String: Any]] {
            var errors: [[String: Any]] = []
            var accepted: [(StreamRule, RuleQuery)] = []
            for item in add {
                let value = item["value"] as? String ?? ""
                do {
                    guard value.count <= XAPILimits.maxRuleLength else {
                        throw RuleQuery.SyntaxError(description: "Rules must be \(XAPILimits.maxRuleLength) characters or less")
                    }
                    accepted.append((StreamRule(value: value, tag: item["tag"] as? String), try RuleQuery.parse(value)))
                } catch {
                    errors.append(["value": value, "details": ["\(error)"], "title": "UnprocessableEntity",
                                   "type": "https://api.twitter.com/2/problems/invalid-rules"])
                }
            }
            let tooMany = mutable.withLockedValue { $0.rules.count + accepted.count > XAPILimits.maxRules }
            if tooMany {
                errors.append(["title": "RulesCapExceeded", "details": ["more than \(XAPILimits.maxRules) rules"], "value": ""])
            }
            var created: [[String: Any]] = []
            if errors.isEmpty {
                created = mutable.withLockedValue { m in
                    accepted.map { rule, query in
                        let id = String(m.nextRuleID)
                        m.nextRuleID += 1
                        if !dryRun {
                            m.rules.append(StreamRule(id: id, value: rule.value, tag: rule.tag))
                            m.parsedRules.append((id, rule.tag, query))
                        }
                        return ["id": id, "value": rule.value].merging(rule.tag.map { ["tag": $0] } ?? [:]) { a, _ in a }
                    }
                }
            }
            var body: [String: Any] = ["meta": ["sent": sent, "summary": ["created": created.count, "not_created": add.count - created.count,
                                                                          "valid": accepted.count, "invalid": add.count - accepted.count]]]
            if !created.isEmpty { body["data"] = created }
            if !errors.isEmpty { body["errors"] = errors }
            return try await writer.respond(.ok, body: json(body), headers: limitHeaders)
        }
        if let ids = (object["delete"] as? [String: Any])?["ids"] as? [String] {
            let deleted = mutable.withLockedValue { m in
                let known = Set(m.rules.compactMap(\.id)).intersection(ids)
                if !dryRun {
                    m.rules.removeAll { known.contains($0.id ?? "") }
                    m.parsedRules.removeAll { known.contains($0.id) }
                }
                return known.count
            }
            return try await writer.respond(.ok, body: json(["meta": ["sent": sent, "summary": ["deleted": deleted, "not_deleted": ids.count - deleted]]]),
                                            headers: limitHeaders)
        }
        try await writer.respond(.badRequest, body: json(["title": "Invalid Request", "detail": "expected add or delete", "status": 400]), headers: limitHeaders)
    }

    // MARK: - Recent search

    func search(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter, limitHeaders: [(String, String)]) async throws {
        mutable.withLockedValue { $0.state.searchRequests += 1 }
        func bad(_ detail: String) async throws {
            try await writer.respond(.badRequest, body: json(["title": "Invalid Request", "detail": detail, "status": 400]), headers: limitHeaders)
        }
        guard let queryText = request.query["query"], !queryText.isEmpty else { return try await bad("query is required") }
        guard queryText.count <= XAPILimits.maxQueryLength else { return try await bad("query is longer than 512 characters") }
        let maxResults = Int(request.query["max_results"] ?? "10") ?? 0
        guard (10...100).contains(maxResults) else { return try await bad("max_results must be between 10 and 100") }
        let query: RuleQuery
        do { query = try RuleQuery.parse(queryText) } catch { return try await bad("\(error)") }
        let since = request.query["since_id"].flatMap(UInt64.init) ?? 0
        let until = min(request.query["until_id"].flatMap(UInt64.init) ?? .max, request.query["next_token"].flatMap(UInt64.init) ?? .max)
        let published = mutable.withLockedValue { publishedCount($0) }
        // Entries are in id order: look only between since_id and until (binary search), newest first.
        let candidates = feed.entries[feed.firstIndex(after: since, below: published)..<feed.firstIndex(atOrAbove: until, below: published)]
        var page: [EmulatorFeed.Entry] = []
        var more = false
        for entry in candidates.reversed() where query.matches(entry.subject) {
            if page.count == maxResults { more = true; break }
            page.append(entry)
        }
        var seen: Set<[UInt8]> = []
        let users = page.compactMap(\.author).filter { seen.insert($0).inserted }
        let body = XPayloadWriter.searchPage(posts: page.map(\.data), users: users, newestID: page.first.map { String($0.id) },
                                             oldestID: page.last.map { String($0.id) }, nextToken: more ? page.last.map { String($0.id) } : nil)
        try await writer.respond(.ok, body: Data(body), headers: limitHeaders)
    }
}
