import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import Foundation
import NIOCore
import NIOHTTP1

/// Instance-role credentials from the EC2 instance metadata service, IMDSv2 (a session token from
/// `PUT /latest/api/token`, then the role's keys). Asked only when an endpoint is configured
/// (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, or the `aws.imds_endpoint` setting) and
/// `AWS_EC2_METADATA_DISABLED` is not `true`, so runs off EC2 never probe the link-local address.
public enum InstanceMetadataCredentials {
    public static func fetch(endpoint: String) async throws -> AWSCredentials {
        let session = try await InstanceMetadataSession.open(endpoint: endpoint, ttlSeconds: 21600, timeout: .seconds(5))
        let role = try await session.read("/latest/meta-data/iam/security-credentials/").split(separator: "\n").first.map(String.init) ?? ""
        guard !role.isEmpty else { throw AWSError(code: "InstanceMetadataError", message: "the instance has no IAM role") }
        let document = try await session.read("/latest/meta-data/iam/security-credentials/\(role)")
        guard let object = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any],
              let key = object["AccessKeyId"] as? String, let secret = object["SecretAccessKey"] as? String else {
            throw AWSError(code: "InstanceMetadataError", message: "role \(role): the credentials document lacks AccessKeyId or SecretAccessKey")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: (object["Token"] as? String).map(Secret.init),
                              source: "instance metadata (role \(role))")
    }
}

/// An IMDSv2 session: a token from `PUT /latest/api/token`, sent with every read.
struct InstanceMetadataSession {
    let base: String
    let token: String
    let timeout: TimeAmount

    static func open(endpoint: String, ttlSeconds: Int, timeout: TimeAmount) async throws -> InstanceMetadataSession {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        var request = HTTPClientRequest(url: base + "/latest/api/token")
        request.method = .PUT
        request.headers.add(name: "x-aws-ec2-metadata-token-ttl-seconds", value: String(ttlSeconds))
        let response = try await SharedHTTPClient.client.execute(request, timeout: timeout)
        let token = String(buffer: try await response.body.collect(upTo: 1 << 16))
        guard response.status == .ok else {
            throw AWSError(code: "InstanceMetadataError", message: "PUT /latest/api/token answered \(response.status.code)", status: Int(response.status.code))
        }
        return InstanceMetadataSession(base: base, token: token, timeout: timeout)
    }

    /// The status and body of `GET path`.
    func get(_ path: String) async throws -> (HTTPResponseStatus, String) {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "x-aws-ec2-metadata-token", value: token)
        let response = try await SharedHTTPClient.client.execute(request, timeout: timeout)
        return (response.status, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    /// The body of `GET path`; anything but 200 is an error naming the path.
    func read(_ path: String) async throws -> String {
        let (status, body) = try await get(path)
        guard status == .ok else {
            throw AWSError(code: "InstanceMetadataError", message: "GET \(path) answered \(status.code)", status: Int(status.code))
        }
        return body
    }
}

extension AWSConfiguration {
    /// The standard chain with instance-role credentials last: environment, shared files, IMDSv2.
    public static func resolveIncludingInstanceRole(environment: [String: String] = ProcessInfo.processInfo.environment,
                                                    profile: String? = nil, endpoint: String? = nil, region: String? = nil,
                                                    imdsEndpoint: String? = nil) async throws -> AWSConfiguration {
        do {
            return try resolve(environment: environment, profile: profile, endpoint: endpoint, region: region)
        } catch let error as AWSError where error.code == "MissingCredentials" {
            guard environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true",
                  let imds = imdsEndpoint ?? environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"], !imds.isEmpty else { throw error }
            let credentials = try await InstanceMetadataCredentials.fetch(endpoint: imds)
            return AWSConfiguration(region: region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1",
                                    endpoint: endpoint ?? environment["AWS_ENDPOINT_URL"], credentials: credentials)
        }
    }
}
