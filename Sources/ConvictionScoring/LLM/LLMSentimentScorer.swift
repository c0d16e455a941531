import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Sentiment from an instruction-tuned LLM behind any OpenAI-compatible server (vLLM, llama.cpp
/// server, TGI, hosted APIs), FinGPT-style: one instruction prompt per text, the answer read as
/// negative / neutral / positive. Requests run concurrently up to a limit, each with a deadline
/// and retries (backoff with jitter, `Retry-After` honoured). A text it cannot score comes back as
/// `.failed` with the reason; `ScoringEngine` gives those to the CPU model.
///
/// After `circuitThreshold` requests in a row fail to reach the server, it is considered down for
/// `circuitCooldown`: requests fail at once instead of each waiting out its retries.
public final class LLMSentimentScorer: Sendable {
    public struct Settings: Sendable {
        public enum API: String, Sendable, CaseIterable {
            /// `POST <endpoint>/chat/completions`, one text per request.
            case chat
            /// `POST <endpoint>/completions`, `batchSize` prompts per request (vLLM, llama.cpp, TGI).
            case completions
        }
        /// The server's OpenAI base URL, e.g. `http://10.0.0.12:8000/v1`.
        public var endpoint: String
        /// The model name the server serves.
        public var model: String
        public var api: API = .chat
        /// `{text}` is replaced by the post's text.
        public var prompt = Self.finGPTPrompt
        public var concurrency = 8
        public var batchSize = 16
        public var timeout: Duration = .seconds(30)
        public var retries = 3
        public var maxTokens = 4
        /// Ask for the top 5 log-probabilities of the answer's first token.
        public var logprobs = true
        /// Sent as `Authorization: Bearer`; never logged.
        public var apiKey: Secret?
        /// The environment variable the caller reads `apiKey` from (the key never sits in a file).
        public var apiKeyEnv = ""
        public var circuitThreshold = 5
        public var circuitCooldown: Duration = .seconds(30)

        /// FinGPT's sentiment instruction format.
        public static let finGPTPrompt = "Instruction: What is the sentiment of this tweet? Please choose an answer from {negative/neutral/positive}.\nInput: {text}\nAnswer: "

        /// Empty `endpoint`: no LLM (the configuration's default).
        public init(endpoint: String = "", model: String = "") { self.endpoint = endpoint; self.model = model }
    }

    /// Why a text was not scored.
    public enum Failure: String, Sendable, CaseIterable {
        /// Connection refused or reset, or the circuit is open.
        case unavailable = "server-unavailable"
        case timeout
        /// A 4xx, or a 429/5xx after the last retry.
        case httpError = "http-error"
        /// The body is not the OpenAI response shape.
        case malformedResponse = "malformed-response"
        /// The answer names no label.
        case noLabel = "no-label"
    }

    public enum Outcome: Sendable, Equatable {
        case scored(SentimentProbabilities, LLMAnswer.Source)
        case failed(Failure)
    }

    public struct Statistics: Sendable {
        public var requests = 0
        public var retries = 0
        public var texts = 0
        public var scored = 0
        public var fromLogprobs = 0
        public var failures: [Failure: Int] = [:]
        public var promptTokens = 0
        public var completionTokens = 0
        public var seconds = 0.0
    }

    public let settings: Settings
    /// Written to each score row: `llm:<model>`.
    public let name: String
    /// The server's weights are not visible from here: this hashes what defines the answers
    /// (model name, API, prompt, answer length), so a changed prompt re-scores.
    public let modelHash: String
    private let state = Mutex<(statistics: Statistics, consecutiveFailures: Int, openUntil: ContinuousClock.Instant?)>((Statistics(), 0, nil))

    public init(settings: Settings) throws {
        guard let url = URL(string: settings.endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ScoringError("scoring.llm.endpoint: not an http(s) URL: \(settings.endpoint.debugDescription)")
        }
        guard settings.prompt.contains("{text}") else { throw ScoringError("scoring.llm.prompt: the template has no {text} placeholder") }
        guard !settings.model.isEmpty else { throw ScoringError("scoring.llm.model: empty; name the model the server serves") }
        self.settings = settings
        name = "llm:\(settings.model)"
        var hasher = SHA256()
        for part in [settings.model, settings.api.rawValue, settings.prompt, String(settings.maxTokens)] {
            hasher.update(data: Data(part.utf8)); hasher.update(data: Data([0]))
        }
        modelHash = hasher.finalize().map { String(format: "%02x", $0) }.joined().prefix(16).description
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// One outcome per text, in input order.
    public func score(_ texts: [String]) async -> [Outcome] {
        let started = ContinuousClock.now
        var outcomes = [Outcome](repeating: .failed(.unavailable), count: texts.count)
        let groups: [[Int]] = settings.api == .chat
            ? texts.indices.map { [$0] }
            : stride(from: 0, to: texts.count, by: settings.batchSize).map { Array($0..<min(texts.count, $0 + settings.batchSize)) }
        await withTaskGroup(of: ([Int], [Outcome]).self) { group in
            var next = 0
            func launch() {
                let indices = groups[next]
                next += 1
                group.addTask { (indices, await self.request(indices.map { texts[$0] })) }
            }
            while next < min(groups.count, settings.concurrency) { launch() }
            for await (indices, results) in group {
                for (i, r) in zip(indices, results) { outcomes[i] = r }
                if next < groups.count { launch() }
            }
        }
        let elapsed = ContinuousClock.now - started
        state.withLock { s in
            s.statistics.texts += texts.count
            s.statistics.seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            for o in outcomes {
                switch o {
                case .scored(_, let source): s.statistics.scored += 1; if source == .logprobs { s.statistics.fromLogprobs += 1 }
                case .failed(let f): s.statistics.failures[f, default: 0] += 1
                }
            }
        }
        return outcomes
    }

    /// Why one attempt failed, and whether another may succeed.
    struct AttemptFailure: Error {
        let failure: Failure
        let retryable: Bool
        var retryAfter: Duration?
    }

    /// The shared retry policy with this scorer's attempts: back-off from 200 ms (half to full
    /// jitter), at most 5 s, and a server's `Retry-After` honoured up to 30 s.
    var retryPolicy: RetryPolicy {
        RetryPolicy(maxAttempts: settings.retries + 1, baseDelay: .milliseconds(200), maxDelay: .seconds(5), jitter: .equal,
                    maxServerWait: .seconds(30))
    }

    /// One HTTP request for these texts, retried; the same failure for all of them when it fails.
    func request(_ texts: [String]) async -> [Outcome] {
        let prompts = texts.map { settings.prompt.replacingOccurrences(of: "{text}", with: $0) }
        do {
            return try await retryPolicy.run(clock: SystemTimeSource(), classify: { error in
                guard let error = error as? AttemptFailure, error.retryable else { return .fail }
                return .retry(serverWait: error.retryAfter)
            }, willRetry: { _, _, _ in
                state.withLock { $0.statistics.retries += 1 }
            }) { _ in
                if circuitIsOpen() { throw AttemptFailure(failure: .unavailable, retryable: false) }
                state.withLock { $0.statistics.requests += 1 }
                let (status, headers, body): (Int, HTTPHeaders, Data)
                do {
                    (status, headers, body) = try await send(prompts)
                } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                    noteUnreachable()
                    throw AttemptFailure(failure: .timeout, retryable: true)
                } catch {
                    noteUnreachable()
                    throw AttemptFailure(failure: .unavailable, retryable: true)
                }
                noteReachable()
                if status == 200 {
                    if let outcomes = parse(body, count: texts.count) { return outcomes }
                    throw AttemptFailure(failure: .malformedResponse, retryable: true)
                }
                guard status == 429 || status >= 500 else { throw AttemptFailure(failure: .httpError, retryable: false) }
                let retryAfter = headers.first(name: "retry-after").flatMap(Double.init).flatMap { seconds in
                    seconds.isFinite && seconds >= 0 ? Duration.milliseconds(Int(min(seconds, 30) * 1000)) : nil
                }
                throw AttemptFailure(failure: .httpError, retryable: true, retryAfter: retryAfter)
            }
        } catch let error as AttemptFailure {
            return texts.map { _ in .failed(error.failure) }
        } catch {
            return texts.map { _ in .failed(.unavailable) }  // cancelled
        }
    }

    func send(_ prompts: [String]) async throws -> (Int, HTTPHeaders, Data) {
        var body: [String: Any] = ["model": settings.model, "temperature": 0, "max_tokens": settings.maxTokens]
        let path: String
        switch settings.api {
        case .chat:
            path = "/chat/completions"
            body["messages"] = [["role": "user", "content": prompts[0]]]
            if settings.logprobs { body["logprobs"] = true; body["top_logprobs"] = 5 }
        case .completions:
            path = "/completions"
            body["prompt"] = prompts
            if settings.logprobs { body["logprobs"] = 5 }
        }
        let base = settings.endpoint.hasSuffix("/") ? String(settings.endpoint.dropLast()) : settings.endpoint
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        if let key = settings.apiKey { request.headers.add(name: "authorization", value: "Bearer \(key.reveal())") }
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await SharedHTTPClient.client.execute(request, timeout: .nanoseconds(settings.timeout.components.seconds * 1_000_000_000 + settings.timeout.components.attoseconds / 1_000_000_000))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), response.headers, Data(bytes.readableBytesView))
    }

    /// The outcomes in a 200 body, nil when the body is not an OpenAI response for `count` prompts.
    func parse(_ body: Data, count: Int) -> [Outcome]? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let choices = object["choices"] as? [[String: Any]], choices.count >= count else { return nil }
        if let usage = object["usage"] as? [String: Any] {
            state.withLock {
                $0.statistics.promptTokens += usage["prompt_tokens"] as? Int ?? 0
                $0.statistics.completionTokens += usage["completion_tokens"] as? Int ?? 0
            }
        }
        var outcomes = [Outcome?](repeating: nil, count: count)
        for (position, choice) in choices.enumerated() {
            let index = choice["index"] as? Int ?? position
            guard index >= 0, index < count else { return nil }
            let answer: String
            var top: [(token: String, logprob: Double)] = []
            switch settings.api {
            case .chat:
                guard let message = choice["message"] as? [String: Any], let content = message["content"] as? String else { return nil }
                answer = content
                let tokens = (choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]] ?? []
                if let first = tokens.first(where: { !(($0["token"] as? String) ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
                    top = (first["top_logprobs"] as? [[String: Any]] ?? []).compactMap { entry in
                        guard let t = entry["token"] as? String, let lp = entry["logprob"] as? Double else { return nil }
                        return (t, lp)
                    }
                }
            case .completions:
                guard let text = choice["text"] as? String else { return nil }
                answer = text
                let logprobs = choice["logprobs"] as? [String: Any]
                let tokens = logprobs?["tokens"] as? [String] ?? []
                let tops = logprobs?["top_logprobs"] as? [[String: Double]] ?? []
                if let position = tokens.firstIndex(where: { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }), position < tops.count {
                    top = tops[position].map { ($0.key, $0.value) }
                }
            }
            if let (probabilities, source) = LLMAnswer.probabilities(answer: answer, topLogprobs: top) {
                outcomes[index] = .scored(probabilities, source)
            } else {
                outcomes[index] = .failed(.noLabel)
            }
        }
        guard outcomes.allSatisfy({ $0 != nil }) else { return nil }
        return outcomes.map { $0! }
    }

    func circuitIsOpen() -> Bool {
        state.withLock { s in
            guard let until = s.openUntil else { return false }
            if ContinuousClock.now >= until { s.openUntil = nil; s.consecutiveFailures = settings.circuitThreshold - 1; return false }  // one probe
            return true
        }
    }

    func noteReachable() { state.withLock { $0.consecutiveFailures = 0 } }

    func noteUnreachable() {
        state.withLock { s in
            s.consecutiveFailures += 1
            if s.consecutiveFailures >= settings.circuitThreshold { s.openUntil = ContinuousClock.now + settings.circuitCooldown }
        }
    }

}

/// A scoring configuration error, naming the setting.
public struct ScoringError: ConvictionError {
    public var errorCode: ErrorCode { .configuration }
    public let description: String
    public init(_ description: String) { self.description = description }
}
