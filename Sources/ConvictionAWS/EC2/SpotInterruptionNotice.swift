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
        let session = try await InstanceMetadataSession.open(endpoint: endpoint, ttlSeconds: 300, timeout: .seconds(2))
        let (status, body) = try await session.get("/latest/meta-data/spot/instance-action")
        if status == .notFound { return nil }
        guard status == .ok, let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw AWSError(code: "InstanceMetadataError", message: "spot/instance-action answered \(status.code)", status: Int(status.code))
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
