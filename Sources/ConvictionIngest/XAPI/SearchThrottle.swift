import ConvictionCore
import ConvictionHTTP
import Synchronization

/// Paces search and counts requests by X's documented limits, so a long backfill or history run
/// never earns a 429: each endpoint's 15-minute window (after an answer with no requests left, the
/// next waits for the window's reset) and full-archive search's 1 request per second. Every wait
/// goes through the injected clock. Shared by the stream's backfill and `ingest history`.
public final class SearchThrottle: Sendable {
    /// X allows one full-archive search request per second.
    public static let archiveSearchInterval: Duration = .seconds(1)

    let clock: any TimeSource
    /// A reset further off than this (a clock mismatch, a bad header) is cut to it.
    let maxWait: Duration
    private let state = Mutex<[String: (limit: RateLimit?, last: Int64?)]>([:])

    public init(clock: any TimeSource, maxWait: Duration = .seconds(960)) { self.clock = clock; self.maxWait = maxWait }

    /// The endpoint's name for the throttle: `search/all`, `counts/recent`, ...
    public static func endpoint(_ kind: String, _ archive: XAPIClient.Archive) -> String { "\(kind)/\(archive.rawValue)" }

    /// Waits as X's limits require before a request to `endpoint`; `onWait` hears of each wait that
    /// is for a window's reset (the per-second spacing is not worth a log line).
    public func wait(before endpoint: String, onWait: (Duration) -> Void = { _ in }) async throws {
        let (limit, last) = state.withLock { $0[endpoint] ?? (nil, nil) }
        if let limit, limit.remaining == 0 {
            let wait = min(untilReset(limit), maxWait)
            if wait > .zero {
                onWait(wait)
                try await clock.sleep(for: wait)
            }
            state.withLock { $0[endpoint]?.limit = nil }
        }
        if endpoint == "search/all", let last {
            let spacing = Self.archiveSearchInterval - clock.elapsed(since: last)
            if spacing > .zero { try await clock.sleep(for: spacing) }
        }
        state.withLock { $0[endpoint, default: (nil, nil)].last = clock.monotonicMillis() }
    }

    /// One request to `endpoint`, paced by X's limits and retried by `policy` as `classify` decides; the
    /// answer's rate limit is kept for the next request. The one way the backfill and `ingest history` ask X.
    public func request<T: Sendable>(_ endpoint: String, policy: RetryPolicy, rateLimit: (T) -> RateLimit?,
                                     willRetry: (_ attempt: Int, _ error: any Error, _ wait: Duration) -> Void,
                                     onWait: (Duration) -> Void, _ operation: () async throws -> T) async throws -> T {
        let result = try await policy.run(clock: clock, classify: classify, willRetry: willRetry) { _ in
            try await wait(before: endpoint, onWait: onWait)
            return try await operation()
        }
        record(rateLimit(result), for: endpoint)
        return result
    }

    /// Keeps what the endpoint's answer said of its window. The spacing counts from the answer, not
    /// the request: X sees requests arrive with the network's jitter, and a second after the answer
    /// is a second after the request arrived whatever the jitter.
    public func record(_ limit: RateLimit?, for endpoint: String) {
        let now = clock.monotonicMillis()
        state.withLock { $0[endpoint, default: (nil, nil)] = (limit, now) }
    }

    /// How long until a rate-limit window resets, by the injected clock. The header is in whole
    /// seconds, so a second is added: waking within the second before the reset earns a 429.
    public func untilReset(_ limit: RateLimit) -> Duration { .milliseconds(max(0, limit.reset * 1000 + 1000 - clock.now())) }

    /// The retry decision for a failed search or counts request: network errors and 5xx back off;
    /// a 429 with no requests left waits for the reset, one with requests left (too fast) a second;
    /// the usage cap, a refused token or a bad request do not retry.
    public func classify(_ error: any Error) -> RetryPolicy.Decision {
        guard let error = error as? XAPIError else { return .retry(serverWait: nil) }
        if error.isUsageCapExceeded { return .fail }
        if error.status == 429 {
            guard let limit = error.rateLimit, limit.remaining == 0 else { return .retry(serverWait: Self.archiveSearchInterval) }
            return .retry(serverWait: untilReset(limit))
        }
        return error.status >= 500 ? .retry(serverWait: nil) : .fail
    }
}
