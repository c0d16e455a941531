import ConvictionCore
import Foundation
import Synchronization

/// Ships log lines to CloudWatch Logs without ever holding up the code that logs: `accept` only
/// appends to a bounded buffer (a full buffer drops the line and counts it), and `flush()` (every
/// `monitoring.flush_seconds`, and at exit) sends what is there with `PutLogEvents`.
///
/// Batches keep to the API's limits: events in time order, at most 10,000 events and 1,048,576
/// bytes (each event's UTF-8 message plus 26) per call, spanning at most 24 hours; an event longer
/// than 256 KiB is cut. Calls are retried by `AWSHTTPClient`; a batch that still fails goes back
/// into the buffer (as far as it has room) for the next flush. Lines arrive already redacted
/// (`SecretRedaction`), the same text as on standard error.
public final class CloudWatchLogShipper: LogSink, Sendable {
    public static let maxEventsPerCall = 10_000
    public static let maxBytesPerCall = 1_048_576
    public static let eventOverhead = 26
    public static let maxEventBytes = 262_144 - 26
    public static let maxSpan: EpochMillis = 24 * 3_600_000

    struct Event: Sendable { let timestamp: EpochMillis; let message: String; let sequence: Int }
    struct Buffer: Sendable { var events: [Event] = []; var dropped = 0; var sequence = 0 }

    let client: AWSHTTPClient
    public let group: String
    public let stream: String
    public let capacity: Int
    let buffer = Mutex(Buffer())
    let created = Mutex(false)
    let calls = Mutex(0)

    public init(configuration: AWSConfiguration, group: String, stream: String, capacity: Int = 20_000) throws {
        client = try AWSHTTPClient(configuration: configuration, service: "logs")
        self.group = group; self.stream = stream; self.capacity = capacity
    }

    /// Lines dropped because the buffer was full.
    public var dropped: Int { buffer.withLock { $0.dropped } }
    /// PutLogEvents calls made so far.
    public var putCalls: Int { calls.withLock { $0 } }

    public func accept(timestamp: EpochMillis, line: String) {
        var message = line
        if message.utf8.count > Self.maxEventBytes {
            message = String(decoding: Array(message.utf8.prefix(Self.maxEventBytes - 16)), as: UTF8.self) + " [truncated]"
        }
        buffer.withLock { b in
            guard b.events.count < capacity else { b.dropped += 1; return }
            b.sequence += 1
            b.events.append(Event(timestamp: timestamp, message: message.isEmpty ? " " : message, sequence: b.sequence))
        }
    }

    /// The API's batches for `events`, in time order (ties in arrival order).
    static func batches(_ events: [Event]) -> [[Event]] {
        let ordered = events.sorted { ($0.timestamp, $0.sequence) < ($1.timestamp, $1.sequence) }
        var batches: [[Event]] = []
        var current: [Event] = [], bytes = 0
        for event in ordered {
            let size = event.message.utf8.count + eventOverhead
            if let first = current.first,
               current.count == maxEventsPerCall || bytes + size > maxBytesPerCall || event.timestamp - first.timestamp > maxSpan {
                batches.append(current); current = []; bytes = 0
            }
            current.append(event); bytes += size
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    func call(_ action: String, _ body: [String: Any], ignoring: String? = nil) async throws {
        do {
            _ = try await client.send("POST", path: "/", headers: [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "Logs_20140328.\(action)")],
                                      body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        } catch let error as AWSError where error.code == ignoring {}
    }

    /// Sends the buffered lines; returns how many went out.
    @discardableResult
    public func flush() async throws -> Int {
        let events = buffer.withLock { b -> [Event] in
            let taken = b.events
            b.events = []
            return taken
        }
        guard !events.isEmpty else { return 0 }
        var sent = 0
        let batches = Self.batches(events)
        for (i, batch) in batches.enumerated() {
            do {
                if !created.withLock({ $0 }) {
                    // A group created by the deployment is fine: its policy need not grant CreateLogGroup.
                    do { try await call("CreateLogGroup", ["logGroupName": group], ignoring: "ResourceAlreadyExistsException") } catch let error as AWSError
                        where error.errorCode == .credentials && error.code.hasPrefix("AccessDenied") {}
                    try await call("CreateLogStream", ["logGroupName": group, "logStreamName": stream], ignoring: "ResourceAlreadyExistsException")
                    created.withLock { $0 = true }
                }
                try await call("PutLogEvents", ["logGroupName": group, "logStreamName": stream,
                                                "logEvents": batch.map { ["timestamp": $0.timestamp, "message": $0.message] }])
                calls.withLock { $0 += 1 }
                sent += batch.count
            } catch {
                let unsent = Array(batches[i...].joined())
                buffer.withLock { b in
                    let room = max(0, capacity - b.events.count)
                    b.events = Array(unsent.prefix(room)) + b.events
                    b.dropped += max(0, unsent.count - room)
                }
                throw error
            }
        }
        return sent
    }
}
