import Foundation

/// The one source of time for code that waits: calendar time (post times, rate-limit resets in UNIX
/// seconds), a monotonic reading for watchdogs, and sleeping. Production uses `SystemTimeSource`;
/// tests inject a clock of their own (ConvictionTesting's `TestClock`) into the client *and* the
/// local server, so both read one time and a wait for a reset header means the same to both.
public protocol TimeSource: Sendable {
    /// Milliseconds since the UNIX epoch.
    func now() -> EpochMillis
    /// A monotonic reading in milliseconds, for measuring intervals (never jumps back).
    func monotonicMillis() -> Int64
    /// Sleeps `duration` of this source's time; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

extension TimeSource {
    /// Time passed since a `monotonicMillis()` reading.
    public func elapsed(since mark: Int64) -> Duration { .milliseconds(monotonicMillis() - mark) }
}

/// Wall-clock calendar time, `ContinuousClock` for intervals and sleeps.
public struct SystemTimeSource: TimeSource {
    private static let origin = ContinuousClock.now
    public init() {}
    public func now() -> EpochMillis { EpochMillis(Date().timeIntervalSince1970 * 1000) }
    public func monotonicMillis() -> Int64 {
        let (s, atto) = (ContinuousClock.now - Self.origin).components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (s, attoseconds) = components
        return s * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
