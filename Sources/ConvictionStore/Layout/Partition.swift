import ConvictionCore

/// The datasets Conviction keeps, each under its own prefix with Hive-style partitions.
public enum Dataset: String, Sendable, CaseIterable {
    /// The simulator's post archive: X API v2 stream lines, all symbols, per UTC day.
    case simulatedStream = "sim/stream"
    /// Posts as received, one line `{"received_at":..., "payload":<verbatim X payload>}`.
    case rawPosts = "raw/posts"
    /// Records that could not be used, with the reason, source and line.
    case quarantine = "raw/quarantine"
    /// 1-minute OHLCV bars.
    case bars = "market/bars_1m"
    /// Daily OHLCV bars (imported).
    case dailyBars = "market/bars_1d"
    case news = "market/news"
    case scores = "scores"
    case features = "features"
    case runs = "runs"
}

/// A partition: a dataset plus optional `dt=` (UTC date) and `symbol=` levels.
public struct Partition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let dataset: Dataset
    public let date: CivilDate?
    public let symbol: Symbol?

    public init(_ dataset: Dataset, date: CivilDate? = nil, symbol: Symbol? = nil) {
        self.dataset = dataset; self.date = date; self.symbol = symbol
    }

    /// The key prefix, ending in `/`: `raw/posts/dt=2026-11-24/symbol=AAPL/`.
    public var prefix: String {
        var p = dataset.rawValue + "/"
        if let date { p += "dt=\(date.isoString)/" }
        if let symbol { p += "symbol=\(symbol.rawValue)/" }
        return p
    }

    public var description: String { prefix }

    /// The partition an object key belongs to, or nil when the key is not under `dataset`.
    public static func containing(_ key: String, in dataset: Dataset) -> Partition? {
        guard let slash = key.lastIndex(of: "/") else { return nil }
        return Partition(prefix: String(key[...slash]), in: dataset)
    }

    /// The partition a prefix (`raw/posts/dt=2026-01-05/symbol=AAPL/`) names, or nil when it is not under `dataset`.
    public init?(prefix: String, in dataset: Dataset) {
        guard prefix.hasPrefix(dataset.rawValue + "/") else { return nil }
        var date: CivilDate?
        var symbol: Symbol?
        for segment in prefix.dropFirst(dataset.rawValue.count + 1).split(separator: "/") {
            if segment.hasPrefix("dt=") {
                guard let d = CivilDate(iso: String(segment.dropFirst(3))) else { return nil }
                date = d
            } else if segment.hasPrefix("symbol=") {
                symbol = Symbol(String(segment.dropFirst(7)))
            }
        }
        self.init(dataset, date: date, symbol: symbol)
    }

    public static func < (lhs: Partition, rhs: Partition) -> Bool { lhs.prefix < rhs.prefix }
}

extension ObjectStore {
    /// Objects of a dataset grouped by partition, filtered by date range and symbols (nil = all).
    public func partitions(
        of dataset: Dataset, from start: CivilDate? = nil, through end: CivilDate? = nil, symbols: Set<Symbol>? = nil
    ) async throws -> [Partition: [String]] {
        var result: [Partition: [String]] = [:]
        for key in try await list(prefix: dataset.rawValue + "/") {
            guard let p = Partition.containing(key, in: dataset) else { continue }
            if let start, let d = p.date, d < start { continue }
            if let end, let d = p.date, d > end { continue }
            if let symbols, let s = p.symbol, !symbols.contains(s) { continue }
            result[p, default: []].append(key)
        }
        return result
    }
}
