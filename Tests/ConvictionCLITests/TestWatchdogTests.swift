import ConvictionTesting
import Foundation
import Testing

/// `make test` runs each `swift test` under scripts/test-watchdog.py. A child that hangs is killed
/// with its whole process group, and the watchdog names the test that was running.
@Suite(.timeLimit(.minutes(1))) struct TestWatchdogTests {
    static let script = TestSupport.packageRoot.appendingPathComponent("scripts/test-watchdog.py").path

    @Test func aHangingChildIsKilledAndNamed() throws {
        let dir = TestSupport.temporaryDirectory("watchdog")
        let pidFile = dir.appendingPathComponent("sleeper.pid").path
        let counts = dir.appendingPathComponent("counts.jsonl").path
        // A test run that reports one pass, starts a test, and hangs in a grandchild process.
        let child = """
            echo '◇ Suite HangingSuite started.'; echo '✔ Test quickOne() passed after 0.1 seconds.'
            echo '◇ Test hangsForever() started.'; sleep 600 & echo $! > \(pidFile); wait
            """
        let started = Date()
        let result = try TestSupport.run("/usr/bin/env", ["python3", Self.script, "--limit", "2", "--grace", "1", "--label", "hanging run",
                                                          "--counts", counts, "--", "bash", "-c", child])
        #expect(result.status == 124, "\(result.stdout)\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(result.stdout.contains("watchdog: hanging run passed its limit of 2 s"), "\(result.stdout)")
        #expect(result.stdout.contains("tests still running: hangsForever()"), "\(result.stdout)")
        #expect(result.stdout.contains("suites still running: HangingSuite"), "\(result.stdout)")
        // The grandchild is gone too: the whole process group was killed.
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!Self.isRunning(pid), "the hanging child \(pid) is still alive")
        // The closing line counts what was seen and says the step failed.
        let summary = try TestSupport.run("/usr/bin/env", ["python3", Self.script, "--summarize", counts])
        #expect(summary.status == 1)
        #expect(summary.stdout.contains("hanging run (exit 124, timed out)"), "\(summary.stdout)")
        #expect(summary.stdout.hasSuffix("Tests: 1 passed, 0 failed, 0 skipped\n"), "\(summary.stdout)")
    }

    /// Alive and not a zombie waiting to be reaped (in a container nobody may reap it soon).
    static func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // Field 3, after the parenthesised command name, is the state.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test func aPassingRunIsCountedAndKeepsItsExitStatus() throws {
        let counts = TestSupport.temporaryDirectory("watchdog-ok").appendingPathComponent("counts.jsonl").path
        let child = """
            echo '✔ Test a() passed after 0.1 seconds.'; echo '✘ Test b() recorded an issue at X.swift:1:1: Expectation failed: x'
            echo '✘ Test b() failed after 0.2 seconds with 1 issue.'; echo '➜ Test c() skipped: "no data"'
            echo '✘ Test run with 3 tests in 1 suite failed after 0.3 seconds with 1 issue.'; exit 3
            """
        let result = try TestSupport.run("/usr/bin/env", ["python3", Self.script, "--limit", "60", "--label", "quick", "--counts", counts,
                                                          "--", "bash", "-c", child])
        #expect(result.status == 3)
        let summary = try TestSupport.run("/usr/bin/env", ["python3", Self.script, "--summarize", counts])
        #expect(summary.stdout.hasSuffix("Tests: 1 passed, 1 failed, 1 skipped\n"), "\(summary.stdout)")
        #expect(summary.status == 1)
    }
}
