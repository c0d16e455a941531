import ConvictionCore

/// Walk-forward validation with purging and an embargo (López de Prado, AFML ch. 7).
///
/// Days are cut into `folds + 1` contiguous groups. Fold k tests on group k and trains on every
/// earlier row, less (purge) any row whose label interval [t0, t1] overlaps the test span and
/// (embargo) any row starting within `embargo` after the test span. Never shuffled.
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
            guard let testStart = test.map({ t0[$0] }).min(), let testEnd = test.map({ t1[$0] }).max() else { continue }
            var train: [Int] = []
            var purged = 0, embargoed = 0
            for i in t0.indices where groupOf[day[i]]! != k {
                if groupOf[day[i]]! > k && t0[i] > testEnd + embargo {
                    continue  // walk-forward: never train on the future
                }
                if t0[i] <= testEnd && t1[i] >= testStart { purged += 1; continue }
                if t0[i] > testEnd && t0[i] <= testEnd + embargo { embargoed += 1; continue }
                if groupOf[day[i]]! > k { continue }
                train.append(i)
            }
            result.append(Fold(index: k, train: train, test: test, purged: purged, embargoed: embargoed))
        }
        return result
    }
}
