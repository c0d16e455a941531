import ConvictionCore
import Foundation

/// One symbol's feature matrix: a row per bar close (the decision time), columns in the order of
/// `definitions`, and the label beside them with its interval so validation can purge.
public struct FeatureMatrix: Sendable {
    public let symbol: Symbol
    public let definitions: [FeatureDefinition]
    /// Decision times: the close of each bar (UTC ms).
    public var timestamps: [EpochMillis]
    /// Column-major values; nil = not available at that time.
    public var columns: [[Double?]]
    /// 1 when the forward return over the horizon is positive, 0 otherwise; nil near the close.
    public var labels: [Int?]
    public var forwardReturns: [Double?]
    /// The label's interval: from the decision time to the close of the horizon's last bar.
    public var labelEnds: [EpochMillis?]

    public var rowCount: Int { timestamps.count }
}

/// A post's sentiment as the features see it.
public struct SentimentObservation: Sendable {
    /// The instant the post counts from: `created_at`, or the receipt time (stricter).
    public let time: EpochMillis
    public let polarity: Double
    public let followers: Int
    public init(time: EpochMillis, polarity: Double, followers: Int) { self.time = time; self.polarity = polarity; self.followers = followers }
}

/// Builds point-in-time features: a row stamped at a bar's close uses only bars that have closed
/// by then, and only news and posts strictly before that instant.
public struct FeatureBuilder: Sendable {
    public struct Configuration: Sendable, Hashable, Codable {
        public var barMinutes: Int
        /// Label horizon in bars, starting at the bar after the decision.
        public var labelHorizonBars: Int
        public var includeSentiment: Bool

        public init(barMinutes: Int = 5, labelHorizonBars: Int = 1, includeSentiment: Bool = true) {
            self.barMinutes = barMinutes; self.labelHorizonBars = labelHorizonBars; self.includeSentiment = includeSentiment
        }
    }

    public let configuration: Configuration
    let calendar = TradingCalendar()

    public init(configuration: Configuration) { self.configuration = configuration }

    public var definitions: [FeatureDefinition] {
        FeatureDefinition.base + (configuration.includeSentiment ? FeatureDefinition.sentiment : [])
    }

    struct Bar { var close: EpochMillis; var open, high, low, last, volume: Double }

    /// `minuteBars` sorted by start; `news` and `posts` in any order.
    public func build(symbol: Symbol, minuteBars: [PriceBar], news: [NewsEvent], posts: [SentimentObservation]) -> FeatureMatrix {
        let defs = definitions
        var matrix = FeatureMatrix(symbol: symbol, definitions: defs, timestamps: [], columns: Array(repeating: [], count: defs.count),
                                   labels: [], forwardReturns: [], labelEnds: [])
        let news = news.sorted { $0.publishedAt < $1.publishedAt }
        let newsTimes = news.map(\.publishedAt)
        var newsToneSums = [0.0], newsArticleSums = [0.0]
        for n in news { newsToneSums.append(newsToneSums.last! + n.sentiment); newsArticleSums.append(newsArticleSums.last! + Double(n.articles)) }
        let posts = posts.sorted { $0.time < $1.time }
        let postTimes = posts.map(\.time)
        var polaritySums = [0.0], weightedSums = [0.0], weightSums = [0.0]
        for p in posts {
            let w = log(1 + Double(p.followers))
            polaritySums.append(polaritySums.last! + p.polarity)
            weightedSums.append(weightedSums.last! + w * p.polarity)
            weightSums.append(weightSums.last! + w)
        }
        let barSpan = Int64(configuration.barMinutes) * Timestamps.minute
        let horizon = configuration.labelHorizonBars
        var previousSessionClose: Double?

        for session in Self.sessions(of: minuteBars, barSpan: barSpan) {
            let bars = session.bars
            var returns: [Double] = []
            for j in bars.indices {
                let t = bars[j].close
                let c = bars[j].last
                let ret1 = log(c / (j == 0 ? session.open : bars[j - 1].last))
                returns.append(ret1)
                var row: [Double?] = []
                row.append(ret1)
                row.append(j >= 3 ? log(c / bars[j - 3].last) : nil)
                row.append(j >= 12 ? log(c / bars[j - 12].last) : nil)
                row.append(log(c / session.open))
                row.append(previousSessionClose.map { log(session.open / $0) })
                let recent = returns.suffix(12)
                row.append(recent.count >= 4 ? Self.standardDeviation(recent) : nil)
                row.append((bars[j].high - bars[j].low) / c)
                let previousVolumes = bars[max(0, j - 12)..<j].map(\.volume)
                row.append(previousVolumes.isEmpty ? nil : log((bars[j].volume + 1) / (previousVolumes.reduce(0, +) / Double(previousVolumes.count) + 1)))
                row.append(Double((t - session.openTime) / Timestamps.minute))
                let (nLo, nHi) = Self.window(newsTimes, from: t - Timestamps.day, to: t)
                row.append(nHi > nLo ? (newsToneSums[nHi] - newsToneSums[nLo]) / Double(nHi - nLo) : nil)
                row.append(newsArticleSums[nHi] - newsArticleSums[nLo])

                if configuration.includeSentiment {
                    func mean(_ span: EpochMillis) -> (Double?, Int) {
                        let (lo, hi) = Self.window(postTimes, from: t - span, to: t)
                        return (hi > lo ? (polaritySums[hi] - polaritySums[lo]) / Double(hi - lo) : nil, hi - lo)
                    }
                    let (s5, n5) = mean(5 * Timestamps.minute)
                    let (s10, _) = mean(10 * Timestamps.minute)
                    let (s60, n60) = mean(60 * Timestamps.minute)
                    let (sDay, _) = mean(Timestamps.day)
                    let (lo, hi) = Self.window(postTimes, from: t - 60 * Timestamps.minute, to: t)
                    let weight = weightSums[hi] - weightSums[lo]
                    row.append(s5); row.append(s10); row.append(s60); row.append(sDay)
                    row.append(Double(n5)); row.append(Double(n60))
                    row.append(weight > 0 ? (weightedSums[hi] - weightedSums[lo]) / weight : nil)
                    row.append(s5.flatMap { a in s60.map { a - $0 } })
                }
                for k in row.indices { matrix.columns[k].append(row[k]) }
                matrix.timestamps.append(t)
                if j + horizon < bars.count {
                    let forward = log(bars[j + horizon].last / c)
                    matrix.forwardReturns.append(forward)
                    matrix.labels.append(forward > 0 ? 1 : 0)
                    matrix.labelEnds.append(bars[j + horizon].close)
                } else {
                    // Labels never cross the close: the overnight return is a different bet.
                    matrix.forwardReturns.append(nil); matrix.labels.append(nil); matrix.labelEnds.append(nil)
                }
            }
            previousSessionClose = bars.last?.last
        }
        return matrix
    }

    struct SessionBars { let openTime: EpochMillis; let open: Double; let bars: [Bar] }

    /// 1-minute bars grouped by session (ET date) and aggregated to `barSpan` bars aligned to the open.
    static func sessions(of minuteBars: [PriceBar], barSpan: Int64) -> [SessionBars] {
        var result: [SessionBars] = []
        var i = 0
        let calendar = TradingCalendar()
        while i < minuteBars.count {
            let date = Eastern.local(minuteBars[i].start).date
            guard let session = calendar.session(on: date) else { i += 1; continue }
            var bars: [Bar] = []
            let sessionOpen = minuteBars[i].open
            while i < minuteBars.count, minuteBars[i].start < session.close {
                let m = minuteBars[i]
                guard m.start >= session.open else { i += 1; continue }
                let slot = (m.start - session.open) / barSpan
                let close = min(session.open + (slot + 1) * barSpan, session.close)
                if let lastBar = bars.last, lastBar.close == close {
                    bars[bars.count - 1].high = max(lastBar.high, m.high)
                    bars[bars.count - 1].low = min(lastBar.low, m.low)
                    bars[bars.count - 1].last = m.close
                    bars[bars.count - 1].volume += m.volume
                } else {
                    bars.append(Bar(close: close, open: m.open, high: m.high, low: m.low, last: m.close, volume: m.volume))
                }
                i += 1
            }
            if !bars.isEmpty { result.append(SessionBars(openTime: session.open, open: sessionOpen, bars: bars)) }
        }
        return result
    }

    /// Index range of sorted `times` with from <= time < to: strictly before the decision instant.
    static func window(_ times: [EpochMillis], from: EpochMillis, to: EpochMillis) -> (Int, Int) {
        (lowerBound(times, from), lowerBound(times, to))
    }

    static func lowerBound(_ times: [EpochMillis], _ value: EpochMillis) -> Int {
        var lo = 0, hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func standardDeviation(_ values: ArraySlice<Double>) -> Double {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return variance.squareRoot()
    }
}
