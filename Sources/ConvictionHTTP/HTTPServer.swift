import ConvictionCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The one HTTP server: the dashboard, the ingester's `/metrics`, and the local X API and GPU
/// stand-ins. A small layer on SwiftNIO rather than Hummingbird because the stand-ins need the
/// wire itself: handlers write their response part by part, so they can stream chunks, stall,
/// cut a connection mid-line, or notice that the client has gone (see docs/architecture.md).
///
/// One request per connection (`connection: close`). A request must arrive whole within
/// `Limits.requestTimeout` and carry at most `Limits.maxBodyBytes`, so a slow or oversized client
/// cannot hold the server when it is bound beyond loopback (the dashboard with a token).
public final class HTTPServer: Sendable {
    public struct Request: Sendable {
        public let method: HTTPMethod
        public let path: String
        public let query: [String: String]
        public let headers: HTTPHeaders
        public let body: Data
    }

    public struct Limits: Sendable {
        public var maxBodyBytes = 1 << 20
        public var requestTimeout: Duration = .seconds(30)
        public init() {}
    }

    /// Thrown by a handler before it writes: answered as a plain-text response with this status.
    public struct Failure: Error, CustomStringConvertible {
        public let status: HTTPResponseStatus
        public let message: String
        public let headers: [(String, String)]
        public init(_ status: HTTPResponseStatus, _ message: String, headers: [(String, String)] = []) {
            self.status = status; self.message = message; self.headers = headers
        }
        public var description: String { "\(status.code) \(message)" }
    }

    /// Writes one response. Every write is flushed: each becomes its own chunk on the wire.
    public struct ResponseWriter: Sendable {
        let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
        let closed: NIOLockedValueBox<Bool>
        let headWritten: NIOLockedValueBox<Bool>
        let commonHeaders: [(String, String)]

        /// True once the client has gone (a handler that stalls on purpose polls this).
        public var isClosed: Bool { closed.withLockedValue { $0 } }

        public func head(_ status: HTTPResponseStatus, headers: [(String, String)] = []) async throws {
            var h = HTTPHeaders(commonHeaders)
            for (name, value) in headers { h.replaceOrAdd(name: name, value: value) }
            h.replaceOrAdd(name: "connection", value: "close")
            if !h.contains(name: "content-length") { h.replaceOrAdd(name: "transfer-encoding", value: "chunked") }
            headWritten.withLockedValue { $0 = true }
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: h)))
        }

        public func chunk(_ bytes: some Sequence<UInt8>) async throws {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: Array(bytes)))))
        }

        public func end() async throws { try await outbound.write(.end(nil)) }

        /// A whole response with a body.
        public func respond(_ status: HTTPResponseStatus, body: Data, contentType: String = "application/json",
                            headers: [(String, String)] = []) async throws {
            try await head(status, headers: [("content-type", contentType), ("content-length", String(body.count))] + headers)
            if !body.isEmpty { try await chunk(body) }
            try await end()
        }
    }

    public typealias Handler = @Sendable (Request, ResponseWriter) async throws -> Void
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public let host: String
    public let port: Int
    private let channel: NIOAsyncChannel<Connection, Never>
    private let handler: Handler
    private let limits: Limits
    private let commonHeaders: [(String, String)]

    private init(host: String, port: Int, channel: NIOAsyncChannel<Connection, Never>, limits: Limits,
                 commonHeaders: [(String, String)], handler: @escaping Handler) {
        self.host = host; self.port = port; self.channel = channel; self.limits = limits
        self.commonHeaders = commonHeaders; self.handler = handler
    }

    /// Binds (port 0 picks a free one); call `run()` to serve. `commonHeaders` go on every response.
    public static func bind(host: String = "127.0.0.1", port: Int = 0, limits: Limits = Limits(),
                            commonHeaders: [(String, String)] = [], handler: @escaping Handler) async throws -> HTTPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(RequestDeadline(timeout: .nanoseconds(Int64(limits.requestTimeout.seconds * 1e9))))
                    return try Connection(wrappingChannelSynchronously: child)
                }
            }
        return HTTPServer(host: host, port: channel.channel.localAddress?.port ?? port, channel: channel, limits: limits,
                          commonHeaders: commonHeaders, handler: handler)
    }

    public var baseURL: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// Serves until the task is cancelled or `close()` is called; then cancels the requests in flight.
    public func run() async {
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                try? await channel.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
                group.cancelAll()
            }
        } onCancel: { [channel] in
            channel.channel.close(promise: nil)
        }
    }

    public func close() async { try? await channel.channel.close() }

    private func serve(_ connection: Connection) async {
        let closed = NIOLockedValueBox(false)
        connection.channel.closeFuture.whenComplete { _ in closed.withLockedValue { $0 = true } }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = Data()
            let writer = ResponseWriter(outbound: outbound, closed: closed, headWritten: NIOLockedValueBox(false), commonHeaders: commonHeaders)
            for try await part in inbound {
                switch part {
                case .head(let h): head = h; body = Data()
                case .body(var buffer):
                    guard body.count + buffer.readableBytes <= limits.maxBodyBytes else {
                        return try await writer.respond(.payloadTooLarge, body: Data("request body over \(limits.maxBodyBytes) bytes\n".utf8), contentType: "text/plain")
                    }
                    body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
                case .end:
                    guard let head else { return }
                    let components = URLComponents(string: head.uri)
                    var query: [String: String] = [:]
                    for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
                    let request = Request(method: head.method, path: components?.path ?? head.uri, query: query, headers: head.headers, body: body)
                    do {
                        try await handler(request, writer)
                    } catch where !writer.headWritten.withLockedValue({ $0 }) && !(error is CancellationError) {
                        let failure = error as? Failure ?? Failure(.internalServerError, "internal error")
                        try await writer.respond(failure.status, body: Data((failure.message + "\n").utf8), contentType: "text/plain; charset=utf-8",
                                                 headers: failure.headers)
                    }
                    return  // one request per connection
                }
            }
        }
    }
}

/// Closes a connection whose request has not arrived whole within the timeout. It runs on the
/// event loop, so it holds even when the tasks that serve requests are slow to start.
final class RequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.scheduleTask(in: timeout) { [channel = context.channel] in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { deadline?.cancel(); deadline = nil }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }
}
