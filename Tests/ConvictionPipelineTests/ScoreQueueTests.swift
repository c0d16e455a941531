import ConvictionCore
import ConvictionIngest
import ConvictionLLMEmulator
@testable import ConvictionPipeline
import ConvictionScoring
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

/// The score stage as a shared queue with an LLM in front: per-post scorer records, the fallback,
/// checkpoints a stopped worker leaves and the next one resumes from, and leases held elsewhere.
@Suite(.timeLimit(.minutes(10))) struct ScoreQueueTests {
    let tiny: @Sendable (inout ConvictionConfiguration) -> Void = {
        $0.symbols = [Symbol("AAPL")]
        $0.simulation.sessions = 6
        $0.scoring.scorer = .lexicon
    }

    func prepared(_ label: String) async throws -> URL {
        let dir = TestSupport.temporaryDirectory(label)
        _ = try await SimulateTask(context: try await makeContext(dir, tiny)).run()
        let ingest = try await IngestTask(context: try await makeContext(dir, tiny), files: []).run()
        #expect(ingest.failures.isEmpty && ingest.rows > 0, "\(ingest.failures)")
        return dir
    }

    func rows(_ dir: URL) throws -> [SentimentScore] {
        let root = dir.appendingPathComponent("scores")
        var rows: [SentimentScore] = []
        for case let path as String in FileManager.default.enumerator(atPath: root.path)! where path.hasSuffix(".parquet") {
            rows += try MarketTables.decodeScores(try Data(contentsOf: root.appendingPathComponent(path)), source: path)
        }
        return rows
    }

    func llm(_ url: String) -> @Sendable (inout ConvictionConfiguration) -> Void {
        { c in
            c.llm.endpoint = url + "/v1"; c.llm.model = "emulated-fingpt"; c.llm.api = .completions; c.llm.batchSize = 8
        }
    }

    @Test func theLLMScoresEachPostAndTheCPUScorerTakesWhatItCannot() async throws {
        let emulator = LLMEmulator()
        let url = try await emulator.start()
        let dir = try await prepared("llm")
        let outcome = try await ScoreTask(context: try await makeContext(dir) { tiny(&$0); llm(url)(&$0) }).run()
        #expect(outcome.failures.isEmpty && outcome.done > 0)
        let scored = try rows(dir)
        #expect(scored.count == outcome.rows && Set(scored.map(\.postID)).count == scored.count)
        #expect(scored.allSatisfy { $0.scorer == "llm:emulated-fingpt" && $0.modelHash.count == 16 })
        #expect(outcome.notes.contains { $0.hasPrefix("llm:emulated-fingpt: ") && $0.contains("log-probabilities") }, "\(outcome.notes)")
        #expect(emulator.state.answeredTexts <= scored.count, "repeated texts are asked once")

        // The server goes away: every post falls back to the CPU scorer, and the output says so.
        await emulator.stop()
        let down = try await prepared("llm-down")
        let fallback = try await ScoreTask(context: try await makeContext(down) { tiny(&$0); llm(url)(&$0); $0.llm.retries = 0 }).run()
        #expect(fallback.failures.isEmpty && fallback.done > 0)
        #expect(try rows(down).allSatisfy { $0.scorer == "lexicon-v1" })
        #expect(fallback.notes.contains { $0.contains("posts scored by lexicon-v1 instead: server-unavailable") }, "\(fallback.notes)")
    }

    @Test func aStoppedWorkerLeavesCheckpointsAndTheNextResumesWithoutRescoring() async throws {
        var behaviour = LLMEmulator.Behaviour()
        behaviour.latencyMillis = 15
        let emulator = LLMEmulator(behaviour: behaviour)
        let url = try await emulator.start()
        defer { Task { await emulator.stop() } }
        let dir = try await prepared("resume")
        let configure: @Sendable (inout ConvictionConfiguration) -> Void = { c in
            tiny(&c); llm(url)(&c); c.llm.concurrency = 2; c.scoring.checkpointPosts = 64
        }
        let stop = StopSignal()
        let context = try await makeContext(dir, configure)
        let first = Task { try await ScoreTask(context: context, worker: "w1", stop: stop).run() }
        let work = dir.appendingPathComponent("_work/score")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (FileManager.default.subpaths(atPath: work.path) ?? []).filter({ $0.hasSuffix(".jsonl.gz") }).isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        stop.request("test stop")
        let stopped = try await first.value
        #expect(stopped.interrupted == "test stop" && stopped.left > 0, "\(stopped.summary)")
        let askedFirst = emulator.state.answered.count

        let second = try await ScoreTask(context: try await makeContext(dir, configure), worker: "w2").run()
        #expect(second.interrupted == nil && second.failures.isEmpty && second.done == stopped.left)
        #expect(second.notes.contains { $0.hasPrefix("resumed ") }, "\(second.notes)")
        let scored = try rows(dir)
        #expect(Set(scored.map(\.postID)).count == scored.count, "every post once")
        #expect(scored.count == stopped.rows + second.rows)
        #expect(scored.allSatisfy { $0.scorer == "llm:emulated-fingpt" })
        // Nothing the first worker checkpointed was asked again: the second asked only for the rest.
        let resumed = second.notes.first { $0.hasPrefix("resumed ") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        #expect(resumed > 0)
        #expect(emulator.state.answered.count - askedFirst <= scored.count - stopped.rows - resumed)
        #expect((FileManager.default.subpaths(atPath: work.path) ?? []).filter { $0.hasSuffix(".jsonl.gz") }.isEmpty, "checkpoints are removed when done")
        // Every lease was given back.
        let store = try LocalObjectStore(root: dir)
        let board = LeaseBoard(store: store, queue: "score", worker: "check", ttl: .seconds(60))
        for partition in try await store.partitions(of: .rawPosts).keys {
            #expect(try await board.newest(partition.prefix)?.released == true)
        }
    }

    @Test func aPartitionLeasedByALiveWorkerElsewhereWaitsForItsLeaseToLapse() async throws {
        let dir = try await prepared("leased")
        let store = try LocalObjectStore(root: dir)
        let first = try #require(try await store.partitions(of: .rawPosts).keys.sorted().first)
        let remote = LeaseBoard(store: store, queue: "score", worker: "remote-worker", ttl: .seconds(2), host: "elsewhere", pid: 1)
        guard case .acquired = try await remote.acquire(first.prefix) else { Issue.record("free partition"); return }
        let started = Date()
        let outcome = try await ScoreTask(context: try await makeContext(dir) { tiny(&$0); $0.scoring.lease = .seconds(3) }).run()
        #expect(outcome.failures.isEmpty && outcome.interrupted == nil)
        #expect(Date().timeIntervalSince(started) >= 1.0, "it waited for the remote lease")
        #expect(try rows(dir).count == outcome.rows && outcome.rows > 0)
    }
}
