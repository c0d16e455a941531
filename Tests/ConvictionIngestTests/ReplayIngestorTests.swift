import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXPayload
import Foundation
import Testing

/// A valid stream line for tests.
func streamLine(id: String, text: String = "$AAPL breaking out", symbol: String = "AAPL", createdAt: String = "2026-01-05T15:00:00.000Z",
                tags: [String]? = nil) -> String {
    let tags = tags ?? [symbol]
    let rules = tags.map { "{\"id\":\"1\",\"tag\":\"\($0)\"}" }.joined(separator: ",")
    return """
    {"data":{"id":"\(id)","text":"\(text)","created_at":"\(createdAt)","author_id":"99","lang":"en","entities":{"cashtags":[{"start":0,"end":\(symbol.count + 1),"tag":"\(symbol)"}]}},"includes":{"users":[{"id":"99","username":"u","public_metrics":{"followers_count":120,"following_count":1,"tweet_count":5}}]},"matching_rules":[\(rules)]}
    """
}

@Suite(.timeLimit(.minutes(10))) struct PostNormalizerTests {
    let normalizer = PostNormalizer(symbols: Symbol.universe)

    @Test func readsStreamMessages() throws {
        let (post, symbols) = try normalizer.normalize(Data(streamLine(id: "123", tags: ["AAPL", "MSFT"]).utf8), receivedAt: nil)
        #expect(post.id == "123" && post.authorFollowers == 120)
        #expect(post.createdAt == Timestamps.parseISO8601("2026-01-05T15:00:00.000Z"))
        #expect(post.receivedAt == post.createdAt)
        #expect(symbols == [Symbol("AAPL"), Symbol("MSFT")])
    }

    @Test func readsBarePostObjects() throws {
        let line = #"{"id":"5","text":"$TSLA puts","created_at":"2026-01-05T15:00:00Z","author_id":"1","entities":{"cashtags":[{"start":0,"end":5,"tag":"tsla"}]}}"#
        let (_, symbols) = try normalizer.normalize(Data(line.utf8), receivedAt: 7)
        #expect(symbols == [Symbol("TSLA")])
    }

    @Test(arguments: [
        ("{not json", "malformed", "not valid JSON"),
        (#"{"data":{"id":"1","created_at":"2026-01-05T15:00:00Z","author_id":"1"}}"#, "malformed", "data.text: missing"),
        (#"{"data":{"id":"x1","text":"t","created_at":"2026-01-05T15:00:00Z","author_id":"1"}}"#, "bad_value", "data.id"),
        (#"{"data":{"id":"1","text":"t","created_at":"yesterday","author_id":"1"}}"#, "bad_value", "data.created_at"),
        (#"{"data":{"id":"1","text":"$ZZZZ","created_at":"2026-01-05T15:00:00Z","author_id":"1"}}"#, "no_symbol", "no configured symbol"),
    ])
    func rejectsBadLinesNamingTheField(_ input: (String, String, String)) {
        do {
            _ = try normalizer.normalize(Data(input.0.utf8), receivedAt: nil)
            Issue.record("accepted \(input.0)")
        } catch {
            #expect(error.reason == input.1)
            #expect(error.detail.contains(input.2), "\(error.detail)")
        }
    }

    @Test func rawLineKeepsThePayloadVerbatim() throws {
        let payload = Data(streamLine(id: "42").utf8)
        let line = RawPostLine.encode(payload: payload, receivedAt: 1_767_625_200_123)
        let decoded = try #require(RawPostLine.decode(line))
        #expect(decoded.payload == payload)
        #expect(decoded.receivedAt == 1_767_625_200_123)
        #expect(try JSONSerialization.jsonObject(with: line) is [String: Any])
    }
}

@Suite(.timeLimit(.minutes(10))) struct ReplayIngestorTests {
    func setUp() throws -> (LocalObjectStore, ReplayIngestor) {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("ingest"))
        return (store, ReplayIngestor(store: store, symbols: Symbol.universe))
    }

    @Test func malformedLineIsQuarantinedAndTheRestStored() async throws {
        let (store, ingestor) = try setUp()
        let lines = [streamLine(id: "1"), "{\"data\": {\"id\": \"2\", \"text\": ", streamLine(id: "3", createdAt: "2026-01-06T15:00:00.000Z"),
                     streamLine(id: "1")]
        let data = try JSONLines.encode(lines.map { Data($0.utf8) })
        let outcome = try await ingestor.replay(.bytes("archive.jsonl.gz", data))
        #expect(outcome.accepted == 2)
        #expect(outcome.rejected == ["malformed": 1, "duplicate_id": 1])
        #expect(outcome.failure == nil)
        let raw = try await store.list(prefix: "raw/posts/")
        #expect(raw.count == 2)
        #expect(raw.allSatisfy { $0.contains("symbol=AAPL") })
        let quarantine = try await store.list(prefix: "raw/quarantine/ingest/")
        #expect(quarantine.count == 1)
        let records = JSONLines.read(try await store.get(quarantine[0]), gzipped: true).lines
            .map { try! JSONDecoder().decode(QuarantineRecord.self, from: $0.bytes) }
        #expect(records.map(\.line) == [2, 4])
        #expect(records[0].raw == lines[1], "the original text is kept")
        #expect(records[0].source == "archive.jsonl.gz")
    }

    @Test func truncatedSourceKeepsGoodLinesAndIsRetried() async throws {
        let (store, ingestor) = try setUp()
        let lines = (1...3000).map { Data(streamLine(id: String($0), text: "$AAPL breaking out number \($0)").utf8) }
        let full = try JSONLines.encode(lines)
        let truncated = Data(full.prefix(full.count / 2))
        let outcome = try await ingestor.replay(.bytes("cut.jsonl.gz", truncated))
        let failure = try #require(outcome.failure)
        #expect(failure.contains("cut.jsonl.gz"))
        #expect(outcome.accepted > 100 && outcome.accepted < 3000)
        let stored = JSONLines.read(try await store.get(try await store.list(prefix: "raw/posts/")[0]), gzipped: true).lines.count
        #expect(stored == outcome.accepted)
        // Once the whole file is there, the same source completes and supersedes the partial output.
        let complete = try await ingestor.replay(.bytes("cut.jsonl.gz", full))
        #expect(complete.failure == nil && complete.accepted == 3000)
        var total = 0
        for key in try await store.list(prefix: "raw/posts/") { total += JSONLines.read(try await store.get(key), gzipped: true).lines.count }
        #expect(total == 3000, "no duplicates left from the partial replay")
    }
}

/// Hands out bytes in pieces of a fixed size, as a slow reader would.
final class PieceReader: ObjectReader {
    var data: Data
    let piece: Int
    let size: Int?
    init(_ data: Data, piece: Int) { self.data = data; self.piece = piece; size = data.count }
    func read() async throws -> Data? {
        guard !data.isEmpty else { return nil }
        defer { data = Data(data.dropFirst(piece)) }
        return Data(data.prefix(piece))
    }
}

@Suite(.timeLimit(.minutes(10))) struct StreamingReplayTests {
    /// 4,000 lines over 3 days and 4 symbols, with malformed lines and duplicates among them.
    static func archive() throws -> Data {
        let symbols = ["AAPL", "TSLA", "NVDA", "JPM"]
        let lines = (0..<4000).map { i -> Data in
            if i % 97 == 0 { return Data("{\"data\": {\"id\": \"\(i)\", \"text\": ".utf8) }
            let id = i % 101 == 0 ? i - 1 : i
            let day = 5 + i % 3
            return Data(streamLine(id: String(id), text: "$\(symbols[i % 4]) breaking out number \(i)", symbol: symbols[i % 4],
                                   createdAt: String(format: "2026-01-%02dT15:%02d:00.000Z", day, i % 60)).utf8)
        }
        return try JSONLines.encode(lines)
    }

    static func contents(_ store: LocalObjectStore) async throws -> [String: Data] {
        var out: [String: Data] = [:]
        for key in try await store.list(prefix: "raw/") { out[key] = try Gzip.decompress(try await store.get(key)) }
        return out
    }

    @Test func smallPiecesAndSmallBlocksGiveTheSameLinesInTheSameOrder() async throws {
        let archive = try Self.archive()
        let whole = try LocalObjectStore(root: TestSupport.temporaryDirectory("replay-whole"))
        let a = try await ReplayIngestor(store: whole, symbols: Symbol.universe).replay(.bytes("a.jsonl.gz", archive))
        let pieces = try LocalObjectStore(root: TestSupport.temporaryDirectory("replay-pieces"))
        var small = ReplayIngestor(store: pieces, symbols: Symbol.universe)
        small.blockBytes = 2000
        small.pendingBudget = 9000
        let b = try await small.replay(ReplayIngestor.Source(name: "a.jsonl.gz") { PieceReader(archive, piece: 777) })
        #expect(a.accepted == b.accepted && a.rejected == b.rejected && a.outputKeys == b.outputKeys)
        #expect(a.accepted > 3800 && a.rejected["malformed"] == 42 && a.rejected["duplicate_id"] != nil)
        let left = try await Self.contents(whole), right = try await Self.contents(pieces)
        #expect(left.count == 13, "12 partitions and the quarantine")
        #expect(left == right, "every object's lines, byte for byte and in order")
        // The small blocks made files of many gzip members, which read back as one.
        let key = try #require(b.outputKeys.first { $0.contains("symbol=AAPL") })
        let bytes = [UInt8](try await pieces.get(key))
        let members = (0..<(bytes.count - 2)).filter { bytes[$0] == 0x1F && bytes[$0 + 1] == 0x8B && bytes[$0 + 2] == 0x08 }.count
        #expect(members > 5)
        #expect(a.outputHash != b.outputHash, "the compressed bytes differ; the lines do not")
    }

    @Test func aSourceThatFailsToReadWritesNothing() async throws {
        final class Failing: ObjectReader {
            var left = 2
            let size: Int? = nil
            func read() async throws -> Data? {
                left -= 1
                if left < 0 { throw StoreError(key: "s3://bucket/archive", message: "connection reset") }
                return try StreamingReplayTests.archive().prefix(3000)
            }
        }
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("replay-fail"))
        await #expect { _ = try await ReplayIngestor(store: store, symbols: Symbol.universe).replay(ReplayIngestor.Source(name: "x") { Failing() }) }
            throws: { "\($0)".contains("connection reset") }
        #expect(try await store.list(prefix: "").isEmpty)
    }
}

@Suite(.timeLimit(.minutes(10))) struct MarketSimulatorTests {
    let configuration = MarketSimulator.Configuration(seed: 11, sessions: 3, symbols: [Symbol("V"), Symbol("TSLA")])

    @Test func isDeterministic() throws {
        let a = MarketSimulator(configuration: configuration).simulate(Symbol("TSLA"))
        let b = MarketSimulator(configuration: configuration).simulate(Symbol("TSLA"))
        #expect(a.bars == b.bars)
        #expect(a.news == b.news)
        #expect(a.posts.map(\.message) == b.posts.map(\.message))
    }

    @Test func barsFollowTheCalendarAndAreConsistent() throws {
        let out = MarketSimulator(configuration: configuration).simulate(Symbol("TSLA"))
        #expect(out.bars.count == 3 * 390)
        for bar in out.bars {
            #expect(bar.low <= min(bar.open, bar.close) && bar.high >= max(bar.open, bar.close) && bar.volume > 0)
            #expect(TradingCalendar().session(on: Eastern.local(bar.start).date).map { bar.start >= $0.open && bar.end <= $0.close } == true)
        }
    }

    @Test func postsCarryTheNoiseRealStreamsHave() throws {
        let sim = MarketSimulator(configuration: MarketSimulator.Configuration(seed: 11, sessions: 5, symbols: [Symbol("V")]))
        let posts = sim.simulate(Symbol("V")).posts
        let texts = posts.map(\.message.data.text)
        #expect(posts.count > 300)
        #expect(posts.contains { $0.message.data.referencedTweets?.first?.type == "retweeted" && $0.message.data.text.hasPrefix("RT @") })
        #expect(Set(texts).count < texts.count, "exact duplicates")
        #expect(posts.contains { $0.message.includes?.users?.first?.username.contains("_alerts") == true }, "bots")
        #expect(posts.contains { ($0.message.data.entities?.cashtags?.count ?? 0) >= 4 }, "many cashtags")
        #expect(texts.contains { $0.contains("Vendetta") || $0.contains("letter") || $0.contains("Plan $V") }, "ordinary-language $V")
        // Ids sort by creation time, like X's snowflakes.
        let ids = posts.map { UInt64($0.message.data.id)! }
        #expect(ids == ids.sorted())
        // Cashtag entities point at the text.
        for post in posts.prefix(200) {
            let scalars = Array(post.message.data.text.unicodeScalars)
            for tag in post.message.data.entities?.cashtags ?? [] {
                #expect(String(String.UnicodeScalarView(scalars[tag.start..<tag.end])) == "$" + tag.tag)
            }
        }
    }

    @Test func postRateFollowsTheTimeOfDay() throws {
        let sim = MarketSimulator(configuration: MarketSimulator.Configuration(seed: 3, sessions: 10, symbols: [Symbol("AAPL")]))
        var inSession = 0, overnight = 0
        for post in sim.simulate(Symbol("AAPL")).posts {
            let minute = Eastern.local(post.createdAt).minuteOfDay
            if minute >= 570 && minute < 960 { inSession += 1 } else if minute < 240 { overnight += 1 }
        }
        // 390 session minutes against 240 night minutes: the session rate must be far higher.
        #expect(Double(inSession) / 390 > 10 * Double(overnight) / 240)
    }
}
