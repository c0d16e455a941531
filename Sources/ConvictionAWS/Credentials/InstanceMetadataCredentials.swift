import AsyncHTTPClient
import ConvictionCore
import Foundation
import NIOCore
import NIOHTTP1

/// Instance-role credentials from the EC2 instance metadata service, IMDSv2 (a session token from
/// `PUT /latest/api/token`, then the role's keys). Asked only when an endpoint is configured
/// (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, or the `aws.imds_endpoint` setting) and
/// `AWS_EC2_METADATA_DISABLED` is not `true`, so runs off EC2 never probe the link-local address.
public enum InstanceMetadataCredentials {
    public static func fetch(endpoint: String) async throws -> AWSCredentials {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        func call(_ method: HTTPMethod, _ path: String, headers: [(String, String)]) async throws -> String {
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await AWSHTTPClient.http.execute(request, timeout: .seconds(5))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            guard response.status == .ok else {
                throw AWSError(code: "InstanceMetadataError", message: "\(method.rawValue) \(path) answered \(response.status.code)", status: Int(response.status.code))
            }
            return body
        }
        let token = try await call(.PUT, "/latest/api/token", headers: [("x-aws-ec2-metadata-token-ttl-seconds", "21600")])
        let auth = [("x-aws-ec2-metadata-token", token)]
        let role = try await call(.GET, "/latest/meta-data/iam/security-credentials/", headers: auth)
            .split(separator: "\n").first.map(String.init) ?? ""
        guard !role.isEmpty else { throw AWSError(code: "InstanceMetadataError", message: "the instance has no IAM role") }
        let document = try await call(.GET, "/latest/meta-data/iam/security-credentials/\(role)", headers: auth)
        guard let object = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any],
              let key = object["AccessKeyId"] as? String, let secret = object["SecretAccessKey"] as? String else {
            throw AWSError(code: "InstanceMetadataError", message: "role \(role): the credentials document lacks AccessKeyId or SecretAccessKey")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: (object["Token"] as? String).map(Secret.init),
                              source: "instance metadata (role \(role))")
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
