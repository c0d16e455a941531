import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

extension StreamIngestor {
    // MARK: - Backfill

    /// Fills one window at a time. A window that fails waits (merged with newer gaps) and is tried
    /// again after a back-off; cancellation (stop) leaves it on disk for the next run. The usage cap
    /// is the exception: nothing can be read until it resets, so the ingester stops and says so.
    func backfillLoop(_ backfill: BackfillScheduler, _ queue: AsyncStream<Item>.Continuation) async {
        var failures = 0
        for await _ in backfill.signals {
            while let window = backfill.take() {
                do {
                    try await fill(window, into: queue)
                    failures = 0
                } catch {
                    backfill.failed()
                    if error is CancellationError || isStopping || Task.isCancelled { return }
                    if let error = error as? XAPIError, error.isUsageCapExceeded {
                        stopForUsageCap(error)
                        return
                    }
                    failures += 1
                    let wait = settings.backfillRetry.wait(after: failures)
                    event("backfill failed, will retry", ["window": "\(window)", "wait_s": "\(wait.seconds)", "error": "\(error)"])
                    do { try await clock.sleep(for: wait) } catch { return }
                }
            }
        }
    }

    /// X's monthly post cap is used up: retrying cannot help before it resets, so stop (committing
    /// what was received) and report it as the run's failure.
    func stopForUsageCap(_ error: XAPIError) {
        event("usage cap exhausted, stopping", ["error": "\(error)"])
        summary.withLockedValue { $0.fatal = XAPIError.usageCapMessage(error); $0.fatalCode = .usageCap }
        stop()
    }

    /// Which search fills `window`, and from when: full-archive search for a gap older than recent
    /// search reaches (when allowed and not refused), else recent search bounded to its reach.
    func plan(_ window: BackfillWindow) -> (archive: XAPIClient.Archive, start: EpochMillis?) {
        // An hour's margin: the window is filled over minutes, and X rejects a start out of reach.
        let reach = clock.now() - XAPIClient.Archive.recentReach + Timestamps.hour
        guard let sinceTime = window.sinceTime, sinceTime < reach else { return (.recent, nil) }
        if settings.fullArchive != .never, !fullArchiveRefused.withLockedValue({ $0 }) { return (.all, nil) }
        return (.recent, reach)
    }

    func fill(_ window: BackfillWindow, into queue: AsyncStream<Item>.Continuation) async throws {
        var (archive, start) = plan(window)
        event("backfill started", ["window": "\(window)", "search": .string(archive.rawValue)])
        if start != nil {
            event("backfill: the gap is older than recent search reaches", ["window": "\(window)", "lost_before": .string(Timestamps.iso8601(start!)),
                                                                               "why": "full-archive search is \(settings.fullArchive == .never ? "off (ingest.full_archive = never)" : "not available to this account")"])
        }
        var fetched = 0
        for query in rules.backfillQueries() {
            var token: String?
            repeat {
                if isStopping { throw CancellationError() }
                let request = XAPIClient.SearchRequest(query: query, start: start, sinceID: window.since, untilID: window.until)
                let page: XAPIClient.SearchPage
                do {
                    page = try await searchPage(archive, request, token: token)
                } catch let error as XAPIError where error.isNotEnrolled && archive == .all && settings.fullArchive == .auto {
                    // Tried once; from now on recent search, within its reach. The window starts over.
                    fullArchiveRefused.withLockedValue { $0 = true }
                    event("full-archive search refused; backfill falls back to recent search", ["error": "\(error)"])
                    (archive, start) = plan(window)
                    token = nil
                    continue
                }
                try await deliver(.backfillPage(page.posts, Delivery()), to: queue)
                fetched += page.posts.count
                token = page.nextToken
            } while token != nil
        }
        try await deliver(.backfillDone(window, posts: fetched, Delivery()), to: queue)
    }

    /// One search page, paced by the throttle and retried by the backfill's policy. The stream goes
    /// on while it waits.
    func searchPage(_ archive: XAPIClient.Archive, _ request: XAPIClient.SearchRequest, token: String?) async throws -> XAPIClient.SearchPage {
        try await throttle.request(SearchThrottle.endpoint("search", archive), policy: settings.backfillRetry, rateLimit: \.rateLimit,
                                   willRetry: { attempt, error, wait in
            summary.withLockedValue { $0.backfillRetries += 1 }
            event("backfill page retried", ["attempt": "\(attempt)", "wait_s": "\(wait.seconds)", "error": "\(error)"])
        }, onWait: { wait in
            event("backfill waits for rate-limit reset", ["wait_s": "\(wait.seconds)"])
            metrics.update { $0.backfillWaitSeconds = wait.seconds }
        }) {
            metrics.update { $0.backfillWaitSeconds = 0 }
            return try await api.search(archive, request, nextToken: token)
        }
    }

    /// Hands an item to the processor and waits until it has been processed, so a backfill never
    /// floods the queue the stream's reader shares.
    func deliver(_ item: Item, to queue: AsyncStream<Item>.Continuation) async throws {
        let delivery: Delivery
        switch item {
        case .backfillPage(_, let d), .backfillDone(_, _, let d): delivery = d
        default: preconditionFailure("only backfill items are delivered")
        }
        while true {
            switch queue.yield(item) {
            case .enqueued:
                try await delivery.wait()
                return
            case .dropped:
                try await Task.sleep(for: .milliseconds(20))  // the queue is full: let the processor catch up
            case .terminated:
                throw CancellationError()
            @unknown default:
                throw CancellationError()
            }
        }
    }
}
