import ConvictionTesting
import Foundation
import Testing

/// The test helpers' own guard: a child process that hangs is killed at its deadline.
@Suite(.timeLimit(.minutes(1))) struct TestSupportTests {
    @Test func aChildStillRunningAtItsDeadlineIsKilledAndSaysSo() throws {
        let started = ContinuousClock.now
        let result = try TestSupport.run("/bin/sleep", ["30"], timeout: 1)
        #expect(result.status == SIGKILL && result.stderr.contains("killed: still running after 1 s"))
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}
