import ConvictionCore
import CoreMetrics
import Foundation

/// `conviction aws check`: asks AWS, with harmless calls, whether the credentials may do each
/// thing the configured stages do, and names what is refused. A probe that AWS refuses with an
/// access-denied error marks its action missing; any other answer (a missing secret, an empty
/// prefix) shows the permission is there.
public struct PermissionCheck: Sendable {
    /// The deployment roles of docs/aws.md; each needs the store, the stream also the X secret.
    public enum Role: String, Sendable, CaseIterable {
        case stream, score, gpu, train
    }

    public struct Probe: Sendable {
        public let action: String
        public let resource: String
        let run: @Sendable () async throws -> Void
    }

    public struct Result: Sendable {
        public let action: String
        public let resource: String
        /// nil: allowed; otherwise AWS's refusal or the failure that kept the probe from answering.
        public let refused: String?
        public let note: String?
        public var allowed: Bool { refused == nil }
    }

    public let probes: [Probe]

    /// The probes for `role` (nil: everything the configuration uses).
    /// - store: `s3://bucket/prefix` when the store is on S3.
    /// - secretID: the X secret when `secrets.source = "secretsmanager"` (the stream's only).
    public init(configuration: AWSConfiguration, store: S3ObjectStore?, secretID: String?, monitoring: MonitoringSettings?, role: Role?) throws {
        var probes: [Probe] = []
        if let store {
            let bucketARN = "arn:aws:s3:::\(store.bucket)"
            let key = "_aws-check/\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier).txt"
            let objectARN = bucketARN + "/" + store.objectName(key)
            probes += [
                Probe(action: "s3:ListBucket", resource: bucketARN) { _ = try await store.list(prefix: "_aws-check/") },
                Probe(action: "s3:PutObject", resource: objectARN) { try await store.put(key, data: Data("conviction aws check\n".utf8)) },
                Probe(action: "s3:GetObject", resource: objectARN) { _ = try await store.get(key) },
                Probe(action: "s3:DeleteObject", resource: objectARN) { try await store.delete(key) },
                Probe(action: "s3:AbortMultipartUpload", resource: objectARN) {
                    _ = try await store.client.send("DELETE", path: store.path(key), query: [("uploadId", "conviction-aws-check")], expecting: [404])
                },
            ]
        }
        if let secretID, role == nil || role == .stream {
            let client = try SecretsManagerClient(configuration: configuration)
            probes.append(Probe(action: "secretsmanager:GetSecretValue", resource: "secret \(secretID)") { _ = try await client.secretString(secretID) })
        }
        if let monitoring, monitoring.cloudwatch {
            let metrics = try CloudWatchMetricsFactory(configuration: configuration, namespace: monitoring.namespace)
            let logs = try CloudWatchLogShipper(configuration: configuration, group: monitoring.logGroup, stream: "aws-check/\(ProcessInfo.processInfo.hostName)")
            let groupARN = "log group \(monitoring.logGroup)"
            probes += [
                Probe(action: "cloudwatch:PutMetricData", resource: "namespace \(monitoring.namespace)") {
                    metrics.makeRecorder(label: "conviction_aws_check", dimensions: [], aggregate: false).record(1.0)
                    try await metrics.flush()
                },
                Probe(action: "logs:CreateLogStream", resource: groupARN) {
                    // The group may need creating first; a refusal there is the deployment's choice, not this probe's.
                    _ = try? await logs.call("CreateLogGroup", ["logGroupName": monitoring.logGroup], ignoring: "ResourceAlreadyExistsException")
                    try await logs.call("CreateLogStream", ["logGroupName": monitoring.logGroup, "logStreamName": logs.stream], ignoring: "ResourceAlreadyExistsException")
                },
                Probe(action: "logs:PutLogEvents", resource: groupARN) {
                    try await logs.call("PutLogEvents", ["logGroupName": monitoring.logGroup, "logStreamName": logs.stream,
                                                         "logEvents": [["timestamp": Timestamps.now(), "message": "conviction aws check"]]])
                },
            ]
        }
        self.probes = probes
    }

    public func run() async -> [Result] {
        var results: [Result] = []
        for probe in probes {
            do {
                try await probe.run()
                results.append(Result(action: probe.action, resource: probe.resource, refused: nil, note: nil))
            } catch let error as AWSError where Self.isRefusal(error) {
                results.append(Result(action: probe.action, resource: probe.resource, refused: "\(error.code): \(error.message)", note: nil))
            } catch let error as any ConvictionError where error.errorCode == .missingInput {
                // Allowed, with nothing to find (a secret not created yet; the probe object when its put was refused).
                results.append(Result(action: probe.action, resource: probe.resource, refused: nil, note: "allowed; nothing there"))
            } catch {
                results.append(Result(action: probe.action, resource: probe.resource, refused: "\(error)", note: nil))
            }
        }
        return results
    }

    static func isRefusal(_ error: AWSError) -> Bool {
        ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "Forbidden"].contains(error.code)
            || (error.status == 403 && !["SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidClientTokenId", "ExpiredToken"].contains(error.code))
    }
}
