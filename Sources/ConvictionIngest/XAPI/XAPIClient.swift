import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import ConvictionXPayload
import Foundation
import NIOCore
import NIOHTTP1

/// X's rate-limit headers, when a response carries them.
public struct RateLimit: Sendable, Equatable {
    public var limit: Int
    public var remaining: Int
    /// UNIX seconds when the window resets.
    public var reset: Int64

    init?(headers: HTTPHeaders) {
        guard let limit = headers.first(name: "x-rate-limit-limit").flatMap(Int.init),
              let remaining = headers.first(name: "x-rate-limit-remaining").flatMap(Int.init),
              let reset = headers.first(name: "x-rate-limit-reset").flatMap(Int64.init) else { return nil }
        self.limit = limit; self.remaining = remaining; self.reset = reset
    }
}

/// An error answer from the X API: the HTTP status and X's problem title and detail. Never holds
/// the request's headers, so the bearer token cannot leak through it.
public struct XAPIError: ConvictionError {
    public var errorCode: ErrorCode {
        if isUsageCapExceeded { return .usageCap }
        return switch status {
        case 401, 403: .credentials
        case 429: .rateLimited
        case 400, 404, 409, 422: .configuration
        default: .unavailable
        }
    }
    public let status: Int
    public let title: String
    public let detail: String
    public let rateLimit: RateLimit?
    public let endpoint: String
    /// X's problem `type` URI and `reason`, which tell apart answers sharing a status.
    public var type = ""
    public var reason = ""

    public var description: String {
        "X API \(endpoint): HTTP \(status)\(title.isEmpty ? "" : " \(title)")\(detail.isEmpty ? "" : ": \(detail)")"
    }

    /// A connect-time 429 caused by another open connection (often our own zombie).
    public var isTooManyConnections: Bool { status == 429 && (title == "ConnectionException" || detail.contains("TooManyConnections")) }

    /// A 429 for the month's post cap: not a rate limit, so waiting for the window's reset does not
    /// help (its rate-limit headers still show requests to spare).
    public var isUsageCapExceeded: Bool { status == 429 && (title == "UsageCapExceeded" || type.hasSuffix("/usage-capped")) }

    /// A 403 for an endpoint the account's plan does not include (full-archive search without Pro).
    public var isNotEnrolled: Bool { status == 403 && (reason == "client-not-enrolled" || type.hasSuffix("/client-forbidden")) }

    /// What to tell a person when the usage cap stops a run. X's answer names the period but no
    /// reset date; the developer console shows it.
    public static func usageCapMessage(_ error: XAPIError) -> String {
        "X's monthly post cap for this account is used up (\(error.detail.isEmpty ? error.title : error.detail)): retrying cannot help before "
            + "the cap resets at the start of the next billing period (the developer console's usage page shows the date); "
            + "raise the cap there or wait, then run again: nothing already stored is fetched twice"
    }

    /// A 400 naming `next_token`: the token has expired or was never valid.
    public var isInvalidNextToken: Bool { status == 400 && detail.contains("next_token") }

    static func from(status: Int, body: Data, headers: HTTPHeaders, endpoint: String) -> XAPIError {
        var title = "", detail = "", type = "", reason = ""
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            title = object["title"] as? String ?? ""
            type = object["type"] as? String ?? ""
            reason = object["reason"] as? String ?? ""
            detail = object["detail"] as? String ?? ""
            // X's invalid-request answers put the useful part in errors[0].message.
            if let errors = object["errors"] as? [[String: Any]], let message = errors.first?["message"] as? String, !detail.contains(message) {
                detail += detail.isEmpty ? message : ": \(message)"
            }
            if let issue = object["connection_issue"] as? String { detail += detail.isEmpty ? issue : " (\(issue))" }
            if title.isEmpty, let errors = object["errors"] as? [[String: Any]], let first = errors.first {
                title = first["title"] as? String ?? ""
                detail = first["detail"] as? String ?? first["message"] as? String ?? ""
            }
        }
        var error = XAPIError(status: status, title: title, detail: String(detail.prefix(300)), rateLimit: RateLimit(headers: headers), endpoint: endpoint)
        error.type = type
        error.reason = reason
        return error
    }
}

/// The X API v2 calls Conviction makes: stream rules, recent search and the filtered stream.
/// App-only auth: `Authorization: Bearer <token>` from the secrets layer.
public final class XAPIClient: Sendable {
    public static let userAgent = "Conviction/1.0 (+https://github.com/conviction; filtered-stream ingestion)"
    /// What the features need; users arrive only through `expansions=author_id`.
    public static let postFields: [(String, String)] = [
        ("tweet.fields", "created_at,author_id,lang,public_metrics,entities,referenced_tweets,conversation_id"),
        ("expansions", "author_id"),
        ("user.fields", "created_at,public_metrics,verified"),
    ]

    public let baseURL: String
    let bearer: Secret

    public init(baseURL: String, bearer: Secret) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.bearer = bearer
    }

    public func request(_ path: String, query: [(String, String)] = [], method: HTTPMethod = .GET, body: Data? = nil) -> HTTPClientRequest {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        // URLComponents leaves `+` alone in queries; X reads it as a space.
        let encoded = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        var request = HTTPClientRequest(url: baseURL + path + (encoded.isEmpty ? "" : "?" + encoded))
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(bearer.reveal())")
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    public func call(_ request: HTTPClientRequest, endpoint: String) async throws -> (Data, RateLimit?) {
        let response = try await SharedHTTPClient.client.execute(request, timeout: .seconds(60))
        let body = Data((try await response.body.collect(upTo: 32 << 20)).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw XAPIError.from(status: Int(response.status.code), body: body, headers: response.headers, endpoint: endpoint)
        }
        return (body, RateLimit(headers: response.headers))
    }

    // MARK: - Rules

    public func listRules() async throws -> [StreamRule] {
        var rules: [StreamRule] = []
        var token: String?
        repeat {
            var query = [("max_results", "1000")]
            if let token { query.append(("pagination_token", token)) }
            let (body, _) = try await call(request("/2/tweets/search/stream/rules", query: query), endpoint: "GET rules")
            let page = try JSONDecoder().decode(RulesPage.self, from: body)
            rules += page.data ?? []
            token = page.meta?.nextToken
        } while token != nil
        return rules
    }

    /// Adds rules; with `dryRun` X validates them and changes nothing.
    public func addRules(_ rules: [StreamRule], dryRun: Bool) async throws -> RulesSummary {
        let body = try JSONEncoder().encode(["add": rules.map { StreamRule(value: $0.value, tag: $0.tag) }])
        return try await changeRules(body: body, dryRun: dryRun)
    }

    public func deleteRules(ids: [String], dryRun: Bool) async throws -> RulesSummary {
        let body = try JSONEncoder().encode(["delete": ["ids": ids]])
        return try await changeRules(body: body, dryRun: dryRun)
    }

    func changeRules(body: Data, dryRun: Bool) async throws -> RulesSummary {
        let (data, _) = try await call(request("/2/tweets/search/stream/rules", query: dryRun ? [("dry_run", "true")] : [], method: .POST, body: body),
                                       endpoint: "POST rules")
        let page = try JSONDecoder().decode(RulesPage.self, from: data)
        if let errors = page.errors, !errors.isEmpty {
            let first = errors[0]
            throw XAPIError(status: 200, title: first.title ?? "rule rejected", detail: [first.value, first.details?.joined(separator: "; ")].compactMap { $0 }.joined(separator: ": "),
                            rateLimit: nil, endpoint: "POST rules")
        }
        return page.meta?.summary ?? RulesSummary()
    }

    struct RulesPage: Decodable {
        var data: [StreamRule]?
        var meta: Meta?
        var errors: [RuleError]?
        struct Meta: Decodable {
            var nextToken: String?
            var summary: RulesSummary?
            enum CodingKeys: String, CodingKey { case nextToken = "next_token", summary }
        }
        struct RuleError: Decodable { var title: String?; var value: String?; var details: [String]? }
    }

    // MARK: - Search and counts

    /// Which archive a search or count reads: the last 7 days, or everything (full-archive access).
    public enum Archive: String, Sendable, Codable {
        case recent, all
        /// Recent search reaches back 7 days.
        public static let recentReach: EpochMillis = 7 * Timestamps.day
        public var maxResults: Int { self == .all ? 500 : 100 }
        /// The longest query the endpoint takes (X's pay-per-use and Pro limits).
        public var maxQueryLength: Int { self == .all ? 1024 : XAPILimits.maxQueryLength }
    }

    /// One page of search, each post rebuilt as a stream message
    /// (`{"data":..., "includes":{"users":[author]}}`, the post and author as X sent them) so every
    /// source shares one raw format.
    public struct SearchPage: Sendable {
        public var posts: [Data]
        /// The ids of `posts`, in the answer's order (newest first).
        public var ids: [UInt64]
        public var nextToken: String?
        public var rateLimit: RateLimit?
    }

    /// What to search: the query and its optional bounds (`start`/`end` as created_at, inclusive and
    /// exclusive; `sinceID`/`untilID` exclusive).
    public struct SearchRequest: Sendable, Codable, Equatable {
        public var query: String
        public var start: EpochMillis?
        public var end: EpochMillis?
        public var sinceID: UInt64?
        public var untilID: UInt64?
        public init(query: String, start: EpochMillis? = nil, end: EpochMillis? = nil, sinceID: UInt64? = nil, untilID: UInt64? = nil) {
            self.query = query; self.start = start; self.end = end; self.sinceID = sinceID; self.untilID = untilID
        }

        var parameters: [(String, String)] {
            var parameters = [("query", query)]
            if let start { parameters.append(("start_time", Timestamps.iso8601(start))) }
            if let end { parameters.append(("end_time", Timestamps.iso8601(end))) }
            if let sinceID { parameters.append(("since_id", String(sinceID))) }
            if let untilID { parameters.append(("until_id", String(untilID))) }
            return parameters
        }
    }

    public func search(_ archive: Archive, _ search: SearchRequest, nextToken: String?, maxResults: Int? = nil) async throws -> SearchPage {
        var parameters = search.parameters + [("max_results", String(maxResults ?? archive.maxResults))] + Self.postFields
        if let nextToken { parameters.append(("next_token", nextToken)) }
        let endpoint = "GET search/\(archive.rawValue)"
        let (body, rateLimit) = try await call(request("/2/tweets/search/\(archive.rawValue)", query: parameters), endpoint: endpoint)
        let page: XPayloadReader.SearchPage
        do { page = try XPayloadReader.searchPage(body) } catch {
            throw XAPIError(status: 200, title: "malformed search response", detail: error.detail, rateLimit: rateLimit, endpoint: endpoint)
        }
        let bytes = [UInt8](body)
        var usersByID: [String: [UInt8]] = [:]
        for user in page.users where usersByID[user.id] == nil { usersByID[user.id] = Array(bytes[user.range]) }
        let posts = page.posts.map { post in
            let author = post.authorID.flatMap { usersByID[$0] }
            return Data(XPayloadWriter.streamMessage(data: bytes[post.range], includes: author.map { XPayloadWriter.includes(users: [$0]) },
                                                     matchingRules: nil))
        }
        return SearchPage(posts: posts, ids: page.posts.map { $0.id.flatMap(UInt64.init) ?? 0 }, nextToken: page.nextToken, rateLimit: rateLimit)
    }

    /// Post counts for a query per day between `start` and `end` (all pages), oldest first.
    public struct DayCount: Sendable, Equatable {
        public var start: EpochMillis
        public var count: Int
    }

    public func countsPerDay(_ archive: Archive, query: String, start: EpochMillis, end: EpochMillis,
                             beforeEachRequest: () async throws -> Void = {}) async throws -> (days: [DayCount], rateLimit: RateLimit?) {
        var days: [DayCount] = []
        var token: String?
        var limit: RateLimit?
        let endpoint = "GET counts/\(archive.rawValue)"
        repeat {
            try await beforeEachRequest()
            var parameters = SearchRequest(query: query, start: start, end: end).parameters + [("granularity", "day")]
            if let token { parameters.append(("next_token", token)) }
            let (body, rateLimit) = try await call(request("/2/tweets/counts/\(archive.rawValue)", query: parameters), endpoint: endpoint)
            limit = rateLimit
            let page: CountsPage
            do { page = try JSONDecoder().decode(CountsPage.self, from: body) } catch {
                throw XAPIError(status: 200, title: "malformed counts response", detail: "\(error)", rateLimit: rateLimit, endpoint: endpoint)
            }
            for bucket in page.data ?? [] {
                guard let at = Timestamps.parseISO8601(bucket.start) else {
                    throw XAPIError(status: 200, title: "malformed counts response", detail: "start \(bucket.start.debugDescription)", rateLimit: rateLimit, endpoint: endpoint)
                }
                days.append(DayCount(start: at, count: bucket.tweetCount))
            }
            token = page.meta?.nextToken
        } while token != nil
        return (days, limit)
    }

    struct CountsPage: Decodable {
        var data: [Bucket]?
        var meta: Meta?
        struct Bucket: Decodable {
            var start: String
            var tweetCount: Int
            enum CodingKeys: String, CodingKey { case start, tweetCount = "tweet_count" }
        }
        struct Meta: Decodable {
            var nextToken: String?
            enum CodingKeys: String, CodingKey { case nextToken = "next_token" }
        }
    }

    // MARK: - Stream

    /// The filtered stream. Its connection is closed when the reading task ends (a lingering
    /// connection would earn TooManyConnections at the next connect).
    public func openStream() -> StreamConnection {
        StreamConnection(request: request("/2/tweets/search/stream", query: Self.postFields))
    }
}

public struct RulesSummary: Codable, Sendable, Equatable {
    public var created: Int?
    public var notCreated: Int?
    public var deleted: Int?
    public var notDeleted: Int?
    public var valid: Int?
    public var invalid: Int?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case created, deleted, valid, invalid
        case notCreated = "not_created", notDeleted = "not_deleted"
    }
}

/// One filtered-stream connection. It ends when the task reading its body is cancelled (the
/// ingester's reader group does that on an idle stream, a disconnect notice or a stop):
/// AsyncHTTPClient then closes the connection.
public struct StreamConnection: Sendable {
    let request: HTTPClientRequest

    init(request: HTTPClientRequest) { self.request = request }

    struct ConnectTimeout: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "no response head within \(seconds) s" }
    }

    /// Connects; a non-200 answer becomes an `XAPIError` with the body X sent. A server that accepts
    /// the connection but sends no response head within `timeout` is a network error (the idle
    /// watchdog only watches an established stream).
    public func connect(timeout: Duration) async throws -> (body: HTTPClientResponse.Body, rateLimit: RateLimit?) {
        let response = try await withThrowingTaskGroup(of: HTTPClientResponse?.self) { group in
            group.addTask { try await SharedHTTPClient.client.execute(request, deadline: .distantFuture) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else { throw ConnectTimeout(seconds: timeout.seconds) }
            return response
        }
        guard response.status == .ok else {
            let body = Data((try? await response.body.collect(upTo: 1 << 20))?.readableBytesView ?? ByteBuffer().readableBytesView)
            throw XAPIError.from(status: Int(response.status.code), body: body, headers: response.headers, endpoint: "GET stream")
        }
        return (response.body, RateLimit(headers: response.headers))
    }
}
