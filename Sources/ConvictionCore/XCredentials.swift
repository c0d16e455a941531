import ConvictionCore
import Foundation

/// The five X API credentials, by their conventional environment names.
public enum XCredentialKey: String, CaseIterable, Sendable {
    case bearerToken = "TWITTER_BEARER_TOKEN"
    case apiKey = "TWITTER_API_KEY"
    case apiSecret = "TWITTER_API_SECRET"
    case accessToken = "TWITTER_ACCESS_TOKEN"
    case accessTokenSecret = "TWITTER_ACCESS_TOKEN_SECRET"
}

/// A place credentials come from: AWS Secrets Manager, or the environment.
public protocol SecretsProvider: Sendable {
    /// Names the source in messages, e.g. `environment` or `secretsmanager:conviction/x-api`.
    var name: String { get }
    /// The value, nil when this source does not hold the key. Throws when the source holds
    /// something unusable (malformed JSON, an empty value), naming the key and the source.
    func value(for key: XCredentialKey) async throws -> Secret?
}

public struct SecretsError: ConvictionError {
    public var errorCode: ErrorCode { .credentials }
    public let key: String
    public let source: String
    public let message: String
    public init(key: String, source: String, message: String) { self.key = key; self.source = source; self.message = message }
    public var description: String { "\(key) (\(source)): \(message)" }
}

/// Reads credentials from environment variables.
public struct EnvironmentSecretsProvider: SecretsProvider {
    let environment: [String: String]
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) { self.environment = environment }
    public var name: String { "environment" }

    public func value(for key: XCredentialKey) async throws -> Secret? {
        guard let value = environment[key.rawValue] else { return nil }
        guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw SecretsError(key: key.rawValue, source: name, message: "is set but empty")
        }
        return Secret(value)
    }
}

/// Providers asked in order (Secrets Manager first, the environment as fallback), with an
/// in-memory cache whose entries live `ttl`. Values never leave memory.
public actor CredentialResolver {
    public struct Resolution: Sendable {
        public let key: XCredentialKey
        public let secret: Secret?
        /// Where it was found, or every place looked when missing.
        public let source: String
    }

    let providers: [any SecretsProvider]
    let ttl: Duration
    let clock = ContinuousClock()
    private var cache: [XCredentialKey: (Resolution, ContinuousClock.Instant)] = [:]

    public init(providers: [any SecretsProvider], ttl: Duration = .seconds(300)) {
        self.providers = providers; self.ttl = ttl
    }

    public func resolve(_ key: XCredentialKey) async throws -> Resolution {
        if let (cached, at) = cache[key], clock.now - at < ttl { return cached }
        for provider in providers {
            if let secret = try await provider.value(for: key) {
                let resolution = Resolution(key: key, secret: secret, source: provider.name)
                cache[key] = (resolution, clock.now)
                return resolution
            }
        }
        return Resolution(key: key, secret: nil, source: providers.map(\.name).joined(separator: ", "))
    }

    /// The value, or an error naming the key and every source looked in.
    public func require(_ key: XCredentialKey) async throws -> Secret {
        let resolution = try await resolve(key)
        guard let secret = resolution.secret else {
            throw SecretsError(key: key.rawValue, source: resolution.source, message: "missing")
        }
        return secret
    }
}
