import AsyncHTTPClient
import ConvictionCore
import Foundation
import NIOCore
import NIOHTTP1

/// The two-minute warning EC2 gives a spot instance before reclaiming it, read from the instance
/// metadata service (IMDSv2): `GET /latest/meta-data/spot/instance-action` answers 404 until the
/// instance is marked for interruption, then `{"action": "terminate", "time": "..."}`.
public enum SpotInterruptionNotice {
    public struct Notice: Sendable, Equatable {
        public let action: String
        public let time: String
    }

    /// The notice if one is posted, nil if not.
    public static func check(endpoint: String) async throws -> Notice? {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        var tokenRequest = HTTPClientRequest(url: base + "/latest/api/token")
        tokenRequest.method = .PUT
        tokenRequest.headers.add(name: "x-aws-ec2-metadata-token-ttl-seconds", value: "300")
        let tokenResponse = try await AWSHTTPClient.http.execute(tokenRequest, timeout: .seconds(2))
        let token = String(buffer: try await tokenResponse.body.collect(upTo: 1 << 16))
        guard tokenResponse.status == .ok else {
            throw AWSError(code: "InstanceMetadataError", message: "PUT /latest/api/token answered \(tokenResponse.status.code)", status: Int(tokenResponse.status.code))
        }
        var request = HTTPClientRequest(url: base + "/latest/meta-data/spot/instance-action")
        request.headers.add(name: "x-aws-ec2-metadata-token", value: token)
        let response = try await AWSHTTPClient.http.execute(request, timeout: .seconds(2))
        let body = try await response.body.collect(upTo: 1 << 16)
        if response.status == .notFound { return nil }
        guard response.status == .ok, let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            throw AWSError(code: "InstanceMetadataError", message: "spot/instance-action answered \(response.status.code)", status: Int(response.status.code))
        }
        return Notice(action: object["action"] as? String ?? "terminate", time: object["time"] as? String ?? "")
    }

    /// Polls every `interval` until a notice is posted (returned) or the task is cancelled (nil).
    /// Unreachable metadata is retried quietly: a notice missed once is seen at the next poll.
    public static func watch(endpoint: String, interval: Duration) async -> Notice? {
        while !Task.isCancelled {
            if let notice = try? await check(endpoint: endpoint) { return notice }
            try? await Task.sleep(for: interval)
        }
        return nil
    }
}
