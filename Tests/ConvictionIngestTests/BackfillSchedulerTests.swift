@testable import ConvictionIngest
import Testing

/// The backfill's windows: gaps merge into the one waiting window, a new connection's first post
/// bounds it, a running window's bounds stay fixed, and a failed one waits again with what came since.
@Suite(.timeLimit(.minutes(1))) struct BackfillSchedulerTests {
    @Test func gapsMergeIntoOneWaitingWindow() {
        let scheduler = BackfillScheduler()
        scheduler.request(BackfillWindow(since: 100))
        scheduler.bound(until: 150)
        #expect(scheduler.pending == BackfillWindow(since: 100, until: 150))
        // A second gap before the first ran: one window covering both, open until its own first post.
        scheduler.request(BackfillWindow(since: 200))
        #expect(scheduler.pending == BackfillWindow(since: 100, until: nil))
        scheduler.bound(until: 260)
        #expect(scheduler.pending == BackfillWindow(since: 100, until: 260))
        scheduler.bound(until: 300)  // only the first post of a connection bounds an open window
        #expect(scheduler.pending == BackfillWindow(since: 100, until: 260))
        #expect(scheduler.floor == 100)
    }

    @Test func aRunningWindowIsFixedAndNewGapsWaitBehindIt() {
        let scheduler = BackfillScheduler()
        scheduler.request(BackfillWindow(since: 100))
        let running = scheduler.take()
        #expect(running == BackfillWindow(since: 100, until: nil))
        #expect(scheduler.take() == nil, "one window runs at a time")
        scheduler.bound(until: 120)  // the running window is not changed
        scheduler.request(BackfillWindow(since: 300))
        #expect(scheduler.pending == BackfillWindow(since: 300, until: nil))
        #expect(scheduler.floor == 100)
        scheduler.complete()
        #expect(scheduler.floor == 300 && !scheduler.isIdle)
        #expect(scheduler.take() == BackfillWindow(since: 300, until: nil))
        scheduler.complete()
        #expect(scheduler.isIdle && scheduler.floor == nil)
    }

    @Test func aFailedWindowWaitsAgainMergedWithNewerGaps() {
        let scheduler = BackfillScheduler()
        scheduler.request(BackfillWindow(since: 100, until: 150))
        _ = scheduler.take()
        scheduler.request(BackfillWindow(since: 400, until: 450))
        scheduler.failed()
        #expect(scheduler.pending == BackfillWindow(since: 100, until: 450))
        #expect(scheduler.floor == 100)
    }
}
