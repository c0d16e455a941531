import ConvictionCore
import Foundation

/// The stages that run as AWS Batch array jobs.
public enum BatchStage: String, Codable, Sendable, CaseIterable { case score, features, replay }

/// An AWS Batch job definition for one stage's array children (`conviction batch work`), as the
/// body of a `RegisterJobDefinition` request. The retry strategy retries what a retry can fix (a
/// spot instance reclaimed under the job, a service outage or rate limit: exit 69 or 75) and stops
/// on everything else, bad input above all: retrying a malformed partition only fails again.
public struct BatchJobDefinition: Sendable {
    public typealias Stage = BatchStage

    public var stage: Stage
    /// The container image: the release's Docker image (deploy/Dockerfile) in your registry.
    public var image: String
    public var name: String
    public var vcpus: Int = 2
    public var memoryMiB: Int = 8192
    /// The role the children's credentials come from (the container credentials of the chain).
    public var jobRoleARN: String?
    /// Attempts in all, the first included (Batch allows 1 to 10).
    public var attempts: Int = 3
    /// A child that runs longer is stopped and counts as failed.
    public var timeoutSeconds: Int = 6 * 3600

    public init(stage: Stage, image: String, name: String? = nil) {
        self.stage = stage; self.image = image; self.name = name ?? "conviction-\(stage.rawValue)"
    }

    /// Exit statuses worth another attempt: a service unavailable (69) or rate-limited (75).
    public static let retriedExitStatuses = [ErrorCode.unavailable.exitStatus, ErrorCode.rateLimited.exitStatus]

    /// The `RegisterJobDefinition` request body.
    public var request: [String: Any] {
        var container: [String: Any] = [
            "image": image,
            "command": ["batch", "work", "--stage", stage.rawValue],
            "resourceRequirements": [["type": "VCPU", "value": String(vcpus)], ["type": "MEMORY", "value": String(memoryMiB)]],
            // The container has no instance metadata of its own to ask; its credentials come from the job role.
            "environment": [["name": "AWS_EC2_METADATA_DISABLED", "value": "true"]],
        ]
        if let jobRoleARN { container["jobRoleArn"] = jobRoleARN }
        // First match wins (at most 5 entries). A reclaimed spot instance reads "Host EC2 (instance i-...) terminated."
        let evaluate: [[String: String]] = [["onStatusReason": "Host EC2*", "action": "RETRY"]]
            + Self.retriedExitStatuses.map { ["onExitCode": String($0), "action": "RETRY"] }
            + [["onReason": "*", "action": "EXIT"]]
        return [
            "jobDefinitionName": name,
            "type": "container",
            "platformCapabilities": ["EC2"],
            "containerProperties": container,
            "retryStrategy": ["attempts": attempts, "evaluateOnExit": evaluate],
            "timeout": ["attemptDurationSeconds": timeoutSeconds],
            "propagateTags": true,
            "tags": ["conviction:stage": stage.rawValue],
        ]
    }

    public func json() throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: request, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
