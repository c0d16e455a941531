import ArgumentParser
import ConvictionCore
import ConvictionIngest
import ConvictionModeling
import ConvictionPipeline
import ConvictionStore
import Foundation

extension Conviction {
    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, show and compare training runs (runs/<id>/ in the store).",
            discussion: """
            Each run folder holds report.json (settings, seeds, metrics, audit, negative control, information
            coefficients), report.md and fold_delta_auc.svg. Examples:
              conviction runs list
              conviction runs show run-a23ec648df5e
              conviction runs compare run-a23ec648df5e run-0d1f2e3a4b5c
            """,
            subcommands: [List.self, Show.self, Compare.self], defaultSubcommand: List.self)

        static func reports(_ context: PipelineContext) async throws -> [RunReport] {
            var reports: [RunReport] = []
            for key in try await context.store.list(prefix: Dataset.runs.rawValue + "/") where key.hasSuffix("/report.json") {
                do { reports.append(try RunReport.decode(try await context.store.get(key))) } catch {
                    FileHandle.standardError.write(Data("warning: \(key): unreadable report (\(error))\n".utf8))
                }
            }
            return reports.sorted { $0.createdAt < $1.createdAt }
        }

        static func report(_ id: String, _ context: PipelineContext) async throws -> RunReport {
            let key = Dataset.runs.rawValue + "/\(id)/report.json"
            guard try await context.store.exists(key) else { throw ValidationError("no run \(id) in \(context.store.location) (see `conviction runs list`)") }
            return try RunReport.decode(try await context.store.get(key))
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One line per run, oldest first.")
            @OptionGroup var global: GlobalOptions
            func run() async throws {
                let context = try await global.context(try global.resolve())
                let reports = try await Runs.reports(context)
                if reports.isEmpty { print("no runs in \(context.store.location)"); return }
                let header = ["run id", "finished", "symbols", "days", "ΔAUC", "p", "audit", "control", "claimed"]
                let rows = reports.map { r in
                    [r.runID, r.createdAt, "\(r.symbols.count)", "\(r.firstDay)..\(r.lastDay)", String(format: "%+.4f", r.result.deltaAUC),
                     String(format: "%.2g", r.result.delong.pOneSided), r.audit.map { $0.passed ? "passed" : "FAILED" } ?? "-",
                     r.negativeControl.map { $0.significant ? "FAILED" : "passed" } ?? "-", r.upliftClaimed ? "yes" : "no"]
                }
                printTable([header] + rows)
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The summary of one run and where its report is.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Run id.") var id: String
            func run() async throws {
                let context = try await global.context(try global.resolve())
                let r = try await Runs.report(id, context)
                r.terminalSummary.forEach { print($0) }
                print("symbols: \(r.symbols.joined(separator: ", ")); days \(r.firstDay) to \(r.lastDay); \(r.result.rows) rows, \(r.result.testRows) out of sample")
                print("simulation seed \(r.simulation.seed), signal \(r.simulation.signal); model seed \(r.training.seed); XGBoost \(r.result.xgboostVersion)")
                print("report: \(context.store.location)/\(Dataset.runs.rawValue)/\(r.runID)/report.md")
            }
        }

        struct Compare: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Two runs side by side.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Run ids.") var ids: [String]
            func validate() throws { guard ids.count == 2 else { throw ValidationError("compare takes exactly two run ids") } }
            func run() async throws {
                let context = try await global.context(try global.resolve())
                let a = try await Runs.report(ids[0], context), b = try await Runs.report(ids[1], context)
                var table: [[String]] = []
                func row(_ name: String, _ f: (RunReport) -> String) { table.append([name, f(a), f(b)]) }
                row("", { $0.runID })
                row("symbols", { "\($0.symbols.count)" })
                row("days", { "\($0.firstDay)..\($0.lastDay)" })
                row("simulation signal", { "\($0.simulation.signal)" })
                row("baseline AUC", { String(format: "%.4f", $0.result.baselineAUC) })
                row("with sentiment AUC", { String(format: "%.4f", $0.result.augmentedAUC) })
                row("ΔAUC", { String(format: "%+.4f", $0.result.deltaAUC) })
                row("DeLong one-sided p", { String(format: "%.2g", $0.result.delong.pOneSided) })
                row("bootstrap 95% CI", { r in r.result.bootstrap.map { String(format: "[%+.4f, %+.4f]", $0.lower, $0.upper) } ?? "-" })
                row("leakage audit", { $0.audit.map { $0.passed ? "passed" : "FAILED" } ?? "-" })
                row("negative control ΔAUC", { r in r.negativeControl.map { String(format: "%+.4f", $0.deltaAUC) } ?? "-" })
                row("uplift claimed", { $0.upliftClaimed ? "yes" : "no" })
                printTable(table)
            }
        }
    }
}

/// Prints rows as left-aligned columns.
func printTable(_ rows: [[String]]) {
    let widths = (0..<(rows.map(\.count).max() ?? 0)).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
    for row in rows {
        print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}
