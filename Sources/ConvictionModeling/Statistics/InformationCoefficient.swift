import ConvictionCore
import Foundation

/// Information coefficients of features against forward returns, alphalens-style but per symbol in
/// time series (with 11 symbols cross-sectional quantiles mean little): Pearson IC and Spearman
/// rank IC by horizon (their decay), pooled over symbols and averaged per symbol, and the mean
/// forward return by pooled feature quintile.
public enum InformationCoefficient {
    public struct FeatureIC: Sendable, Codable, Equatable {
        public let feature: String
        public let horizons: [Int]
        /// Pooled Pearson IC per horizon.
        public let ic: [Double]
        /// Pooled Spearman rank IC per horizon.
        public let rankIC: [Double]
        /// Mean over symbols of the per-symbol rank IC, per horizon.
        public let meanSymbolRankIC: [Double]
        /// Mean forward return (first horizon) per pooled quintile of the feature, lowest first.
        public let quintileReturns: [Double]
        public let rows: Int
    }

    /// Forward log returns over `h` bars from the one-bar returns of the following rows of the same
    /// symbol and session (rows `barMillis` apart); nil when the horizon leaves the session.
    public static func forwardReturns(oneBar: [Double?], t0: [EpochMillis], group: [Int], horizon h: Int, barMillis: EpochMillis) -> [Double?] {
        var result = [Double?](repeating: nil, count: oneBar.count)
        var byGroup: [Int: [Int]] = [:]
        for i in oneBar.indices { byGroup[group[i], default: []].append(i) }
        for rows in byGroup.values {
            let ordered = rows.sorted { t0[$0] < t0[$1] }
            for (k, i) in ordered.enumerated() where k + h < ordered.count {
                let j = ordered[k + h]
                // Intraday: the horizon must stay within the session. Daily rows (barMillis 0) are sessions.
                guard barMillis == 0 || t0[j] - t0[i] == EpochMillis(h) * barMillis else { continue }
                var sum = 0.0, complete = true
                for m in 1...h { if let r = oneBar[ordered[k + m]] { sum += r } else { complete = false } }
                if complete { result[i] = sum }
            }
        }
        return result
    }

    public static func analyze(features: [(name: String, values: [Double?])], oneBarReturn: [Double?], t0: [EpochMillis], group: [Int],
                               horizons: [Int] = [1, 3, 6, 12], barMillis: EpochMillis) -> [FeatureIC] {
        let forwards = horizons.map { forwardReturns(oneBar: oneBarReturn, t0: t0, group: group, horizon: $0, barMillis: barMillis) }
        return features.map { feature in
            var ic: [Double] = [], rank: [Double] = [], perSymbol: [Double] = []
            for forward in forwards {
                let pairs = feature.values.indices.compactMap { i in feature.values[i].flatMap { x in forward[i].map { (x, $0, group[i]) } } }
                ic.append(pearson(pairs.map(\.0), pairs.map(\.1)) ?? .nan)
                rank.append(spearman(pairs.map(\.0), pairs.map(\.1)) ?? .nan)
                let symbolICs = Dictionary(grouping: pairs, by: \.2).values.compactMap { p in spearman(p.map(\.0), p.map(\.1)) }
                perSymbol.append(symbolICs.isEmpty ? .nan : symbolICs.reduce(0, +) / Double(symbolICs.count))
            }
            let first = feature.values.indices.compactMap { i in feature.values[i].flatMap { x in forwards[0][i].map { (x, $0) } } }
            let sorted = first.sorted { $0.0 < $1.0 }
            let quintiles: [Double] = sorted.isEmpty ? [] : (0..<5).map { q in
                let slice = sorted[(q * sorted.count / 5)..<((q + 1) * sorted.count / 5)]
                return slice.isEmpty ? .nan : slice.reduce(0) { $0 + $1.1 } / Double(slice.count)
            }
            return FeatureIC(feature: feature.name, horizons: horizons, ic: ic, rankIC: rank, meanSymbolRankIC: perSymbol,
                             quintileReturns: quintiles, rows: first.count)
        }
    }

    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count > 2 else { return nil }
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : nil
    }

    /// Pearson correlation of mid-ranks (ties share their mean rank).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        pearson(DeLong.midranks(x), DeLong.midranks(y))
    }
}
