import ConvictionCore

/// Walk-forward validation with purging and an embargo (López de Prado, AFML ch. 7).
///
/// Days are cut into `folds + 1` contiguous groups. Fold k tests on group k and trains on the
/// rows of earlier groups only (never shuffled, never the future), less:
/// - purged: rows whose label interval [t0, t1] reaches into the test span;
/// - embargoed: rows whose label ends within `embargo` before the test span. Every training row
///   precedes the test span here, so the embargo is a gap before it (like scikit-learn's
///   `TimeSeriesSplit(gap=)`), guarding against serially correlated features and labels.
public struct WalkForwardSplitter: Sendable {
    public struct Fold: Sendable {
        public let index: Int
        public let train: [Int]
        public let test: [Int]
        public let purged: Int
        public let embargoed: Int
    }

    public let folds: Int
    public let embargo: EpochMillis

    public init(folds: Int, embargo: EpochMillis) {
        precondition(folds >= 1)
        self.folds = folds; self.embargo = embargo
    }

    /// `t0` decision times, `t1` label ends, `day` a block id per row (e.g. days since epoch).
    public func split(t0: [EpochMillis], t1: [EpochMillis], day: [Int]) -> [Fold] {
        let days = Array(Set(day)).sorted()
        guard days.count >= folds + 1 else { return [] }
        let groupOf: [Int: Int] = Dictionary(uniqueKeysWithValues: days.enumerated().map { ($1, $0 * (folds + 1) / days.count) })
        var result: [Fold] = []
        for k in 1...folds {
            let test = t0.indices.filter { groupOf[day[$0]]! == k }
            guard let testStart = test.map({ t0[$0] }).min() else { continue }
            var train: [Int] = []
            var purged = 0, embargoed = 0
            for i in t0.indices where groupOf[day[i]]! < k {
                if t1[i] >= testStart { purged += 1 } else if t1[i] > testStart - embargo { embargoed += 1 } else { train.append(i) }
            }
            result.append(Fold(index: k, train: train, test: test, purged: purged, embargoed: embargoed))
        }
        return result
    }

    /// One fixed-date split: test rows on days `testStart...testEnd` (days since the epoch); training
    /// rows from `trainStart` to before `testStart`, purged where their label reaches the test period
    /// and embargoed.
    public func fixed(t0: [EpochMillis], t1: [EpochMillis], day: [Int], trainStart: Int, testStart: Int, testEnd: Int) -> Fold {
        let test = t0.indices.filter { day[$0] >= testStart && day[$0] <= testEnd }
        let start = test.map { t0[$0] }.min() ?? .max
        var train: [Int] = []
        var purged = 0, embargoed = 0
        for i in t0.indices where day[i] < testStart && day[i] >= trainStart {
            if t1[i] >= start { purged += 1 } else if t1[i] > start - embargo { embargoed += 1 } else { train.append(i) }
        }
        return Fold(index: 1, train: train, test: test, purged: purged, embargoed: embargoed)
    }
}
