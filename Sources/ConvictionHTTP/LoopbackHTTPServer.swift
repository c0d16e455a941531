import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server on SwiftNIO for the ingester's `/metrics` and the local X API server.
/// One request per connection (`connection: close`); handlers write the response themselves, so
/// they can stream chunks, stall, or cut a connection mid-line.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public let method: HTTPMethod
        public let path: String
        public let query: [String: String]
        public let headers: HTTPHeaders
        public let body: Data
    }

    /// Writes one response. Every write is flushed: each becomes its own chunk on the wire.
    public struct ResponseWriter: Sendable {
        let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
        let closed: NIOLockedValueBox<Bool>

        /// True once the client has gone (a handler that stalls on purpose polls this).
        public var isClosed: Bool { closed.withLockedValue { $0 } }

        public func head(_ status: HTTPResponseStatus, headers: [(String, String)] = []) async throws {
            var h = HTTPHeaders(headers)
            h.replaceOrAdd(name: "connection", value: "close")
            if !h.contains(name: "content-length") { h.replaceOrAdd(name: "transfer-encoding", value: "chunked") }
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: h)))
        }

        public func chunk(_ bytes: some Sequence<UInt8>) async throws {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: Array(bytes)))))
        }

        public func end() async throws { try await outbound.write(.end(nil)) }

        /// A whole response with a body.
        public func respond(_ status: HTTPResponseStatus, body: Data, contentType: String = "application/json",
                            headers: [(String, String)] = []) async throws {
            try await head(status, headers: headers + [("content-type", contentType), ("content-length", String(body.count))])
            if !body.isEmpty { try await chunk(body) }
            try await end()
        }
    }

    public typealias Handler = @Sendable (Request, ResponseWriter) async throws -> Void

    public let host: String
    public let port: Int
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let handler: Handler

    private init(host: String, port: Int, channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
                 handler: @escaping Handler) {
        self.host = host; self.port = port; self.channel = channel; self.handler = handler
    }

    /// Binds (port 0 picks a free one); call `run()` to serve.
    public static func bind(host: String = "127.0.0.1", port: Int = 0, handler: @escaping Handler) async throws -> LoopbackHTTPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        return LoopbackHTTPServer(host: host, port: channel.channel.localAddress?.port ?? port, channel: channel, handler: handler)
    }

    public var baseURL: String { "http://\(host):\(port)" }

    /// Serves until the task is cancelled or `close()` is called.
    public func run() async {
        await withDiscardingTaskGroup { group in
            try? await channel.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    public func close() async { try? await channel.channel.close() }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let closed = NIOLockedValueBox(false)
        connection.channel.closeFuture.whenComplete { _ in closed.withLockedValue { $0 = true } }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = Data()
            for try await part in inbound {
                switch part {
                case .head(let h): head = h; body = Data()
                case .body(var buffer): body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
                case .end:
                    guard let head else { return }
                    let components = URLComponents(string: head.uri)
                    var query: [String: String] = [:]
                    for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
                    let request = Request(method: head.method, path: components?.path ?? head.uri, query: query, headers: head.headers, body: body)
                    try await handler(request, ResponseWriter(outbound: outbound, closed: closed))
                    return  // one request per connection
                }
            }
        }
    }
}
