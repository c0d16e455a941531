import ConvictionTesting
import Foundation
import Testing

/// The stream ingester as a user runs it: `conviction x-emulator` serving simulated posts,
/// `conviction ingest rules --sync`, and `conviction ingest stream` killed with SIGKILL mid-stream,
/// stopped with SIGTERM, and restarted. Nothing the server emitted is lost or stored twice.
@Suite(.serialized) struct StreamCommandTests {
    @Test func killDashNineThenRestartLosesNothingAndDuplicatesNothing() throws {
        guard let python = TestSupport.python else { return }  // the id comparison reads gzip with Python
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
        #expect(second.stderr.contains("SIGTERM received"))
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
}
