import ConvictionCore
import ConvictionIngest
import ConvictionScoring
import ConvictionStore
import Foundation
import Logging

/// Scores every raw post partition with the configured scorer chain (the transformer model, the
/// lexicon if the model is missing or fails) and writes `scores/dt=/symbol=/part-0.parquet`, one row
/// per post with the scorer's name and model hash. Posts are de-duplicated by id within a partition;
/// texts seen earlier in the run (reposts, templates) come from a bounded cache.
public struct ScoreTask: Sendable {
    public static let stage = "score"
    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    /// The chain the configuration asks for. The default model is found in `.models/`.
    public static func chain(_ configuration: ConvictionConfiguration) -> ScorerChain {
        let scoring = configuration.scoring
        var settings = ScorerChain.Settings()
        settings.useTransformer = scoring.scorer == "transformer"
        settings.modelFolder = scoring.model.isEmpty ? ProjectFiles.find(defaultModel) : scoring.model
        settings.batchSize = scoring.batchSize
        settings.session = ORTSessionOptions(intraOpThreads: scoring.threads, interOpThreads: 1,
                                             optimization: ORTSessionOptions.GraphOptimization(rawValue: scoring.optimization) ?? .all,
                                             allowSpinning: scoring.spinning)
        settings.libraryPath = scoring.onnxruntimeLibrary.isEmpty ? nil : scoring.onnxruntimeLibrary
        return ScorerChain.make(settings)
    }

    public static let defaultModel = ".models/finance-tweet-minilm"

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: Self.stage)
        let partitions = try await context.store.partitions(of: .rawPosts, symbols: context.symbolSet)
            .filter { $0.key.symbol != nil && $0.key.date != nil }.sorted { $0.key < $1.key }
        let chain = Self.chain(context.configuration)
        let loadNotices = chain.notices.count
        for notice in chain.notices {
            context.logger.warning("score: \(notice)")
            outcome.notes.append(notice)
        }
        if context.dryRun {
            outcome.planned = ["score \(partitions.count) raw partition(s) with \(chain.active.name) (model \(chain.active.modelHash))"]
            return outcome
        }
        context.logger.info("score: \(partitions.count) partition(s) with \(chain.active.name) (model \(chain.active.modelHash))")
        let normalizer = PostNormalizer(symbols: context.configuration.symbols)
        var cache = TextCache(capacity: context.configuration.scoring.cacheEntries)
        var issues: [TextIssue: Int] = [:]
        var meter = ProgressMeter(stage: "score", total: partitions.count, logger: context.logger)
        for (n, (partition, keys)) in partitions.enumerated() {
            defer { meter.step(n + 1, rows: outcome.rows) }
            var files: [(String, Data)] = []
            var hasher = ContentHasher()
            for key in keys.sorted() {
                let data = try await context.store.get(key)
                files.append((key, data)); hasher.update(key); hasher.update(data)
            }
            let rawHash = hasher.finalize()
            // A partition is finished for this input and this scorer: a new model re-scores it.
            func unitHash(_ scorer: any SentimentScorer) -> String { ContentHasher.hash(Data((rawHash + scorer.name + scorer.modelHash).utf8)) }
            let unit = partition.prefix
            if let done = try await context.catalog.finished(stage: Self.stage, unit: unit, inputHash: unitHash(chain.active), store: context.store) {
                outcome.skipped += 1; outcome.rows += done.rows
                continue
            }
            var posts: [Post] = []
            var seen: Set<String> = []
            var quarantine: [Data] = []
            var damaged: [String] = []
            for (key, data) in files {
                let file = JSONLines.read(data, gzipped: true)
                if let damage = file.damage { damaged.append("\(key): \(damage)") }
                for line in file.lines {
                    guard let raw = RawPostLine.decode(line.bytes) else {
                        quarantine.append(QuarantineRecord(stage: Self.stage, source: key, line: line.number, reason: "malformed",
                                                           detail: "not a raw-store line", raw: line.text).encoded())
                        continue
                    }
                    do {
                        let (post, _) = try normalizer.normalize(raw.payload, receivedAt: raw.receivedAt)
                        guard seen.insert(post.id).inserted else { continue }  // the same post from two archives
                        posts.append(post)
                    } catch {
                        quarantine.append(QuarantineRecord(stage: Self.stage, source: key, line: line.number, reason: error.reason,
                                                           detail: error.detail, raw: line.text).encoded())
                    }
                }
            }
            let (results, scorer) = score(posts.map(\.text), chain: chain, cache: &cache)
            for r in results { if let issue = r.issue { issues[issue, default: 0] += 1 } }
            var scores = zip(posts, results).map { post, r in
                SentimentScore(postID: post.id, symbol: partition.symbol!, createdAt: post.createdAt, receivedAt: post.receivedAt,
                               authorFollowers: post.authorFollowers, engagement: post.likeCount + post.retweetCount,
                               positive: r.probabilities.positive, negative: r.probabilities.negative, neutral: r.probabilities.neutral,
                               scorer: scorer.name, modelHash: scorer.modelHash)
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
                continue
            }
            try await context.catalog.record(.init(stage: Self.stage, unit: unit, inputHash: unitHash(scorer), outputKeys: outputs.joined(separator: "\n"),
                                             outputHash: ContentHasher.hash(bytes), rows: scores.count, completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
            outcome.done += 1
        }
        for notice in chain.notices.dropFirst(loadNotices) {  // fallbacks while scoring
            context.logger.warning("score: \(notice)")
            outcome.notes.append(notice)
        }
        if !issues.isEmpty {
            let parts = TextIssue.allCases.compactMap { issue in issues[issue].map { "\($0) \(issue.rawValue)" } }
            outcome.notes.append("texts scored with a note: \(parts.joined(separator: ", ")) (empty and whitespace-only texts count as neutral; truncated ones were cut to the model's length)")
        }
        if let transformer = chain.scorers.first as? TransformerScorer, transformer.statistics.texts > 0 {
            let s = transformer.statistics
            context.logger.info("score: \(transformer.name) scored \(s.texts) distinct texts in \(String(format: "%.1f", s.totalSeconds)) s (\(Int(Double(s.texts) / max(s.totalSeconds, 1e-9))) texts/s, \(s.batches) batches, padding \(String(format: "%.0f", 100 * Double(s.paddedTokens - s.tokens) / Double(max(s.paddedTokens, 1))))%); \(cache.hits) repeats from the cache")
        }
        return outcome
    }

    /// Scores texts, taking repeats from the cache; all results of one call come from one scorer.
    func score(_ texts: [String], chain: ScorerChain, cache: inout TextCache) -> ([ScoredText], any SentimentScorer) {
        let active = chain.active
        var results = [ScoredText?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        // Keyed by bytes: String equality is canonical equivalence, and a cased model can tell "é" from "e\u{301}".
        let keys = texts.map { Data($0.utf8) }
        var firstIndex: [Data: Int] = [:]
        for (i, key) in keys.enumerated() {
            if let hit = cache.lookup(key, scorer: active.name) { results[i] = hit; continue }
            if firstIndex[key] == nil { firstIndex[key] = i; missing.append(i) }
        }
        let (scored, scorer) = chain.score(missing.map { texts[$0] })
        if scorer.name != active.name {
            // The chain fell back mid-partition: score everything with the fallback, nothing mixed.
            cache.removeAll()
            let (all, fallback) = chain.score(texts)
            return (all, fallback)
        }
        for (i, r) in zip(missing, scored) {
            results[i] = r
            cache.insert(keys[i], r, scorer: scorer.name)
        }
        for (i, key) in keys.enumerated() where results[i] == nil { results[i] = results[firstIndex[key]!] }
        return (results.map { $0! }, scorer)
    }
}

/// Distinct texts already scored in this run, oldest forgotten first: constant memory.
struct TextCache {
    let capacity: Int
    private var entries: [Data: (scorer: String, result: ScoredText)] = [:]
    private var order: [Data] = []
    private var head = 0
    private(set) var hits = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func lookup(_ text: Data, scorer: String) -> ScoredText? {
        guard let entry = entries[text], entry.scorer == scorer else { return nil }
        hits += 1
        return entry.result
    }

    mutating func insert(_ text: Data, _ result: ScoredText, scorer: String) {
        guard capacity > 0, entries[text] == nil else { return }
        if entries.count >= capacity {
            entries[order[head]] = nil
            order[head] = text
            head = (head + 1) % capacity
        } else {
            order.append(text)
        }
        entries[text] = (scorer, result)
    }

    mutating func removeAll() { entries = [:]; order = []; head = 0 }
}
