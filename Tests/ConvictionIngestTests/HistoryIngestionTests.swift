import ConvictionCore
import ConvictionHTTP
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXEmulator
import Foundation
import Testing

/// `ingest history` against the local X API server: full-archive and recent search, counts, their
/// limits and faults, on a `TestClock` shared with the server (X's real 15-minute windows and
/// 1-request-per-second spacing, passing in milliseconds). Durations below are clock time.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HistoryIngestionTests {
    static let speed = 1000.0
    static let symbols = [Symbol("AAPL"), Symbol("MSFT"), Symbol("TSLA")]
    static let firstDay = CivilDate(iso: "2026-03-01")!

    struct Fixture {
        let clock: TestClock
        let emulator: XAPIEmulator
        let base: String
        let store: LocalObjectStore
        let catalog: Catalog
        let feed: [Data]

        func ingestor(_ adjust: (inout HistoryIngestor.Settings) -> Void = { _ in }) -> HistoryIngestor {
            var settings = HistoryIngestor.Settings()
            settings.pageSize = 10
            adjust(&settings)
            return HistoryIngestor(api: XAPIClient(baseURL: base, bearer: Secret(StreamFixtures.token)), store: store, catalog: catalog,
                                   symbols: HistoryIngestionTests.symbols, filters: IngestFilters(),
                                   rules: StreamRuleSet(symbols: HistoryIngestionTests.symbols, filters: IngestFilters(), ruleKeywords: IngestFilters.defaultKeywords),
                                   settings: settings, clock: clock, logger: StreamFixtures.logger)
        }

        /// Ids of the feed's posts about the fixture's symbols created on the given days: what a run must store.
        func expectedIDs(days: ClosedRange<CivilDate>) throws -> Set<UInt64> {
            var ids: Set<UInt64> = []
            for line in feed {
                let object = try JSONSerialization.jsonObject(with: line) as? [String: Any]
                let data = object?["data"] as? [String: Any] ?? [:]
                let created = Timestamps.parseISO8601(data["created_at"] as? String ?? "") ?? 0
                let day = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(created, Timestamps.day)))
                let text = data["text"] as? String ?? ""
                guard days.contains(day), HistoryIngestionTests.symbols.contains(where: { text.hasPrefix($0.cashtag + " ") }) else { continue }
                ids.insert(UInt64(data["id"] as? String ?? "") ?? 0)
            }
            return ids
        }
    }

    /// 660 posts over three days starting on `postsFrom`, 60 per symbol (20 per symbol and day),
    /// already on X when the clock starts on `clockStart`.
    func fixture(clockStart: String = "2026-03-20", postsFrom: CivilDate = firstDay, speed: Double = speed,
                 emulator configure: (inout XAPIEmulator.Configuration) -> Void = { _ in }) async throws -> Fixture {
        let clock = TestClock(startingOn: clockStart, speed: speed)
        let start = EpochMillis(postsFrom.daysSinceEpoch) * Timestamps.day
        let feed = TestFeed.posts(count: 660, start: start + 60_000, spacing: .seconds(390))
        var configuration = XAPIEmulator.Configuration(bearerToken: StreamFixtures.token)
        configuration.clock = clock
        configuration.postsPerSecond = 0
        configuration.archivedBefore = clock.start
        configure(&configuration)
        let emulator = try XAPIEmulator(configuration: configuration, feedLines: feed)
        let base = try await emulator.start()
        let dir = TestSupport.temporaryDirectory("history")
        return Fixture(clock: clock, emulator: emulator, base: base, store: try LocalObjectStore(root: dir.appendingPathComponent("store")),
                       catalog: try Catalog(path: dir.appendingPathComponent("catalog.sqlite").path), feed: feed)
    }

    static var days: ClosedRange<CivilDate> { firstDay...firstDay.adding(days: 2) }

    @Test func historyPagesOverDaysAndSymbolsAndStoresEveryPostOnce() async throws {
        let f = try await fixture()
        defer { Task { await f.emulator.stop() } }
        let ingestor = f.ingestor()
        let estimate = try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound)
        #expect(estimate.archive == .all, "19 days back: only full-archive search reaches")
        #expect(estimate.windows.count == 9)
        let expected = try f.expectedIDs(days: Self.days)
        #expect(expected.count == 180)
        // The estimate matches what is then fetched, window by window in total.
        #expect(estimate.totalPosts == expected.count)
        let summary = try await ingestor.run(estimate)
        #expect(summary.fetched == estimate.totalPosts)
        #expect(summary.accepted == expected.count)
        #expect(summary.pages >= 18, "20 posts per window at 10 per page: pages were followed")
        let stored = try await StreamFixtures.storedIDs(f.store)
        #expect(Set(stored.keys) == expected)
        #expect(stored.values.allSatisfy { $0 == 1 })
        // One part per symbol and day; historical lines carry their fetch time and the mark.
        let parts = try await f.store.list(prefix: Dataset.rawPosts.rawValue + "/")
        #expect(parts.count == 9 && parts.allSatisfy { $0.hasSuffix("/part-history.jsonl.gz") }, "\(parts)")
        let line = try #require(JSONLines.read(try await f.store.get(parts[0]), gzipped: true).lines.first)
        let raw = try #require(RawPostLine.decode(line.bytes))
        #expect(raw.historical && raw.receivedAt >= f.clock.start)
        #expect(try await f.store.list(prefix: "_staging/").isEmpty)
        // Finished days are recorded and skipped: a second run fetches nothing.
        #expect(try f.catalog.completions(stage: HistoryIngestor.stage).count == 9)
        let again = try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound)
        #expect(again.windows.isEmpty && again.alreadyDone == 9)
        let state = f.emulator.state
        #expect(state.requestsByEndpoint["search-recent"] == nil)
        #expect(state.rateLimited == 0 && state.archiveTooFast == 0, "paced by X's limits: \(state.rateLimited) 429s, \(state.archiveTooFast) too fast")
    }

    @Test func rateLimitWaitsFollowTheDocumentedSchedule() async throws {
        // 12 full-archive requests per 15-minute window (X allows 300; fewer, so the window runs out here).
        // 100 times real time: a loaded machine's slow requests must not let a window's 15 minutes pass on their own.
        let f = try await fixture(speed: 100) { $0.archiveSearchLimit = 12 }
        defer { Task { await f.emulator.stop() } }
        let ingestor = f.ingestor()
        let started = f.clock.now()
        _ = try await ingestor.run(try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound))
        let state = f.emulator.state
        let requests = state.requestsByEndpoint["search-all", default: 0]
        #expect(requests >= 18)
        #expect(state.rateLimited == 0, "every window's reset was waited for, never run into")
        #expect(state.archiveTooFast == 0, "at most one full-archive request per second")
        // Waits for a reset are the rest of a 15-minute window (plus the second the header rounds away): one per
        // exhausted window, unless slow requests on a loaded machine let that window's 15 minutes pass first.
        let resets = f.clock.sleeps.filter { $0 > .seconds(5) }
        #expect(resets.count <= (requests - 1) / 12, "\(resets)")
        #expect(resets.allSatisfy { $0 <= .seconds(901) })
        #expect(f.clock.now() - started >= 900_000 * EpochMillis((requests - 1) / 12) - 60_000)
    }

    @Test func fullArchiveRequestsAreSpacedOneSecondApart() async throws {
        // A slower clock than the others: a request takes well under a second of it, so spacing is needed.
        let f = try await fixture(speed: 5)
        defer { Task { await f.emulator.stop() } }
        let ingestor = f.ingestor()
        let estimate = try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound)
        let started = f.clock.now()
        _ = try await ingestor.run(estimate)
        let state = f.emulator.state
        let requests = state.requestsByEndpoint["search-all", default: 0]
        #expect(state.archiveTooFast == 0, "X allows one full-archive request per second")
        #expect(f.clock.now() - started >= EpochMillis(requests - 1) * 1000)
        #expect(f.clock.sleeps.contains { $0 > .zero && $0 <= .seconds(1) }, "the client spaced its requests itself")
    }

    @Test func aServerErrorMidPaginationAndExpiredTokensAreRiddenOut() async throws {
        // Request numbers count counts requests too: 3 counts, then the pages.
        let f = try await fixture {
            $0.searchFaults = [5: .unavailable, 7: .expiredToken, 8: .expiredToken, 9: .expiredToken, 10: .expiredToken, 12: .unavailable]
        }
        defer { Task { await f.emulator.stop() } }
        let ingestor = f.ingestor { $0.retry.baseDelay = .milliseconds(10) }
        let summary = try await ingestor.run(try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound))
        #expect(summary.retries == 2)
        #expect(summary.tokenRestarts >= 1)
        let stored = try await StreamFixtures.storedIDs(f.store)
        #expect(Set(stored.keys) == (try f.expectedIDs(days: Self.days)))
        #expect(stored.values.allSatisfy { $0 == 1 })
    }

    @Test func usageCapStopsCleanlyAndTheNextRunContinuesWithoutDuplicates() async throws {
        // The cap runs out mid-window: on the 5th request (3 counts, then a window's first page and the cap).
        let f = try await fixture { $0.searchFaults = [5: .usageCap] }
        defer { Task { await f.emulator.stop() } }
        let ingestor = f.ingestor()
        let estimate = try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound)
        let error = await #expect(throws: XAPIError.self) { _ = try await ingestor.run(estimate) }
        #expect(error?.isUsageCapExceeded == true && error?.errorCode == .usageCap)
        #expect(f.emulator.state.searchRequests == 5, "the usage cap is not retried")
        #expect(try await f.store.list(prefix: "_staging/history/").contains { $0.hasSuffix("cursor.json") }, "the cursor is kept")
        // The next run (the cap reset) continues the staged window and skips nothing else.
        let summary = try await ingestor.run(try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound))
        #expect(summary.resumed == 1)
        let stored = try await StreamFixtures.storedIDs(f.store)
        #expect(Set(stored.keys) == (try f.expectedIDs(days: Self.days)))
        #expect(stored.values.allSatisfy { $0 == 1 })
    }

    @Test func withoutFullArchiveRecentSearchServesTheLastSevenDaysAfterOneTry() async throws {
        // Posts from 4 days before the clock: recent search reaches them.
        let f = try await fixture(postsFrom: CivilDate(iso: "2026-03-16")!) { $0.fullArchive = false }
        defer { Task { await f.emulator.stop() } }
        let days = CivilDate(iso: "2026-03-16")!...CivilDate(iso: "2026-03-18")!
        let ingestor = f.ingestor()
        let estimate = try await ingestor.estimate(from: days.lowerBound, to: days.upperBound)
        #expect(estimate.archive == .recent)
        #expect(estimate.note?.contains("not available") == true)
        let summary = try await ingestor.run(estimate)
        let stored = try await StreamFixtures.storedIDs(f.store)
        #expect(Set(stored.keys) == (try f.expectedIDs(days: days)) && summary.accepted == stored.count)
        let state = f.emulator.state
        #expect(state.requestsByEndpoint["counts-all"] == 1, "full-archive tried once")
        #expect(state.requestsByEndpoint["search-all"] == nil)
        #expect(state.requestsByEndpoint["search-recent", default: 0] > 0)
    }

    @Test(arguments: [FullArchiveAccess.auto, .never])
    func aRangeOlderThanSevenDaysWithoutFullArchiveFailsBeforeFetching(mode: FullArchiveAccess) async throws {
        let f = try await fixture { $0.fullArchive = false }
        defer { Task { await f.emulator.stop() } }
        let ingestor = f.ingestor { $0.fullArchive = mode }
        let error = await #expect(throws: HistoryIngestor.OutOfReach.self) {
            _ = try await ingestor.estimate(from: Self.days.lowerBound, to: Self.days.upperBound)
        }
        #expect(error?.description.contains("more than 7 days") == true && error?.description.contains("Nothing was fetched") == true, "\(String(describing: error))")
        let state = f.emulator.state
        #expect(state.searchedPosts == 0)
        #expect(state.requestsByEndpoint.keys.allSatisfy { $0.hasPrefix("counts") })
        #expect(state.searchRequests == (mode == .never ? 0 : 1))
    }

    @Test func aQueryLongerThanRecentSearchTakesFailsBeforeFetching() async throws {
        let f = try await fixture(postsFrom: CivilDate(iso: "2026-03-16")!) { $0.fullArchive = false }
        defer { Task { await f.emulator.stop() } }
        // $V needs a keyword: 60 of them make a rule of about 800 characters (the stream takes 1,024, recent search 512).
        let keywords = (0..<60).map { "keyword\($0)" }
        var filters = IngestFilters()
        filters.keywords = Set(keywords)
        let ingestor = HistoryIngestor(api: XAPIClient(baseURL: f.base, bearer: Secret(StreamFixtures.token)), store: f.store, catalog: f.catalog,
                                       symbols: [Symbol("V")], filters: filters,
                                       rules: StreamRuleSet(symbols: [Symbol("V")], filters: filters, ruleKeywords: keywords), clock: f.clock, logger: StreamFixtures.logger)
        let error = await #expect(throws: HistoryIngestor.QueryTooLong.self) {
            _ = try await ingestor.estimate(from: CivilDate(iso: "2026-03-16")!, to: CivilDate(iso: "2026-03-18")!)
        }
        #expect(error?.description.contains("at most 512") == true, "\(String(describing: error))")
        #expect(f.emulator.state.requestsByEndpoint["counts-recent"] == nil && f.emulator.state.searchedPosts == 0)
    }

    @Test func alwaysFullArchiveOnAnAccountWithoutItIsAnError() async throws {
        let f = try await fixture(postsFrom: CivilDate(iso: "2026-03-16")!) { $0.fullArchive = false }
        defer { Task { await f.emulator.stop() } }
        let error = await #expect(throws: XAPIError.self) {
            _ = try await f.ingestor { $0.fullArchive = .always }.estimate(from: CivilDate(iso: "2026-03-16")!, to: CivilDate(iso: "2026-03-18")!)
        }
        #expect(error?.isNotEnrolled == true)
    }
}
