import ArgumentParser
import ConvictionCore
import ConvictionIngest
import ConvictionPipeline
import ConvictionStore
import Foundation
import Logging

extension Conviction.Ingest {
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch past posts from X's search into the raw store, after an estimate of their number and cost.",
            discussion: """
            One window per symbol and UTC day, --from to --to (both included; today up to a moment ago). Uses
            full-archive search where the account has it (ingest.full_archive = auto tries it once), recent search
            (the last 7 days) otherwise; a range older than 7 days without full-archive access is an error before
            anything is read. First the counts endpoint gives the posts per symbol and day: the total, the share of
            ingest.monthly_post_cap and the cost at ingest.cost_per_post are printed, and above
            ingest.history_max_posts the run stops unless --yes. Posts pass the stream's filters and quarantine.
            Stopped or killed, the same command continues where it stopped; finished days are skipped. If X's monthly
            post cap runs out, it stops and says so (exit status 76). Examples:
              conviction ingest history --from 2026-11-01 --to 2026-11-30 --dry-run
              conviction ingest history --from 2026-11-01 --to 2026-11-30 --symbols AAPL,MSFT --yes
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "First UTC day (YYYY-MM-DD). The symbols are universe.symbols, or --symbols.") var from: String
        @Option(help: "Last UTC day, included (YYYY-MM-DD; default today).") var to: String?
        @Option(help: "X API base URL (ingest.api_base).") var apiBase: String?
        @Flag(help: "Fetch even when the estimate is above ingest.history_max_posts.") var yes = false

        struct UsageCapExhausted: ConvictionError {
            var errorCode: ErrorCode { .usageCap }
            let description: String
        }

        struct OverBudget: ConvictionError {
            var errorCode: ErrorCode { .configuration }
            let description: String
        }

        func run() async throws {
            let configuration = try global.resolve(overrides: [("ingest.api_base", apiBase)])
            guard let first = CivilDate(iso: from) else { throw ValidationError("--from: \(from.debugDescription) is not a YYYY-MM-DD date") }
            let today = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(Timestamps.now(), Timestamps.day)))
            guard let last = to.map({ CivilDate(iso: $0) }) ?? today else { throw ValidationError("--to: \(to!.debugDescription) is not a YYYY-MM-DD date") }
            guard first <= last else { throw ValidationError("--from \(first.isoString) is after --to \(last.isoString)") }
            guard first <= today else { throw ValidationError("--from \(first.isoString) is in the future; X has no posts from it yet") }
            let context = try await global.context(configuration)
            let bearer = try await configuration.credentialResolver().require(.bearerToken)
            var settings = HistoryIngestor.Settings()
            settings.fullArchive = configuration.ingest.fullArchive
            settings.pageSize = configuration.ingest.historyPageSize
            let ingestor = HistoryIngestor(
                api: XAPIClient(baseURL: configuration.ingest.apiBase, bearer: bearer), store: context.store, catalog: context.catalog,
                symbols: configuration.symbols, filters: configuration.ingestFilters, rules: configuration.streamRuleSet,
                settings: settings, logger: context.logger)

            let estimate: HistoryIngestor.Estimate
            do { estimate = try await ingestor.estimate(from: first, to: last) } catch let error as XAPIError where error.isUsageCapExceeded {
                throw UsageCapExhausted(description: XAPIError.usageCapMessage(error))
            }
            print(Self.describe(estimate, from: first, to: last, ingest: configuration.ingest))
            if context.dryRun { return }
            let total = estimate.totalPosts
            if total > configuration.ingest.historyMaxPosts, !yes {
                throw OverBudget(description: "the run would read about \(total.formatted()) posts, more than ingest.history_max_posts = "
                                 + "\(configuration.ingest.historyMaxPosts.formatted()); nothing was fetched. Run again with --yes to go ahead, "
                                 + "or narrow --from, --to or --symbols.")
            }
            if estimate.windows.isEmpty { return }
            try await StoreOrigin.claim(.real, by: "conviction ingest history", in: context.store)
            let started = Date()
            let summary: HistoryIngestor.Summary
            do {
                summary = try await ingestor.run(estimate) { summary, done, windows in
                    let elapsed = Date().timeIntervalSince(started)
                    let eta = elapsed / Double(done) * Double(windows - done)
                    let rate = Int(Double(summary.fetched) / max(elapsed, 0.001))
                    context.logger.info("ingest history: \(done)/\(windows) windows, \(summary.fetched) posts fetched, \(rate) posts/s, ETA \(Int(eta.rounded())) s")
                }
            } catch let error as XAPIError where error.isUsageCapExceeded {
                throw UsageCapExhausted(description: XAPIError.usageCapMessage(error) + ". Finished days are kept; the same command continues from where it stopped")
            }
            print("ingest history: \(summary.accepted) posts stored from \(summary.fetched) fetched in \(summary.pages) page(s) over \(summary.windows) window(s)"
                  + (summary.resumed > 0 ? ", \(summary.resumed) window(s) resumed" : "")
                  + (summary.tokenRestarts > 0 ? ", \(summary.tokenRestarts) expired page token(s) worked around" : "")
                  + (summary.otherSymbols > 0 ? ", \(summary.otherSymbols) kept only under other symbols" : ""))
            if !summary.rejected.isEmpty { print("ingest history: " + IngestTask.quarantineNote(summary.rejected)) }
        }

        /// The estimate as people read it: posts per symbol, the total, its share of the monthly cap, the cost.
        static func describe(_ estimate: HistoryIngestor.Estimate, from: CivilDate, to: CivilDate, ingest: IngestSettings) -> String {
            var bySymbol: [String: Int] = [:]
            for (window, posts) in estimate.windows { bySymbol[window.symbol.rawValue, default: 0] += posts }
            let total = estimate.totalPosts
            let share = Double(total) / Double(max(1, ingest.monthlyPostCap)) * 100
            let search = estimate.windows.isEmpty ? "nothing left to fetch" : "\(estimate.archive == .all ? "full-archive" : "recent") search"
            var lines = ["ingest history: \(from.isoString) to \(to.isoString), \(search)"]
            if let note = estimate.note { lines.append("  note: \(note)") }
            lines.append("  posts by symbol: " + (bySymbol.isEmpty ? "none" : bySymbol.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.formatted())" }.joined(separator: ", ")))
            lines.append("  total: \(total.formatted()) posts in \(estimate.windows.count) symbol-day window(s)"
                         + (estimate.alreadyDone > 0 ? "; \(estimate.alreadyDone) window(s) finished earlier are skipped" : ""))
            lines.append("  monthly post cap: \(String(format: "%.1f", share))% of ingest.monthly_post_cap = \(ingest.monthlyPostCap.formatted())"
                         + (share > 100 ? " (the cap would run out: the run stops there and resumes next period)" : ""))
            lines.append("  estimated cost: $\(String(format: "%.2f", Double(total) * ingest.costPerPost)) at $\(ingest.costPerPost) per post (ingest.cost_per_post); "
                         + "a post naming several symbols is read once per symbol")
            return lines.joined(separator: "\n")
        }
    }
}
