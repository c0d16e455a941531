import Foundation
import Synchronization

/// Scores texts with a BERT-family classifier through ONNX Runtime on CPU.
///
/// Texts are tokenised, then taken in windows of `batchSize × 8` in arrival order; inside a window
/// they are grouped by padded width and results go back in input order. Probabilities are the
/// softmax of the model's logits, read by label name.
///
/// A text's probabilities depend on the text alone, never on which texts share its batch: that
/// keeps runs reproducible and keeps later posts from touching an earlier post's score. ORT's CPU
/// kernels give bit-identical rows for the same tensor width whatever the other rows hold (and for
/// any batch of two or more rows), so each text is padded to a width fixed by its own length (a
/// multiple of 8) and a lone text runs beside a copy of itself. Models whose rows do depend on
/// their batch-mates (dynamic int8 quantisation scales activations per tensor) are found by a probe
/// when loaded and then score one text per run.
public final class TransformerScorer: SentimentScorer {
    public let model: SentimentModel
    public let tokenizer: WordPieceTokenizer
    public let session: ORTSession
    public let batchSize: Int
    public var name: String { model.name }
    public var modelHash: String { model.modelHash }
    private let runner: Runner
    /// Padded widths are multiples of this (capped at the model's max length).
    public static let widthStep = 8
    /// False when the load-time probe found rows depending on their batch-mates.
    public let batchInvariant: Bool
    /// Texts per ORT run actually used: `batchSize`, or 1 for batch-dependent models.
    public var effectiveBatchSize: Int { batchInvariant ? batchSize : 1 }
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
        runner = Runner(session: session, padID: tokenizer.padID, needsTokenTypes: session.inputNames.contains("token_type_ids"),
                        outputName: session.outputNames.contains("logits") ? "logits" : session.outputNames[0],
                        labelCount: model.labelCount, modelPath: model.modelPath)
        // Probe: one text beside a copy of itself, then beside a different text of the same width;
        // a batch-invariant model gives the same bits both times.
        let a = tokenizer.encode("$AAPL beats estimates and raises guidance").ids
        let b = tokenizer.encode("shares fell sharply after the downgrade, volume heavy").ids
        let width = Self.paddedWidth(max(a.count, b.count), maxLength: model.maxLength)
        let alone = try runner.logits([a, a], width: width)
        let mixed = try runner.logits([a, b], width: width)
        batchInvariant = Array(alone.prefix(alone.count / 2)) == Array(mixed.prefix(mixed.count / 2))
    }

    static func paddedWidth(_ length: Int, maxLength: Int) -> Int {
        min(maxLength, (length + widthStep - 1) / widthStep * widthStep)
    }
    func paddedWidth(_ length: Int) -> Int { Self.paddedWidth(length, maxLength: model.maxLength) }

    public func score(_ texts: [String]) throws -> [ScoredText] {
        let started = DispatchTime.now().uptimeNanoseconds
        var results = [ScoredText?](repeating: nil, count: texts.count)
        let window = batchSize * 8
        var runNanos: UInt64 = 0
        var stats = Statistics()
        for windowStart in stride(from: 0, to: texts.count, by: window) {
            let range = windowStart..<min(windowStart + window, texts.count)
            var encoded: [(index: Int, ids: [Int32], width: Int, issue: TextIssue?)] = []
            for i in range {
                if let issue = TextIssue.of(texts[i]) {
                    results[i] = ScoredText(probabilities: .certainNeutral, issue: issue)
                    continue
                }
                let encoding = tokenizer.encode(texts[i])
                encoded.append((i, encoding.ids, paddedWidth(encoding.ids.count), encoding.truncated > 0 ? .truncated : nil))
            }
            // Group by padded width (stable: arrival order inside a width).
            encoded.sort { $0.width < $1.width }
            var start = 0
            while start < encoded.count {
                let width = encoded[start].width
                var end = start
                while end < encoded.count, end - start < effectiveBatchSize, encoded[end].width == width { end += 1 }
                let batch = encoded[start..<end]
                start = end
                // A lone text runs beside a copy of itself: single-row runs take another kernel path.
                // (Batch-dependent models always run one text, so they need no copy.)
                var rows = batch.map(\.ids)
                if rows.count == 1, batchInvariant { rows.append(rows[0]) }
                let runStart = DispatchTime.now().uptimeNanoseconds
                let values = try runner.logits(rows, width: width)
                runNanos += DispatchTime.now().uptimeNanoseconds - runStart
                let columns = values.count / rows.count
                for (row, item) in batch.enumerated() {
                    let logits = values[(row * columns)..<((row + 1) * columns)].map(Double.init)
                    let top = logits.max()!
                    let e = logits.map { Foundation.exp($0 - top) }
                    let sum = e.reduce(0, +)
                    let p = SentimentProbabilities(negative: e[model.negativeIndex] / sum, neutral: e[model.neutralIndex] / sum,
                                                   positive: e[model.positiveIndex] / sum)
                    results[item.index] = ScoredText(probabilities: p, issue: item.issue)
                    stats.tokens += item.ids.count
                }
                stats.batches += 1
                stats.paddedTokens += rows.count * width
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

/// Feeds padded token rows to the session and returns the raw logits, row-major.
private struct Runner: Sendable {
    let session: ORTSession
    let padID: Int32
    let needsTokenTypes: Bool
    let outputName: String
    let labelCount: Int
    let modelPath: String

    func logits(_ rows: [[Int32]], width: Int) throws -> [Float] {
        var ids = [Int64](repeating: Int64(padID), count: rows.count * width)
        var mask = [Int64](repeating: 0, count: rows.count * width)
        for (row, tokens) in rows.enumerated() {
            for (col, id) in tokens.enumerated() {
                ids[row * width + col] = Int64(id)
                mask[row * width + col] = 1
            }
        }
        var inputs: [(name: String, values: [Int64])] = [("input_ids", ids), ("attention_mask", mask)]
        if needsTokenTypes { inputs.append(("token_type_ids", [Int64](repeating: 0, count: ids.count))) }
        let output = try session.run(int64Inputs: inputs, shape: [rows.count, width], outputs: [outputName])[0]
        guard output.shape.count == 2, output.shape[0] == rows.count, output.shape[1] >= labelCount else {
            throw ORTError(call: "Run", code: nil, message: "\(modelPath): output \(outputName) has shape \(output.shape), expected [\(rows.count), \(labelCount)]")
        }
        return output.values
    }
}
