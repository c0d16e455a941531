import ConvictionCore
import ConvictionHTTP
import ConvictionIngest
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A local X API v2 server for tests and the demo: the filtered stream, its rules, and recent
/// search, serving a fixed feed of posts published at a set rate. It checks the bearer token,
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

    public struct Configuration: Sendable {
        public var bearerToken: String
        /// Feed posts published per second, from the first stream connection on.
        public var postsPerSecond = 250.0
        public var keepAliveInterval: Duration = .seconds(10)
        /// Requests per window, per endpoint (X's pay-per-use limits by default).
        public var streamConnectLimit = 50
        public var rulesLimit = 450
        public var searchLimit = 450
        public var windowSeconds: Int64 = 900
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
        public var searchRequests = 0
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
    }

    public let configuration: Configuration
    let feed: EmulatorFeed
    private let mutable = NIOLockedValueBox(Mutable())
    private let server = NIOLockedValueBox<(LoopbackHTTPServer, Task<Void, Never>)?>(nil)

    /// `feedLines`: X API v2 stream messages or bare posts, one per element.
    public init(configuration: Configuration, feedLines: [Data]) throws {
        self.configuration = configuration
        feed = try EmulatorFeed(lines: feedLines)
        mutable.withLockedValue { $0.state.total = feed.entries.count }
    }

    /// Binds to `host:port` (0 = any free port) and serves in the background; returns the base URL.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let http = try await LoopbackHTTPServer.bind(host: host, port: port) { request, writer in
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

    private func publishedCount(_ m: Mutable) -> Int {
        if let paused = m.pausedAt { return paused }
        guard let start = m.publishStart else { return 0 }
        let elapsed = Double(configuration.clock.monotonicMillis() - start) / 1000
        return min(feed.entries.count, Int(elapsed * configuration.postsPerSecond))
    }

    // MARK: - Requests

    private func json(_ object: Any) -> Data {
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

    private func handle(_ request: LoopbackHTTPServer.Request, _ writer: LoopbackHTTPServer.ResponseWriter) async throws {
        if request.path.hasPrefix("/__emulator/") { return try await admin(request, writer) }
        let endpoint: String, limit: Int
        switch request.path {
        case "/2/tweets/search/stream": (endpoint, limit) = ("stream", configuration.streamConnectLimit)
        case "/2/tweets/search/stream/rules": (endpoint, limit) = ("rules-" + request.method.rawValue, configuration.rulesLimit)
        case "/2/tweets/search/recent": (endpoint, limit) = ("search", configuration.searchLimit)
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
        case "search": try await search(request, writer, limitHeaders: limitHeaders)
        default: try await rules(request, writer, limitHeaders: limitHeaders)
        }
    }

    private func admin(_ request: LoopbackHTTPServer.Request, _ writer: LoopbackHTTPServer.ResponseWriter) async throws {
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

    // MARK: - Rules

    private func rules(_ request: LoopbackHTTPServer.Request, _ writer: LoopbackHTTPServer.ResponseWriter, limitHeaders: [(String, String)]) async throws {
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
                    guard value.count <= StreamRuleSet.maxRuleLength else {
                        throw RuleQuery.SyntaxError(description: "Rules must be \(StreamRuleSet.maxRuleLength) characters or less")
                    }
                    accepted.append((StreamRule(value: value, tag: item["tag"] as? String), try RuleQuery.parse(value)))
                } catch {
                    errors.append(["value": value, "details": ["\(error)"], "title": "UnprocessableEntity",
                                   "type": "https://api.twitter.com/2/problems/invalid-rules"])
                }
            }
            let tooMany = mutable.withLockedValue { $0.rules.count + accepted.count > StreamRuleSet.maxRules }
            if tooMany {
                errors.append(["title": "RulesCapExceeded", "details": ["more than \(StreamRuleSet.maxRules) rules"], "value": ""])
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

    private func search(_ request: LoopbackHTTPServer.Request, _ writer: LoopbackHTTPServer.ResponseWriter, limitHeaders: [(String, String)]) async throws {
        mutable.withLockedValue { $0.state.searchRequests += 1 }
        func bad(_ detail: String) async throws {
            try await writer.respond(.badRequest, body: json(["title": "Invalid Request", "detail": detail, "status": 400]), headers: limitHeaders)
        }
        guard let queryText = request.query["query"], !queryText.isEmpty else { return try await bad("query is required") }
        guard queryText.count <= StreamRuleSet.maxQueryLength else { return try await bad("query is longer than 512 characters") }
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
        var body = Array("{".utf8)
        if !page.isEmpty {
            body += Array("\"data\":[".utf8) + Array(page.map(\.data).joined(separator: Array(",".utf8))) + Array("],".utf8)
            var seen: Set<[UInt8]> = []
            let users = page.compactMap(\.author).filter { seen.insert($0).inserted }
            body += Array("\"includes\":{\"users\":[".utf8) + Array(users.joined(separator: Array(",".utf8))) + Array("]},".utf8)
        }
        var meta: [String: Any] = ["result_count": page.count]
        if let first = page.first, let last = page.last { meta["newest_id"] = String(first.id); meta["oldest_id"] = String(last.id) }
        if more, let last = page.last { meta["next_token"] = String(last.id) }
        body += Array("\"meta\":".utf8) + Array(json(meta)) + Array("}".utf8)
        try await writer.respond(.ok, body: Data(body), headers: limitHeaders)
    }

    // MARK: - Stream

    /// The next scheduled fault, if it is of the wanted kind (connect-time or in-stream); consumes it.
    private func takeFault(atConnect: Bool) -> Fault? {
        mutable.withLockedValue { m in
            guard !configuration.faults.isEmpty, m.nextFault < configuration.faultCount else { return nil }
            let fault = configuration.faults[m.nextFault % configuration.faults.count]
            guard fault.atConnect == atConnect else { return nil }
            m.nextFault += 1
            m.state.faultsInjected[fault.rawValue, default: 0] += 1
            return fault
        }
    }

    private var connectFaultIsNext: Bool {
        mutable.withLockedValue { m in
            !configuration.faults.isEmpty && m.nextFault < configuration.faultCount
                && configuration.faults[m.nextFault % configuration.faults.count].atConnect
        }
    }

    private func stream(_ writer: LoopbackHTTPServer.ResponseWriter, limitHeaders: [(String, String)]) async throws {
        if let fault = takeFault(atConnect: true) {
            mutable.withLockedValue { $0.state.connectLog.append(fault == .tooManyConnections ? "429" : "5xx") }
            if fault == .tooManyConnections {
                return try await writer.respond(.tooManyRequests, body: json(Self.tooManyConnectionsBody), headers: limitHeaders)
            }
            return try await writer.respond(.serviceUnavailable, body: json(["title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503]),
                                            headers: limitHeaders)
        }
        // One connection at a time. A client that just closed its previous connection gets a
        // moment for the close to arrive; one that left it open gets X's TooManyConnections.
        let arrived = ContinuousClock.now
        while mutable.withLockedValue({ $0.state.activeStreams }) > 0 && ContinuousClock.now - arrived < configuration.admissionGrace {
            try await Task.sleep(for: .milliseconds(2))
        }
        // The connection's first post is fixed when it is admitted: posts published earlier were
        // published while no one listened (the first connection starts the clock, so it misses none).
        let admitted = mutable.withLockedValue { m -> Int? in
            guard m.state.activeStreams == 0 else {
                m.state.unexpectedTooManyConnections += 1
                m.state.connectLog.append("429")
                return nil
            }
            m.state.activeStreams += 1
            m.state.streamConnects += 1
            m.state.connectLog.append("ok")
            if m.publishStart == nil { m.publishStart = configuration.clock.monotonicMillis() }
            return publishedCount(m)
        }
        guard var cursor = admitted else {
            return try await writer.respond(.tooManyRequests, body: json(Self.tooManyConnectionsBody), headers: limitHeaders)
        }
        defer { mutable.withLockedValue { $0.state.activeStreams -= 1 } }
        try await writer.head(.ok, headers: limitHeaders + [("content-type", "application/json; charset=utf-8")])

        let clock = configuration.clock
        var sinceFault = 0
        var lastWrite = clock.monotonicMillis()
        // A fault due before this connection sent anything re-sends the newest matching post
        // published so far (X may deliver a post again after a reconnect).
        var lastLine: [UInt8]? = lastMatchingLine(before: cursor)
        let newline: [UInt8] = [0x0D, 0x0A]
        while true {
            if connectFaultIsNext { try await writer.end(); return }  // a clean close, so the next connect meets the fault
            let published = mutable.withLockedValue { publishedCount($0) }
            guard cursor < published else {
                // Nothing new to send: a fault that is due still happens (re-sending the last post
                // where it needs one), so a schedule never waits on posts that will not come.
                if clock.elapsed(since: lastWrite) >= configuration.keepAliveInterval, let fault = takeFault(atConnect: false) {
                    sinceFault = 0
                    if try await inject(fault, line: lastLine, writer) { return }
                    lastWrite = clock.monotonicMillis()
                    continue
                }
                if clock.elapsed(since: lastWrite) >= configuration.keepAliveInterval {
                    try await writer.chunk(newline)
                    lastWrite = clock.monotonicMillis()
                }
                try await Task.sleep(for: .milliseconds(2))
                if writer.isClosed { return }
                continue
            }
            var chunk: [UInt8] = []
            var chunkIDs: [UInt64] = []
            var lines = 0
            // Ids count as streamed once their whole line was handed to the connection.
            func flush() async throws {
                try await writer.chunk(chunk)
                let ids = chunkIDs
                mutable.withLockedValue { m in m.streamedIDs.formUnion(ids); m.state.streamedPosts = m.streamedIDs.count }
                chunk = []; chunkIDs = []; lines = 0
            }
            let rules = mutable.withLockedValue { $0.parsedRules }
            while cursor < published {
                let entry = feed.entries[cursor]
                cursor += 1
                let matched = rules.filter { $0.query.matches(entry.subject) }
                guard !matched.isEmpty else { continue }
                let line = entry.streamLine(matching: matched.map { ($0.id, $0.tag) }) + newline
                lastLine = line
                sinceFault += 1
                if sinceFault >= configuration.faultEveryPosts, let fault = takeFault(atConnect: false) {
                    sinceFault = 0
                    if !chunk.isEmpty { try await flush() }
                    if try await inject(fault, line: line, writer) { return }
                    // The faults that did not end the connection sent this post whole.
                    let id = entry.id
                    mutable.withLockedValue { m in m.streamedIDs.insert(id); m.state.streamedPosts = m.streamedIDs.count }
                    lastWrite = clock.monotonicMillis()
                    continue
                }
                chunk += line
                chunkIDs.append(entry.id)
                lines += 1
                if lines >= configuration.linesPerChunk { try await flush() }
            }
            if !chunk.isEmpty { try await flush() }
            lastWrite = clock.monotonicMillis()
        }
    }

    private func lastMatchingLine(before cursor: Int) -> [UInt8]? {
        let rules = mutable.withLockedValue { $0.parsedRules }
        for entry in feed.entries[..<min(cursor, feed.entries.count)].reversed() {
            let matched = rules.filter { $0.query.matches(entry.subject) }
            if !matched.isEmpty { return entry.streamLine(matching: matched.map { ($0.id, $0.tag) }) + [0x0D, 0x0A] }
        }
        return nil
    }

    /// Applies an in-stream fault around `line` (the post due next, or the last one sent). Returns
    /// true when the fault ended the connection.
    private func inject(_ fault: Fault, line: [UInt8]?, _ writer: LoopbackHTTPServer.ResponseWriter) async throws -> Bool {
        let newline: [UInt8] = [0x0D, 0x0A]
        switch fault {
        case .dropMidLine:
            if let line { try await writer.chunk(line.prefix(line.count / 2)) }
            return true  // no terminating chunk: the connection just ends
        case .stall:
            let start = configuration.clock.monotonicMillis()
            while !writer.isClosed && configuration.clock.elapsed(since: start) < configuration.stallLimit { try await Task.sleep(for: .milliseconds(5)) }
            return true
        case .operationalDisconnect:
            try await writer.chunk(json(Self.operationalDisconnectBody) + Data(newline))
            try await writer.end()
            return true
        case .malformedJSON:
            try await writer.chunk(Array("{\"data\":{\"id\":\"12".utf8) + [0x7D, 0x2C, 0x5B] + newline)
            if let line { try await writer.chunk(line) }
        case .splitUTF8:
            // Cut inside the first multi-byte character (mid-line when there is none).
            guard let line else { return false }
            let cut = line.firstIndex { $0 >= 0xC0 }.map { $0 + 1 } ?? line.count / 2
            try await writer.chunk(line[..<cut])
            try await writer.chunk(line[cut...])
        case .duplicate:
            guard let line else { return false }
            try await writer.chunk(line)
            try await writer.chunk(line)
        case .tooManyConnections, .serverError:
            break
        }
        return false
    }

    static var tooManyConnectionsBody: [String: Any] { [
        "title": "ConnectionException", "detail": "This stream is currently at the maximum allowed connection limit.",
        "connection_issue": "TooManyConnections", "type": "https://api.twitter.com/2/problems/streaming-connection",
    ] }
    static var operationalDisconnectBody: [String: Any] { ["errors": [[
        "title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
        "detail": "This stream has been disconnected upstream for operational reasons.",
        "type": "https://api.twitter.com/2/problems/operational-disconnect",
    ]]] }
}
