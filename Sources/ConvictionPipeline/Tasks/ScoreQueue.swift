import ConvictionCore
import ConvictionScoring
import ConvictionStore
import Foundation
import Synchronization

/// Scored batches of a partition in progress, `_work/score/<unit hash>/<input hash>/batch-NNNNNN.jsonl.gz`:
/// one line per post (id, probabilities, scorer). The input hash is in the path, so checkpoints of
/// other inputs or scorers are never mixed in; they are removed once the partition is finished.
struct ScoreCheckpoints {
    struct Row: Codable {
        var id: String
        var negative: Double
        var neutral: Double
        var positive: Double
        var scorer: String
        var modelHash: String
        var issue: String?
        var fallback: String?
    }

    let store: any ObjectStore
    let folder: String

    init(store: any ObjectStore, unit: String, unitHash: String) {
        self.store = store
        folder = "_work/score/\(ContentHasher.hash(Data(unit.utf8)).prefix(32))/\(unitHash.prefix(32))/"
    }

    func key(_ index: Int) -> String { folder + String(format: "batch-%06d.jsonl.gz", index) }

    func list() async throws -> [String] { try await store.list(prefix: folder) }

    func write(_ index: Int, ids: [String], results: [ScoringEngine.Result]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let lines = try zip(ids, results).map { id, r in
            try encoder.encode(Row(id: id, negative: r.scored.probabilities.negative, neutral: r.scored.probabilities.neutral,
                                   positive: r.scored.probabilities.positive, scorer: r.scorer, modelHash: r.modelHash,
                                   issue: r.scored.issue?.rawValue, fallback: r.fallbackReason?.rawValue))
        }
        try await store.put(key(index), data: try JSONLines.encode(lines))
    }

    /// The batch's results, or nil when the checkpoint does not hold exactly these posts in this order.
    func read(_ index: Int, ids: [String]) async throws -> [ScoringEngine.Result]? {
        let file = JSONLines.read(try await store.get(key(index)), gzipped: true)
        guard file.damage == nil else { return nil }
        let decoder = JSONDecoder()
        let rows = try file.lines.map { try decoder.decode(Row.self, from: $0.bytes) }
        guard rows.map(\.id) == ids else { return nil }
        return rows.map { row in
            ScoringEngine.Result(scored: ScoredText(probabilities: SentimentProbabilities(negative: row.negative, neutral: row.neutral, positive: row.positive),
                                                    issue: row.issue.flatMap(TextIssue.init(rawValue:))),
                                 scorer: row.scorer, modelHash: row.modelHash,
                                 fallbackReason: row.fallback.flatMap(LLMSentimentScorer.Failure.init(rawValue:)))
        }
    }

    func removeAll() async throws {
        for key in try await list() { try await store.delete(key) }
    }
}

/// Keeps a lease alive while a partition is worked on: renews it every third of its TTL. When a
/// renewal finds the lease taken (this worker stalled past its TTL), `lost` turns true and the
/// worker drops the partition.
final class LeaseKeeper: Sendable {
    let board: LeaseBoard
    private let state: Mutex<(lease: LeaseBoard.Lease, lost: Bool)>
    private let renewing = Mutex<Task<Void, Never>?>(nil)

    init(board: LeaseBoard, lease: LeaseBoard.Lease) {
        self.board = board
        state = Mutex((lease, false))
        let interval = board.ttl / 3
        renewing.withLock {
            $0 = Task { [weak self] in
                while !Task.isCancelled {
                    do { try await Task.sleep(for: interval) } catch { return }
                    guard let self else { return }
                    let current = self.state.withLock { $0.lease }
                    do {
                        // Not cancelled with the loop: a renewal cut off mid-request may still land.
                        let renewed = try await Task { try await board.renew(current) }.value
                        self.state.withLock { $0.lease = renewed }
                    } catch is LeaseBoard.LeaseLost {
                        self.state.withLock { $0.lost = true }
                        return
                    } catch {
                        continue  // a store hiccup: try again at the next tick, well before expiry
                    }
                }
            }
        }
    }

    /// True when another worker took the lease, or it expired because renewals kept failing.
    var lost: Bool { state.withLock { $0.lost || Timestamps.now() >= $0.lease.expiresAt } }

    /// Stops renewing (waiting for a renewal in flight) and gives the lease back if it is still ours.
    func release() async throws {
        let task = renewing.withLock { $0 }
        task?.cancel()
        await task?.value
        try await board.release(state.withLock { $0.lease })
    }

    deinit { renewing.withLock { $0 }?.cancel() }
}
