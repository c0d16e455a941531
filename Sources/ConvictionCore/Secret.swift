import Foundation
import Synchronization

/// A credential value. Printing, interpolating or dumping it shows `<redacted>`; only `reveal()`
/// gives the value, so a stray log line cannot leak it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    public init(_ value: String) {
        self.value = value
        SecretRedaction.register(value)
    }

    public func reveal() -> String { value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// Every secret value this process has held (the last 512, at least 6 characters), scrubbed from
/// each log line before it is written to standard error or shipped (CloudWatch Logs). A second
/// line of defence behind `Secret`'s own redaction: a value that reached a message some other way
/// (inside a service's error text, say) is still cut out.
public enum SecretRedaction {
    private static let values = Mutex<[String]>([])

    static func register(_ value: String) {
        guard value.count >= 6 else { return }
        values.withLock { list in
            guard !list.contains(value) else { return }
            list.append(value)
            if list.count > 512 { list.removeFirst(list.count - 512) }
        }
    }

    /// `line` with every known secret value replaced by `<redacted>`.
    public static func scrub(_ line: String) -> String {
        let known = values.withLock { $0 }
        var line = line
        for value in known where line.contains(value) { line = line.replacingOccurrences(of: value, with: "<redacted>") }
        return line
    }
}

/// Where log lines go besides standard error (CloudWatch Logs). A sink must not block: it is called
/// on the logging thread of every stage.
public protocol LogSink: Sendable {
    func accept(timestamp: EpochMillis, line: String)
}

public enum LogSinks {
    private static let sinks = Mutex<[any LogSink]>([])
    public static func add(_ sink: any LogSink) { sinks.withLock { $0.append(sink) } }
    /// Hands an already-redacted line to every sink.
    public static func emit(timestamp: EpochMillis, line: String) {
        for sink in sinks.withLock({ $0 }) { sink.accept(timestamp: timestamp, line: line) }
    }
}
