import ConvictionCore
import Foundation

/// SageMaker over its JSON protocol (`POST /`, `x-amz-target: SageMaker.<Action>`), at
/// `api.sagemaker.<region>.amazonaws.com`, signed as `sagemaker`.
public struct SageMakerClient: Sendable {
    let client: AWSHTTPClient

    public init(configuration: AWSConfiguration) throws {
        client = try AWSHTTPClient(configuration: configuration, service: "sagemaker", hostPrefix: "api.sagemaker")
    }

    func call(_ action: String, _ body: [String: Any]) async throws -> [String: Any] {
        let response = try await client.send("POST", path: "/", headers: [
            ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "SageMaker.\(action)"),
        ], body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        return (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
    }

    /// Creates the tuning job; its ARN.
    public func create(_ job: SageMakerTuningJob) async throws -> String {
        let problems = job.problems
        guard problems.isEmpty else { throw SageMakerTuningJob.Invalid(problems: problems) }
        return try await call("CreateHyperParameterTuningJob", job.request)["HyperParameterTuningJobArn"] as? String ?? ""
    }

    /// Where a tuning job stands.
    public struct TuningStatus: Sendable, Equatable {
        public let name: String
        public let status: String
        public let completed: Int
        public let inProgress: Int
        public let failed: Int
        public let stopped: Int
        public let bestJob: String?
        public let bestObjective: Double?
        public let tunedHyperParameters: [String: String]

        public var finished: Bool { ["Completed", "Failed", "Stopped"].contains(status) }
    }

    /// The request bodies of the two describe calls (public so tests check them against botocore's model).
    public static func describeTuningJobRequest(_ name: String) -> [String: Any] { ["HyperParameterTuningJobName": name] }
    public static func describeTrainingJobRequest(_ name: String) -> [String: Any] { ["TrainingJobName": name] }

    public func describe(tuningJob name: String) async throws -> TuningStatus {
        let answer = try await call("DescribeHyperParameterTuningJob", Self.describeTuningJobRequest(name))
        let counters = answer["TrainingJobStatusCounters"] as? [String: Any] ?? [:]
        func count(_ key: String) -> Int { (counters[key] as? Int) ?? 0 }
        let best = answer["BestTrainingJob"] as? [String: Any]
        let objective = (best?["FinalHyperParameterTuningJobObjectiveMetric"] as? [String: Any])?["Value"]
        return TuningStatus(name: name, status: answer["HyperParameterTuningJobStatus"] as? String ?? "Unknown",
                            completed: count("Completed"), inProgress: count("InProgress"),
                            failed: count("RetryableError") + count("NonRetryableError"), stopped: count("Stopped"),
                            bestJob: best?["TrainingJobName"] as? String, bestObjective: (objective as? Double) ?? (objective as? Int).map(Double.init),
                            tunedHyperParameters: best?["TunedHyperParameters"] as? [String: String] ?? [:])
    }

    /// The S3 URI of a finished training job's `model.tar.gz`.
    public func modelArtifacts(trainingJob name: String) async throws -> String {
        let answer = try await call("DescribeTrainingJob", Self.describeTrainingJobRequest(name))
        guard let uri = (answer["ModelArtifacts"] as? [String: Any])?["S3ModelArtifacts"] as? String else {
            throw AWSError(code: "InvalidResponse", message: "training job \(name) has no model artifacts (status \(answer["TrainingJobStatus"] as? String ?? "unknown"))")
        }
        return uri
    }
}
