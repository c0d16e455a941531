/// What scores a run's texts: the LLM when one is configured, with every text it cannot score
/// (server down, timeout, malformed or label-less answer) given to the CPU chain (the transformer
/// model, then the lexicon). Each result names the scorer that produced it.
public final class ScoringEngine: Sendable {
    public struct Result: Sendable, Equatable {
        public let scored: ScoredText
        public let scorer: String
        public let modelHash: String
        /// Why the LLM did not score this text, when it did not.
        public let fallbackReason: LLMSentimentScorer.Failure?

        public init(scored: ScoredText, scorer: String, modelHash: String, fallbackReason: LLMSentimentScorer.Failure?) {
            self.scored = scored; self.scorer = scorer; self.modelHash = modelHash; self.fallbackReason = fallbackReason
        }
    }

    public let llm: LLMSentimentScorer?
    public let chain: ScorerChain

    public init(llm: LLMSentimentScorer?, chain: ScorerChain) { self.llm = llm; self.chain = chain }

    /// The first-choice scorer's name and model hash.
    public var primary: (name: String, modelHash: String) {
        if let llm { return (llm.name, llm.modelHash) }
        return (chain.active.name, chain.active.modelHash)
    }

    /// What the outputs depend on: the LLM's identity and the fallback's, so a new model or prompt
    /// re-scores.
    public var identity: String {
        (llm.map { "\($0.name)|\($0.modelHash)|" } ?? "") + "\(chain.active.name)|\(chain.active.modelHash)"
    }

    /// One result per text, in input order.
    public func score(_ texts: [String]) async -> [Result] {
        guard let llm else { return scoreOnCPU(texts) }
        var results = [Result?](repeating: nil, count: texts.count)
        var ask: [Int] = []
        for (i, text) in texts.enumerated() {
            // Empty texts carry no evidence: neutral, without a request.
            if let issue = TextIssue.of(text) {
                results[i] = Result(scored: ScoredText(probabilities: .certainNeutral, issue: issue), scorer: llm.name, modelHash: llm.modelHash, fallbackReason: nil)
            } else {
                ask.append(i)
            }
        }
        let outcomes = await llm.score(ask.map { texts[$0] })
        var failed: [(Int, LLMSentimentScorer.Failure)] = []
        for (i, outcome) in zip(ask, outcomes) {
            switch outcome {
            case .scored(let probabilities, _):
                results[i] = Result(scored: ScoredText(probabilities: probabilities, issue: nil), scorer: llm.name, modelHash: llm.modelHash, fallbackReason: nil)
            case .failed(let reason):
                failed.append((i, reason))
            }
        }
        if !failed.isEmpty {
            let fallback = failed.map { texts[$0.0] }
            for ((i, reason), result) in zip(failed, scoreOnCPU(fallback)) {
                results[i] = Result(scored: result.scored, scorer: result.scorer, modelHash: result.modelHash, fallbackReason: reason)
            }
        }
        return results.map { $0! }
    }

    func scoreOnCPU(_ texts: [String]) -> [Result] {
        guard !texts.isEmpty else { return [] }
        let (scored, scorer) = chain.score(texts)
        return scored.map { Result(scored: $0, scorer: scorer.name, modelHash: scorer.modelHash, fallbackReason: nil) }
    }
}
