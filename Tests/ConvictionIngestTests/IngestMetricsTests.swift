import ConvictionCore
import ConvictionIngest
import Prometheus
import Testing

/// The ingester's metrics go through swift-metrics: its own Prometheus registry (with a help line
/// per family), and any second backend given as `also` sees the same counts.
@Suite(.timeLimit(.minutes(1))) struct IngestMetricsTests {
    @Test func countsReachTheRegistryAndASecondBackendAlike() {
        let second = PrometheusCollectorRegistry()
        let metrics = IngestMetrics(also: [PrometheusMetricsFactory(registry: second)])
        metrics.accepted(symbols: [Symbol("AAPL")], lagMillis: 2500, at: 0)
        metrics.accepted(symbols: [Symbol("AAPL"), Symbol("MSFT")], lagMillis: 1000, at: 0)
        metrics.update { $0.rejectedByReason["bot_pattern", default: 0] += 3; $0.connected = true; $0.queueDepth = 7 }
        metrics.update { $0.connected = false }
        let text = metrics.prometheusText()
        for expected in ["conviction_ingest_posts_total{symbol=\"AAPL\"} 2", "conviction_ingest_posts_total{symbol=\"MSFT\"} 1",
                         "conviction_ingest_rejected_total{reason=\"bot_pattern\"} 3", "conviction_ingest_keepalives_total 0"] {
            #expect(text.contains(expected + "\n"), "missing \(expected) in\n\(text)")
        }
        #expect(text.contains("# HELP conviction_ingest_posts_total Posts accepted, by symbol.\n# TYPE conviction_ingest_posts_total counter\n"))
        #expect(text.contains("# TYPE conviction_ingest_queue_depth gauge\nconviction_ingest_queue_depth 7"))
        #expect(text.contains("conviction_ingest_connected 0"), "a gauge holds its latest value")
        #expect(text.contains("conviction_ingest_lag_seconds 1"))
        let mirrored = second.emitToString()
        #expect(mirrored.contains("conviction_ingest_posts_total{symbol=\"AAPL\"} 2") && mirrored.contains("conviction_ingest_rejected_total{reason=\"bot_pattern\"} 3"))
    }

    @Test func twoIngestersInOneProcessKeepTheirOwnCounts() {
        let a = IngestMetrics(), b = IngestMetrics()
        a.accepted(symbols: [Symbol("TSLA")], lagMillis: 0, at: 0)
        #expect(a.prometheusText().contains("conviction_ingest_posts_total{symbol=\"TSLA\"} 1"))
        #expect(!b.prometheusText().contains("symbol=\"TSLA\""))
    }
}
