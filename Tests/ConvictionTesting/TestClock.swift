import ConvictionCore
import Foundation
import Synchronization

/// The time source tests inject into a client *and* the local server it talks to: calendar time
/// from a chosen start date (post times, rate-limit resets in UNIX seconds), running `speed` times
/// faster than real time, with sleeps shortened to match. One clock for both sides is what keeps a
/// reset header meaningful; the speed-up lets an hour of X's back-off schedule pass in seconds while
/// every part (publishing, keep-alives, watchdogs, windows) still sees the same consistent time.
/// It records every sleep, so a test reads back what was waited. swift-clocks' TestClock has no
/// calendar and no shared notion of "now" for a server in another task, hence this one.
public final class TestClock: TimeSource {
    public let start: EpochMillis
    public let speed: Double
    private let origin = ContinuousClock.now
    private let recorded = Mutex<[Duration]>([])

    /// 2026-01-05 15:00 UTC, a Monday: the default start when a test has no date of its own.
    public static let defaultStart: EpochMillis = 1_767_625_200_000

    public init(start: EpochMillis = TestClock.defaultStart, speed: Double = 1) {
        precondition(speed > 0, "speed must be positive")
        self.start = start; self.speed = speed
    }

    /// A clock started at midnight UTC of `iso` (YYYY-MM-DD).
    public convenience init(startingOn iso: String, speed: Double = 1) {
        let date = CivilDate(iso: iso)!
        self.init(start: EpochMillis(date.daysSinceEpoch) * Timestamps.day, speed: speed)
    }

    public func monotonicMillis() -> Int64 { Int64(((ContinuousClock.now - origin) * speed).seconds * 1000) }
    public func now() -> EpochMillis { start + monotonicMillis() }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        recorded.withLock { $0.append(duration) }
        try await Task.sleep(for: duration / speed)
    }

    /// Every sleep asked of this clock, in order.
    public var sleeps: [Duration] { recorded.withLock { $0 } }
}

/// A clock that moves only when slept on: `sleep(for:)` returns at once with the time advanced.
/// For logic that compares times (expirations, deadlines) where a loaded machine must not be able
/// to let time pass between two steps of a test.
public final class ManualClock: TimeSource {
    private let current: Mutex<EpochMillis>
    private let origin: EpochMillis

    public init(start: EpochMillis = TestClock.defaultStart) {
        current = Mutex(start); origin = start
    }

    public func now() -> EpochMillis { current.withLock { $0 } }
    public func monotonicMillis() -> Int64 { now() - origin }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        current.withLock { $0 += Int64(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000) }
    }
}
