import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The one HTTP server: handler failures become plain responses, oversized or slow requests are
/// refused, responses stream chunk by chunk, and cancelling the server ends the requests in flight.
@Suite(.timeLimit(.minutes(2))) struct HTTPServerTests {
    func serve(limits: HTTPServer.Limits = .init(), _ handler: @escaping HTTPServer.Handler) async throws -> (HTTPServer, Task<Void, Never>) {
        let server = try await HTTPServer.bind(limits: limits, commonHeaders: [("x-common", "yes")], handler: handler)
        return (server, Task { await server.run() })
    }

    func get(_ url: String, body: Data? = nil) async throws -> (status: UInt, headers: [(String, String)], body: String) {
        var request = HTTPClientRequest(url: url)
        if let body { request.method = .POST; request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await SharedHTTPClient.client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, response.headers.map { ($0.name, $0.value) }, String(buffer: bytes))
    }

    @Test func aThrownFailureBecomesItsStatusWithTheCommonHeaders() async throws {
        let (server, task) = try await serve { request, _ in
            if request.path == "/missing" { throw HTTPServer.Failure(.notFound, "no page /missing") }
            struct Unexpected: Error {}
            throw Unexpected()
        }
        defer { task.cancel() }
        let missing = try await get(server.baseURL + "/missing")
        #expect(missing.status == 404 && missing.body == "no page /missing\n")
        #expect(missing.headers.contains { $0 == ("x-common", "yes") })
        let broken = try await get(server.baseURL + "/other")
        #expect(broken.status == 500 && broken.body == "internal error\n", "an unexpected error's text is not shown to the client")
    }

    @Test func aBodyOverTheLimitIsRefusedWith413() async throws {
        var limits = HTTPServer.Limits()
        limits.maxBodyBytes = 1000
        let (server, task) = try await serve(limits: limits) { request, writer in
            try await writer.respond(.ok, body: Data("\(request.body.count)".utf8), contentType: "text/plain")
        }
        defer { task.cancel() }
        #expect(try await get(server.baseURL + "/", body: Data(count: 1000)).body == "1000")
        #expect(try await get(server.baseURL + "/", body: Data(count: 5000)).status == 413)
    }

    @Test func aClientThatNeverFinishesItsRequestIsCutAtTheTimeout() async throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        let (server, task) = try await serve(limits: limits) { _, writer in try await writer.respond(.ok, body: Data()) }
        defer { task.cancel() }
        let (read, elapsed) = await Self.sendHalfARequestAndWait(port: server.port)
        #expect(read == 0, "the server closed the connection (recv returned \(read))")
        #expect(elapsed < .seconds(9), "closed at the request timeout, not by the test's own 10 s limit")
    }

    /// A raw socket that sends half a request head, then waits up to 10 s for the server to close
    /// it. On a thread of its own: a blocking read must not hold one of the task pool's threads.
    static func sendHalfARequestAndWait(port: Int) async -> (Int, Duration) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else { return continuation.resume(returning: (-2, .zero)) }
                _ = "GET / HTTP/1.1\r\nhost: x\r\n".withCString { send(fd, $0, strlen($0), 0) }
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let started = ContinuousClock.now
                var byte: UInt8 = 0
                let read = recv(fd, &byte, 1, 0)
                continuation.resume(returning: (read, ContinuousClock.now - started))
            }
        }
    }

    @Test func chunksArriveAsWrittenAndCancellingTheServerEndsAStreamInFlight() async throws {
        let (server, task) = try await serve { _, writer in
            try await writer.head(.ok, headers: [("content-type", "text/plain")])
            try await writer.chunk(Data("first\n".utf8))
            while !writer.isClosed { try await Task.sleep(for: .milliseconds(20)) }  // a stream that never ends on its own
        }
        let response = try await SharedHTTPClient.client.execute(HTTPClientRequest(url: server.baseURL + "/"), timeout: .seconds(30))
        var iterator = response.body.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first.map { String(buffer: $0) } == "first\n")
        task.cancel()
        await task.value  // returns: the in-flight handler was cancelled
        let rest = try? await iterator.next()
        #expect(rest == nil, "the stream ended")
    }
}
