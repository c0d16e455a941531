import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXEmulator
import Foundation
import Testing

extension StreamIngestionTests {
    @Test func usageCapStopsTheStreamAndItsBackfillWithoutRetrying() async throws {
        let clock = TestClock(speed: Self.speed)
        let feed = TestFeed.posts(count: 400, start: clock.start, spacing: .milliseconds(50))
        let (summary, emulator, store) = try await ingest(feed: feed, emulator: { c in
            c.monthlyPostCap = 150
        }, clock: clock, until: { _ in false })
        #expect(summary.fatalCode == .usageCap)
        #expect(summary.fatal?.contains("monthly post cap") == true, "\(summary.fatal ?? "")")
        // Not taken for a rate limit: no reconnect waits on the 429, no backfill retries.
        #expect(!summary.waits.contains { $0.cls == .rateLimited }, "\(summary.waits)")
        #expect(summary.backfillRetries == 0)
        // What arrived before the cap is stored.
        let stored = try await StreamFixtures.storedIDs(store)
        #expect(stored.count == summary.accepted && stored.count >= 100)
        // The server checks the cap between chunks of 8 lines, so it may overshoot by a chunk.
        #expect(emulator.state.streamedPosts <= 150 + 8)
    }

    /// A stream of posts created ten days before the clock (catching up after a long outage), dropped
    /// three times, so each gap's start is older than recent search reaches.
    func streamOfOldPosts(fullArchive: Bool) async throws -> (summary: StreamIngestor.Summary, emulator: XAPIEmulator, store: LocalObjectStore) {
        let clock = TestClock(speed: Self.speed)
        let feed = TestFeed.posts(count: 300, start: clock.start - 10 * Timestamps.day, spacing: .seconds(1))
        return try await ingest(feed: feed, emulator: { c in
            c.faults = [.dropMidLine]
            c.faultCount = 3
            c.faultEveryPosts = 40
            c.fullArchive = fullArchive
        }, clock: clock, until: { e in e.exhausted && e.state.faultsInjected.values.reduce(0, +) >= 3 })
    }

    @Test func aGapOlderThanSevenDaysIsFilledByFullArchiveSearch() async throws {
        let (summary, emulator, store) = try await streamOfOldPosts(fullArchive: true)
        let state = emulator.state
        #expect(state.requestsByEndpoint["search-all", default: 0] > 0)
        #expect(state.requestsByEndpoint["search-recent"] == nil)
        #expect(state.archiveTooFast == 0)
        let stored = try await StreamFixtures.storedIDs(store)
        #expect(Set(stored.keys) == Set(emulator.emittedIDs()))
        #expect(summary.backfillWindows >= 1 && summary.fatal == nil)
    }

    @Test func withoutFullArchiveAnOldGapFallsBackToRecentSearchAfterOneTry() async throws {
        let (summary, emulator, _) = try await streamOfOldPosts(fullArchive: false)
        let state = emulator.state
        #expect(state.requestsByEndpoint["search-all"] == 1, "tried once: \(state.requestsByEndpoint)")
        #expect(state.requestsByEndpoint["search-recent", default: 0] > 0)
        #expect(summary.fatal == nil)
    }
}
