import ConvictionCore
import ConvictionStore
import ConvictionTesting
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `conviction ingest history` as a user runs it, against `conviction x-emulator --history` serving
/// posts of the last days to an account without full-archive access: the estimate first, the
/// `--yes` gate, and a run killed with SIGKILL and started again.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HistoryCommandTests {
    static let symbols = ["AAPL", "MSFT", "TSLA"]

    struct Setup {
        let server: BackgroundCommand
        let url: String
        let data: URL
        let environment: [String: String]
        let from: String, to: String
        /// Ids of the served posts about the symbols, created from `from` to `to`.
        let expected: Set<String>

        func state() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(string: url + "/__emulator/state")!)) as? [String: Any] ?? [:]
        }
        func requests(_ endpoint: String) throws -> Int { (try state()["requestsByEndpoint"] as? [String: Int])?[endpoint] ?? 0 }

        /// (id, symbol) pairs stored in raw/posts, with how often.
        func stored() throws -> [String: Int] {
            var counts: [String: Int] = [:]
            let root = data.appendingPathComponent("raw/posts")
            for case let path as String in FileManager.default.enumerator(atPath: root.path) ?? .init() where path.hasSuffix(".jsonl.gz") {
                let symbol = path.components(separatedBy: "symbol=")[1].prefix { $0 != "/" }
                for line in JSONLines.read(try Data(contentsOf: root.appendingPathComponent(path)), gzipped: true).lines {
                    let object = try JSONSerialization.jsonObject(with: line.bytes) as? [String: Any]
                    let id = ((object?["payload"] as? [String: Any])?["data"] as? [String: Any])?["id"] as? String ?? ""
                    counts["\(id) \(symbol)", default: 0] += 1
                }
            }
            return counts
        }
    }

    /// Posts every 10 minutes from three days ago, served as history (on X already) by an emulator
    /// whose account has no full-archive access; answers take `latency` seconds.
    func setUp(_ label: String, latency: Double = 0) throws -> Setup {
        let work = TestSupport.temporaryDirectory(label)
        let today = Timestamps.floorDiv(Timestamps.now(), Timestamps.day)
        let start = (today - 3) * Timestamps.day
        let feed = TestFeed.posts(count: 330, start: start + 60_000, spacing: .seconds(600))
        let feedFile = work.appendingPathComponent("history.jsonl")
        try Data(feed.map { $0 + Data([0x0A]) }.joined()).write(to: feedFile)
        var expected: Set<String> = []
        for (i, line) in feed.enumerated() {
            let symbol = Symbol.universe[i % Symbol.universe.count].rawValue
            guard Self.symbols.contains(symbol) else { continue }
            let object = try JSONSerialization.jsonObject(with: line) as? [String: Any]
            expected.insert("\((object?["data"] as? [String: Any])?["id"] as? String ?? "") \(symbol)")
        }
        let environment = ["TWITTER_BEARER_TOKEN": "history-test-token", "CONVICTION_UNIVERSE_SYMBOLS": Self.symbols.joined(separator: ","),
                           "CONVICTION_INGEST_HISTORY_PAGE_SIZE": "10", "CONVICTION_INGEST_HISTORY_MAX_POSTS": "50"]
        let server = try BackgroundCommand(["x-emulator", "--port", "0", "--history", "--no-full-archive", "--search-latency", String(latency), feedFile.path],
                                           environment: environment, label: "\(label)-emulator")
        #expect(server.waitFor(timeout: 30) { $0.stdout.contains("serving") || !$0.process.isRunning }, "\(server.stderr)")
        let url = try #require(server.stdout.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        func day(_ n: Int64) -> String { CivilDate(daysSinceEpoch: Int(n)).isoString }
        return Setup(server: server, url: url, data: work.appendingPathComponent("data"), environment: environment,
                     from: day(today - 3), to: day(today - 1), expected: expected)
    }

    @Test func historyCommandEstimatesFirstAndStopsAboveTheBudgetUnlessYes() throws {
        let s = try setUp("history-yes")
        defer { s.server.signal(SIGTERM) }
        let command = ["ingest", "history", "--from", s.from, "--to", s.to, "--api-base", s.url, "--data-dir", s.data.path]
        // --dry-run: the estimate only.
        let dry = try TestSupport.conviction(command + ["--dry-run"], environment: s.environment)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("recent search") && dry.stdout.contains("not available to this account"), "\(dry.stdout)")
        #expect(dry.stdout.contains("total: 90 posts in 9 symbol-day window(s)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("monthly post cap:") && dry.stdout.contains("estimated cost: $"), "\(dry.stdout)")
        #expect(try s.requests("search-recent") == 0)
        // Above ingest.history_max_posts (50): stops after the estimate, non-zero, nothing fetched.
        let gated = try TestSupport.conviction(command, environment: s.environment)
        #expect(gated.status == ErrorCode.configuration.exitStatus, "\(gated.stdout)\(gated.stderr)")
        #expect(gated.stderr.contains("--yes") && gated.stderr.contains("nothing was fetched"), "\(gated.stderr)")
        #expect(try s.requests("search-recent") == 0)
        #expect(try s.stored().isEmpty)
        // --yes: fetched, every post once.
        let run = try TestSupport.conviction(command + ["--yes"], environment: s.environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("90 posts stored from 90 fetched"), "\(run.stdout)")
        let stored = try s.stored()
        #expect(Set(stored.keys) == s.expected && stored.values.allSatisfy { $0 == 1 })
    }

    @Test func historyCommandKilledWithSigkillResumesWithoutLossOrDuplicates() throws {
        // 400 ms per answer: a run of ~20 pages takes seconds, long enough to be killed mid-window.
        let s = try setUp("history-kill9", latency: 0.4)
        defer { s.server.signal(SIGTERM) }
        let command = ["ingest", "history", "--from", s.from, "--to", s.to, "--api-base", s.url, "--data-dir", s.data.path, "--yes"]
        let first = try BackgroundCommand(command, environment: s.environment, label: "history-kill9-first")
        let staging = s.data.appendingPathComponent("_staging/history")
        // Killed once a window has a page staged and the next not yet: its cursor exists.
        #expect(first.waitFor(timeout: 60) { _ in
            (FileManager.default.enumerator(atPath: staging.path)?.allObjects as? [String] ?? []).contains { $0.hasSuffix("cursor.json") }
        })
        first.signal(SIGKILL)
        #expect(first.waitForExit(timeout: 20) != nil)
        let fetchedBefore = try s.requests("search-recent")
        #expect(fetchedBefore > 0)
        let second = try TestSupport.conviction(command, environment: s.environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("resumed"), "\(second.stdout)")
        let stored = try s.stored()
        #expect(Set(stored.keys) == s.expected, "missing \(s.expected.subtracting(stored.keys).count)")
        #expect(stored.values.allSatisfy { $0 == 1 }, "\(stored.filter { $0.value > 1 })")
        // Nothing fetched twice but the page in flight at the kill: at most a window's pages again.
        #expect(try s.requests("search-recent") <= 27 + 3)
    }
}
