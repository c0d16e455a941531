import Foundation

/// Area under the ROC curve, with ties counted as one half (the Mann-Whitney statistic).
public enum AUC {
    /// `labels` are 0 or 1. Returns nil when either class is absent.
    public static func compute(scores: [Double], labels: [Int]) -> Double? {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        return weighted(order: order, scores: scores, labels: labels, weights: nil)
    }

    /// The ROC curve as (false positive rate, true positive rate) points from (0, 0) to (1, 1), thinned
    /// to about `maxPoints` for plotting; tied scores make one step.
    public static func rocCurve(scores: [Double], labels: [Int], maxPoints: Int = 100) -> [[Double]] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        let positives = Double(labels.filter { $0 == 1 }.count), negatives = Double(labels.count) - positives
        guard positives > 0, negatives > 0 else { return [] }
        var points: [[Double]] = [[0, 0]]
        var tp = 0.0, fp = 0.0, i = 0
        while i < order.count {
            let value = scores[order[i]]
            while i < order.count, scores[order[i]] == value {
                if labels[order[i]] == 1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append([fp / negatives, tp / positives])
        }
        guard points.count > maxPoints else { return points }
        let step = Double(points.count - 1) / Double(maxPoints - 1)
        return (0..<maxPoints).map { points[Int((Double($0) * step).rounded())] }
    }

    /// AUC over rows weighted by `weights` (a bootstrap's draw counts), given the rows sorted by
    /// score once; O(n) per call.
    static func weighted(order: [Int], scores: [Double], labels: [Int], weights: [Double]?) -> Double? {
        var negativesBelow = 0.0, sum = 0.0, totalPositive = 0.0, totalNegative = 0.0
        var i = 0
        while i < order.count {
            var groupPositive = 0.0, groupNegative = 0.0
            let value = scores[order[i]]
            while i < order.count, scores[order[i]] == value {
                let w = weights?[order[i]] ?? 1
                if labels[order[i]] == 1 { groupPositive += w } else { groupNegative += w }
                i += 1
            }
            sum += groupPositive * (negativesBelow + 0.5 * groupNegative)
            negativesBelow += groupNegative
            totalPositive += groupPositive
            totalNegative += groupNegative
        }
        guard totalPositive > 0, totalNegative > 0 else { return nil }
        return sum / (totalPositive * totalNegative)
    }
}

/// DeLong, DeLong & Clarke-Pearson (1988) test for two correlated AUCs on the same samples, with
/// Sun & Xu's (2014) mid-rank algorithm, O(n log n).
public enum DeLong {
    public struct Result: Sendable, Codable, Equatable {
        public let aucA: Double
        public let aucB: Double
        /// aucB - aucA.
        public let difference: Double
        public let standardError: Double
        public let z: Double
        /// Two-sided p-value of aucA == aucB.
        public let pTwoSided: Double
        /// One-sided p-value of aucB <= aucA (B is better when small).
        public let pOneSided: Double
    }

    public static func compare(scoresA: [Double], scoresB: [Double], labels: [Int]) -> Result? {
        let positives = labels.indices.filter { labels[$0] == 1 }
        let negatives = labels.indices.filter { labels[$0] != 1 }
        let m = Double(positives.count), n = Double(negatives.count)
        guard m > 1, n > 1 else { return nil }
        func components(_ scores: [Double]) -> (auc: Double, v10: [Double], v01: [Double]) {
            let x = positives.map { scores[$0] }, y = negatives.map { scores[$0] }
            let tx = midranks(x), ty = midranks(y), tz = midranks(x + y)
            let auc = (tz[0..<x.count].reduce(0, +) - m * (m + 1) / 2) / (m * n)
            let v10 = (0..<x.count).map { (tz[$0] - tx[$0]) / n }
            let v01 = (0..<y.count).map { 1 - (tz[x.count + $0] - ty[$0]) / m }
            return (auc, v10, v01)
        }
        let a = components(scoresA), b = components(scoresB)
        func covariance(_ p: [Double], _ q: [Double]) -> Double {
            let mp = p.reduce(0, +) / Double(p.count), mq = q.reduce(0, +) / Double(q.count)
            var s = 0.0
            for i in p.indices { s += (p[i] - mp) * (q[i] - mq) }
            return s / Double(p.count - 1)
        }
        let variance = (covariance(a.v10, a.v10) + covariance(b.v10, b.v10) - 2 * covariance(a.v10, b.v10)) / m
            + (covariance(a.v01, a.v01) + covariance(b.v01, b.v01) - 2 * covariance(a.v01, b.v01)) / n
        let difference = b.auc - a.auc
        let se = max(variance, 0).squareRoot()
        let z = se > 0 ? difference / se : 0
        return Result(aucA: a.auc, aucB: b.auc, difference: difference, standardError: se, z: z,
                      pTwoSided: se > 0 ? erfc(abs(z) / 2.0.squareRoot()) : 1,
                      pOneSided: se > 0 ? 0.5 * erfc(z / 2.0.squareRoot()) : 0.5)
    }

    /// 1-based mid-ranks: tied values share the mean of their ranks.
    static func midranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, values[order[j + 1]] == values[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        return ranks
    }
}

/// Accuracy and Matthews correlation at a probability threshold: the figures published for
/// next-day direction (StockNet and its successors), beside AUC.
public struct Classification: Sendable, Codable, Equatable {
    public let n: Int
    public let accuracy: Double
    /// Matthews correlation coefficient; 0 when a row or column of the confusion matrix is empty.
    public let mcc: Double
    public let truePositives: Int, trueNegatives: Int, falsePositives: Int, falseNegatives: Int

    public init(scores: [Double], labels: [Int], threshold: Double = 0.5) {
        var tp = 0, tn = 0, fp = 0, fn = 0
        for (s, y) in zip(scores, labels) {
            switch (s > threshold, y == 1) {
            case (true, true): tp += 1
            case (false, false): tn += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            }
        }
        n = labels.count
        truePositives = tp; trueNegatives = tn; falsePositives = fp; falseNegatives = fn
        accuracy = n > 0 ? Double(tp + tn) / Double(n) : .nan
        let denominator = (Double(tp + fp) * Double(tp + fn) * Double(tn + fp) * Double(tn + fn)).squareRoot()
        mcc = denominator > 0 ? (Double(tp) * Double(tn) - Double(fp) * Double(fn)) / denominator : 0
    }
}
