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

/// Builds point-in-time features: a row stamped at a bar's close uses only bars that have closed
/// by then, and only news and posts strictly before that instant.
public struct FeatureBuilder: Sendable {
    public struct Configuration: Sendable, Hashable, Codable {
        /// `1m`: rows every `barMinutes`, built from 1-minute bars (`market/bars_1m/`); `1d`: one
        /// row per session at its close, from daily bars (`market/bars_1d/`).
        public var frequency = BarFrequency.minute
        public var barMinutes: Int
        /// Label horizon in bars, starting at the bar after the decision.
        public var labelHorizonBars: Int
        public var includeSentiment: Bool
        /// Stop before training when a data-quality check fails (false: warn only).
        public var enforceQualityChecks: Bool

        public init(barMinutes: Int = 5, labelHorizonBars: Int = 1, includeSentiment: Bool = true, enforceQualityChecks: Bool = true) {
            self.barMinutes = barMinutes; self.labelHorizonBars = labelHorizonBars; self.includeSentiment = includeSentiment
            self.enforceQualityChecks = enforceQualityChecks
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    public var daily: Bool { configuration.frequency == .daily }

    public var definitions: [FeatureDefinition] {
        daily ? FeatureDefinition.dailyBase + (configuration.includeSentiment ? FeatureDefinition.dailySentiment : [])
            : FeatureDefinition.base + (configuration.includeSentiment ? FeatureDefinition.sentiment : [])
    }

    /// One row per session with a daily bar, at the close. The label is the next session's
    /// direction (close to close), null when the next session's bar is missing; dead zones are
    /// the training stage's (`training.dead_zone`), from `forward_return`.
    public func buildDaily(symbol: Symbol, dailyBars: [PriceBar], news: [NewsEvent], posts: [SentimentObservation]) -> FeatureMatrix {
        let series = DailySeries(dailyBars: dailyBars)
        let base = DailyFeatures.compute(bars: series, news: news.sorted { $0.publishedAt < $1.publishedAt })
        var columns = base.columns
        let times = series.closeTime
        if configuration.includeSentiment {
            let newsSentiment = base.columns[base.definitions.firstIndex { $0.name == "news_sentiment" }!]
            let windows = (0..<series.count).map { (start: series.previousClose[$0], previousStart: series.previousPreviousClose[$0]) }
            columns += SentimentFeatures.compute(times: times, posts: posts, newsSentiment: newsSentiment, sessionWindows: windows)
        }
        let dailyDefinitions = FeatureDefinition.dailyBase + (configuration.includeSentiment ? FeatureDefinition.dailySentiment : [])
        var matrix = FeatureMatrix(symbol: symbol, definitions: dailyDefinitions, timestamps: times, columns: columns,
                                   labels: [], forwardReturns: [], labelEnds: [])
        for i in 0..<series.count {
            if series.nextIsAdjacent(i) {
                let forward = log(series.close[i + 1] / series.close[i])
                matrix.forwardReturns.append(forward); matrix.labels.append(forward > 0 ? 1 : 0); matrix.labelEnds.append(times[i + 1])
            } else {
                matrix.forwardReturns.append(nil); matrix.labels.append(nil); matrix.labelEnds.append(nil)
            }
        }
        return matrix
    }

    /// `minuteBars` sorted by start; `news` and `posts` in any order.
    public func build(symbol: Symbol, minuteBars: [PriceBar], news: [NewsEvent], posts: [SentimentObservation]) -> FeatureMatrix {
        let series = BarSeries(minuteBars: minuteBars, barMinutes: configuration.barMinutes)
        let base = BaseFeatures.compute(bars: series, news: news.sorted { $0.publishedAt < $1.publishedAt })
        var columns = base.columns
        if configuration.includeSentiment {
            let newsSentiment = base.columns[base.definitions.firstIndex { $0.name == "news_sentiment" }!]
            columns += SentimentFeatures.compute(times: series.closeTime, posts: posts, newsSentiment: newsSentiment)
        }
        var matrix = FeatureMatrix(symbol: symbol, definitions: definitions, timestamps: series.closeTime, columns: columns,
                                   labels: [], forwardReturns: [], labelEnds: [])
        // Label: direction of the next `horizon` bars, never across the close (the overnight return
        // is a different bet).
        let horizon = configuration.labelHorizonBars
        for i in 0..<series.count {
            let j = i + horizon
            if j < series.count, series.session[j] == series.session[i] {
                let forward = log(series.close[j] / series.close[i])
                matrix.forwardReturns.append(forward); matrix.labels.append(forward > 0 ? 1 : 0); matrix.labelEnds.append(series.closeTime[j])
            } else {
                matrix.forwardReturns.append(nil); matrix.labels.append(nil); matrix.labelEnds.append(nil)
            }
        }
        return matrix
    }

    /// The sentiment columns alone (in `FeatureDefinition.sentiment` order) for decision times
    /// `times` (ascending) and posts in any order; for benchmarks and callers with their own bars.
    public static func sentimentColumns(times: [EpochMillis], posts: [SentimentObservation], newsSentiment: [Double?]) -> [[Double?]] {
        SentimentFeatures.compute(times: times, posts: posts, newsSentiment: newsSentiment)
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

}
