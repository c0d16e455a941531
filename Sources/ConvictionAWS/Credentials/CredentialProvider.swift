import ConvictionCore
import Foundation

/// Gives the credentials to sign the next request with. Long-term keys never change; temporary
/// ones (assumed roles, web identity, containers, the instance role) are refreshed before they expire.
public protocol AWSCredentialProvider: Sendable {
    func current() async throws -> AWSCredentials
    /// AWS refused the last credentials as expired: the next `current()` fetches new ones.
    func invalidate() async
}

extension AWSCredentialProvider {
    public func invalidate() async {}
}

/// Keys that do not change: from the environment, a shared file, or a test.
public struct StaticCredentialProvider: AWSCredentialProvider {
    let credentials: AWSCredentials
    public init(_ credentials: AWSCredentials) { self.credentials = credentials }
    public func current() async throws -> AWSCredentials { credentials }
}

/// Temporary credentials, fetched on first use and again before they expire.
///
/// The refresh starts `min(5 minutes, half their lifetime)` before the expiration, so 1-hour
/// instance-role keys are renewed 5 minutes early and 2-minute test keys after one minute.
/// Concurrent callers share one fetch. When a refresh fails while the cached keys are still valid,
/// those keys are used and the refresh is tried again after 10 seconds (the SDKs' "static
/// stability": a metadata service hiccup must not stop a running stream).
public actor RefreshingCredentialProvider: AWSCredentialProvider {
    public typealias Fetch = @Sendable () async throws -> AWSCredentials
    let fetch: Fetch
    let clock: any TimeSource
    let describe: String
    private var cached: (credentials: AWSCredentials, obtainedAt: EpochMillis)?
    private var inFlight: Task<AWSCredentials, any Error>?
    private var retryAfter: EpochMillis = 0
    /// How many times credentials were fetched (for tests and logs).
    public private(set) var fetches = 0

    public init(_ describe: String, clock: any TimeSource = SystemTimeSource(), fetch: @escaping Fetch) {
        self.describe = describe; self.clock = clock; self.fetch = fetch
    }

    public func current() async throws -> AWSCredentials {
        let now = clock.now()
        if let cached, !needsRefresh(cached, now: now) || (now < retryAfter && isValid(cached.credentials, now: now)) { return cached.credentials }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        do {
            let fresh = try await task.value
            cached = (fresh, clock.now())
            fetches += 1
            return fresh
        } catch {
            if let cached, isValid(cached.credentials, now: clock.now()) {
                retryAfter = clock.now() + 10_000
                return cached.credentials
            }
            throw error
        }
    }

    public func invalidate() async { cached = nil }

    func needsRefresh(_ entry: (credentials: AWSCredentials, obtainedAt: EpochMillis), now: EpochMillis) -> Bool {
        guard let expiration = entry.credentials.expiration else { return false }
        let margin = min(300_000, max(0, expiration - entry.obtainedAt) / 2)
        return now >= expiration - margin
    }

    func isValid(_ credentials: AWSCredentials, now: EpochMillis) -> Bool { credentials.expiration.map { now < $0 } ?? true }
}

/// Timestamps in AWS credential documents: ISO 8601, with or without fractional seconds.
enum CredentialTimestamp {
    static func parse(_ text: String) -> EpochMillis? {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = plain.date(from: text) ?? fractional.date(from: text) else { return nil }
        return EpochMillis((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// The keys of a JSON credentials document (`AccessKeyId`, `SecretAccessKey`, `Token` or
    /// `SessionToken`, `Expiration`), as the container service, IMDS and `credential_process` give them.
    static func credentials(fromJSON data: Data, source: String) throws -> AWSCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AWSError(code: "InvalidCredentialsDocument", message: "\(source): the answer is not a JSON object")
        }
        guard let key = object["AccessKeyId"] as? String, !key.isEmpty, let secret = object["SecretAccessKey"] as? String, !secret.isEmpty else {
            throw AWSError(code: "InvalidCredentialsDocument", message: "\(source): the document lacks AccessKeyId or SecretAccessKey")
        }
        var expiration: EpochMillis?
        if let text = object["Expiration"] as? String {
            guard let parsed = parse(text) else {
                throw AWSError(code: "InvalidCredentialsDocument", message: "\(source): Expiration \(text.debugDescription) is not an ISO 8601 time")
            }
            expiration = parsed
        }
        let token = (object["Token"] as? String ?? object["SessionToken"] as? String).flatMap { $0.isEmpty ? nil : Secret($0) }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: token, expiration: expiration, source: source)
    }
}
