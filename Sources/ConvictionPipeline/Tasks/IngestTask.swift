import ConvictionCore
import ConvictionIngest
import ConvictionStore
import Foundation
import Logging

/// Brings posts into the raw store:
/// - archive files or folders named on the command line are replayed (real data);
/// - with `data.source = "stored"` (the default) nothing else: the posts already in `raw/posts/`
///   (from `conviction ingest stream` or earlier replays) are what the later stages read;
/// - with `data.source = "simulator"` (the demo) the simulator's `sim/stream/` posts are streamed
///   in through the real X client from a local X API server (`simulation.delivery = "stream"`, the
///   server the caller wires in) or replayed directly (`"replay"`).
/// Every path applies the same filters and writes the same `raw/posts/dt=/symbol=/` partitions.
public struct IngestTask: Sendable {
    let context: PipelineContext
    let files: [String]

    public init(context: PipelineContext, files: [String] = []) { self.context = context; self.files = files }

    public func run() async throws -> StageOutcome {
        if !files.isEmpty { return try await replay(files: files) }
        guard context.configuration.simulates else {
            var outcome = StageOutcome(stage: ReplayIngestor.stage)
            outcome.notes.append("data.source = stored: using the posts already in raw/posts/")
            return outcome
        }
        return context.configuration.simulationDelivery == .replay ? try await replaySimulatorArchives() : try await emulatedStream()
    }

    /// The simulator's archive files, in key order.
    func simulatorArchives() async throws -> [String] {
        try await context.store.list(prefix: Dataset.simulatedStream.rawValue + "/").filter { $0.hasSuffix(".jsonl.gz") }
    }

    // MARK: - Replay

    /// Files named, and every file under folders named (recursively, hidden files skipped), in
    /// path order so that a run is the same whatever order the file system lists them in.
    static func expand(_ arguments: [String]) throws -> [String] {
        var paths: [String] = []
        for argument in arguments {
            let path = URL(fileURLWithPath: argument).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw StoreError(key: argument, message: "no such archive file or folder", code: .missingInput)
            }
            guard isDirectory.boolValue else {
                guard FileManager.default.isReadableFile(atPath: path) else { throw StoreError(key: argument, message: "cannot read the archive file") }
                paths.append(path)
                continue
            }
            var found: [String] = []
            guard let walker = FileManager.default.enumerator(atPath: path) else { throw StoreError(key: argument, message: "cannot list the folder") }
            for case let relative as String in walker {
                if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                let full = path + "/" + relative
                var dir: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { found.append(full) }
            }
            guard !found.isEmpty else { throw StoreError(key: argument, message: "the folder holds no files to replay", code: .missingInput) }
            paths += found.sorted()
        }
        var seen: Set<String> = []
        return paths.filter { seen.insert($0).inserted }
    }

    /// Replays archive files and folders: real posts.
    func replay(files: [String]) async throws -> StageOutcome {
        let paths = try Self.expand(files)
        let sources = paths.map(ReplayIngestor.Source.file)
        if !context.dryRun { try await StoreOrigin.claim(.real, by: "conviction ingest replay", in: context.store) }
        return try await replay(sources, described: "\(paths.count) archive file(s)")
    }

    /// Replays archive files already in the store (an AWS Batch child's share): real posts, or the
    /// simulator's when they are its archive (`sim/stream/`).
    public func replay(storeKeys keys: [String]) async throws -> StageOutcome {
        let store = context.store
        let simulated = keys.allSatisfy { $0.hasPrefix(Dataset.simulatedStream.rawValue + "/") }
        if !context.dryRun && !simulated { try await StoreOrigin.claim(.real, by: "conviction batch work --stage replay", in: store) }
        return try await replay(keys.map { ReplayIngestor.Source.object($0, in: store) }, described: "\(keys.count) archive file(s) from the store")
    }

    /// Replays the simulator's post archive (`sim/stream/`), which `conviction simulate` wrote.
    public func replaySimulatorArchives() async throws -> StageOutcome {
        let store = context.store
        let keys = try await simulatorArchives()
        if keys.isEmpty && !context.dryRun {
            throw StoreError(key: Dataset.simulatedStream.rawValue + "/", message: "nothing to replay: no files or folders were named, and the store holds no simulator output (sim/stream/); name archive files or folders, or run `conviction simulate` first", code: .missingInput)
        }
        return try await replay(keys.map { ReplayIngestor.Source.object($0, in: store) },
                                described: keys.isEmpty ? "the simulator's post archive (sim/stream/) once simulate has written it" : "the simulator's \(keys.count) post archive file(s)")
    }

    func replay(_ sources: [ReplayIngestor.Source], described: String) async throws -> StageOutcome {
        var outcome = StageOutcome(stage: ReplayIngestor.stage)
        if context.dryRun {
            outcome.planned = ["replay \(described) into raw/posts/ (already finished ones are skipped)"]
            return outcome
        }
        let ingestor = ReplayIngestor(store: context.store, symbols: context.configuration.symbols, filters: context.configuration.ingestFilters)
        var meter = ProgressMeter(stage: "ingest", total: sources.count, logger: context.logger)
        var rejected: [String: Int] = [:], examples: [String: String] = [:], notices: [String: Int] = [:]
        var freshRows = 0
        for (i, source) in sources.enumerated() {
            // Each source is one unit of work in the catalog: the same content replayed again is skipped.
            let inputHash = try await ingestor.inputHash(of: source)
            if let done = try await context.catalog.finished(stage: ReplayIngestor.stage, unit: source.name, inputHash: inputHash, store: context.store) {
                outcome.skipped += 1
                outcome.rows += done.rows
                meter.step(i + 1, rows: outcome.rows)
                continue
            }
            let result = try await ingestor.replay(source, progress: ReplayIngestor.progressReport(source.name) { [logger = context.logger] in logger.info("\($0)") })
            outcome.done += 1
            freshRows += result.accepted
            outcome.rows += result.accepted
            // A damaged source is not recorded as finished: the next run retries it.
            if result.failure == nil {
                try await context.catalog.record(.init(stage: ReplayIngestor.stage, unit: source.name, inputHash: inputHash,
                                                       outputKeys: result.outputKeys.joined(separator: "\n"), outputHash: result.outputHash,
                                                       rows: result.accepted, completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
            }
            for (reason, count) in result.rejected { rejected[reason, default: 0] += count }
            for (reason, example) in result.examples where examples[reason] == nil { examples[reason] = "\(source.name): \(example)" }
            for (kind, count) in result.notices { notices[kind, default: 0] += count }
            if let failure = result.failure {
                outcome.failures.append(failure)
                context.logger.error("ingest: \(failure); its good lines were stored, the rest quarantined; fix or replace the file and re-run")
            }
            meter.step(i + 1, rows: outcome.rows)
        }
        if !notices.isEmpty {
            outcome.notes.append("skipped v1.1 notices (not posts): " + notices.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !rejected.isEmpty { outcome.notes.append(Self.quarantineNote(rejected)) }
        // A run that kept nothing of what it read is a wrong input, not a quiet success.
        if outcome.done > 0, freshRows == 0, !rejected.isEmpty {
            let top = rejected.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3)
                .map { "\($0.key) \($0.value) (e.g. \(examples[$0.key] ?? "-"))" }
            outcome.failures.append("every line was quarantined (\(rejected.values.reduce(0, +)) lines); top reasons: " + top.joined(separator: "; "))
        }
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

        guard let makeServer = context.localXAPIServer else {
            throw StoreError(key: Dataset.simulatedStream.rawValue, message: "simulation.delivery = stream needs the local X API server, which the `conviction` command wires in; set simulation.delivery = \"replay\" to replay the simulator's posts directly", code: .configuration)
        }
        // The server and the client share a token made up for this run; it is no real credential.
        let token = Secret(UUID().uuidString)
        let emulator = try makeServer(token.reveal(), configuration.ingest.emulatorRate, lines)
        let base = try await emulator.start()
        let result: Result<StageOutcome, any Error>
        do { result = .success(try await stream(from: emulator, base: base, token: token, inputHash: inputHash, outcome: outcome)) } catch {
            result = .failure(error)
        }
        await emulator.stop()
        return try result.get()
    }

    /// Streams everything `emulator` publishes through the X client into the store.
    private func stream(from emulator: any LocalXAPIServer, base: String, token: Secret, inputHash: String,
                        outcome start: StageOutcome) async throws -> StageOutcome {
        var outcome = start
        let configuration = context.configuration
        let store = context.store
        let admin = XAPIClient(baseURL: base, bearer: token)
        _ = try await RulesSync(api: admin, wanted: try configuration.streamRuleSet.rules()).apply(dryRun: false)

        // The previous stream of other inputs is replaced, not added to.
        if let previous = try context.catalog.completion(stage: ReplayIngestor.stage, unit: Self.streamUnit) {
            for key in previous.outputKeyList { try? await store.delete(key) }
        }
        // A fresh journal each time: the input changed (or was never streamed), so earlier
        // de-duplication state would hide posts that now belong in the store. Its state stays in
        // its own folder (no catalog given), so removing the folder forgets all of it.
        let stateDirectory = configuration.ingestStateDirectory.appendingPathComponent("emulator")
        try? FileManager.default.removeItem(at: stateDirectory)
        var settings = StreamIngestor.Settings(configuration.ingest)
        settings.commitPosts = 50_000
        let journal = try IngestJournal(folder: stateDirectory, fsyncInterval: settings.fsyncInterval)
        journal.keepsWrittenKeys = true
        let ingestor = StreamIngestor(api: XAPIClient(baseURL: base, bearer: token), store: store, journal: journal,
                                      symbols: configuration.symbols, filters: configuration.ingestFilters, rules: configuration.streamRuleSet,
                                      settings: settings, logger: context.logger.quietened(below: .notice))
        let total = emulator.total
        let started = ContinuousClock.now
        // Returns the progress (decided of emitted) when the stream stopped making any: a failure.
        let watcher = Task { () -> (Int, Int)? in
            var lastPrint = ContinuousClock.now
            var emitted: Int?
            var lastDecided = -1
            var lastProgress = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                let published = emulator.published
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
                if emitted == nil { emitted = emulator.emittedCount }
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
        let emitted = emulator.emittedCount
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

/// The local X API server the demo streams the simulator's posts from. The pipeline module does not
/// link it: the `conviction` command wires in ConvictionXEmulator's (`PipelineContext.localXAPIServer`).
public protocol LocalXAPIServer: Sendable {
    /// Starts serving and returns the base URL.
    func start() async throws -> String
    func stop() async
    /// Posts published so far, and in all.
    var published: Int { get }
    var total: Int { get }
    /// Posts published that match the stream's rules.
    var emittedCount: Int { get }
}

/// Makes a server for a bearer token, a publishing rate (posts per second) and the stream lines.
public typealias LocalXAPIServerFactory = @Sendable (_ bearerToken: String, _ postsPerSecond: Double, _ lines: [Data]) throws -> any LocalXAPIServer

extension Logger {
    /// A copy that logs only at `level` and above (the stream's state changes are `info`).
    func quietened(below level: Logger.Level) -> Logger {
        var copy = self
        copy.logLevel = Swift.max(copy.logLevel, level)
        return copy
    }
}
