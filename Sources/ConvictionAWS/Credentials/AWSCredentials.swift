import ConvictionCore
import Foundation

/// An AWS access key. The secret and the session token are `Secret`s: they print as `<redacted>`.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public let accessKeyID: String
    public let secretAccessKey: Secret
    public let sessionToken: Secret?
    /// Where they came from, e.g. `environment`, `shared credentials file (profile default)`.
    public let source: String

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil, source: String) {
        self.accessKeyID = accessKeyID; self.secretAccessKey = secretAccessKey; self.sessionToken = sessionToken; self.source = source
    }

    public var description: String { "AWSCredentials(\(accessKeyID), secret <redacted>, from \(source))" }
}

/// Where to reach AWS: region, optional endpoint override (for `moto_server` or another
/// S3-compatible service), and credentials resolved through the standard chain.
public struct AWSConfiguration: Sendable {
    public var region: String
    /// e.g. `http://127.0.0.1:5000`; nil = the real AWS endpoints.
    public var endpoint: String?
    public var credentials: AWSCredentials

    public init(region: String, endpoint: String?, credentials: AWSCredentials) {
        self.region = region; self.endpoint = endpoint; self.credentials = credentials
    }

    /// The standard chain: environment variables, then the shared credentials and config files
    /// (`AWS_PROFILE`, default `default`). Region from `AWS_REGION`, `AWS_DEFAULT_REGION`, the config
    /// file, else `us-east-1`; endpoint from `AWS_ENDPOINT_URL` (or the argument).
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment,
                               profile requestedProfile: String? = nil, endpoint: String? = nil, region: String? = nil) throws -> AWSConfiguration {
        let profile = requestedProfile ?? environment["AWS_PROFILE"] ?? "default"
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let configProfile = try SharedConfigFile.read(configFile, section: profile == "default" ? "default" : "profile \(profile)")

        let resolvedRegion = region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? configProfile["region"] ?? "us-east-1"
        let resolvedEndpoint = endpoint ?? environment["AWS_ENDPOINT_URL"] ?? configProfile["endpoint_url"]

        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw AWSError(code: "IncompleteCredentials", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (source: environment)")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : Secret($0) }
            return AWSConfiguration(region: resolvedRegion, endpoint: resolvedEndpoint,
                                    credentials: AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: token, source: "environment"))
        }
        for (file, section) in [(credentialsFile, profile), (configFile, profile == "default" ? "default" : "profile \(profile)")] {
            let values = try SharedConfigFile.read(file, section: section)
            if let key = values["aws_access_key_id"] {
                guard let secret = values["aws_secret_access_key"] else {
                    throw AWSError(code: "IncompleteCredentials", message: "\(file) [\(section)]: aws_access_key_id without aws_secret_access_key")
                }
                return AWSConfiguration(region: resolvedRegion, endpoint: resolvedEndpoint,
                                        credentials: AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret),
                                                                    sessionToken: values["aws_session_token"].map(Secret.init),
                                                                    source: "\(file) (profile \(profile))"))
            }
        }
        throw AWSError(code: "MissingCredentials",
                       message: "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add profile \(profile) to \(credentialsFile), or on EC2 set AWS_EC2_METADATA_SERVICE_ENDPOINT for the instance role")
    }
}

/// The INI-style `~/.aws/credentials` and `~/.aws/config` files.
enum SharedConfigFile {
    /// The keys of one `[section]`; empty when the file or section is absent.
    static func read(_ path: String, section: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var current: String?
        var values: [String: String] = [:]
        for (number, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw AWSError(code: "InvalidConfigFile", message: "\(path):\(number + 1): malformed section header") }
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard current == section, let equals = line.firstIndex(of: "=") else { continue }
            values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}

/// An error from AWS or from talking to it. Never carries a secret value.
public struct AWSError: ConvictionError {
    /// `code` is AWS's own error code; this is the kind of failure it is.
    public var errorCode: ErrorCode {
        if ["InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException", "ExpiredToken", "ExpiredTokenException",
            "UnrecognizedClientException", "InvalidAccessKeyId", "MissingCredentials", "UnauthorizedOperation"].contains(code) { return .credentials }
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
}
