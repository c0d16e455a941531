import ConvictionCore
import ConvictionHTTP
import ConvictionXPayload
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A local X API v2 server for tests and the demo: the filtered stream, its rules, recent and
/// full-archive search and the post counts, serving a fixed feed of posts published at a set rate. It checks the bearer token,
/// enforces and reports rate limits, sends keep-alives, allows one stream connection, and injects
/// the faults a real stream has, on a schedule, counting each.
public final class XAPIEmulator: Sendable {
    public enum Fault: String, CaseIterable, Sendable, Codable {
        case dropMidLine = "drop_mid_line"
        case stall
        case tooManyConnections = "too_many_connections"
        case serverError = "server_error"
        case operationalDisconnect = "operational_disconnect"
        case malformedJSON = "malformed_json"
        case splitUTF8 = "split_utf8"
        case duplicate

        /// Faults answered at connect time instead of inside a running stream.
        public var atConnect: Bool { self == .tooManyConnections || self == .serverError }
    }

    /// Faults of the search and counts endpoints, injected at a chosen request.
    public enum SearchFault: String, Sendable, Codable {
        /// 429 UsageCapExceeded, as when the month's post cap is used up.
        case usageCap = "usage_cap"
        /// 503, as X answers now and then, mid-pagination or not.
        case unavailable
        /// 400 for the request's `next_token`, as for a token that has expired (a request without one is answered normally).
        case expiredToken = "expired_token"
    }

    public struct Configuration: Sendable {
        public var bearerToken: String
        /// Feed posts published per second, from the first stream connection on.
        public var postsPerSecond = 250.0
        public var keepAliveInterval: Duration = .seconds(10)
        /// Requests per window, per endpoint (X's pay-per-use limits by default).
        public var streamConnectLimit = 50
        public var rulesLimit = 450
        public var searchLimit = 450
        /// Full-archive search: 300 requests per window and at most 1 per second (X's documented limits).
        public var archiveSearchLimit = 300
        public var archiveSearchInterval: Duration = .seconds(1)
        /// Counts requests per window, recent and full-archive alike.
        public var countsLimit = 300
        public var windowSeconds: Int64 = 900
        /// Whether the account is enrolled for full-archive search and counts; without it they answer
        /// 403 `client-not-enrolled`, as X does.
        public var fullArchive = true
        /// Posts created before this are on X from the start (searchable history); later ones appear as
        /// they are published. Nil: only published posts are searchable.
        public var archivedBefore: EpochMillis?
        /// Posts the account may read in the month (search results and streamed posts); past it, search
        /// and stream connects answer 429 UsageCapExceeded. Nil: no cap.
        public var monthlyPostCap: Int?
        /// Faults by the 1-based number of the search or counts request they answer.
        public var searchFaults: [Int: SearchFault] = [:]
        /// How long each search or counts answer takes (X's take a few hundred milliseconds).
        public var searchLatency: Duration = .zero
        /// Faults injected in this order, cycling, `faultCount` in all.
        public var faults: [Fault] = []
        public var faultCount = 0
        /// Posts sent between in-stream faults.
        public var faultEveryPosts = 25
        /// A stalled stream stays silent at most this long (the client should give up well before).
        public var stallLimit: Duration = .seconds(120)
        /// Stream lines per written chunk.
        public var linesPerChunk = 8
        /// The time source for publishing, keep-alives, stalls and rate-limit windows; tests pass the
        /// client's own, so a reset header means the same instant to both sides.
        public var clock: any TimeSource = SystemTimeSource()
        /// How long a new stream connection waits for the previous one to be seen closed before it
        /// earns TooManyConnections (the client closes first, but the server notices a moment later).
        public var admissionGrace: Duration = .seconds(5)

        public init(bearerToken: String) { self.bearerToken = bearerToken }
    }

    public struct State: Sendable, Codable {
        public var published = 0
        public var total = 0
        public var streamConnects = 0
        public var activeStreams = 0
        public var faultsInjected: [String: Int] = [:]
        /// 429 TooManyConnections the emulator did not inject: the client left a connection open.
        public var unexpectedTooManyConnections = 0
        /// 429s from exceeded rate limits (never injected).
        public var rateLimited = 0
        public var unauthorized = 0
        /// Search and counts requests, of every kind.
        public var searchRequests = 0
        /// Requests per endpoint (`search-recent`, `search-all`, `counts-recent`, `counts-all`, ...).
        public var requestsByEndpoint: [String: Int] = [:]
        /// Posts returned by search, counted against `monthlyPostCap` with streamed posts.
        public var searchedPosts = 0
        /// Search or counts faults injected, by kind.
        public var searchFaultsInjected: [String: Int] = [:]
        /// Full-archive requests refused for coming within `archiveSearchInterval` of the previous one.
        public var archiveTooFast = 0
        /// Stream connect outcomes in order: `ok`, `429`, `5xx`, `401`.
        public var connectLog: [String] = []
        /// Posts written whole on a stream connection (what a client must keep once it has them).
        public var streamedPosts = 0
    }

    struct Mutable: Sendable {
        var state = State()
        /// The clock's monotonic reading at the first stream connection.
        var publishStart: Int64?
        var nextFault = 0
        var rules: [StreamRule] = []
        var parsedRules: [(id: String, tag: String?, query: RuleQuery)] = []
        var nextRuleID: UInt64 = 1_800_000_000_000_000_001
        var windows: [String: (start: Int64, count: Int)] = [:]
        var streamedIDs: Set<UInt64> = []
        /// Set by `pausePublishing()`: publishing stays at this count.
        var pausedAt: Int?
        /// The clock's monotonic reading at the last full-archive search request.
        var lastArchiveSearch: Int64?
    }

    public let configuration: Configuration
    let feed: EmulatorFeed
    let mutable = NIOLockedValueBox(Mutable())
    private let server = NIOLockedValueBox<(HTTPServer, Task<Void, Never>)?>(nil)

    /// `feedLines`: X API v2 stream messages or bare posts, one per element.
    public init(configuration: Configuration, feedLines: [Data]) throws {
        self.configuration = configuration
        feed = try EmulatorFeed(lines: feedLines)
        mutable.withLockedValue { $0.state.total = feed.entries.count }
    }

    /// Binds to `host:port` (0 = any free port) and serves in the background; returns the base URL.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let http = try await HTTPServer.bind(host: host, port: port) { request, writer in
            try await self.handle(request, writer)
        }
        let task = Task { await http.run() }
        server.withLockedValue { $0 = (http, task) }
        return http.baseURL
    }

    public func stop() async {
        guard let (http, task) = server.withLockedValue({ $0 }) else { return }
        await http.close()
        task.cancel()
        await task.value
    }

    public var state: State {
        mutable.withLockedValue { m in
            var s = m.state
            s.published = publishedCount(m)
            return s
        }
    }

    /// Ids of published posts that match the current rules: what a client that lost nothing holds.
    public func emittedIDs() -> [UInt64] {
        let (count, rules) = mutable.withLockedValue { (publishedCount($0), $0.parsedRules) }
        return feed.entries.prefix(count).filter { e in rules.contains { $0.query.matches(e.subject) } }.map(\.id)
    }

    /// Ids of the posts written whole on any stream connection.
    public func streamedIDs() -> Set<UInt64> { mutable.withLockedValue { $0.streamedIDs } }

    /// True when every post has been published.
    public var exhausted: Bool { state.published >= feed.entries.count }

    /// Stops publishing new posts (as a quiet market would); the connections stay open with keep-alives.
    public func pausePublishing() {
        mutable.withLockedValue { m in if m.pausedAt == nil { m.pausedAt = publishedCount(m) } }
    }

    func publishedCount(_ m: Mutable) -> Int {
        if let paused = m.pausedAt { return paused }
        guard let start = m.publishStart else { return 0 }
        let elapsed = Double(configuration.clock.monotonicMillis() - start) / 1000
        return min(feed.entries.count, Int(elapsed * configuration.postsPerSecond))
    }

    // MARK: - Requests

    func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    /// Counts a request against its endpoint's window; returns the headers to send and whether it is over the limit.
    private func rateLimit(_ endpoint: String, limit: Int) -> (headers: [(String, String)], exceeded: Bool) {
        let now = configuration.clock.now()
        return mutable.withLockedValue { m in
            var window = m.windows[endpoint] ?? (now, 0)
            if now >= window.start + configuration.windowSeconds * 1000 { window = (now, 0) }
            window.count += 1
            m.windows[endpoint] = window
            let reset = (window.start + configuration.windowSeconds * 1000) / 1000
            let headers = [("x-rate-limit-limit", String(limit)), ("x-rate-limit-remaining", String(max(0, limit - window.count))),
                           ("x-rate-limit-reset", String(reset))]
            if window.count > limit { m.state.rateLimited += 1 }
            return (headers, window.count > limit)
        }
    }

    private func handle(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter) async throws {
        if request.path.hasPrefix("/__emulator/") { return try await admin(request, writer) }
        let endpoint: String, limit: Int
        switch request.path {
        case "/2/tweets/search/stream": (endpoint, limit) = ("stream", configuration.streamConnectLimit)
        case "/2/tweets/search/stream/rules": (endpoint, limit) = ("rules-" + request.method.rawValue, configuration.rulesLimit)
        case "/2/tweets/search/recent": (endpoint, limit) = ("search-recent", configuration.searchLimit)
        case "/2/tweets/search/all": (endpoint, limit) = ("search-all", configuration.archiveSearchLimit)
        case "/2/tweets/counts/recent": (endpoint, limit) = ("counts-recent", configuration.countsLimit)
        case "/2/tweets/counts/all": (endpoint, limit) = ("counts-all", configuration.countsLimit)
        default:
            return try await writer.respond(.notFound, body: json(["title": "Not Found Error", "detail": "no route \(request.path)", "status": 404]))
        }
        let (limitHeaders, exceeded) = rateLimit(endpoint, limit: limit)
        if exceeded {
            if endpoint == "stream" { mutable.withLockedValue { $0.state.connectLog.append("429") } }
            return try await writer.respond(.tooManyRequests, body: json(["title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429]),
                                            headers: limitHeaders)
        }
        guard request.headers.first(name: "authorization") == "Bearer \(configuration.bearerToken)" else {
            mutable.withLockedValue { m in
                m.state.unauthorized += 1
                if endpoint == "stream" { m.state.connectLog.append("401") }
            }
            return try await writer.respond(.unauthorized, body: json(["title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"]),
                                            headers: limitHeaders)
        }
        switch endpoint {
        case "stream": try await stream(writer, limitHeaders: limitHeaders)
        case "search-recent", "search-all", "counts-recent", "counts-all":
            try await searchOrCount(endpoint, request, writer, limitHeaders: limitHeaders)
        default: try await rules(request, writer, limitHeaders: limitHeaders)
        }
    }

    private func admin(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter) async throws {
        switch request.path {
        case "/__emulator/state":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try await writer.respond(.ok, body: try encoder.encode(state))
        case "/__emulator/emitted-ids":
            try await writer.respond(.ok, body: json(["ids": emittedIDs().map(String.init)]))
        case "/__emulator/streamed-ids":
            try await writer.respond(.ok, body: json(["ids": streamedIDs().sorted().map(String.init)]))
        case "/__emulator/pause":
            pausePublishing()
            try await writer.respond(.ok, body: json(["paused_at": state.published]))
        default:
            try await writer.respond(.notFound, body: Data())
        }
    }
}
