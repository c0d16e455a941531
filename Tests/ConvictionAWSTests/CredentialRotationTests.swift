import ConvictionAWS
import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import ConvictionTesting
import Foundation
import NIOHTTP1
import Synchronization
import Testing

/// A container-credentials stand-in that hands out 2-minute keys, each a real IAM access key on the
/// signature-checking moto_server, and deletes every key once its 2 minutes are over. A client that
/// kept a key past its expiration is refused by moto, as AWS would refuse it.
final class RotatingCredentialAgent: Sendable {
    let clock: ManualClock
    let iam: AWSHTTPClient
    let user: String
    let lifetime: Int64 = 120_000
    /// Live keys and when each expires.
    let keys = Mutex<[(id: String, expires: EpochMillis)]>([])
    let issued = Mutex(0)

    init(clock: ManualClock, auth: (endpoint: String, keyID: String, secret: String)) async throws {
        self.clock = clock
        iam = try AWSHTTPClient(configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: auth.secret), service: "iam")
        user = "rotation-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await call(["Action": "CreateUser", "UserName": user])
        _ = try await call(["Action": "PutUserPolicy", "UserName": user, "PolicyName": "s3",
                            "PolicyDocument": #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#])
    }

    func call(_ form: [String: String]) async throws -> String {
        let body = form.merging(["Version": "2010-05-08"]) { $1 }.sorted { $0.key < $1.key }
            .map { "\(SigV4Signer.uriEncode($0.key))=\(SigV4Signer.uriEncode($0.value))" }.joined(separator: "&")
        let response = try await iam.send("POST", path: "/", headers: [("content-type", "application/x-www-form-urlencoded")], body: Data(body.utf8))
        return String(decoding: response.body, as: UTF8.self)
    }

    func field(_ tag: String, _ xml: String) -> String? {
        guard let open = xml.range(of: "<\(tag)>"), let close = xml.range(of: "</\(tag)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
    }

    /// Deletes the keys whose time is up (IAM allows two per user, so the oldest goes first when needed).
    func expire() async throws {
        let now = clock.now()
        let dead = keys.withLock { keys in
            let dead = keys.filter { $0.expires <= now }.map(\.id)
            keys.removeAll { $0.expires <= now }
            return dead
        }
        for id in dead { _ = try await call(["Action": "DeleteAccessKey", "UserName": user, "AccessKeyId": id]) }
    }

    /// The container endpoint's answer: a new key, valid for 2 minutes from now on the clock.
    func issue() async throws -> Data {
        try await expire()
        if let oldest = keys.withLock({ $0.count >= 2 ? $0.removeFirst().id : nil }) {
            _ = try await call(["Action": "DeleteAccessKey", "UserName": user, "AccessKeyId": oldest])
        }
        let xml = try await call(["Action": "CreateAccessKey", "UserName": user])
        let id = try #require(field("AccessKeyId", xml)), secret = try #require(field("SecretAccessKey", xml))
        let expires = clock.now() + lifetime
        keys.withLock { $0.append((id, expires)) }
        issued.withLock { $0 += 1 }
        let iso = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(expires) / 1000))
        return try JSONSerialization.data(withJSONObject: ["AccessKeyId": id, "SecretAccessKey": secret, "Expiration": iso])
    }
}

@Suite(.enabled(if: TestSupport.motoAuth != nil, "needs the signature-checking moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct CredentialRotationTests {
    /// Ten minutes of a worker writing to S3 every 15 seconds, on an injected clock (moved only by the worker's sleeps), while
    /// its 2-minute container credentials rotate five times: every write succeeds, and a client that
    /// kept its first keys is refused.
    @Test func aLongRunningWorkerSurvivesTwoMinuteCredentials() async throws {
        let auth = try #require(TestSupport.motoAuth)
        let clock = ManualClock()
        let agent = try await RotatingCredentialAgent(clock: clock, auth: auth)
        let server = try await HTTPServer.bind { request, writer in
            guard request.headers.first(name: "authorization") == "agent-token" else { throw HTTPServer.Failure(.unauthorized, "no token") }
            try await writer.respond(.ok, body: try await agent.issue())
        }
        let serving = Task { await server.run() }
        defer { serving.cancel() }
        let configuration = try await AWSConfiguration.resolve(environment: [
            "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": auth.endpoint,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "agent-token"], clock: clock)
        let firstKeys = try await configuration.credentials.current()

        // The bucket is made with the admin key; the worker only has the rotating ones.
        let bucket = TestSupport.uniqueBucket("rotate")
        try await S3ObjectStore(bucket: bucket, prefix: "", configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: auth.secret))
            .createBucketIfNeeded()
        let store = try S3ObjectStore(bucket: bucket, prefix: "worker", configuration: configuration)
        let started = clock.now()
        var writes = 0
        while clock.now() - started < 600_000 {
            try await agent.expire()
            try await store.put("beat-\(writes).txt", data: Data("\(clock.now())".utf8))
            writes += 1
            try await clock.sleep(for: .seconds(15))
        }
        #expect(try await store.list(prefix: "").count == writes)
        #expect(writes == 40)
        #expect(agent.issued.withLock { $0 } >= 10, "ten minutes of 2-minute keys, each refreshed after half its life")

        let stale = try S3ObjectStore(bucket: bucket, prefix: "worker", configuration: AWSConfiguration(region: "us-east-1", endpoint: auth.endpoint, credentials: firstKeys))
        await #expect { _ = try await stale.get("beat-0.txt") } throws: { ($0 as? AWSError)?.errorCode == .credentials }
    }
}
