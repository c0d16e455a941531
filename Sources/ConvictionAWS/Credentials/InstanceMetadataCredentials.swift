import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import Foundation
import NIOCore
import NIOHTTP1

/// Instance-role credentials from the EC2 instance metadata service, IMDSv2: a session token from
/// `PUT /latest/api/token`, then the role's keys. Asked last in the chain, at
/// `http://169.254.169.254` unless `AWS_EC2_METADATA_SERVICE_ENDPOINT` (or the `aws.imds_endpoint`
/// setting) names another, with 1-second timeouts so a run off EC2 moves on at once; never when
/// `AWS_EC2_METADATA_DISABLED=true`.
public enum InstanceMetadataCredentials {
    public static let defaultEndpoint = "http://169.254.169.254"

    /// The endpoint the environment names, else the link-local default; nil when disabled.
    static func endpoint(environment: [String: String], override: String?) -> String? {
        guard environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" else { return nil }
        if let override, !override.isEmpty { return override }
        if let named = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"], !named.isEmpty { return named }
        return environment["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"]?.lowercased() == "ipv6" ? "http://[fd00:ec2::254]" : defaultEndpoint
    }

    public static func fetch(endpoint: String, timeout: TimeAmount = .seconds(1)) async throws -> AWSCredentials {
        let session = try await InstanceMetadataSession.open(endpoint: endpoint, ttlSeconds: 21600, timeout: timeout)
        let role = try await session.read("/latest/meta-data/iam/security-credentials/").split(separator: "\n").first.map(String.init) ?? ""
        guard !role.isEmpty else { throw AWSError(code: "InstanceMetadataError", message: "the instance has no IAM role") }
        let document = try await session.read("/latest/meta-data/iam/security-credentials/\(role)")
        return try CredentialTimestamp.credentials(fromJSON: Data(document.utf8), source: "instance metadata (role \(role))")
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

/// Task-role credentials from the ECS or EKS Pod Identity agent: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
/// (under `http://169.254.170.2`) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the
/// `Authorization` header read from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` on every fetch (the
/// agent rotates it) or taken from `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
enum ContainerCredentials {
    /// The URL to ask, or nil when neither variable is set. A full URI over plain HTTP must point
    /// at loopback or at the ECS / EKS agent addresses, as the SDKs require.
    static func url(environment: [String: String]) throws -> String? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return "http://169.254.170.2" + (relative.hasPrefix("/") ? relative : "/" + relative)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty else { return nil }
        guard let url = URL(string: full), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else {
            throw AWSError(code: "InvalidConfiguration", message: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
        }
        let agentHosts: Set<String> = ["localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]", "::1", "[::1]"]
        guard scheme == "https" || (scheme == "http" && (host.hasPrefix("127.") || agentHosts.contains(host))) else {
            throw AWSError(code: "InvalidConfiguration",
                           message: "AWS_CONTAINER_CREDENTIALS_FULL_URI over http must point at loopback or the container agent, not \(host)")
        }
        return full
    }

    /// Three attempts with 2-second timeouts, as the SDKs make: the agent is local, and a slow answer
    /// is usually a busy host rather than a missing agent.
    static func fetch(url: String, environment: [String: String]) async throws -> AWSCredentials {
        var lastError: any Error = AWSError(code: "ContainerCredentialsError", message: "not asked")
        for attempt in 1...3 {
            do { return try await fetchOnce(url: url, environment: environment) } catch let error as AWSError where error.status != nil && error.status! < 500 {
                throw error  // refused: asking again will not help
            } catch {
                lastError = error
                if attempt < 3 { try await Task.sleep(for: .milliseconds(100 * attempt)) }
            }
        }
        if let error = lastError as? AWSError { throw error }
        throw AWSError(code: "ContainerCredentialsError", message: "the container credentials endpoint did not answer in 3 attempts: \(lastError)")
    }

    static func fetchOnce(url: String, environment: [String: String]) async throws -> AWSCredentials {
        var request = HTTPClientRequest(url: url)
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw AWSError(code: "InvalidConfiguration", message: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file) cannot be read", status: 400)
            }
            request.headers.add(name: "authorization", value: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            request.headers.add(name: "authorization", value: token)
        }
        let response = try await SharedHTTPClient.client.execute(request, timeout: .seconds(2))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw AWSError(code: "ContainerCredentialsError", message: "the container credentials endpoint answered \(response.status.code)",
                           status: Int(response.status.code))
        }
        return try CredentialTimestamp.credentials(fromJSON: Data(body.readableBytesView), source: "container credentials")
    }
}
