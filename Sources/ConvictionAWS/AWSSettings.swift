import ConvictionCore
import Foundation

/// Where AWS calls go and whose credentials they use: the `[aws]` table of the configuration file.
public struct AWSSettings: Sendable, Equatable {
    /// Empty = the standard chain (AWS_REGION, AWS_DEFAULT_REGION, the config file, us-east-1).
    public var region = ""
    /// Endpoint override, e.g. `http://127.0.0.1:5000` for moto_server; empty = AWS.
    public var endpoint = ""
    /// Shared-file profile; empty = AWS_PROFILE or `default`.
    public var profile = ""
    /// Create the S3 bucket when it does not exist.
    public var createBucket = false
    /// Instance metadata service for instance-role credentials; empty = AWS_EC2_METADATA_SERVICE_ENDPOINT,
    /// else `http://169.254.169.254` (never asked when AWS_EC2_METADATA_DISABLED=true).
    public var imdsEndpoint = ""

    public init() {}

    /// Region, endpoint and credentials: these settings first, then the standard chain.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> AWSConfiguration {
        try await AWSConfiguration.resolve(
            environment: environment, profile: profile.isEmpty ? nil : profile, endpoint: endpoint.isEmpty ? nil : endpoint,
            region: region.isEmpty ? nil : region, imdsEndpoint: imdsEndpoint.isEmpty ? nil : imdsEndpoint)
    }
}

/// Where the X credentials come from: the `[secrets]` table.
public struct SecretsSettings: Sendable, Equatable {
    public enum Source: String, Sendable, CaseIterable {
        case environment
        /// Secrets Manager, with the environment as fallback.
        case secretsmanager
    }

    public enum Layout: String, Sendable, CaseIterable {
        /// One secret holding all five keys.
        case json
        /// One secret per key under `prefix`.
        case perKey = "per_key"
    }

    public var source = Source.environment
    public var layout = Layout.json
    public var secretID = "conviction/x-api"
    public var prefix = "conviction"
    public var cacheTTL: Duration = .seconds(300)

    public init() {}

    /// X credentials: Secrets Manager first when configured, the environment as fallback.
    public func resolver(aws: AWSSettings, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> CredentialResolver {
        var providers: [any SecretsProvider] = []
        if source == .secretsmanager { providers.append(try await secretsManagerProvider(aws: aws, environment: environment)) }
        providers.append(EnvironmentSecretsProvider(environment: environment))
        return CredentialResolver(providers: providers, ttl: cacheTTL)
    }

    /// The Secrets Manager provider these settings describe.
    public func secretsManagerProvider(aws: AWSSettings, environment: [String: String] = ProcessInfo.processInfo.environment) async throws
        -> SecretsManagerSecretsProvider {
        let client = try SecretsManagerClient(configuration: try await aws.resolve(environment: environment))
        return SecretsManagerSecretsProvider(client: client, layout: layout == .perKey ? .perKey(prefix: prefix) : .json(secretID: secretID))
    }
}

/// Spot instances for the GPU path (`conviction gpu`): the `[gpu]` table.
public struct GPUSettings: Sendable, Equatable {
    public var launchTemplate = "conviction-gpu-scorer"
    /// Overrides the template's instance type; empty = the template's.
    public var instanceType = ""
    public var count = 1
    /// Highest spot price per instance-hour in USD; empty = up to the on-demand price.
    public var maxPrice = ""
    /// Hours the cost estimate assumes.
    public var estimateHours = 2.0
    /// Value of the `conviction:role` tag that marks the instances.
    public var role = "gpu-scorer"

    public init() {}
}
