import ConvictionAWS
import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// A local S3 stand-in that answers `503 SlowDown` to the first `failures` PUTs, to exercise
/// retries; `GET` returns how many PUTs it has seen.
final class FlakyS3Server {
    let process = Process()
    let port: Int

    init(failures: Int) throws {
        let script = #"""
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
        import threading, os
        # Exit when the test process goes away (its end of our stdin closes).
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
        server = http.server.HTTPServer(("127.0.0.1", 0), H)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: TestSupport.python ?? "/usr/bin/python3")
        process.arguments = ["-c", script, String(failures)]
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = Pipe()
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    deinit {
        // SIGKILL without waiting: Foundation's waitUntilExit can block off the main thread on Linux.
        kill(process.processIdentifier, SIGKILL)
    }
}

@Suite struct RetryTests {
    @Test func throttlingIsRetriedWithBackoff() async throws {
        let server = try FlakyS3Server(failures: 2)
        defer { withExtendedLifetime(server) {} }
        let store = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:\(server.port)"))
        try await store.put("k", data: Data("payload".utf8))
        #expect(String(decoding: try await store.get("count"), as: UTF8.self) == "3", "two 503s, then success")
    }

    @Test func givesUpAfterTheLastAttemptWithTheServicesError() async throws {
        let server = try FlakyS3Server(failures: 100)
        defer { withExtendedLifetime(server) {} }
        let store = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:\(server.port)"))
        await #expect { try await store.put("k", data: Data("payload".utf8)) } throws: { error in
            (error as? AWSError)?.code == "SlowDown" && (error as? AWSError)?.status == 503
        }
        #expect(String(decoding: try await store.get("count"), as: UTF8.self) == String(AWSHTTPClient.RetryPolicy().maxAttempts))
    }

    @Test func connectionRefusedIsANetworkErrorNamingTheEndpoint() async throws {
        // Port 9 (discard) on loopback is closed here.
        var store = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:9"))
        store.listPageSize = 1
        await #expect { _ = try await store.list(prefix: "") } throws: { "\($0)".contains("NetworkError") && "\($0)".contains("127.0.0.1:9") }
    }
}
