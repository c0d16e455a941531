import ConvictionCore
import Synchronization

/// Ids the stream may have missed, as recent search's `since_id` and `until_id` (both exclusive);
/// `until == nil` reaches up to now.
public struct BackfillWindow: Sendable, Equatable, CustomStringConvertible {
    public var since: UInt64
    public var until: UInt64?
    /// The `created_at` of the post `since` names, when known: a gap older than recent search's
    /// 7 days needs full-archive search.
    public var sinceTime: EpochMillis?

    public init(since: UInt64, until: UInt64? = nil, sinceTime: EpochMillis? = nil) {
        self.since = since; self.until = until; self.sinceTime = sinceTime
    }

    /// One window covering both.
    public func merged(with other: BackfillWindow) -> BackfillWindow {
        let until: UInt64? = if let a = until, let b = other.until { max(a, b) } else { nil }
        let older = since <= other.since ? self : other
        return BackfillWindow(since: older.since, until: until, sinceTime: older.sinceTime)
    }

    public var description: String { "(\(since), \(until.map(String.init) ?? "now"))" }
}

/// The backfill's state, shared by the processor (which finds gaps) and the backfill task (which
/// fills them). At most one window waits and one runs: a new gap merges into the waiting one
/// instead of queueing another, so however often the stream drops, the backfill converges.
final class BackfillScheduler: Sendable {
    private struct State {
        var pending: BackfillWindow?
        var running: BackfillWindow?
    }
    private let state = Mutex(State())
    private let signal: AsyncStream<Void>.Continuation
    /// Yields whenever a window becomes pending; the backfill task's only input.
    let signals: AsyncStream<Void>

    init() { (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1)) }

    /// Adds a gap; it merges into the window waiting to run, if any.
    func request(_ window: BackfillWindow) {
        state.withLock { $0.pending = $0.pending.map { $0.merged(with: window) } ?? window }
        signal.yield()
    }

    /// Bounds the waiting window from above by the first id a new connection delivered, when the
    /// gap's end was still open.
    func bound(until id: UInt64) {
        state.withLock { s in
            if var w = s.pending, w.until == nil, id > w.since { w.until = id; s.pending = w }
        }
    }

    /// Takes the waiting window to run: its bounds are fixed from now on.
    func take() -> BackfillWindow? {
        state.withLock { s in
            guard s.running == nil, let w = s.pending else { return nil }
            s.pending = nil
            s.running = w
            return w
        }
    }

    /// The running window is filled.
    func complete() { state.withLock { $0.running = nil } }

    /// The running window failed or was cancelled: it waits again, merged with any newer gap.
    func failed() {
        state.withLock { s in
            guard let w = s.running else { return }
            s.pending = s.pending.map { $0.merged(with: w) } ?? w
            s.running = nil
        }
    }

    /// The oldest `since_id` not yet filled: kept on disk so a restart resumes from it.
    var floor: UInt64? {
        state.withLock { s in [s.pending?.since, s.running?.since].compactMap { $0 }.min() }
    }

    var isIdle: Bool { state.withLock { $0.pending == nil && $0.running == nil } }
    var pending: BackfillWindow? { state.withLock { $0.pending } }
}

/// A hand-off the sender waits on until the processor has taken the item, or its own task is
/// cancelled (so a sender never waits on a processor that has stopped).
final class Delivery: Sendable {
    private let state = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func done() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.done = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func wait() async throws {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.done { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: { done() }
        try Task.checkCancellation()
    }
}
