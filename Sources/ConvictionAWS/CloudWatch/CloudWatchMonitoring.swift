import ConvictionCore
import CoreMetrics
import Foundation
import Synchronization

/// CloudWatch monitoring: the `[monitoring]` table of the configuration file.
public struct MonitoringSettings: Sendable, Equatable {
    /// Publish metrics (PutMetricData) and ship logs (CloudWatch Logs).
    public var cloudwatch = false
    public var namespace = "Conviction"
    public var logGroup = "/conviction"
    /// How often metrics and logs are sent (and once more at exit).
    public var flushSeconds = 60
    /// Log lines held for the next send at most; more are dropped and counted.
    public var logBufferLines = 20_000

    public init() {}
}

/// The process's CloudWatch metrics backend and log shipper, flushed on a timer and at exit.
/// Started once per process (swift-metrics has one global backend).
public final class CloudWatchMonitoring: Sendable {
    public let metrics: CloudWatchMetricsFactory
    public let logs: CloudWatchLogShipper
    let flushing: Mutex<Task<Void, Never>?> = Mutex(nil)
    let droppedReported = Mutex(0)

    static let current = Mutex<CloudWatchMonitoring?>(nil)

    public init(configuration: AWSConfiguration, settings: MonitoringSettings, stream: String) throws {
        metrics = try CloudWatchMetricsFactory(configuration: configuration, namespace: settings.namespace)
        logs = try CloudWatchLogShipper(configuration: configuration, group: settings.logGroup, stream: stream, capacity: settings.logBufferLines)
    }

    /// Starts monitoring for this process unless it already runs: swift-metrics' global backend
    /// becomes CloudWatch, log lines are shipped, and both are sent every `flushSeconds`.
    public static func start(configuration: AWSConfiguration, settings: MonitoringSettings, command: String) throws -> CloudWatchMonitoring {
        try current.withLock { current in
            if let current { return current }
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
            let stream = "\(host)/\(command)/\(ProcessInfo.processInfo.processIdentifier)-\(Timestamps.now())"
            let monitoring = try CloudWatchMonitoring(configuration: configuration, settings: settings, stream: stream)
            MetricsSystem.bootstrap(monitoring.metrics)
            LogSinks.add(monitoring.logs)
            let interval = Duration.seconds(max(1, settings.flushSeconds))
            monitoring.flushing.withLock { $0 = Task { await monitoring.runFlushing(every: interval) } }
            current = monitoring
            return monitoring
        }
    }

    func runFlushing(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { break }
            await flush()
        }
    }

    /// Sends what is buffered. Failures are written to standard error only (shipping them as log
    /// lines would feed the failure back into itself); what did not go out is tried again next time.
    public func flush() async {
        let dropped = logs.dropped
        let newlyDropped = droppedReported.withLock { reported in defer { reported = dropped }; return dropped - reported }
        if newlyDropped > 0 { Counter(label: "conviction_log_lines_dropped_total").increment(by: newlyDropped) }
        do { try await metrics.flush() } catch {
            FileHandle.standardError.write(Data("warning: CloudWatch metrics not sent: \(error)\n".utf8))
        }
        do { try await logs.flush() } catch {
            FileHandle.standardError.write(Data("warning: CloudWatch Logs not sent: \(error)\n".utf8))
        }
    }

    /// The last send before the process exits, bounded so an unreachable endpoint cannot hold it.
    public static func shutdown(timeout: Duration = .seconds(15)) async {
        guard let monitoring = current.withLock({ $0 }) else { return }
        monitoring.flushing.withLock { $0?.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await monitoring.flush() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
