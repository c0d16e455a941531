import ConvictionCore
import ConvictionIngest
import ConvictionScoring
import ConvictionStore
import Foundation
import Logging

/// Scores every raw post partition with the configured scorer and writes
/// `scores/dt=/symbol=/part-0.parquet`. Posts are de-duplicated by id within a partition.
public struct ScoreTask: Sendable {
    public static let stage = "score"
    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: Self.stage)
        let partitions = try await context.store.partitions(of: .rawPosts, symbols: context.symbolSet)
            .filter { $0.key.symbol != nil && $0.key.date != nil }.sorted { $0.key < $1.key }
        if context.dryRun {
            outcome.planned = ["score \(partitions.count) raw partition(s) with \(LexiconScorer.name)"]
            return outcome
        }
        let scorer = LexiconScorer()
        let normalizer = PostNormalizer(symbols: context.configuration.symbols)
        var meter = ProgressMeter(stage: "score", total: partitions.count, logger: context.logger)
        for (n, (partition, keys)) in partitions.enumerated() {
            defer { meter.step(n + 1, rows: outcome.rows) }
            var files: [(String, Data)] = []
            var hasher = ContentHasher()
            hasher.update(LexiconScorer.name)
            for key in keys.sorted() {
                let data = try await context.store.get(key)
                files.append((key, data)); hasher.update(key); hasher.update(data)
            }
            let inputHash = hasher.finalize()
            let unit = partition.prefix
            if let done = try await context.catalog.finished(stage: Self.stage, unit: unit, inputHash: inputHash, store: context.store) {
                outcome.skipped += 1; outcome.rows += done.rows
                continue
            }
            var scores: [SentimentScore] = []
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
                        let p = scorer.score(post.text)
                        scores.append(SentimentScore(postID: post.id, symbol: partition.symbol!, createdAt: post.createdAt,
                                                     receivedAt: post.receivedAt, authorFollowers: post.authorFollowers,
                                                     engagement: post.likeCount + post.retweetCount,
                                                     positive: p.positive, negative: p.negative, neutral: p.neutral, scorer: LexiconScorer.name))
                    } catch {
                        quarantine.append(QuarantineRecord(stage: Self.stage, source: key, line: line.number, reason: error.reason,
                                                           detail: error.detail, raw: line.text).encoded())
                    }
                }
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
            try await context.catalog.record(.init(stage: Self.stage, unit: unit, inputHash: inputHash, outputKeys: outputs.joined(separator: "\n"),
                                             outputHash: ContentHasher.hash(bytes), rows: scores.count, completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
            outcome.done += 1
        }
        return outcome
    }
}
