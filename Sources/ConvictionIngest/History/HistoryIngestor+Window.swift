import ConvictionCore
import ConvictionStore
import Foundation
import ConvictionHTTP
import Logging

extension HistoryIngestor {
    /// Where a window's fetch stands, saved after every staged page.
    struct Cursor: Codable, Equatable {
        var query: String
        var archive: String
        var start: EpochMillis
        var end: EpochMillis
        /// The `until_id` of the current chain of pages (set after X refused a `next_token`).
        var untilID: UInt64?
        var nextToken: String?
        /// The oldest id fetched so far: where a new chain starts when a token is refused.
        var oldestID: UInt64?
        var pages = 0
        var fetched = 0
        var finished = false
    }

    static func stagingFolder(_ window: Window) -> String { stagingPrefix + "\(window.symbol.rawValue)/\(window.day.isoString)/" }
    static func pageKey(_ window: Window, _ page: Int) -> String { stagingFolder(window) + String(format: "page-%05d.jsonl.gz", page) }
    static func quarantinePageKey(_ window: Window, _ page: Int) -> String { stagingFolder(window) + String(format: "quarantine-%05d.jsonl.gz", page) }
    static func partKey(_ window: Window) -> String { Partition(.rawPosts, date: window.day, symbol: window.symbol).prefix + "part-history.jsonl.gz" }
    static func quarantineKey(_ window: Window) -> String {
        Dataset.quarantine.rawValue + "/\(ReplayIngestor.stage)/part-history-\(window.symbol.rawValue)-\(window.day.isoString).jsonl.gz"
    }

    /// Fetches one window page by page (resuming a saved cursor), then publishes it as one part.
    func fetch(_ window: Window, query: String, archive: XAPIClient.Archive, summary: inout Summary) async throws {
        let cursorKey = Self.stagingFolder(window) + "cursor.json"
        var cursor = Cursor(query: query, archive: archive.rawValue, start: window.start, end: window.end)
        var processor = PostProcessor(symbols: symbols, filters: filters)
        if try await store.exists(cursorKey), let saved = try? JSONDecoder().decode(Cursor.self, from: try await store.get(cursorKey)),
           (saved.query, saved.archive, saved.start, saved.end) == (cursor.query, cursor.archive, cursor.start, cursor.end) {
            cursor = saved
            summary.resumed += 1
            // The staged posts were decided already; the processor learns them again, so a later
            // page's duplicate is still caught.
            for page in 0..<cursor.pages {
                for line in try await stagedLines(Self.pageKey(window, page)) {
                    if let raw = RawPostLine.decode(line) { _ = processor.process(raw.payload, receivedAt: raw.receivedAt) }
                }
            }
            logger.info("ingest history: resuming", metadata: ["window": "\(window.unit)", "pages": "\(cursor.pages)", "fetched": "\(cursor.fetched)"])
        } else {
            // A changed query or window starts over: what an earlier run staged for it is stale.
            for key in try await store.list(prefix: Self.stagingFolder(window)) { try await store.delete(key) }
        }

        let pageSize = max(10, min(settings.pageSize, archive.maxResults))
        while !cursor.finished {
            try Task.checkCancellation()
            let request = XAPIClient.SearchRequest(query: query, start: window.start, end: window.end, untilID: cursor.untilID)
            let page: XAPIClient.SearchPage
            do {
                page = try await searchPage(archive, request, token: cursor.nextToken, pageSize: pageSize, summary: &summary)
            } catch let error as XAPIError where error.isInvalidNextToken && cursor.nextToken != nil {
                // Pages come newest first: a new chain below the oldest id fetched continues exactly.
                logger.notice("ingest history: X refused the page token; continuing below the oldest post fetched",
                              metadata: ["window": "\(window.unit)", "until_id": "\(cursor.oldestID.map(String.init) ?? "-")"])
                summary.tokenRestarts += 1
                cursor.untilID = cursor.oldestID
                cursor.nextToken = nil
                continue
            }
            let receivedAt = clock.now()
            var lines = Data(), quarantine = Data()
            for payload in page.posts {
                switch processor.process(payload, receivedAt: receivedAt) {
                case .accepted(_, let symbols):
                    guard symbols.contains(window.symbol) else { summary.otherSymbols += 1; continue }
                    lines.append(RawPostLine.encode(payload: payload, receivedAt: receivedAt, historical: true))
                    lines.append(0x0A)
                    summary.accepted += 1
                case .rejected(let reason, let detail, _, _):
                    let record = QuarantineRecord(stage: ReplayIngestor.stage, source: "x-search-\(archive.rawValue) \(window.unit)", line: cursor.pages + 1,
                                                  reason: reason, detail: "page \(cursor.pages + 1): \(detail)", raw: String(decoding: payload, as: UTF8.self))
                    quarantine.append(record.encoded())
                    quarantine.append(0x0A)
                    summary.rejected[reason, default: 0] += 1
                case .skipped:
                    break
                }
            }
            // The page is staged before the cursor moves past it: a kill in between fetches it again
            // and overwrites the same staged page.
            try await store.put(Self.pageKey(window, cursor.pages), data: try Gzip.compress(lines))
            if !quarantine.isEmpty { try await store.put(Self.quarantinePageKey(window, cursor.pages), data: try Gzip.compress(quarantine)) }
            cursor.pages += 1
            cursor.fetched += page.posts.count
            cursor.oldestID = page.ids.min().map { min($0, cursor.oldestID ?? .max) } ?? cursor.oldestID
            cursor.nextToken = page.nextToken
            cursor.finished = page.nextToken == nil
            try await store.put(cursorKey, data: try JSONEncoder().encode(cursor))
            summary.pages += 1
            summary.fetched += page.posts.count
        }
        try await publish(window, cursor: cursor)
    }

    /// Joins the staged pages into the window's part and quarantine, records a whole day as
    /// finished, and clears the staging.
    func publish(_ window: Window, cursor: Cursor) async throws {
        var posts = Data(), quarantine = Data()
        var rows = 0
        for page in 0..<cursor.pages {
            for line in try await stagedLines(Self.pageKey(window, page)) { posts.append(line); posts.append(0x0A); rows += 1 }
            let quarantineKey = Self.quarantinePageKey(window, page)
            if try await store.exists(quarantineKey) { quarantine.append(try Gzip.decompress(try await store.get(quarantineKey))) }
        }
        var outputs: [String] = []
        var hasher = ContentHasher()
        for (key, bytes) in [(Self.partKey(window), posts), (Self.quarantineKey(window), quarantine)] {
            if bytes.isEmpty {
                if try await store.exists(key) { try await store.delete(key) }  // an earlier fetch's, now empty
                continue
            }
            let compressed = try Gzip.compress(bytes)
            try await store.put(key, data: compressed)
            outputs.append(key)
            hasher.update(compressed)
        }
        if window.isWholeDay {
            try await catalog.record(.init(stage: Self.stage, unit: window.unit, inputHash: inputHash(cursor.query), outputKeys: outputs.joined(separator: "\n"),
                                           outputHash: hasher.finalize(), rows: rows, completedAt: Timestamps.iso8601(clock.now())), store: store)
        }
        for key in try await store.list(prefix: Self.stagingFolder(window)) { try await store.delete(key) }
    }

    func stagedLines(_ key: String) async throws -> [Data] {
        guard try await store.exists(key) else { return [] }
        return JSONLines.read(try await store.get(key), gzipped: true).lines.map { Data($0.bytes) }
    }

    /// One search page, paced by the throttle and retried by the policy; the usage cap is thrown at once.
    func searchPage(_ archive: XAPIClient.Archive, _ request: XAPIClient.SearchRequest, token: String?, pageSize: Int,
                    summary: inout Summary) async throws -> XAPIClient.SearchPage {
        var retries = 0
        defer { summary.retries += retries }
        return try await throttle.request(SearchThrottle.endpoint("search", archive), policy: settings.retry, rateLimit: \.rateLimit,
                                          willRetry: { attempt, error, wait in
            retries += 1
            retried(attempt, error, wait)
        }, onWait: waiting) {
            try await api.search(archive, request, nextToken: token, maxResults: pageSize)
        }
    }
}
