import ConvictionCore
import ConvictionModeling
import ConvictionPipeline
import ConvictionStore
import Foundation

/// The dashboard's HTML and SVG, drawn on the server from `DashboardData`: one page per symbol and
/// UTC day, made of panels that the live server refreshes one by one (`/panel/<name>`). Nothing
/// external is loaded; every untrusted string (post text, ids) is HTML-escaped.
public enum DashboardPage {
    public static let panels = ["volume", "sentiment", "posts", "health", "runs"]

    /// The whole page. `live` adds the script that refreshes panels on server-sent events.
    public static func render(_ data: DashboardData, symbol: Symbol, date: CivilDate, live: Bool) async throws -> String {
        let days = try await data.days()
        let query = "symbol=\(symbol.rawValue)&date=\(date.isoString)"
        var html = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Conviction: \(escape(symbol.cashtag)) \(date.isoString)</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:20px 28px;color:#222;max-width:1180px}
        nav a{margin-right:8px;font-size:13px}nav a.on{font-weight:bold}
        section{margin:18px 0}h2{font-size:16px;margin:8px 0}
        table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
        .k{color:#666}.ok{color:#286}.bad{color:#b33}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
        </style></head><body\(live ? " data-live=\"/events?\(query)\"" : "")>
        <h1>\(escape(symbol.cashtag)) on \(date.isoString) <span class="k" style="font-size:13px">(UTC)</span></h1>
        <nav>
        """
        for s in data.symbols {
            let newest = days[s.rawValue]?.last ?? date.isoString
            html += "<a class=\"\(s == symbol ? "on" : "")\" href=\"?symbol=\(s.rawValue)&amp;date=\(newest)\">\(escape(s.rawValue))</a>"
        }
        html += "</nav><nav>"
        for d in (days[symbol.rawValue] ?? []).suffix(15) {
            html += "<a class=\"\(d == date.isoString ? "on" : "")\" href=\"?symbol=\(symbol.rawValue)&amp;date=\(d)\">\(d)</a>"
        }
        html += "</nav>"
        for panel in panels {
            html += "<section id=\"\(panel)\" data-src=\"/panel/\(panel)?\(query)\">\(try await self.panel(panel, data, symbol: symbol, date: date))</section>\n"
        }
        if live { html += "<script src=\"/static/dashboard.js\"></script>" }
        return html + "</body></html>\n"
    }

    /// One panel's inner HTML.
    public static func panel(_ name: String, _ data: DashboardData, symbol: Symbol, date: CivilDate) async throws -> String {
        switch name {
        case "volume":
            let v = try await data.volume(symbol: symbol, date: date)
            return "<h2>Tweet volume per \(v.barMinutes)-minute bar, by sentiment label, with the price</h2>" + volumeSVG(v)
                + "<div class=\"legend k\"><span style=\"background:#d55\"></span>negative<span style=\"background:#bbb\"></span>neutral<span style=\"background:#3a6\"></span>positive<span style=\"background:#e8d8a0\"></span>not scored yet<span style=\"background:#225;height:2px\"></span>close</div>"
                + "<p class=\"k\" data-posts=\"\(v.posts)\" data-scored=\"\(v.scored)\">\(v.posts) posts, \(v.scored) scored</p>"
        case "sentiment":
            return "<h2>sent_5m and sent_60m</h2>" + sentimentSVG(try await data.sentiment(symbol: symbol, date: date))
        case "posts":
            var html = "<h2>Latest posts</h2><table><tr><th>created (UTC)</th><th>label</th><th>confidence</th><th>text</th></tr>"
            for p in try await data.latestPosts(symbol: symbol, date: date, limit: 20) {
                html += "<tr><td>\(escape(p.createdAt))</td><td>\(escape(p.label ?? "not scored"))</td><td>\(p.confidence.map { String(format: "%.2f", $0) } ?? "")</td><td>\(escape(p.text))</td></tr>"
            }
            return html + "</table>"
        case "health":
            let h = try await data.health()
            var html = "<h2>Ingestion</h2><table>"
            html += "<tr><td class=\"k\">connected</td><td>\(h.connected.map { $0 ? "<span class=\"ok\">yes</span>" : "<span class=\"bad\">no</span>" } ?? "unknown (no metrics endpoint)")</td></tr>"
            html += "<tr><td class=\"k\">lag</td><td>\(h.lagSeconds.map { String(format: "%.1f s", $0) } ?? "-")</td></tr>"
            html += "<tr><td class=\"k\">posts stored</td><td>\(h.postsStored)\(h.source == "store" ? " (newest day per symbol)" : "")</td></tr>"
            if let last = h.lastPostAt { html += "<tr><td class=\"k\">last received</td><td>\(escape(last))</td></tr>" }
            html += "<tr><td class=\"k\">reconnects</td><td>\(counts(h.reconnects))</td></tr>"
            html += "<tr><td class=\"k\">rejected</td><td>\(counts(h.rejected))</td></tr>"
            return html + "</table><p class=\"k\">source: \(escape(h.source))</p>"
        case "runs":
            let reports = try await data.reports()
            guard let latest = reports.first else { return "<h2>Runs</h2><p class=\"k\">no runs yet: run `conviction train`</p>" }
            var html = "<h2>Latest runs</h2><table><tr><th>run</th><th>created</th><th>ΔAUC</th><th>95% CI</th><th>p</th><th>audit</th><th>negative control ΔAUC</th></tr>"
            for r in try await data.runs(limit: 5) {
                let ci = r.ciLow.flatMap { low in r.ciHigh.map { String(format: "[%+.4f, %+.4f]", low, $0) } } ?? "-"
                let audit = r.audit.map { "<span class=\"\($0 == "passed" ? "ok" : "bad")\">\($0)</span>" } ?? "-"
                html += "<tr><td>\(escape(r.runID))</td><td>\(escape(r.createdAt))</td><td>\(String(format: "%+.4f", r.deltaAUC))</td><td>\(ci)</td><td>\(String(format: "%.2g", r.pValue))</td><td>\(audit)</td><td>\(r.negativeControlDeltaAUC.map { String(format: "%+.4f", $0) } ?? "-")</td></tr>"
            }
            html += "</table><p>\(escape(latest.verdict))</p>"
            if let roc = latest.result.roc { html += latest.rocSVG(roc) }
            return html
        default:
            throw StoreError(key: name, message: "no such panel (known: \(panels.joined(separator: ", ")))", code: .configuration)
        }
    }

    /// Posts per bar stacked by label (unscored on top), the close as a line.
    public static func volumeSVG(_ v: DashboardData.Volume, width: Double = 1100, height: Double = 240) -> String {
        let maxCount = max(1, v.bars.map(\.total).max() ?? 1)
        let w = width / Double(max(v.bars.count, 1))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + 22))\" data-widget=\"tweet-volume\" data-symbol=\"\(escape(v.symbol))\" data-date=\"\(v.date)\">"
        let layers: [(String, String, KeyPath<DashboardData.VolumeBar, Int>)] = [
            ("negative", "#d55", \.negative), ("neutral", "#bbb", \.neutral), ("positive", "#3a6", \.positive), ("unscored", "#e8d8a0", \.unscored)]
        for (i, bar) in v.bars.enumerated() where bar.total > 0 {
            var y = height
            svg += "<g data-bar=\"\(bar.start)\" data-total=\"\(bar.total)\">"
            for (label, color, path) in layers {
                let count = bar[keyPath: path]
                guard count > 0 else { continue }
                let h = Double(count) / Double(maxCount) * (height - 10)
                y -= h
                svg += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"", Double(i) * w, y, max(w - 0.6, 0.5), h)
                    + " fill=\"\(color)\" data-label=\"\(label)\" data-count=\"\(count)\"/>"
            }
            svg += "</g>"
        }
        let closes = v.bars.enumerated().compactMap { i, b in b.close.map { (i, $0) } }
        if let low = closes.map(\.1).min(), let high = closes.map(\.1).max() {
            let points = closes.map { i, c in String(format: "%.1f,%.1f", (Double(i) + 0.5) * w, height - 10 - (high > low ? (c - low) / (high - low) : 0.5) * (height - 30)) }
            svg += "<polyline fill=\"none\" stroke=\"#225\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\" data-series=\"close\"/>"
            svg += String(format: "<text x=\"%.0f\" y=\"12\" font-size=\"11\" text-anchor=\"end\">close %.2f to %.2f</text>", width - 4, low, high)
        }
        svg += String(format: "<text x=\"2\" y=\"%.0f\" font-size=\"11\">max %d posts per bar</text>", 12.0, maxCount)
        for hour in stride(from: 0, through: 24, by: 3) {
            svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%02d:00</text>", min(max(Double(hour) / 24 * width, 16), width - 16), height + 16, hour)
        }
        return svg + "</svg>"
    }

    /// Both sentiment windows over the day, on [-1, 1].
    public static func sentimentSVG(_ points: [DashboardData.SentimentPoint], width: Double = 1100, height: Double = 180) -> String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + 22))\" data-widget=\"sentiment\">"
        guard let first = points.first.flatMap({ Timestamps.parseISO8601($0.time) }) else {
            return svg + "<text x=\"4\" y=\"20\" font-size=\"12\">no feature rows for this day: run `conviction features`</text></svg>"
        }
        let dayStart = first - first % Timestamps.day
        func x(_ time: String) -> Double { Double((Timestamps.parseISO8601(time) ?? dayStart) - dayStart) / Double(Timestamps.day) * width }
        func y(_ v: Double) -> Double { height / 2 - max(-1, min(1, v)) * (height / 2 - 6) }
        svg += String(format: "<line x1=\"0\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>", width, y(0), y(0))
        for (name, color, value) in [("sent_5m", "#27a", \DashboardData.SentimentPoint.sent5m), ("sent_60m", "#c73", \DashboardData.SentimentPoint.sent60m)] {
            let pts = points.compactMap { p in p[keyPath: value].map { String(format: "%.1f,%.1f", x(p.time), y($0)) } }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.3\" points=\"\(pts.joined(separator: " "))\" data-series=\"\(name)\" data-points=\"\(pts.count)\"/>"
        }
        svg += "<text x=\"\(Int(width) - 130)\" y=\"14\" font-size=\"11\" fill=\"#27a\">sent_5m</text><text x=\"\(Int(width) - 70)\" y=\"14\" font-size=\"11\" fill=\"#c73\">sent_60m</text>"
        svg += String(format: "<text x=\"4\" y=\"%.0f\" font-size=\"11\">+1</text><text x=\"4\" y=\"%.0f\" font-size=\"11\">-1</text>", y(1) + 10, y(-1) - 2)
        return svg + "</svg>"
    }

    /// The run's pooled out-of-sample ROC curves, when it recorded them.
    public static func rocSVG(_ report: RunReport) -> String? { report.result.roc.map(report.rocSVG) }

    static func counts(_ values: [String: Int]) -> String {
        values.isEmpty ? "none" : values.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\(escape($0.key)) \($0.value)" }.joined(separator: ", ")
    }

    /// Renders the page for one symbol-day into the store as `dashboard/index.html` (a snapshot
    /// without live refresh); returns its location.
    public static func snapshot(_ data: DashboardData, symbol requested: String?, date requestedDate: String?) async throws -> String {
        let symbol = requested.map(Symbol.init) ?? data.symbols[0]
        guard data.symbols.contains(symbol) else {
            throw StoreError(key: symbol.rawValue, message: "not a configured symbol (universe.symbols: \(data.symbols.map(\.rawValue).joined(separator: ", ")))", code: .configuration)
        }
        let newest = try await data.days()[symbol.rawValue]?.last.flatMap(CivilDate.init(iso:))
        guard let date = requestedDate.flatMap(CivilDate.init(iso:)) ?? newest else {
            throw StoreError(key: Dataset.rawPosts.rawValue, message: "no posts for \(symbol): run `conviction ingest` first", code: .missingInput)
        }
        let html = try await render(data, symbol: symbol, date: date, live: false)
        try await data.store.put("dashboard/index.html", data: Data(html.utf8))
        return data.store.location + "/dashboard/index.html"
    }
}
