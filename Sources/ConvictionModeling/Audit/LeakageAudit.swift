import ConvictionCore
import Foundation

/// Checks that run before any uplift is claimed. A failed audit makes the report say so first and
/// claim nothing: an AUC near 0.999 on next-bar direction means the features contain the label.
public struct LeakageAudit: Sendable {
    public struct Finding: Sendable, Codable, Equatable {
        public let check: String
        public let failed: Bool
        public let detail: String
    }

    public struct Result: Sendable, Codable, Equatable {
        public let findings: [Finding]
        public var passed: Bool { !findings.contains { $0.failed } }
        /// Each feature's own AUC against the label.
        public let featureAUCs: [String: Double]

        public init(findings: [Finding], featureAUCs: [String: Double]) { self.findings = findings; self.featureAUCs = featureAUCs }
    }

    /// A single raw feature whose AUC is further than this from 0.5 is implausible for next-bar
    /// direction and flags leakage.
    public var maxSingleFeatureDeviation = 0.1
    /// The model's out-of-sample AUC above which the result is implausible.
    public var maxModelAUC = 0.65

    public init() {}

    public func run(_ data: UpliftExperiment.Dataset) -> Result {
        var findings: [Finding] = []
        // 1. Every feature row is stamped before its label interval ends and at its start.
        let bad = data.t0.indices.filter { data.t1[$0] <= data.t0[$0] }
        findings.append(Finding(check: "timestamps", failed: !bad.isEmpty, detail: bad.isEmpty
            ? "all \(data.rowCount) rows have decision time < label end"
            : "\(bad.count) rows have a label interval that does not start after the features (first at \(Timestamps.iso8601(data.t0[bad[0]])))"))
        // 2. No single feature predicts the label implausibly well on its own.
        var aucs: [String: Double] = [:]
        var nullStandardErrors: [String: Double] = [:]
        let width = data.featureNames.count
        for (c, name) in data.featureNames.enumerated() {
            var scores: [Double] = [], labels: [Int] = []
            for r in 0..<data.rowCount {
                let v = data.values[r * width + c]
                if !v.isNaN { scores.append(Double(v)); labels.append(data.labels[r]) }
            }
            if let auc = AUC.compute(scores: scores, labels: labels) {
                aucs[name] = auc
                // Standard error of the AUC when the feature is noise (Mann-Whitney): sqrt((n1 + n0 + 1) / (12 n1 n0)).
                let positives = Double(labels.filter { $0 == 1 }.count), negatives = Double(labels.count) - positives
                nullStandardErrors[name] = ((positives + negatives + 1) / (12 * positives * negatives)).squareRoot()
            }
        }
        // Implausible = far from 0.5 and far beyond sampling noise: a feature present on a few dozen
        // rows (a 10-minute window before a daily close) reaches 0.3 by chance.
        let suspicious = aucs.filter { abs($0.value - 0.5) > max(maxSingleFeatureDeviation, 4 * (nullStandardErrors[$0.key] ?? 0)) }.sorted { abs($0.value - 0.5) > abs($1.value - 0.5) }
        findings.append(Finding(check: "single_feature_auc", failed: !suspicious.isEmpty, detail: suspicious.isEmpty
            ? String(format: "no feature alone has an AUC outside 0.5 ± %.2f (largest deviation: %@)", maxSingleFeatureDeviation,
                     aucs.max { abs($0.value - 0.5) < abs($1.value - 0.5) }.map { String(format: "%@ %.4f", $0.key, $0.value) } ?? "none")
            : "implausibly predictive on their own: " + suspicious.prefix(5).map { String(format: "%@ (AUC %.4f)", $0.key, $0.value) }.joined(separator: ", ")))
        return Result(findings: findings, featureAUCs: aucs)
    }

    /// The model-level check, once out-of-sample AUCs are known.
    public func modelFinding(baselineAUC: Double, augmentedAUC: Double) -> Finding {
        let worst = max(baselineAUC, augmentedAUC)
        return Finding(check: "model_auc", failed: worst > maxModelAUC, detail: String(
            format: "out-of-sample AUC %.4f (baseline) and %.4f (with sentiment); above %.2f would be implausible for next-bar direction",
            baselineAUC, augmentedAUC, maxModelAUC))
    }
}
