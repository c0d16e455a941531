import ConvictionCore
import ConvictionLLMEmulator
@testable import ConvictionScoring
import Foundation
import Testing

/// The LLM scorer against the local OpenAI-compatible server: answers, log-probabilities,
/// batching, the concurrency limit, retries, every failure kind, and the fallback to the CPU scorer.
@Suite(.timeLimit(.minutes(5))) struct LLMScorerTests {
    func emulator(_ configure: (inout LLMEmulator.Behaviour) -> Void = { _ in }) async throws -> (LLMEmulator, String) {
        var behaviour = LLMEmulator.Behaviour()
        configure(&behaviour)
        let emulator = LLMEmulator(behaviour: behaviour)
        let url = try await emulator.start()
        return (emulator, url + "/v1")
    }

    func scorer(_ endpoint: String, _ configure: (inout LLMSentimentScorer.Settings) -> Void = { _ in }) throws -> LLMSentimentScorer {
        var settings = LLMSentimentScorer.Settings(endpoint: endpoint, model: "emulated-fingpt")
        settings.timeout = .seconds(5)
        configure(&settings)
        return try LLMSentimentScorer(settings: settings)
    }

    static let texts = ["$AAPL beats estimates, shares surge on record revenue", "$TSLA recall widens, guidance cut, shares plunge",
                        "$MSFT annual meeting scheduled for Tuesday", "$NVDA upgrade to buy, strong demand", "$JPM lawsuit and fraud probe"]

    @Test func answersParseIntoLabelsAndProbabilities() {
        #expect(LLMAnswer.label(in: "Positive.") == .positive)
        #expect(LLMAnswer.label(in: "The sentiment is moderately negative") == .negative)
        #expect(LLMAnswer.label(in: " neutral/positive") == .neutral, "the first label named wins")
        #expect(LLMAnswer.label(in: "nonnegative") == nil, "not inside another word")
        #expect(LLMAnswer.label(in: "I cannot tell") == nil)
        let (p, source) = try! #require(LLMAnswer.probabilities(answer: "positive", topLogprobs: [("pos", log(0.6)), ("Positive", log(0.1)), (" neg", log(0.2)), ("neutral", log(0.1))]))
        #expect(source == .logprobs)
        #expect(abs(p.positive - 0.7) < 1e-9 && abs(p.negative - 0.2) < 1e-9 && abs(p.neutral - 0.1) < 1e-9)
        // Log-probabilities whose top label disagrees with the answer belong elsewhere: one-hot on the answer.
        let (q, qs) = try! #require(LLMAnswer.probabilities(answer: "negative", topLogprobs: [("positive", log(0.9)), ("negative", log(0.1))]))
        #expect(qs == .label && q == SentimentProbabilities(negative: 1, neutral: 0, positive: 0))
        #expect(LLMAnswer.probabilities(answer: "no idea", topLogprobs: []) == nil)
    }

    @Test func chatAnswersMatchTheServersLabelsWithLogprobs() async throws {
        let (server, endpoint) = try await emulator()
        defer { Task { await server.stop() } }
        let llm = try scorer(endpoint)
        let outcomes = await llm.score(Self.texts)
        let lexicon = LexiconScorer()
        for (text, outcome) in zip(Self.texts, outcomes) {
            guard case .scored(let p, let source) = outcome else { Issue.record("\(text): \(outcome)"); continue }
            #expect(source == .logprobs)
            let expected = lexicon.score(text)  // the emulator answers from the lexicon
            #expect(abs(p.positive - expected.positive) < 1e-6 && abs(p.negative - expected.negative) < 1e-6, "\(text)")
        }
        let s = llm.statistics
        #expect(s.requests == Self.texts.count && s.scored == Self.texts.count && s.fromLogprobs == Self.texts.count)
        #expect(s.promptTokens == server.state.promptTokens && s.completionTokens == Self.texts.count)
        #expect(llm.name == "llm:emulated-fingpt" && llm.modelHash.count == 16)
    }

    @Test func completionsBatchPromptsAndWorkWithoutLogprobs() async throws {
        let (server, endpoint) = try await emulator { $0.logprobs = false }
        defer { Task { await server.stop() } }
        let llm = try scorer(endpoint) { $0.api = .completions; $0.batchSize = 2 }
        let outcomes = await llm.score(Self.texts)
        #expect(server.state.requests == 3, "5 texts in batches of 2")
        for outcome in outcomes {
            guard case .scored(let p, let source) = outcome else { Issue.record("\(outcome)"); continue }
            #expect(source == .label && [p.negative, p.neutral, p.positive].sorted() == [0, 0, 1])
        }
    }

    @Test func concurrencyIsLimited() async throws {
        // The first four requests are held until all four are in flight; a fifth at once would break the limit.
        let (server, endpoint) = try await emulator { $0.holdFirst = 4 }
        let llm = try scorer(endpoint) { $0.concurrency = 4; $0.timeout = .seconds(30) }
        let outcomes = await llm.score((0..<24).map { "$AAPL post \($0) strong buy" })
        let state = server.state
        await server.stop()
        #expect(outcomes.allSatisfy { if case .scored = $0 { true } else { false } })
        #expect(state.maxInFlight == 4, "at most and at least 4 requests in flight: \(state.maxInFlight)")
    }

    @Test func transientErrorsAreRetried() async throws {
        let (server, endpoint) = try await emulator { $0.transientErrorRate = 0.3; $0.seed = 11 }
        defer { Task { await server.stop() } }
        let llm = try scorer(endpoint) { $0.retries = 6 }
        let texts = (0..<40).map { "$MSFT note \($0) upgrade" }
        let outcomes = await llm.score(texts)
        #expect(outcomes.allSatisfy { if case .scored = $0 { true } else { false } })
        #expect(server.state.transientErrors > 0 && llm.statistics.retries == server.state.transientErrors)
        #expect(server.state.answeredTexts == texts.count)
    }

    @Test func eachFailureKindIsReportedAndFallsBackToTheCPUScorer() async throws {
        let (server, endpoint) = try await emulator()
        defer { Task { await server.stop() } }
        let llm = try scorer(endpoint) { $0.timeout = .milliseconds(400); $0.retries = 1 }
        let m = LLMEmulator.markers
        let texts = ["$AAPL record profit, beats estimates", "$AAPL \(m.error) strong", "$AAPL \(m.garbage) weak", "$AAPL \(m.noAnswer) fine",
                     "$AAPL \(m.hang) upgrade", "   "]
        let engine = ScoringEngine(llm: llm, chain: ScorerChain(scorers: [LexiconScorer()]))
        let results = await engine.score(texts)
        #expect(results.map(\.scorer) == ["llm:emulated-fingpt", "lexicon-v1", "lexicon-v1", "lexicon-v1", "lexicon-v1", "llm:emulated-fingpt"])
        #expect(results.map(\.fallbackReason) == [nil, .httpError, .malformedResponse, .noLabel, .timeout, nil])
        #expect(results[5].scored.issue == .whitespaceOnly, "blank texts are neutral without a request")
        let lexicon = LexiconScorer()
        for i in 1...4 { #expect(results[i].scored.probabilities == lexicon.score(texts[i])) }
        #expect(llm.statistics.failures == [.httpError: 1, .malformedResponse: 1, .noLabel: 1, .timeout: 1])
        #expect(engine.identity.hasPrefix("llm:emulated-fingpt|") && engine.identity.hasSuffix("lexicon-v1|builtin"))
    }

    @Test func aServerThatIsDownFailsFastOnceTheCircuitOpens() async throws {
        // A port nothing listens on: connections are refused.
        let (server, endpoint) = try await emulator()
        await server.stop()
        let llm = try scorer(endpoint) { $0.retries = 2; $0.concurrency = 1; $0.circuitThreshold = 3; $0.circuitCooldown = .seconds(60) }
        let outcomes = await llm.score((0..<30).map { "$V post \($0)" })
        #expect(outcomes.allSatisfy { $0 == .failed(.unavailable) })
        #expect(llm.statistics.requests == 3, "three refused connections open the circuit; the rest fail without a request")
    }

    @Test func settingsAreChecked() {
        #expect(throws: ScoringError.self) { try LLMSentimentScorer(settings: .init(endpoint: "ftp://x", model: "m")) }
        #expect(throws: ScoringError.self) { try LLMSentimentScorer(settings: .init(endpoint: "http://x/v1", model: "")) }
        var noPlaceholder = LLMSentimentScorer.Settings(endpoint: "http://x/v1", model: "m")
        noPlaceholder.prompt = "What is the sentiment?"
        #expect(throws: ScoringError.self) { try LLMSentimentScorer(settings: noPlaceholder) }
    }
}
