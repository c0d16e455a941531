import ConvictionCore
import Foundation

/// Daily bars on the NYSE calendar: one row per session that has a bar, stamped at the session's
/// close (16:00 New York, 13:00 on early-close days), the decision time.
struct DailySeries {
    var sessions: [TradingSession] = []
    var open: [Double] = [], high: [Double] = [], low: [Double] = [], close: [Double] = [], volume: [Double] = []
    /// The close of the session before each row's session on the calendar (whether or not it has
    /// a bar): posts from then up to the row's close count for the row.
    var previousClose: [EpochMillis] = []
    /// The close of the session before that: the start of the previous session's post window.
    var previousPreviousClose: [EpochMillis] = []

    var count: Int { close.count }
    var closeTime: [EpochMillis] { sessions.map(\.close) }

    /// `bars` sorted by start; a bar counts for the session of its New York date. Bars on days the
    /// exchange was closed are left out (the importer reports them).
    init(dailyBars bars: [PriceBar]) {
        let calendar = TradingCalendar()
        for bar in bars {
            guard let session = calendar.session(on: Eastern.local(bar.start).date) else { continue }
            if sessions.last?.date == session.date { continue }
            sessions.append(session)
            open.append(bar.open); high.append(bar.high); low.append(bar.low); close.append(bar.close); volume.append(bar.volume)
            let previous = calendar.previousSession(before: session.date)
            previousClose.append(previous.close)
            previousPreviousClose.append(calendar.previousSession(before: previous.date).close)
        }
    }

    /// Whether row `i + 1` is the calendar's next session after row `i` (no session missing between).
    func nextIsAdjacent(_ i: Int) -> Bool { i + 1 < count && previousClose[i + 1] == sessions[i].close }
}

extension TradingCalendar {
    /// The last session strictly before `date`.
    public func previousSession(before date: CivilDate) -> TradingSession {
        var day = date.adding(days: -1)
        while true {
            if let s = session(on: day) { return s }
            day = day.adding(days: -1)
        }
    }
}

/// The daily base features: returns over 1, 5 and 20 sessions, gaps, ranges, volatility, volume,
/// trend, oscillators, calendar and news. A feature is null until its window is full.
enum DailyFeatures {
    /// The columns for `b`; `news` sorted by publishedAt.
    static func compute(bars b: DailySeries, news: [NewsEvent]) -> FeatureColumns {
        var table = FeatureColumns(rows: b.count)
        let n = b.count
        let c = b.close, h = b.high, l = b.low, o = b.open, v = b.volume
        let r: [Double?] = (0..<n).map { $0 > 0 ? log(c[$0] / c[$0 - 1]) : nil }

        for k in [1, 5, 20] {
            table.add("ret_\(k)", .price, "\(k) sessions", "log return", "log(C[t] / C[t-\(k)]) of adjusted closes; null for the first \(k) sessions.") {
                $0 >= k ? log(c[$0] / c[$0 - k]) : nil
            }
        }
        table.add("ret_intraday", .price, "session", "log return", "log(C / O) of the session.") { log(c[$0] / o[$0]) }
        table.add("gap", .price, "overnight", "log return", "log(O / C_prev): the open against the previous session's close; null on the first session.") {
            $0 > 0 ? log(o[$0] / c[$0 - 1]) : nil
        }
        table.add("range_1", .range, "session", "fraction", "(H - L) / C of the session.") { (h[$0] - l[$0]) / c[$0] }
        table.add("close_pos_1", .range, "session", "[0, 1]", "(C - L) / (H - L); null when H = L.") { h[$0] > l[$0] ? (c[$0] - l[$0]) / (h[$0] - l[$0]) : nil }
        for k in [5, 20] {
            table.add("rv_\(k)", .volatility, "\(k) sessions", "log return", "Sample standard deviation of the last \(k) daily log returns.") {
                Rolling.window(r, $0, k).flatMap(Rolling.std)
            }
        }
        let hl2 = (0..<n).map { pow(log(h[$0] / l[$0]), 2) }
        table.add("park_20", .volatility, "20 sessions", "log return", "Parkinson: sqrt(mean over 20 sessions of ln(H/L)^2 / (4 ln 2)).") {
            $0 >= 19 ? (Rolling.mean(Array(hl2[($0 - 19)...$0])) / (4 * log(2.0))).squareRoot() : nil
        }
        let atr = Rolling.wilder(Rolling.trueRange(high: h, low: l, close: c), 14)
        table.add("atr_14", .volatility, "14 sessions", "fraction of C", "Wilder ATR_14 of the true range, divided by C.") { i in i >= 1 ? atr[i - 1].map { $0 / c[i] } : nil }
        let logV = v.map { log(1 + $0) }
        table.add("volume_z_20", .volume, "20 sessions", "z-score", "(log(1+V) - mean) / std of log(1+V) over the 20 sessions before t; null when std = 0.") {
            guard $0 >= 20 else { return nil }
            let prior = Array(logV[($0 - 20)..<$0])
            guard let sd = Rolling.std(prior), sd > 0 else { return nil }
            return (logV[$0] - Rolling.mean(prior)) / sd
        }
        table.add("rel_volume_20", .volume, "20 sessions", "ratio", "V / mean V of the 20 sessions before t.") {
            guard $0 >= 20 else { return nil }
            let m = Rolling.mean(Array(v[($0 - 20)..<$0]))
            return m > 0 ? v[$0] / m : nil
        }
        for k in [5, 20, 50] {
            table.add("sma_dist_\(k)", .price, "\(k) sessions", "fraction", "C / SMA_\(k)(C) - 1.") { $0 >= k - 1 ? c[$0] / Rolling.mean(Array(c[($0 - k + 1)...$0])) - 1 : nil }
        }
        let changes = (1..<max(n, 1)).map { c[$0] - c[$0 - 1] }
        let gains = Rolling.wilder(changes.map { max($0, 0) }, 14), losses = Rolling.wilder(changes.map { max(-$0, 0) }, 14)
        table.add("rsi_14", .oscillator, "14 sessions", "[0, 100]", "Wilder RSI over 14 sessions; 100 when the average loss is 0.") { i in
            guard i >= 1, let g = gains[i - 1], let lo = losses[i - 1] else { return nil }
            return lo == 0 ? 100 : 100 - 100 / (1 + g / lo)
        }
        table.add("mom_z_20", .price, "20 sessions", "z-score", "ret_20 / (rv_20 sqrt(20)); null when rv_20 = 0.") { i in
            guard i >= 20, let w = Rolling.window(r, i, 20), let sd = Rolling.std(w), sd > 0 else { return nil }
            return log(c[i] / c[i - 20]) / (sd * (20.0).squareRoot())
        }
        table.add("up_share_20", .price, "20 sessions", "fraction", "Share of the last 20 daily returns that are positive.") {
            Rolling.window(r, $0, 20).map { Double($0.filter { $0 > 0 }.count) / 20 }
        }
        table.add("dd_20", .price, "20 sessions", "log return", "log(C / highest close of the last 20 sessions), <= 0.") {
            $0 >= 19 ? log(c[$0] / c[($0 - 19)...$0].max()!) : nil
        }

        func weekday(_ i: Int) -> Double { Double(b.sessions[i].date.weekday - 1) }  // Monday = 0
        table.add("dow_sin", .calendar, "", "[-1, 1]", "sin(2 pi d / 5), d = 0 (Monday) ... 4 (Friday).") { sin(2 * .pi * weekday($0) / 5) }
        table.add("dow_cos", .calendar, "", "[-1, 1]", "cos(2 pi d / 5).") { cos(2 * .pi * weekday($0) / 5) }
        table.add("month_sin", .calendar, "", "[-1, 1]", "sin(2 pi (month - 1) / 12).") { sin(2 * .pi * Double(b.sessions[$0].date.month - 1) / 12) }
        table.add("month_cos", .calendar, "", "[-1, 1]", "cos(2 pi (month - 1) / 12).") { cos(2 * .pi * Double(b.sessions[$0].date.month - 1) / 12) }
        table.add("days_since_prev_session", .calendar, "", "days", "Calendar days since the previous session (3 after a weekend).") {
            Double((b.sessions[$0].close - b.previousClose[$0] + Timestamps.hour * 12) / Timestamps.day)
        }
        table.add("is_half_day", .calendar, "", "0/1", "1 on early-close sessions.") { b.sessions[$0].isHalfDay ? 1 : 0 }

        // News, published strictly before the close.
        let newsWindows = NewsWindows(news)
        let closes = b.closeTime
        table.add("news_sentiment", .news, "session", "[-1, 1]", "Mean tone of news published since the previous session's close, before this close; null when none.") { i in
            newsWindows.meanTone(from: b.previousClose[i], to: closes[i])
        }
        table.add("news_volume", .news, "session", "articles", "Articles published since the previous session's close, before this close.") { i in
            newsWindows.articles(from: b.previousClose[i], to: closes[i])
        }
        return table
    }
}
