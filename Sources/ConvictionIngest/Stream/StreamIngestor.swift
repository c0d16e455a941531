import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Ingests the X API v2 filtered stream into the store, losing nothing.
///
/// Producers and one consumer share a bounded queue. The producers run in one task group that
/// `stop()` cancels: the *connection loop* follows X's reconnect schedule, closing each connection
/// before opening the next, with a thin *reader* that frames bytes into lines and never waits for
/// processing (when the queue is full it counts the overflow and reports a gap); the *backfill*
/// task fills gaps with recent search, one window at a time; a *ticker* drives fsyncs, commits and
/// rates. The *processor* is the only writer of the journal: it filters, de-duplicates and journals
/// every post from the stream or the backfill, and commits the journal to the store. It stays
/// outside the cancelled group on purpose: after `stop()` it drains what was read, commits, and
/// `run()` returns. A backfill waiting for a rate-limit reset therefore never holds up the stream.
///
/// Every wait (watchdog, commits, back-off, rate-limit resets) reads the injected `TimeSource`.
public final class StreamIngestor: Sendable {
    public struct Settings: Sendable {
        /// No bytes (not even a keep-alive) for this long means the stream is dead.
        public var idleTimeout: Duration = .seconds(21)
        public var queueCapacity = 100_000
        public var commitInterval: Duration = .seconds(60)
        public var commitPosts = 10_000
        public var fsyncInterval: Duration = .seconds(1)
        /// How often the ticker fsyncs, commits when due and updates rates.
        public var tickInterval: Duration = .milliseconds(250)
        public var policy = ReconnectPolicy()
        /// Consecutive 401/403 answers before giving up (bad credentials do not heal by waiting).
        public var maxAuthFailures = 5
        /// Stop once connected, caught up, and nothing new arrived for this long (batch use: the demo).
        public var stopWhenIdle: Duration?
        public var backfill = true
        /// Whether the backfill of a gap older than recent search's 7 days may use full-archive search.
        public var fullArchive = FullArchiveAccess.auto
        /// Retries of one search page (429 honours the reset header, 5xx and network errors back off).
        /// When they are used up the window waits and is tried again after `backfillRetry`'s back-off.
        public var backfillRetry = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(60), jitter: .equal,
                                               maxServerWait: .seconds(960))
        public init() {}
    }

    /// One wait before a reconnect, as the schedule chose it.
    public struct Wait: Sendable, Equatable {
        public var cls: DisconnectClass
        public var attempt: Int
        public var duration: Duration
        /// Set when a rate-limit reset lengthened the scheduled wait.
        public var untilReset: Bool

        public init(cls: DisconnectClass, attempt: Int, duration: Duration, untilReset: Bool) {
            self.cls = cls; self.attempt = attempt; self.duration = duration; self.untilReset = untilReset
        }
    }

    public struct Summary: Sendable {
        public var accepted = 0
        public var rejected: [String: Int] = [:]
        /// v1.1 stream notices (delete, limit, ...) by kind: skipped, not quarantined.
        public var notices: [String: Int] = [:]
        public var backfilled = 0
        public var backfillOverlap = 0
        /// Backfill windows filled to the end.
        public var backfillWindows = 0
        /// Search pages retried after a 429, a 5xx or a network error.
        public var backfillRetries = 0
        public var connects = 0
        /// Connections the idle watchdog ended (no bytes for `idleTimeout`).
        public var idleDrops = 0
        public var waits: [Wait] = []
        public var recoveredSegments = 0
        public var truncatedJournalLines = 0
        /// Set when the ingester gave up (bad credentials); the CLI exits non-zero.
        public var fatal: String?
        /// What kind of failure `fatal` is, when it has a code of its own (the usage cap).
        public var fatalCode: ErrorCode?
    }

    enum Item: Sendable {
        case line([UInt8], receivedAt: Int64, seq: Int)
        /// A connection was established, or lines were dropped: ids since the newest one may be missing.
        case gap(reason: String, connected: Bool)
        case backfillPage([Data], Delivery)
        case backfillDone(BackfillWindow, posts: Int, Delivery)
        case tick
    }

    enum StreamEnd: Error { case idle, operationalDisconnect(String), stopped }
    /// The journal could not be written: fatal, unlike a failed search page.
    struct JournalFailure: Error { let underlying: any Error }

    let api: XAPIClient
    let store: any ObjectStore
    let journal: IngestJournal
    let symbols: [Symbol]
    let filters: IngestFilters
    let rules: StreamRuleSet
    let settings: Settings
    let clock: any TimeSource
    public let metrics: IngestMetrics
    let logger: Logger

    private let stopped = NIOLockedValueBox(false)
    /// Stop once quiet for `idle`, counted from the last post or from `since` (when it was asked), whichever is later.
    private let idleStop = NIOLockedValueBox<(idle: Duration, since: Int64)?>(nil)
    private let producers = NIOLockedValueBox<Task<Void, Never>?>(nil)
    let summary = NIOLockedValueBox(Summary())
    /// The reader's last queued sequence number when the queue first overflowed.
    let overflowAfter = NIOLockedValueBox<Int?>(nil)
    let queued = NIOLockedValueBox(0)
    /// Paces the backfill's search requests by X's limits.
    let throttle: SearchThrottle
    /// Set once full-archive search answered that the account is not enrolled.
    let fullArchiveRefused = NIOLockedValueBox(false)

    /// The ingester owns `api`: `run()` shuts it down before it returns.
    public init(api: XAPIClient, store: any ObjectStore, journal: IngestJournal, symbols: [Symbol], filters: IngestFilters,
                rules: StreamRuleSet, settings: Settings = .init(), clock: any TimeSource = SystemTimeSource(),
                metrics: IngestMetrics = IngestMetrics(), logger: Logger) {
        self.api = api; self.store = store; self.journal = journal; self.symbols = symbols; self.filters = filters
        self.rules = rules; self.settings = settings; self.clock = clock; self.metrics = metrics; self.logger = logger
        throttle = SearchThrottle(clock: clock, maxWait: settings.backfillRetry.maxServerWait)
        idleStop.withLockedValue { $0 = settings.stopWhenIdle.map { ($0, clock.monotonicMillis()) } }
    }

    /// From now on, stop once connected, caught up, and quiet for `idle` (counted from now at the
    /// earliest, so bytes already on their way are read first).
    public func stopWhenIdle(_ idle: Duration) { idleStop.withLockedValue { $0 = (idle, clock.monotonicMillis()) } }

    /// Asks the ingester to finish: stop reading and backfilling, process what was read, commit, return.
    public func stop() {
        stopped.withLockedValue { $0 = true }
        producers.withLockedValue { $0?.cancel() }
    }

    public var isStopping: Bool { stopped.withLockedValue { $0 } }

    /// The counts so far, while it runs.
    public var progress: Summary { summary.withLockedValue { $0 } }

    func event(_ name: String, _ metadata: Logger.Metadata = [:]) {
        var m = metadata
        m["event"] = .string(name)
        logger.info("ingest stream: \(name)", metadata: m)
    }

    // MARK: - Run

    public func run() async throws -> Summary {
        try await runUntilStopped()
    }

    private func runUntilStopped() async throws -> Summary {
        var processor = PostProcessor(symbols: symbols, filters: filters)
        let recovered = try journal.recover()
        for (id, createdAt) in recovered.ids { processor.remember(id: id, createdAt: createdAt) }
        for (key, at) in recovered.texts { processor.remember(textKey: key, createdAt: at) }
        if !recovered.pendingSegments.isEmpty {
            let posts = try await journal.commit(to: store)
            event("recovered", ["segments": "\(recovered.pendingSegments.count)", "posts": "\(posts)",
                                "truncated_lines": "\(recovered.truncatedLines)"])
        }
        summary.withLockedValue {
            $0.recoveredSegments = recovered.pendingSegments.count
            $0.truncatedJournalLines = recovered.truncatedLines
        }
        let backfill = BackfillScheduler()
        // A backfill cut short by the last run resumes from its since_id.
        if settings.backfill, let floor = recovered.backfillFloor {
            backfill.request(BackfillWindow(since: floor, sinceTime: recovered.ids.first { $0.0 == floor }?.1))
        }

        let (queue, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(settings.queueCapacity))
        let producing = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.connectionLoop(continuation) }
                if self.settings.backfill { group.addTask { await self.backfillLoop(backfill, continuation) } }
                group.addTask { await self.tickLoop(continuation) }
                // The connection loop ends only when stopping or giving up; then so does the rest.
                _ = await group.next()
                group.cancelAll()
            }
            continuation.finish()
        }
        producers.withLockedValue { $0 = producing }
        if isStopping { producing.cancel() }
        do {
            try await process(queue, processor: &processor, backfill: backfill, newestID: recovered.newestID)
        } catch {
            // Processing failed (the journal or the store): stop reading, then report.
            stop()
            await producing.value
            throw error
        }
        await producing.value
        return summary.withLockedValue { $0 }
    }

    private func tickLoop(_ queue: AsyncStream<Item>.Continuation) async {
        while !isStopping && !Task.isCancelled {
            do { try await clock.sleep(for: settings.tickInterval) } catch { return }
            queue.yield(.tick)
        }
    }

    // MARK: - Processing

    private func process(_ queue: AsyncStream<Item>, processor: inout PostProcessor, backfill: BackfillScheduler,
                         newestID start: UInt64?) async throws {
        // The newest id the *stream* delivered. Only the stream counts: a backfill of one query's
        // symbols may already hold newer posts than the others'.
        var newestID = start
        var lastCommit = clock.monotonicMillis()
        var lastActivity = clock.monotonicMillis()
        // Set by a reconnect: the next stream post bounds the gap's window from above.
        var boundNextPost = false

        func handle(_ line: [UInt8], receivedAt: Int64, seq: Int, backfill fromBackfill: Bool) throws -> UInt64? {
            let payload = Data(line)
            switch processor.process(payload, receivedAt: receivedAt) {
            case .accepted(let post, let symbols):
                let raw = RawPostLine.encode(payload: payload, receivedAt: receivedAt)
                let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(post.createdAt, Timestamps.day)))
                let id = UInt64(post.id) ?? 0
                try journal.append(.init(kind: .post, id: id, createdAt: post.createdAt,
                                         textKey: PostProcessor.textKey(author: post.authorID, text: post.text),
                                         partitions: symbols.map { Partition(.rawPosts, date: date, symbol: $0) }, json: raw,
                                         fromBackfill: fromBackfill))
                metrics.accepted(symbols: symbols, lagMillis: receivedAt - post.createdAt, at: receivedAt)
                summary.withLockedValue { $0.accepted += 1; if fromBackfill { $0.backfilled += 1 } }
                if fromBackfill { metrics.update { $0.backfilledPosts += 1 } }
                return id
            case .rejected(let reason, let detail, let id, let createdAt):
                if fromBackfill && reason == "duplicate_id" {
                    // Expected: the backfill overlaps what the stream delivered.
                    summary.withLockedValue { $0.backfillOverlap += 1 }
                    return id
                }
                let record = QuarantineRecord(stage: IngestJournal.stage, source: fromBackfill ? "x-recent-search" : "x-stream", line: seq,
                                              reason: reason, detail: detail, raw: String(decoding: line, as: UTF8.self))
                try journal.append(.init(kind: .quarantine, id: id ?? 0, createdAt: createdAt ?? 0, textKey: 0, partitions: [], json: record.encoded(),
                                         fromBackfill: fromBackfill))
                metrics.update { $0.rejectedByReason[reason, default: 0] += 1 }
                summary.withLockedValue { $0.rejected[reason, default: 0] += 1 }
                return id
            case .skipped(let notice):
                summary.withLockedValue { $0.notices[notice, default: 0] += 1 }
                return nil
            }
        }

        /// Records a gap after the newest stream id; it merges into the waiting window.
        func gap(_ reason: String, connected: Bool) throws {
            guard settings.backfill else { return }
            guard let since = newestID else {
                event("backfill skipped", ["reason": .string(reason), "why": "no post received yet"])
                return
            }
            backfill.request(BackfillWindow(since: since, sinceTime: processor.seenIDs[since]))
            boundNextPost = connected
            try journal.saveBackfillFloor(backfill.floor)
            event("gap", ["reason": .string(reason), "since_id": "\(since)"])
        }

        func commitIfDue(force: Bool) async throws {
            guard force || journal.entriesInSegment >= settings.commitPosts
                    || (journal.entriesInSegment > 0 && clock.elapsed(since: lastCommit) >= settings.commitInterval) else { return }
            let posts = try await journal.commit(to: store)
            lastCommit = clock.monotonicMillis()
            // Keep memory bounded as the database is: ids for recent search's 7 days, texts for the window.
            if let newest = journal.newestCreatedAt { processor.forget(behind: newest) }
            metrics.update { $0.committedSegments += 1 }
            if posts > 0 { event("committed", ["posts": "\(posts)"]) }
        }

        for await item in queue {
            switch item {
            case .line(let line, let receivedAt, let seq):
                queued.withLockedValue { $0 -= 1 }
                if let id = try handle(line, receivedAt: receivedAt, seq: seq, backfill: false) {
                    newestID = max(newestID ?? 0, id)
                    if boundNextPost { backfill.bound(until: id); boundNextPost = false }
                }
                lastActivity = clock.monotonicMillis()
                if let mark = overflowAfter.withLockedValue({ $0 }), seq >= mark {
                    overflowAfter.withLockedValue { $0 = nil }
                    try gap("queue overflow", connected: false)
                }
                try await commitIfDue(force: false)
            case .gap(let reason, let connected):
                try gap(reason, connected: connected)
            case .backfillPage(let posts, let delivery):
                for post in posts {
                    do { _ = try handle(Array(post), receivedAt: clock.now(), seq: 0, backfill: true) } catch { throw JournalFailure(underlying: error) }
                }
                delivery.done()
                lastActivity = clock.monotonicMillis()
                try await commitIfDue(force: false)
            case .backfillDone(let window, let posts, let delivery):
                backfill.complete()
                try journal.saveBackfillFloor(backfill.floor)
                summary.withLockedValue { $0.backfillWindows += 1 }
                event("backfill done", ["window": "\(window)", "posts": "\(posts)"])
                delivery.done()
            case .tick:
                journal.syncIfDue()
                metrics.tickRates()
                metrics.update { $0.queueDepth = max(0, queued.withLockedValue { $0 }) }
                try await commitIfDue(force: false)
                if let (idle, since) = idleStop.withLockedValue({ $0 }), backfill.isIdle, metrics.snapshot.connected,
                   clock.elapsed(since: max(lastActivity, since)) >= idle, queued.withLockedValue({ $0 }) == 0 {
                    event("idle, stopping", ["idle_s": "\(idle.seconds)"])
                    stop()
                }
            }
        }
        try await commitIfDue(force: true)
    }
}
