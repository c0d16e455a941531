import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import Foundation
import Logging
import ConvictionXPayload

/// Fetches past posts from X's search into the raw store, one window per symbol and UTC day:
/// full-archive search (`/2/tweets/search/all`) where the account has it, recent search (the last
/// 7 days) otherwise. `estimate` asks the counts endpoint first, so a run's size and cost are known
/// before a post is read.
///
/// Each page is staged under `_staging/history/<symbol>/<day>/` and the window's cursor (query,
/// bounds, `next_token`, the oldest id fetched) saved after it, so a killed run continues from the
/// last staged page. A finished window becomes one part, `raw/posts/dt=<day>/symbol=<S>/part-history.jsonl.gz`
/// (rewritten whole, never appended: a re-fetch cannot duplicate), and a catalog record that later
/// runs skip. Posts pass the same filters and quarantine as the stream and replay; a post naming
/// several symbols is stored in each symbol's window, as the stream stores it in each partition.
public final class HistoryIngestor: Sendable {
    public static let stage = "ingest-history"
    static let stagingPrefix = "_staging/history/"

    public struct Settings: Sendable {
        public var fullArchive = FullArchiveAccess.auto
        /// Posts per page, clipped to the endpoint's maximum (500 full-archive, 100 recent).
        public var pageSize = 500
        /// Retries of one request: 429 waits for the reset, 5xx and network errors back off.
        public var retry = RetryPolicy(maxAttempts: 6, baseDelay: .seconds(1), maxDelay: .seconds(60), jitter: .equal, maxServerWait: .seconds(960))
        public init() {}
    }

    /// One symbol's posts on one UTC day (`end` is earlier for today: X serves up to 10 s ago).
    public struct Window: Sendable, Hashable, Codable, Comparable {
        public var symbol: Symbol
        public var day: CivilDate
        public var start: EpochMillis
        public var end: EpochMillis
        public var unit: String { "\(symbol.rawValue)/\(day.isoString)" }
        /// Whole days are recorded as finished; today's partial window is fetched again next time.
        public var isWholeDay: Bool { end - start == Timestamps.day }
        public static func < (a: Window, b: Window) -> Bool { (a.day, a.symbol.rawValue) < (b.day, b.symbol.rawValue) }
    }

    /// What a run would fetch, from the counts endpoint.
    public struct Estimate: Sendable {
        public var archive: XAPIClient.Archive
        /// Windows still to fetch, with X's post count for each.
        public var windows: [(window: Window, posts: Int)]
        /// Windows already finished by an earlier run (skipped).
        public var alreadyDone: Int
        /// Why recent search was chosen over full-archive search, when it was tried.
        public var note: String?
        public var totalPosts: Int { windows.reduce(0) { $0 + $1.posts } }
    }

    public struct Summary: Sendable {
        public var windows = 0
        public var pages = 0
        /// Posts X returned, every window counted (what X bills).
        public var fetched = 0
        public var accepted = 0
        public var rejected: [String: Int] = [:]
        /// Posts a symbol's query returned that the filters kept only for other symbols.
        public var otherSymbols = 0
        /// Windows continued from a cursor a stopped run left.
        public var resumed = 0
        /// Pages re-requested after X refused a `next_token` (expired).
        public var tokenRestarts = 0
        public var retries = 0
    }

    public struct QueryTooLong: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let description: String
    }

    public struct OutOfReach: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let description: String
    }

    let api: XAPIClient
    let store: any ObjectStore
    let catalog: Catalog
    let symbols: [Symbol]
    let filters: IngestFilters
    let rules: StreamRuleSet
    let settings: Settings
    let clock: any TimeSource
    let logger: Logger
    let throttle: SearchThrottle

    public init(api: XAPIClient, store: any ObjectStore, catalog: Catalog, symbols: [Symbol], filters: IngestFilters, rules: StreamRuleSet,
                settings: Settings = .init(), clock: any TimeSource = SystemTimeSource(), logger: Logger) {
        self.api = api; self.store = store; self.catalog = catalog; self.symbols = symbols; self.filters = filters
        self.rules = rules; self.settings = settings; self.clock = clock; self.logger = logger
        throttle = SearchThrottle(clock: clock, maxWait: settings.retry.maxServerWait)
    }

    /// The search query for a symbol: its stream rule, so history asks for what the stream gets.
    func queries() throws -> [Symbol: String] {
        var byTag: [Symbol: String] = [:]
        for rule in try rules.rules() { if let tag = rule.tag { byTag[Symbol(tag)] = rule.value } }
        return byTag
    }

    /// What a window's result depends on: the query and the filters.
    func inputHash(_ query: String) -> String {
        var hasher = ContentHasher()
        hasher.update(query)
        hasher.update(filters.fingerprint)
        return hasher.finalize()
    }

    // MARK: - Estimate

    /// Windows for `from...to` (UTC days, both included) and each one's post count, with the archive
    /// to use. Throws `OutOfReach` before anything is read when the range needs full-archive search
    /// and the account cannot use it.
    public func estimate(from: CivilDate, to: CivilDate) async throws -> Estimate {
        let now = clock.now()
        let latest = now - 30_000  // X serves search up to 10 s ago; a margin for the run's own duration
        let queries = try queries()
        var windows: [Window] = []
        var day = from
        while day <= to {
            let start = EpochMillis(day.daysSinceEpoch) * Timestamps.day
            if start < latest {
                for symbol in symbols { windows.append(Window(symbol: symbol, day: day, start: start, end: min(start + Timestamps.day, latest))) }
            }
            day = day.adding(days: 1)
        }
        var pending: [Window] = []
        for window in windows {
            let query = queries[window.symbol] ?? ""
            if window.isWholeDay, try await catalog.finished(stage: Self.stage, unit: window.unit, inputHash: inputHash(query), store: store) != nil { continue }
            pending.append(window)
        }
        let alreadyDone = windows.count - pending.count
        guard let first = pending.map(\.start).min(), let last = pending.map(\.end).max() else {
            return Estimate(archive: .recent, windows: [], alreadyDone: alreadyDone, note: nil)
        }
        // A margin of an hour: the run takes time, and X refuses a start beyond recent search's reach.
        let reach = now - XAPIClient.Archive.recentReach + Timestamps.hour
        let needsArchive = first < reach
        var archive: XAPIClient.Archive = settings.fullArchive == .never ? .recent : .all
        var note: String?
        var counts: [Symbol: [EpochMillis: Int]] = [:]
        func outOfReach(_ why: String) -> OutOfReach {
            OutOfReach(description: "history from \(from.isoString) reaches back more than 7 days, and \(why); recent search covers only "
                       + "\(Timestamps.iso8601(reach)) onward. Ask for --from \(CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(reach, Timestamps.day)) + 1).isoString) or later, "
                       + "or use an account with full-archive search (X's Pro or Enterprise plans). Nothing was fetched.")
        }
        if archive == .recent, needsArchive { throw outOfReach("full-archive search is off (ingest.full_archive = \"never\")") }
        func checkLengths(_ archive: XAPIClient.Archive) throws {
            for symbol in Set(pending.map(\.symbol)) where (queries[symbol] ?? "").count > archive.maxQueryLength {
                throw QueryTooLong(description: "the query for \(symbol.rawValue) (its stream rule) is \(queries[symbol]!.count) characters; "
                                   + "\(archive.rawValue) search takes at most \(archive.maxQueryLength). Shorten universe.keywords. Nothing was fetched.")
            }
        }
        try checkLengths(archive)
        for symbol in Set(pending.map(\.symbol)).sorted(by: { $0.rawValue < $1.rawValue }) {
            let query = queries[symbol] ?? ""
            let endpointStart = archive == .recent ? max(first, reach) : first
            do {
                counts[symbol] = try await count(archive, query: query, start: endpointStart, end: last)
            } catch let error as XAPIError where error.isNotEnrolled && archive == .all {
                guard settings.fullArchive == .auto else { throw error }
                if needsArchive { throw outOfReach("X answered that this account is not enrolled for full-archive search (\(error.title))") }
                note = "full-archive search is not available to this account (X: \(error.title)); recent search covers the range"
                logger.notice("ingest history: \(note!)")
                archive = .recent
                try checkLengths(archive)
                counts[symbol] = try await count(archive, query: query, start: first, end: last)
            }
        }
        let estimated = pending.map { window in (window, counts[window.symbol]?[window.start] ?? 0) }
        return Estimate(archive: archive, windows: estimated, alreadyDone: alreadyDone, note: note)
    }

    /// Counts per day for one query, keyed by the day's start.
    func count(_ archive: XAPIClient.Archive, query: String, start: EpochMillis, end: EpochMillis) async throws -> [EpochMillis: Int] {
        let endpoint = SearchThrottle.endpoint("counts", archive)
        let (days, limit) = try await settings.retry.run(clock: clock, classify: throttle.classify, willRetry: retried) { _ in
            try await api.countsPerDay(archive, query: query, start: start, end: end) { try await self.throttle.wait(before: endpoint, onWait: self.waiting) }
        }
        throttle.record(limit, for: endpoint)
        var byDay: [EpochMillis: Int] = [:]
        for bucket in days { byDay[Timestamps.floorDiv(bucket.start, Timestamps.day) * Timestamps.day, default: 0] += bucket.count }
        return byDay
    }

    func retried(_ attempt: Int, _ error: any Error, _ wait: Duration) {
        logger.info("ingest history: request retried", metadata: ["attempt": "\(attempt)", "wait_s": "\(wait.seconds)", "error": "\(error)"])
    }

    func waiting(_ wait: Duration) {
        logger.notice("ingest history: rate-limit window used up; waiting \(Int(wait.seconds.rounded())) s for its reset")
    }

    // MARK: - Fetch

    /// Fetches every window of the estimate, oldest day first, reporting progress after each.
    public func run(_ estimate: Estimate, progress: (Summary, _ done: Int, _ total: Int) -> Void = { _, _, _ in }) async throws -> Summary {
        let queries = try queries()
        var summary = Summary()
        for (index, (window, _)) in estimate.windows.sorted(by: { $0.window < $1.window }).enumerated() {
            try Task.checkCancellation()
            try await fetch(window, query: queries[window.symbol] ?? "", archive: estimate.archive, summary: &summary)
            summary.windows += 1
            progress(summary, index + 1, estimate.windows.count)
        }
        return summary
    }
}
