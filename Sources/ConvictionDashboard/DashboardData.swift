import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import ConvictionIngest
import ConvictionModeling
import ConvictionPipeline
import ConvictionStore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// What the dashboard shows, read from the store: per symbol and UTC day, posts per bar by
/// sentiment label (posts not scored yet count as `unscored`, so volume shows while ingestion
/// runs) with the closing price; `sent_5m` and `sent_60m`; the latest posts; ingestion health; the
/// latest runs. Every answer is cached for `ttl`, so many viewers cost one read of the store.
public final class DashboardData: Sendable {
    public struct VolumeBar: Codable, Sendable, Equatable {
        public let start: String
        public let startMillis: Int64
        public var negative = 0, neutral = 0, positive = 0, unscored = 0
        public var close: Double?
        public var total: Int { negative + neutral + positive + unscored }

        enum CodingKeys: String, CodingKey { case start, startMillis, negative, neutral, positive, unscored, close, total }

        init(start: String, startMillis: Int64) { self.start = start; self.startMillis = startMillis }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            start = try c.decode(String.self, forKey: .start); startMillis = try c.decode(Int64.self, forKey: .startMillis)
            negative = try c.decode(Int.self, forKey: .negative); neutral = try c.decode(Int.self, forKey: .neutral)
            positive = try c.decode(Int.self, forKey: .positive); unscored = try c.decode(Int.self, forKey: .unscored)
            close = try c.decodeIfPresent(Double.self, forKey: .close)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(start, forKey: .start); try c.encode(startMillis, forKey: .startMillis)
            try c.encode(negative, forKey: .negative); try c.encode(neutral, forKey: .neutral); try c.encode(positive, forKey: .positive)
            try c.encode(unscored, forKey: .unscored); try c.encode(total, forKey: .total)
            try c.encodeIfPresent(close, forKey: .close)
        }
    }

    public struct Volume: Codable, Sendable, Equatable {
        public let symbol: String
        public let date: String
        public let barMinutes: Int
        public let posts: Int
        public let scored: Int
        public let bars: [VolumeBar]
    }

    public struct SentimentPoint: Codable, Sendable, Equatable {
        public let time: String
        public let sent5m: Double?
        public let sent60m: Double?
        enum CodingKeys: String, CodingKey { case time, sent5m = "sent_5m", sent60m = "sent_60m" }
    }

    public struct PostRow: Codable, Sendable, Equatable {
        public let id: String
        public let createdAt: String
        public let label: String?
        public let confidence: Double?
        /// Untrusted: escaped wherever it is shown.
        public let text: String
    }

    public struct Health: Codable, Sendable, Equatable {
        /// `metrics` (the stream's /metrics) or `store` (what the store shows).
        public let source: String
        public let connected: Bool?
        public let lagSeconds: Double?
        public let reconnects: [String: Int]
        public let rejected: [String: Int]
        public let postsStored: Int
        public let lastPostAt: String?
    }

    public struct RunSummary: Codable, Sendable, Equatable {
        public let runID: String
        public let createdAt: String
        public let deltaAUC: Double
        public let ciLow: Double?
        public let ciHigh: Double?
        public let pValue: Double
        public let significant: Bool
        /// `passed`, `failed`, or nil when no audit ran.
        public let audit: String?
        public let negativeControlDeltaAUC: Double?
        public let verdict: String
    }

    public let store: any ObjectStore
    public let symbols: [Symbol]
    public let barMinutes: Int
    /// The stream ingester's Prometheus endpoint, for live health; nil = health from the store.
    public let metricsURL: String?
    public let ttl: Duration
    static let cacheLimit = 512
    private let cache = Mutex<[String: (at: ContinuousClock.Instant, value: any Sendable)]>([:])

    public init(store: any ObjectStore, symbols: [Symbol], barMinutes: Int = 5, metricsURL: String? = nil, ttl: Duration = .seconds(1)) {
        self.store = store; self.symbols = symbols; self.barMinutes = barMinutes; self.metricsURL = metricsURL; self.ttl = ttl
    }

    /// A cached answer, computed at most once per `ttl` per key (concurrent misses may compute twice).
    /// The server also keeps its encoded responses here, so a busy widget costs one encoding a `ttl`.
    public func cached<T: Sendable>(_ key: String, _ compute: () async throws -> T) async throws -> T {
        let now = ContinuousClock.now
        if let hit = cache.withLock({ $0[key] }), now - hit.at < ttl, let value = hit.value as? T { return value }
        let value = try await compute()
        cache.withLock { entries in
            // Bounded: expired answers go first, then the oldest, so any number of days viewed costs constant memory.
            if entries.count >= Self.cacheLimit {
                entries = entries.filter { now - $0.value.at < ttl }
                while entries.count >= Self.cacheLimit, let oldest = entries.min(by: { $0.value.at < $1.value.at })?.key { entries[oldest] = nil }
            }
            entries[key] = (now, value)
        }
        return value
    }

    /// Days with raw posts or scores, per symbol, newest last.
    public func days() async throws -> [String: [String]] {
        try await cached("days") {
            var days: [String: Set<String>] = [:]
            for dataset in [Dataset.rawPosts, .scores] {
                for partition in try await store.partitions(of: dataset, symbols: Set(symbols)).keys {
                    guard let s = partition.symbol, let d = partition.date else { continue }
                    days[s.rawValue, default: []].insert(d.isoString)
                }
            }
            return days.mapValues { $0.sorted() }
        }
    }

    /// Raw posts and their scores for one symbol-day: (post, score?) by post id.
    func posts(_ symbol: Symbol, _ date: CivilDate) async throws -> [(post: Post, score: SentimentScore?)] {
        try await cached("posts|\(symbol.rawValue)|\(date.isoString)") {
            var scores: [String: SentimentScore] = [:]
            for key in try await store.list(prefix: Partition(.scores, date: date, symbol: symbol).prefix) where key.hasSuffix(".parquet") {
                for s in try MarketTables.decodeScores(try await store.get(key), source: key) { scores[s.postID] = s }
            }
            let normalizer = PostNormalizer(symbols: [symbol])
            var seen: Set<String> = []
            var rows: [(post: Post, score: SentimentScore?)] = []
            for key in try await store.list(prefix: Partition(.rawPosts, date: date, symbol: symbol).prefix) where key.hasSuffix(".jsonl.gz") {
                for line in JSONLines.read(try await store.get(key), gzipped: true).lines {
                    guard let raw = RawPostLine.decode(line.bytes), let (post, _) = try? normalizer.normalize(raw.payload, receivedAt: raw.receivedAt),
                          seen.insert(post.id).inserted else { continue }
                    rows.append((post, scores[post.id]))
                }
            }
            // Scores whose raw file is elsewhere (an S3 store being synced): counted all the same.
            for (id, s) in scores where !seen.contains(id) {
                rows.append((Post(id: id, text: "", createdAt: s.createdAt, receivedAt: s.receivedAt, authorID: "", authorFollowers: s.authorFollowers,
                                  lang: nil, cashtags: [symbol], isRetweet: false, likeCount: s.engagement, retweetCount: 0), s))
            }
            return rows
        }
    }

    public func volume(symbol: Symbol, date: CivilDate) async throws -> Volume {
        try await cached("volume|\(symbol.rawValue)|\(date.isoString)") {
            let dayStart = Int64(date.daysSinceEpoch) * Timestamps.day
            let span = Int64(barMinutes) * Timestamps.minute
            var bars = (0..<Int(Timestamps.day / span)).map { i in
                let start = dayStart + Int64(i) * span
                return VolumeBar(start: Timestamps.iso8601(start), startMillis: start)
            }
            let rows = try await posts(symbol, date)
            for (post, score) in rows {
                let i = Int((post.createdAt - dayStart) / span)
                guard bars.indices.contains(i) else { continue }
                switch score?.label {
                case .negative?: bars[i].negative += 1
                case .neutral?: bars[i].neutral += 1
                case .positive?: bars[i].positive += 1
                case nil: bars[i].unscored += 1
                }
            }
            var minutes: [PriceBar] = []
            for key in try await store.list(prefix: Partition(.bars, date: date, symbol: symbol).prefix) where key.hasSuffix(".parquet") {
                minutes += try MarketTables.decodeBars(try await store.get(key), source: key)
            }
            // Each bar's close is its last minute's close.
            for minute in minutes.sorted(by: { $0.end < $1.end }) {
                let i = Int((minute.end - 1 - dayStart) / span)
                if bars.indices.contains(i) { bars[i].close = minute.close }
            }
            return Volume(symbol: symbol.rawValue, date: date.isoString, barMinutes: barMinutes, posts: rows.count,
                          scored: rows.filter { $0.score != nil }.count, bars: bars)
        }
    }

    /// `sent_5m` and `sent_60m` at each feature row (bar close) of the day.
    public func sentiment(symbol: Symbol, date: CivilDate) async throws -> [SentimentPoint] {
        let table: ParquetTable? = try await cached("features|\(symbol.rawValue)") {
            let key = Dataset.features.rawValue + "/symbol=\(symbol.rawValue)/part-0.parquet"
            guard try await store.exists(key) else { return nil }
            return try ParquetReader.decode(try await store.get(key), source: key)
        }
        guard let table, case .timestamp(let times)? = table.column("timestamp")?.values else { return [] }
        let five: ParquetArray<Double> = { if case .double(let v)? = table.column("sent_5m")?.values { v } else { [] } }()
        let sixty: ParquetArray<Double> = { if case .double(let v)? = table.column("sent_60m")?.values { v } else { [] } }()
        let dayStart = Int64(date.daysSinceEpoch) * Timestamps.day
        return times.indices.compactMap { i in
            guard let micros = times[i] else { return nil }
            let t = micros / 1000
            guard t >= dayStart, t < dayStart + Timestamps.day else { return nil }
            return SentimentPoint(time: Timestamps.iso8601(t), sent5m: i < five.count ? five[i] : nil, sent60m: i < sixty.count ? sixty[i] : nil)
        }
    }

    /// The newest posts of the day, newest first.
    public func latestPosts(symbol: Symbol, date: CivilDate, limit: Int) async throws -> [PostRow] {
        try await posts(symbol, date).sorted { ($0.post.createdAt, $0.post.id) > ($1.post.createdAt, $1.post.id) }.prefix(limit).map { post, score in
            PostRow(id: post.id, createdAt: Timestamps.iso8601(post.createdAt), label: score?.label.rawValue, confidence: score?.confidence, text: post.text)
        }
    }

    /// The latest runs, newest first.
    public func runs(limit: Int) async throws -> [RunSummary] {
        try await reports().prefix(limit).map { report in
            let r = report.result
            return RunSummary(runID: report.runID, createdAt: report.createdAt, deltaAUC: r.deltaAUC, ciLow: r.bootstrap?.lower, ciHigh: r.bootstrap?.upper,
                              pValue: r.delong.pOneSided, significant: r.significant, audit: report.audit.map { $0.passed ? "passed" : "failed" },
                              negativeControlDeltaAUC: report.negativeControl?.deltaAUC, verdict: report.verdict)
        }
    }

    /// Every run's report, newest first.
    public func reports() async throws -> [RunReport] {
        try await cached("reports") {
            var reports: [RunReport] = []
            for key in try await store.list(prefix: Dataset.runs.rawValue + "/") where key.hasSuffix("/report.json") {
                if let report = try? RunReport.decode(try await store.get(key)) { reports.append(report) }
            }
            return reports.sorted { ($0.createdAt, $0.runID) > ($1.createdAt, $1.runID) }
        }
    }

    /// Ingestion health: from the stream's `/metrics` when configured and reachable, else from the store.
    public func health() async throws -> Health {
        try await cached("health") {
            if let metricsURL, let text = await Self.fetch(metricsURL) {
                let metrics = PrometheusText(text)
                let stored = metrics.labelled("conviction_ingest_posts_total", "symbol").values.reduce(0, +)
                return Health(source: "metrics", connected: metrics.value("conviction_ingest_connected").map { $0 > 0 },
                              lagSeconds: metrics.value("conviction_ingest_lag_seconds"),
                              reconnects: metrics.labelled("conviction_ingest_reconnects_total", "class"),
                              rejected: metrics.labelled("conviction_ingest_rejected_total", "reason"), postsStored: stored, lastPostAt: nil)
            }
            // From the store: posts and rejections by reason; connection state is unknown.
            var rejected: [String: Int] = [:]
            for key in try await store.list(prefix: Dataset.quarantine.rawValue + "/ingest/") where key.hasSuffix(".jsonl.gz") {
                for line in JSONLines.read(try await store.get(key), gzipped: true).lines {
                    if let object = try? JSONSerialization.jsonObject(with: line.bytes) as? [String: Any], let reason = object["reason"] as? String {
                        rejected[reason, default: 0] += 1
                    }
                }
            }
            var stored = 0
            var last: EpochMillis?
            let latestDays = try await days()
            for (symbol, dates) in latestDays {
                guard let newest = dates.last.flatMap(CivilDate.init(iso:)) else { continue }
                let rows = try await posts(Symbol(symbol), newest)
                stored += rows.count
                if let m = rows.map(\.post.receivedAt).max() { last = max(last ?? m, m) }
            }
            return Health(source: "store", connected: nil, lagSeconds: nil, reconnects: [:], rejected: rejected, postsStored: stored,
                          lastPostAt: last.map(Timestamps.iso8601))
        }
    }

    /// The metrics page, or nil when it cannot be read within 2 s (health then comes from the store).
    static func fetch(_ url: String) async -> String? {
        guard let response = try? await SharedHTTPClient.client.execute(HTTPClientRequest(url: url), timeout: .seconds(2)), response.status == .ok,
              let body = try? await response.body.collect(upTo: 4 << 20) else { return nil }
        return String(buffer: body)
    }
}

/// The few Prometheus text-format readings the dashboard needs.
struct PrometheusText {
    let samples: [(name: String, labels: [String: String], value: Double)]

    init(_ text: String) {
        samples = text.split(separator: "\n").compactMap { line -> (String, [String: String], Double)? in
            guard !line.hasPrefix("#") else { return nil }
            // `name{labels} value [timestamp]`: the value is the first token after the series.
            let seriesEnd = line.firstIndex(of: "}").map { line.index(after: $0) } ?? line.firstIndex(of: " ") ?? line.endIndex
            let series = line[..<seriesEnd]
            guard let token = line[seriesEnd...].split(separator: " ").first, let value = Double(token), value.isFinite,
                  abs(value) < 1e15 else { return nil }
            guard let brace = series.firstIndex(of: "{") else { return (String(series), [:], value) }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: brace)...].dropLast().split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))) }
            }
            return (String(series[..<brace]), labels, value)
        }
    }

    func value(_ name: String) -> Double? { samples.first { $0.name == name && $0.labels.isEmpty }?.value }

    func labelled(_ name: String, _ label: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for s in samples where s.name == name { if let l = s.labels[label] { out[l, default: 0] += Int(s.value) } }
        return out
    }
}
