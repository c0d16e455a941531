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
    /// again after a back-off; cancellation (stop) leaves it on disk for the next run.
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
                    failures += 1
                    let wait = settings.backfillRetry.wait(after: failures)
                    event("backfill failed, will retry", ["window": "\(window)", "wait_s": "\(wait.seconds)", "error": "\(error)"])
                    do { try await clock.sleep(for: wait) } catch { return }
                }
            }
        }
    }

    /// How long until a rate-limit window resets, by the injected clock. The header is in whole
    /// seconds, so a second is added: waking within the second before the reset earns a 429.
    func untilReset(_ limit: RateLimit) -> Duration { .milliseconds(max(0, limit.reset * 1000 + 1000 - clock.now())) }

    func fill(_ window: BackfillWindow, into queue: AsyncStream<Item>.Continuation) async throws {
        event("backfill started", ["window": "\(window)"])
        var fetched = 0
        let queries = rules.backfillQueries()
        for query in queries {
            var token: String?
            repeat {
                if isStopping { throw CancellationError() }
                try await waitForSearchWindow()
                let page = try await settings.backfillRetry.run(clock: clock, classify: { error in
                    guard let error = error as? XAPIError else { return .retry(serverWait: nil) }  // network: back off
                    if error.status == 429 { return .retry(serverWait: error.rateLimit.map(untilReset) ?? settings.policy.rateLimitStart) }
                    return error.status >= 500 ? .retry(serverWait: nil) : .fail
                }, willRetry: { attempt, error, wait in
                    summary.withLockedValue { $0.backfillRetries += 1 }
                    event("backfill page retried", ["attempt": "\(attempt)", "wait_s": "\(wait.seconds)", "error": "\(error)"])
                }) { _ in
                    try await api.searchRecent(query: query, sinceID: String(window.since), untilID: window.until.map(String.init), nextToken: token)
                }
                searchLimit.withLockedValue { $0 = page.rateLimit }
                try await deliver(.backfillPage(page.posts, Delivery()), to: queue)
                fetched += page.posts.count
                token = page.nextToken
            } while token != nil
        }
        try await deliver(.backfillDone(window, posts: fetched, Delivery()), to: queue)
    }

    /// When the last search answer said the window is used up, waits for its reset before the next
    /// request (of this window or a later one). The stream goes on meanwhile.
    func waitForSearchWindow() async throws {
        guard let limit = searchLimit.withLockedValue({ $0 }), limit.remaining == 0 else { return }
        let wait = min(untilReset(limit), settings.backfillRetry.maxServerWait)
        if wait > .zero {
            event("backfill waits for rate-limit reset", ["wait_s": "\(wait.seconds)"])
            metrics.update { $0.backfillWaitSeconds = wait.seconds }
            defer { metrics.update { $0.backfillWaitSeconds = 0 } }
            try await clock.sleep(for: wait)
        }
        searchLimit.withLockedValue { $0 = nil }
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
