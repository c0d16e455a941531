import Synchronization

/// Scorers in order of preference, the lexicon last. When one cannot be loaded or fails, the next
/// takes over for the rest of the run and a notice says so: scoring degrades, it does not stop.
public final class ScorerChain: Sendable {
    public let scorers: [any SentimentScorer]
    private let state: Mutex<(active: Int, notices: [String])>

    public init(scorers: [any SentimentScorer], notices: [String] = []) {
        precondition(!scorers.isEmpty)
        self.scorers = scorers
        state = Mutex((0, notices))
    }

    /// The scorer that scores next.
    public var active: any SentimentScorer { scorers[state.withLock { $0.active }] }
    /// Why the chain is not on its first choice, in order.
    public var notices: [String] { state.withLock { $0.notices } }

    public struct Settings: Sendable {
        public var useTransformer = true
        public var modelFolder: String?
        public var batchSize = 32
        public var session = ORTSessionOptions()
        public var libraryPath: String?
        public init() {}
    }

    /// The transformer model if it loads (falling back to the lexicon with a notice if not), then the lexicon.
    public static func make(_ settings: Settings) -> ScorerChain {
        guard settings.useTransformer else { return ScorerChain(scorers: [LexiconScorer()]) }
        guard let folder = settings.modelFolder else {
            return ScorerChain(scorers: [LexiconScorer()], notices: [
                "no transformer model: .models/finance-tweet-minilm is missing (run `make setup`) and scoring.model is not set; scoring with \(LexiconScorer.name)"])
        }
        do {
            let transformer = try TransformerScorer(folder: folder, options: settings.session, batchSize: settings.batchSize,
                                                    libraryPath: settings.libraryPath)
            return ScorerChain(scorers: [transformer, LexiconScorer()])
        } catch {
            return ScorerChain(scorers: [LexiconScorer()], notices: ["transformer model unavailable (\(error)); scoring with \(LexiconScorer.name)"])
        }
    }

    /// Scores with the active scorer; on failure moves down the chain and scores again.
    public func score(_ texts: [String]) -> (results: [ScoredText], scorer: any SentimentScorer) {
        while true {
            let index = state.withLock { $0.active }
            let scorer = scorers[index]
            do {
                return (try scorer.score(texts), scorer)
            } catch {
                guard index + 1 < scorers.count else {
                    // The last scorer (the lexicon) does not fail; keep the types honest anyway.
                    return (texts.map { _ in ScoredText(probabilities: .certainNeutral, issue: nil) }, scorer)
                }
                let next = scorers[index + 1]
                state.withLock {
                    $0.active = index + 1
                    $0.notices.append("\(scorer.name) failed (\(error)); scoring the rest of this run with \(next.name)")
                }
            }
        }
    }
}
