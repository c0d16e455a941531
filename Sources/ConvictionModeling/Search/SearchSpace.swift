import Foundation

/// The hyperparameters a search may change, each with its range. Log-scaled parameters are sampled
/// uniformly in log space; integer ones are rounded.
public struct SearchSpace: Sendable, Hashable, Codable {
    public struct Parameter: Sendable, Hashable, Codable {
        public let name: String
        public let low: Double
        public let high: Double
        public let log: Bool
        public let integer: Bool

        public init(name: String, low: Double, high: Double, log: Bool = false, integer: Bool = false) {
            precondition(low < high && (!log || low > 0))
            self.name = name; self.low = low; self.high = high; self.log = log; self.integer = integer
        }

        /// Bounds in the space the samplers work in (log for log-scaled parameters).
        var internalLow: Double { log ? Foundation.log(low) : low }
        var internalHigh: Double { log ? Foundation.log(high) : high }
        func external(_ x: Double) -> Double {
            let v = min(high, max(low, log ? exp(x) : x))
            return integer ? v.rounded() : v
        }
        func internalValue(_ v: Double) -> Double { log ? Foundation.log(v) : v }
    }

    public var parameters: [Parameter]

    public init(parameters: [Parameter]) { self.parameters = parameters }

    /// XGBoost's usual tuning space; rounds come from early stopping, not from the search.
    public static let xgboost = SearchSpace(parameters: [
        Parameter(name: "max_depth", low: 2, high: 8, integer: true),
        Parameter(name: "learning_rate", low: 0.01, high: 0.3, log: true),
        Parameter(name: "subsample", low: 0.5, high: 1.0),
        Parameter(name: "colsample_bytree", low: 0.3, high: 1.0),
        Parameter(name: "min_child_weight", low: 1, high: 300, log: true),
        Parameter(name: "lambda", low: 0.1, high: 100, log: true),
    ])
}

/// One evaluated set of hyperparameters.
public struct Trial: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case complete, pruned }
    public let number: Int
    public let parameters: [String: Double]
    /// Best validation AUC reached.
    public let value: Double
    /// Boosting rounds at that best value (early stopping).
    public let rounds: Int
    public let state: State
    /// Validation AUC after every `evaluationInterval` rounds: (round, AUC).
    public let intermediate: [[Double]]
}
