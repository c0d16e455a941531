import ConvictionCore
/// The one retry policy: a bounded number of attempts with exponential backoff and jitter, where a
/// server-requested wait (`Retry-After`, a rate-limit reset) replaces the backoff when it is longer,
/// up to `maxServerWait`. Every wait goes through the caller's `TimeSource`, so it is cancellable
/// and tests can run it on their own clock.
public struct RetryPolicy: Sendable, Equatable {
    public enum Jitter: Sendable, Equatable {
        /// Uniform in [0, backoff]: AWS's "full jitter".
        case full
        /// Uniform in [backoff/2, backoff].
        case equal
        case none
    }

    /// What to do after a failed attempt.
    public enum Decision: Sendable, Equatable {
        /// Try again after the backoff, or after `serverWait` when the server asked for longer.
        case retry(serverWait: Duration?)
        case fail
    }

    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    public var jitter: Jitter
    /// The longest server-requested wait honoured; a longer one (a clock mismatch, a bad header) is cut to this.
    public var maxServerWait: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5),
                jitter: Jitter = .full, maxServerWait: Duration = .seconds(960)) {
        self.maxAttempts = maxAttempts; self.baseDelay = baseDelay; self.maxDelay = maxDelay
        self.jitter = jitter; self.maxServerWait = maxServerWait
    }

    /// The backoff before attempt `attempt + 1`, after `attempt` failures (1-based), before jitter.
    public func backoffCap(after attempt: Int) -> Duration {
        min(maxDelay, baseDelay * (1 << min(max(attempt, 1) - 1, 30)))
    }

    /// The wait after `attempt` failures: jittered backoff, or the server's wait when longer.
    public func wait(after attempt: Int, serverWait: Duration? = nil) -> Duration {
        let cap = backoffCap(after: attempt)
        let backoff: Duration
        switch jitter {
        case .full: backoff = cap * Double.random(in: 0...1)
        case .equal: backoff = cap * Double.random(in: 0.5...1)
        case .none: backoff = cap
        }
        guard let serverWait, serverWait > .zero else { return backoff }
        return max(backoff, min(serverWait, maxServerWait))
    }

    /// Runs `operation` (given the 1-based attempt number) until it succeeds, `classify` says `.fail`,
    /// or `maxAttempts` is used up; then the last error is thrown. Cancellation is never retried.
    /// `willRetry` sees each failure and the wait chosen, for logs and counters.
    public func run<T: Sendable>(
        clock: any TimeSource,
        classify: (any Error) -> Decision,
        willRetry: (_ attempt: Int, _ error: any Error, _ wait: Duration) -> Void = { _, _, _ in },
        _ operation: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            do {
                return try await operation(attempt)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard attempt < maxAttempts, case .retry(let serverWait) = classify(error) else { throw error }
                let wait = wait(after: attempt, serverWait: serverWait)
                willRetry(attempt, error, wait)
                try await clock.sleep(for: wait)
            }
        }
    }
}
