import ConvictionCore

/// Feature definitions and their value columns, appended side by side so the two cannot drift
/// apart: the 1-minute and the daily base features both build their matrices with it.
struct FeatureColumns {
    let rows: Int
    private(set) var definitions: [FeatureDefinition] = []
    private(set) var columns: [[Double?]] = []

    init(rows: Int) { self.rows = rows }

    /// One feature: its definition, and its value at each row (nil = null).
    mutating func add(_ name: String, _ group: FeatureDefinition.Group, _ window: String, _ unit: String, _ description: String,
                      _ value: (Int) -> Double?) {
        definitions.append(FeatureDefinition(name: name, group: group, window: window, unit: unit, description: description))
        columns.append((0..<rows).map(value))
    }
}

/// News published in a window `[from, to)`: mean tone and article count from prefix sums, so each
/// row costs two binary searches.
struct NewsWindows {
    private let times: [EpochMillis]
    private var toneSums = [0.0], articleSums = [0.0]

    /// `news` sorted by publishedAt.
    init(_ news: [NewsEvent]) {
        times = news.map(\.publishedAt)
        for e in news { toneSums.append(toneSums.last! + e.sentiment); articleSums.append(articleSums.last! + Double(e.articles)) }
    }

    func meanTone(from: EpochMillis, to: EpochMillis) -> Double? {
        let (lo, hi) = FeatureBuilder.window(times, from: from, to: to)
        return hi > lo ? (toneSums[hi] - toneSums[lo]) / Double(hi - lo) : nil
    }

    func articles(from: EpochMillis, to: EpochMillis) -> Double {
        let (lo, hi) = FeatureBuilder.window(times, from: from, to: to)
        return articleSums[hi] - articleSums[lo]
    }

    /// Minutes since the latest news strictly before `time`; nil before the first.
    func minutesSinceLatest(before time: EpochMillis) -> Double? {
        let k = FeatureBuilder.lowerBound(times, time)
        return k > 0 ? Double(time - times[k - 1]) / 60_000 : nil
    }
}
