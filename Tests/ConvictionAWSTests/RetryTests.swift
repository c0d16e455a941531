import ConvictionAWS
import ConvictionCore
import ConvictionHTTP
import ConvictionTesting
import Foundation
import Testing

/// A local S3 stand-in that answers `503 SlowDown` to the first `failures` PUTs, to exercise
/// retries; `GET` returns how many PUTs it has seen.
func flakyS3Server(failures: Int) throws -> PythonServer {
    try PythonServer(script: #"""
    import http.server, sys, hashlib
    fails = int(sys.argv[1]); seen = {"n": 0}
    class H(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers: self.send_header(k, v)
            self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def do_PUT(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0))); seen["n"] += 1
            if seen["n"] <= fails:
                return self.reply(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
            self.reply(200, headers=[("etag", '"%s"' % hashlib.md5(body).hexdigest())])
        def do_GET(self): self.reply(200, str(seen["n"]).encode())
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#, arguments: [String(failures)])
}

@Suite(.timeLimit(.minutes(10))) struct RetryTests {
    @Test func throttlingIsRetriedWithBackoff() async throws {
        let server = try flakyS3Server(failures: 2)
        defer { withExtendedLifetime(server) {} }
        // Without jitter, on a clock that records its sleeps: the back-off doubles from the base.
        let clock = TestClock()
        let retry = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(5), jitter: .none)
        let store = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:\(server.port)"), retry: retry, clock: clock)
        try await store.put("k", data: Data("payload".utf8))
        #expect(String(decoding: try await store.get("count"), as: UTF8.self) == "3", "two 503s, then success")
        #expect(clock.sleeps == [.milliseconds(100), .milliseconds(200)])
        // The default policy's full jitter stays within each attempt's cap.
        let policy = AWSHTTPClient.defaultRetry
        for attempt in 1...8 {
            let wait = policy.wait(after: attempt)
            #expect(wait >= .zero && wait <= min(.seconds(5), .milliseconds(100) * (1 << (attempt - 1))), "attempt \(attempt): \(wait)")
        }
    }

    @Test func givesUpAfterTheLastAttemptWithTheServicesError() async throws {
        let server = try flakyS3Server(failures: 100)
        defer { withExtendedLifetime(server) {} }
        let store = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:\(server.port)"))
        await #expect { try await store.put("k", data: Data("payload".utf8)) } throws: { error in
            (error as? AWSError)?.code == "SlowDown" && (error as? AWSError)?.status == 503
        }
        #expect(String(decoding: try await store.get("count"), as: UTF8.self) == String(AWSHTTPClient.defaultRetry.maxAttempts))
    }

    @Test func connectionRefusedIsANetworkErrorNamingTheEndpoint() async throws {
        // Port 9 (discard) on loopback is closed here.
        var store = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:9"))
        store.listPageSize = 1
        await #expect { _ = try await store.list(prefix: "") } throws: { "\($0)".contains("NetworkError") && "\($0)".contains("127.0.0.1:9") }
    }
}
