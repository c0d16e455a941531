import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// The stream ingester as a user runs it: `conviction x-emulator` serving simulated posts,
/// `conviction ingest rules --sync`, and `conviction ingest stream` killed with SIGKILL mid-stream,
/// stopped with SIGTERM, and restarted. Nothing the server emitted is lost or stored twice.
@Suite(.serialized, .timeLimit(.minutes(5))) struct StreamCommandTests {
    @Test(.enabled(if: TestSupport.python != nil, "the id comparison reads the store with the project's Python (make setup)"))
    func killDashNineThenRestartLosesNothingAndDuplicatesNothing() throws {
        let python = try #require(TestSupport.python)
        let work = TestSupport.temporaryDirectory("kill9")
        let source = work.appendingPathComponent("source").path, data = work.appendingPathComponent("data").path
        let environment = ["TWITTER_BEARER_TOKEN": "kill9-test-token", "CONVICTION_SIMULATION_SESSIONS": "3", "CONVICTION_TRAINING_FOLDS": "2",
                           "CONVICTION_UNIVERSE_SYMBOLS": "AAPL,TSLA,V", "CONVICTION_INGEST_FSYNC_INTERVAL_MS": "200",
                           "CONVICTION_INGEST_COMMIT_INTERVAL_SECONDS": "1"]
        let simulate = try TestSupport.conviction(["simulate", "--data-dir", source], environment: environment)
        #expect(simulate.status == 0, "\(simulate.stderr)")

        let server = try BackgroundCommand(["x-emulator", "--data-dir", source, "--port", "0", "--rate", "400", "--keep-alive", "0.5"],
                                           environment: environment, label: "emulator")
        #expect(server.waitFor(timeout: 30) { $0.stdout.contains("serving") || $0.process.isRunning == false }, "\(server.stderr)")
        let url = try #require(server.stdout.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        let rules = try TestSupport.conviction(["ingest", "rules", "--sync", "--api-base", url, "--data-dir", data], environment: environment)
        #expect(rules.status == 0 && rules.stdout.contains("did add 3"), "\(rules.stdout)\(rules.stderr)")

        let stream = ["ingest", "stream", "--api-base", url, "--data-dir", data]
        // 1. Killed without warning once posts are flowing and some are committed.
        let first = try BackgroundCommand(stream, environment: environment, label: "stream1")
        #expect(first.waitFor { $0.stderr.contains("event=committed") }, "\(first.stderr)")
        Thread.sleep(forTimeInterval: 0.3)
        first.signal(SIGKILL)
        #expect(first.waitForExit(timeout: 20) != nil)
        // 2. Restarted, then stopped politely: it commits what it has and exits 0.
        let second = try BackgroundCommand(stream, environment: environment, label: "stream2")
        #expect(second.waitFor { $0.stderr.contains("event=recovered") || $0.stderr.contains("event=connected") }, "\(second.stderr)")
        #expect(second.waitFor { $0.stderr.contains("event=committed") })
        second.signal(SIGTERM)
        #expect(second.waitForExit(timeout: 30) == 0, "\(second.stderr)")
        #expect(second.stderr.contains("shutdown requested"))
        // 3. Restarted until the server has published everything and the client is caught up.
        let third = try BackgroundCommand(stream + ["--stop-when-idle", "3"], environment: environment, label: "stream3")
        #expect(third.waitForExit(timeout: 120) == 0, "\(third.stderr)")
        #expect(third.stderr.contains("event=\"backfill done\""), "the restart fills the gap with recent search")

        // Every post the server emitted is in raw/posts exactly once (per symbol it is about).
        let check = try TestSupport.run(python, ["-c", """
            import gzip, json, sys, glob, urllib.request, collections
            emitted = set(json.load(urllib.request.urlopen(sys.argv[1] + "/__emulator/emitted-ids"))["ids"])
            state = json.load(urllib.request.urlopen(sys.argv[1] + "/__emulator/state"))
            stored, quarantined, qids = collections.Counter(), collections.Counter(), set()
            for path in glob.glob(sys.argv[2] + "/raw/posts/**/*.jsonl.gz", recursive=True):
                symbol = path.split("symbol=")[1].split("/")[0]
                for line in gzip.open(path):
                    stored[(json.loads(line)["payload"]["data"]["id"], symbol)] += 1
            for path in glob.glob(sys.argv[2] + "/raw/quarantine/ingest/*.jsonl.gz"):
                for line in gzip.open(path):
                    r = json.loads(line)
                    quarantined[r["reason"]] += 1
                    try: qids.add(json.loads(r["raw"])["data"]["id"])
                    except Exception: pass
            ids = {i for i, _ in stored}
            missing = emitted - ids - qids
            print(json.dumps({"published": state["published"], "total": state["total"], "emitted": len(emitted),
                              "stored": len(ids), "twice": sum(1 for c in stored.values() if c > 1),
                              "missing": len(missing), "missing_sample": sorted(missing)[:5], "quarantined": quarantined}))
            """, url, data])
        server.signal(SIGTERM)
        _ = server.waitForExit(timeout: 10)
        let result = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(result["published"] as? Int == result["total"] as? Int, "\(check.stdout)\(check.stderr)")
        #expect(result["twice"] as? Int == 0, "\(check.stdout)")
        #expect((result["emitted"] as? Int ?? 0) > 500, "\(check.stdout)")
        // Emitted posts the filters reject are quarantined, not stored: every other one is stored.
        let quarantined = (result["quarantined"] as? [String: Int] ?? [:]).values.reduce(0, +)
        #expect((result["stored"] as? Int ?? 0) + quarantined >= result["emitted"] as? Int ?? 0, "\(check.stdout)")
        #expect(result["missing"] as? Int == 0, "every emitted post is stored or quarantined: \(check.stdout)")
    }

    /// SIGTERM while a backfill waits out a 15-minute search window: the stream was journaling all
    /// along, and the process exits 0 within 10 s with every post the server streamed stored.
    @Test(.enabled(if: TestSupport.python != nil, "the id comparison reads the store with the project's Python (make setup)"))
    func sigtermDuringABackfillWaitExitsPromptlyWithEveryStreamedPost() throws {
        let python = try #require(TestSupport.python)
        let work = TestSupport.temporaryDirectory("sigterm-backfill")
        let feed = work.appendingPathComponent("feed.jsonl")
        // Created a minute ago on: the gap is recent search's to fill (an older one would go to full-archive search).
        try (TestFeed.posts(count: 20_000, start: Timestamps.now() - 60_000).map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n") + "\n")
            .write(to: feed, atomically: true, encoding: .utf8)
        let data = work.appendingPathComponent("data").path
        let environment = ["TWITTER_BEARER_TOKEN": "sigterm-test-token", "CONVICTION_INGEST_COMMIT_INTERVAL_SECONDS": "1"]
        // One search request per 15 minutes: the first backfill page empties the window. One drop after
        // 30 posts opens the gap that needs the backfill.
        let server = try BackgroundCommand(["x-emulator", "--port", "0", "--rate", "200", "--keep-alive", "0.5", "--search-limit", "1",
                                            "--faults", "drop_mid_line", "--fault-count", "1", "--fault-every", "30", feed.path],
                                           environment: environment, label: "emulator")
        defer { server.signal(SIGTERM); _ = server.waitForExit(timeout: 10) }
        #expect(server.waitFor(timeout: 60) { $0.stdout.contains("serving") || $0.process.isRunning == false }, "\(server.stderr)")
        let url = try #require(server.stdout.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        let rules = try TestSupport.conviction(["ingest", "rules", "--sync", "--api-base", url, "--data-dir", data], environment: environment)
        #expect(rules.status == 0, "\(rules.stdout)\(rules.stderr)")
        func state(_ path: String) throws -> String {
            try TestSupport.run(python, ["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())", url + path]).stdout
        }
        func streamedPosts() throws -> Int {
            let object = try JSONSerialization.jsonObject(with: Data(try state("/__emulator/state").utf8)) as? [String: Any]
            return object?["streamedPosts"] as? Int ?? 0
        }

        let stream = try BackgroundCommand(["ingest", "stream", "--api-base", url, "--data-dir", data], environment: environment, label: "stream")
        #expect(stream.waitFor(timeout: 60) { $0.stderr.contains("backfill waits for rate-limit reset") || !$0.process.isRunning }, "\(stream.stderr)")
        let waitLine = stream.stderr.split(separator: "\n").first { $0.contains("backfill waits for rate-limit reset") } ?? ""
        let waited = waitLine.split(separator: " ").first { $0.hasPrefix("wait_s=") }.flatMap { Double($0.dropFirst(7)) } ?? 0
        #expect(waited > 600, "the wait is most of a 15-minute window: \(waitLine)")
        // The stream goes on while the backfill waits.
        let atWait = try streamedPosts()
        let deadline = Date().addingTimeInterval(30)
        while try streamedPosts() < atWait + 300 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try streamedPosts() >= atWait + 300)
        // A quiet market, so nothing is in flight at the signal; then SIGTERM mid-wait.
        _ = try state("/__emulator/pause")
        Thread.sleep(forTimeInterval: 1)
        let signalled = Date()
        stream.signal(SIGTERM)
        let status = stream.waitForExit(timeout: 10)
        #expect(status == 0, "exit \(String(describing: status)) within 10 s: \(stream.stderr)")
        #expect(Date().timeIntervalSince(signalled) < 10)
        #expect(stream.stderr.contains("shutdown requested"))

        // Every post the server wrote whole on the stream is in raw/posts.
        let check = try TestSupport.run(python, ["-c", """
            import gzip, json, sys, glob, urllib.request
            streamed = set(json.load(urllib.request.urlopen(sys.argv[1] + "/__emulator/streamed-ids"))["ids"])
            stored = set()
            for path in glob.glob(sys.argv[2] + "/raw/posts/**/*.jsonl.gz", recursive=True):
                for line in gzip.open(path):
                    stored.add(json.loads(line)["payload"]["data"]["id"])
            print(json.dumps({"streamed": len(streamed), "stored": len(stored), "missing": len(streamed - stored)}))
            """, url, data])
        let result = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any] ?? [:]
        #expect((result["streamed"] as? Int ?? 0) > 300, "\(check.stdout)\(check.stderr)")
        #expect(result["missing"] as? Int == 0, "\(check.stdout)")
    }
}
