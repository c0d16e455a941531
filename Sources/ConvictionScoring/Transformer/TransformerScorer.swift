import Foundation
import Synchronization

/// Scores texts with a BERT-family classifier through ONNX Runtime on CPU.
///
/// Texts are tokenised, then taken in windows of `batchSize × 8` in arrival order; inside a window
/// they are sorted by length so each batch pads only to its own longest text, and results go back
/// in input order. Probabilities are the softmax of the model's logits, read by label name.
public final class TransformerScorer: SentimentScorer {
    public let model: SentimentModel
    public let tokenizer: WordPieceTokenizer
    public let session: ORTSession
    public let batchSize: Int
    public var name: String { model.name }
    public var modelHash: String { model.modelHash }
    private let needsTokenTypes: Bool
    private let outputName: String
    private let counters = Mutex(Statistics())

    /// What the scorer has done so far: for progress lines and the benchmark's time split.
    public struct Statistics: Sendable {
        public var texts = 0
        public var batches = 0
        public var tokens = 0
        public var paddedTokens = 0
        /// Seconds inside ORT's `Run`, and in all of `score` (tokenising, batching, softmax, Run).
        public var runSeconds = 0.0
        public var totalSeconds = 0.0
    }
    public var statistics: Statistics { counters.withLock { $0 } }

    public init(folder: String, options: ORTSessionOptions = .init(), batchSize: Int = 32, libraryPath: String? = nil) throws {
        precondition(batchSize > 0)
        model = try SentimentModel(folder: folder)
        tokenizer = try WordPieceTokenizer(vocabularyFile: folder + "/vocab.txt", lowercase: model.lowercase, maxLength: model.maxLength)
        session = try ORTSession(runtime: try ORTRuntime.load(explicit: libraryPath), modelPath: model.modelPath, options: options)
        self.batchSize = batchSize
        for required in ["input_ids", "attention_mask"] where !session.inputNames.contains(required) {
            throw SentimentModel.FolderError(description: "\(model.modelPath): the model has no input \(required) (inputs: \(session.inputNames.joined(separator: ", ")))")
        }
        needsTokenTypes = session.inputNames.contains("token_type_ids")
        outputName = session.outputNames.contains("logits") ? "logits" : session.outputNames[0]
    }

    public func score(_ texts: [String]) throws -> [ScoredText] {
        let started = DispatchTime.now().uptimeNanoseconds
        var results = [ScoredText?](repeating: nil, count: texts.count)
        let window = batchSize * 8
        var runNanos: UInt64 = 0
        var stats = Statistics()
        for windowStart in stride(from: 0, to: texts.count, by: window) {
            let range = windowStart..<min(windowStart + window, texts.count)
            var encoded: [(index: Int, ids: [Int32], issue: TextIssue?)] = []
            for i in range {
                if let issue = TextIssue.of(texts[i]) {
                    results[i] = ScoredText(probabilities: .certainNeutral, issue: issue)
                    continue
                }
                let encoding = tokenizer.encode(texts[i])
                encoded.append((i, encoding.ids, encoding.truncated > 0 ? .truncated : nil))
            }
            encoded.sort { $0.ids.count < $1.ids.count }  // stable: equal lengths keep arrival order
            for batchStart in stride(from: 0, to: encoded.count, by: batchSize) {
                let batch = encoded[batchStart..<min(batchStart + batchSize, encoded.count)]
                let width = batch.map(\.ids.count).max()!
                var ids = [Int64](repeating: Int64(tokenizer.padID), count: batch.count * width)
                var mask = [Int64](repeating: 0, count: batch.count * width)
                for (row, item) in batch.enumerated() {
                    for (col, id) in item.ids.enumerated() {
                        ids[row * width + col] = Int64(id)
                        mask[row * width + col] = 1
                    }
                    stats.tokens += item.ids.count
                }
                var inputs: [(name: String, values: [Int64])] = [("input_ids", ids), ("attention_mask", mask)]
                if needsTokenTypes { inputs.append(("token_type_ids", [Int64](repeating: 0, count: ids.count))) }
                let runStart = DispatchTime.now().uptimeNanoseconds
                let output = try session.run(int64Inputs: inputs, shape: [batch.count, width], outputs: [outputName])[0]
                runNanos += DispatchTime.now().uptimeNanoseconds - runStart
                guard output.shape.count == 2, output.shape[0] == batch.count, output.shape[1] >= model.labelCount else {
                    throw ORTError(call: "Run", code: nil, message: "\(model.modelPath): output \(outputName) has shape \(output.shape), expected [\(batch.count), \(model.labelCount)]")
                }
                let columns = output.shape[1]
                for (row, item) in batch.enumerated() {
                    let logits = output.values[(row * columns)..<((row + 1) * columns)].map(Double.init)
                    let top = logits.max()!
                    let e = logits.map { Foundation.exp($0 - top) }
                    let sum = e.reduce(0, +)
                    let p = SentimentProbabilities(negative: e[model.negativeIndex] / sum, neutral: e[model.neutralIndex] / sum,
                                                   positive: e[model.positiveIndex] / sum)
                    results[item.index] = ScoredText(probabilities: p, issue: item.issue)
                }
                stats.batches += 1
                stats.paddedTokens += batch.count * width
            }
        }
        stats.texts = texts.count
        stats.runSeconds = Double(runNanos) / 1e9
        stats.totalSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        counters.withLock { total in
            total.texts += stats.texts; total.batches += stats.batches; total.tokens += stats.tokens
            total.paddedTokens += stats.paddedTokens; total.runSeconds += stats.runSeconds; total.totalSeconds += stats.totalSeconds
        }
        return results.map { $0! }
    }
}
