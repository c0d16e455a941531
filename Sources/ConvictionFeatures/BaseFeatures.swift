import ConvictionCore
import Foundation

/// The 67 base features: price, volatility, range, volume, VWAP, moving averages, oscillators,
/// distribution, calendar and news. Windows count bars of the bar series, which runs across
/// sessions; "session" features restart at each open. A feature is null until its window is full.
/// Definitions (formula, window, warm-up) are in docs/training.md, generated from these descriptions.
enum BaseFeatures {
    /// The columns for `b`; `news` sorted by publishedAt.
    static func compute(bars b: BarSeries, news: [NewsEvent]) -> FeatureColumns {
        var table = FeatureColumns(rows: b.count)
        let n = b.count
        let c = b.close, h = b.high, l = b.low, o = b.open, v = b.volume
        let r: [Double?] = (0..<n).map { b.logReturn($0) }
        let sessionOpen = (0..<n).map { o[b.sessionStart[b.session[$0]]] }
        func lastIndexOfSession(_ s: Int) -> Int { s + 1 < b.sessionStart.count ? b.sessionStart[s + 1] - 1 : n - 1 }

        // Returns
        for k in [1, 2, 3, 6, 12, 24, 48, 78] {
            table.add("ret_\(k)", .price, "\(k) bars", "log return", "log(C[t] / C[t-\(k)]) over the bar series (may span sessions); null for the first \(k) bars.") {
                $0 >= k ? log(c[$0] / c[$0 - k]) : nil
            }
        }
        table.add("ret_session", .price, "session", "log return", "log(C[t] / O_session), O_session the open of the session's first bar.") { log(c[$0] / sessionOpen[$0]) }
        table.add("gap", .price, "overnight", "log return", "log(O_session / C_prev), C_prev the previous session's last close; null on the first session.") {
            let s = b.session[$0]
            return s > 0 ? log(sessionOpen[$0] / c[lastIndexOfSession(s - 1)]) : nil
        }
        table.add("ret_prev_session", .price, "previous session", "log return", "log(C_prev / O_prev) of the previous session; null on the first session.") {
            let s = b.session[$0]
            return s > 0 ? log(c[lastIndexOfSession(s - 1)] / o[b.sessionStart[s - 1]]) : nil
        }

        // Volatility
        for k in [6, 12, 24, 78] {
            table.add("rv_\(k)", .volatility, "\(k) bars", "log return", "Sample standard deviation of the last \(k) one-bar log returns.") {
                Rolling.window(r, $0, k).flatMap(Rolling.std)
            }
        }
        let hl2 = (0..<n).map { pow(log(h[$0] / l[$0]), 2) }
        table.add("park_12", .volatility, "12 bars", "log return", "Parkinson: sqrt(mean over 12 bars of ln(H/L)^2 / (4 ln 2)).") {
            $0 >= 11 ? (Rolling.mean(Array(hl2[($0 - 11)...$0])) / (4 * log(2.0))).squareRoot() : nil
        }
        let gkTerm = (0..<n).map { 0.5 * hl2[$0] - (2 * log(2.0) - 1) * pow(log(c[$0] / o[$0]), 2) }
        table.add("gk_12", .volatility, "12 bars", "log return", "Garman-Klass: sqrt(max(0, mean over 12 bars of 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2)).") {
            $0 >= 11 ? max(0, Rolling.mean(Array(gkTerm[($0 - 11)...$0]))).squareRoot() : nil
        }

        // Ranges
        var sessionHigh = [Double](repeating: 0, count: n), sessionLow = [Double](repeating: 0, count: n)
        var sessionMaxClose = [Double](repeating: 0, count: n), sessionMinClose = [Double](repeating: 0, count: n)
        var sessionPV = [Double](repeating: 0, count: n), sessionV = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let first = b.sessionStart[b.session[i]] == i
            sessionHigh[i] = first ? h[i] : max(sessionHigh[i - 1], h[i]); sessionLow[i] = first ? l[i] : min(sessionLow[i - 1], l[i])
            sessionMaxClose[i] = first ? c[i] : max(sessionMaxClose[i - 1], c[i]); sessionMinClose[i] = first ? c[i] : min(sessionMinClose[i - 1], c[i])
            sessionPV[i] = (first ? 0 : sessionPV[i - 1]) + b.priceVolume[i]; sessionV[i] = (first ? 0 : sessionV[i - 1]) + v[i]
        }
        table.add("range_1", .range, "1 bar", "fraction", "(H - L) / C of the last bar.") { (h[$0] - l[$0]) / c[$0] }
        table.add("range_12", .range, "12 bars", "fraction", "(max H - min L over the last 12 bars) / C.") {
            $0 >= 11 ? (h[($0 - 11)...$0].max()! - l[($0 - 11)...$0].min()!) / c[$0] : nil
        }
        table.add("range_session", .range, "session", "fraction", "(session high - session low so far) / C.") { (sessionHigh[$0] - sessionLow[$0]) / c[$0] }
        table.add("close_pos_1", .range, "1 bar", "[0, 1]", "(C - L) / (H - L) of the last bar; null when H = L.") { h[$0] > l[$0] ? (c[$0] - l[$0]) / (h[$0] - l[$0]) : nil }
        table.add("close_pos_session", .range, "session", "[0, 1]", "(C - session low) / (session high - session low); null when equal.") {
            sessionHigh[$0] > sessionLow[$0] ? (c[$0] - sessionLow[$0]) / (sessionHigh[$0] - sessionLow[$0]) : nil
        }

        // Volume
        let logV = v.map { log(1 + $0) }
        table.add("log_volume", .volume, "1 bar", "log shares", "log(1 + V) of the last bar.") { logV[$0] }
        for k in [12, 78] {
            table.add("volume_z_\(k)", .volume, "\(k) bars", "z-score", "(log(1+V[t]) - mean) / std of log(1+V) over the \(k) bars before t (sample std); null when std = 0.") {
                guard $0 >= k else { return nil }
                let prior = Array(logV[($0 - k)..<$0])
                guard let sd = Rolling.std(prior), sd > 0 else { return nil }
                return (logV[$0] - Rolling.mean(prior)) / sd
            }
        }
        // Same slot in the previous 5 sessions that have it.
        func priorSlots(_ i: Int) -> [Int]? {
            var found: [Int] = []
            var s = b.session[i] - 1
            while s >= 0 && found.count < 5 {
                let index = b.sessionStart[s] + b.slot[i]
                if index <= lastIndexOfSession(s), b.slot[index] == b.slot[i] { found.append(index) }
                s -= 1
            }
            return found.count == 5 ? found : nil
        }
        table.add("rel_volume_tod", .volume, "5 sessions", "ratio", "V / mean V of the same time-of-day bar in the previous 5 sessions; null before 5 sessions.") { i in
            priorSlots(i).map { v[i] / Rolling.mean($0.map { v[$0] }) }
        }
        table.add("cum_volume_ratio", .volume, "5 sessions", "ratio", "Session volume so far / mean session volume up to the same bar in the previous 5 sessions.") { i in
            priorSlots(i).map { sessionV[i] / Rolling.mean($0.map { sessionV[$0] }) }
        }

        // VWAP
        table.add("vwap_dist_session", .price, "session", "fraction", "C / VWAP_session - 1, VWAP from 1-minute typical prices (H+L+C)/3 weighted by volume.") {
            sessionV[$0] > 0 ? c[$0] / (sessionPV[$0] / sessionV[$0]) - 1 : nil
        }
        table.add("vwap_dist_12", .price, "12 bars", "fraction", "C / VWAP over the last 12 bars - 1.") {
            guard $0 >= 11 else { return nil }
            let vol = v[($0 - 11)...$0].reduce(0, +)
            return vol > 0 ? c[$0] / (b.priceVolume[($0 - 11)...$0].reduce(0, +) / vol) - 1 : nil
        }

        // Moving averages
        for k in [6, 12, 24, 78] {
            table.add("sma_dist_\(k)", .price, "\(k) bars", "fraction", "C / SMA_\(k)(C) - 1.") { $0 >= k - 1 ? c[$0] / Rolling.mean(Array(c[($0 - k + 1)...$0])) - 1 : nil }
        }
        let ema12 = Rolling.ema(c, 12), ema26 = Rolling.ema(c, 26)
        table.add("ema_dist_12", .price, "12 bars", "fraction", "C / EMA_12(C) - 1; EMA alpha = 2/(n+1) seeded with the first close; null for the first 11 bars.") { $0 >= 11 ? c[$0] / ema12[$0] - 1 : nil }
        table.add("ema_dist_26", .price, "26 bars", "fraction", "C / EMA_26(C) - 1; null for the first 25 bars.") { $0 >= 25 ? c[$0] / ema26[$0] - 1 : nil }

        // Oscillators
        let changes = (1..<max(n, 1)).map { c[$0] - c[$0 - 1] }
        for k in [6, 14] {
            let gains = Rolling.wilder(changes.map { max($0, 0) }, k), losses = Rolling.wilder(changes.map { max(-$0, 0) }, k)
            table.add("rsi_\(k)", .oscillator, "\(k) bars", "[0, 100]", "Wilder RSI: 100 - 100 / (1 + avg gain / avg loss) of close-to-close changes, Wilder-smoothed over \(k); 100 when avg loss = 0.") { i in
                guard i >= 1, let g = gains[i - 1], let lo = losses[i - 1] else { return nil }
                return lo == 0 ? 100 : 100 - 100 / (1 + g / lo)
            }
        }
        let macd = (0..<n).map { ema12[$0] - ema26[$0] }
        let signal = Rolling.ema(Array(macd.dropFirst(min(25, n))), 9)
        table.add("macd", .oscillator, "12/26 bars", "fraction of C", "(EMA_12 - EMA_26) / C; null for the first 25 bars.") { $0 >= 25 ? macd[$0] / c[$0] : nil }
        table.add("macd_signal", .oscillator, "9 bars of MACD", "fraction of C", "EMA_9 of MACD (seeded at bar 26) / C; null for the first 33 bars.") { $0 >= 33 ? signal[$0 - 25] / c[$0] : nil }
        table.add("macd_hist", .oscillator, "12/26/9 bars", "fraction of C", "(MACD - signal) / C; null for the first 33 bars.") { $0 >= 33 ? (macd[$0] - signal[$0 - 25]) / c[$0] : nil }
        table.add("bb_pctb_20", .oscillator, "20 bars", "fraction", "Bollinger %b: (C - (SMA_20 - 2 sd)) / (4 sd), sd the population std of the last 20 closes; null when sd = 0.") {
            guard $0 >= 19 else { return nil }
            let w = Array(c[($0 - 19)...$0]), m = Rolling.mean(w), sd = (w.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 20).squareRoot()
            return sd > 0 ? (c[$0] - (m - 2 * sd)) / (4 * sd) : nil
        }
        table.add("bb_width_20", .oscillator, "20 bars", "fraction", "Bollinger width: 4 sd / SMA_20 (population sd).") {
            guard $0 >= 19 else { return nil }
            let w = Array(c[($0 - 19)...$0]), m = Rolling.mean(w)
            return 4 * (w.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 20).squareRoot() / m
        }
        let atr = Rolling.wilder(Rolling.trueRange(high: h, low: l, close: c), 14)
        table.add("atr_14", .volatility, "14 bars", "fraction of C", "Wilder ATR_14 of the true range max(H-L, |H-C_prev|, |L-C_prev|), divided by C.") { i in
            i >= 1 ? atr[i - 1].map { $0 / c[i] } : nil
        }
        let stochK: [Double?] = (0..<n).map { i in
            guard i >= 13 else { return nil }
            let hi = h[(i - 13)...i].max()!, lo = l[(i - 13)...i].min()!
            return hi > lo ? 100 * (c[i] - lo) / (hi - lo) : nil
        }
        table.add("stoch_k_14", .oscillator, "14 bars", "[0, 100]", "Stochastic %K: 100 (C - min L_14) / (max H_14 - min L_14).") { stochK[$0] }
        table.add("stoch_d_3", .oscillator, "3 values of %K", "[0, 100]", "Stochastic %D: mean of the last 3 %K.") { Rolling.window(stochK, $0, 3).map(Rolling.mean) }
        let typical = (0..<n).map { (h[$0] + l[$0] + c[$0]) / 3 }
        table.add("cci_20", .oscillator, "20 bars", "index", "CCI: (TP - SMA_20(TP)) / (0.015 mean absolute deviation of TP over 20), TP = (H+L+C)/3.") {
            guard $0 >= 19 else { return nil }
            let w = Array(typical[($0 - 19)...$0]), m = Rolling.mean(w), mad = w.reduce(0) { $0 + abs($1 - m) } / 20
            return mad > 0 ? (typical[$0] - m) / (0.015 * mad) : nil
        }

        // Distribution of returns
        table.add("mom_z_12", .price, "12 bars", "z-score", "ret_12 / (rv_12 sqrt(12)); null when rv_12 = 0.") { i in
            guard i >= 12, let w = Rolling.window(r, i, 12), let sd = Rolling.std(w), sd > 0 else { return nil }
            return log(c[i] / c[i - 12]) / (sd * (12.0).squareRoot())
        }
        table.add("autocorr_24", .price, "24 bars", "correlation", "Pearson correlation of (r[k], r[k-1]) over the last 24 pairs of one-bar returns.") { i in
            guard let x = Rolling.window(r, i, 24), let y = Rolling.window(r, i - 1, 24) else { return nil }
            let mx = Rolling.mean(x), my = Rolling.mean(y)
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for k in 0..<24 { sxy += (x[k] - mx) * (y[k] - my); sxx += (x[k] - mx) * (x[k] - mx); syy += (y[k] - my) * (y[k] - my) }
            return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : nil
        }
        func moment(_ i: Int, _ p: Double) -> Double? {
            guard let w = Rolling.window(r, i, 24) else { return nil }
            let m = Rolling.mean(w), sd = (w.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 24).squareRoot()
            return sd > 0 ? w.reduce(0) { $0 + pow(($1 - m) / sd, p) } / 24 : nil
        }
        table.add("skew_24", .price, "24 bars", "", "Skewness of the last 24 one-bar returns (population moments).") { moment($0, 3) }
        table.add("kurt_24", .price, "24 bars", "", "Excess kurtosis of the last 24 one-bar returns (population moments, minus 3).") { moment($0, 4).map { $0 - 3 } }
        table.add("up_share_12", .price, "12 bars", "fraction", "Share of the last 12 one-bar returns that are positive.") {
            Rolling.window(r, $0, 12).map { Double($0.filter { $0 > 0 }.count) / 12 }
        }
        table.add("dd_session", .price, "session", "log return", "log(C / highest close of the session so far), <= 0.") { log(c[$0] / sessionMaxClose[$0]) }
        table.add("ru_session", .price, "session", "log return", "log(C / lowest close of the session so far), >= 0.") { log(c[$0] / sessionMinClose[$0]) }

        // Calendar
        func minuteOfSession(_ i: Int) -> Double { Double((b.closeTime[i] - b.sessions[b.session[i]].open) / Timestamps.minute) }
        func minutesToClose(_ i: Int) -> Double { Double((b.sessions[b.session[i]].close - b.closeTime[i]) / Timestamps.minute) }
        table.add("minute_of_session", .calendar, "", "minutes", "Minutes from the opening bell to the decision time.") { minuteOfSession($0) }
        table.add("minutes_to_close", .calendar, "", "minutes", "Minutes from the decision time to the closing bell (13:00 on half days).") { minutesToClose($0) }
        table.add("tod_sin", .calendar, "", "[-1, 1]", "sin(2 pi minute_of_session / 390).") { sin(2 * .pi * minuteOfSession($0) / 390) }
        table.add("tod_cos", .calendar, "", "[-1, 1]", "cos(2 pi minute_of_session / 390).") { cos(2 * .pi * minuteOfSession($0) / 390) }
        func weekday(_ i: Int) -> Double { Double(b.sessions[b.session[i]].date.weekday - 1) }  // Monday = 0
        table.add("dow_sin", .calendar, "", "[-1, 1]", "sin(2 pi d / 5), d = 0 (Monday) ... 4 (Friday).") { sin(2 * .pi * weekday($0) / 5) }
        table.add("dow_cos", .calendar, "", "[-1, 1]", "cos(2 pi d / 5).") { cos(2 * .pi * weekday($0) / 5) }
        table.add("is_first_30m", .calendar, "", "0/1", "1 when minute_of_session <= 30.") { minuteOfSession($0) <= 30 ? 1 : 0 }
        table.add("is_last_30m", .calendar, "", "0/1", "1 when minutes_to_close <= 30.") { minutesToClose($0) <= 30 ? 1 : 0 }
        table.add("is_half_day", .calendar, "", "0/1", "1 on 13:00 early-close sessions.") { b.sessions[b.session[$0]].isHalfDay ? 1 : 0 }

        // News, published strictly before the decision time
        let newsWindows = NewsWindows(news)
        for (suffix, span, label) in [("", Timestamps.day, "24 hours"), ("_1h", Timestamps.hour, "hour")] {
            let window = suffix.isEmpty ? "24h" : "1h"
            table.add("news_sentiment" + suffix, .news, window, "[-1, 1]", "Mean tone of news published in the \(label) before the decision time; null when none.") { i in
                newsWindows.meanTone(from: b.closeTime[i] - span, to: b.closeTime[i])
            }
            table.add("news_volume" + suffix, .news, window, "articles", "Articles published in the \(label) before the decision time (0 is a real zero).") { i in
                newsWindows.articles(from: b.closeTime[i] - span, to: b.closeTime[i])
            }
        }
        table.add("minutes_since_news", .news, "", "minutes", "Minutes since the latest news before the decision time; null before the first.") { i in
            newsWindows.minutesSinceLatest(before: b.closeTime[i])
        }
        return table
    }
}
