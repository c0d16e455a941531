import AsyncHTTPClient
import ConvictionCore
import ConvictionStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Ingests the X API v2 filtered stream into the store, losing nothing.
///
/// Three tasks share one bounded queue: a thin *reader* frames the connection's bytes into lines and
/// queues them (it never waits for processing: when the queue is full it counts the overflow and
/// asks for a backfill); the *processor* filters, de-duplicates and journals each post and commits
/// the journal to the store; a *ticker* drives fsyncs, commits and rates. Around the reader, the
/// connection loop follows X's reconnect schedule, closes each connection before opening the
/// next, and after every connect asks the processor to fill the gap with recent search
/// (`since_id` = the newest id received).
public final class StreamIngestor: Sendable {
    public struct Settings: Sendable {
        /// No bytes (not even a keep-alive) for this long means the stream is dead.
        public var idleTimeout: Duration = .seconds(21)
        public var queueCapacity = 100_000
        public var commitInterval: Duration = .seconds(60)
        public var commitPosts = 10_000
        public var fsyncInterval: Duration = .seconds(1)
        public var policy = ReconnectPolicy()
        /// Consecutive 401/403 answers before giving up (bad credentials do not heal by waiting).
        public var maxAuthFailures = 5
        /// Stop once connected, caught up, and nothing new arrived for this long (batch use: the demo).
        public var stopWhenIdle: Duration?
        public var backfill = true
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
        public var backfilled = 0
        public var backfillOverlap = 0
        public var connects = 0
        public var waits: [Wait] = []
        public var recoveredSegments = 0
        public var truncatedJournalLines = 0
        /// Set when the ingester gave up (bad credentials); the CLI exits non-zero.
        public var fatal: String?
    }

    enum Item: Sendable {
        case line([UInt8], receivedAt: Int64, seq: Int)
        case backfill(reason: String)
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
    let clock: any IngestClock
    public let metrics: IngestMetrics
    let logger: Logger

    private let stopped = NIOLockedValueBox(false)
    private let idleStop = NIOLockedValueBox<Duration?>(nil)
    private let connector = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let summary = NIOLockedValueBox(Summary())
    /// The reader's last queued sequence number when the queue first overflowed.
    private let overflowAfter = NIOLockedValueBox<Int?>(nil)
    private let queued = NIOLockedValueBox(0)

    public init(api: XAPIClient, store: any ObjectStore, journal: IngestJournal, symbols: [Symbol], filters: IngestFilters,
                rules: StreamRuleSet, settings: Settings = .init(), clock: any IngestClock = SystemIngestClock(),
                metrics: IngestMetrics = IngestMetrics(), logger: Logger) {
        self.api = api; self.store = store; self.journal = journal; self.symbols = symbols; self.filters = filters
        self.rules = rules; self.settings = settings; self.clock = clock; self.metrics = metrics; self.logger = logger
        idleStop.withLockedValue { $0 = settings.stopWhenIdle }
    }

    /// From now on, stop once connected, caught up, and quiet for `idle`.
    public func stopWhenIdle(_ idle: Duration) { idleStop.withLockedValue { $0 = idle } }

    /// Asks the ingester to finish: stop reading, process what was read, commit, return.
    public func stop() {
        stopped.withLockedValue { $0 = true }
        connector.withLockedValue { $0?.cancel() }
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

        let (queue, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(settings.queueCapacity))
        let connection = Task { await self.connectionLoop(continuation) }
        connector.withLockedValue { $0 = connection }
        if isStopping { connection.cancel() }
        let ticker = Task {
            while !self.isStopping && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                continuation.yield(.tick)
            }
        }
        let finishing = Task {
            await connection.value
            ticker.cancel()
            continuation.finish()
        }
        do {
            try await process(queue, processor: &processor, newestID: recovered.newestID, backfillFloor: recovered.backfillFloor)
        } catch {
            // Processing failed (the journal or the store): stop reading, then report.
            stop()
            connection.cancel()
            ticker.cancel()
            await finishing.value
            throw error
        }
        await finishing.value
        return summary.withLockedValue { $0 }
    }

    // MARK: - Processing

    private func process(_ queue: AsyncStream<Item>, processor: inout PostProcessor, newestID start: UInt64?,
                         backfillFloor recoveredFloor: UInt64?) async throws {
        // The newest id the *stream* delivered. Only the stream counts: a backfill running while
        // the next gap opens may already hold newer posts of one query's symbols, not of the others.
        var newestID = start
        // The newest id before the gap being filled: `since_id` for every page and retry of this
        // backfill. It moves on only when a backfill has finished, and is kept on disk meanwhile,
        // so neither a failed page nor a crash can skip the older part of a gap.
        var floor = recoveredFloor
        var lastCommit = ContinuousClock.now
        var lastActivity = ContinuousClock.now
        var backfillPending = false
        var lastBackfillTry = ContinuousClock.now

        func handle(_ line: [UInt8], receivedAt: Int64, seq: Int, backfill: Bool) throws {
            let payload = Data(line)
            switch processor.process(payload, receivedAt: receivedAt) {
            case .accepted(let post, let symbols):
                let raw = RawPostLine.encode(payload: payload, receivedAt: receivedAt)
                let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(post.createdAt, Timestamps.day)))
                let id = UInt64(post.id) ?? 0
                try journal.append(.init(kind: .post, id: id, createdAt: post.createdAt,
                                         textKey: PostProcessor.textKey(author: post.authorID, text: post.text),
                                         partitions: symbols.map { Partition(.rawPosts, date: date, symbol: $0) }, json: raw,
                                         fromBackfill: backfill))
                if !backfill { newestID = max(newestID ?? 0, id) }
                metrics.accepted(symbols: symbols, lagMillis: receivedAt - post.createdAt, at: receivedAt)
                summary.withLockedValue { $0.accepted += 1; if backfill { $0.backfilled += 1 } }
                if backfill { metrics.update { $0.backfilledPosts += 1 } }
            case .rejected(let reason, let detail, let id, let createdAt):
                if let id, !backfill { newestID = max(newestID ?? 0, id) }
                if backfill && reason == "duplicate_id" {
                    // Expected: the backfill overlaps what the stream delivered.
                    summary.withLockedValue { $0.backfillOverlap += 1 }
                    return
                }
                let record = QuarantineRecord(stage: IngestJournal.stage, source: backfill ? "x-recent-search" : "x-stream", line: seq,
                                              reason: reason, detail: detail, raw: String(decoding: line, as: UTF8.self))
                try journal.append(.init(kind: .quarantine, id: id ?? 0, createdAt: createdAt ?? 0, textKey: 0, partitions: [], json: record.encoded(),
                                         fromBackfill: backfill))
                metrics.update { $0.rejectedByReason[reason, default: 0] += 1 }
                summary.withLockedValue { $0.rejected[reason, default: 0] += 1 }
            }
        }

        func runBackfill(_ reason: String) async throws {
            guard settings.backfill else { return }
            if floor == nil { floor = newestID }
            guard let since = floor else {
                event("backfill skipped", ["reason": .string(reason), "why": "no post received yet"])
                backfillPending = false
                return
            }
            try journal.saveBackfillFloor(since)
            lastBackfillTry = .now
            var fetched = 0
            do {
                for query in rules.backfillQueries() {
                    var token: String?
                    var limited = 0
                    while true {
                        let page: XAPIClient.SearchPage
                        do {
                            page = try await api.searchRecent(query: query, sinceID: String(since), nextToken: token)
                        } catch let error as XAPIError where error.status == 429 {
                            limited += 1
                            let wait = waitFor(.rateLimited, attempt: limited, rateLimit: error.rateLimit)
                            event("backfill rate limited", ["wait_s": "\(wait.duration.seconds)"])
                            try await clock.sleep(for: wait.duration)
                            continue  // the same page again
                        }
                        limited = 0
                        for post in page.posts {
                            do { try handle(Array(post), receivedAt: clock.now(), seq: 0, backfill: true) } catch { throw JournalFailure(underlying: error) }
                            fetched += 1
                        }
                        if let limit = page.rateLimit, limit.remaining == 0 {
                            // Wait for the window before the next page or the next query's first page.
                            let untilReset = max(0, limit.reset * 1000 - clock.now())
                            event("backfill waits for rate-limit reset", ["wait_s": "\(Double(untilReset) / 1000)"])
                            try await clock.sleep(for: .milliseconds(untilReset))
                        }
                        guard let next = page.nextToken else { break }
                        token = next
                    }
                }
                backfillPending = false
                floor = nil
                do { try journal.saveBackfillFloor(nil) } catch { throw JournalFailure(underlying: error) }
                event("backfill done", ["reason": .string(reason), "since_id": "\(since)", "posts": "\(fetched)"])
            } catch let error as CancellationError {
                throw error
            } catch let error as JournalFailure {
                throw error.underlying
            } catch {
                backfillPending = true
                event("backfill failed, will retry", ["reason": .string(reason), "since_id": "\(since)", "error": "\(error)"])
            }
        }

        func commitIfDue(force: Bool) async throws {
            guard force || journal.entriesInSegment >= settings.commitPosts
                    || (journal.entriesInSegment > 0 && ContinuousClock.now - lastCommit >= settings.commitInterval) else { return }
            let posts = try await journal.commit(to: store)
            lastCommit = .now
            // Keep memory bounded as the database is: ids for recent search's 7 days, texts for the window.
            if let newest = journal.newestCreatedAt {
                processor.prune(idsBefore: newest - 8 * Timestamps.day,
                                textsBefore: newest - Int64(filters.duplicateTextWindowSeconds) * 1000 - Timestamps.day)
            }
            metrics.update { $0.committedSegments += 1 }
            if posts > 0 { event("committed", ["posts": "\(posts)"]) }
        }

        for await item in queue {
            switch item {
            case .line(let line, let receivedAt, let seq):
                queued.withLockedValue { $0 -= 1 }
                try handle(line, receivedAt: receivedAt, seq: seq, backfill: false)
                lastActivity = .now
                if let mark = overflowAfter.withLockedValue({ $0 }), seq >= mark {
                    overflowAfter.withLockedValue { $0 = nil }
                    try await runBackfill("queue overflow")
                }
                try await commitIfDue(force: false)
            case .backfill(let reason):
                backfillPending = true
                try await runBackfill(reason)
                lastActivity = .now
            case .tick:
                journal.syncIfDue()
                metrics.tickRates()
                metrics.update { $0.queueDepth = max(0, queued.withLockedValue { $0 }) }
                if backfillPending, ContinuousClock.now - lastBackfillTry > .seconds(30) { try await runBackfill("retry") }
                try await commitIfDue(force: false)
                if let idle = idleStop.withLockedValue({ $0 }), !backfillPending, metrics.snapshot.connected,
                   ContinuousClock.now - lastActivity >= idle, queued.withLockedValue({ $0 }) == 0 {
                    event("idle, stopping", ["idle_s": "\(idle.seconds)"])
                    stop()
                }
            }
        }
        try await commitIfDue(force: true)
    }

    // MARK: - Connections

    func waitFor(_ cls: DisconnectClass, attempt: Int, rateLimit: RateLimit?) -> Wait {
        var duration = settings.policy.wait(for: cls, attempt: attempt)
        var untilReset = false
        if let rateLimit, rateLimit.remaining == 0 {
            let reset = Duration.milliseconds(max(0, rateLimit.reset * 1000 - clock.now()))
            if reset > duration { duration = reset; untilReset = true }
        }
        return Wait(cls: cls, attempt: attempt, duration: duration, untilReset: untilReset)
    }

    private func connectionLoop(_ queue: AsyncStream<Item>.Continuation) async {
        var attempts: [DisconnectClass: Int] = [:]
        var authFailures = 0
        var seq = 0
        var wait: Wait?
        while !isStopping && !Task.isCancelled {
            if let wait, wait.duration > .zero {
                metrics.update { $0.backoffSeconds = wait.duration.seconds }
                do { try await clock.sleep(for: wait.duration) } catch { break }
                metrics.update { $0.backoffSeconds = 0 }
            }
            if isStopping || Task.isCancelled { break }
            let connection = api.openStream()
            let cls: DisconnectClass
            var rateLimit: RateLimit?
            var established = false
            do {
                event("connecting")
                let (body, limit) = try await connection.connect(timeout: settings.idleTimeout + .seconds(10))
                rateLimit = limit
                established = true
                attempts = [:]
                authFailures = 0
                metrics.update { $0.connected = true }
                summary.withLockedValue { $0.connects += 1 }
                event("connected")
                queue.yield(.backfill(reason: "connect"))
                try await read(body, into: queue, seq: &seq)
                event("disconnected", ["class": "dropped", "why": "server closed the stream"])
                cls = .dropped
            } catch StreamEnd.idle {
                event("disconnected", ["class": "dropped", "why": "no bytes for \(settings.idleTimeout.seconds) s"])
                cls = .dropped
            } catch StreamEnd.operationalDisconnect(let detail) {
                event("disconnected", ["class": "dropped", "why": "operational-disconnect", "detail": .string(detail)])
                cls = .dropped
            } catch let error as XAPIError {
                rateLimit = error.rateLimit ?? rateLimit
                cls = error.status == 429 ? .rateLimited : .http
                event("connect refused", ["class": .string(cls.rawValue), "status": "\(error.status)", "error": .string(error.description)])
                if error.status == 401 || error.status == 403 {
                    authFailures += 1
                    if authFailures >= settings.maxAuthFailures {
                        summary.withLockedValue { $0.fatal = "\(error) (\(authFailures) times); check the bearer token" }
                        await connection.close()
                        break
                    }
                }
            } catch {
                if isStopping || Task.isCancelled { await connection.close(); break }
                // After a 200 the connection was established: its failure is a drop, not a connect error.
                cls = established ? .dropped : .network
                event(established ? "disconnected" : "connect failed", ["class": .string(cls.rawValue), "error": "\(error)"])
            }
            await connection.close()
            metrics.update { $0.connected = false; $0.reconnectsByClass[cls.rawValue, default: 0] += 1 }
            if isStopping || Task.isCancelled { break }
            let attempt = cls == .dropped ? 0 : attempts[cls, default: 0] + 1
            attempts[cls] = attempt
            let next = waitFor(cls, attempt: attempt, rateLimit: rateLimit)
            if cls != .dropped || next.duration > .zero {
                summary.withLockedValue { $0.waits.append(next) }
                event("backoff", ["class": .string(cls.rawValue), "attempt": "\(attempt)", "wait_s": "\(next.duration.seconds)",
                                  "at_maximum": "\(settings.policy.isAtMaximum(cls, attempt: attempt))"])
            } else {
                summary.withLockedValue { $0.waits.append(next) }
            }
            wait = next
        }
        metrics.update { $0.connected = false }
    }

    /// The thin reader: bytes -> lines -> queue, with the idle watchdog beside it.
    private func read(_ body: HTTPClientResponse.Body, into queue: AsyncStream<Item>.Continuation, seq: inout Int) async throws {
        let lastByte = NIOLockedValueBox(ContinuousClock.now)
        let idleTimeout = settings.idleTimeout
        let counter = NIOLockedValueBox(seq)
        defer { seq = counter.withLockedValue { $0 } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var framer = LineFramer()
                for try await buffer in body {
                    lastByte.withLockedValue { $0 = .now }
                    for line in framer.append(buffer.readableBytesView) {
                        if line.isEmpty { self.metrics.update { $0.keepAlives += 1 }; continue }
                        if let detail = Self.streamError(line) { throw StreamEnd.operationalDisconnect(detail) }
                        let n = counter.withLockedValue { $0 += 1; return $0 }
                        self.queued.withLockedValue { $0 += 1 }
                        if case .dropped = queue.yield(.line(line, receivedAt: self.clock.now(), seq: n)) {
                            self.queued.withLockedValue { $0 -= 1 }
                            self.metrics.update { $0.queueOverflows += 1 }
                            self.overflowAfter.withLockedValue { if $0 == nil { $0 = n - 1 } }
                        }
                    }
                }
            }
            group.addTask {
                let tick = min(idleTimeout / 4, .milliseconds(250))
                while true {
                    try await Task.sleep(for: tick)
                    if self.isStopping { throw StreamEnd.stopped }
                    if ContinuousClock.now - lastByte.withLockedValue({ $0 }) > idleTimeout { throw StreamEnd.idle }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// An in-stream disconnect notice (`{"errors":[{"title":"operational-disconnect",...}]}`): X
    /// closes the stream after it, so the reader ends the connection at once.
    static func streamError(_ line: [UInt8]) -> String? {
        guard line.count < 4096, line.starts(with: Array("{\"errors\"".utf8)),
              let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], object["data"] == nil,
              let errors = object["errors"] as? [[String: Any]],
              errors.contains(where: { $0["disconnect_type"] != nil || ($0["title"] as? String) == "operational-disconnect" }) else { return nil }
        return errors.map { ($0["title"] as? String ?? "error") + ": " + ($0["detail"] as? String ?? "") }.joined(separator: "; ")
    }
}
