import ArgumentParser
import ConvictionCore
import ConvictionHTTP
import ConvictionIngest
import ConvictionPipeline
import ConvictionStore
import ConvictionXEmulator
import ConvictionXPayload
import Foundation
import Logging

extension Conviction {
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring posts into the raw store: stream them from X, replay archives, manage the stream rules.",
            discussion: """
            Every path applies the same filters (ingest.*) and writes raw/posts/dt=/symbol=/; rejected posts go to
            raw/quarantine/ingest/ with the reason. Examples:
              conviction ingest rules --sync                   (one tagged rule per symbol on the X stream)
              conviction ingest stream --metrics-port 9464     (until Ctrl-C; /metrics in Prometheus format)
              conviction ingest replay ~/archives/2026-11-24.jsonl.gz
              conviction ingest history --from 2026-11-01 --to 2026-11-30 --dry-run   (posts and cost first)
              conviction ingest                                (the pipeline's ingest: data.source; the demo streams the simulator's posts)
            """,
            subcommands: [Pipeline.self, Replay.self, Stream.self, History.self, Rules.self], defaultSubcommand: Pipeline.self)

        struct Pipeline: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "run",
                abstract: "The pipeline's ingest stage: with files, replay them; data.source = simulator streams the simulator's posts through the X client.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Archive files to replay (as `ingest replay`).") var files: [String] = []

            func run() async throws {
                let context = try await global.context(try global.resolve())
                try report(try await IngestTask(context: context, files: files).run(), context: context)
            }
        }

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replay archives of X posts (v2 or v1.1 JSON lines) into the raw store.",
                discussion: """
                Reads X API v2 stream messages or post objects and X API v1.1 statuses (StockNet, twarc 1 exports, the
                Internet Archive's stream grabs), one per line, detected line by line; v1.1 delete and limit notices are
                skipped and counted. Files may be gzipped or not, with any name; folders are read recursively in path
                order. A finished file is skipped when replayed again; a run that quarantines every line exits non-zero.
                Without files, the simulator's sim/stream/ (an error when there is none). Examples:
                  conviction ingest replay ~/archives/2026-11-24.jsonl.gz
                  conviction ingest replay --config examples/stocknet.toml stocknet/tweet/raw/AAPL stocknet/tweet/raw/MSFT
                """)
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Archive files or folders; none = the simulator's stream.") var files: [String] = []

            func run() async throws {
                let context = try await global.context(try global.resolve())
                let task = IngestTask(context: context, files: files)
                try report(files.isEmpty ? try await task.replaySimulatorArchives() : try await task.run(), context: context)
            }
        }

        struct Stream: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Stream posts from the X API v2 filtered stream into the raw store until stopped.",
                discussion: """
                Needs TWITTER_BEARER_TOKEN (see `conviction secrets check`) and rules on the stream (`conviction ingest
                rules --sync`). Reconnects on X's schedule, fills gaps with recent search, journals every post before
                committing it (ingest.state_dir), and on SIGINT or SIGTERM commits what it has and exits. Example:
                  conviction ingest stream --metrics-port 9464
                  conviction ingest stream --api-base http://127.0.0.1:8081 --stop-when-idle 5   (a local X API server)
                """)
            @OptionGroup var global: GlobalOptions
            @Option(help: "X API base URL (ingest.api_base).") var apiBase: String?
            @Option(help: "Serve Prometheus /metrics on this loopback port (ingest.metrics_port).") var metricsPort: Int?
            @Option(help: "Seconds without bytes before reconnecting (ingest.idle_timeout_seconds).") var idleTimeout: Double?
            @Option(help: "Exit once caught up and quiet for this many seconds (batch use).") var stopWhenIdle: Double?

            func run() async throws {
                let configuration = try global.resolve(overrides: [
                    ("ingest.api_base", apiBase), ("ingest.metrics_port", metricsPort.map(String.init)),
                    ("ingest.idle_timeout_seconds", idleTimeout.map { String($0) })])
                let context = try await global.context(configuration)
                let bearer = try await configuration.credentialResolver().require(.bearerToken)
                let api = XAPIClient(baseURL: configuration.ingest.apiBase, bearer: bearer)
                let rules: [StreamRule]
                rules = try await api.listRules()
                guard !rules.isEmpty else {
                    throw ValidationError("the stream has no rules, so it would deliver nothing: run `conviction ingest rules --sync` first")
                }
                if context.dryRun {
                    print("plan: stream \(configuration.ingest.apiBase) with \(rules.count) rule(s) into \(context.store.location) (journal \(configuration.ingestStateDirectory.path))")
                    return
                }
                try await StoreOrigin.claim(.real, by: "conviction ingest stream", in: context.store)
                var settings = StreamIngestor.Settings(configuration.ingest)
                settings.stopWhenIdle = stopWhenIdle.map { .milliseconds(Int64($0 * 1000)) }
                let journal = try IngestJournal(folder: configuration.ingestStateDirectory, catalog: context.catalog, fsyncInterval: settings.fsyncInterval)
                let ingestor = StreamIngestor(
                    api: api, store: context.store, journal: journal,
                    symbols: configuration.symbols, filters: configuration.ingestFilters, rules: configuration.streamRuleSet,
                    settings: settings, logger: context.logger)
                var metricsServer: HTTPServer?
                if configuration.ingest.metricsPort > 0 {
                    metricsServer = try await ingestor.metrics.serve(port: configuration.ingest.metricsPort)
                    context.logger.info("ingest stream: metrics at http://127.0.0.1:\(configuration.ingest.metricsPort)/metrics")
                }
                // SIGTERM and SIGINT start a graceful shutdown: the ingester stops reading and backfilling,
                // journals and commits what it received, and returns.
                let outcome: Result<StreamIngestor.Summary, any Error>
                do {
                    outcome = .success(try await GracefulShutdown.run(logger: context.logger, onShutdown: {
                        context.logger.notice("ingest stream: shutdown requested; committing and exiting")
                        ingestor.stop()
                    }) { try await ingestor.run() })
                } catch { outcome = .failure(error) }
                await metricsServer?.close()
                let summary = try outcome.get()
                print("ingest stream: \(summary.accepted) posts stored (\(summary.backfilled) from backfill), \(summary.connects) connection(s), "
                      + "\(summary.waits.filter { $0.cls != .dropped }.count) failed connect(s)")
                if !summary.rejected.isEmpty { print("ingest stream: " + IngestTask.quarantineNote(summary.rejected)) }
                if let fatal = summary.fatal {
                    FileHandle.standardError.write(Data("error: \(fatal)\n".utf8))
                    throw ExitCode(summary.fatalCode?.exitStatus ?? 2)
                }
            }
        }

        struct Rules: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show the filtered stream's rules, or make them match the configuration (--sync).",
                discussion: """
                One rule per symbol, tagged with the symbol, from universe.symbols, universe.keywords (required for
                ingest.keyword_symbols), ingest.languages and ingest.drop_retweets. --sync lists the server's rules,
                validates the additions with dry_run, then adds and deletes; with --dry-run it stops after validating.
                  conviction ingest rules --show
                  conviction ingest rules --sync --dry-run
                """)
            @OptionGroup var global: GlobalOptions
            @Option(help: "X API base URL (ingest.api_base).") var apiBase: String?
            @Flag(help: "Make the server's rules match the configuration.") var sync = false
            @Flag(help: "List the server's rules and the configured ones (the default).") var show = false

            func run() async throws {
                let configuration = try global.resolve(overrides: [("ingest.api_base", apiBase)])
                let wanted: [StreamRule]
                do { wanted = try configuration.streamRuleSet.rules() } catch {
                    throw ValidationError("stream rules from the configuration: \(error)")
                }
                let bearer = try await configuration.credentialResolver().require(.bearerToken)
                let api = XAPIClient(baseURL: configuration.ingest.apiBase, bearer: bearer)
                try await show(api, wanted: wanted)
            }

            private func show(_ api: XAPIClient, wanted: [StreamRule]) async throws {
                if sync {
                    let result = try await RulesSync(api: api, wanted: wanted).apply(dryRun: global.dryRun)
                    let verb = global.dryRun ? "would" : "did"
                    print("rules: \(result.current.count) on the server; \(verb) add \(result.added.count), \(verb) delete \(result.deleted.count)")
                    for rule in result.added { print("  + [\(rule.tag ?? "-")] \(rule.value)") }
                    for rule in result.deleted { print("  - [\(rule.tag ?? "-")] \(rule.value) (id \(rule.id ?? "?"))") }
                    return
                }
                let current = try await api.listRules()
                print("server rules (\(current.count)):")
                for rule in current { print("  \(rule.id ?? "?") [\(rule.tag ?? "-")] \(rule.value)") }
                let (add, delete) = StreamRuleSet.diff(current: current, wanted: wanted)
                print(add.isEmpty && delete.isEmpty ? "in sync with the configuration" : "out of sync: \(add.count) to add, \(delete.count) to delete (run with --sync)")
            }
        }
    }

    struct XEmulatorCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "x-emulator",
            abstract: "Run the local X API v2 server (stream, rules, recent and full-archive search, counts) over simulated or archived posts.",
            discussion: """
            For tests and trials without X: it checks the bearer token (TWITTER_BEARER_TOKEN, or --token-env), sends
            rate-limit headers and keep-alives, publishes the posts at --rate per second from the first stream
            connection, and injects faults on demand. GET /__emulator/state, /__emulator/emitted-ids and
            /__emulator/streamed-ids report what it did; /__emulator/pause stops publishing. Example:
              conviction x-emulator --port 8081 --faults drop_mid_line,stall,server_error --fault-count 30
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Address to bind.") var host = "127.0.0.1"
        @Option(help: "Port to bind (0 = any free port; the URL is printed).") var port = 8081
        @Option(help: "Posts published per second.") var rate = 250.0
        @Option(help: "Environment variable holding the token clients must send.") var tokenEnv = "TWITTER_BEARER_TOKEN"
        @Option(help: "Faults to inject, comma-separated: \(XAPIEmulator.Fault.allCases.map(\.rawValue).joined(separator: ", ")).")
        var faults: String = ""
        @Option(help: "How many faults to inject in all.") var faultCount = 0
        @Option(help: "Posts between in-stream faults.") var faultEvery = 25
        @Option(help: "Seconds between keep-alive blank lines.") var keepAlive = 10.0
        @Option(help: "Recent-search requests per 15-minute window (X's limit by default).") var searchLimit = 450
        @Flag(help: "Serve the posts as history: on X already, found by search and counts at once (the stream publishes nothing new).")
        var history = false
        @Flag(help: "Answer full-archive search and counts as for an account without access (403 client-not-enrolled).")
        var noFullArchive = false
        @Option(help: "Posts the account may read before search and the stream answer 429 UsageCapExceeded.") var monthlyPostCap: Int?
        @Option(help: "Seconds each search or counts answer takes.") var searchLatency = 0.0
        @Argument(help: "Archives to serve (X API v2 JSON lines, .gz allowed); none = the store's sim/stream/.") var files: [String] = []

        func run() async throws {
            guard let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty else {
                throw ValidationError("\(tokenEnv) is not set: the emulator needs the token its clients will send")
            }
            var kinds: [XAPIEmulator.Fault] = []
            for name in faults.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard let kind = XAPIEmulator.Fault(rawValue: name) else {
                    throw ValidationError("--faults: unknown fault \(name.debugDescription); known: \(XAPIEmulator.Fault.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kinds.append(kind)
            }
            var lines: [Data] = []
            if files.isEmpty {
                let context = try await global.context(try global.resolve())
                for key in try await context.store.list(prefix: Dataset.simulatedStream.rawValue + "/") where key.hasSuffix(".jsonl.gz") {
                    lines += JSONLines.read(try await context.store.get(key), gzipped: true).lines.map(\.bytes)
                }
            } else {
                for file in files {
                    guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot read") }
                    lines += JSONLines.read(data, gzipped: file.hasSuffix(".gz")).lines.map(\.bytes)
                }
            }
            guard !lines.isEmpty else { throw ValidationError("no posts to serve: run `conviction simulate` or name archive files") }
            var configuration = XAPIEmulator.Configuration(bearerToken: token)
            configuration.postsPerSecond = rate
            configuration.faults = kinds
            configuration.faultCount = kinds.isEmpty ? 0 : faultCount
            configuration.faultEveryPosts = faultEvery
            configuration.keepAliveInterval = .milliseconds(Int64(keepAlive * 1000))
            configuration.searchLimit = searchLimit
            configuration.fullArchive = !noFullArchive
            configuration.monthlyPostCap = monthlyPostCap
            configuration.searchLatency = .milliseconds(Int64(searchLatency * 1000))
            if history {
                configuration.archivedBefore = Timestamps.now()
                configuration.postsPerSecond = 0
            }
            let emulator = try XAPIEmulator(configuration: configuration, feedLines: lines)
            let url = try await emulator.start(host: host, port: port)
            // Unbuffered, so a script reading the pipe learns the URL at once.
            let publishing = history ? "as history, on X already" : "\(rate) posts/s from the first stream connection"
            FileHandle.standardOutput.write(Data("x-emulator: serving \(lines.count) posts at \(url) (\(publishing))\n".utf8))
            try await GracefulShutdown.untilSignalled(logger: global.logger())
            await emulator.stop()
            let state = emulator.state
            print("x-emulator: published \(state.published) of \(state.total), \(state.streamConnects) stream connection(s), faults \(state.faultsInjected)")
        }
    }
}
