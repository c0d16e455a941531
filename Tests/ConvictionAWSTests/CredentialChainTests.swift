import AsyncHTTPClient
import ConvictionAWS
import ConvictionCore
import ConvictionHTTP
import ConvictionTesting
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The default credential chain: each source in the SDKs' order, against loopback stand-ins and
/// moto_server's STS. Every environment here sets `AWS_EC2_METADATA_DISABLED` unless the test is
/// about the instance role, so no test asks the link-local metadata address.
@Suite(.timeLimit(.minutes(10))) struct CredentialChainTests {
    static let noIMDS = ["AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"]

    func files(_ credentials: String, _ config: String) throws -> [String: String] {
        let dir = TestSupport.temporaryDirectory("aws")
        try Data(credentials.utf8).write(to: dir.appendingPathComponent("credentials"))
        try Data(config.utf8).write(to: dir.appendingPathComponent("config"))
        return Self.noIMDS.merging(["AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
                                    "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path]) { $1 }
    }

    @Test func environmentComesFirstWithItsSessionToken() async throws {
        let c = try await AWSConfiguration.resolve(environment: Self.noIMDS.merging(["AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s",
                                                                                      "AWS_SESSION_TOKEN": "t", "AWS_REGION": "eu-west-2"]) { $1 })
        let keys = try await c.credentials.current()
        #expect(keys.accessKeyID == "AKIA1" && keys.sessionToken?.reveal() == "t" && c.region == "eu-west-2" && keys.source == "environment")
    }

    @Test func sharedFilesGiveEachProfileItsKeysRegionAndEndpoint() async throws {
        let env = try files("[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = sdef\n\n[work]\naws_access_key_id=AKIAWORK\naws_secret_access_key=swork\naws_session_token = tok\n",
                            "[default]\nregion = us-west-2\n[profile work]\nregion = ap-south-1\nendpoint_url = http://127.0.0.1:9\n")
        let def = try await AWSConfiguration.resolve(environment: env)
        #expect(try await def.credentials.current().accessKeyID == "AKIADEF" && def.region == "us-west-2" && def.endpoint == nil)
        let work = try await AWSConfiguration.resolve(environment: env.merging(["AWS_PROFILE": "work"]) { $1 })
        let keys = try await work.credentials.current()
        #expect(keys.accessKeyID == "AKIAWORK" && keys.sessionToken?.reveal() == "tok" && keys.source.contains("profile work"))
        #expect(work.region == "ap-south-1" && work.endpoint == "http://127.0.0.1:9")
        await #expect { _ = try await AWSConfiguration.resolve(environment: env.merging(["AWS_PROFILE": "nosuch"]) { $1 }) } throws: {
            "\($0)".contains("profile nosuch is in neither")
        }
    }

    @Test func missingCredentialsSayWhereTheyWereLookedFor() async {
        await #expect { _ = try await AWSConfiguration.resolve(environment: Self.noIMDS) } throws: {
            "\($0)".contains("AWS_ACCESS_KEY_ID") && "\($0)".contains("/nonexistent/.aws/credentials") && "\($0)".contains("AWS_EC2_METADATA_DISABLED")
        }
        await #expect { _ = try await AWSConfiguration.resolve(environment: Self.noIMDS.merging(["AWS_ACCESS_KEY_ID": "x"]) { $1 }) } throws: {
            "\($0)".contains("AWS_SECRET_ACCESS_KEY") && "\($0)".contains("IncompleteCredentials")
        }
    }

    /// `credential_process` keys that expire after 2 minutes are fetched again after one, on a test clock.
    @Test func credentialProcessKeysAreRefreshedBeforeTheyExpire() async throws {
        let clock = ManualClock()
        let counter = TestSupport.temporaryDirectory("proc").appendingPathComponent("n").path
        let start = clock.now() / 1000
        let command = #"n=$(( $(cat COUNTER 2>/dev/null || echo 0) + 1 )); echo $n > COUNTER; "#
            .replacingOccurrences(of: "COUNTER", with: counter)
            + #"printf '{"Version": 1, "AccessKeyId": "AKIAPROC%s", "SecretAccessKey": "process-secret-canary", "SessionToken": "tok", "Expiration": "%s"}' $n $(date -u -d @$((START + n * 120)) +%Y-%m-%dT%H:%M:%SZ)"#
                .replacingOccurrences(of: "START", with: String(start))
        let env = try files("", "[profile proc]\ncredential_process = \(command)\n").merging(["AWS_PROFILE": "proc"]) { $1 }
        let c = try await AWSConfiguration.resolve(environment: env, clock: clock)
        #expect(try await c.credentials.current().accessKeyID == "AKIAPROC1")
        #expect(try await c.credentials.current().expiration == (start + 120) * 1000)
        try await clock.sleep(for: .seconds(70))  // past half the lifetime
        #expect(try await c.credentials.current().accessKeyID == "AKIAPROC2")
        #expect(try await c.credentials.current().accessKeyID == "AKIAPROC2", "fresh keys are cached")

        let failing = try files("", "[profile bad]\ncredential_process = echo process-secret-canary; exit 3\n").merging(["AWS_PROFILE": "bad"]) { $1 }
        await #expect { _ = try await AWSConfiguration.resolve(environment: failing) } throws: {
            "\($0)".contains("exited with status 3") && "\($0)".contains("profile bad") && !"\($0)".contains("canary")
        }
    }

    /// A refresh that fails while the cached keys still work keeps the stream going on those keys.
    @Test func aFailedRefreshKeepsUsingKeysThatHaveNotExpired() async throws {
        let clock = ManualClock()
        let calls = Mutex(0)
        let provider = RefreshingCredentialProvider("test", clock: clock) {
            let n = calls.withLock { $0 += 1; return $0 }
            if n > 1 { throw AWSError(code: "ContainerCredentialsError", message: "agent down") }
            return AWSCredentials(accessKeyID: "AKIA\(n)", secretAccessKey: Secret("s"), expiration: clock.now() + 120_000, source: "test")
        }
        async let a = provider.current()
        async let b = provider.current()
        #expect(try await [a.accessKeyID, b.accessKeyID] == ["AKIA1", "AKIA1"])
        #expect(calls.withLock { $0 } == 1, "concurrent callers share one fetch")
        try await clock.sleep(for: .seconds(70))
        #expect(try await provider.current().accessKeyID == "AKIA1", "still valid: used while the agent is down")
        try await clock.sleep(for: .seconds(60))
        await #expect(throws: AWSError.self) { _ = try await provider.current() }
    }

    @Test func assumeRoleThroughASourceProfileAsksSTS() async throws {
        let endpoint = try #require(TestSupport.motoEndpoint, "needs moto_server: run through `make test`")
        let env = try files("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
                            "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/conviction-stream\nsource_profile = base\nrole_session_name = test-session\nduration_seconds = 900\n"
                            + "[profile loop]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = loop2\n[profile loop2]\nrole_arn = arn:aws:iam::123456789012:role/y\nsource_profile = loop\n")
            .merging(["AWS_PROFILE": "deploy", "AWS_ENDPOINT_URL": endpoint]) { $1 }
        let c = try await AWSConfiguration.resolve(environment: env)
        let keys = try await c.credentials.current()
        #expect(keys.accessKeyID.hasPrefix("ASIA") && keys.sessionToken != nil && keys.expiration != nil)
        #expect(keys.source == "assumed role arn:aws:iam::123456789012:role/conviction-stream (profile deploy)")
        await #expect { _ = try await AWSConfiguration.resolve(environment: env.merging(["AWS_PROFILE": "loop"]) { $1 }) } throws: {
            "\($0)".contains("source_profile loop: loop -> loop2 -> loop")
        }
    }

    @Test func webIdentityTokenFileIsExchangedThroughSTS() async throws {
        let endpoint = try #require(TestSupport.motoEndpoint, "needs moto_server: run through `make test`")
        let token = TestSupport.temporaryDirectory("wi").appendingPathComponent("token")
        try Data("eyJhbGciOiJSUzI1NiJ9.e30.signature\n".utf8).write(to: token)
        let c = try await AWSConfiguration.resolve(environment: Self.noIMDS.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": token.path, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/conviction-worker",
            "AWS_ROLE_SESSION_NAME": "pod-1", "AWS_ENDPOINT_URL": endpoint]) { $1 })
        let keys = try await c.credentials.current()
        #expect(keys.accessKeyID.hasPrefix("ASIA") && keys.expiration != nil && keys.source == "web identity (role arn:aws:iam::123456789012:role/conviction-worker)")
    }

    /// A container agent stand-in in its own process (so a busy test process cannot keep it from answering):
    /// it answers only the right Authorization header, and GET /seen lists the headers it was sent.
    static let containerScript = #"""
    import http.server, json
    seen = []
    class H(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body):
            body = body.encode(); self.send_response(status)
            self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def do_GET(self):
            if self.path == "/seen": return self.reply(200, json.dumps(seen))
            seen.append(self.headers.get("authorization", ""))
            if self.headers.get("authorization") != "agent-token-1": return self.reply(401, "")
            self.reply(200, json.dumps({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "c-secret", "Token": "c-token", "Expiration": "2099-01-01T00:00:00Z"}))
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    @Test func containerCredentialsSendTheAuthorizationTokenFromItsFile() async throws {
        let tokenFile = TestSupport.temporaryDirectory("ecs").appendingPathComponent("token")
        try Data("agent-token-1\n".utf8).write(to: tokenFile)
        let server = try PythonServer(script: Self.containerScript)
        defer { withExtendedLifetime(server) {} }
        let c = try await AWSConfiguration.resolve(environment: Self.noIMDS.merging([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/v2/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile.path]) { $1 })
        let keys = try await c.credentials.current()
        #expect(keys.accessKeyID == "ASIACONTAINER" && keys.sessionToken?.reveal() == "c-token" && keys.source == "container credentials")
        let response = try await SharedHTTPClient.client.execute(HTTPClientRequest(url: server.endpoint + "/seen"), timeout: .seconds(10))
        let seen = String(buffer: try await response.body.collect(upTo: 1 << 16))
        #expect(seen == #"["agent-token-1"]"#)
        await #expect { _ = try await AWSConfiguration.resolve(environment: Self.noIMDS.merging(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://203.0.113.5/creds"]) { $1 }) } throws: {
            "\($0)".contains("must point at loopback")
        }
    }

    /// Instance-role credentials through IMDSv2, against a loopback stand-in of the metadata service.
    static let imdsScript = #"""
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
                return self.reply(200, json.dumps({"Code": "Success", "AccessKeyId": "ASIAIMDS", "SecretAccessKey": "imds-secret",
                                                   "Token": "imds-token", "Expiration": "2099-01-01T00:00:00Z"}))
            self.reply(404, "")
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    @Test func instanceRoleComesLastAndIsSkippedWhenDisabled() async throws {
        let server = try PythonServer(script: Self.imdsScript)
        defer { withExtendedLifetime(server) {} }
        let env = ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint]
        let keys = try await AWSConfiguration.resolve(environment: env).credentials.current()
        #expect(keys.accessKeyID == "ASIAIMDS" && keys.secretAccessKey.reveal() == "imds-secret" && keys.sessionToken?.reveal() == "imds-token")
        #expect(keys.source == "instance metadata (role conviction-role)" && keys.expiration == 4_070_908_800_000)
        let env2 = env.merging(["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s"]) { $1 }
        #expect(try await AWSConfiguration.resolve(environment: env2).credentials.current().accessKeyID == "AKIAENV")
        await #expect { _ = try await AWSConfiguration.resolve(environment: env.merging(["AWS_EC2_METADATA_DISABLED": "true"]) { $1 }) } throws: {
            "\($0)".contains("MissingCredentials")
        }
    }
}
