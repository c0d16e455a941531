import ConvictionCore
import Foundation

/// Which time makes a post known: `created` (its `created_at`) or `received` (stricter: when
/// Conviction received it). Historical posts are only ever known by `created_at`.
public enum PointInTime: String, Sendable, Hashable, Codable, CaseIterable {
    case created, received
}

/// A post's sentiment as the features see it.
public struct SentimentObservation: Sendable {
    /// The instant the post counts from: `created_at`, or the receipt time (stricter).
    public let time: EpochMillis
    /// P(positive) - P(negative).
    public let polarity: Double
    public let followers: Int
    /// Likes plus reposts.
    public let engagement: Int
    /// +1 positive, -1 negative, 0 neutral (the scorer's label).
    public let label: Int

    public init(time: EpochMillis, polarity: Double, followers: Int, engagement: Int = 0, label: Int = 0) {
        self.time = time; self.polarity = polarity; self.followers = followers; self.engagement = engagement; self.label = label
    }
}

/// The sentiment family. For each trailing window w (5m, 10m, 60m, daily = 24 h) ending at the
/// decision time t, over posts with t - w <= time < t: mean polarity, post count, abnormal volume,
/// follower- and engagement-weighted polarity, bullish share, disagreement and momentum; then
/// sentiment volatility and divergences. Empty windows give null (counts give 0).
struct SentimentFeatures {
    static let windows: [(name: String, span: EpochMillis)] = [
        ("5m", 5 * Timestamps.minute), ("10m", 10 * Timestamps.minute), ("60m", Timestamps.hour), ("daily", Timestamps.day),
    ]
    /// Rows of history for the abnormal-volume z-score (one session of 5-minute bars).
    static let volumeHistory = 78

    static let definitions = makeDefinitions(sessionDaily: false)
    /// With daily bars, the `daily` window is the session: posts since the previous session's close.
    static let sessionDefinitions = makeDefinitions(sessionDaily: true)
    /// Rows of history for the abnormal-volume z-score with daily rows (about a month).
    static let dailyVolumeHistory = 20

    static func makeDefinitions(sessionDaily: Bool) -> [FeatureDefinition] {
        var defs: [FeatureDefinition] = []
        let history = sessionDaily ? dailyVolumeHistory : volumeHistory
        for (w, _) in windows {
            let span = w == "daily" ? (sessionDaily ? "time since the previous session's close (after-hours and weekend posts count for the next session)" : "24 hours")
                : w.replacingOccurrences(of: "m", with: " minutes")
            defs += [
                .init(name: "sent_\(w)", group: .sentiment, window: w, unit: "[-1, 1]", description: "Mean of P(positive) - P(negative) over posts in the \(span) before t; null when none."),
                .init(name: "posts_\(w)", group: .sentiment, window: w, unit: "posts", description: "Number of posts in the \(span) before t (0 is a real zero)."),
                .init(name: "posts_z_\(w)", group: .sentiment, window: w, unit: "z-score", description: "Abnormal volume: (posts_\(w) - mean) / sample std of posts_\(w) over the previous \(history) rows; null before \(history) rows or when std = 0."),
                .init(name: "sent_fw_\(w)", group: .sentiment, window: w, unit: "[-1, 1]", description: "Polarity weighted by log(1 + author followers); null when the weights sum to 0."),
                .init(name: "sent_ew_\(w)", group: .sentiment, window: w, unit: "[-1, 1]", description: "Polarity weighted by log(1 + likes + reposts); null when the weights sum to 0."),
                .init(name: "bull_share_\(w)", group: .sentiment, window: w, unit: "fraction", description: "Share of posts labelled positive; null when none."),
                .init(name: "disagreement_\(w)", group: .sentiment, window: w, unit: "[0, 1]", description: "1 - |pos - neg| / (pos + neg) over posts labelled positive or negative (0 unanimous, 1 split); null when none."),
                .init(name: "sent_mom_\(w)", group: .sentiment, window: w, unit: "[-2, 2]", description: "sent_\(w) minus the mean polarity over the \(span) before that window [t - 2w, t - w); null when either is empty."),
            ]
        }
        defs += [
            .init(name: "sent_vol_60m", group: .sentiment, window: "12 rows", unit: "[-1, 1]", description: "Sample std of the non-null sent_5m values of the last 12 rows; null with fewer than 3."),
            .init(name: "sent_vol_daily", group: .sentiment, window: "78 rows", unit: "[-1, 1]", description: "Sample std of the non-null sent_60m values of the last 78 rows; null with fewer than 10."),
            .init(name: "sent_div_5m_60m", group: .sentiment, window: "5m vs 60m", unit: "[-2, 2]", description: "sent_5m - sent_60m; null when either is null."),
            .init(name: "sent_div_60m_daily", group: .sentiment, window: "60m vs 24h", unit: "[-2, 2]", description: "sent_60m - sent_daily; null when either is null."),
            .init(name: "sent_vs_news", group: .sentiment, window: "24h", unit: "[-2, 2]", description: "sent_daily - news_sentiment; null when either is null."),
        ]
        return defs
    }

    /// Columns in `definitions` order for decision times `times` (ascending); `posts` in any order.
    /// `sessionWindows` (daily rows): each row's `daily` window starts at the previous session's
    /// close, and its momentum compares with the session before, from the close before that.
    static func compute(times: [EpochMillis], posts unsorted: [SentimentObservation], newsSentiment: [Double?],
                        sessionWindows: [(start: EpochMillis, previousStart: EpochMillis)]? = nil) -> [[Double?]] {
        let history = sessionWindows == nil ? volumeHistory : dailyVolumeHistory
        let posts = sortedByTime(unsorted)
        let postTimes = posts.map(\.time)
        var polarity = [0.0], fw = [0.0], fwp = [0.0], ew = [0.0], ewp = [0.0], positive = [0.0], negative = [0.0]
        // Sized once: grown by doubling, each copy lands in fresh pages the kernel must zero.
        let capacity = posts.count + 1
        polarity.reserveCapacity(capacity); fw.reserveCapacity(capacity); fwp.reserveCapacity(capacity)
        ew.reserveCapacity(capacity); ewp.reserveCapacity(capacity); positive.reserveCapacity(capacity); negative.reserveCapacity(capacity)
        for p in posts {
            let wf = log(1 + Double(p.followers)), we = log(1 + Double(p.engagement))
            polarity.append(polarity.last! + p.polarity)
            fw.append(fw.last! + wf); fwp.append(fwp.last! + wf * p.polarity)
            ew.append(ew.last! + we); ewp.append(ewp.last! + we * p.polarity)
            positive.append(positive.last! + (p.label > 0 ? 1 : 0)); negative.append(negative.last! + (p.label < 0 ? 1 : 0))
        }
        func ratio(_ num: Double, _ den: Double) -> Double? { den > 0 ? num / den : nil }
        var columns: [[Double?]] = []
        var means: [String: [Double?]] = [:]
        for (name, span) in windows {
            var sent: [Double?] = [], count: [Double?] = [], sfw: [Double?] = [], sew: [Double?] = []
            var bull: [Double?] = [], disagree: [Double?] = [], momentum: [Double?] = []
            for (row, t) in times.enumerated() {
                let session = name == "daily" ? sessionWindows?[row] : nil
                let lo = FeatureBuilder.lowerBound(postTimes, session?.start ?? t - span), hi = FeatureBuilder.lowerBound(postTimes, t)
                let lo2 = FeatureBuilder.lowerBound(postTimes, session?.previousStart ?? t - 2 * span)
                let n = Double(hi - lo)
                let mean = ratio(polarity[hi] - polarity[lo], n)
                sent.append(mean)
                count.append(n)
                sfw.append(ratio(fwp[hi] - fwp[lo], fw[hi] - fw[lo]))
                sew.append(ratio(ewp[hi] - ewp[lo], ew[hi] - ew[lo]))
                let pos = positive[hi] - positive[lo], neg = negative[hi] - negative[lo]
                bull.append(ratio(pos, n))
                disagree.append(pos + neg > 0 ? 1 - abs(pos - neg) / (pos + neg) : nil)
                let previous = ratio(polarity[lo] - polarity[lo2], Double(lo - lo2))
                momentum.append(mean.flatMap { m in previous.map { m - $0 } })
            }
            let z: [Double?] = times.indices.map { i in
                guard i >= history else { return nil }
                let prior = count[(i - history)..<i].map { $0! }
                guard let sd = Rolling.std(prior), sd > 0 else { return nil }
                return (count[i]! - Rolling.mean(prior)) / sd
            }
            means[name] = sent
            columns += [sent, count, z, sfw, sew, bull, disagree, momentum]
        }
        func rollingStd(_ values: [Double?], rows: Int, minimum: Int) -> [Double?] {
            values.indices.map { i in
                let present = values[max(0, i - rows + 1)...i].compactMap { $0 }
                return present.count >= minimum ? Rolling.std(present) : nil
            }
        }
        func difference(_ a: [Double?], _ b: [Double?]) -> [Double?] { zip(a, b).map { x, y in x.flatMap { x in y.map { x - $0 } } } }
        columns.append(rollingStd(means["5m"]!, rows: 12, minimum: 3))
        columns.append(rollingStd(means["60m"]!, rows: 78, minimum: 10))
        columns.append(difference(means["5m"]!, means["60m"]!))
        columns.append(difference(means["60m"]!, means["daily"]!))
        columns.append(difference(means["daily"]!, newsSentiment))
        return columns
    }
}

extension SentimentFeatures {
    /// Posts ordered by time, ties in input order. Sorts packed (time offset, index) integers rather
    /// than structs through a closure: about ten times faster on millions of posts.
    static func sortedByTime(_ posts: [SentimentObservation]) -> [SentimentObservation] {
        guard posts.count > 1 else { return posts }
        var minTime = posts[0].time, maxTime = posts[0].time, ordered = true
        for i in 1..<posts.count {
            let t = posts[i].time
            minTime = min(minTime, t); maxTime = max(maxTime, t)
            if t < posts[i - 1].time { ordered = false }
        }
        if ordered { return posts }
        let indexBits = UInt64(64 - (posts.count - 1).leadingZeroBitCount)
        let span = UInt64(maxTime - minTime)
        guard span < (UInt64(1) << (64 - indexBits)) else { return posts.sorted { $0.time < $1.time } }
        var keys = posts.indices.map { (UInt64(posts[$0].time - minTime) << indexBits) | UInt64($0) }
        radixSort(&keys, bits: Int(indexBits) + (64 - span.leadingZeroBitCount))
        let mask = (UInt64(1) << indexBits) - 1
        return keys.map { posts[Int($0 & mask)] }
    }

    /// Sorts keys whose values fit in `bits` bits: least significant 16-bit digit first, a counting
    /// pass per digit. About 4x the standard library's comparison sort on a symbol's posts.
    static func radixSort(_ keys: inout [UInt64], bits: Int) {
        guard keys.count > 1 else { return }
        var other = [UInt64](repeating: 0, count: keys.count)
        var counts = [Int](repeating: 0, count: 1 << 16)
        for shift in stride(from: 0, to: bits, by: 16) {
            keys.withUnsafeBufferPointer { source in
                other.withUnsafeMutableBufferPointer { target in
                    counts.withUnsafeMutableBufferPointer { counts in
                        counts.update(repeating: 0)
                        for key in source { counts[Int(truncatingIfNeeded: key >> UInt64(shift)) & 0xFFFF] += 1 }
                        var total = 0
                        for digit in 0..<counts.count {
                            let n = counts[digit]
                            counts[digit] = total
                            total += n
                        }
                        for key in source {
                            let digit = Int(truncatingIfNeeded: key >> UInt64(shift)) & 0xFFFF
                            target[counts[digit]] = key
                            counts[digit] += 1
                        }
                    }
                }
            }
            swap(&keys, &other)
        }
    }
}
