import ArgumentParser
import ConvictionCore
import ConvictionDashboard
import ConvictionFeatures
import ConvictionPipeline
import Foundation
import ServiceLifecycle

extension Conviction {
    struct Dashboard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the live dashboard: tweet volume by sentiment with the price, sent_5m/sent_60m, posts, ingestion health, runs.",
            discussion: """
            Serves http://127.0.0.1:8080/ (no external scripts, fonts or styles). Charts are SVG drawn by the
            server and refresh through server-sent events while ingestion and scoring write to the store; every chart has a
            JSON twin under /api/ (see the README). Bound to another address, it requires the bearer token held in the
            variable --token-env names. --snapshot writes dashboard/index.html into the store instead and exits. Examples:
              conviction dashboard --port 8080 --metrics-url http://127.0.0.1:9464/metrics
              CONVICTION_DASHBOARD_TOKEN=... conviction dashboard --host 0.0.0.0
              conviction dashboard --snapshot --symbol TSLA
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Address to bind; other than loopback needs a token.") var host = "127.0.0.1"
        @Option(help: "Port to bind (0 = any free port; the URL is printed).") var port = 8080
        @Option(help: "Environment variable holding the bearer token.") var tokenEnv = "CONVICTION_DASHBOARD_TOKEN"
        @Option(help: "The stream ingester's /metrics URL, for live ingestion health (else health comes from the store).") var metricsURL: String?
        @Option(help: "Seconds between checks for new data on the live stream of events.") var refresh = 1.0
        @Flag(help: "Write dashboard/index.html into the store and exit.") var snapshot = false
        @Option(help: "Snapshot: the symbol; default the first configured.") var symbol: String?
        @Option(help: "Snapshot: the UTC date (YYYY-MM-DD); default the newest with posts.") var date: String?

        func run() async throws {
            let context = try await global.context(try global.resolve())
            let data = DashboardData(store: context.store, symbols: context.configuration.symbols, barMinutes: context.configuration.features.barMinutes,
                                     metricsURL: metricsURL)
            if snapshot {
                if context.dryRun { return print("plan: render dashboard/index.html from raw/posts/, scores/, features/ and runs/") }
                print("dashboard: \(try await DashboardPage.snapshot(data, symbol: symbol, date: date))")
                return
            }
            var settings = DashboardServer.Settings()
            settings.host = host
            settings.port = port
            settings.refresh = .milliseconds(Int64(max(0.05, refresh) * 1000))
            if let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty { settings.token = Secret(token) }
            let server = try DashboardServer(data: data, settings: settings)
            if context.dryRun { return print("plan: serve the dashboard on \(host):\(port)\(settings.token == nil ? "" : " with a bearer token")") }
            let shownHost = host.contains(":") ? "[\(host)]" : host
            // SIGTERM or SIGINT cancels the server, which closes its connections and returns.
            try await GracefulShutdown.run(logger: context.logger) {
                try await cancelWhenGracefulShutdown {
                    try await server.run { port in
                        // Unbuffered, so a script reading the pipe learns the URL at once.
                        FileHandle.standardOutput.write(Data("dashboard: serving http://\(shownHost):\(port)/\n".utf8))
                    }
                }
            }
        }
    }
}
