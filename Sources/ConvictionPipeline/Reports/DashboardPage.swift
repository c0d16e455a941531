import ConvictionCore
import ConvictionStore
import Foundation

/// A static dashboard page: the tweet-volume widget (posts per 5-minute bar, stacked by label,
/// with the price line) for one symbol and day, and the latest run's verdict. Everything is
/// inline; post text is HTML-escaped. The live dashboard server arrives with its own module.
public struct DashboardPage: Sendable {
    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    /// Renders and stores `dashboard/index.html`; returns its path.
    public func render(symbol requested: String?, date requestedDate: String?) async throws -> String {
        let store = context.store
        let symbol = requested.map(Symbol.init) ?? context.configuration.symbols[0]
        let scorePartitions = try await store.partitions(of: .scores, symbols: [symbol])
        let dates = scorePartitions.keys.compactMap(\.date).sorted()
        guard let date = requestedDate.flatMap(CivilDate.init(iso:)) ?? dates.last else {
            throw StoreError(key: Dataset.scores.rawValue, message: "no scores for \(symbol): run `conviction score` first")
        }
        var scores: [SentimentScore] = []
        for key in scorePartitions[Partition(.scores, date: date, symbol: symbol)] ?? [] {
            scores += try MarketTables.decodeScores(try await store.get(key), source: key)
        }
        var bars: [PriceBar] = []
        for key in try await store.partitions(of: .bars, from: date, through: date, symbols: [symbol]).values.flatMap({ $0 }) {
            bars += try MarketTables.decodeBars(try await store.get(key), source: key)
        }
        var latest: RunReport?
        for key in try await store.list(prefix: Dataset.runs.rawValue + "/") where key.hasSuffix("report.json") {
            if let report = try? JSONDecoder().decode(RunReport.self, from: try await store.get(key)),
               latest == nil || report.createdAt > latest!.createdAt { latest = report }
        }
        let html = page(symbol: symbol, date: date, scores: scores, bars: bars.sorted { $0.start < $1.start }, latest: latest)
        let key = "dashboard/index.html"
        try await store.put(key, data: Data(html.utf8))
        return store.location + "/" + key
    }

    func page(symbol: Symbol, date: CivilDate, scores: [SentimentScore], bars: [PriceBar], latest: RunReport?) -> String {
        let volume = VolumeWidget(scores: scores, bars: bars, day: date)
        let recent = scores.sorted { $0.createdAt > $1.createdAt }.prefix(15)
        var html = """
        <!doctype html><html><head><meta charset="utf-8"><title>Conviction: \(escape(symbol.rawValue)) \(date.isoString)</title>
        <style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;font-size:13px}</style>
        </head><body><h1>\(escape(symbol.cashtag)) on \(date.isoString)</h1>
        <h2>Tweet volume per 5-minute bar, by sentiment label</h2>
        \(volume.svg())
        <p>\(scores.count) scored posts this day (UTC).</p>
        """
        if let latest { html += "<h2>Latest run \(escape(latest.runID))</h2><p>\(escape(latest.verdict))</p>" }
        html += "<h2>Latest posts</h2><table><tr><th>created (UTC)</th><th>label</th><th>confidence</th><th>post id</th></tr>"
        for s in recent {
            html += "<tr><td>\(Timestamps.iso8601(s.createdAt))</td><td>\(s.label.rawValue)</td><td>\(String(format: "%.2f", s.confidence))</td><td>\(escape(s.postID))</td></tr>"
        }
        html += "</table></body></html>\n"
        return html
    }
}

/// Posts per bar stacked by label, price line on top: the tweet-volume widget.
struct VolumeWidget {
    let buckets: [(start: EpochMillis, counts: [SentimentScore.Label: Int])]
    let prices: [(EpochMillis, Double)]

    init(scores: [SentimentScore], bars: [PriceBar], day: CivilDate, barMinutes: Int = 5) {
        let dayStart = Int64(day.daysSinceEpoch) * Timestamps.day
        let span = Int64(barMinutes) * Timestamps.minute
        var buckets: [(EpochMillis, [SentimentScore.Label: Int])] = (0..<Int(Timestamps.day / span)).map { (dayStart + Int64($0) * span, [:]) }
        for s in scores {
            let i = Int((s.createdAt - dayStart) / span)
            if buckets.indices.contains(i) { buckets[i].1[s.label, default: 0] += 1 }
        }
        self.buckets = buckets
        self.prices = bars.map { ($0.end, $0.close) }
    }

    func svg(width: Double = 900, height: Double = 260) -> String {
        let maxCount = max(1, buckets.map { $0.counts.values.reduce(0, +) }.max() ?? 1)
        let barWidth = width / Double(buckets.count)
        let colors: [SentimentScore.Label: String] = [.negative: "#d55", .neutral: "#bbb", .positive: "#3a6"]
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + 20))\" data-widget=\"tweet-volume\">"
        for (i, bucket) in buckets.enumerated() {
            var y = height
            for label in [SentimentScore.Label.negative, .neutral, .positive] {
                let count = bucket.counts[label] ?? 0
                guard count > 0 else { continue }
                let h = Double(count) / Double(maxCount) * (height - 10)
                y -= h
                svg += "<rect x=\"\(Double(i) * barWidth)\" y=\"\(y)\" width=\"\(max(barWidth - 0.5, 0.5))\" height=\"\(h)\" fill=\"\(colors[label]!)\" data-label=\"\(label.rawValue)\" data-count=\"\(count)\"/>"
            }
        }
        if let low = prices.map(\.1).min(), let high = prices.map(\.1).max(), let first = buckets.first?.start {
            let span = Double(Timestamps.day)
            let points = prices.map { p in
                "\(Double(p.0 - first) / span * width),\(height - 10 - (high > low ? (p.1 - low) / (high - low) : 0.5) * (height - 30))"
            }
            svg += "<polyline fill=\"none\" stroke=\"#225\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>"
        }
        svg += "<text x=\"0\" y=\"\(height + 15)\" font-size=\"11\">00:00 UTC</text><text x=\"\(width - 60)\" y=\"\(height + 15)\" font-size=\"11\">24:00 UTC</text></svg>"
        return svg
    }
}

/// HTML-escapes untrusted text (post text, ids) for element content and attribute values.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
