import ConvictionCore
import ConvictionPipeline
import Crypto
import Foundation
import ConvictionHTTP
import NIOHTTP1

/// The live dashboard, on the project's one HTTP server. Pages and panels are HTML with server-drawn SVG; every chart
/// has a JSON twin under `/api/`; `/events` is a server-sent event stream that says when a
/// symbol-day's data changed, and the page's script (served from `/static/`, no inline scripts,
/// so the content security policy can forbid them) then re-fetches its panels.
///
/// Bound to 127.0.0.1 by default. Bound elsewhere it requires a bearer token: the
/// `Authorization: Bearer` header, or a cookie set by signing in once at `/login` (a form).
public struct DashboardServer: Sendable {
    public struct Settings: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var token: Secret?
        /// How often `/events` checks for new data.
        public var refresh: Duration = .seconds(1)
        public init() {}
    }

    public struct ConfigurationError: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let description: String
    }

    public let data: DashboardData
    public let settings: Settings

    public init(data: DashboardData, settings: Settings) throws {
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(settings.host)
        if !loopback && settings.token == nil {
            throw ConfigurationError(description: "binding the dashboard to \(settings.host) needs a bearer token: set the token environment variable (default CONVICTION_DASHBOARD_TOKEN)")
        }
        self.data = data; self.settings = settings
    }

    /// Serves until the task is cancelled; `onRunning` gets the bound port.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let server = try await HTTPServer.bind(host: settings.host, port: settings.port, commonHeaders: Self.securityHeaders) { [self] request, writer in
            try await handle(request, writer)
        }
        await onRunning(server.port)
        await server.run()
    }

    func handle(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter) async throws {
        if let token = settings.token, request.path != "/login", !Self.authorized(request, token: token) {
            return try await writer.respond(.unauthorized, body: Data("a bearer token is required\n".utf8), contentType: "text/plain",
                                            headers: [("www-authenticate", "Bearer realm=\"conviction\"")])
        }
        guard request.method == .GET || (request.method == .POST && request.path == "/login") else {
            throw HTTPServer.Failure(.methodNotAllowed, "\(request.method) is not served here")
        }
        let query = request.query
        switch request.path {
        case "/":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: true)
            try await Self.html(writer, try await DashboardPage.render(data, symbol: symbol, date: date, live: true))
        case let path where path.hasPrefix("/panel/"):
            let name = String(path.dropFirst("/panel/".count))
            guard DashboardPage.panels.contains(name) else { throw HTTPServer.Failure(.notFound, "no panel \(name.prefix(32))") }
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            try await Self.html(writer, try await DashboardPage.panel(name, data, symbol: symbol, date: date))
        case "/svg/volume":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            let body = try await data.cached("svg|volume|\(symbol.rawValue)|\(date.isoString)") {
                Data(DashboardPage.volumeSVG(try await data.volume(symbol: symbol, date: date)).utf8)
            }
            try await Self.send(writer, body, type: "image/svg+xml")
        case "/svg/sentiment":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            try await Self.send(writer, Data(DashboardPage.sentimentSVG(try await data.sentiment(symbol: symbol, date: date)).utf8), type: "image/svg+xml")
        case "/svg/roc":
            let reports = try await data.reports()
            guard let report = query["run"].map({ id in reports.first { $0.runID == id } }) ?? reports.first, let svg = DashboardPage.rocSVG(report) else {
                throw HTTPServer.Failure(.notFound, "no such run, or it has no ROC curve")
            }
            try await Self.send(writer, Data(svg.utf8), type: "image/svg+xml")
        case "/api/days":
            try await Self.json(writer, try await data.days())
        case "/api/volume":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            let body = try await data.cached("json|volume|\(symbol.rawValue)|\(date.isoString)") {
                try Self.encode(try await data.volume(symbol: symbol, date: date))
            }
            try await Self.send(writer, body, type: "application/json")
        case "/api/sentiment":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            try await Self.json(writer, ["points": try await data.sentiment(symbol: symbol, date: date)])
        case "/api/posts":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            let limit = min(500, max(1, query["limit"].flatMap { Int($0) } ?? 20))
            try await Self.json(writer, ["posts": try await data.latestPosts(symbol: symbol, date: date, limit: limit)])
        case "/api/health":
            try await Self.json(writer, try await data.health())
        case "/api/runs":
            let limit = min(100, max(1, query["limit"].flatMap { Int($0) } ?? 5))
            try await Self.json(writer, ["runs": try await data.runs(limit: limit)])
        case "/events":
            let (symbol, date) = try await Self.symbolDay(query, data, defaulting: false)
            try await events(writer, symbol: symbol, date: date)
        case "/static/dashboard.js":
            try await Self.send(writer, Data(Self.script.utf8), type: "text/javascript; charset=utf-8")
        case "/login" where settings.token != nil:
            try await login(request, writer, token: settings.token!)
        default:
            throw HTTPServer.Failure(.notFound, "no page \(request.path.prefix(64))")
        }
    }

    /// Server-sent events: `update` whenever the day's counts, the stored total or the newest run change.
    func events(_ writer: HTTPServer.ResponseWriter, symbol: Symbol, date: CivilDate) async throws {
        try await writer.head(.ok, headers: [("content-type", "text/event-stream"), ("cache-control", "no-store")])
        var last: String?
        var quiet = 0
        while !Task.isCancelled && !writer.isClosed {
            let volume = try await data.volume(symbol: symbol, date: date)
            let health = try await data.health()
            let runs = try await data.runs(limit: 1)
            let state = "{\"posts\":\(volume.posts),\"scored\":\(volume.scored),\"stored\":\(health.postsStored),\"run\":\"\(runs.first?.runID ?? "")\"}"
            if state != last {
                try await writer.chunk(Data("event: update\ndata: \(state)\n\n".utf8))
                last = state
                quiet = 0
            } else {
                quiet += 1
                // A comment now and then, so proxies keep the stream open.
                if quiet % 15 == 0 { try await writer.chunk(Data(": keep-alive\n\n".utf8)) }
            }
            try await Task.sleep(for: settings.refresh)
        }
        try? await writer.end()
    }

    /// The token goes in a form's body, never in a URL (history, proxy logs).
    func login(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter, token: Secret) async throws {
        guard request.method == .POST else {
            return try await Self.html(writer, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Conviction</title></head><body><form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" name=\"token\" autofocus></label> <button>Open the dashboard</button></form></body></html>")
        }
        let form = URLComponents(string: "/?" + String(decoding: request.body, as: UTF8.self).replacingOccurrences(of: "+", with: "%20"))
        guard let given = form?.queryItems?.first(where: { $0.name == "token" })?.value, Self.matches(given, token) else {
            throw HTTPServer.Failure(.unauthorized, "wrong or missing token")
        }
        try await writer.respond(.seeOther, body: Data(), contentType: "text/plain",
                                 headers: [("location", "/"), ("set-cookie", "\(Self.cookie)=\(given); Path=/; HttpOnly; SameSite=Strict")])
    }

    /// The page's only script: on each `update` event, re-fetch every panel.
    static let script = """
    (function () {
      var live = document.body.getAttribute('data-live');
      if (!live || !window.EventSource) return;
      var source = new EventSource(live);
      source.addEventListener('update', function () {
        document.querySelectorAll('[data-src]').forEach(function (panel) {
          fetch(panel.getAttribute('data-src'), {credentials: 'same-origin'})
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (html) { if (html !== null) { panel.innerHTML = html; } });
        });
        document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || 0) + 1));
      });
    })();
    """

    /// The symbol and day a request names; with `defaulting`, the first symbol and its newest day.
    static func symbolDay(_ query: [String: String], _ data: DashboardData, defaulting: Bool) async throws -> (Symbol, CivilDate) {
        let symbolText = query["symbol"]
        guard let symbolText = symbolText ?? (defaulting ? data.symbols.first?.rawValue : nil) else {
            throw HTTPServer.Failure(.badRequest, "missing symbol= (one of \(data.symbols.map(\.rawValue).joined(separator: ", ")))")
        }
        let symbol = Symbol(symbolText)
        guard data.symbols.contains(symbol) else {
            throw HTTPServer.Failure(.notFound, "unknown symbol \(symbolText.prefix(16)) (known: \(data.symbols.map(\.rawValue).joined(separator: ", ")))")
        }
        if let text = query["date"] {
            guard let date = CivilDate(iso: text) else { throw HTTPServer.Failure(.badRequest, "date= must be YYYY-MM-DD") }
            return (symbol, date)
        }
        guard defaulting else { throw HTTPServer.Failure(.badRequest, "missing date= (YYYY-MM-DD)") }
        guard let newest = try await data.days()[symbol.rawValue]?.last.flatMap(CivilDate.init(iso:)) else {
            throw HTTPServer.Failure(.notFound, "no posts for \(symbol.rawValue) yet: run `conviction ingest`")
        }
        return (symbol, newest)
    }

    static func send(_ writer: HTTPServer.ResponseWriter, _ body: Data, type: String) async throws {
        try await writer.respond(.ok, body: body, contentType: type, headers: [("cache-control", "no-store")])
    }

    static func html(_ writer: HTTPServer.ResponseWriter, _ text: String) async throws {
        try await send(writer, Data(text.utf8), type: "text/html; charset=utf-8")
    }

    static func json(_ writer: HTTPServer.ResponseWriter, _ value: some Encodable) async throws {
        try await send(writer, try encode(value), type: "application/json")
    }

    /// snake_case keys, sorted, as the README documents them.
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Headers that keep injected content inert: only same-origin scripts, no framing, no sniffing.
    static let securityHeaders = [
        ("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ]

    static let cookie = "conviction_dashboard"

    /// The token from the `Authorization: Bearer` header or the sign-in cookie.
    static func authorized(_ request: HTTPServer.Request, token: Secret) -> Bool {
        let header = request.headers.first(name: "authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let cookie = request.headers["cookie"].flatMap { $0.split(separator: ";") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(Self.cookie + "=") }.map { String($0.dropFirst(Self.cookie.count + 1)) }
        guard let given = header ?? cookie else { return false }
        return matches(given, token)
    }

    /// Compares digests, so the time taken does not tell how much of the token was right.
    static func matches(_ given: String, _ token: Secret) -> Bool {
        Data(SHA256.hash(data: Data(given.utf8))) == Data(SHA256.hash(data: Data(token.reveal().utf8)))
    }
}
