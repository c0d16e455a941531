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

/// Instance-role credentials through IMDSv2, against a loopback stand-in of the metadata service.
@Suite(.timeLimit(.minutes(10))) struct InstanceMetadataTests {
    static let script = #"""
    import http.server, json
    class H(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body):
            body = body.encode(); self.send_response(status)
            self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def do_PUT(self):
            if self.path == "/latest/api/token" and self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(200, "session-token-1")
            self.reply(400, "")
        def do_GET(self):
            if self.headers.get("x-aws-ec2-metadata-token") != "session-token-1": return self.reply(401, "")
            if self.path == "/latest/meta-data/iam/security-credentials/": return self.reply(200, "conviction-role\n")
            if self.path == "/latest/meta-data/iam/security-credentials/conviction-role":
                return self.reply(200, json.dumps({"Code": "Success", "AccessKeyId": "ASIAIMDS", "SecretAccessKey": "imds-secret", "Token": "imds-token"}))
            self.reply(404, "")
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    @Test func instanceRoleCredentialsComeLastInTheChain() async throws {
        let server = try PythonServer(script: Self.script)
        defer { withExtendedLifetime(server) {} }
        let env = ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint]
        let c = try await AWSConfiguration.resolveIncludingInstanceRole(environment: env)
        #expect(c.credentials.accessKeyID == "ASIAIMDS" && c.credentials.secretAccessKey.reveal() == "imds-secret")
        #expect(c.credentials.sessionToken?.reveal() == "imds-token" && c.credentials.source == "instance metadata (role conviction-role)")
        // The environment still wins, and the service is not asked when disabled or unconfigured.
        let env2 = env.merging(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s"]) { $1 }
        #expect(try await AWSConfiguration.resolveIncludingInstanceRole(environment: env2).credentials.accessKeyID == "AKIAENV")
        await #expect(throws: AWSError.self) {
            _ = try await AWSConfiguration.resolveIncludingInstanceRole(environment: env.merging(["AWS_EC2_METADATA_DISABLED": "true"]) { $1 })
        }
        await #expect(throws: AWSError.self) { _ = try await AWSConfiguration.resolveIncludingInstanceRole(environment: ["HOME": "/nonexistent"]) }
    }
}
