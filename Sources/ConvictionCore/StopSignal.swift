import Synchronization

/// A request to stop at the next safe point (SIGTERM, a spot interruption notice), with the reason.
/// Long-running work polls it between units and finishes what it has in hand.
public final class StopSignal: Sendable {
    private let reason = Mutex<String?>(nil)

    public init() {}

    /// The first request's reason wins.
    public func request(_ why: String) { reason.withLock { if $0 == nil { $0 = why } } }

    public var isRequested: Bool { reason.withLock { $0 != nil } }
    public var requestReason: String? { reason.withLock { $0 } }
}
