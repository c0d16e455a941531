import ConvictionCore
import ConvictionHTTP
import ConvictionTesting
import Testing

/// The one retry policy: bounded attempts, back-off per attempt, server-requested waits honoured up
/// to a cap, and no retry of cancellation. Waits are read back from the test clock.
@Suite(.timeLimit(.minutes(1))) struct RetryPolicyTests {
    struct Transient: Error {}
    struct Permanent: Error {}

    @Test func retriesUpToMaxAttemptsThenThrowsTheLastError() async throws {
        let clock = TestClock(speed: 1000)
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(3), jitter: .none)
        var attempts: [Int] = []
        await #expect(throws: Transient.self) {
            try await policy.run(clock: clock, classify: { _ in .retry(serverWait: nil) }) { attempt in
                attempts.append(attempt)
                throw Transient()
            }
        }
        #expect(attempts == [1, 2, 3, 4])
        #expect(clock.sleeps == [.seconds(1), .seconds(2), .seconds(3)], "doubling from the base, capped")
    }

    @Test func aFailDecisionStopsAtOnceAndSuccessReturns() async throws {
        let clock = TestClock(speed: 1000)
        let policy = RetryPolicy(maxAttempts: 5, jitter: .none)
        var calls = 0
        await #expect(throws: Permanent.self) {
            try await policy.run(clock: clock, classify: { $0 is Permanent ? .fail : .retry(serverWait: nil) }) { _ in
                calls += 1
                throw Permanent()
            }
        }
        #expect(calls == 1 && clock.sleeps.isEmpty)
        let value = try await policy.run(clock: clock, classify: { _ in .retry(serverWait: nil) }) { attempt in
            if attempt < 3 { throw Transient() }
            return attempt * 10
        }
        #expect(value == 30)
    }

    @Test func serverWaitReplacesAShorterBackoffAndIsCapped() async throws {
        let clock = TestClock(speed: 1000)
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .seconds(1), maxDelay: .seconds(5), jitter: .none, maxServerWait: .seconds(60))
        var waits: [Duration] = [.seconds(30), .seconds(86_400 * 90)]  // a rate-limit reset, then one from a clock months off
        _ = try? await policy.run(clock: clock, classify: { _ in .retry(serverWait: waits.removeFirst()) }) { _ -> Int in throw Transient() }
        #expect(clock.sleeps == [.seconds(30), .seconds(60)])
        #expect(policy.wait(after: 1, serverWait: .milliseconds(10)) == .seconds(1), "a shorter server wait does not shorten the back-off")
    }

    @Test func jitterStaysWithinEachCap() {
        let full = RetryPolicy(maxAttempts: 9, baseDelay: .milliseconds(100), maxDelay: .seconds(5), jitter: .full)
        let equal = RetryPolicy(maxAttempts: 9, baseDelay: .milliseconds(100), maxDelay: .seconds(5), jitter: .equal)
        for attempt in 1...8 {
            let cap = min(Duration.seconds(5), .milliseconds(100) * (1 << (attempt - 1)))
            for _ in 0..<50 {
                let f = full.wait(after: attempt), e = equal.wait(after: attempt)
                #expect(f >= .zero && f <= cap)
                #expect(e >= cap / 2 && e <= cap)
            }
        }
    }

    @Test func cancellationIsNeverRetried() async throws {
        let clock = TestClock(speed: 1)
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .seconds(60), jitter: .none)
        let task = Task {
            try await policy.run(clock: clock, classify: { _ in .retry(serverWait: nil) }) { _ -> Int in throw Transient() }
        }
        // The first failure leads to a 60 s back-off; cancelling ends that wait at once.
        while clock.sleeps.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let cancelledAt = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        // Well under the 60 s back-off, with room for a loaded machine.
        #expect(ContinuousClock.now - cancelledAt < .seconds(30))
        #expect(clock.sleeps.count == 1)
    }
}
