/// How posts are scored on CPU, and how scoring workers share the queue: the `[scoring]` table of
/// the configuration file.
public struct ScoringSettings: Sendable, Equatable {
    public enum Scorer: String, Sendable, CaseIterable {
        /// An ONNX model; the lexicon takes over if it is missing or fails.
        case transformer
        case lexicon
    }

    public var scorer = Scorer.transformer
    /// Model folder (model.onnx, vocab.txt, config.json); empty = the embedded default that
    /// `make setup` assembles, `.models/finance-tweet-minilm` (fp32: its scores do not depend on
    /// batch-mates; the int8 build beside it does, so it scores one text per run and is slower).
    public var model = ""
    public var batchSize = 32
    /// Intra-op threads; 0 = one per core.
    public var threads = 0
    public var optimization = ORTSessionOptions.GraphOptimization.all
    public var spinning = false
    /// Path to libonnxruntime.so; empty = CONVICTION_ONNXRUNTIME_LIB, then .venv.
    public var onnxruntimeLibrary = ""
    /// Distinct texts remembered within a run (reposts and templates are scored once); 0 = none.
    public var cacheEntries = 200_000
    /// How long a worker's lease on a partition lasts unless renewed (renewed every third of it).
    public var lease: Duration = .seconds(120)
    /// Posts per checkpoint: a worker that dies loses at most this many scored posts.
    public var checkpointPosts = 1000
    /// Instance metadata service polled for a spot interruption notice, e.g.
    /// `http://169.254.169.254`; empty = not polled.
    public var spotNoticeEndpoint = ""
    public var spotPollInterval: Duration = .seconds(5)

    public init() {}
}
