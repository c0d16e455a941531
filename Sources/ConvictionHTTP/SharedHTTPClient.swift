import AsyncHTTPClient
import NIOCore

/// The one HTTP client of the process: the X client and its streams, the AWS clients, the LLM scorer
/// and the dashboard all send through it, so there is one connection pool and one set of settings.
///
/// It lives for the whole process and is never shut down, as AsyncHTTPClient's own `HTTPClient.shared`
/// does; nothing has to remember a `shutdown()`. Its settings differ from `HTTPClient.shared` on purpose:
/// - connection failures are not retried inside the pool: `RetryPolicy` owns retries, so a dead
///   endpoint fails after the policy's short tries instead of waiting out a request's deadline;
/// - there is no client-wide read timeout: each call sets a deadline, and the filtered stream, which
///   may be quiet between keep-alives, is watched by the ingester's idle watchdog instead;
/// - up to 64 concurrent connections a host, for the LLM scorer's parallel batches.
///
/// Ending a request early (a stream that is closed, a call that times out) is done by cancelling
/// the task that runs it: AsyncHTTPClient then closes that connection.
public enum SharedHTTPClient {
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
