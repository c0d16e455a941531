import ConvictionTesting
import Foundation
import Testing

/// `conviction batch work --local 4`: four array children over a manifest of 45 raw partitions,
/// scored by a local LLM server. One child is killed with SIGKILL in the middle of a partition and
/// retried, as AWS Batch retries a reclaimed spot instance: every partition is committed exactly
/// once, every post scored once, and the retried child resumes from the checkpoints it left.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: TestSupport.pythonHas("pyarrow"), "the checks read the store's Parquet with the project's pyarrow (make setup)"))
struct BatchWorkCommandTests {
    static let symbols = "AAPL,TSLA,MSFT,NVDA,AMZN,GOOGL,META,JPM,V"

    @Test func aChildKilledMidPartitionIsRetriedAndEveryPartitionIsCommittedOnce() async throws {
        let python = try #require(TestSupport.python)
        // Preparing runs child processes and waits for them: off the cooperative pool. A failed step
        // there shows below too, as too few partitions.
        let (data, environment, server, url) = try await TestSupport.offPool { try ScoreWorkerCommandTests.prepare("batch-local", symbols: Self.symbols) }
        defer { server.signal(SIGTERM) }
        let partitions = Set(try FileManager.default.subpathsOfDirectory(atPath: data + "/raw/posts")
            .filter { $0.hasSuffix(".jsonl.gz") }.map { "raw/posts/" + $0.split(separator: "/").prefix(2).joined(separator: "/") + "/" })
        #expect(partitions.count >= 40, "a manifest of at least 40 partitions: \(partitions.count)")

        let parent = try BackgroundCommand(["batch", "work", "--stage", "score", "--local", "4", "--data-dir", data], environment: environment, label: "batch-local")
        // Kill the child that holds a partition with a checkpoint written: it is in the middle of it.
        let killed: (pid: Int32, unit: String) = try await TestSupport.offPool {
            var victim: (Int32, String)?
            _ = parent.waitFor(timeout: 180) { _ in
                guard let hash = (FileManager.default.subpaths(atPath: data + "/_work/score") ?? [])
                    .first(where: { $0.hasSuffix(".jsonl.gz") })?.split(separator: "/").first.map(String.init),
                      let newest = (FileManager.default.subpaths(atPath: data + "/_leases/score/" + hash) ?? []).filter({ $0.hasSuffix(".json") }).max(),
                      let record = FileManager.default.contents(atPath: data + "/_leases/score/\(hash)/\(newest)"),
                      let lease = try? JSONSerialization.jsonObject(with: record) as? [String: Any],
                      let pid = (lease["pid"] as? Int).map(Int32.init), lease["released"] as? Bool == false,
                      pid != parent.pid, kill(pid, SIGKILL) == 0 else { return false }
                victim = (pid, lease["unit"] as? String ?? "")
                return true
            }
            guard let victim else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "no child held a checkpointed partition: \(parent.stderr.suffix(2000))"]) }
            return victim
        }
        let status = try await TestSupport.offPool { parent.waitForExit(timeout: 400) }
        let out = parent.stdout
        #expect(status == 0, "\(parent.stderr.suffix(3000))")

        // Which child was killed, from its lines, and that it ran again and resumed.
        let child = try #require(parent.stderr.split(separator: "\n").first { $0.contains("as worker") && $0.contains("-\(killed.pid)") }
            .flatMap { $0.dropFirst().prefix { $0 != "]" } }.flatMap { Int($0) }, "the killed pid \(killed.pid) names a child: \(parent.stderr.suffix(3000))")
        #expect(out.contains("child \(child) ran 2 times (attempt 1: killed by signal 9, attempt 2: exit 0)"), "\(out.suffix(2000))")
        #expect(out.contains("[\(child)] score: resumed "), "the retry resumed \(killed.unit) from its checkpoints: \(out.suffix(3000))")

        // Exactly once: one commit line per partition, across all children and attempts.
        let commits = out.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "] committed score ") else { return nil }
            return String(line[range.upperBound...])
        }
        let counts = Dictionary(grouping: commits, by: { $0 }).mapValues(\.count)
        #expect(Set(commits) == partitions, "every partition committed: \(partitions.subtracting(commits).sorted())")
        #expect(counts.values.allSatisfy { $0 == 1 }, "none twice: \(counts.filter { $0.value > 1 })")
        #expect(out.contains("batch: \(partitions.count) unit(s) committed by this run, \(partitions.count) of \(partitions.count) finished"), "\(out.suffix(1000))")

        // Every post scored once; only the killed child's work in flight was asked of the LLM again.
        // On the test's own task: the checks inside record their issues against this test.
        let result = try ScoreWorkerCommandTests.check(python: python, data: data, url: url)
        #expect((result["answered"] as? Int ?? .max) <= (result["posts"] as? Int ?? 0) + ScoreWorkerCommandTests.checkpointPosts, "\(result)")

        // A second run finds nothing left: the manifest planner skips what is committed.
        let again = try await TestSupport.convictionOffPool(["batch", "work", "--stage", "score", "--local", "4", "--data-dir", data], environment: environment)
        #expect(again.status == 0 && again.stdout.contains("nothing to do: every score unit is finished"), "\(again.stdout)\(again.stderr)")
    }
}
