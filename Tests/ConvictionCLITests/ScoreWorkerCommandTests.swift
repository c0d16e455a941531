import ConvictionTesting
import Foundation
import Testing

/// The acceptance check of the GPU path, with real processes: `conviction llm-emulator` stands in
/// for the GPU server and its instance metadata; one `conviction score` worker is killed with
/// SIGKILL mid-batch, the next is stopped by a spot interruption notice, a third finishes the
/// queue. Every post is scored exactly once, and only the killed worker's batch in flight is
/// asked of the LLM twice.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: TestSupport.pythonHas("pyarrow"), "the checks read the store's Parquet with the project's pyarrow (make setup)"))
struct ScoreWorkerCommandTests {
    static let checkpointPosts = 40

    @Test func killedAndInterruptedWorkersLoseAtMostTheirBatchInFlight() throws {
        let python = try #require(TestSupport.python)
        let (data, environment, server, url) = try Self.prepare("score-workers")
        defer { server.signal(SIGTERM) }
        let checkpoints = { (FileManager.default.subpaths(atPath: data + "/_work/score") ?? []).filter { $0.hasSuffix(".jsonl.gz") }.count }
        let worker = ["score", "--data-dir", data]

        // 1. Killed without warning once it has checkpointed a batch.
        let first = try BackgroundCommand(worker + ["--worker-id", "killed"], environment: environment, label: "w1")
        #expect(first.waitFor(timeout: 120) { _ in checkpoints() >= 2 }, "\(first.stderr)")
        first.signal(SIGKILL)
        #expect(first.waitForExit(timeout: 20) != nil)

        // 2. Stopped by a spot interruption notice: it finishes the batch in hand and exits 0.
        var spot = environment
        spot["CONVICTION_SCORING_SPOT_NOTICE_ENDPOINT"] = url
        spot["CONVICTION_SCORING_SPOT_POLL_SECONDS"] = "0.1"
        let second = try BackgroundCommand(worker + ["--worker-id", "interrupted"], environment: spot, label: "w2")
        let outputs = { (FileManager.default.subpaths(atPath: data + "/scores") ?? []).filter { $0.hasSuffix(".parquet") }.count }
        #expect(second.waitFor(timeout: 120) { _ in outputs() >= 1 }, "\(second.stderr)")
        let interrupt = try TestSupport.run(python, ["-c", "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/__emulator/interrupt', data=b'', method='POST'))", url])
        #expect(interrupt.status == 0, "\(interrupt.stderr)")
        #expect(second.waitForExit(timeout: 60) == 0, "\(second.stderr)")
        #expect(second.stderr.contains("spot interruption notice (terminate at "), "\(second.stderr)")
        #expect(second.stdout.contains("stopped early (spot interruption notice)"), "\(second.stdout)")
        #expect(second.stdout.contains("score: resumed "), "it took over the killed worker's partition: \(second.stdout)")

        // 3. Finishes the queue, resuming from the interrupted worker's checkpoints.
        let third = try TestSupport.conviction(worker + ["--worker-id", "finisher"], environment: environment)
        #expect(third.status == 0, "\(third.stderr)")

        let result = try Self.check(python: python, data: data, url: url)
        let posts = result["posts"] as? Int ?? -1
        // Only the killed worker's batch in flight was asked twice (reposts are asked once per worker).
        #expect((result["answered"] as? Int ?? .max) <= posts + Self.checkpointPosts, "\(result)")
    }

    /// SIGTERM stops a worker after the batch in hand: it exits 0 and says what it left.
    @Test func sigtermStopsAWorkerAfterTheBatchInHand() throws {
        let python = try #require(TestSupport.python)
        let (data, environment, server, url) = try Self.prepare("score-sigterm")
        defer { server.signal(SIGTERM) }
        let checkpoints = { (FileManager.default.subpaths(atPath: data + "/_work/score") ?? []).filter { $0.hasSuffix(".jsonl.gz") }.count }
        let worker = try BackgroundCommand(["score", "--data-dir", data, "--worker-id", "terminated"], environment: environment, label: "w-term")
        #expect(worker.waitFor(timeout: 120) { _ in checkpoints() >= 1 }, "\(worker.stderr)")
        worker.signal(SIGTERM)
        #expect(worker.waitForExit(timeout: 60) == 0, "\(worker.stderr)")
        #expect(worker.stderr.contains("score: shutdown requested (SIGTERM or SIGINT); finishing the batch in hand"), "\(worker.stderr)")
        #expect(worker.stdout.contains("stopped early (SIGTERM or SIGINT)"), "\(worker.stdout)")
        let finisher = try TestSupport.conviction(["score", "--data-dir", data], environment: environment)
        #expect(finisher.status == 0, "\(finisher.stderr)")
        _ = try Self.check(python: python, data: data, url: url)
    }

    /// Two workers started together share the queue: each partition is scored by one of them.
    @Test func twoWorkersShareTheQueue() throws {
        let python = try #require(TestSupport.python)
        let (data, environment, server, url) = try Self.prepare("score-pair")
        defer { server.signal(SIGTERM) }
        let workers = try ["a", "b"].map { try BackgroundCommand(["score", "--data-dir", data, "--worker-id", $0], environment: environment, label: "w-\($0)") }
        for worker in workers { #expect(worker.waitForExit(timeout: 180) == 0, "\(worker.stderr)") }
        let done = workers.map { w in Int(w.stdout.split(separator: " ").dropFirst().first ?? "") ?? -1 }
        #expect(done.allSatisfy { $0 > 0 }, "both workers scored partitions: \(workers.map(\.stdout))")
        let result = try Self.check(python: python, data: data, url: url)
        #expect((result["answered"] as? Int ?? .max) <= result["posts"] as? Int ?? 0, "no partition was scored twice: \(result)")
    }

    /// A store with simulated, ingested posts for two symbols, and a local LLM server; the worker
    /// settings as environment variables.
    static func prepare(_ label: String, symbols: String = "AAPL,TSLA") throws -> (String, [String: String], BackgroundCommand, String) {
        let data = TestSupport.temporaryDirectory(label).appendingPathComponent("data").path
        var environment = ["CONVICTION_SIMULATION_SESSIONS": "3", "CONVICTION_TRAINING_FOLDS": "2", "CONVICTION_UNIVERSE_SYMBOLS": symbols,
                           "CONVICTION_DATA_SOURCE": "simulator", "CONVICTION_SIMULATION_DELIVERY": "replay", "CONVICTION_SCORING_SCORER": "lexicon"]
        for stage in [["simulate"], ["ingest"]] {
            let result = try TestSupport.conviction(stage + ["--data-dir", data], environment: environment)
            #expect(result.status == 0, "\(stage): \(result.stderr)")
        }
        let server = try BackgroundCommand(["llm-emulator", "--port", "0", "--latency-ms", "40"], label: "llm")
        #expect(server.waitFor(timeout: 30) { $0.stdout.contains("serving") }, "\(server.stderr)")
        let url = try #require(server.stdout.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        environment["CONVICTION_LLM_ENDPOINT"] = url + "/v1"
        environment["CONVICTION_LLM_MODEL"] = "emulated-fingpt"
        environment["CONVICTION_LLM_API"] = "completions"
        environment["CONVICTION_LLM_BATCH_SIZE"] = "4"
        environment["CONVICTION_LLM_CONCURRENCY"] = "2"
        environment["CONVICTION_SCORING_CHECKPOINT_POSTS"] = String(checkpointPosts)
        return (data, environment, server, url)
    }

    /// Posts in raw/posts against rows in scores/, per partition, and what the LLM server answered.
    static func check(python: String, data: String, url: String) throws -> [String: Any] {
        let check = try TestSupport.run(python, ["-c", """
            import gzip, json, sys, glob, urllib.request, collections, pyarrow.parquet as pq
            raw = collections.defaultdict(set)
            for path in glob.glob(sys.argv[1] + "/raw/posts/**/*.jsonl.gz", recursive=True):
                part = path.split("/raw/posts/")[1].rsplit("/", 1)[0]
                for line in gzip.open(path):
                    raw[part].add(json.loads(line)["payload"]["data"]["id"])
            scored, scorers, rows = collections.defaultdict(set), collections.Counter(), 0
            for path in glob.glob(sys.argv[1] + "/scores/**/*.parquet", recursive=True):
                part = path.split("/scores/")[1].rsplit("/", 1)[0]
                table = pq.read_table(path).to_pydict()
                rows += len(table["post_id"])
                scored[part].update(table["post_id"])
                scorers.update(table["scorer"])
            state = json.load(urllib.request.urlopen(sys.argv[2] + "/__emulator/state"))
            print(json.dumps({"posts": sum(map(len, raw.values())), "rows": rows, "distinct": sum(map(len, scored.values())),
                              "same": {k: scored.get(k) == v for k, v in raw.items()}, "scorers": scorers,
                              "answered": state["answeredTexts"], "leftovers": len(glob.glob(sys.argv[1] + "/_work/**/*.gz", recursive=True))}))
            """, data, url])
        let result = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any] ?? [:]
        let posts = result["posts"] as? Int ?? -1
        #expect(posts > 200, "\(check.stdout)\(check.stderr)")
        #expect(result["rows"] as? Int == posts && result["distinct"] as? Int == posts, "every post scored exactly once: \(check.stdout)")
        #expect((result["same"] as? [String: Bool] ?? [:]).values.allSatisfy { $0 }, "\(check.stdout)")
        #expect(result["scorers"] as? [String: Int] == ["llm:emulated-fingpt": posts], "\(check.stdout)")
        #expect(result["leftovers"] as? Int == 0, "\(check.stdout)")
        return result
    }
}
