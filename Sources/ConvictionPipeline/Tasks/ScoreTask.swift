import ConvictionCore
import CoreMetrics
import ConvictionIngest
import ConvictionScoring
import ConvictionStore
import Foundation
import Logging

/// Scores raw post partitions and writes `scores/dt=/symbol=/part-0.parquet`, one row per post with
/// the name and model hash of the scorer that scored it: the LLM when one is configured, else (and
/// for every post the LLM cannot score) the transformer model, the lexicon last.
///
/// The partitions are a work queue that several workers (processes, machines) can share through the
/// store: a worker takes a partition's lease (`LeaseBoard`), renews it while it works, and writes a
/// checkpoint every `scoring.checkpoint_posts` posts. A worker that dies loses at most the batch it
/// had in flight; whoever takes the partition next resumes from the checkpoints. A stop request
/// (SIGTERM, a spot interruption notice) finishes the batch in hand, checkpoints it and gives the
/// lease back. Finished partitions are recorded in the catalog (and as markers on a shared store),
/// so outputs are written once per input and scorer.
public struct ScoreTask: Sendable {
    public static let stage = "score"
    let context: PipelineContext
    let worker: String
    let stop: StopSignal
    let environment: [String: String]
    /// Only these partitions (their prefixes), e.g. an AWS Batch child's share; nil for all.
    let only: Set<String>?

    public init(context: PipelineContext, worker: String = LeaseBoard.defaultWorkerID(), stop: StopSignal = StopSignal(),
                environment: [String: String] = ProcessInfo.processInfo.environment, only: Set<String>? = nil) {
        self.context = context; self.worker = worker; self.stop = stop; self.environment = environment; self.only = only
    }

    /// The raw partitions there are to score: one per symbol and day.
    public static func partitions(_ context: PipelineContext) async throws -> [(Partition, [String])] {
        try await context.store.partitions(of: .rawPosts, symbols: context.symbolSet)
            .filter { $0.key.symbol != nil && $0.key.date != nil }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The CPU chain the configuration asks for. The default model is found in `.models/`.
    public static func chain(_ configuration: ConvictionConfiguration) -> ScorerChain {
        let scoring = configuration.scoring
        var settings = ScorerChain.Settings()
        settings.useTransformer = scoring.scorer == .transformer
        settings.modelFolder = scoring.model.isEmpty ? ProjectFiles.model(defaultModelName) : scoring.model
        settings.batchSize = scoring.batchSize
        settings.session = ORTSessionOptions(intraOpThreads: scoring.threads, interOpThreads: 1,
                                             optimization: scoring.optimization,
                                             allowSpinning: scoring.spinning)
        settings.libraryPath = scoring.onnxruntimeLibrary.isEmpty ? nil : scoring.onnxruntimeLibrary
        return ScorerChain.make(settings)
    }

    /// The LLM (when `llm.endpoint` is set) in front of the CPU chain.
    public static func engine(_ configuration: ConvictionConfiguration, environment: [String: String]) throws -> ScoringEngine {
        let chain = chain(configuration)
        var settings = configuration.llm
        guard !settings.endpoint.isEmpty else { return ScoringEngine(llm: nil, chain: chain) }
        if !settings.apiKeyEnv.isEmpty {
            guard let key = environment[settings.apiKeyEnv], !key.isEmpty else {
                throw ScoringError("llm.api_key_env: the environment variable \(settings.apiKeyEnv) is not set")
            }
            settings.apiKey = Secret(key)
        }
        return ScoringEngine(llm: try LLMSentimentScorer(settings: settings), chain: chain)
    }

    /// The default model: `share/conviction/models/<name>` in a release, `.models/<name>` in a checkout.
    public static let defaultModelName = "finance-tweet-minilm"
    public static let defaultModel = ".models/finance-tweet-minilm"

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: Self.stage)
        let partitions = try await Self.partitions(context).filter { only?.contains($0.0.prefix) ?? true }
        let engine = try Self.engine(context.configuration, environment: environment)
        let chain = engine.chain
        let loadNotices = chain.notices.count
        for notice in chain.notices {
            context.logger.warning("score: \(notice)")
            outcome.notes.append(notice)
        }
        let primary = engine.primary
        let fallbackName = engine.llm == nil ? "" : " (fallback \(chain.active.name))"
        if context.dryRun {
            outcome.planned = ["score \(partitions.count) raw partition(s) with \(primary.name) (model \(primary.modelHash))\(fallbackName)"]
            return outcome
        }
        context.logger.info("score: \(partitions.count) partition(s) with \(primary.name) (model \(primary.modelHash))\(fallbackName) as worker \(worker)")
        let board = LeaseBoard(store: context.store, queue: Self.stage, worker: worker, ttl: context.configuration.scoring.lease)
        var run = RunState(cache: TextCache(capacity: context.configuration.scoring.cacheEntries))
        let scoringStarted = ContinuousClock.now
        var meter = ProgressMeter(stage: "score", total: partitions.count, logger: context.logger)
        var pending = partitions
        var finished = 0
        while !pending.isEmpty {
            var busy: [(Partition, [String])] = []
            var soonest = Int64.max
            for (partition, keys) in pending {
                if stop.isRequested { busy.append((partition, keys)); continue }
                switch try await scorePartition(partition, keys: keys, engine: engine, board: board, run: &run, outcome: &outcome) {
                case .finished:
                    finished += 1
                    meter.step(finished, rows: outcome.rows)
                case .busy(let holder):
                    busy.append((partition, keys))
                    soonest = min(soonest, holder.expiresAt)
                }
            }
            pending = busy
            if let reason = stop.requestReason {
                outcome.interrupted = reason
                outcome.left = pending.count
                context.logger.warning("score: stopping (\(reason)); \(pending.count) partition(s) left for another worker")
                break
            }
            if !pending.isEmpty {
                // Other workers hold these: wait until they finish them or their leases lapse.
                let wait = max(0.2, min(2.0, Double(soonest - Timestamps.now()) / 1000))
                context.logger.info("score: \(pending.count) partition(s) leased by other workers; checking again in \(String(format: "%.1f", wait)) s")
                try await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
            }
        }
        let posts = outcome.rows, fallbackPosts = run.fallbacks.values.reduce(0, +)
        Counter(label: "conviction_score_posts_total").increment(by: posts)
        Gauge(label: "conviction_score_posts_per_second").record(Double(posts) / max((ContinuousClock.now - scoringStarted) / .seconds(1), 1e-9))
        Gauge(label: "conviction_score_fallback_share").record(posts == 0 ? 0 : Double(fallbackPosts) / Double(posts))
        for notice in chain.notices.dropFirst(loadNotices) {  // fallbacks while scoring
            context.logger.warning("score: \(notice)")
            outcome.notes.append(notice)
        }
        if !run.issues.isEmpty {
            let parts = TextIssue.allCases.compactMap { issue in run.issues[issue].map { "\($0) \(issue.rawValue)" } }
            outcome.notes.append("texts scored with a note: \(parts.joined(separator: ", ")) (empty and whitespace-only texts count as neutral; truncated ones were cut to the model's length)")
        }
        if run.resumed > 0 { outcome.notes.append("resumed \(run.resumed) post(s) from checkpoints another worker left") }
        if let llm = engine.llm {
            let s = llm.statistics
            let fallbacks = LLMSentimentScorer.Failure.allCases.compactMap { f in run.fallbacks[f].map { "\(f.rawValue) \($0)" } }
            outcome.notes.append("\(llm.name): \(s.scored) of \(s.texts) texts scored (\(s.fromLogprobs) with log-probabilities) in \(s.requests) requests (\(s.retries) retries), \(Int(Double(s.texts) / max(s.seconds, 1e-9))) texts/s, \(s.promptTokens) prompt + \(s.completionTokens) completion tokens"
                                 + (fallbacks.isEmpty ? "" : "; posts scored by \(chain.active.name) instead: \(fallbacks.joined(separator: ", "))"))
        }
        if let transformer = chain.scorers.first as? TransformerScorer, transformer.statistics.texts > 0 {
            let s = transformer.statistics
            context.logger.info("score: \(transformer.name) scored \(s.texts) distinct texts in \(String(format: "%.1f", s.totalSeconds)) s (\(Int(Double(s.texts) / max(s.totalSeconds, 1e-9))) texts/s, \(s.batches) batches, padding \(String(format: "%.0f", 100 * Double(s.paddedTokens - s.tokens) / Double(max(s.paddedTokens, 1))))%); \(run.cache.hits) repeats from the cache")
        }
        return outcome
    }

    /// What a worker carries from partition to partition.
    struct RunState {
        var cache: TextCache
        var issues: [TextIssue: Int] = [:]
        var fallbacks: [LLMSentimentScorer.Failure: Int] = [:]
        var resumed = 0
    }

    enum PartitionResult { case finished, busy(LeaseBoard.Holder) }

    func scorePartition(_ partition: Partition, keys: [String], engine: ScoringEngine, board: LeaseBoard,
                        run: inout RunState, outcome: inout StageOutcome) async throws -> PartitionResult {
        // Held by a live worker elsewhere: do not fetch what cannot be worked on.
        if let holder = try await board.holder(partition.prefix) { return .busy(holder) }
        // The partition's files are read twice, a piece at a time, never whole: once for their hash,
        // and, when the work is not done yet, once for their posts.
        var hasher = ContentHasher()
        for key in keys.sorted() {
            hasher.update(key)
            try await hasher.update(try await context.store.reader(key, chunkSize: 4 << 20), name: key)
        }
        // A partition is finished for this input and these scorers: a new model or prompt re-scores it.
        let unitHash = ContentHasher.hash(Data((hasher.finalize() + engine.identity).utf8))
        let unit = partition.prefix
        func alreadyDone() async throws -> Bool {
            guard let done = try await context.catalog.finished(stage: Self.stage, unit: unit, inputHash: unitHash, store: context.store) else { return false }
            outcome.skipped += 1; outcome.rows += done.rows
            return true
        }
        if try await alreadyDone() { return .finished }
        let lease: LeaseBoard.Lease
        switch try await board.acquire(unit) {
        case .busy(let holder): return .busy(holder)
        case .acquired(let l): lease = l
        }
        let keeper = LeaseKeeper(board: board, lease: lease)
        // Another worker may have finished it between the check and the lease.
        if try await alreadyDone() {
            try await keeper.release()
            return .finished
        }

        var posts: [Post] = []
        var seen: Set<String> = []
        var quarantine: [Data] = []
        var damaged: [String] = []
        let normalizer = PostNormalizer(symbols: context.configuration.symbols)
        for key in keys.sorted() {
            let damage = try await JSONLines.forEachLine(of: try await context.store.reader(key, chunkSize: 4 << 20)) { line in
                guard let raw = RawPostLine.decode(line.bytes) else {
                    quarantine.append(QuarantineRecord(stage: Self.stage, source: key, line: line.number, reason: "malformed",
                                                       detail: "not a raw-store line", raw: line.text).encoded())
                    return
                }
                do throws(PostNormalizer.Rejection) {
                    // A post fetched from history was on X from its created_at: that is when it became known
                    // (docs/ingestion.md), whatever features.point_in_time says for streamed posts.
                    let (post, _) = try normalizer.normalize(raw.payload, receivedAt: raw.historical ? nil : raw.receivedAt)
                    guard seen.insert(post.id).inserted else { return }  // the same post from two archives
                    posts.append(post)
                } catch {
                    quarantine.append(QuarantineRecord(stage: Self.stage, source: key, line: line.number, reason: error.reason,
                                                       detail: error.detail, raw: line.text).encoded())
                }
            }
            if let damage { damaged.append("\(key): \(damage)") }
        }
        // One order for every worker, so checkpoints line up.
        posts.sort { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }

        let checkpoints = ScoreCheckpoints(store: context.store, unit: unit, unitHash: unitHash)
        let stored = Set(try await checkpoints.list())
        let size = context.configuration.scoring.checkpointPosts
        var results: [ScoringEngine.Result] = []
        results.reserveCapacity(posts.count)
        for (index, start) in stride(from: 0, to: posts.count, by: size).enumerated() {
            let batch = posts[start..<min(posts.count, start + size)]
            if stored.contains(checkpoints.key(index)), let saved = try? await checkpoints.read(index, ids: batch.map(\.id)) {
                results += saved
                run.resumed += saved.count
                continue
            }
            if keeper.lost { return .busy(LeaseBoard.Holder(worker: "another worker", expiresAt: 0)) }
            if stop.isRequested {
                try await keeper.release()
                return .busy(LeaseBoard.Holder(worker: worker, expiresAt: 0))
            }
            let scored = await score(batch.map(\.text), engine: engine, run: &run)
            // The last batch needs no checkpoint: the partition's output is written next.
            if batch.endIndex < posts.count { try await checkpoints.write(index, ids: batch.map(\.id), results: scored) }
            results += scored
        }
        if keeper.lost { return .busy(LeaseBoard.Holder(worker: "another worker", expiresAt: 0)) }

        var scores = zip(posts, results).map { post, r in
            SentimentScore(postID: post.id, symbol: partition.symbol!, createdAt: post.createdAt, receivedAt: post.receivedAt,
                           authorFollowers: post.authorFollowers, engagement: post.likeCount + post.retweetCount,
                           positive: r.scored.probabilities.positive, negative: r.scored.probabilities.negative, neutral: r.scored.probabilities.neutral,
                           scorer: r.scorer, modelHash: r.modelHash)
        }
        scores.sort { ($0.createdAt, $0.postID) < ($1.createdAt, $1.postID) }
        let outputKey = Partition(.scores, date: partition.date, symbol: partition.symbol).prefix + "part-0.parquet"
        let bytes = try MarketTables.encode(scores: scores)
        try await context.store.put(outputKey, data: bytes)
        var outputs = [outputKey]
        if !quarantine.isEmpty {
            let key = Dataset.quarantine.rawValue + "/score/dt=\(partition.date!.isoString)/symbol=\(partition.symbol!.rawValue)/part-0.jsonl.gz"
            try await context.store.put(key, data: try JSONLines.encode(quarantine))
            outputs.append(key)
        }
        outcome.rows += scores.count
        if !damaged.isEmpty {
            // Keep what could be read, but leave the partition unfinished so it is redone.
            outcome.failures += damaged
            context.logger.error("score: damaged input \(damaged.joined(separator: "; ")); scored the readable lines, the partition stays unfinished")
            try await keeper.release()
            return .finished
        }
        // The same output from a worker that took over is harmless; a record from one that lost its lease is not made.
        if keeper.lost { return .busy(LeaseBoard.Holder(worker: "another worker", expiresAt: 0)) }
        try await context.catalog.record(.init(stage: Self.stage, unit: unit, inputHash: unitHash, outputKeys: outputs.joined(separator: "\n"),
                                         outputHash: ContentHasher.hash(bytes), rows: scores.count, completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
        try await checkpoints.removeAll()
        try await keeper.release()
        outcome.done += 1
        return .finished
    }

    /// Scores texts, taking repeats from the cache. What the LLM could not score is not cached: it
    /// may answer next time.
    func score(_ texts: [String], engine: ScoringEngine, run: inout RunState) async -> [ScoringEngine.Result] {
        var results = [ScoringEngine.Result?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        // Keyed by bytes: String equality is canonical equivalence, and a cased model can tell "é" from "e\u{301}".
        let keys = texts.map { Data($0.utf8) }
        var firstIndex: [Data: Int] = [:]
        for (i, key) in keys.enumerated() {
            if let hit = run.cache.lookup(key) { results[i] = hit; continue }
            if firstIndex[key] == nil { firstIndex[key] = i; missing.append(i) }
        }
        let scored = await engine.score(missing.map { texts[$0] })
        for (i, r) in zip(missing, scored) {
            results[i] = r
            if let reason = r.fallbackReason { run.fallbacks[reason, default: 0] += 1 } else { run.cache.insert(keys[i], r) }
        }
        for (i, key) in keys.enumerated() where results[i] == nil { results[i] = results[firstIndex[key]!] }
        let all = results.map { $0! }
        for r in all { if let issue = r.scored.issue { run.issues[issue, default: 0] += 1 } }
        return all
    }
}

/// Distinct texts already scored in this run, oldest forgotten first: constant memory.
struct TextCache {
    let capacity: Int
    private var entries: [Data: ScoringEngine.Result] = [:]
    private var order: [Data] = []
    private var head = 0
    private(set) var hits = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func lookup(_ text: Data) -> ScoringEngine.Result? {
        guard let entry = entries[text] else { return nil }
        hits += 1
        return entry
    }

    mutating func insert(_ text: Data, _ result: ScoringEngine.Result) {
        guard capacity > 0, entries[text] == nil else { return }
        if entries.count >= capacity {
            entries[order[head]] = nil
            order[head] = text
            head = (head + 1) % capacity
        } else {
            order.append(text)
        }
        entries[text] = result
    }
}
