/// A dense feature matrix handed to XGBoost. NaN marks a missing value.
public final class DMatrix: @unchecked Sendable {  // owns a C handle; not shared across threads
    let library: XGBoostLibrary
    let handle: UnsafeMutableRawPointer
    public let rows: Int
    public let columns: Int

    /// `values` is row-major, `rows * columns` long.
    public init(library: XGBoostLibrary, values: [Float], rows: Int, columns: Int, labels: [Float]? = nil) throws {
        precondition(values.count == rows * columns, "DMatrix: \(values.count) values for \(rows)x\(columns)")
        self.library = library; self.rows = rows; self.columns = columns
        var out: UnsafeMutableRawPointer?
        try library.check(values.withUnsafeBufferPointer {
            library.dmatrixCreateFromMat($0.baseAddress, UInt64(rows), UInt64(columns), Float.nan, &out)
        }, "XGDMatrixCreateFromMat")
        handle = out!
        if let labels {
            precondition(labels.count == rows)
            try library.check(labels.withUnsafeBufferPointer {
                library.dmatrixSetFloatInfo(handle, "label", $0.baseAddress, UInt64(rows))
            }, "XGDMatrixSetFloatInfo(label)")
        }
    }

    deinit { _ = library.dmatrixFree(handle) }
}

/// A gradient-boosted tree model.
public final class Booster: @unchecked Sendable {  // owns a C handle; used from one task at a time
    let library: XGBoostLibrary
    let handle: UnsafeMutableRawPointer

    public init(library: XGBoostLibrary, parameters: [(String, String)], training: DMatrix) throws {
        self.library = library
        var out: UnsafeMutableRawPointer?
        var matrices: [UnsafeMutableRawPointer?] = [training.handle]
        try library.check(library.boosterCreate(&matrices, 1, &out), "XGBoosterCreate")
        handle = out!
        for (name, value) in parameters {
            try library.check(library.boosterSetParam(handle, name, value), "XGBoosterSetParam(\(name)=\(value))")
        }
    }

    /// Loads a model saved by XGBoost in any of its formats (JSON, UBJSON or the old binary one;
    /// XGBoost tells them apart by content), e.g. by Python's `Booster.save_model("model.json")` or
    /// SageMaker's built-in algorithm (`xgboost-model`, no extension).
    public init(library: XGBoostLibrary, loadingFrom path: String) throws {
        self.library = library
        var out: UnsafeMutableRawPointer?
        try library.check(library.boosterCreate(nil, 0, &out), "XGBoosterCreate")
        handle = out!
        try library.check(library.boosterLoadModel(handle, path), "XGBoosterLoadModel(\(path))")
    }

    deinit { _ = library.boosterFree(handle) }

    /// Saves the model; a `.json` path gives XGBoost's JSON format, which Python xgboost loads.
    public func save(to path: String) throws {
        try library.check(library.boosterSaveModel(handle, path), "XGBoosterSaveModel(\(path))")
    }

    /// Total gain per feature index (features never used in a split are absent).
    public func gainImportance() throws -> [Int: Double] {
        var count: UInt64 = 0, dimension: UInt64 = 0
        var names: UnsafePointer<UnsafePointer<CChar>?>?
        var shape: UnsafePointer<UInt64>?
        var scores: UnsafePointer<Float>?
        try library.check(library.boosterFeatureScore(handle, #"{"importance_type": "total_gain"}"#, &count, &names, &dimension, &shape, &scores),
                          "XGBoosterFeatureScore")
        var result: [Int: Double] = [:]
        for i in 0..<Int(count) {
            guard let name = names?[i].map({ String(cString: $0) }), name.hasPrefix("f"), let index = Int(name.dropFirst()) else { continue }
            result[index] = Double(scores![i])
        }
        return result
    }

    /// Boosting rounds the model holds.
    public func boostedRounds() throws -> Int {
        var rounds: Int32 = 0
        try library.check(library.boosterBoostedRounds(handle, &rounds), "XGBoosterBoostedRounds")
        return Int(rounds)
    }

    public func train(on matrix: DMatrix, rounds: Int) throws {
        for iteration in 0..<rounds { try update(iteration: iteration, on: matrix) }
    }

    /// One boosting round (for evaluation between rounds: early stopping, pruning).
    public func update(iteration: Int, on matrix: DMatrix) throws {
        try library.check(library.boosterUpdateOneIter(handle, Int32(iteration), matrix.handle), "XGBoosterUpdateOneIter")
    }

    /// Predicted probabilities (for `binary:logistic`), one per row.
    public func predict(_ matrix: DMatrix) throws -> [Float] {
        var shape: UnsafePointer<UInt64>?
        var dimension: UInt64 = 0
        var result: UnsafePointer<Float>?
        let config = #"{"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false}"#
        try library.check(library.boosterPredictFromDMatrix(handle, matrix.handle, config, &shape, &dimension, &result),
                          "XGBoosterPredictFromDMatrix")
        return Array(UnsafeBufferPointer(start: result, count: matrix.rows))
    }
}
