import ConvictionCore
import Foundation

/// Bars of `barMinutes` built from 1-minute bars, aligned to each session's open, for all sessions
/// in time order. Index i is one bar; its values are known at `close[i]`, the decision time.
struct BarSeries {
    var closeTime: [EpochMillis] = []
    var open: [Double] = [], high: [Double] = [], low: [Double] = [], close: [Double] = [], volume: [Double] = []
    /// Sum over the bar's 1-minute bars of typical price (H+L+C)/3 times volume, for VWAPs.
    var priceVolume: [Double] = []
    /// Session number (0-based) and slot within the session.
    var session: [Int] = [], slot: [Int] = []
    var sessions: [TradingSession] = []
    /// First index of each session.
    var sessionStart: [Int] = []

    var count: Int { close.count }

    init(minuteBars: [PriceBar], barMinutes: Int) {
        let span = Int64(barMinutes) * Timestamps.minute
        let calendar = TradingCalendar()
        var current: TradingSession?
        for m in minuteBars {
            if current == nil || m.start >= current!.close {
                guard let s = calendar.session(on: Eastern.local(m.start).date), m.start >= s.open, m.start < s.close else { continue }
                current = s
                sessions.append(s)
                sessionStart.append(count)
            }
            guard let s = current, m.start >= s.open else { continue }
            let slotIndex = Int((m.start - s.open) / span)
            let end = min(s.open + Int64(slotIndex + 1) * span, s.close)
            let typical = (m.high + m.low + m.close) / 3
            if let last = closeTime.last, last == end, session.last == sessions.count - 1 {
                let i = count - 1
                high[i] = max(high[i], m.high); low[i] = min(low[i], m.low); close[i] = m.close
                volume[i] += m.volume; priceVolume[i] += typical * m.volume
            } else {
                closeTime.append(end); open.append(m.open); high.append(m.high); low.append(m.low); close.append(m.close)
                volume.append(m.volume); priceVolume.append(typical * m.volume)
                session.append(sessions.count - 1); slot.append(slotIndex)
            }
        }
    }

    /// Log return of bar i over the previous bar's close (nil for the first bar).
    func logReturn(_ i: Int) -> Double? { i > 0 ? log(close[i] / close[i - 1]) : nil }
}

/// Rolling-window helpers over optional series: a window with any nil, or not yet full, gives nil.
enum Rolling {
    static func window(_ values: [Double?], _ i: Int, _ n: Int) -> [Double]? {
        guard i + 1 >= n else { return nil }
        var out: [Double] = []
        out.reserveCapacity(n)
        for k in (i - n + 1)...i { guard let v = values[k] else { return nil }; out.append(v) }
        return out
    }

    static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

    /// Sample standard deviation (n - 1).
    static func std(_ xs: [Double]) -> Double? {
        guard xs.count > 1 else { return nil }
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot()
    }

    /// Exponential moving average with alpha = 2 / (n + 1), seeded with the first value.
    static func ema(_ xs: [Double], _ n: Int) -> [Double] {
        let alpha = 2 / Double(n + 1)
        var out: [Double] = []
        out.reserveCapacity(xs.count)
        for (i, x) in xs.enumerated() { out.append(i == 0 ? x : alpha * x + (1 - alpha) * out[i - 1]) }
        return out
    }

    /// Wilder's smoothing: the first value is the mean of the first n inputs, then
    /// s = (s * (n - 1) + x) / n. Nil before n inputs.
    static func wilder(_ xs: [Double], _ n: Int) -> [Double?] {
        var out = [Double?](repeating: nil, count: xs.count)
        guard xs.count >= n else { return out }
        var s = xs[0..<n].reduce(0, +) / Double(n)
        out[n - 1] = s
        for i in n..<xs.count { s = (s * Double(n - 1) + xs[i]) / Double(n); out[i] = s }
        return out
    }

    /// The true range max(H-L, |H-C_prev|, |L-C_prev|) of each bar after the first (element i-1 is bar i's).
    static func trueRange(high h: [Double], low l: [Double], close c: [Double]) -> [Double] {
        // Typed step by step: the one-expression form is too much for the type checker.
        (1..<max(c.count, 1)).map { (i: Int) -> Double in
            let span: Double = h[i] - l[i]
            let up: Double = abs(h[i] - c[i - 1])
            let down: Double = abs(l[i] - c[i - 1])
            return max(span, up, down)
        }
    }
}
