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

    public init() {}

    public func run(symbol: Symbol, scores: [SentimentScore], matrix: FeatureMatrix) -> [Finding] {
        var findings: [Finding] = []
        func add(_ check: String, _ failed: Bool, _ detail: String) {
            findings.append(Finding(symbol: symbol.rawValue, check: check, failed: failed, detail: detail))
        }
        let bad = scores.filter { s in
            ![s.positive, s.negative, s.neutral].allSatisfy { $0 >= 0 && $0 <= 1 } || abs(s.positive + s.negative + s.neutral - 1) > 1e-6
        }
        add("score_range", !bad.isEmpty, bad.isEmpty ? "\(scores.count) scores, all probabilities in [0, 1] summing to 1"
            : "\(bad.count) of \(scores.count) scores have probabilities outside [0, 1] or not summing to 1 (first: post \(bad[0].postID))")

        guard let s60 = column(matrix, "sent_60m"), let p60 = column(matrix, "posts_60m") else { return findings }
        let rows = matrix.rowCount
        let missing = s60.filter { $0 == nil }.count
        let share = rows > 0 ? Double(missing) / Double(rows) : 1
        add("completeness", share > maxMissingSentimentShare,
            String(format: "sent_60m missing in %d of %d rows (%.1f%%; limit %.0f%%)", missing, rows, share * 100, maxMissingSentimentShare * 100))

        var longest = 0, run = 0, worstEnd = 0
        for (i, n) in p60.enumerated() {
            run = (n ?? 0) == 0 ? run + 1 : 0
            if run > longest { longest = run; worstEnd = i }
        }
        add("stale_sentiment", longest > maxStaleRows, longest == 0 ? "every row has posts in the hour before it"
            : "longest stretch without posts in the past hour: \(longest) rows, ending \(Timestamps.iso8601(matrix.timestamps[worstEnd])) (limit \(maxStaleRows))")

        var perSession: [CivilDate: Int] = [:]
        for t in matrix.timestamps { perSession[Eastern.local(t).date, default: 0] += 0 }
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
