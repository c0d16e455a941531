import AsyncHTTPClient
import ConvictionCore
import ConvictionDashboard
import ConvictionHTTP
import ConvictionIngest
@testable import ConvictionPipeline
import ConvictionStore
import ConvictionTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// A store whose contents the tests know: AAPL posts on 2026-01-05, some scored, some not yet,
/// some carrying HTML and script payloads, with 1-minute bars.
enum KnownStore {
    static let day = CivilDate(iso: "2026-01-05")!
    static var dayStart: EpochMillis { Int64(day.daysSinceEpoch) * Timestamps.day }
    static let payloads = ["<script>document.body.setAttribute('data-pwned','script')</script>",
                           "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">",
                           "</td></tr></table><svg onload=\"document.body.setAttribute('data-pwned','svg')\">"]

    /// (minute of the day, label or nil when not scored, text)
    static let posts: [(Int, SentimentScore.Label?, String)] = [
        (870, .positive, "$AAPL beats estimates"), (871, .positive, "$AAPL buying more"), (872, .negative, "$AAPL weak guidance"),
        (873, .neutral, "$AAPL meeting Tuesday"), (900, nil, "$AAPL unscored one"), (901, nil, "$AAPL unscored two"),
        (1255, .negative, "$AAPL selling"),
    ] + payloads.enumerated().map { (1256 + $0.offset, .neutral, "$AAPL " + $0.element) }

    static func payload(id: String, text: String, createdAt: EpochMillis) -> Data {
        let object: [String: Any] = ["data": ["id": id, "text": text, "created_at": Timestamps.iso8601(createdAt), "author_id": "42", "lang": "en",
                                              "public_metrics": ["retweet_count": 0, "reply_count": 0, "like_count": 1, "quote_count": 0],
                                              "entities": ["cashtags": [["start": 0, "end": 5, "tag": "AAPL"]]]],
                                     "includes": ["users": [["id": "42", "username": "u42", "public_metrics": ["followers_count": 100]]]]]
        return try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// Writes the fixture; `extra` more unscored posts go into a part file of their own.
    static func write(_ store: any ObjectStore) async throws {
        let aapl = Symbol("AAPL")
        var raw: [Data] = []
        var scores: [SentimentScore] = []
        for (n, (minute, label, text)) in posts.enumerated() {
            let created = dayStart + Int64(minute) * Timestamps.minute + Int64(n) * 1000
            let id = String(1_900_000_000_000_000_000 + n)
            raw.append(RawPostLine.encode(payload: payload(id: id, text: text, createdAt: created), receivedAt: created + 500))
            if let label {
                let p: (Double, Double, Double) = label == .positive ? (0.8, 0.1, 0.1) : label == .negative ? (0.1, 0.8, 0.1) : (0.1, 0.1, 0.8)
                scores.append(SentimentScore(postID: id, symbol: aapl, createdAt: created, receivedAt: created + 500, authorFollowers: 100,
                                             positive: p.0, negative: p.1, neutral: p.2, scorer: "lexicon-v1", modelHash: "builtin"))
            }
        }
        try await store.put(Partition(.rawPosts, date: day, symbol: aapl).prefix + "part-a.jsonl.gz", data: try JSONLines.encode(raw))
        try await store.put(Partition(.scores, date: day, symbol: aapl).prefix + "part-0.parquet", data: try MarketTables.encode(scores: scores))
        let bars: [PriceBar] = (870..<880).map { (m: Int) -> PriceBar in
            let start: EpochMillis = dayStart + Int64(m) * Timestamps.minute
            return PriceBar(symbol: aapl, start: start, end: start + Timestamps.minute, open: 100, high: 101, low: 99, close: Double(100 + m - 870), volume: 1000)
        }
        try await store.put(Partition(.bars, date: day, symbol: aapl).prefix + "part-0.parquet", data: try MarketTables.encode(bars: bars))
    }

    /// One more unscored post, in a new part file (as a stream commit would add).
    static func addPost(_ store: any ObjectStore, minute: Int) async throws {
        let created = dayStart + Int64(minute) * Timestamps.minute
        let line = RawPostLine.encode(payload: payload(id: "1900000000000000999", text: "$AAPL late post", createdAt: created), receivedAt: created)
        try await store.put(Partition(.rawPosts, date: day, symbol: Symbol("AAPL")).prefix + "part-b.jsonl.gz", data: try JSONLines.encode([line]))
    }

    /// Expected posts per 5-minute bar and label name (`unscored` for posts without a score).
    static var expectedCounts: [Int: [String: Int]] {
        var counts: [Int: [String: Int]] = [:]
        for (minute, label, _) in posts { counts[minute / 5, default: [:]][label?.rawValue ?? "unscored", default: 0] += 1 }
        return counts
    }
}

/// The dashboard over HTTP: every JSON API and SVG against the known store, escaping, the
/// security headers, the bearer token, and server-sent events when new posts arrive.
@Suite(.timeLimit(.minutes(10))) struct DashboardServerTests {
    struct Running {
        let base: String
        let task: Task<Void, any Error>
        func stop() { task.cancel() }
    }

    func start(_ store: any ObjectStore, token: String? = nil, metricsURL: String? = nil) async throws -> Running {
        var settings = DashboardServer.Settings()
        settings.port = 0
        settings.refresh = .milliseconds(50)
        settings.token = token.map(Secret.init)
        let data = DashboardData(store: store, symbols: [Symbol("AAPL"), Symbol("TSLA")], metricsURL: metricsURL, ttl: .milliseconds(50))
        let server = try DashboardServer(data: data, settings: settings)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return Running(base: "http://127.0.0.1:\(port)", task: task)
    }

    /// A client that shows redirects instead of following them.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func get(_ url: String, headers: [(String, String)] = [], post: String? = nil) async throws -> (status: Int, headers: [(String, String)], body: String) {
        var request = HTTPClientRequest(url: url)
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let post {
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: post))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 24)
        return (Int(response.status.code), response.headers.map { ($0.name, $0.value) }, String(buffer: body))
    }

    func knownStore() async throws -> LocalObjectStore {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("dashboard"))
        try await KnownStore.write(store)
        return store
    }

    @Test func theWidgetAndItsJSONEqualTheStoresCounts() async throws {
        let server = try await start(try await knownStore())
        defer { server.stop() }
        let q = "symbol=AAPL&date=2026-01-05"
        let json = try await get("\(server.base)/api/volume?\(q)")
        #expect(json.status == 200)
        let volume = try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as! [String: Any]
        #expect(volume["posts"] as? Int == KnownStore.posts.count && volume["scored"] as? Int == KnownStore.posts.count - 2)
        let bars = volume["bars"] as! [[String: Any]]
        #expect(bars.count == 288)
        for (i, bar) in bars.enumerated() {
            let expected = KnownStore.expectedCounts[i] ?? [:]
            for label in ["negative", "neutral", "positive", "unscored"] {
                #expect(bar[label] as? Int == expected[label] ?? 0, "bar \(i) \(label)")
            }
            #expect(bar["total"] as? Int == expected.values.reduce(0, +))
        }
        #expect(bars[174]["close"] as? Double == 104, "the bar's close is its last minute's close")
        #expect(bars[175]["close"] as? Double == 109)
        // The SVG draws exactly those counts.
        let svg = try await get("\(server.base)/svg/volume?\(q)")
        #expect(svg.headers.contains { $0.0.lowercased() == "content-type" && $0.1 == "image/svg+xml" })
        #expect(Self.drawnCounts(svg.body) == KnownStore.expectedCounts)
    }

    /// `bar index -> label -> count` from the widget's `data-bar`/`data-label`/`data-count` attributes.
    static func drawnCounts(_ svg: String) -> [Int: [String: Int]] {
        var counts: [Int: [String: Int]] = [:]
        for group in svg.components(separatedBy: "<g data-bar=\"").dropFirst() {
            guard let start = Timestamps.parseISO8601(String(group.prefix { $0 != "\"" })) else { continue }
            let bar = Int((start - KnownStore.dayStart) / (5 * Timestamps.minute))
            for rect in group.components(separatedBy: "data-label=\"").dropFirst() {
                let label = String(rect.prefix { $0 != "\"" })
                let count = Int(rect.components(separatedBy: "data-count=\"")[1].prefix { $0 != "\"" })!
                counts[bar, default: [:]][label] = count
            }
        }
        return counts
    }

    @Test func postsAreEscapedAndTheJSONCarriesThemVerbatim() async throws {
        let server = try await start(try await knownStore())
        defer { server.stop() }
        let page = try await get("\(server.base)/?symbol=AAPL&date=2026-01-05")
        #expect(page.status == 200)
        for payload in KnownStore.payloads {
            #expect(!page.body.contains(payload), "raw payload in the page: \(payload)")
        }
        #expect(page.body.contains("&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;script&#39;)&lt;/script&gt;"))
        #expect(page.body.components(separatedBy: "<script").count == 2, "one script: the page's own, from /static/")
        let csp = page.headers.first { $0.0.lowercased() == "content-security-policy" }?.1 ?? ""
        #expect(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"))
        let posts = try await get("\(server.base)/api/posts?symbol=AAPL&date=2026-01-05&limit=3")
        let rows = (try JSONSerialization.jsonObject(with: Data(posts.body.utf8)) as! [String: Any])["posts"] as! [[String: Any]]
        #expect(rows.count == 3 && Set(rows.map { $0["text"] as! String }) == Set(KnownStore.payloads.map { "$AAPL " + $0 }))
        // Unknown symbols and bad dates are clear errors.
        #expect(try await get("\(server.base)/api/volume?symbol=ZZZZ&date=2026-01-05").status == 404)
        #expect(try await get("\(server.base)/api/volume?symbol=AAPL&date=yesterday").status == 400)
        #expect(try await get("\(server.base)/panel/nope?symbol=AAPL&date=2026-01-05").status == 404)
    }

    @Test func sentimentComesFromTheFeatureRowsOfTheDay() async throws {
        let store = try await knownStore()
        let times: [Int64?] = [KnownStore.dayStart - Timestamps.hour, KnownStore.dayStart + 15 * Timestamps.hour, KnownStore.dayStart + 16 * Timestamps.hour].map { $0 * 1000 }
        let table = ParquetTable(columns: [ParquetColumn(name: "timestamp", nullable: false, values: .timestamp(times)),
                                           ParquetColumn(name: "sent_5m", values: .double([0.9, 0.25, nil])),
                                           ParquetColumn(name: "sent_60m", values: .double([0.9, -0.5, 0.125]))])
        try await store.put("features/symbol=AAPL/part-0.parquet", data: try ParquetWriter.encode(table))
        let server = try await start(store)
        defer { server.stop() }
        let body = try await get("\(server.base)/api/sentiment?symbol=AAPL&date=2026-01-05").body
        let points = (try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any])["points"] as! [[String: Any]]
        #expect(points.count == 2, "only the day's rows: \(body)")
        #expect(points.first?["time"] as? String == "2026-01-05T15:00:00.000Z" && points.first?["sent_5m"] as? Double == 0.25 && points.first?["sent_60m"] as? Double == -0.5)
        #expect(points.last?["sent_5m"] == nil || points.last?["sent_5m"] is NSNull)
        let svg = try await get("\(server.base)/svg/sentiment?symbol=AAPL&date=2026-01-05").body
        #expect(svg.contains("data-series=\"sent_5m\" data-points=\"1\"") && svg.contains("data-series=\"sent_60m\" data-points=\"2\""), "\(svg)")
    }

    @Test func healthAndRunsAnswerWithoutRuns() async throws {
        let server = try await start(try await knownStore())
        defer { server.stop() }
        let health = try JSONSerialization.jsonObject(with: Data(try await get("\(server.base)/api/health").body.utf8)) as! [String: Any]
        #expect(health["source"] as? String == "store" && health["posts_stored"] as? Int == KnownStore.posts.count)
        let runs = try JSONSerialization.jsonObject(with: Data(try await get("\(server.base)/api/runs").body.utf8)) as! [String: Any]
        #expect((runs["runs"] as? [Any])?.isEmpty == true)
        #expect(try await get("\(server.base)/panel/runs?symbol=AAPL&date=2026-01-05").body.contains("no runs yet"))
        #expect(try await get("\(server.base)/svg/roc").status == 404)
    }

    @Test func healthComesLiveFromTheStreamsMetrics() async throws {
        let metrics = IngestMetrics()
        metrics.update { s in
            s.connected = true; s.lagSeconds = 2.5; s.postsBySymbol = ["AAPL": 10, "TSLA": 4]
            s.rejectedByReason = ["bot_pattern": 3, "cashtag_spam": 1]; s.reconnectsByClass = ["http": 2]
        }
        let endpoint = try await metrics.serve(port: 0)
        let server = try await start(try await knownStore(), metricsURL: endpoint.baseURL + "/metrics")
        defer { server.stop(); Task { await endpoint.close() } }
        let health = try JSONSerialization.jsonObject(with: Data(try await get("\(server.base)/api/health").body.utf8)) as! [String: Any]
        #expect(health["source"] as? String == "metrics" && health["connected"] as? Bool == true && health["lag_seconds"] as? Double == 2.5, "\(health)")
        #expect(health["posts_stored"] as? Int == 14)
        #expect(health["rejected"] as? [String: Int] == ["bot_pattern": 3, "cashtag_spam": 1] && health["reconnects"] as? [String: Int] == ["http": 2])
        let panel = try await get("\(server.base)/panel/health?symbol=AAPL&date=2026-01-05").body
        #expect(panel.contains(">yes<") && panel.contains("bot_pattern 3, cashtag_spam 1") && panel.contains("2.5 s"))
    }

    @Test func aTokenGuardsEveryRoute() async throws {
        #expect(throws: DashboardServer.ConfigurationError.self) {
            var open = DashboardServer.Settings()
            open.host = "0.0.0.0"
            _ = try DashboardServer(data: DashboardData(store: try LocalObjectStore(root: TestSupport.temporaryDirectory("d")), symbols: []), settings: open)
        }
        let server = try await start(try await knownStore(), token: "s3cret-token")
        defer { server.stop() }
        let url = "\(server.base)/api/volume?symbol=AAPL&date=2026-01-05"
        let refused = try await get(url)
        #expect(refused.status == 401 && !refused.body.contains("s3cret"))
        #expect(try await get(url, headers: [("authorization", "Bearer wrong")]).status == 401)
        #expect(try await get(url, headers: [("authorization", "Bearer s3cret-token")]).status == 200)
        #expect(try await get("\(server.base)/login").body.contains("type=\"password\""), "a form, so the token never sits in a URL")
        #expect(try await get("\(server.base)/login", post: "token=wrong").status == 401)
        let login = try await get("\(server.base)/login", post: "token=s3cret-token")
        let cookie = try #require(login.headers.first { $0.0.lowercased() == "set-cookie" }?.1)
        #expect(login.status == 303 && cookie.contains("HttpOnly"))
        #expect(try await get(url, headers: [("cookie", String(cookie.prefix { $0 != ";" }))]).status == 200)
    }

    @Test func eventsAnnounceNewPosts() async throws {
        let store = try await knownStore()
        let server = try await start(store)
        defer { server.stop() }
        let request = HTTPClientRequest(url: "\(server.base)/events?symbol=AAPL&date=2026-01-05")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        #expect(response.headers.first(name: "content-type") == "text/event-stream")
        var text = ""
        var added = false
        for try await chunk in response.body {
            text += String(buffer: chunk)
            if !added, text.contains("\"posts\":\(KnownStore.posts.count),") {
                try await KnownStore.addPost(store, minute: 1300)
                added = true
            }
            if text.contains("\"posts\":\(KnownStore.posts.count + 1),") { break }
        }
        let events = text.components(separatedBy: "event: update\n").count - 1
        #expect(added && events >= 2, "an event at connect, and again when the post arrived: \(text)")
    }
}
