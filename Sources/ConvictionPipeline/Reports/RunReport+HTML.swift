import ConvictionCore
import ConvictionIngest
import ConvictionModeling
import Foundation

/// `runs/<id>/report.html`: one self-contained page (inline SVG, no scripts, nothing fetched) with the
/// verdict, the guards, and the plots a reader would rather see than read.
extension RunReport {
    public func html() -> String {
        let r = result
        var page = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Conviction \(escape(runID))</title>
        <style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse}
        td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}.verdict{font-size:1.2em;font-weight:bold}
        .fail{color:#b00}.ok{color:#070}figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}</style></head><body>
        <h1>Conviction run \(escape(runID))</h1>
        <p class="verdict">\(escape(verdict))</p>
        <table><tr><th></th><th>AUC</th></tr>
        <tr><td style="text-align:left">baseline (\(r.baselineFeatures.count) features)</td><td>\(f4(r.baselineAUC))</td></tr>
        <tr><td style="text-align:left">with sentiment (+\(r.addedFeatures.count))</td><td>\(f4(r.augmentedAUC))</td></tr>
        <tr><td style="text-align:left">ΔAUC, one-sided DeLong p, bootstrap 95% CI</td><td>\(String(format: "%+.4f, %.2g, [%+.4f, %+.4f]", r.deltaAUC, r.delong.pOneSided, r.bootstrap?.lower ?? .nan, r.bootstrap?.upper ?? .nan))</td></tr></table>
        <h2>Guards</h2><ul>

        """
        for finding in audit?.findings ?? [] {
            page += "<li class=\"\(finding.failed ? "fail" : "ok")\">leakage audit, \(escape(finding.check)): \(finding.failed ? "FAILED" : "passed"). \(escape(finding.detail))</li>\n"
        }
        if let c = negativeControl {
            page += "<li class=\"\(c.significant ? "fail" : "ok")\">negative control (sentiment five sessions late): "
                + String(format: "ΔAUC %+.4f, p = %.2g: ", c.deltaAUC, c.delong.pOneSided) + (c.significant ? "FAILED" : "passed") + "</li>\n"
        }
        page += "</ul>\n<h2>Plots</h2>\n"
        if let roc = r.roc { page += "<figure>\(rocSVG(roc))</figure>\n" }
        page += "<figure>\(foldChartSVG())</figure>\n"
        if !r.searches.isEmpty { page += "<figure>\(searchSVG(r.searches))</figure>\n" }
        if !r.importance.isEmpty { page += "<figure>\(importanceSVG(Array(r.importance.prefix(20)), added: Set(r.addedFeatures)))</figure>\n" }
        if let ics = informationCoefficients, !ics.isEmpty { page += "<figure>\(icDecaySVG(ics))</figure>\n" }
        if !r.searches.isEmpty {
            page += "<h2>Tuned hyperparameters (best trial per fold and model)</h2>\n<table><tr><th>fold</th><th>model</th><th>trials</th><th>pruned</th><th>validation AUC</th><th>rounds</th>"
            let names = training.search.space.parameters.map(\.name)
            page += names.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
            for s in r.searches {
                page += "<tr><td>\(s.fold)</td><td>\(escape(s.model))</td><td>\(s.trials.count)</td><td>\(s.trials.filter { $0.state == .pruned }.count)</td><td>\(f4(s.best.value))</td><td>\(s.best.rounds)</td>"
                page += names.map { "<td>\(s.best.parameters[$0].map { String(format: "%.4g", $0) } ?? "")</td>" }.joined() + "</tr>\n"
            }
            page += "</table>\n"
        }
        if sentimentIncluded, !r.perGroup.isEmpty {
            page += "<h2>Per symbol</h2>\n<p>The pooled out-of-sample predictions restricted to each symbol; \(symbols.count) tests, so expect one in twenty to cross 5% by chance.</p>\n"
            page += "<table><tr><th>symbol</th><th>test rows</th><th>baseline</th><th>with sentiment</th><th>ΔAUC</th><th>95% CI</th><th>p</th></tr>\n"
            for g in r.perGroup {
                let name = g.group < symbols.count ? symbols[g.group] : "group \(g.group)"
                page += "<tr><td>\(escape(name))</td><td>\(g.testRows)</td><td>\(f4(g.baselineAUC))</td><td>\(f4(g.augmentedAUC))</td><td>\(String(format: "%+.4f", g.deltaAUC))</td>"
                    + "<td>\(String(format: "[%+.4f, %+.4f]", g.bootstrap?.lower ?? .nan, g.bootstrap?.upper ?? .nan))</td><td>\(String(format: "%.2g", g.delong?.pOneSided ?? .nan))</td></tr>\n"
            }
            page += "</table>\n"
        }
        page += "<h2>Per fold</h2>\n<table><tr><th>fold</th><th>train rows</th><th>test rows</th><th>purged</th><th>embargoed</th><th>baseline</th><th>with sentiment</th><th>ΔAUC</th></tr>\n"
        for f in r.folds {
            page += "<tr><td>\(f.fold)</td><td>\(f.trainRows)</td><td>\(f.testRows)</td><td>\(f.purged)</td><td>\(f.embargoed)</td><td>\(f4(f.baselineAUC))</td><td>\(f4(f.augmentedAUC))</td><td>\(String(format: "%+.4f", f.augmentedAUC - f.baselineAUC))</td></tr>\n"
        }
        page += "</table>\n<p>Symbols \(escape(symbols.joined(separator: ", "))), days \(escape(firstDay)) to \(escape(lastDay)); \(r.rows) labelled rows, \(r.testRows) out of sample. XGBoost \(escape(r.xgboostVersion)). "
        page += "Data: the built-in market simulator (seed \(simulation.seed), signal \(simulation.signal)), not market data. Details: report.md.</p>\n</body></html>\n"
        return page
    }

    private func f4(_ x: Double) -> String { String(format: "%.4f", x) }

    private func plot(_ title: String, width: Double = 460, height: Double = 320, body: (Frame) -> String) -> String {
        let frame = Frame(left: 56, right: width - 16, top: 34, bottom: height - 44)
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
            + "<text x=\"\(frame.left)\" y=\"18\" font-size=\"13\">\(escape(title))</text>"
            + "<rect x=\"\(frame.left)\" y=\"\(frame.top)\" width=\"\(frame.right - frame.left)\" height=\"\(frame.bottom - frame.top)\" fill=\"none\" stroke=\"#999\"/>"
            + body(frame) + "</svg>"
    }

    struct Frame {
        let left, right, top, bottom: Double
        func x(_ v: Double, _ lo: Double, _ hi: Double) -> Double { left + (v - lo) / max(hi - lo, 1e-12) * (right - left) }
        func y(_ v: Double, _ lo: Double, _ hi: Double) -> Double { bottom - (v - lo) / max(hi - lo, 1e-12) * (bottom - top) }
    }

    private func polyline(_ points: [(Double, Double)], color: String, width: Double = 1.5) -> String {
        "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\" points=\"" + points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ") + "\"/>"
    }

    public func rocSVG(_ roc: UpliftExperiment.ROC) -> String {
        plot("ROC, out of sample (all folds pooled)") { f in
            var s = polyline([(f.x(0, 0, 1), f.y(0, 0, 1)), (f.x(1, 0, 1), f.y(1, 0, 1))], color: "#bbb", width: 1)
            s += polyline(roc.baseline.map { (f.x($0[0], 0, 1), f.y($0[1], 0, 1)) }, color: "#888")
            s += polyline(roc.augmented.map { (f.x($0[0], 0, 1), f.y($0[1], 0, 1)) }, color: "#27a")
            s += "<text x=\"\(f.left + 8)\" y=\"\(f.top + 16)\" fill=\"#888\">baseline AUC \(f4(result.baselineAUC))</text>"
            s += "<text x=\"\(f.left + 8)\" y=\"\(f.top + 30)\" fill=\"#27a\">with sentiment AUC \(f4(result.augmentedAUC))</text>"
            s += "<text x=\"\((f.left + f.right) / 2)\" y=\"\(f.bottom + 30)\" text-anchor=\"middle\">false positive rate</text>"
            s += "<text x=\"14\" y=\"\((f.top + f.bottom) / 2)\" transform=\"rotate(-90 14 \((f.top + f.bottom) / 2))\" text-anchor=\"middle\">true positive rate</text>"
            return s
        }
    }

    func searchSVG(_ searches: [UpliftExperiment.SearchRecord]) -> String {
        let values = searches.flatMap { $0.trials.map(\.value) }.filter(\.isFinite)
        let lo = (values.min() ?? 0.5) - 0.002, hi = (values.max() ?? 0.6) + 0.002
        let maxTrials = Double(max(1, searches.map(\.trials.count).max() ?? 1))
        return plot("Search history: validation AUC by trial (lines: best so far)", width: 560) { f in
            var s = ""
            for record in searches {
                let color = record.model == "baseline" ? "#888" : "#27a"
                var best = -Double.infinity
                var line: [(Double, Double)] = []
                for t in record.trials {
                    let x = f.x(Double(t.number), 0, maxTrials - 1), y = f.y(t.value, lo, hi)
                    s += "<circle cx=\"\(String(format: "%.1f", x))\" cy=\"\(String(format: "%.1f", y))\" r=\"2.5\" "
                        + (t.state == .pruned ? "fill=\"none\" stroke=\"\(color)\"" : "fill=\"\(color)\"") + " opacity=\"0.6\"/>"
                    best = max(best, t.value)
                    line.append((x, f.y(best, lo, hi)))
                }
                s += polyline(line, color: color, width: 1)
            }
            s += "<text x=\"\(f.left - 6)\" y=\"\(f.top + 4)\" text-anchor=\"end\">\(f4(hi))</text><text x=\"\(f.left - 6)\" y=\"\(f.bottom)\" text-anchor=\"end\">\(f4(lo))</text>"
            s += "<text x=\"\(f.left)\" y=\"\(f.bottom + 30)\">trial 0 to \(Int(maxTrials) - 1); grey: baseline, blue: with sentiment; hollow: pruned; one line per fold</text>"
            return s
        }
    }

    func importanceSVG(_ gains: [UpliftExperiment.FeatureGain], added: Set<String>) -> String {
        let top = gains.map(\.gain).max() ?? 1
        let height = 60 + Double(gains.count) * 16
        return plot("Feature importance (total gain, last fold, with sentiment)", width: 560, height: height) { f in
            var s = ""
            for (i, g) in gains.enumerated() {
                let y = f.top + 6 + Double(i) * 16
                let w = g.gain / top * (f.right - f.left - 150)
                s += "<text x=\"\(f.left + 146)\" y=\"\(y + 10)\" text-anchor=\"end\">\(escape(g.feature))</text>"
                s += "<rect x=\"\(f.left + 150)\" y=\"\(y)\" width=\"\(String(format: "%.1f", w))\" height=\"12\" fill=\"\(added.contains(g.feature) ? "#27a" : "#aaa")\"/>"
            }
            return s
        }
    }

    func icDecaySVG(_ ics: [InformationCoefficient.FeatureIC]) -> String {
        let shown = Array(ics.sorted { abs($0.rankIC.last ?? 0) > abs($1.rankIC.last ?? 0) }.prefix(6))
        let horizons = shown.first?.horizons ?? []
        let all = shown.flatMap(\.rankIC)
        let lo = min(0, all.min() ?? 0), hi = max(0.01, all.max() ?? 0.01)
        let colors = ["#27a", "#e72", "#2a7", "#a2a", "#c44", "#555"]
        return plot("IC decay: rank IC by horizon (bars ahead)", width: 560) { f in
            var s = polyline([(f.left, f.y(0, lo, hi)), (f.right, f.y(0, lo, hi))], color: "#bbb", width: 1)
            let hx: (Int) -> Double = { f.x(Double($0), 0, Double(max(horizons.count - 1, 1))) }
            for (k, feature) in shown.enumerated() {
                s += polyline(feature.rankIC.enumerated().map { (hx($0.offset), f.y($0.element, lo, hi)) }, color: colors[k % colors.count])
                s += "<text x=\"\(f.left + 8)\" y=\"\(f.top + 14 + Double(k) * 13)\" fill=\"\(colors[k % colors.count])\">\(escape(feature.feature))</text>"
            }
            for (i, h) in horizons.enumerated() { s += "<text x=\"\(hx(i))\" y=\"\(f.bottom + 16)\" text-anchor=\"middle\">\(h)</text>" }
            s += "<text x=\"\(f.left - 6)\" y=\"\(f.top + 4)\" text-anchor=\"end\">\(String(format: "%+.3f", hi))</text><text x=\"\(f.left - 6)\" y=\"\(f.bottom)\" text-anchor=\"end\">\(String(format: "%+.3f", lo))</text>"
            return s
        }
    }
}

