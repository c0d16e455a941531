import ConvictionAWS
import ConvictionCore
import Foundation

extension ConvictionConfiguration {
    /// AWS region, endpoint and credentials: these settings first, then the standard chain.
    public func awsConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> AWSConfiguration {
        try await AWSConfiguration.resolveIncludingInstanceRole(
            environment: environment, profile: aws.profile.isEmpty ? nil : aws.profile, endpoint: aws.endpoint.isEmpty ? nil : aws.endpoint,
            region: aws.region.isEmpty ? nil : aws.region, imdsEndpoint: aws.imdsEndpoint.isEmpty ? nil : aws.imdsEndpoint)
    }

    /// The Secrets Manager provider these settings describe.
    public func secretsManagerProvider(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> SecretsManagerSecretsProvider {
        let client = try SecretsManagerClient(configuration: try await awsConfiguration(environment: environment))
        return SecretsManagerSecretsProvider(client: client, layout: secrets.layout == "per_key" ? .perKey(prefix: secrets.prefix) : .json(secretID: secrets.secretID))
    }

    /// X credentials: Secrets Manager first when configured, the environment as fallback.
    public func credentialResolver(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> CredentialResolver {
        var providers: [any SecretsProvider] = []
        if secrets.source == "secretsmanager" { providers.append(try await secretsManagerProvider(environment: environment)) }
        providers.append(EnvironmentSecretsProvider(environment: environment))
        return CredentialResolver(providers: providers, ttl: .seconds(secrets.cacheTTLSeconds))
    }

    /// True when `data.dir` names an S3 location.
    public var usesS3: Bool { dataDir.hasPrefix("s3://") }
}
