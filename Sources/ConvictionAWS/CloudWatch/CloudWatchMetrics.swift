import ConvictionCore
import CoreMetrics
import Foundation
import Synchronization

/// A swift-metrics backend that publishes to CloudWatch with `PutMetricData`. The process emits
/// through swift-metrics only; Prometheus (the ingester's `/metrics`) and this are two backends of
/// the same calls.
///
/// Values are aggregated in memory and sent by `flush()` (every `monitoring.flush_seconds`, and at
/// exit): a counter as the increase since the last flush (0 included, so an "ingest stalled" alarm
/// sees zeros rather than missing data), a gauge as its last value, a recorder or timer as a
/// statistic set (count, sum, min, max). A counter or distribution kept only by dimension also
/// goes out as a dimensionless total (`rollUps`), for alarms over all symbols. Requests stay within the API's limits: at most 1,000
/// metric data per call and a body under 1 MB; at most 30 dimensions per metric. A failed call puts
/// its values back, so the next flush sends them.
public final class CloudWatchMetricsFactory: MetricsFactory, Sendable {
    public static let maxDataPerRequest = 1000
    public static let maxRequestBytes = 1_000_000
    public static let maxDimensions = 30

    struct SeriesKey: Hashable, Sendable {
        let name: String
        let dimensions: [String: String]
    }

    enum Value: Sendable {
        case count(Double)
        case gauge(Double)
        case statistics(count: Double, sum: Double, min: Double, max: Double)

        mutating func merge(_ other: Value) {
            switch (self, other) {
            case (.count(let a), .count(let b)): self = .count(a + b)
            case (.statistics(let c, let s, let lo, let hi), .statistics(let c2, let s2, let lo2, let hi2)):
                self = .statistics(count: c + c2, sum: s + s2, min: Swift.min(lo, lo2), max: Swift.max(hi, hi2))
            default: self = other
            }
        }
    }

    let client: AWSHTTPClient
    public let namespace: String
    let series = Mutex<[SeriesKey: (value: Value?, unit: String)]>([:])
    let requestCount = Mutex(0)

    public init(configuration: AWSConfiguration, namespace: String) throws {
        client = try AWSHTTPClient(configuration: configuration, service: "monitoring")
        self.namespace = namespace
    }

    /// PutMetricData calls made so far.
    public var requests: Int { requestCount.withLock { $0 } }

    func key(_ label: String, _ dimensions: [(String, String)]) -> SeriesKey {
        SeriesKey(name: label, dimensions: Dictionary(dimensions.filter { !$0.1.isEmpty }.prefix(Self.maxDimensions).map { ($0.0, $0.1) }) { $1 })
    }

    func register(_ key: SeriesKey, unit: String, initial: Value?) {
        series.withLock { if $0[key] == nil { $0[key] = (initial, unit) } }
    }

    func record(_ key: SeriesKey, _ value: Value) {
        series.withLock { all in
            var entry = all[key] ?? (nil, "None")
            if entry.value == nil { entry.value = value } else { entry.value!.merge(value) }
            all[key] = entry
        }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let key = key(label, dimensions)
        register(key, unit: "Count", initial: .count(0))
        return Handler(factory: self, key: key, kind: .counter)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let key = key(label, dimensions)
        register(key, unit: label.hasSuffix("_seconds") ? "Seconds" : "None", initial: nil)
        return Handler(factory: self, key: key, kind: aggregate ? .statistics : .gauge)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let key = key(label, dimensions)
        register(key, unit: "Seconds", initial: nil)
        return Handler(factory: self, key: key, kind: .timer)
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}

    final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        enum Kind { case counter, gauge, statistics, timer }
        let factory: CloudWatchMetricsFactory
        let key: SeriesKey
        let kind: Kind
        init(factory: CloudWatchMetricsFactory, key: SeriesKey, kind: Kind) { self.factory = factory; self.key = key; self.kind = kind }

        func increment(by amount: Int64) { factory.record(key, .count(Double(amount))) }
        func reset() { factory.series.withLock { $0[key]?.value = .count(0) } }
        func record(_ value: Int64) { record(Double(value)) }
        func record(_ value: Double) {
            factory.record(key, kind == .gauge ? .gauge(value) : .statistics(count: 1, sum: value, min: value, max: value))
        }
        func recordNanoseconds(_ duration: Int64) {
            let seconds = Double(duration) / 1e9
            factory.record(key, .statistics(count: 1, sum: seconds, min: seconds, max: seconds))
        }
    }

    /// Takes what was recorded since the last flush: counters restart at 0, gauges keep their value.
    func drain() -> [(SeriesKey, Value, String)] {
        series.withLock { all in
            var out: [(SeriesKey, Value, String)] = []
            for (key, entry) in all {
                guard let value = entry.value else { continue }
                out.append((key, value, entry.unit))
                switch value {
                case .count: all[key]?.value = .count(0)
                case .statistics: all[key]?.value = nil
                case .gauge: break
                }
            }
            return (out + Self.rollUps(out)).sorted { ($0.0.name, $0.0.dimensions.description) < ($1.0.name, $1.0.dimensions.description) }
        }
    }

    /// For each counter or distribution published only with dimensions (posts by symbol,
    /// quarantine by reason), one more series without dimensions: the total. Alarms cannot sum
    /// across dimensions, and "ingest stalled" or "quarantine share" are about all symbols.
    static func rollUps(_ items: [(SeriesKey, Value, String)]) -> [(SeriesKey, Value, String)] {
        let plain = Set(items.filter { $0.0.dimensions.isEmpty }.map(\.0.name))
        var totals: [String: (Value, String)] = [:]
        for (key, value, unit) in items where !key.dimensions.isEmpty && !plain.contains(key.name) {
            if case .gauge = value { continue }
            if var total = totals[key.name] { total.0.merge(value); totals[key.name] = total } else { totals[key.name] = (value, unit) }
        }
        return totals.map { (SeriesKey(name: $0.key, dimensions: [:]), $0.value.0, $0.value.1) }
    }

    /// Sends everything recorded since the last flush; returns how many metric data went out.
    @discardableResult
    public func flush(at time: Date = Date()) async throws -> Int {
        let data = drain()
        guard !data.isEmpty else { return 0 }
        let stamp = ISO8601DateFormatter().string(from: time)
        // Batches of at most 1,000 data and under 1 MB of form body (values are percent-encoded: up to 3 bytes a byte).
        var batches: [[(SeriesKey, Value, String)]] = [[]]
        var bytes = 0
        for item in data {
            let size = Self.datumFields(index: 1000, key: item.0, value: item.1, unit: item.2, timestamp: stamp)
                .reduce(0) { $0 + $1.0.utf8.count + 3 * $1.1.utf8.count + 2 }
            if batches[batches.count - 1].count == Self.maxDataPerRequest || bytes + size > Self.maxRequestBytes - 1_000 {
                batches.append([]); bytes = 0
            }
            batches[batches.count - 1].append(item)
            bytes += size
        }
        var sent = 0
        for (i, batch) in batches.enumerated() where !batch.isEmpty {
            let fields = batch.enumerated().flatMap { Self.datumFields(index: $0.offset + 1, key: $0.element.0, value: $0.element.1, unit: $0.element.2, timestamp: stamp) }
            let form = [("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", namespace)] + fields
            let body = form.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
            do {
                _ = try await client.send("POST", path: "/", headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")], body: Data(body.utf8))
                requestCount.withLock { $0 += 1 }
                sent += batch.count
            } catch {
                // Put back what did not go out (this batch and the later ones) for the next flush.
                for item in batches[i...].joined() { record(item.0, item.1) }
                throw error
            }
        }
        return sent
    }

    static func datumFields(index: Int, key: SeriesKey, value: Value, unit: String, timestamp: String) -> [(String, String)] {
        let p = "MetricData.member.\(index)."
        var fields = [(p + "MetricName", key.name), (p + "Timestamp", timestamp), (p + "Unit", unit)]
        for (i, (name, v)) in key.dimensions.sorted(by: { $0.key < $1.key }).enumerated() {
            fields += [(p + "Dimensions.member.\(i + 1).Name", name), (p + "Dimensions.member.\(i + 1).Value", String(v.prefix(1024)))]
        }
        switch value {
        case .count(let v), .gauge(let v): fields.append((p + "Value", Self.number(v)))
        case .statistics(let c, let s, let lo, let hi):
            fields += [(p + "StatisticValues.SampleCount", Self.number(c)), (p + "StatisticValues.Sum", Self.number(s)),
                       (p + "StatisticValues.Minimum", Self.number(lo)), (p + "StatisticValues.Maximum", Self.number(hi))]
        }
        return fields
    }

    /// CloudWatch refuses NaN and infinities.
    static func number(_ v: Double) -> String { v.isFinite ? String(v) : "0" }
}
