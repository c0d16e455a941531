import AsyncHTTPClient
import ConvictionAWS
import ConvictionCore
import ConvictionStore
import ConvictionTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Against moto_server with signature checking on: a correct key works, a wrong secret or a
/// request changed after signing is refused.
@Suite(.enabled(if: TestSupport.motoAuth != nil, "needs the signature-checking moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct SignatureCheckingTests {
    let auth = TestSupport.motoAuth!

    @Test func correctKeyIsAcceptedWrongSecretIsRejected() async throws {
        let good = try S3ObjectStore(bucket: TestSupport.uniqueBucket("auth"), prefix: "", configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: auth.secret))
        try await good.createBucketIfNeeded()
        try await good.put("ok.txt", data: Data("fine".utf8))
        #expect(try await good.get("ok.txt") == Data("fine".utf8))

        let bad = try S3ObjectStore(bucket: good.bucket, prefix: "", configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: "wrong-secret-canary"))
        do {
            _ = try await bad.get("ok.txt")
            Issue.record("a wrong secret was accepted")
        } catch let error as AWSError {
            #expect(error.code == "SignatureDoesNotMatch" && error.status == 403)
            #expect(error.errorCode == .credentials, "a refused signature is a credentials failure, for callers and the exit status")
            #expect(!"\(error)".contains("wrong-secret-canary"))
        }
        let sm = try SecretsManagerClient(configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: "wrong-secret-canary"))
        await #expect(throws: AWSError.self) { _ = try await sm.secretString("anything") }
    }

    @Test func aRequestChangedAfterSigningIsRejected() async throws {
        let store = try S3ObjectStore(bucket: TestSupport.uniqueBucket("tamper"), prefix: "", configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: auth.secret))
        try await store.createBucketIfNeeded()
        try await store.put("a.txt", data: Data("a".utf8))
        let host = String(auth.endpoint.dropFirst("http://".count))
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: auth.keyID, secretAccessKey: Secret(auth.secret), source: "test"),
                                 region: "us-east-1", service: "s3")
        func send(_ path: String, signedFor signedPath: String) async throws -> Int {
            let signed = signer.sign(.init(method: "GET", path: signedPath, headers: [("host", host)]))
            var request = HTTPClientRequest(url: auth.endpoint + path)
            for (name, value) in signed.headers { request.headers.replaceOrAdd(name: name, value: value) }
            return Int(try await HTTPClient.shared.execute(request, timeout: .seconds(30)).status.code)
        }
        #expect(try await send("/\(store.bucket)/a.txt", signedFor: "/\(store.bucket)/a.txt") == 200)
        #expect(try await send("/\(store.bucket)/b.txt", signedFor: "/\(store.bucket)/a.txt") == 403)
    }
}

@Suite(.enabled(if: TestSupport.motoEndpoint != nil, "needs moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct SecretsManagerTests {
    let client = try! SecretsManagerClient(configuration: motoConfiguration(TestSupport.motoEndpoint!))

    @Test func jsonSecretWithEnvironmentFallbackAndCache() async throws {
        let id = "conviction/\(UUID().uuidString)"
        try await client.store(id, value: Secret(#"{"TWITTER_BEARER_TOKEN": "from-sm", "TWITTER_API_KEY": "k1"}"#))
        let provider = SecretsManagerSecretsProvider(client: client, layout: .json(secretID: id))
        let resolver = CredentialResolver(providers: [provider, EnvironmentSecretsProvider(environment: ["TWITTER_API_SECRET": "from-env", "TWITTER_BEARER_TOKEN": "env-loses"])],
                                          ttl: .seconds(3600))
        let bearer = try await resolver.resolve(.bearerToken)
        #expect(bearer.secret?.reveal() == "from-sm" && bearer.source == "secretsmanager:\(id)")
        #expect(try await resolver.resolve(.apiSecret).source == "environment")
        let missing = try await resolver.resolve(.accessToken)
        #expect(missing.secret == nil && missing.source == "secretsmanager:\(id), environment")
        await #expect { try await resolver.require(.accessToken) } throws: { "\($0)".contains("TWITTER_ACCESS_TOKEN") && "\($0)".contains("environment") }
        // Cached: a change in Secrets Manager is seen only after the TTL.
        try await client.store(id, value: Secret(#"{"TWITTER_BEARER_TOKEN": "rotated"}"#))
        #expect(try await resolver.resolve(.bearerToken).secret?.reveal() == "from-sm")
        let fresh = CredentialResolver(providers: [provider], ttl: .zero)
        #expect(try await fresh.resolve(.bearerToken).secret?.reveal() == "rotated")
    }

    @Test func perKeySecretsAndMigrationIsIdempotent() async throws {
        let prefix = "conviction-\(UUID().uuidString.prefix(6))"
        let provider = SecretsManagerSecretsProvider(client: client, layout: .perKey(prefix: prefix))
        #expect(try await provider.value(for: .apiKey) == nil)
        let values: [XCredentialKey: Secret] = [.apiKey: Secret("a"), .bearerToken: Secret("b")]
        #expect(try await provider.migrate(values) == [.apiKey: "created", .bearerToken: "created"])
        #expect(try await provider.migrate(values) == [.apiKey: "unchanged", .bearerToken: "unchanged"])
        #expect(try await provider.migrate([.apiKey: Secret("a2")]) == [.apiKey: "updated"])
        #expect(try await provider.value(for: .apiKey)?.reveal() == "a2")
        let json = SecretsManagerSecretsProvider(client: client, layout: .json(secretID: prefix + "/all"))
        #expect(try await json.migrate(values) == [.apiKey: "created", .bearerToken: "created"])
        #expect(try await json.migrate(values) == [.apiKey: "unchanged", .bearerToken: "unchanged"])
        #expect(try await json.value(for: .bearerToken)?.reveal() == "b")
    }

    @Test func malformedSecretsNameTheKeyAndSource() async throws {
        let id = "conviction/bad-\(UUID().uuidString.prefix(6))"
        try await client.store(id, value: Secret("not json"))
        let provider = SecretsManagerSecretsProvider(client: client, layout: .json(secretID: id))
        await #expect { _ = try await provider.value(for: .bearerToken) } throws: {
            "\($0)".contains("TWITTER_BEARER_TOKEN") && "\($0)".contains("secretsmanager:\(id)") && "\($0)".contains("not a JSON object")
        }
        try await client.store(id, value: Secret(#"{"TWITTER_BEARER_TOKEN": 42}"#))
        await #expect { _ = try await provider.value(for: .bearerToken) } throws: { "\($0)".contains("non-empty string") }
        await #expect { _ = try await EnvironmentSecretsProvider(environment: ["TWITTER_API_KEY": " "]).value(for: .apiKey) } throws: {
            "\($0)" == "TWITTER_API_KEY (environment): is set but empty"
        }
    }
}
