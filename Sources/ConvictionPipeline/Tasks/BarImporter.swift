import ConvictionCore
import ConvictionStore
import Foundation

/// Imports OHLCV bars from CSV in the common vendor layouts: one timestamp column (RFC 3339 with
/// a zone, `YYYY-MM-DD HH:MM[:SS]` in exchange time, or epoch seconds / milliseconds) or separate
/// date and time columns; column names case-insensitive with the usual aliases; 1-minute or daily.
/// Timestamps label the bar's start. With an `Adj Close` column (Yahoo and most daily vendors),
/// prices are adjusted for splits and dividends: close is the adjusted close and open, high and low
/// are scaled by the same factor; the file's own columns are kept beside them (`raw_*`). Rows
/// that cannot be used are reported by line and quarantined; missing bars are reported per session.
public struct BarImporter: Sendable {
    public typealias Frequency = BarFrequency

    public struct Report: Sendable {
        public var imported = 0
        /// "line N: what is wrong".
        public var rejected: [String] = []
        /// "2026-01-05: 3 missing bars (10:01, 10:02, 10:15)".
        public var missing: [String] = []
        public var keys: [String] = []
    }

    let store: any ObjectStore
    let symbol: Symbol?
    let frequency: Frequency

    public init(store: any ObjectStore, symbol: Symbol?, frequency: Frequency) {
        self.store = store; self.symbol = symbol; self.frequency = frequency
    }

    static let aliases: [String: [String]] = [
        "timestamp": ["timestamp", "datetime", "date_time", "time_stamp", "ts", "t"],
        "date": ["date", "day", "trade_date"], "time": ["time", "bar_time"],
        "open": ["open", "o", "open_price"], "high": ["high", "h", "high_price"], "low": ["low", "l", "low_price"],
        "close": ["close", "c", "last", "close_price"], "adj_close": ["adj close", "adj_close", "adjclose", "adjusted_close", "adjusted close"], "volume": ["volume", "vol", "v"], "symbol": ["symbol", "ticker"],
    ]

    public func importCSV(_ text: String, source: String) async throws -> Report {
        var report = Report()
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first else { throw StoreError(key: source, message: "empty file", code: .badInput) }
        let names = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "\"", with: "") }
        func column(_ field: String) -> Int? { Self.aliases[field]!.lazy.compactMap { names.firstIndex(of: $0) }.first }
        let timestampColumn = column("timestamp"), dateColumn = column("date"), timeColumn = column("time")
        guard timestampColumn != nil || dateColumn != nil else {
            throw StoreError(key: source, message: "line 1: no timestamp column (timestamp, datetime) and no date column; found \(names.joined(separator: ", "))", code: .badInput)
        }
        var fields: [String: Int] = [:]
        for field in ["open", "high", "low", "close", "volume"] {
            guard let i = column(field) else { throw StoreError(key: source, message: "line 1: no \(field) column; found \(names.joined(separator: ", "))", code: .badInput) }
            fields[field] = i
        }
        let adjustedColumn = column("adj_close")
        let symbolColumn = column("symbol")
        guard symbolColumn != nil || symbol != nil else { throw StoreError(key: source, message: "line 1: no symbol column: pass --symbol", code: .configuration) }

        let calendar = TradingCalendar()
        var bars: [PriceBar] = []
        /// The file's own open, high, low, close and adjusted close of each bar, when adjusted.
        var raw: [String: [Double]] = [:]
        var seen: [String: Int] = [:]
        var quarantine: [Data] = []
        func reject(_ number: Int, _ line: String, _ reason: String, _ detail: String) {
            report.rejected.append("line \(number): \(detail)")
            quarantine.append(QuarantineRecord(stage: "import-bars", source: source, line: number, reason: reason, detail: detail, raw: line).encoded())
        }
        for (offset, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let number = offset + 1
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\"", with: "") }
            func cell(_ i: Int?) -> String? { i.flatMap { $0 < cells.count ? cells[$0] : nil } }
            var values: [String: Double] = [:]
            var bad: String?
            for (field, i) in fields.sorted(by: { $0.key < $1.key }) {
                guard let text = cell(i), let v = Double(text), v.isFinite else { bad = "field \(field): not a number (\(cell(i)?.debugDescription ?? "missing"))"; break }
                values[field] = v
            }
            if adjustedColumn != nil, bad == nil {
                if let text = cell(adjustedColumn), let v = Double(text), v.isFinite, v > 0 { values["adj_close"] = v } else {
                    bad = "field adj_close: not a positive number (\(cell(adjustedColumn)?.debugDescription ?? "missing"))"
                }
            }
            if let bad { reject(number, line, "bad_value", bad); continue }
            guard let start = parseTime(timestamp: cell(timestampColumn), date: cell(dateColumn), time: cell(timeColumn)) else {
                reject(number, line, "bad_value", "field \(timestampColumn != nil ? "timestamp" : "date/time"): cannot read \((cell(timestampColumn) ?? [cell(dateColumn), cell(timeColumn)].compactMap { $0 }.joined(separator: " ")).debugDescription)")
                continue
            }
            let barSymbol = cell(symbolColumn).map(Symbol.init) ?? symbol!
            let (o, h, l, c, v) = (values["open"]!, values["high"]!, values["low"]!, values["close"]!, values["volume"]!)
            if [o, h, l, c].contains(where: { $0 <= 0 }) { reject(number, line, "non_positive", "non-positive price (open \(o), high \(h), low \(l), close \(c))"); continue }
            if v < 0 { reject(number, line, "bad_value", "negative volume \(v)"); continue }
            if h < max(o, c, l) || l > min(o, c) { reject(number, line, "inconsistent", "high \(h) / low \(l) do not bracket open \(o) and close \(c)"); continue }
            let local = Eastern.local(start)
            let span = frequency == .minute ? Timestamps.minute : Timestamps.day
            if let session = calendar.session(on: local.date) {
                if frequency == .minute && (start < session.open || start >= session.close) {
                    reject(number, line, "out_of_session", "\(Timestamps.iso8601(start)) (\(local.date) \(Self.clock(local.minuteOfDay)) New York) is outside the session"); continue
                }
            } else {
                reject(number, line, "out_of_session", "\(local.date) is not a trading day"); continue
            }
            let key = "\(barSymbol.rawValue)@\(start)"
            if let first = seen[key] { reject(number, line, "duplicate", "duplicate of line \(first) (\(barSymbol) \(Timestamps.iso8601(start)))"); continue }
            seen[key] = number
            if let adjusted = values["adj_close"] {
                // Splits and dividends: every price by the factor that makes close the adjusted close.
                let factor = adjusted / c
                bars.append(PriceBar(symbol: barSymbol, start: start, end: start + span, open: o * factor, high: h * factor, low: l * factor, close: adjusted, volume: v))
                for (name, value) in [("raw_open", o), ("raw_high", h), ("raw_low", l), ("raw_close", c), ("adj_close", adjusted)] { raw[name, default: []].append(value) }
            } else {
                bars.append(PriceBar(symbol: barSymbol, start: start, end: start + span, open: o, high: h, low: l, close: c, volume: v))
            }
        }

        // Missing bars, per symbol and session.
        for (barSymbol, symbolBars) in Dictionary(grouping: bars, by: \.symbol) {
            let starts = Set(symbolBars.map(\.start))
            let days = Set(symbolBars.map { Eastern.local($0.start).date })
            if frequency == .minute {
                for day in days.sorted() {
                    guard let session = calendar.session(on: day) else { continue }
                    let expected = stride(from: session.open, to: session.close, by: Int(Timestamps.minute))
                    let absent = expected.filter { !starts.contains($0) }
                    if !absent.isEmpty {
                        let shown = absent.prefix(5).map { Self.clock(Eastern.local($0).minuteOfDay) }.joined(separator: ", ")
                        report.missing.append("\(barSymbol) \(day): \(absent.count) missing bar(s) (\(shown)\(absent.count > 5 ? ", ..." : ""))")
                    }
                }
            } else if let first = days.min(), let last = days.max() {
                let absent = calendar.sessions(from: first, through: last).map(\.date).filter { !days.contains($0) }
                if !absent.isEmpty { report.missing.append("\(barSymbol): \(absent.count) missing trading day(s) (\(absent.prefix(5).map(\.isoString).joined(separator: ", ")))") }
            }
        }

        // Store: one partition per UTC day and symbol (1m), or per symbol (1d); imported data replaces what was there.
        var partitions: [Partition: [Int]] = [:]
        for (i, bar) in bars.enumerated() {
            let partition = frequency == .minute
                ? Partition(.bars, date: CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(bar.start, Timestamps.day))), symbol: bar.symbol)
                : Partition(.dailyBars, symbol: bar.symbol)
            partitions[partition, default: []].append(i)
        }
        for (partition, indices) in partitions.sorted(by: { $0.key < $1.key }) {
            let key = partition.prefix + "part-0.parquet"
            let ordered = indices.sorted { bars[$0].start < bars[$1].start }
            let rawColumns = raw.keys.sorted().map { name in (name, ordered.map { raw[name]![$0] }) }
            try await store.put(key, data: try MarketTables.encode(bars: ordered.map { bars[$0] }, extra: rawColumns))
            report.keys.append(key)
        }
        if !quarantine.isEmpty {
            let key = Dataset.quarantine.rawValue + "/import-bars/part-\(ContentHasher.hash(Data(source.utf8)).prefix(16)).jsonl.gz"
            try await store.put(key, data: try JSONLines.encode(quarantine))
        }
        report.imported = bars.count
        return report
    }

    /// A bar's start from one timestamp cell or from date and time cells (exchange time).
    func parseTime(timestamp: String?, date: String?, time: String?) -> EpochMillis? {
        if let timestamp, !timestamp.isEmpty {
            if let number = Double(timestamp) { return EpochMillis(number > 1e11 ? number : number * 1000) }  // epoch ms or s
            if let utc = Timestamps.parseISO8601(timestamp.replacingOccurrences(of: " ", with: "T")) { return utc }
            let parts = timestamp.split(separator: " ", maxSplits: 1).map(String.init)
            let t2 = timestamp.split(separator: "T", maxSplits: 1).map(String.init)
            if parts.count == 2 { return local(parts[0], parts[1]) }
            if t2.count == 2 { return local(t2[0], t2[1]) }
            return local(timestamp, nil)
        }
        guard let date else { return nil }
        return local(date, time)
    }

    /// Exchange-local date (YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY) and optional HH:MM[:SS].
    func local(_ dateText: String, _ timeText: String?) -> EpochMillis? {
        var civil = CivilDate(iso: dateText)
        if civil == nil, dateText.count == 8, let v = Int(dateText) { civil = CivilDate(iso: String(format: "%04d-%02d-%02d", v / 10000, v / 100 % 100, v % 100)) }
        if civil == nil {
            let p = dateText.split(separator: "/").compactMap { Int($0) }
            if p.count == 3 { civil = CivilDate(iso: String(format: "%04d-%02d-%02d", p[2], p[0], p[1])) }
        }
        guard let day = civil else { return nil }
        guard let timeText, !timeText.isEmpty else { return Eastern.utc(day, hour: 0, minute: 0) }
        let p = timeText.split(separator: ":").compactMap { Int($0) }
        guard p.count >= 2, (0..<24).contains(p[0]), (0..<60).contains(p[1]) else { return nil }
        return Eastern.utc(day, hour: p[0], minute: p[1]) + Int64(p.count > 2 ? p[2] : 0) * 1000
    }

    static func clock(_ minuteOfDay: Int) -> String { String(format: "%02d:%02d", minuteOfDay / 60, minuteOfDay % 60) }
}
