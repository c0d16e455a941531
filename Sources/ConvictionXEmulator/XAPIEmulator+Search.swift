import ConvictionCore
import ConvictionHTTP
import ConvictionXPayload
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

extension XAPIEmulator {
    /// How far back recent search and recent counts reach.
    public static let recentReach: EpochMillis = 7 * Timestamps.day
    /// `end_time` must lie at least this long before the request.
    static let endTimeMargin: EpochMillis = 10_000

    /// X's answer when the month's post cap is used up (the shape X sends, rate-limit headers and all).
    static var usageCapBody: [String: Any] { [
        "account_id": "1", "product_name": "standard-basic", "title": "UsageCapExceeded", "period": "Monthly", "scope": "Product",
        "detail": "Usage cap exceeded: Monthly product cap", "type": "https://api.twitter.com/2/problems/usage-capped",
    ] }

    /// X's answer to an account without access to an endpoint (full-archive search on a basic plan).
    static var notEnrolledBody: [String: Any] { [
        "client_id": "1", "title": "Client Forbidden", "reason": "client-not-enrolled", "required_enrollment": "Appropriate Level of API Access",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project with the appropriate level of access.",
        "registration_url": "https://developer.x.com/en/portal/products", "type": "https://api.twitter.com/2/problems/client-forbidden",
    ] }

    /// True once search and streamed posts together reach `monthlyPostCap`.
    var usageCapReached: Bool {
        guard let cap = configuration.monthlyPostCap else { return false }
        return mutable.withLockedValue { $0.state.searchedPosts + $0.state.streamedPosts >= cap }
    }

    /// Whether an entry is on X for search: published, or history from before `archivedBefore`.
    func searchable(_ entry: EmulatorFeed.Entry, index: Int, published: Int) -> Bool {
        index < published || (configuration.archivedBefore.map { entry.createdAt < $0 } ?? false)
    }

    /// `search/recent`, `search/all`, `counts/recent` and `counts/all`, with their parameters
    /// (`query`, `start_time`, `end_time`, `since_id`, `until_id`, `max_results`, `next_token`,
    /// `granularity`), their limits, and the faults asked for.
    func searchOrCount(_ endpoint: String, _ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter,
                       limitHeaders: [(String, String)]) async throws {
        let isArchive = endpoint.hasSuffix("-all"), isCount = endpoint.hasPrefix("counts")
        let number = mutable.withLockedValue { m -> Int in
            m.state.searchRequests += 1
            m.state.requestsByEndpoint[endpoint, default: 0] += 1
            return m.state.searchRequests
        }
        func answer(_ status: HTTPResponseStatus, _ body: [String: Any]) async throws {
            try await writer.respond(status, body: json(body), headers: limitHeaders)
        }
        func bad(_ message: String, parameter: String? = nil) async throws {
            var error: [String: Any] = ["message": message]
            if let parameter { error["parameters"] = [parameter: [request.query[parameter] ?? ""]] }
            try await answer(.badRequest, ["title": "Invalid Request", "detail": message, "errors": [error],
                                           "type": "https://api.twitter.com/2/problems/invalid-request"])
        }
        if configuration.searchLatency > .zero { try await configuration.clock.sleep(for: configuration.searchLatency) }
        if isArchive && !configuration.fullArchive { return try await answer(.forbidden, Self.notEnrolledBody) }
        if isArchive && !isCount {
            let now = configuration.clock.monotonicMillis()
            let tooFast = mutable.withLockedValue { m -> Bool in
                defer { m.lastArchiveSearch = now }
                guard let last = m.lastArchiveSearch, now - last < configuration.archiveSearchInterval.milliseconds else { return false }
                m.state.archiveTooFast += 1
                return true
            }
            if tooFast { return try await answer(.tooManyRequests, ["title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429]) }
        }
        if let fault = configuration.searchFaults[number], fault != .expiredToken || request.query["next_token"] != nil {
            mutable.withLockedValue { $0.state.searchFaultsInjected[fault.rawValue, default: 0] += 1 }
            switch fault {
            case .usageCap: return try await answer(.tooManyRequests, Self.usageCapBody)
            case .unavailable: return try await answer(.serviceUnavailable, ["title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503])
            case .expiredToken: return try await bad("The `next_token` query parameter value [\(request.query["next_token"] ?? "")] is not valid", parameter: "next_token")
            }
        }
        if !isCount && usageCapReached { return try await answer(.tooManyRequests, Self.usageCapBody) }

        // Parameters, checked as X checks them.
        guard let queryText = request.query["query"], !queryText.isEmpty else { return try await bad("query is required", parameter: "query") }
        let maxQuery = isArchive ? 1024 : XAPILimits.maxQueryLength
        guard queryText.count <= maxQuery else { return try await bad("query is longer than \(maxQuery) characters", parameter: "query") }
        let query: RuleQuery
        do { query = try RuleQuery.parse(queryText) } catch { return try await bad("\(error)", parameter: "query") }
        let now = configuration.clock.now()
        var times: [String: EpochMillis] = [:]
        for name in ["start_time", "end_time"] {
            guard let text = request.query[name] else { continue }
            guard let value = Timestamps.parseISO8601(text) else { return try await bad("Invalid '\(name)': \(text) is not RFC 3339", parameter: name) }
            times[name] = value
        }
        let reachStart = isArchive ? EpochMillis.min : now - Self.recentReach
        let start = times["start_time"] ?? reachStart
        // X's default end is 30 s ago; this server's is now, so a test's backfill of a moment ago finds everything.
        let end = times["end_time"] ?? (now + 1)
        if !isArchive, start < reachStart {
            return try await bad("Invalid 'start_time':'\(request.query["start_time"] ?? "")'. 'start_time' must be on or after \(Timestamps.iso8601(reachStart))", parameter: "start_time")
        }
        if let explicit = times["end_time"], explicit > now - Self.endTimeMargin {
            return try await bad("Invalid 'end_time':'\(request.query["end_time"] ?? "")'. 'end_time' must be a minimum of 10 seconds prior to the request time.", parameter: "end_time")
        }
        guard start < end else { return try await bad("Invalid 'start_time': 'start_time' must be before 'end_time'", parameter: "start_time") }
        let token = request.query["next_token"]
        if let token, Self.tokenValue(token) == nil { return try await bad("The `next_token` query parameter value [\(token)] is not valid", parameter: "next_token") }

        if isCount { return try await counts(query, start: start, end: end, request: request, bad: bad, answer: answer) }

        let maxResults = Int(request.query["max_results"] ?? "10") ?? 0
        let maxAllowed = isArchive ? 500 : 100
        guard (10...maxAllowed).contains(maxResults) else { return try await bad("max_results must be between 10 and \(maxAllowed)", parameter: "max_results") }
        let since = request.query["since_id"].flatMap(UInt64.init) ?? 0
        let until = min(request.query["until_id"].flatMap(UInt64.init) ?? .max, token.flatMap(Self.tokenValue) ?? .max)
        let published = mutable.withLockedValue { publishedCount($0) }
        // Entries are in id order: look only between since_id and until (binary search), newest first.
        let everything = feed.entries.count
        let range = feed.firstIndex(after: since, below: everything)..<feed.firstIndex(atOrAbove: until, below: everything)
        var page: [EmulatorFeed.Entry] = []
        var more = false
        for index in range.reversed() {
            let entry = feed.entries[index]
            guard entry.createdAt >= start, entry.createdAt < end, searchable(entry, index: index, published: published),
                  query.matches(entry.subject) else { continue }
            if page.count == maxResults { more = true; break }
            page.append(entry)
        }
        mutable.withLockedValue { $0.state.searchedPosts += page.count }
        var seen: Set<[UInt8]> = []
        let users = page.compactMap(\.author).filter { seen.insert($0).inserted }
        let body = XPayloadWriter.searchPage(posts: page.map(\.data), users: users, newestID: page.first.map { String($0.id) },
                                             oldestID: page.last.map { String($0.id) }, nextToken: more ? page.last.map { Self.token(for: $0.id) } : nil)
        try await writer.respond(.ok, body: Data(body), headers: limitHeaders)
    }

    /// Post counts per minute, hour or day between `start` and `end`, oldest bucket first; a
    /// full-archive answer holds at most 31 days of buckets and pages on with `next_token`.
    private func counts(_ query: RuleQuery, start: EpochMillis, end: EpochMillis, request: HTTPServer.Request,
                        bad: (String, String?) async throws -> Void, answer: (HTTPResponseStatus, [String: Any]) async throws -> Void) async throws {
        let bucket: EpochMillis
        switch request.query["granularity"] ?? "hour" {
        case "minute": bucket = Timestamps.minute
        case "hour": bucket = Timestamps.hour
        case "day": bucket = Timestamps.day
        default: return try await bad("granularity must be one of minute, hour, day", "granularity")
        }
        // A page starts at the token's bucket (tokens here carry a time) and covers at most 31 days.
        let pageStart = request.query["next_token"].flatMap(Self.tokenValue).map { EpochMillis($0) } ?? start
        let pageEnd = min(end, pageStart + 31 * Timestamps.day)
        var edges: [EpochMillis] = [pageStart]
        var edge = Timestamps.floorDiv(pageStart, bucket) * bucket + bucket
        while edge < pageEnd { edges.append(edge); edge += bucket }
        edges.append(pageEnd)
        var counts = [Int](repeating: 0, count: edges.count - 1)
        let published = mutable.withLockedValue { publishedCount($0) }
        for (index, entry) in feed.entries.enumerated() where entry.createdAt >= pageStart && entry.createdAt < pageEnd {
            guard searchable(entry, index: index, published: published), query.matches(entry.subject) else { continue }
            let slot = edges.lastIndex { $0 <= entry.createdAt }!
            counts[min(slot, counts.count - 1)] += 1
        }
        let data: [[String: Any]] = counts.indices.map { i in
            ["start": Timestamps.iso8601(edges[i]), "end": Timestamps.iso8601(edges[i + 1]), "tweet_count": counts[i]]
        }
        var meta: [String: Any] = ["total_tweet_count": counts.reduce(0, +)]
        if pageEnd < end { meta["next_token"] = Self.token(for: UInt64(pageEnd)) }
        try await answer(.ok, ["data": data, "meta": meta])
    }

    /// Pagination tokens are opaque to clients: a position in base 36 behind a prefix.
    static func token(for position: UInt64) -> String { "b26" + String(position, radix: 36) }
    static func tokenValue(_ token: String) -> UInt64? {
        guard token.hasPrefix("b26") else { return nil }
        return UInt64(token.dropFirst(3), radix: 36)
    }
}
