import ConvictionCore
import ConvictionFeatures
import Foundation

/// Checks run on each symbol's inputs and matrix before training. A failure stops the pipeline
/// with the report (`features/quality_report.json`) unless `features.quality_checks = "warn"`.
public struct QualityChecks: Sendable {
    public struct Finding: Codable, Sendable, Equatable {
        public let symbol: String
        public let check: String
        public let failed: Bool
        public let detail: String
    }

    /// Share of in-session rows that may lack `sent_60m`.
    public var maxMissingSentimentShare = 0.5
    /// Rows in a row without any post in the last hour before sentiment counts as stale.
    public var maxStaleRows = 78
    /// A session with fewer posts than this share of the median session looks like an outage.
    public var minSessionPostShare = 0.05
    /// Daily rows: sessions in a row without posts before sentiment counts as stale.
    public var maxStaleSessions = 10

    public init() {}

    /// `daily`: rows are sessions; the checks use `sent_daily` and `posts_daily`, over the sessions
    /// between the symbol's first and last post (bars often reach further back than posts).
    public func run(symbol: Symbol, scores: [SentimentScore], matrix: FeatureMatrix, daily: Bool = false) -> [Finding] {
        var findings: [Finding] = []
        func add(_ check: String, _ failed: Bool, _ detail: String) {
            findings.append(Finding(symbol: symbol.rawValue, check: check, failed: failed, detail: detail))
        }
        let bad = scores.filter { s in
            ![s.positive, s.negative, s.neutral].allSatisfy { $0 >= 0 && $0 <= 1 } || abs(s.positive + s.negative + s.neutral - 1) > 1e-6
        }
        add("score_range", !bad.isEmpty, bad.isEmpty ? "\(scores.count) scores, all probabilities in [0, 1] summing to 1"
            : "\(bad.count) of \(scores.count) scores have probabilities outside [0, 1] or not summing to 1 (first: post \(bad[0].postID))")

        let (sentName, postsName) = daily ? ("sent_daily", "posts_daily") : ("sent_60m", "posts_60m")
        guard var s60 = column(matrix, sentName), var p60 = column(matrix, postsName) else { return findings }
        var timestamps = matrix.timestamps
        if daily {
            let first = scores.map(\.createdAt).min() ?? .max, last = scores.map(\.createdAt).max() ?? .min
            let kept = timestamps.indices.filter { timestamps[$0] > first && timestamps[$0] <= last + Timestamps.day }
            s60 = kept.map { s60[$0] }; p60 = kept.map { p60[$0] }; timestamps = kept.map { timestamps[$0] }
        }
        let maxStale = daily ? maxStaleSessions : maxStaleRows
        let rows = timestamps.count
        let missing = s60.filter { $0 == nil }.count
        let share = rows > 0 ? Double(missing) / Double(rows) : 1
        add("completeness", share > maxMissingSentimentShare,
            String(format: "%@ missing in %d of %d rows (%.1f%%; limit %.0f%%)", sentName, missing, rows, share * 100, maxMissingSentimentShare * 100))

        var longest = 0, run = 0, worstEnd = 0
        for (i, n) in p60.enumerated() {
            run = (n ?? 0) == 0 ? run + 1 : 0
            if run > longest { longest = run; worstEnd = i }
        }
        let window = daily ? "since the previous close" : "in the past hour"
        add("stale_sentiment", longest > maxStale, longest == 0 ? "every row has posts \(window)"
            : "longest stretch without posts \(window): \(longest) rows, ending \(Timestamps.iso8601(timestamps[worstEnd])) (limit \(maxStale))")

        var perSession: [CivilDate: Int] = [:]
        for t in timestamps { perSession[Eastern.local(t).date, default: 0] += 0 }
        for s in scores { let d = Eastern.local(s.createdAt).date; if perSession[d] != nil { perSession[d]! += 1 } }
        let counts = perSession.values.sorted()
        let median = counts.isEmpty ? 0 : counts[counts.count / 2]
        let collapsed = perSession.filter { Double($0.value) < minSessionPostShare * Double(median) }.keys.sorted()
        add("post_volume", !collapsed.isEmpty, collapsed.isEmpty ? "posts per session: median \(median), minimum \(counts.first ?? 0)"
            : "post volume collapsed on \(collapsed.prefix(5).map(\.isoString).joined(separator: ", ")) (fewer than \(Int(minSessionPostShare * 100))% of the median \(median) posts per session)")
        return findings
    }

    func column(_ matrix: FeatureMatrix, _ name: String) -> [Double?]? {
        matrix.definitions.firstIndex { $0.name == name }.map { matrix.columns[$0] }
    }
}
