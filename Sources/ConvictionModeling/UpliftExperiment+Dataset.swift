import ConvictionCore
import Foundation

extension UpliftExperiment {
    /// Rows pooled over symbols. `values` is row-major with NaN for missing.
    public struct Dataset: Sendable {
        public let featureNames: [String]
        public let values: [Float]
        public let labels: [Int]
        public let t0: [EpochMillis]
        public let t1: [EpochMillis]
        /// Block id per row for the bootstrap and the fold boundaries: days since the epoch.
        public let day: [Int]
        /// Which series (symbol) a row belongs to; the negative control shifts within a series.
        public let group: [Int]

        public init(featureNames: [String], values: [Float], labels: [Int], t0: [EpochMillis], t1: [EpochMillis], day: [Int], group: [Int]? = nil) {
            precondition(values.count == labels.count * featureNames.count)
            self.featureNames = featureNames; self.values = values; self.labels = labels; self.t0 = t0; self.t1 = t1; self.day = day
            self.group = group ?? Array(repeating: 0, count: labels.count)
        }

        /// The same rows with `columns` moved `rows` rows later in time within each group: each
        /// row gets the values its series had `rows` rows before (NaN where there were none).
        public func shifting(_ columns: [String], by rows: Int) -> Dataset {
            var values = self.values
            let width = featureNames.count
            let indices = columns.compactMap { featureNames.firstIndex(of: $0) }
            var byGroup: [Int: [Int]] = [:]
            for r in 0..<rowCount { byGroup[group[r], default: []].append(r) }
            for rowsOfGroup in byGroup.values {
                let ordered = rowsOfGroup.sorted { t0[$0] < t0[$1] }
                for (k, r) in ordered.enumerated() {
                    for c in indices { values[r * width + c] = k >= rows ? self.values[ordered[k - rows] * width + c] : .nan }
                }
            }
            return Dataset(featureNames: featureNames, values: values, labels: labels, t0: t0, t1: t1, day: day, group: group)
        }

        public var rowCount: Int { labels.count }

        func matrix(rows: [Int], columns: [Int]) -> [Float] {
            var out = [Float](); out.reserveCapacity(rows.count * columns.count)
            let width = featureNames.count
            for r in rows { for c in columns { out.append(values[r * width + c]) } }
            return out
        }
    }
}
