import ConvictionCore
import ConvictionPipeline
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The live dashboard (Hummingbird). Pages and panels are HTML with server-drawn SVG; every chart
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

    /// Serves until cancelled or SIGINT/SIGTERM; `onRunning` gets the bound port.
    public func run(logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "conviction-dashboard"),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) }, logger: logger)
        try await app.runService()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeaders())
        if let token = settings.token { router.add(middleware: BearerToken(token: token)) }
        let data = self.data
        let refresh = settings.refresh

        router.get("/") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: true)
            return Self.html(try await DashboardPage.render(data, symbol: symbol, date: date, live: true))
        }
        router.get("/panel/:name") { request, context -> Response in
            let name = context.parameters.get("name") ?? ""
            guard DashboardPage.panels.contains(name) else { throw HTTPError(.notFound, message: "no panel \(name)") }
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            return Self.html(try await DashboardPage.panel(name, data, symbol: symbol, date: date))
        }
        router.get("/svg/volume") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            let body = try await data.cached("svg|volume|\(symbol.rawValue)|\(date.isoString)") {
                ByteBuffer(string: DashboardPage.volumeSVG(try await data.volume(symbol: symbol, date: date)))
            }
            return Self.response(body, type: "image/svg+xml")
        }
        router.get("/svg/sentiment") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            return Self.response(DashboardPage.sentimentSVG(try await data.sentiment(symbol: symbol, date: date)), type: "image/svg+xml")
        }
        router.get("/svg/roc") { request, _ -> Response in
            let reports = try await data.reports()
            let wanted = request.uri.queryParameters["run"].map(String.init)
            guard let report = wanted.map({ id in reports.first { $0.runID == id } }) ?? reports.first, let svg = DashboardPage.rocSVG(report) else {
                throw HTTPError(.notFound, message: "no such run, or it has no ROC curve")
            }
            return Self.response(svg, type: "image/svg+xml")
        }
        router.get("/api/days") { _, _ -> Response in try Self.json(try await data.days()) }
        router.get("/api/volume") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            let body = try await data.cached("json|volume|\(symbol.rawValue)|\(date.isoString)") {
                try Self.encode(try await data.volume(symbol: symbol, date: date))
            }
            return Self.response(body, type: "application/json")
        }
        router.get("/api/sentiment") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            return try Self.json(["points": try await data.sentiment(symbol: symbol, date: date)])
        }
        router.get("/api/posts") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            let limit = min(500, max(1, request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 20))
            return try Self.json(["posts": try await data.latestPosts(symbol: symbol, date: date, limit: limit)])
        }
        router.get("/api/health") { _, _ -> Response in try Self.json(try await data.health()) }
        router.get("/api/runs") { request, _ -> Response in
            let limit = min(100, max(1, request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 5))
            return try Self.json(["runs": try await data.runs(limit: limit)])
        }
        router.get("/events") { request, _ -> Response in
            let (symbol, date) = try await Self.symbolDay(request, data, defaulting: false)
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                            body: ResponseBody { writer in
                                var last: String?
                                var quiet = 0
                                while !Task.isCancelled {
                                    let volume = try await data.volume(symbol: symbol, date: date)
                                    let health = try await data.health()
                                    let runs = try await data.runs(limit: 1)
                                    let state = "{\"posts\":\(volume.posts),\"scored\":\(volume.scored),\"stored\":\(health.postsStored),\"run\":\"\(runs.first?.runID ?? "")\"}"
                                    if state != last {
                                        try await writer.write(ByteBuffer(string: "event: update\ndata: \(state)\n\n"))
                                        last = state
                                        quiet = 0
                                    } else {
                                        quiet += 1
                                        // A comment now and then, so proxies keep the stream open.
                                        if quiet % 15 == 0 { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                                    }
                                    try await Task.sleep(for: refresh)
                                }
                                try await writer.finish(nil)
                            })
        }
        router.get("/static/dashboard.js") { _, _ -> Response in Self.response(Self.script, type: "text/javascript; charset=utf-8") }
        if let token = settings.token {
            // The token goes in a form's body, never in a URL (history, proxy logs).
            router.get("/login") { _, _ -> Response in
                Self.html("<!doctype html><html><head><meta charset=\"utf-8\"><title>Conviction</title></head><body><form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" name=\"token\" autofocus></label> <button>Open the dashboard</button></form></body></html>")
            }
            router.post("/login") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 4096)
                let form = URLComponents(string: "/?" + String(buffer: body).replacingOccurrences(of: "+", with: "%20"))
                guard let given = form?.queryItems?.first(where: { $0.name == "token" })?.value, BearerToken.matches(given, token) else {
                    throw HTTPError(.unauthorized, message: "wrong or missing token")
                }
                return Response(status: .seeOther, headers: [.location: "/", .setCookie: "\(BearerToken.cookie)=\(given); Path=/; HttpOnly; SameSite=Strict"])
            }
        }
        return router
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
    static func symbolDay(_ request: Request, _ data: DashboardData, defaulting: Bool) async throws -> (Symbol, CivilDate) {
        let query = request.uri.queryParameters
        let symbolText = query["symbol"].map(String.init)
        guard let symbolText = symbolText ?? (defaulting ? data.symbols.first?.rawValue : nil) else {
            throw HTTPError(.badRequest, message: "missing symbol= (one of \(data.symbols.map(\.rawValue).joined(separator: ", ")))")
        }
        let symbol = Symbol(symbolText)
        guard data.symbols.contains(symbol) else {
            throw HTTPError(.notFound, message: "unknown symbol \(symbolText.prefix(16)) (known: \(data.symbols.map(\.rawValue).joined(separator: ", ")))")
        }
        if let text = query["date"] {
            guard let date = CivilDate(iso: String(text)) else { throw HTTPError(.badRequest, message: "date= must be YYYY-MM-DD") }
            return (symbol, date)
        }
        guard defaulting else { throw HTTPError(.badRequest, message: "missing date= (YYYY-MM-DD)") }
        guard let newest = try await data.days()[symbol.rawValue]?.last.flatMap(CivilDate.init(iso:)) else {
            throw HTTPError(.notFound, message: "no posts for \(symbol.rawValue) yet: run `conviction ingest`")
        }
        return (symbol, newest)
    }

    static func response(_ text: String, type: String) -> Response { response(ByteBuffer(string: text), type: type) }

    static func response(_ body: ByteBuffer, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: body))
    }

    static func html(_ text: String) -> Response { response(text, type: "text/html; charset=utf-8") }

    static func json(_ value: some Encodable) throws -> Response { response(try encode(value), type: "application/json") }

    /// snake_case keys, sorted, as the README documents them.
    static func encode(_ value: some Encodable) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: try encoder.encode(value))
    }
}

/// Headers that keep injected content inert: only same-origin scripts, no framing, no sniffing.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = BasicRequestContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

/// Requires the token on every request but `/login`.
struct BearerToken: RouterMiddleware {
    typealias Context = BasicRequestContext
    static let cookie = "conviction_dashboard"
    let token: Secret

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/login" { return try await next(request, context) }
        let header = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let cookie = request.headers[values: .cookie].flatMap { $0.split(separator: ";") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(Self.cookie + "=") }.map { String($0.dropFirst(Self.cookie.count + 1)) }
        guard let given = header ?? cookie, Self.matches(given, token) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"conviction\""],
                            body: .init(byteBuffer: ByteBuffer(string: "a bearer token is required\n")))
        }
        return try await next(request, context)
    }

    /// Compares digests, so the time taken does not tell how much of the token was right.
    static func matches(_ given: String, _ token: Secret) -> Bool {
        Data(SHA256.hash(data: Data(given.utf8))) == Data(SHA256.hash(data: Data(token.reveal().utf8)))
    }
}
