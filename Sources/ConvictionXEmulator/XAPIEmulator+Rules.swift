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
}
