import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// How every long-running command stops: its work runs as a swift-service-lifecycle service, and
/// SIGTERM or SIGINT starts a graceful shutdown that calls `onShutdown` (stop reading, finish the
/// batch in hand) and lets the work return on its own, so what it received is committed.
enum GracefulShutdown {
    static func run<Value: Sendable>(logger: Logger, onShutdown: @escaping @Sendable () -> Void = {},
                                      _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let service = WorkService(work: work, onShutdown: onShutdown)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return try service.result.withLock { result in
            guard let result else { throw CancellationError() }
            return try result.get()
        }
    }

    /// Returns once SIGTERM or SIGINT arrives: how the local servers run until stopped.
    static func untilSignalled(logger: Logger) async throws {
        try await run(logger: logger) { try await gracefulShutdown() }
    }

    private final class WorkService<Value: Sendable>: Service, Sendable {
        let work: @Sendable () async throws -> Value
        let onShutdown: @Sendable () -> Void
        let result = Mutex<Result<Value, any Error>?>(nil)

        init(work: @escaping @Sendable () async throws -> Value, onShutdown: @escaping @Sendable () -> Void) {
            self.work = work; self.onShutdown = onShutdown
        }

        func run() async throws {
            let outcome: Result<Value, any Error>
            do {
                outcome = .success(try await withGracefulShutdownHandler { try await work() } onGracefulShutdown: { [onShutdown] in onShutdown() })
            } catch {
                outcome = .failure(error)
            }
            result.withLock { $0 = outcome }
        }
    }
}
