import ConvictionCore
import Foundation

/// A `SubmitJob` request for one stage's array job: every child runs `conviction batch work` on
/// the manifest, and finds the store through `CONVICTION_DATA_DIR`.
public struct BatchJobSubmission: Sendable {
    public var name: String
    public var jobQueue: String
    public var jobDefinition: String
    public var stage: BatchStage
    public var manifestKey: String
    /// The store's location (`s3://bucket/prefix`): the children's `data.dir`.
    public var dataDir: String
    /// Children; 1 submits a plain job (Batch's arrays have 2 to 10,000 children).
    public var arraySize: Int

    public init(name: String, jobQueue: String, jobDefinition: String, stage: BatchStage, manifestKey: String, dataDir: String, arraySize: Int) {
        self.name = name; self.jobQueue = jobQueue; self.jobDefinition = jobDefinition; self.stage = stage
        self.manifestKey = manifestKey; self.dataDir = dataDir; self.arraySize = arraySize
    }

    /// Batch allows 2 to 10,000 children in an array job.
    public static let arraySizes = 1...10_000

    /// The `SubmitJob` request body.
    public var request: [String: Any] {
        var body: [String: Any] = [
            "jobName": name,
            "jobQueue": jobQueue,
            "jobDefinition": jobDefinition,
            "containerOverrides": [
                "command": ["batch", "work", "--stage", stage.rawValue, "--manifest", manifestKey],
                "environment": [["name": "CONVICTION_DATA_DIR", "value": dataDir]],
            ] as [String: Any],
            "propagateTags": true,
            "tags": ["conviction:stage": stage.rawValue],
        ]
        if arraySize > 1 { body["arrayProperties"] = ["size": arraySize] }
        return body
    }

    public func json() throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: request, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

/// AWS Batch over its REST JSON protocol (`POST /v1/<operation>`), signed as `batch`.
public struct BatchClient: Sendable {
    let client: AWSHTTPClient

    public init(configuration: AWSConfiguration) throws {
        client = try AWSHTTPClient(configuration: configuration, service: "batch")
    }

    func call(_ operation: String, _ body: [String: Any]) async throws -> [String: Any] {
        let response = try await client.send("POST", path: "/v1/\(operation.lowercased())", headers: [("content-type", "application/json")],
                                             body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        return (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
    }

    /// Submits the job; its id and ARN.
    public func submit(_ submission: BatchJobSubmission) async throws -> (id: String, arn: String) {
        let answer = try await call("SubmitJob", submission.request)
        guard let id = answer["jobId"] as? String else {
            throw AWSError(code: "InvalidResponse", message: "SubmitJob answered without a jobId")
        }
        return (id, answer["jobArn"] as? String ?? "")
    }
}
