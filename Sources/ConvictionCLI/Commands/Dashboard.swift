import ArgumentParser
import ConvictionCore
import ConvictionPipeline
import Foundation

extension Conviction {
    struct Dashboard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render the dashboard: tweet volume per bar by sentiment label, and the latest run.",
            discussion: """
            Reads scores/ and runs/; writes dashboard/index.html into the store (a static page with inline SVG,
            no external scripts or fonts). Example:
              conviction dashboard --symbol TSLA --date 2026-01-05
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Symbol to show; default: the first configured.") var symbol: String?
        @Option(help: "UTC date (YYYY-MM-DD); default: the latest with scores.") var date: String?

        func run() async throws {
            let context = try await global.context(try global.resolve())
            if context.dryRun {
                print("plan: render dashboard/index.html for \(symbol ?? context.configuration.symbols[0].rawValue) from scores/ and runs/")
                return
            }
            let page = try await DashboardPage(context: context).render(symbol: symbol, date: date)
            print("dashboard: \(page)")
        }
    }
}
