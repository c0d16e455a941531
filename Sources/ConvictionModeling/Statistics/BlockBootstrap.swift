import ConvictionCore

/// Confidence interval of AUC(B) - AUC(A) by resampling whole blocks (trading days) with
/// replacement: intraday labels are autocorrelated, which DeLong's independence assumption ignores.
public enum BlockBootstrap {
    public struct Interval: Sendable, Codable, Equatable {
        public let lower: Double
        public let upper: Double
        public let level: Double
        public let replicates: Int
    }

    public static func differenceInterval(scoresA: [Double], scoresB: [Double], labels: [Int], blocks: [Int],
                                          replicates: Int = 500, level: Double = 0.95, seed: UInt64 = 1) -> Interval? {
        let blockIDs = Array(Set(blocks)).sorted()
        guard blockIDs.count > 1 else { return nil }
        let index = Dictionary(uniqueKeysWithValues: blockIDs.enumerated().map { ($1, $0) })
        let rowBlock = blocks.map { index[$0]! }
        let orderA = scoresA.indices.sorted { scoresA[$0] < scoresA[$1] }
        let orderB = scoresB.indices.sorted { scoresB[$0] < scoresB[$1] }
        var rng = SeededGenerator(seed: seed, stream: "block-bootstrap")
        var differences: [Double] = []
        var draws = [Double](repeating: 0, count: blockIDs.count)
        var weights = [Double](repeating: 0, count: labels.count)
        for _ in 0..<replicates {
            for k in draws.indices { draws[k] = 0 }
            for _ in blockIDs.indices { draws[Int(rng.next() % UInt64(blockIDs.count))] += 1 }
            for i in weights.indices { weights[i] = draws[rowBlock[i]] }
            guard let a = AUC.weighted(order: orderA, scores: scoresA, labels: labels, weights: weights),
                  let b = AUC.weighted(order: orderB, scores: scoresB, labels: labels, weights: weights) else { continue }
            differences.append(b - a)
        }
        guard differences.count > 10 else { return nil }
        differences.sort()
        let tail = (1 - level) / 2
        func quantile(_ q: Double) -> Double { differences[min(differences.count - 1, max(0, Int(q * Double(differences.count))))] }
        return Interval(lower: quantile(tail), upper: quantile(1 - tail), level: level, replicates: differences.count)
    }
}
