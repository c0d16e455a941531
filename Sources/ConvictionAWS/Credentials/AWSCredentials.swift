import ConvictionCore
import Foundation

/// An AWS access key. The secret and the session token are `Secret`s: they print as `<redacted>`.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public let accessKeyID: String
    public let secretAccessKey: Secret
    public let sessionToken: Secret?
    /// When temporary credentials stop working; nil for long-term keys.
    public let expiration: EpochMillis?
    /// Where they came from, e.g. `environment`, `shared credentials file (profile default)`.
    public let source: String

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil, expiration: EpochMillis? = nil, source: String) {
        self.accessKeyID = accessKeyID; self.secretAccessKey = secretAccessKey; self.sessionToken = sessionToken
        self.expiration = expiration; self.source = source
    }

    public var description: String { "AWSCredentials(\(accessKeyID), secret <redacted>, from \(source))" }
}

/// Where to reach AWS: region, optional endpoint override (for `moto_server` or another
/// S3-compatible service), and the credentials every request is signed with, asked afresh for
/// each request so temporary credentials can rotate underneath a long-running process.
public struct AWSConfiguration: Sendable {
    public var region: String
    /// e.g. `http://127.0.0.1:5000`; nil = the real AWS endpoints.
    public var endpoint: String?
    public var credentials: any AWSCredentialProvider

    public init(region: String, endpoint: String?, credentials: any AWSCredentialProvider) {
        self.region = region; self.endpoint = endpoint; self.credentials = credentials
    }

    /// Fixed keys (tests, and keys from the environment or a file).
    public init(region: String, endpoint: String?, credentials: AWSCredentials) {
        self.init(region: region, endpoint: endpoint, credentials: StaticCredentialProvider(credentials))
    }

    /// The region, endpoint and credentials the AWS SDKs would find, in their documented order
    /// (`CredentialChain`). Region from the argument, `AWS_REGION`, `AWS_DEFAULT_REGION`, the
    /// profile, else `us-east-1`; endpoint from the argument, `AWS_ENDPOINT_URL` or the profile's
    /// `endpoint_url`. Temporary credentials are fetched once here (so a bad setup fails at start)
    /// and refreshed before they expire.
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment,
                               profile requestedProfile: String? = nil, endpoint: String? = nil, region: String? = nil,
                               imdsEndpoint: String? = nil, clock: any TimeSource = SystemTimeSource()) async throws -> AWSConfiguration {
        let files = SharedConfigFiles(environment: environment, profile: requestedProfile)
        let profile = try files.profile(files.profileName)
        let resolvedRegion = region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? profile["region"] ?? "us-east-1"
        let resolvedEndpoint = endpoint ?? environment["AWS_ENDPOINT_URL"] ?? profile["endpoint_url"]
        let chain = CredentialChain(environment: environment, files: files, region: resolvedRegion,
                                    stsEndpoint: environment["AWS_ENDPOINT_URL_STS"] ?? resolvedEndpoint,
                                    imdsEndpoint: imdsEndpoint, clock: clock)
        return AWSConfiguration(region: resolvedRegion, endpoint: resolvedEndpoint, credentials: try await chain.resolve())
    }
}

/// An error from AWS or from talking to it. Never carries a secret value.
public struct AWSError: ConvictionError {
    /// `code` is AWS's own error code; this is the kind of failure it is.
    public var errorCode: ErrorCode {
        if ["InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException", "ExpiredToken", "ExpiredTokenException",
            "UnrecognizedClientException", "InvalidAccessKeyId", "MissingCredentials", "IncompleteCredentials", "UnauthorizedOperation",
            "InvalidIdentityToken"].contains(code) { return .credentials }
        if ["SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"].contains(code) || status == 429 { return .rateLimited }
        if ["NoSuchKey", "NoSuchBucket", "ResourceNotFoundException"].contains(code) { return .missingInput }
        if (status ?? 0) >= 500 || status == nil { return .unavailable }
        return .configuration
    }
    public let code: String
    public let message: String
    public let status: Int?

    public init(code: String, message: String, status: Int? = nil) { self.code = code; self.message = message; self.status = status }

    public var description: String { status.map { "AWS \(code) (HTTP \($0)): \(message)" } ?? "AWS \(code): \(message)" }

    /// The credentials were refused because they expired: fetch new ones and try again.
    var isExpiredCredentials: Bool { ["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"].contains(code) }
}
