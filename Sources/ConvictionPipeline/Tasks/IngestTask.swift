import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionXEmulator
import Foundation
import Logging

/// Brings posts into the raw store, from where `ingest.source` says:
/// - `emulator` (the demo): the simulator's `sim/stream/` posts are published by the local X API
///   server and streamed in through the real X client, rules, journal and backfill included;
/// - `replay`: archives (files named on the command line, or `sim/stream/`) are replayed directly;
/// - `stored`: a separate `conviction ingest stream` has stored them; nothing to do here.
/// Every path applies the same filters and writes the same `raw/posts/dt=/symbol=/` partitions.
public struct IngestTask: Sendable {
    let context: PipelineContext
    let files: [String]

    public init(context: PipelineContext, files: [String] = []) { self.context = context; self.files = files }

    public func run() async throws -> StageOutcome {
        if !files.isEmpty { return try await replay() }
        switch context.configuration.ingest.source {
        case "stored":
            var outcome = StageOutcome(stage: ReplayIngestor.stage)
            outcome.notes.append("ingest.source = stored: using the posts already in raw/posts/")
            return outcome
        case "replay": return try await replay()
        default: return try await emulatedStream()
        }
    }

    /// The simulator's archive files, in key order.
    func simulatorArchives() async throws -> [String] {
        try await context.store.list(prefix: Dataset.simulatedStream.rawValue + "/").filter { $0.hasSuffix(".jsonl.gz") }
    }

    // MARK: - Replay

    func replay() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: ReplayIngestor.stage)
        let store = context.store
        var sources: [ReplayIngestor.Source] = []
        if files.isEmpty {
            for key in try await simulatorArchives() { sources.append(.init(name: key) { try await store.get(key) }) }
        } else {
            for file in files {
                let path = URL(fileURLWithPath: file).standardizedFileURL.path
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw StoreError(key: file, message: "cannot read the archive file")
                }
                sources.append(.init(name: path) {
                    guard let data = FileManager.default.contents(atPath: path) else { throw StoreError(key: path, message: "cannot read") }
                    return data
                })
            }
        }
        if context.dryRun {
            outcome.planned = [files.isEmpty && sources.isEmpty
                ? "replay the simulator's post archive (sim/stream/) into raw/posts/ once simulate has written it"
                : "replay \(sources.count) archive file(s) into raw/posts/ (already finished ones are skipped)"]
            return outcome
        }
        let ingestor = ReplayIngestor(store: store, catalog: context.catalog, symbols: context.configuration.symbols,
                                      filters: context.configuration.ingestFilters)
        var meter = ProgressMeter(stage: "ingest", total: sources.count, logger: context.logger)
        var rejected: [String: Int] = [:]
        for (i, source) in sources.enumerated() {
            let result = try await ingestor.replay(source)
            if result.skipped { outcome.skipped += 1 } else { outcome.done += 1 }
            outcome.rows += result.accepted
            for (reason, count) in result.rejected { rejected[reason, default: 0] += count }
            if let failure = result.failure {
                outcome.failures.append(failure)
                context.logger.error("ingest: \(failure); its good lines were stored, the rest quarantined; fix or replace the file and re-run")
            }
            meter.step(i + 1, rows: outcome.rows)
        }
        if !rejected.isEmpty { outcome.notes.append(Self.quarantineNote(rejected)) }
        return outcome
    }

    public static func quarantineNote(_ rejected: [String: Int]) -> String {
        "quarantined: " + rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + " (see raw/quarantine/ingest/)"
    }

    // MARK: - Streaming from the local X API server

    static let streamUnit = "x-emulator-stream"

    func emulatedStream() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: ReplayIngestor.stage)
        let configuration = context.configuration
        let store = context.store
        let archives = try await simulatorArchives()
        if context.dryRun {
            outcome.planned = ["stream the simulator's posts (sim/stream/, \(archives.count) file(s) now) from the local X API server through the X client into raw/posts/"]
            return outcome
        }
        var lines: [Data] = []
        var inputHasher = ContentHasher()
        for key in archives {
            let data = try await store.get(key)
            inputHasher.update(ContentHasher.hash(data))
            let file = JSONLines.read(data, gzipped: true)
            if let damage = file.damage { throw StoreError(key: key, message: "damaged simulator archive: \(damage); run simulate again") }
            lines += file.lines.map(\.bytes)
        }
        inputHasher.update(configuration.symbols.map(\.rawValue).joined(separator: ","))
        inputHasher.update(configuration.ingestFilters.fingerprint)
        let inputHash = inputHasher.finalize()
        if let done = try await context.catalog.finished(stage: ReplayIngestor.stage, unit: Self.streamUnit, inputHash: inputHash, store: store) {
            outcome.skipped = 1
            outcome.rows = done.rows
            return outcome
        }

        // The server and the client share a token made up for this run; it is no real credential.
        let token = Secret(UUID().uuidString)
        var serverConfiguration = XAPIEmulator.Configuration(bearerToken: token.reveal())
        serverConfiguration.postsPerSecond = configuration.ingest.emulatorRate
        serverConfiguration.keepAliveInterval = .seconds(1)
        serverConfiguration.streamConnectLimit = 1_000
        let emulator = try XAPIEmulator(configuration: serverConfiguration, feedLines: lines)
        let base = try await emulator.start()
        let result: Result<StageOutcome, any Error>
        do { result = .success(try await stream(from: emulator, base: base, token: token, inputHash: inputHash, outcome: outcome)) } catch {
            result = .failure(error)
        }
        await emulator.stop()
        return try result.get()
    }

    /// Streams everything `emulator` publishes through the X client into the store.
    private func stream(from emulator: XAPIEmulator, base: String, token: Secret, inputHash: String,
                        outcome start: StageOutcome) async throws -> StageOutcome {
        var outcome = start
        let configuration = context.configuration
        let store = context.store
        let admin = XAPIClient(baseURL: base, bearer: token)
        do { _ = try await RulesSync(api: admin, wanted: try configuration.streamRuleSet.rules()).apply(dryRun: false) } catch {
            await admin.shutdown()
            throw error
        }
        await admin.shutdown()

        // The previous stream of other inputs is replaced, not added to.
        if let previous = try context.catalog.completion(stage: ReplayIngestor.stage, unit: Self.streamUnit) {
            for key in previous.outputKeyList { try? await store.delete(key) }
        }
        // A fresh journal each time: the input changed (or was never streamed), so earlier
        // de-duplication state would hide posts that now belong in the store.
        let stateDirectory = configuration.ingestStateDirectory.appendingPathComponent("emulator")
        try? FileManager.default.removeItem(at: stateDirectory)
        var settings = StreamIngestor.Settings(configuration)
        settings.commitPosts = 50_000
        let journal = try IngestJournal(folder: stateDirectory, fsyncInterval: settings.fsyncInterval)
        journal.keepsWrittenKeys = true
        let ingestor = StreamIngestor(api: XAPIClient(baseURL: base, bearer: token), store: store, journal: journal,
                                      symbols: configuration.symbols, filters: configuration.ingestFilters, rules: configuration.streamRuleSet,
                                      settings: settings, logger: context.logger.quietened(below: .notice))
        let total = emulator.state.total
        let started = ContinuousClock.now
        // Returns the progress (decided of emitted) when the stream stopped making any: a failure.
        let watcher = Task { () -> (Int, Int)? in
            var lastPrint = ContinuousClock.now
            var emitted: Int?
            var lastDecided = -1
            var lastProgress = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                let published = emulator.state.published
                let seconds = (ContinuousClock.now - started).seconds
                if ContinuousClock.now - lastPrint > .seconds(2) {
                    lastPrint = .now
                    let rate = Double(ingestor.metrics.snapshot.postsBySymbol.values.reduce(0, +)) / max(seconds, 0.001)
                    context.logger.info("ingest: \(published) of \(total) posts published by the local X API server, \(Int(rate)) stored/s, ETA \(Int(Double(total - published) / configuration.ingest.emulatorRate)) s")
                }
                let progress = ingestor.progress
                let decided = progress.accepted + progress.rejected.filter { $0.key != "duplicate_id" }.values.reduce(0, +)
                if decided != lastDecided { lastDecided = decided; lastProgress = .now }
                // Everything published and every matching post decided on (stored or quarantined): done.
                guard published >= total else { continue }
                if emitted == nil { emitted = emulator.emittedIDs().count }
                if decided >= emitted! { ingestor.stop(); return nil }
                // Waiting is cheap; giving up early would store part of the posts and call it done. A
                // busy machine can starve the stream for many seconds, so only a long silence counts.
                if ContinuousClock.now - lastProgress > .seconds(180) { ingestor.stop(); return (decided, emitted!) }
            }
            return nil
        }
        let summary = try await ingestor.run()
        watcher.cancel()
        let stalled = await watcher.value
        if let fatal = summary.fatal { throw StoreError(key: base, message: fatal) }
        if let (decided, expected) = stalled {
            outcome.failures.append("the stream from the local X API server stalled: \(decided) of \(expected) matching posts received in 180 s without progress; what arrived is stored, and the next run streams again")
            return outcome  // not recorded as finished
        }
        let emitted = emulator.emittedIDs().count
        outcome.done = 1
        outcome.rows = summary.accepted
        outcome.notes.append("streamed \(emitted) of \(total) simulated posts that match the rules through the X client (\(summary.connects) connection(s), \(summary.backfilled) backfilled) in \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s")
        outcome.notes.append(Self.quarantineNote(summary.rejected) + "; \(total - emitted) posts did not match the stream rules")
        try await context.catalog.record(.init(stage: ReplayIngestor.stage, unit: Self.streamUnit, inputHash: inputHash,
                                               outputKeys: journal.writtenKeys.joined(separator: "\n"),
                                               outputHash: "", rows: summary.accepted, completedAt: Timestamps.iso8601(Timestamps.now())), store: store)
        return outcome
    }
}

extension StreamIngestor.Settings {
    /// The `ingest.*` settings.
    public init(_ configuration: ConvictionConfiguration) {
        self.init()
        idleTimeout = .milliseconds(Int64(configuration.ingest.idleTimeoutSeconds * 1000))
        commitInterval = .seconds(configuration.ingest.commitIntervalSeconds)
        fsyncInterval = .milliseconds(configuration.ingest.fsyncIntervalMillis)
        queueCapacity = configuration.ingest.queueCapacity
        maxAuthFailures = configuration.ingest.maxAuthFailures
    }
}

extension Logger {
    /// A copy that logs only at `level` and above (the stream's state changes are `info`).
    func quietened(below level: Logger.Level) -> Logger {
        var copy = self
        copy.logLevel = Swift.max(copy.logLevel, level)
        return copy
    }
}
