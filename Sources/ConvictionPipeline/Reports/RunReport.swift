import ConvictionCore
import ConvictionIngest
import ConvictionModeling
import Foundation

/// The record of one training run: what went in, what came out, and the verdict.
public struct RunReport: Codable, Sendable {
    public let runID: String
    /// Wall-clock time the run finished; informational.
    public let createdAt: String
    public let symbols: [String]
    public let firstDay: String
    public let lastDay: String
    public let simulation: MarketSimulator.Configuration
    public let barMinutes: Int
    public let labelHorizonBars: Int
    public let pointInTime: String
    public let training: UpliftExperiment.Configuration
    public let result: UpliftExperiment.Result
    public let sentimentIncluded: Bool
    /// Optional so reports written before the audit existed still read.
    public let audit: LeakageAudit.Result?
    /// The comparison repeated with sentiment shifted five sessions late; must show no uplift.
    public let negativeControl: UpliftExperiment.Result?
    /// IC and rank IC of each sentiment feature by horizon, with quintile returns.
    public let informationCoefficients: [InformationCoefficient.FeatureIC]?
    /// Set when posts were unavailable and the run measured news sentiment instead (why, and what).
    public var degradation: String? = nil
    /// `1m` or `1d` (absent in reports from before daily rows).
    public var frequency: String? = nil
    /// The learner `--algorithm` selected.
    public var algorithm: String? = nil
    /// Accuracy, MCC and AUC of both models on the test rows (at probability 0.5).
    public var classification: TestClassification? = nil

    public struct TestClassification: Codable, Sendable {
        public let baseline: Classification
        public let withSentiment: Classification
        /// Rows dropped inside training.dead_zone, in all and in the test period.
        public let deadZoneDropped: Int
    }

    /// Reads a `report.json`.
    public static func decode(_ data: Data) throws -> RunReport { try JSON.decode(RunReport.self, from: data) }

    /// The uplift is claimed only when the audit passed and the negative control shows none.
    public var upliftClaimed: Bool { result.significant && (audit?.passed ?? true) && !(negativeControl?.significant ?? false) }

    /// The first line of every report. A degraded run says so before anything else.
    public var verdict: String { (degradation.map { "DEGRADED, \($0). " } ?? "") + outcome }

    private var outcome: String {
        let subject = degradation == nil ? "sentiment" : "news sentiment"
        if let audit, !audit.passed {
            let failed = audit.findings.filter(\.failed).map { "\($0.check): \($0.detail)" }.joined(separator: "; ")
            return "LEAKAGE AUDIT FAILED, no uplift is claimed. \(failed)"
        }
        if let control = negativeControl, control.significant {
            return String(format: "NEGATIVE CONTROL FAILED, no uplift is claimed: %@ shifted five sessions late still shows ΔAUC %+.4f (p = %.2g), so the method, not the data, produced it.",
                          subject, control.deltaAUC, control.delong.pOneSided)
        }
        guard sentimentIncluded else { return "Sentiment features were not included (--include-sentiment): baseline only." }
        if result.significant {
            return String(format: "%@ adds a significant uplift: ΔAUC %+.4f (DeLong one-sided p = %.2g; day-block bootstrap 95%% CI [%+.4f, %+.4f]).",
                          degradation == nil ? "Sentiment" : "News sentiment", result.deltaAUC, result.delong.pOneSided,
                          result.bootstrap?.lower ?? .nan, result.bootstrap?.upper ?? .nan)
        }
        return String(format: "No significant uplift from %@: ΔAUC %+.4f (DeLong one-sided p = %.2g; day-block bootstrap 95%% CI [%+.4f, %+.4f]).",
                      subject, result.deltaAUC, result.delong.pOneSided, result.bootstrap?.lower ?? .nan, result.bootstrap?.upper ?? .nan)
    }

    /// The terminal summary: verdict, the comparison, the audit and the negative control.
    public var terminalSummary: [String] {
        var lines = [verdict]
        let r = result
        lines.append(sentimentIncluded
            ? String(format: "baseline AUC %.4f, with %@ %.4f, ΔAUC %+.4f", r.baselineAUC, degradation == nil ? "sentiment" : "news sentiment", r.augmentedAUC, r.deltaAUC)
            : String(format: "baseline AUC %.4f", r.baselineAUC))
        if let audit { lines.append("leakage audit: \(audit.passed ? "passed" : "FAILED") (\(audit.findings.map { "\($0.check) \($0.failed ? "failed" : "ok")" }.joined(separator: ", ")))") }
        if let c = negativeControl {
            lines.append(String(format: "negative control (%@ 5 sessions late): ΔAUC %+.4f, p = %.2g: %@", degradation == nil ? "sentiment" : "news sentiment",
                                c.deltaAUC, c.delong.pOneSided,
                                c.significant ? "FAILED" : "passed"))
        }
        if sentimentIncluded, symbols.count > 1 {
            lines.append("per symbol (same out-of-sample predictions; no correction for testing \(symbols.count) symbols):")
            lines += symbolLines().map { "  " + $0 }
        }
        return lines
    }

    /// One line per symbol: ΔAUC, its bootstrap interval and one-sided DeLong p.
    func symbolLines() -> [String] {
        result.perGroup.map { g in
            let name = g.group < symbols.count ? symbols[g.group] : "group \(g.group)"
            return String(format: "%@ ΔAUC %+.4f [%+.4f, %+.4f], p = %.2g, %d rows",
                          name.padding(toLength: 6, withPad: " ", startingAt: 0), g.deltaAUC, g.bootstrap?.lower ?? .nan, g.bootstrap?.upper ?? .nan,
                          g.delong?.pOneSided ?? .nan, g.testRows)
        }
    }

    /// The test period's classification figures and, for daily runs, the published StockNet
    /// results beside them.
    func testPeriodSection() -> String {
        guard let c = classification else { return "" }
        let period = training.testStart.map { "\($0.isoString) to \(training.testEnd?.isoString ?? lastDay), scored once; the model saw nothing from it (fixed dates)" }
            ?? "the pooled walk-forward test folds"
        var md = """
        ## Test period: \(period)

        | model | n | accuracy | MCC | AUC |
        |---|---|---|---|---|
        | baseline | \(c.baseline.n) | \(String(format: "%.2f%%", 100 * c.baseline.accuracy)) | \(String(format: "%.3f", c.baseline.mcc)) | \(String(format: "%.4f", result.baselineAUC)) |
        | with sentiment | \(c.withSentiment.n) | \(String(format: "%.2f%%", 100 * c.withSentiment.accuracy)) | \(String(format: "%.3f", c.withSentiment.mcc)) | \(String(format: "%.4f", result.augmentedAUC)) |

        Accuracy and MCC at probability 0.5\(training.deadZone.map { String(format: "; rows with next-session returns inside the dead zone [%+.2f%%, %+.2f%%] were dropped (%d)", 100 * $0[0], 100 * $0[1], c.deadZoneDropped) } ?? "").

        """
        if frequency == "1d" {
            md += """
            Published results on the StockNet test period (2015-10-01 to 2015-12-31, 87 tickers; Xu and Cohen 2018, Feng et al. 2019):

            | model | accuracy | MCC |
            |---|---|---|
            | random | 50.9% | ~0 |
            | ALSTM | 54.9% | 0.104 |
            | StockNet | 58.23% | 0.081 |
            | Adv-ALSTM | 57.2% | 0.148 |
            | this run, baseline | \(String(format: "%.2f%%", 100 * c.baseline.accuracy)) | \(String(format: "%.3f", c.baseline.mcc)) |
            | this run, with sentiment | \(String(format: "%.2f%%", 100 * c.withSentiment.accuracy)) | \(String(format: "%.3f", c.withSentiment.mcc)) |

            The comparison is indicative only: this run covers \(symbols.count) ticker(s) (\(symbols.joined(separator: ", "))), about \(c.withSentiment.n / max(symbols.count, 1)) test sessions each, so one row moves accuracy by \(String(format: "%.1f", 100.0 / Double(max(c.withSentiment.n, 1)))) points; the published figures pool 87 tickers.

            """
        }
        return md
    }

    public func markdown() -> String {
        let r = result
        var md = """
        # Conviction run \(runID)

        **\(verdict)**

        | | AUC |
        |---|---|
        | baseline (price, volume, calendar, news: \(r.baselineFeatures.count) features) | \(String(format: "%.4f", r.baselineAUC)) |
        | with sentiment (+\(r.addedFeatures.count) features) | \(String(format: "%.4f", r.augmentedAUC)) |
        | ΔAUC | \(String(format: "%+.4f", r.deltaAUC)) |
        | DeLong z, two-sided p | \(String(format: "%.2f, %.3g", r.delong.z, r.delong.pTwoSided)) |

        An AUC near 0.5 is what an honest next-bar direction model scores; an AUC near 1 would mean leakage.

        \(testPeriodSection())
        ## Leakage audit: \(audit.map { $0.passed ? "passed" : "FAILED" } ?? "not run")

        \((audit?.findings ?? []).map { "- \($0.failed ? "FAILED" : "passed") \($0.check): \($0.detail)" }.joined(separator: "\n"))

        ## Negative control
        \(negativeControl.map { String(format: "Sentiment shifted five sessions late: ΔAUC %+.4f, DeLong one-sided p = %.2g, bootstrap 95%% CI [%+.4f, %+.4f]: %@.", $0.deltaAUC, $0.delong.pOneSided, $0.bootstrap?.lower ?? .nan, $0.bootstrap?.upper ?? .nan, $0.significant ? "FAILED (uplift where there can be none)" : "passed (no uplift)") } ?? "Not run (no sentiment features).")

        ## Per fold (walk-forward, purged, embargo \(training.embargo / 60_000) min)

        | fold | train rows | test rows | purged | embargoed | baseline AUC | with sentiment | ΔAUC |
        |---|---|---|---|---|---|---|---|

        """
        for f in r.folds {
            md += "| \(f.fold) | \(f.trainRows) | \(f.testRows) | \(f.purged) | \(f.embargoed) | \(String(format: "%.4f", f.baselineAUC)) | \(String(format: "%.4f", f.augmentedAUC)) | \(String(format: "%+.4f", f.augmentedAUC - f.baselineAUC)) |\n"
        }
        if !r.perGroup.isEmpty, sentimentIncluded {
            md += """

            ## Per symbol
            The pooled out-of-sample predictions, restricted to each symbol (DeLong and a day-block bootstrap per symbol).
            These are \(symbols.count) tests: expect one in twenty to cross 5% by chance.

            | symbol | test rows | baseline AUC | with sentiment | ΔAUC | 95% CI | one-sided p |
            |---|---|---|---|---|---|---|

            """
            for g in r.perGroup {
                let name = g.group < symbols.count ? symbols[g.group] : "group \(g.group)"
                md += "| \(name) | \(g.testRows) | \(String(format: "%.4f", g.baselineAUC)) | \(String(format: "%.4f", g.augmentedAUC)) | \(String(format: "%+.4f", g.deltaAUC)) | "
                    + "\(String(format: "[%+.4f, %+.4f]", g.bootstrap?.lower ?? .nan, g.bootstrap?.upper ?? .nan)) | \(String(format: "%.2g", g.delong?.pOneSided ?? .nan)) |\n"
            }
        }
        md += searchSection()
        md += """

        ![ΔAUC per fold](fold_delta_auc.svg)

        Plots (ROC curves, ΔAUC per fold, search history, feature importance, IC decay): [report.html](report.html).

        ## Information coefficients of the sentiment features
        Rank IC (Spearman) of each feature with the forward log return over h bars, pooled over symbols in time series;
        mean of per-symbol rank ICs in brackets; and the mean next-bar return (basis points) by pooled feature quintile.

        \(icTable())

        ## Data and settings
        - Symbols: \(symbols.joined(separator: ", ")); days \(firstDay) to \(lastDay); \(r.rows) labelled rows, \(r.testRows) out of sample.
        - Label: direction of the next \(labelHorizonBars) bar(s) of \(barMinutes) minutes after the decision time (a bar's close); labels never cross the close.
        - Posts count from their \(pointInTime == "received" ? "receipt time (posts from archives and `ingest history`, fetched after the fact, from their created_at: docs/ingestion.md)" : "created_at"), strictly before the decision time.
        - XGBoost \(r.xgboostVersion): \(training.search.trials > 0 ? "parameters tuned per fold (above), seed \(training.seed)" : "\(training.rounds) rounds, depth \(training.maxDepth), eta \(training.learningRate), subsample \(training.subsample), colsample \(training.columnSample), min_child_weight \(training.minChildWeight), seed \(training.seed)").
        - Baseline features: \(r.baselineFeatures.joined(separator: ", ")).
        - Sentiment features: \(r.addedFeatures.isEmpty ? "none" : r.addedFeatures.joined(separator: ", ")).
        - Data source: the built-in market simulator (seed \(simulation.seed), \(simulation.sessions) sessions, signal \(simulation.signal)). This is a simulation, not market data.

        """
        return md
    }

    /// The nested search's chosen parameters per fold and model, when there was a search.
    func searchSection() -> String {
        guard !result.searches.isEmpty else { return "" }
        let search = training.search
        let names = search.space.parameters.map(\.name)
        var md = """

        ## Hyperparameter search (nested)
        \(search.sampler == .tpe ? "TPE" : "Random") search, \(search.trials) trials per fold and model. Each trial trains on its
        fold's training window less the latest \(Int(search.validationShare * 100))% of days, which score it by AUC (purged and
        embargoed like a test span); early stopping after \(search.earlyStoppingRounds) rounds without improvement (at most
        \(search.maxRounds)); median pruning every \(search.evaluationInterval) rounds. The best trial's parameters and rounds
        are then trained on the whole window. The test fold is never seen. Every trial is in trials.json.

        | fold | model | trials | pruned | validation AUC | rounds | \(names.joined(separator: " | ")) |
        |---|---|---|---|---|---|\(names.map { _ in "---|" }.joined())

        """
        for r in result.searches {
            let values = names.map { r.best.parameters[$0].map { String(format: "%.4g", $0) } ?? "" }
            md += "| \(r.fold) | \(r.model) | \(r.trials.count) | \(r.trials.filter { $0.state == .pruned }.count) | \(String(format: "%.4f", r.best.value)) | \(r.best.rounds) | \(values.joined(separator: " | ")) |\n"
        }
        return md
    }

    func icTable() -> String {
        guard let ics = informationCoefficients, let first = ics.first else { return "Not computed (no sentiment features)." }
        var table = "| feature | " + first.horizons.map { "h = \($0)" }.joined(separator: " | ") + " | quintile returns (bp), Q1 to Q5 |\n"
        table += "|---|" + first.horizons.map { _ in "---|" }.joined() + "---|\n"
        for f in ics {
            let cells = f.horizons.indices.map { String(format: "%+.4f (%+.4f)", f.rankIC[$0], f.meanSymbolRankIC[$0]) }
            let quintiles = f.quintileReturns.map { String(format: "%+.2f", $0 * 10_000) }.joined(separator: ", ")
            table += "| `\(f.feature)` | " + cells.joined(separator: " | ") + " | \(quintiles) |\n"
        }
        return table
    }

    /// Per-fold ΔAUC as a bar chart with the pooled bootstrap interval, drawn as plain SVG.
    public func foldChartSVG() -> String {
        let width = 560.0, height = 260.0, left = 60.0, bottom = 40.0, top = 30.0
        let deltas = result.folds.map { $0.augmentedAUC - $0.baselineAUC }
        let extent = max(0.02, (deltas.map(abs).max() ?? 0) * 1.2, abs(result.bootstrap?.upper ?? 0) * 1.2, abs(result.bootstrap?.lower ?? 0) * 1.2)
        let plotHeight = height - top - bottom
        func y(_ v: Double) -> Double { top + plotHeight / 2 - v / extent * plotHeight / 2 }
        let barWidth = (width - left - 20) / Double(max(deltas.count, 1))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<text x=\"\(left)\" y=\"18\" font-size=\"13\">ΔAUC per walk-forward fold (sentiment minus baseline)</text>\n"
        if let ci = result.bootstrap {
            svg += "<rect x=\"\(left)\" y=\"\(y(ci.upper))\" width=\"\(width - left - 20)\" height=\"\(max(1, y(ci.lower) - y(ci.upper)))\" fill=\"#cde\" opacity=\"0.6\"/>\n"
        }
        for (i, d) in deltas.enumerated() {
            let x = left + Double(i) * barWidth + barWidth * 0.2
            svg += "<rect x=\"\(x)\" y=\"\(min(y(d), y(0)))\" width=\"\(barWidth * 0.6)\" height=\"\(abs(y(d) - y(0)))\" fill=\"\(d >= 0 ? "#2a7" : "#c44")\"/>\n"
            svg += "<text x=\"\(x + barWidth * 0.3)\" y=\"\(height - 22)\" text-anchor=\"middle\">fold \(result.folds[i].fold)</text>\n"
        }
        svg += "<line x1=\"\(left)\" x2=\"\(width - 20)\" y1=\"\(y(0))\" y2=\"\(y(0))\" stroke=\"#333\"/>\n"
        for tick in [-extent, -extent / 2, extent / 2, extent] {
            svg += "<text x=\"\(left - 6)\" y=\"\(y(tick) + 4)\" text-anchor=\"end\">\(String(format: "%+.3f", tick))</text>\n"
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 6)\">shaded: pooled 95% day-block bootstrap interval of ΔAUC</text>\n</svg>\n"
        return svg
    }
}
