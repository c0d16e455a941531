import ConvictionCore
import ConvictionHTTP
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXEmulator
import ConvictionXPayload
import Foundation
import GRDB
import Testing

@Suite(.timeLimit(.minutes(10))) struct StreamPartsTests {
    @Test func framerJoinsLinesAcrossAnyChunkBoundary() {
        let lines = ["{\"a\":\"é🚀\"}", "", "{\"b\":1}", "{\"c\":\"日本\"}"]
        let bytes = Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
        for size in [1, 2, 3, 5, 7, bytes.count] {
            var framer = LineFramer()
            var out: [[UInt8]] = []
            var i = 0
            while i < bytes.count { out += framer.append(bytes[i..<min(bytes.count, i + size)]); i += size }
            #expect(out.map { String(decoding: $0, as: UTF8.self) } == lines, "chunk size \(size)")
            #expect(framer.pendingCount == 0)
        }
    }

    @Test func scheduleFollowsXsGuidance() {
        let p = ReconnectPolicy()
        #expect(p.wait(for: .dropped, attempt: 3) == .zero)
        #expect((1...5).map { p.wait(for: .network, attempt: $0) } == [250, 500, 750, 1000, 1250].map { Duration.milliseconds($0) })
        #expect(p.wait(for: .network, attempt: 100) == .seconds(16))
        #expect((1...8).map { p.wait(for: .http, attempt: $0) } == [5, 10, 20, 40, 80, 160, 320, 320].map { Duration.seconds($0) })
        #expect((1...3).map { p.wait(for: .rateLimited, attempt: $0) } == [60, 120, 240].map { Duration.seconds($0) })
        #expect(p.isAtMaximum(.http, attempt: 7) && !p.isAtMaximum(.http, attempt: 6))
    }

    @Test func rulesOnePerSymbolTaggedAndWithinLimits() throws {
        let rules = try StreamFixtures.ruleSet().rules()
        #expect(rules.count == 11)
        #expect(rules.first == StreamRule(value: "$AAPL lang:en -is:retweet", tag: "AAPL"))
        let v = try #require(rules.first { $0.tag == "V" })
        #expect(v.value.hasPrefix("$V (stock OR stocks OR shares") && v.value.hasSuffix(") lang:en -is:retweet"))
        var long = IngestFilters()
        long.keywordSymbols = [Symbol("*")]
        let tooLong = StreamRuleSet(symbols: [Symbol("AAPL")], filters: long, ruleKeywords: (0..<200).map { "keyword\($0)" })
        #expect(throws: StreamRuleSet.Invalid.self) { try tooLong.rules() }
        #expect(throws: StreamRuleSet.Invalid.self) {
            try StreamRuleSet.validate((0...1000).map { StreamRule(value: "$A\($0)", tag: nil) })
        }
        for query in StreamFixtures.ruleSet().backfillQueries() { #expect(query.count <= 512) }
        let diff = StreamRuleSet.diff(current: [StreamRule(id: "1", value: "$AAPL", tag: "AAPL"), StreamRule(id: "2", value: "$X", tag: "X")],
                                      wanted: [StreamRule(value: "$AAPL", tag: "AAPL"), StreamRule(value: "$MSFT", tag: "MSFT")])
        #expect(diff.add.map(\.value) == ["$MSFT"] && diff.delete.map(\.id) == ["2"])
    }

    @Test func filtersRejectWithReasons() {
        var processor = PostProcessor(symbols: Symbol.universe, filters: IngestFilters())
        func line(_ id: Int, _ text: String, lang: String = "en", author: String = "9", tags: [String] = ["AAPL"], retweet: Bool = false,
                  created: String = "2026-01-05T15:00:00.000Z") -> Data {
            let cashtags = tags.map { "{\"start\":0,\"end\":1,\"tag\":\"\($0)\"}" }.joined(separator: ",")
            return Data("""
            {"data":{"id":"\(id)","text":"\(text)","created_at":"\(created)","author_id":"\(author)","lang":"\(lang)","entities":{"cashtags":[\(cashtags)]}\(retweet ? ",\"referenced_tweets\":[{\"type\":\"retweeted\",\"id\":\"1\"}]" : "")}}
            """.utf8)
        }
        func reason(_ d: PostProcessor.Decision) -> String {
            if case .rejected(let r, _, _, _) = d { return r }
            return "accepted"
        }
        #expect(reason(processor.process(line(1, "$AAPL looks good"), receivedAt: nil)) == "accepted")
        #expect(reason(processor.process(line(1, "$AAPL looks good"), receivedAt: nil)) == "duplicate_id")
        #expect(reason(processor.process(line(2, "$AAPL muy bien", lang: "es"), receivedAt: nil)) == "language")
        #expect(reason(processor.process(line(3, "RT $AAPL", retweet: true), receivedAt: nil)) == "retweet")
        #expect(reason(processor.process(line(4, "$AAPL $A $B $C $D $E", tags: ["AAPL", "AMZN", "TSLA", "META", "MSFT", "NVDA"]), receivedAt: nil)) == "cashtag_spam")
        #expect(reason(processor.process(line(5, "$AAPL JOIN OUR FREE DISCORD now"), receivedAt: nil)) == "bot_pattern")
        #expect(reason(processor.process(line(6, "$V for Vendetta tonight", tags: ["V"]), receivedAt: nil)) == "no_keyword")
        #expect(reason(processor.process(line(7, "$V shares up", tags: ["V"]), receivedAt: nil)) == "accepted")
        #expect(reason(processor.process(line(8, "$AAPL looks good", created: "2026-01-05T15:30:00.000Z"), receivedAt: nil)) == "duplicate_text")
        #expect(reason(processor.process(line(9, "$AAPL looks good", created: "2026-01-05T17:30:00.000Z"), receivedAt: nil)) == "accepted")
        // $V without a keyword beside $AAPL: the post stays, for AAPL only.
        if case .accepted(_, let symbols) = processor.process(line(10, "$AAPL $V tonight", tags: ["AAPL", "V"]), receivedAt: nil) {
            #expect(symbols == [Symbol("AAPL")])
        } else { Issue.record("post 10 rejected") }
    }

    @Test func lineParserReadsEscapesAndRejectsBrokenJSON() throws {
        let normalizer = PostNormalizer(symbols: Symbol.universe)
        let line = #"{"data":{"id":"7","text":"$AAPL caf\u00e9 \ud83d\ude80 \"up\"\n\/ok","created_at":"2026-01-05T15:00:00Z","author_id":"3","extra":[1,-2.5e3,true,null,{"a":"\u0041"}],"entities":{"cashtags":[{"start":0,"end":5,"tag":"aapl"}]}},"includes":{"users":[{"id":"3","public_metrics":{"followers_count":41}}]}}"#
        let (post, symbols) = try normalizer.normalize(Data(line.utf8), receivedAt: nil)
        #expect(post.text == "$AAPL café 🚀 \"up\"\n/ok" && post.authorFollowers == 41 && symbols == [Symbol("AAPL")])
        for broken in [#"{"data":{"id":"7","text":"a\x"}}"#, #"{"data":{"id":"7"} trailing"#, #"{"data":{"id":01}}"#, #"{"data":{"id":"7","text":"\ud83d"}}"#, "[1,2]"] {
            #expect(throws: PostNormalizer.Rejection.self) { try normalizer.normalize(Data(broken.utf8), receivedAt: nil) }
        }
    }

    @Test func journalRecoversAfterACrashWithoutLossOrDuplicates() async throws {
        let dir = TestSupport.temporaryDirectory("journal")
        let store = try LocalObjectStore(root: dir.appendingPathComponent("store"))
        let partition = Partition(.rawPosts, date: CivilDate(iso: "2026-01-05")!, symbol: Symbol("AAPL"))
        do {
            let journal = try IngestJournal(folder: dir.appendingPathComponent("state"))
            for id in 1...5 as ClosedRange<UInt64> {
                try journal.append(.init(kind: .post, id: id, createdAt: 1000, textKey: id, partitions: [partition], json: Data("{\"n\":\(id)}".utf8)))
            }
            try await journal.commit(to: store)
            for id in 6...9 as ClosedRange<UInt64> {
                try journal.append(.init(kind: .post, id: id, createdAt: 1000, textKey: id, partitions: [partition], json: Data("{\"n\":\(id)}".utf8)))
            }
            // The process dies here: no commit. A half-written line is left at the end of the segment.
        }
        let segment = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("state/segments").path).first!
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent("state/segments/\(segment)"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("P\t10\t1000\t10\traw/posts/dt=2026-01-05/symbol=AAPL/\t{\"n\":1".utf8))
        try handle.close()

        let journal = try IngestJournal(folder: dir.appendingPathComponent("state"))
        let recovered = try journal.recover()
        #expect(Set(recovered.ids.map(\.0)) == Set(1...9))
        #expect(recovered.truncatedLines == 1 && recovered.pendingSegments.count == 1 && recovered.newestID == 9)
        #expect(try await journal.commit(to: store) == 4)
        #expect(try await journal.commit(to: store) == 0)
        let lines = try await store.list(prefix: partition.prefix).asyncFlatMap { JSONLines.read(try await store.get($0), gzipped: true).lines.map(\.text) }
        #expect(lines.sorted() == (1...9).map { "{\"n\":\($0)}" }.sorted())
        #expect(try journal.committedIDCount() == 9)
        // A backfill under way survives a restart: the next one starts from its since_id.
        try journal.saveBackfillFloor(4)
        #expect(try IngestJournal(folder: dir.appendingPathComponent("state")).recover().backfillFloor == 4)
        try journal.saveBackfillFloor(nil)
        #expect(try IngestJournal(folder: dir.appendingPathComponent("state")).recover().backfillFloor == nil)
        // A later journal over the same state never reuses a segment number (they name part files).
        let reopened = try IngestJournal(folder: dir.appendingPathComponent("state"))
        try reopened.append(.init(kind: .post, id: 11, createdAt: 1000, textKey: 11, partitions: [partition], json: Data("{\"n\":11}".utf8)))
        #expect(try await reopened.commit(to: store) == 1)
        let all = try await store.list(prefix: partition.prefix).asyncFlatMap { JSONLines.read(try await store.get($0), gzipped: true).lines.map(\.text) }
        #expect(all.count == 10)
    }

    /// A `state.sqlite` from before the journal's tables moved into the catalog is copied in
    /// under its instance name: a resumed stream keeps its de-duplication state, its newest id and
    /// its part names, and the old file is kept, renamed.
    @Test func journalStateFromBeforeTheCatalogMigrationIsAdopted() async throws {
        let dir = TestSupport.temporaryDirectory("journal-legacy")
        let state = dir.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        // The schema and rows as the earlier journal wrote them.
        let legacy = try DatabaseQueue(path: state.appendingPathComponent("state.sqlite").path)
        try await legacy.write { db in
            try db.execute(sql: """
                CREATE TABLE seen_id (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL);
                CREATE TABLE seen_text (key INTEGER PRIMARY KEY, created_at INTEGER NOT NULL);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO seen_id VALUES (101, 5000), (102, 5001), (103, 5002);
                INSERT INTO seen_text VALUES (-7, 5000);
                INSERT INTO meta VALUES ('instance', 'abcd1234'), ('newest_id', '103'), ('last_segment', '41');
                """)
        }
        try legacy.close()
        let catalog = try Catalog(path: dir.appendingPathComponent("catalog.sqlite").path)
        let journal = try IngestJournal(folder: state, catalog: catalog)
        #expect(journal.instance == "abcd1234")
        let recovered = try journal.recover()
        #expect(Set(recovered.ids.map(\.0)) == [101, 102, 103] && recovered.texts.map(\.0) == [UInt64(bitPattern: -7)] && recovered.newestID == 103)
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("state.sqlite.migrated").path))
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("state.sqlite").path))
        // The next segment follows the old ones, so part names never repeat.
        let store = try LocalObjectStore(root: dir.appendingPathComponent("store"))
        let partition = Partition(.rawPosts, date: CivilDate(iso: "2026-01-05")!, symbol: Symbol("AAPL"))
        try journal.append(.init(kind: .post, id: 104, createdAt: 5003, textKey: 1, partitions: [partition], json: Data("{}".utf8)))
        #expect(try await journal.commit(to: store) == 1)
        let parts = try await store.list(prefix: partition.prefix)
        #expect(parts.contains { $0.contains("stream-abcd1234-000000000042") }, "\(parts)")
        // Opening again adopts nothing twice.
        let again = try IngestJournal(folder: state, catalog: catalog)
        let count = try again.committedIDCount()
        #expect(again.instance == "abcd1234" && count == 4)
    }

    /// Two journals in one catalog keep separate state: one's ids never hide the other's posts.
    @Test func journalsSharingACatalogKeepTheirOwnState() async throws {
        let dir = TestSupport.temporaryDirectory("journal-shared")
        let catalog = try Catalog(path: dir.appendingPathComponent("catalog.sqlite").path)
        let store = try LocalObjectStore(root: dir.appendingPathComponent("store"))
        let partition = Partition(.rawPosts, date: CivilDate(iso: "2026-01-05")!, symbol: Symbol("AAPL"))
        let a = try IngestJournal(folder: dir.appendingPathComponent("a"), catalog: catalog)
        let b = try IngestJournal(folder: dir.appendingPathComponent("b"), catalog: catalog)
        #expect(a.instance != b.instance)
        try a.append(.init(kind: .post, id: 1, createdAt: 1000, textKey: 1, partitions: [partition], json: Data("{}".utf8)))
        try await a.commit(to: store)
        #expect(try a.recover().ids.map(\.0) == [1])
        #expect(try b.recover().ids.isEmpty)
    }
}

extension Array {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out += try await transform(element) }
        return out
    }
}

/// The ingester against the local X API server, both on one `TestClock` running `speed` times real
/// time: X's schedule (waits of seconds to 16 minutes, 15-minute rate-limit windows) at its real
/// values, passing in seconds. Durations below are clock time.
@Suite(.serialized, .timeLimit(.minutes(10))) struct StreamIngestionTests {
    static let speed = 200.0

    /// Starts an emulator over `feed` and an ingester against it. Once `done` holds, the ingester
    /// is told to stop when caught up and quiet (no backfill running), so the last gap is filled.
    func ingest(feed: [Data], emulator configure: (inout XAPIEmulator.Configuration) -> Void = { _ in },
                settings adjust: (inout StreamIngestor.Settings) -> Void = { _ in }, token: String = StreamFixtures.token,
                clock: TestClock, syncRules: Bool = true, directory: URL? = nil,
                until done: @escaping @Sendable (XAPIEmulator) -> Bool) async throws
        -> (summary: StreamIngestor.Summary, emulator: XAPIEmulator, store: LocalObjectStore) {
        var configuration = XAPIEmulator.Configuration(bearerToken: StreamFixtures.token)
        configuration.clock = clock
        configuration.postsPerSecond = 20
        configuration.keepAliveInterval = .seconds(8)
        configure(&configuration)
        let emulator = try XAPIEmulator(configuration: configuration, feedLines: feed)
        let base = try await emulator.start()
        let dir = directory ?? TestSupport.temporaryDirectory("stream")
        let store = try LocalObjectStore(root: dir.appendingPathComponent("store"))
        if syncRules {
            let admin = XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token))
            try await StreamFixtures.syncRules(admin)
        }
        var settings = StreamIngestor.Settings()
        settings.idleTimeout = .seconds(60)
        settings.tickInterval = .seconds(10)
        settings.commitPosts = 500
        settings.commitInterval = .seconds(100)
        adjust(&settings)
        let ingestor = StreamIngestor(api: XAPIClient(baseURL: base, bearer: Secret(token)), store: store,
                                      journal: try IngestJournal(folder: dir.appendingPathComponent("state")),
                                      symbols: StreamFixtures.symbols, filters: IngestFilters(), rules: StreamFixtures.ruleSet(),
                                      settings: settings, clock: clock, logger: StreamFixtures.logger)
        let watcher = Task {
            while !done(emulator) && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            ingestor.stopWhenIdle(settings.idleTimeout * 2)
        }
        let summary = try await ingestor.run()
        watcher.cancel()
        await emulator.stop()
        return (summary, emulator, store)
    }

    /// The soak: every kind of fault, many times, over hours of clock time; every post the server
    /// emitted is stored exactly once, and every wait is the one X's schedule prescribes. It runs
    /// with its clock started on three dates, today among them: nothing in it depends on the date.
    @Test(arguments: ["2020-01-01", "today", "2030-01-01"])
    func soakWithEveryFaultLosesNothingAndWaitsBySchedule(startDate: String) async throws {
        // Faster than the other tests: hours of clock time (65 waits of 60 s and 65 of 5 s) pass in seconds.
        let speed = 500.0
        let clock = startDate == "today" ? TestClock(start: Timestamps.now(), speed: speed) : TestClock(startingOn: startDate, speed: speed)
        let faultCount = Int(ProcessInfo.processInfo.environment["CONVICTION_SOAK_FAULTS"] ?? "") ?? 520
        let kinds = XAPIEmulator.Fault.allCases
        let rate = 2.0
        let feed = TestFeed.posts(count: faultCount * 60, start: clock.start, spacing: .milliseconds(Int64(1000 / rate)))
        let (summary, emulator, store) = try await ingest(feed: feed, emulator: { c in
            c.faults = kinds
            c.faultCount = faultCount
            c.faultEveryPosts = 4
            c.postsPerSecond = rate
            c.keepAliveInterval = .seconds(5)
            // Only the injected faults on the stream: X's connect limit would end a soak of thousands of
            // connects. Recent search keeps X's real limit, 450 requests per 15 minutes.
            c.streamConnectLimit = 1_000_000
        }, settings: { s in
            // 300 ms of real time: a loaded machine that starves the reader for less than that does not
            // look like a dead stream (each false drop costs a reconnect and a backfill, nothing more).
            s.idleTimeout = .seconds(150)
        }, clock: clock, until: { e in
            let s = e.state
            return s.faultsInjected.values.reduce(0, +) >= faultCount && s.published >= s.total
        })
        let state = emulator.state
        // Every kind injected, as many times as asked.
        #expect(state.faultsInjected.values.reduce(0, +) == faultCount)
        for kind in kinds { #expect(state.faultsInjected[kind.rawValue, default: 0] >= faultCount / kinds.count, "\(kind)") }
        // Exactly once: the stored ids are the emitted ids, each once.
        let emitted = emulator.emittedIDs()
        #expect(emitted.count == feed.count)
        let stored = try await StreamFixtures.storedIDs(store)
        #expect(Set(stored.keys) == Set(emitted), "missing \(Set(emitted).subtracting(stored.keys).count), extra \(Set(stored.keys).subtracting(emitted).count)")
        #expect(stored.values.allSatisfy { $0 == 1 }, "\(stored.filter { $0.value > 1 }.count) posts stored more than once")
        #expect(summary.accepted == emitted.count)
        // Malformed lines went to the quarantine with their reason; nothing else did but stream duplicates.
        // (See below why a few records of the stream's own faults may be missing; no post is.)
        let quarantine = try await StreamFixtures.quarantine(store)
        let malformed = state.faultsInjected["malformed_json", default: 0]
        #expect(quarantine.filter { $0.reason == "malformed" }.count >= malformed * 9 / 10)
        #expect(quarantine.filter { $0.reason == "malformed" }.count <= malformed)
        #expect(Set(quarantine.map(\.reason)).isSubset(of: ["malformed", "duplicate_id"]))
        // Each duplicate fault sends a post twice, and the second copy is quarantined as a duplicate.
        // Not always all of them: when a connection ends (a drop, or the watchdog on a starved machine),
        // lines received but not yet read end with it. Their posts come back through the backfill (the
        // stored ids above); the quarantine record of a repeat or of a malformed line does not.
        let duplicates = state.faultsInjected["duplicate", default: 0]
        #expect(quarantine.filter { $0.reason == "duplicate_id" }.count >= duplicates * 9 / 10,
                "\(summary.idleDrops) idle drops; faults \(state.faultsInjected)")
        // The client always closed its previous connection first.
        #expect(state.unexpectedTooManyConnections == 0)
        // Each wait is the schedule's, replayed from the server's own log of connect outcomes, and
        // the ingester really slept each one on the clock.
        let expected = StreamFixtures.expectedWaits(connectLog: Array(state.connectLog.dropLast()), policy: ReconnectPolicy())
        #expect(summary.waits == expected)
        var slept = Dictionary(clock.sleeps.map { ($0, 1) }, uniquingKeysWith: +)
        for wait in summary.waits where wait.duration > .zero { slept[wait.duration, default: 0] -= 1 }
        #expect(slept.values.allSatisfy { $0 >= 0 }, "waits the clock never slept: \(slept.filter { $0.value < 0 })")
        #expect(summary.waits.contains { $0.cls == .rateLimited && $0.attempt >= 1 } && summary.waits.contains { $0.cls == .http })
        // Gaps merge: the backfill converged instead of queueing a window per reconnect.
        #expect(summary.backfillWindows > 0 && summary.backfillWindows <= summary.connects)
        #expect(state.rateLimited == 0, "the backfill earned 429s from recent search")
    }

    @Test func invalidCredentialsBackOffAndEarnNo429() async throws {
        let clock = TestClock(speed: Self.speed)
        let (summary, emulator, _) = try await ingest(feed: TestFeed.posts(count: 20, start: clock.start),
                                                      settings: { s in s.maxAuthFailures = 8 }, token: "wrong-token-SECRET123", clock: clock,
                                                      until: { _ in false })
        let state = emulator.state
        #expect(state.unauthorized == 8)
        #expect(state.rateLimited == 0, "the client earned a 429")
        #expect(summary.waits.map(\.duration) == [5, 10, 20, 40, 80, 160, 320].map { Duration.seconds($0) })
        let fatal = try #require(summary.fatal)
        #expect(fatal.contains("401") && !fatal.contains("SECRET123"))
    }

    @Test func rateLimitHeadersAreHonoured() async throws {
        let clock = TestClock(speed: Self.speed)
        let (summary, emulator, _) = try await ingest(feed: TestFeed.posts(count: 50, start: clock.start), emulator: { c in
            c.streamConnectLimit = 3
            c.faults = [.serverError]
            c.faultCount = 5
        }, clock: clock, until: { e in e.state.streamConnects >= 1 && e.state.published >= 50 })
        // Three 503s use up the 15-minute window: the client waits for the reset instead of asking again.
        #expect(emulator.state.rateLimited == 0)
        let reset = try #require(summary.waits.first { $0.untilReset })
        #expect(reset.duration > .seconds(800) && reset.duration <= .seconds(901), "waited \(reset.duration) for a 15-minute window")
        #expect(summary.accepted == 50)
    }

    @Test func backfillHonoursSearchRateLimitsAndFillsEveryGap() async throws {
        let clock = TestClock(speed: 1000)
        let (summary, emulator, store) = try await ingest(feed: TestFeed.posts(count: 3000, start: clock.start, spacing: .milliseconds(100)), emulator: { c in
            c.postsPerSecond = 10
            c.searchLimit = 2  // every second search request empties the 15-minute window
            c.faults = [.dropMidLine, .stall]
            c.faultCount = 6
            c.faultEveryPosts = 200
        }, settings: { s in s.idleTimeout = .seconds(120) }, clock: clock,
           until: { e in e.state.published >= e.state.total && e.state.faultsInjected.values.reduce(0, +) >= 6 })
        #expect(emulator.state.rateLimited == 0, "the backfill waited for each reset instead of earning 429s")
        #expect(summary.backfilled > 0)
        let stored = try await StreamFixtures.storedIDs(store)
        #expect(Set(stored.keys) == Set(emulator.emittedIDs()) && stored.values.allSatisfy { $0 == 1 })
    }

    /// A backfill that waits a whole 15-minute window for its reset does not hold up the stream:
    /// posts keep being journaled meanwhile, and stop() ends the run at once with all of them.
    @Test func streamGoesOnWhileBackfillWaitsForReset() async throws {
        let clock = TestClock(speed: 20)
        var configuration = XAPIEmulator.Configuration(bearerToken: StreamFixtures.token)
        configuration.clock = clock
        configuration.postsPerSecond = 10
        configuration.keepAliveInterval = .seconds(5)
        configuration.searchLimit = 1  // the first search page empties the window
        configuration.faults = [.dropMidLine]
        configuration.faultCount = 1
        configuration.faultEveryPosts = 30
        let feed = TestFeed.posts(count: 5_000, start: clock.start, spacing: .milliseconds(100))
        let emulator = try XAPIEmulator(configuration: configuration, feedLines: feed)
        let base = try await emulator.start()
        let admin = XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token))
        try await StreamFixtures.syncRules(admin)
        let dir = TestSupport.temporaryDirectory("stream-wait")
        let store = try LocalObjectStore(root: dir.appendingPathComponent("store"))
        var settings = StreamIngestor.Settings()
        settings.idleTimeout = .seconds(30)
        settings.tickInterval = .seconds(1)
        settings.commitInterval = .seconds(10)
        let ingestor = StreamIngestor(api: XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token)), store: store,
                                      journal: try IngestJournal(folder: dir.appendingPathComponent("state")),
                                      symbols: StreamFixtures.symbols, filters: IngestFilters(), rules: StreamFixtures.ruleSet(),
                                      settings: settings, clock: clock, logger: StreamFixtures.logger)
        let running = Task { try await ingestor.run() }
        // Wait (by events, bounded) until the backfill is waiting for its reset, then until 200 more posts were streamed.
        let deadline = ContinuousClock.now + .seconds(60)
        while ingestor.metrics.snapshot.backfillWaitSeconds == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let waiting = ingestor.metrics.snapshot.backfillWaitSeconds
        #expect(waiting > 600, "the backfill waits for the 15-minute window's reset (\(waiting) s)")
        let acceptedAtWait = ingestor.progress.accepted
        while ingestor.progress.accepted < acceptedAtWait + 200 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(ingestor.progress.accepted >= acceptedAtWait + 200, "posts were journaled while the backfill waited")
        // The market goes quiet, so no post is in flight when the client stops (one in flight would
        // be lost to this connection, and found by the next run's backfill from the kept window).
        emulator.pausePublishing()
        var last = -1
        while ingestor.progress.accepted != last && ContinuousClock.now < deadline {
            last = ingestor.progress.accepted
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(ingestor.metrics.snapshot.backfillWaitSeconds > 0, "still waiting for the reset")
        let stopAt = ContinuousClock.now
        ingestor.stop()
        let summary = try await running.value
        #expect(ContinuousClock.now - stopAt < .seconds(10), "stop() ended the run in \(ContinuousClock.now - stopAt)")
        await emulator.stop()
        // Every post written whole on the stream is stored.
        let stored = try await StreamFixtures.storedIDs(store)
        let streamed = emulator.streamedIDs()
        #expect(streamed.isSubset(of: Set(stored.keys)), "\(streamed.subtracting(stored.keys).count) streamed posts not stored")
        #expect(summary.backfillWindows == 0, "the window was still waiting when the run stopped")
        // The unfinished window is kept for the next run.
        #expect(try IngestJournal(folder: dir.appendingPathComponent("state")).recover().backfillFloor != nil)
    }

    @Test func metricsAreServedWhileStreaming() async throws {
        let clock = TestClock(speed: Self.speed)
        var configuration = XAPIEmulator.Configuration(bearerToken: StreamFixtures.token)
        configuration.clock = clock
        configuration.postsPerSecond = 20
        configuration.keepAliveInterval = .seconds(5)
        configuration.faults = [.malformedJSON]
        configuration.faultCount = 1
        configuration.faultEveryPosts = 10
        let emulator = try XAPIEmulator(configuration: configuration, feedLines: TestFeed.posts(count: 5000, start: clock.start))
        let base = try await emulator.start()
        let admin = XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token))
        try await StreamFixtures.syncRules(admin)
        var settings = StreamIngestor.Settings()
        settings.idleTimeout = .seconds(60)
        settings.tickInterval = .seconds(5)
        let dir = TestSupport.temporaryDirectory("stream-metrics")
        let ingestor = StreamIngestor(api: XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token)),
                                      store: try LocalObjectStore(root: dir.appendingPathComponent("store")),
                                      journal: try IngestJournal(folder: dir.appendingPathComponent("state")),
                                      symbols: StreamFixtures.symbols, filters: IngestFilters(), rules: StreamFixtures.ruleSet(),
                                      settings: settings, clock: clock, logger: StreamFixtures.logger)
        let server = try await ingestor.metrics.serve(port: 0)
        let scraper = XAPIClient(baseURL: server.baseURL, bearer: Secret("unused"))
        let running = Task { try await ingestor.run() }
        // Scrape while it streams, until the scrape shows stored posts and the quarantined line.
        var text = ""
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let (body, _) = try await scraper.call(scraper.request("/metrics"), endpoint: "metrics")
            text = String(decoding: body, as: UTF8.self)
            if text.contains("conviction_ingest_rejected_total{reason=\"malformed\"} 1"), text.contains("conviction_ingest_posts_total{symbol=\"AAPL\"} ") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let scrapedWhileRunning = !ingestor.isStopping
        ingestor.stop()
        let summary = try await running.value
        await server.close()
        await emulator.stop()
        #expect(scrapedWhileRunning)
        for expected in ["conviction_ingest_connected 1", "conviction_ingest_rejected_total{reason=\"malformed\"} 1",
                         "conviction_ingest_posts_total{symbol=\"AAPL\"} ", "# TYPE conviction_ingest_queue_depth gauge",
                         "# TYPE conviction_ingest_backfill_wait_seconds gauge"] {
            #expect(text.contains(expected), "\(expected)")
        }
        let aapl = text.split(separator: "\n").first { $0.hasPrefix("conviction_ingest_posts_total{symbol=\"AAPL\"}") }
        #expect((aapl?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 0)
        #expect(summary.accepted > 0)
    }

    @Test func rulesSyncThroughTheRealClient() async throws {
        let emulator = try XAPIEmulator(configuration: .init(bearerToken: StreamFixtures.token), feedLines: [])
        let api = XAPIClient(baseURL: try await emulator.start(), bearer: Secret(StreamFixtures.token))
        let wanted = try StreamFixtures.ruleSet().rules()
        _ = try await api.addRules([StreamRule(value: "$OLD lang:en", tag: "OLD")], dryRun: false)
        let dry = try await api.addRules(wanted, dryRun: true)
        #expect(dry.valid == 11 && dry.created == 11)
        #expect(try await api.listRules().count == 1, "dry_run changed nothing")
        let diff = StreamRuleSet.diff(current: try await api.listRules(), wanted: wanted)
        _ = try await api.addRules(diff.add, dryRun: false)
        let deleted = try await api.deleteRules(ids: diff.delete.compactMap(\.id), dryRun: false)
        #expect(deleted.deleted == 1)
        #expect(Set(try await api.listRules().map(\.value)) == Set(wanted.map(\.value)))
        await #expect(throws: XAPIError.self) { try await api.addRules([StreamRule(value: "($AAPL OR", tag: "bad")], dryRun: true) }
        await emulator.stop()
    }
}
