import ConvictionAWS
import ConvictionCore
import Foundation

extension ConvictionConfiguration {
    /// AWS region, endpoint and credentials: these settings first, then the standard chain.
    public func awsConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> AWSConfiguration {
        try await aws.resolve(environment: environment)
    }

    /// X credentials: Secrets Manager first when configured, the environment as fallback.
    public func credentialResolver(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> CredentialResolver {
        try await secrets.resolver(aws: aws, environment: environment)
    }

    /// True when `data.dir` names an S3 location.
    public var usesS3: Bool { dataDir.hasPrefix("s3://") }
}
