import ConvictionCore
import ConvictionHTTP
import Foundation
import NIOConcurrencyHelpers
import NIOHTTP1

/// The ingester's counters and gauges, shown in Prometheus text format (`/metrics`) while it runs.
public final class IngestMetrics: Sendable {
    public struct Snapshot: Sendable {
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

    private let state = NIOLockedValueBox(Snapshot())
    private let rateWindow = NIOLockedValueBox<(at: ContinuousClock.Instant, counts: [String: Int])>((.now, [:]))

    public init() {}

    public var snapshot: Snapshot { state.withLockedValue { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) { state.withLockedValue { body(&$0) } }

    public func accepted(symbols: [Symbol], lagMillis: Int64, at now: Int64) {
        state.withLockedValue { s in
            for symbol in symbols { s.postsBySymbol[symbol.rawValue, default: 0] += 1 }
            s.lagSeconds = Double(lagMillis) / 1000
            s.lastPostAt = now
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
        state.withLockedValue { s in
            for (symbol, count) in counts { s.postsPerSecond[symbol] = Double(count - (previous[symbol] ?? 0)) / elapsed }
        }
    }

    /// Prometheus text exposition format 0.0.4.
    public func prometheusText() -> String {
        let s = snapshot
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(Self.format(value))\n" }
        }
        func labelled(_ key: String, _ values: [String: Int]) -> [(String, Double)] {
            values.sorted { $0.key < $1.key }.map { ("{\(key)=\"\(Self.escapeLabel($0.key))\"}", Double($0.value)) }
        }
        family("conviction_ingest_posts_total", "counter", "Posts accepted, by symbol.", labelled("symbol", s.postsBySymbol))
        family("conviction_ingest_posts_per_second", "gauge", "Posts accepted per second over the last second, by symbol.",
               s.postsPerSecond.sorted { $0.key < $1.key }.map { ("{symbol=\"\(Self.escapeLabel($0.key))\"}", $0.value) })
        family("conviction_ingest_rejected_total", "counter", "Posts quarantined, by reason.", labelled("reason", s.rejectedByReason))
        family("conviction_ingest_reconnects_total", "counter", "Stream reconnects, by the class of what ended the connection.",
               labelled("class", s.reconnectsByClass))
        family("conviction_ingest_backfilled_posts_total", "counter", "Posts fetched by recent search after reconnects.", [("", Double(s.backfilledPosts))])
        family("conviction_ingest_keepalives_total", "counter", "Keep-alive blank lines received.", [("", Double(s.keepAlives))])
        family("conviction_ingest_queue_overflows_total", "counter", "Lines the reader could not queue (recovered by backfill).", [("", Double(s.queueOverflows))])
        family("conviction_ingest_committed_segments_total", "counter", "Journal segments committed to the store.", [("", Double(s.committedSegments))])
        family("conviction_ingest_connected", "gauge", "1 while the stream is connected.", [("", s.connected ? 1 : 0)])
        family("conviction_ingest_backoff_seconds", "gauge", "The current wait before reconnecting.", [("", s.backoffSeconds)])
        family("conviction_ingest_backfill_wait_seconds", "gauge", "The backfill's current wait for a search rate-limit reset.", [("", s.backfillWaitSeconds)])
        family("conviction_ingest_lag_seconds", "gauge", "Receipt time minus created_at of the latest post.", [("", s.lagSeconds)])
        family("conviction_ingest_queue_depth", "gauge", "Lines read and not yet processed.", [("", Double(s.queueDepth))])
        return out
    }

    static func format(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v) }
    static func escapeLabel(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

extension IngestMetrics {
    /// Serves `GET /metrics` (Prometheus text) on `host:port` until the returned server is closed.
    public func serve(host: String = "127.0.0.1", port: Int) async throws -> HTTPServer {
        let server = try await HTTPServer.bind(host: host, port: port) { request, writer in
            guard request.path == "/metrics" else { return try await writer.respond(.notFound, body: Data("see /metrics\n".utf8), contentType: "text/plain") }
            try await writer.respond(.ok, body: Data(self.prometheusText().utf8), contentType: "text/plain; version=0.0.4")
        }
        Task { await server.run() }
        return server
    }
}
