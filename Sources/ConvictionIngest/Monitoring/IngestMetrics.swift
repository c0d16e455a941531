import ConvictionCore
import ConvictionHTTP
import CoreMetrics
import Foundation
import NIOConcurrencyHelpers
import NIOHTTP1
import Prometheus

/// The ingester's counters and gauges. The ingester keeps a `Snapshot` it can read back (is the
/// stream connected, how many posts so far), and every change is emitted through swift-metrics:
/// to this ingester's own Prometheus registry, served at `/metrics`, and to any other backend
/// passed as `also` (a CloudWatch factory, say). Each ingester has its own registry, so several
/// in one process (the tests) never mix their counts.
public final class IngestMetrics: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var postsBySymbol: [String: Int] = [:]
        public var postsPerSecond: [String: Double] = [:]
        public var rejectedByReason: [String: Int] = [:]
        public var reconnectsByClass: [String: Int] = [:]
        public var backfilledPosts = 0
        public var keepAlives = 0
        public var queueOverflows = 0
        public var committedSegments = 0
        public var connected = false
        public var backoffSeconds = 0.0
        /// The backfill's current wait for a rate-limit reset (the stream goes on meanwhile).
        public var backfillWaitSeconds = 0.0
        public var lagSeconds = 0.0
        public var queueDepth = 0
        public var lastPostAt: Int64 = 0
    }

    /// Each family's help text, for the `# HELP` lines of `/metrics`.
    static let help: [String: String] = [
        "conviction_ingest_posts_total": "Posts accepted, by symbol.",
        "conviction_ingest_posts_per_second": "Posts accepted per second over the last second, by symbol.",
        "conviction_ingest_rejected_total": "Posts quarantined, by reason.",
        "conviction_ingest_reconnects_total": "Stream reconnects, by the class of what ended the connection.",
        "conviction_ingest_backfilled_posts_total": "Posts fetched by recent search after reconnects.",
        "conviction_ingest_keepalives_total": "Keep-alive blank lines received.",
        "conviction_ingest_queue_overflows_total": "Lines the reader could not queue (recovered by backfill).",
        "conviction_ingest_committed_segments_total": "Journal segments committed to the store.",
        "conviction_ingest_connected": "1 while the stream is connected.",
        "conviction_ingest_backoff_seconds": "The current wait before reconnecting.",
        "conviction_ingest_backfill_wait_seconds": "The backfill's current wait for a search rate-limit reset.",
        "conviction_ingest_lag_seconds": "Receipt time minus created_at of the latest post.",
        "conviction_ingest_queue_depth": "Lines read and not yet processed.",
    ]

    public let registry: PrometheusCollectorRegistry
    private let factory: any MetricsFactory
    private let state = NIOLockedValueBox(Snapshot())
    private let counters = NIOLockedValueBox<[String: CoreMetrics.Counter]>([:])
    private let gauges = NIOLockedValueBox<[String: CoreMetrics.Gauge]>([:])
    private let rateWindow = NIOLockedValueBox<(at: ContinuousClock.Instant, counts: [String: Int])>((.now, [:]))

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), also: [any MetricsFactory] = []) {
        self.registry = registry
        let prometheus = PrometheusMetricsFactory(registry: registry)
        // The process-wide backend too (CloudWatch when `monitoring.cloudwatch` is on; a no-op otherwise).
        factory = MultiplexMetricsHandler(factories: [prometheus, MetricsSystem.factory] + also)
        emit(from: nil, to: Snapshot())  // every unlabelled series exists from the start, at 0
    }

    public var snapshot: Snapshot { state.withLockedValue { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) {
        let (old, new) = state.withLockedValue { s in
            let old = s
            body(&s)
            return (old, s)
        }
        if old != new { emit(from: old, to: new) }
    }

    /// One accepted post (the hot path: no snapshot comparison).
    public func accepted(symbols: [Symbol], lagMillis: Int64, at now: Int64) {
        state.withLockedValue { s in
            for symbol in symbols { s.postsBySymbol[symbol.rawValue, default: 0] += 1 }
            s.lagSeconds = Double(lagMillis) / 1000
            s.lastPostAt = now
        }
        for symbol in symbols { counter("conviction_ingest_posts_total", "symbol", symbol.rawValue).increment() }
        gauge("conviction_ingest_lag_seconds").record(Double(lagMillis) / 1000)
    }

    private func counter(_ name: String, _ label: String? = nil, _ key: String = "") -> CoreMetrics.Counter {
        Self.cached(counters, name, label, key) { CoreMetrics.Counter(label: name, dimensions: $0, factory: factory) }
    }

    private func gauge(_ name: String, _ label: String? = nil, _ key: String = "") -> CoreMetrics.Gauge {
        Self.cached(gauges, name, label, key) { CoreMetrics.Gauge(label: name, dimensions: $0, factory: factory) }
    }

    /// One handle per series, made on first use.
    private static func cached<Handle>(_ box: NIOLockedValueBox<[String: Handle]>, _ name: String, _ label: String?, _ key: String,
                                       make: ([(String, String)]) -> Handle) -> Handle {
        box.withLockedValue { handles in
            let id = name + "|" + key
            if let h = handles[id] { return h }
            let h = make(label.map { [($0, key)] } ?? [])
            handles[id] = h
            return h
        }
    }

    /// Recomputes posts/s per symbol from the counters' change since the last call (called about
    /// once a second by the ingester).
    public func tickRates() {
        let counts = snapshot.postsBySymbol
        let now = ContinuousClock.now
        let (previousAt, previous) = rateWindow.withLockedValue { window in
            let old = window
            window = (now, counts)
            return old
        }
        let elapsed = (now - previousAt).seconds
        guard elapsed > 0 else { return }
        update { s in
            for (symbol, count) in counts { s.postsPerSecond[symbol] = Double(count - (previous[symbol] ?? 0)) / elapsed }
        }
    }

    /// Sends what changed between two snapshots to the metrics backends: counters by their
    /// increase, gauges by their new value.
    private func emit(from old: Snapshot?, to new: Snapshot) {
        func count(_ name: String, _ label: String? = nil, _ key: String = "", _ delta: Int) {
            guard delta > 0 || old == nil else { return }
            let handle = counter(name, label, key)
            if delta > 0 { handle.increment(by: delta) }
        }
        func gauge(_ name: String, _ label: String? = nil, _ key: String = "", _ value: Double, _ previous: Double?) {
            guard value != previous || old == nil else { return }
            self.gauge(name, label, key).record(value)
        }
        func counts(_ name: String, _ label: String, _ new: [String: Int], _ old: [String: Int]?) {
            for (key, value) in new { count(name, label, key, value - (old?[key] ?? 0)) }
        }
        counts("conviction_ingest_posts_total", "symbol", new.postsBySymbol, old?.postsBySymbol)
        counts("conviction_ingest_rejected_total", "reason", new.rejectedByReason, old?.rejectedByReason)
        counts("conviction_ingest_reconnects_total", "class", new.reconnectsByClass, old?.reconnectsByClass)
        for (symbol, rate) in new.postsPerSecond {
            gauge("conviction_ingest_posts_per_second", "symbol", symbol, rate, old?.postsPerSecond[symbol])
        }
        count("conviction_ingest_backfilled_posts_total", nil, "", new.backfilledPosts - (old?.backfilledPosts ?? 0))
        count("conviction_ingest_keepalives_total", nil, "", new.keepAlives - (old?.keepAlives ?? 0))
        count("conviction_ingest_queue_overflows_total", nil, "", new.queueOverflows - (old?.queueOverflows ?? 0))
        count("conviction_ingest_committed_segments_total", nil, "", new.committedSegments - (old?.committedSegments ?? 0))
        gauge("conviction_ingest_connected", nil, "", new.connected ? 1 : 0, old.map { $0.connected ? 1 : 0 })
        gauge("conviction_ingest_backoff_seconds", nil, "", new.backoffSeconds, old?.backoffSeconds)
        gauge("conviction_ingest_backfill_wait_seconds", nil, "", new.backfillWaitSeconds, old?.backfillWaitSeconds)
        gauge("conviction_ingest_lag_seconds", nil, "", new.lagSeconds, old?.lagSeconds)
        gauge("conviction_ingest_queue_depth", nil, "", Double(new.queueDepth), old.map { Double($0.queueDepth) })
    }

    /// Prometheus text exposition format 0.0.4, from the registry, with a `# HELP` line for each
    /// family (swift-prometheus writes help only for metrics made on the registry directly).
    public func prometheusText() -> String {
        var out = ""
        for line in registry.emitToString().split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first, let text = Self.help[String(name)] {
                out += "# HELP \(name) \(text)\n"
            }
            out += line + "\n"
        }
        return out
    }
}

extension IngestMetrics {
    /// Serves `GET /metrics` (Prometheus text) on `host:port` until the returned server is closed.
    public func serve(host: String = "127.0.0.1", port: Int) async throws -> HTTPServer {
        let server = try await HTTPServer.bind(host: host, port: port) { request, writer in
            guard request.path == "/metrics" else { throw HTTPServer.Failure(.notFound, "see /metrics") }
            try await writer.respond(.ok, body: Data(self.prometheusText().utf8), contentType: "text/plain; version=0.0.4")
        }
        Task { await server.run() }
        return server
    }
}
