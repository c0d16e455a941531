import ConvictionCore
import ConvictionHTTP
import ConvictionScoring
import Foundation
import NIOHTTP1
import Synchronization

/// A local stand-in for a GPU scoring instance, for tests and trials without one:
/// - an OpenAI-compatible server (`POST /v1/chat/completions`, `POST /v1/completions`,
///   `GET /v1/models`) whose answers come from the lexicon, with log-probabilities, usage counts,
///   configurable latency and transient errors (503 and 429 with `Retry-After`);
/// - the instance metadata service's spot notice (IMDSv2 token, then
///   `GET /latest/meta-data/spot/instance-action`: 404 until `POST /__emulator/interrupt`).
///
/// Texts carrying a marker fail the same way every time, so a test knows which posts fall back:
/// `[[llm-error]]` gets a 500, `[[llm-garbage]]` a body that is not JSON, `[[llm-noanswer]]` an
/// answer without a label, and `[[llm-hang]]` no answer until the client gives up.
/// `GET /__emulator/state` reports counters, including the most requests ever in flight at once.
public final class LLMEmulator: Sendable {
    public struct Behaviour: Sendable, Codable, Equatable {
        public var latencyMillis = 0
        /// Share of requests answered 503 or 429 once (a retry succeeds unless it is drawn again).
        public var transientErrorRate = 0.0
        public var logprobs = true
        public var seed: UInt64 = 1
        /// The first `holdFirst` requests are answered only once that many are in flight together (a
        /// barrier, at most 10 s): a test of a concurrency limit then waits for an event, not for latency.
        public var holdFirst = 0
        public init() {}
    }

    public struct State: Sendable, Codable, Equatable {
        public var requests = 0
        /// Texts answered with a label (each retry of a text counts again).
        public var answeredTexts = 0
        public var transientErrors = 0
        public var markerFailures = 0
        public var inFlight = 0
        public var maxInFlight = 0
        public var promptTokens = 0
        public var interrupted = false
        public var spotPolls = 0
        /// Texts answered, in order, for exactly-once checks.
        public var answered: [String] = []
    }

    public static let markers = (error: "[[llm-error]]", garbage: "[[llm-garbage]]", noAnswer: "[[llm-noanswer]]", hang: "[[llm-hang]]")

    private let shared: Mutex<(behaviour: Behaviour, state: State, random: SeededGenerator)>
    private let server = Mutex<HTTPServer?>(nil)
    private let serving = Mutex<Task<Void, Never>?>(nil)
    private let lexicon = LexiconScorer()

    public init(behaviour: Behaviour = Behaviour()) {
        shared = Mutex((behaviour, State(), SeededGenerator(seed: behaviour.seed)))
    }

    public var state: State { shared.withLock { $0.state } }
    public func setBehaviour(_ b: Behaviour) { shared.withLock { $0.behaviour = b; $0.random = SeededGenerator(seed: b.seed) } }
    public func interrupt() { shared.withLock { $0.state.interrupted = true } }

    /// Binds and serves in the background; returns the base URL (`http://host:port`).
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let server = try await HTTPServer.bind(host: host, port: port) { [self] request, writer in
            try await handle(request, writer)
        }
        self.server.withLock { $0 = server }
        serving.withLock { $0 = Task { await server.run() } }
        return server.baseURL
    }

    public func stop() async {
        await server.withLock { $0 }?.close()
        serving.withLock { $0 }?.cancel()
    }

    func handle(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter) async throws {
        switch (request.method, request.path) {
        case (.POST, "/v1/chat/completions"), (.POST, "/v1/completions"):
            try await complete(request, writer, chat: request.path.hasSuffix("chat/completions"))
        case (.GET, "/v1/models"):
            try await writer.respond(.ok, body: Self.json(["object": "list", "data": [["id": "emulated-fingpt", "object": "model"]]]))
        case (.PUT, "/latest/api/token"):
            try await writer.respond(.ok, body: Data("emulated-imds-token".utf8), contentType: "text/plain")
        case (.GET, "/latest/meta-data/spot/instance-action"):
            guard request.headers.first(name: "x-aws-ec2-metadata-token") == "emulated-imds-token" else {
                return try await writer.respond(.unauthorized, body: Data(), contentType: "text/plain")
            }
            let interrupted = shared.withLock { $0.state.spotPolls += 1; return $0.state.interrupted }
            guard interrupted else { return try await writer.respond(.notFound, body: Data("Not Found".utf8), contentType: "text/plain") }
            let time = Timestamps.iso8601(Timestamps.now() + 120_000)
            try await writer.respond(.ok, body: Self.json(["action": "terminate", "time": time]))
        case (.POST, "/__emulator/interrupt"):
            interrupt()
            try await writer.respond(.ok, body: Self.json(["interrupted": true]))
        case (.POST, "/__emulator/behaviour"):
            guard let b = try? JSONDecoder().decode(Behaviour.self, from: request.body) else {
                return try await writer.respond(.badRequest, body: Self.json(["error": "expected a Behaviour JSON object"]))
            }
            setBehaviour(b)
            try await writer.respond(.ok, body: request.body)
        case (.GET, "/__emulator/state"):
            try await writer.respond(.ok, body: try JSONEncoder().encode(state))
        default:
            try await writer.respond(.notFound, body: Self.json(["error": ["message": "no route \(request.method.rawValue) \(request.path)"]]))
        }
    }

    func complete(_ request: HTTPServer.Request, _ writer: HTTPServer.ResponseWriter, chat: Bool) async throws {
        let (behaviour, transient, arrival) = shared.withLock { s -> (Behaviour, Bool, Int) in
            s.state.requests += 1
            s.state.inFlight += 1
            s.state.maxInFlight = max(s.state.maxInFlight, s.state.inFlight)
            return (s.behaviour, s.behaviour.transientErrorRate > 0 && s.random.uniform() < s.behaviour.transientErrorRate, s.state.requests)
        }
        defer { shared.withLock { $0.state.inFlight -= 1 } }
        if arrival <= behaviour.holdFirst {
            let deadline = ContinuousClock.now + .seconds(10)
            while shared.withLock({ $0.state.requests }) < behaviour.holdFirst && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        if behaviour.latencyMillis > 0 { try? await Task.sleep(for: .milliseconds(behaviour.latencyMillis)) }
        guard let body = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any] else {
            return try await writer.respond(.badRequest, body: Self.json(["error": ["message": "body is not a JSON object"]]))
        }
        let prompts: [String]
        if chat {
            guard let messages = body["messages"] as? [[String: Any]], let content = messages.last?["content"] as? String else {
                return try await writer.respond(.badRequest, body: Self.json(["error": ["message": "messages[].content missing"]]))
            }
            prompts = [content]
        } else if let list = body["prompt"] as? [String] {
            prompts = list
        } else if let one = body["prompt"] as? String {
            prompts = [one]
        } else {
            return try await writer.respond(.badRequest, body: Self.json(["error": ["message": "prompt missing"]]))
        }
        if transient {
            let tooMany = shared.withLock { $0.state.transientErrors += 1; return $0.state.transientErrors % 2 == 0 }
            return try await writer.respond(tooMany ? .tooManyRequests : .serviceUnavailable, body: Self.json(["error": ["message": "try again"]]),
                                            headers: [("retry-after", "0")])
        }
        if prompts.contains(where: { $0.contains(Self.markers.hang) }) {
            shared.withLock { $0.state.markerFailures += 1 }
            let deadline = ContinuousClock.now + .seconds(120)
            while !writer.isClosed && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            return
        }
        if prompts.contains(where: { $0.contains(Self.markers.error) }) {
            shared.withLock { $0.state.markerFailures += 1 }
            return try await writer.respond(.internalServerError, body: Self.json(["error": ["message": "emulated model failure"]]))
        }
        if prompts.contains(where: { $0.contains(Self.markers.garbage) }) {
            shared.withLock { $0.state.markerFailures += 1 }
            return try await writer.respond(.ok, body: Data("<html>upstream proxy error</html>".utf8))
        }
        let logprobs = behaviour.logprobs && (chat ? (body["logprobs"] as? Bool ?? false) : body["logprobs"] != nil)
        var choices: [[String: Any]] = []
        var promptTokens = 0
        var answered: [String] = []
        for (index, prompt) in prompts.enumerated() {
            promptTokens += prompt.split(whereSeparator: \.isWhitespace).count
            let text = Self.inputText(of: prompt)
            let p = lexicon.score(text)
            let ranked: [(String, Double)] = [("negative", p.negative), ("neutral", p.neutral), ("positive", p.positive)].sorted { $0.1 > $1.1 }
            let noAnswer = prompt.contains(Self.markers.noAnswer)
            let answer = noAnswer ? "I cannot tell from this text." : ranked[0].0
            if noAnswer { shared.withLock { $0.state.markerFailures += 1 } } else { answered.append(text) }
            let first = noAnswer ? "I" : answer
            let top = noAnswer ? [("I", -0.1), ("The", -2.5)] : ranked.map { ($0.0, log(max($0.1, 1e-9))) }
            if chat {
                var choice: [String: Any] = ["index": index, "message": ["role": "assistant", "content": answer], "finish_reason": "stop"]
                if logprobs {
                    choice["logprobs"] = ["content": [["token": first, "logprob": top[0].1,
                                                       "top_logprobs": top.map { ["token": $0.0, "logprob": $0.1] }]]]
                }
                choices.append(choice)
            } else {
                var choice: [String: Any] = ["index": index, "text": " " + answer, "finish_reason": "stop"]
                if logprobs {
                    choice["logprobs"] = ["tokens": [" " + first], "token_logprobs": [top[0].1],
                                          "top_logprobs": [Dictionary(top.map { (" " + $0.0, $0.1) }, uniquingKeysWith: { a, _ in a })]]
                }
                choices.append(choice)
            }
        }
        shared.withLock {
            $0.state.answeredTexts += answered.count
            $0.state.answered += answered
            $0.state.promptTokens += promptTokens
        }
        let response: [String: Any] = [
            "id": "cmpl-emulated", "object": chat ? "chat.completion" : "text_completion", "model": body["model"] as? String ?? "",
            "choices": choices, "usage": ["prompt_tokens": promptTokens, "completion_tokens": prompts.count, "total_tokens": promptTokens + prompts.count],
        ]
        try await writer.respond(.ok, body: Self.json(response))
    }

    /// The post inside a FinGPT-style prompt (after `Input:`, before `Answer:`); the whole prompt otherwise.
    static func inputText(of prompt: String) -> String {
        guard let start = prompt.range(of: "Input: ") else { return prompt }
        let rest = prompt[start.upperBound...]
        let end = rest.range(of: "\nAnswer")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    static func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
