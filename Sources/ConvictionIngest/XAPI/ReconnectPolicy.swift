import Foundation

/// Why a stream connection ended, which decides how long to wait before the next one.
public enum DisconnectClass: String, Sendable, CaseIterable {
    /// An established stream ended (server closed it, operational-disconnect, idle watchdog).
    case dropped
    /// TCP or TLS failed before a response.
    case network
    /// HTTP error status other than 429.
    case http
    /// HTTP 429 (rate limit, or TooManyConnections).
    case rateLimited = "rate_limited"
}

/// X's documented reconnect schedule: immediately after a drop; linear (+250 ms, at most 16 s) for
/// network errors; exponential from 5 s (at most 320 s) for HTTP errors and from 60 s for 429.
/// Counters reset after a successful connect.
public struct ReconnectPolicy: Sendable, Equatable {
    public var networkStep: Duration = .milliseconds(250)
    public var networkMax: Duration = .seconds(16)
    public var httpStart: Duration = .seconds(5)
    public var httpMax: Duration = .seconds(320)
    public var rateLimitStart: Duration = .seconds(60)
    public var rateLimitMax: Duration = .seconds(960)

    public init() {}

    /// The wait before attempt `attempt` (1 = the first retry) of a run of failures of one class.
    public func wait(for cls: DisconnectClass, attempt: Int) -> Duration {
        let n = max(1, attempt)
        switch cls {
        case .dropped: return .zero
        case .network: return min(networkMax, networkStep * n)
        case .http: return min(httpMax, httpStart * (1 << min(n - 1, 20)))
        case .rateLimited: return min(rateLimitMax, rateLimitStart * (1 << min(n - 1, 20)))
        }
    }

    /// Whether this wait is the class's ceiling: X asks clients to alert there.
    public func isAtMaximum(_ cls: DisconnectClass, attempt: Int) -> Bool {
        switch cls {
        case .dropped: return false
        case .network: return wait(for: cls, attempt: attempt) >= networkMax
        case .http: return wait(for: cls, attempt: attempt) >= httpMax
        case .rateLimited: return wait(for: cls, attempt: attempt) >= rateLimitMax
        }
    }
}

