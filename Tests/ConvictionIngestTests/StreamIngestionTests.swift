import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXEmulator
import Foundation
import Testing

@Suite struct StreamPartsTests {
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
}

extension Array {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out += try await transform(element) }
        return out
    }
}

@Suite(.serialized) struct StreamIngestionTests {
    /// Starts an emulator over `feed` and an ingester against it; `body` runs while it streams.
    func ingest(feed: [Data], emulator configure: (inout XAPIEmulator.Configuration) -> Void = { _ in },
                settings adjust: (inout StreamIngestor.Settings) -> Void = { _ in }, token: String = StreamFixtures.token,
                clock: VirtualClock = VirtualClock(), syncRules: Bool = true, directory: URL? = nil, timeLimit: Duration = .seconds(240),
                until done: @escaping @Sendable (XAPIEmulator) -> Bool) async throws
        -> (summary: StreamIngestor.Summary, emulator: XAPIEmulator, store: LocalObjectStore, clock: VirtualClock) {
        var configuration = XAPIEmulator.Configuration(bearerToken: StreamFixtures.token)
        configuration.postsPerSecond = 4000
        configuration.keepAliveInterval = .milliseconds(40)
        configure(&configuration)
        let emulator = try XAPIEmulator(configuration: configuration, feedLines: feed)
        let base = try await emulator.start()
        let dir = directory ?? TestSupport.temporaryDirectory("stream")
        let store = try LocalObjectStore(root: dir.appendingPathComponent("store"))
        if syncRules {
            let admin = XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token))
            try await StreamFixtures.syncRules(admin)
            await admin.shutdown()
        }
        let api = XAPIClient(baseURL: base, bearer: Secret(token))
        var settings = StreamIngestor.Settings()
        settings.idleTimeout = .milliseconds(300)
        settings.commitPosts = 500
        settings.commitInterval = .milliseconds(500)
        adjust(&settings)
        let ingestor = StreamIngestor(api: api, store: store, journal: try IngestJournal(folder: dir.appendingPathComponent("state")),
                                      symbols: StreamFixtures.symbols, filters: IngestFilters(), rules: StreamFixtures.ruleSet(),
                                      settings: settings, clock: clock, logger: StreamFixtures.logger)
        let watcher = Task {
            let deadline = ContinuousClock.now + timeLimit  // a stuck test fails instead of hanging
            while !done(emulator) && !Task.isCancelled && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
            // Caught up: let the last backfill and commit happen, then stop.
            try? await Task.sleep(for: .milliseconds(800))
            ingestor.stop()
        }
        let summary = try await ingestor.run()
        watcher.cancel()
        await api.shutdown()
        await emulator.stop()
        return (summary, emulator, store, clock)
    }

    /// The soak: every kind of fault, many times; every post the server emitted is stored exactly
    /// once, and every wait is the one X's schedule prescribes.
    @Test func soakWithEveryFaultLosesNothingAndWaitsBySchedule() async throws {
        let faultCount = Int(ProcessInfo.processInfo.environment["CONVICTION_SOAK_FAULTS"] ?? "") ?? 520
        let kinds = XAPIEmulator.Fault.allCases
        // Posts keep being published while a stalled client waits out its watchdog (rate x idle
        // timeout each time): the feed is sized for that, twice over.
        let feed = StreamFixtures.feed(count: faultCount * 60)
        let (summary, emulator, store, clock) = try await ingest(feed: feed, emulator: { c in
            c.faults = kinds
            c.faultCount = faultCount
            c.faultEveryPosts = 4
            c.postsPerSecond = 1000
            c.keepAliveInterval = .milliseconds(25)
            // Only the injected faults: X's real limits would end a soak of thousands of connects.
            c.streamConnectLimit = 1_000_000
            c.searchLimit = 1_000_000
        }, settings: { s in s.idleTimeout = .milliseconds(120) }, timeLimit: .seconds(240 + faultCount / 10), until: { e in
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
        let quarantine = try await StreamFixtures.quarantine(store)
        #expect(quarantine.filter { $0.reason == "malformed" }.count == state.faultsInjected["malformed_json"])
        #expect(Set(quarantine.map(\.reason)).isSubset(of: ["malformed", "duplicate_id"]))
        #expect(quarantine.filter { $0.reason == "duplicate_id" }.count >= state.faultsInjected["duplicate", default: 0])
        // The client always closed its previous connection first.
        #expect(state.unexpectedTooManyConnections == 0)
        // Each wait is the schedule's, replayed from the server's own log of connect outcomes.
        let expected = StreamFixtures.expectedWaits(connectLog: Array(state.connectLog.dropLast()), policy: ReconnectPolicy())
        #expect(summary.waits == expected)
        #expect(clock.sleeps == summary.waits.map(\.duration).filter { $0 > .zero })
        #expect(summary.waits.contains { $0.cls == .rateLimited && $0.attempt >= 1 } && summary.waits.contains { $0.cls == .http })
    }

    @Test func invalidCredentialsBackOffAndEarnNo429() async throws {
        let clock = VirtualClock()
        let (summary, emulator, _, _) = try await ingest(feed: StreamFixtures.feed(count: 20), emulator: { c in
            c.now = { clock.now() }  // the server's rate-limit windows run on the same virtual time
        }, settings: { s in s.maxAuthFailures = 8 }, token: "wrong-token-SECRET123", clock: clock, until: { _ in false })
        let state = emulator.state
        #expect(state.unauthorized == 8)
        #expect(state.rateLimited == 0, "the client earned a 429")
        #expect(summary.waits.map(\.duration) == [5, 10, 20, 40, 80, 160, 320].map { Duration.seconds($0) })
        let fatal = try #require(summary.fatal)
        #expect(fatal.contains("401") && !fatal.contains("SECRET123"))
    }

    @Test func rateLimitHeadersAreHonoured() async throws {
        let clock = VirtualClock()
        let (summary, emulator, _, _) = try await ingest(feed: StreamFixtures.feed(count: 50), emulator: { c in
            c.now = { clock.now() }
            c.streamConnectLimit = 3
            c.faults = [.serverError]
            c.faultCount = 5
        }, clock: clock, until: { e in e.state.streamConnects >= 1 && e.state.published >= 50 })
        // Three 503s use up the window: the client waits for the reset instead of asking again.
        #expect(emulator.state.rateLimited == 0)
        #expect(summary.waits.contains { $0.untilReset })
        #expect(summary.accepted == 50)
    }

    @Test func backfillHonoursSearchRateLimitsAndFillsEveryGap() async throws {
        let clock = VirtualClock()
        let (summary, emulator, store, _) = try await ingest(feed: StreamFixtures.feed(count: 3000), emulator: { c in
            c.now = { clock.now() }
            c.postsPerSecond = 2000
            c.searchLimit = 2  // every second search request empties the window
            c.faults = [.dropMidLine, .stall]
            c.faultCount = 6
            c.faultEveryPosts = 200
        }, clock: clock, until: { e in e.state.published >= e.state.total && e.state.faultsInjected.values.reduce(0, +) >= 6 })
        #expect(emulator.state.rateLimited == 0, "the backfill waited for each reset instead of earning 429s")
        #expect(summary.backfilled > 0)
        let stored = try await StreamFixtures.storedIDs(store)
        #expect(Set(stored.keys) == Set(emulator.emittedIDs()) && stored.values.allSatisfy { $0 == 1 })
    }

    @Test func metricsAreServedWhileStreaming() async throws {
        let metrics = IngestMetrics()
        metrics.accepted(symbols: [Symbol("AAPL"), Symbol("AAPL")], lagMillis: 1500, at: 0)
        metrics.update { $0.rejectedByReason["language"] = 3; $0.reconnectsByClass["rate_limited"] = 1; $0.connected = true }
        let server = try await metrics.serve(port: 0)
        let client = XAPIClient(baseURL: server.baseURL, bearer: Secret("x"))
        let (body, _) = try await client.call(client.request("/metrics"), endpoint: "metrics")
        await client.shutdown()
        await server.close()
        let text = String(decoding: body, as: UTF8.self)
        for expected in ["conviction_ingest_posts_total{symbol=\"AAPL\"} 2", "conviction_ingest_rejected_total{reason=\"language\"} 3",
                         "conviction_ingest_reconnects_total{class=\"rate_limited\"} 1", "conviction_ingest_lag_seconds 1.5",
                         "conviction_ingest_connected 1", "# TYPE conviction_ingest_queue_depth gauge"] {
            #expect(text.contains(expected), "\(expected)")
        }
    }

    @Test func rulesSyncThroughTheRealClient() async throws {
        let emulator = try XAPIEmulator(configuration: .init(bearerToken: StreamFixtures.token), feedLines: [])
        let api = XAPIClient(baseURL: try await emulator.start(), bearer: Secret(StreamFixtures.token))
        defer { Task { await api.shutdown(); await emulator.stop() } }
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
    }
}
