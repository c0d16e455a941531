import ConvictionAWS
import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    static let scoringKeys: [Key] = [
        Key(name: "scoring.scorer", help: "Sentiment scorer: transformer (ONNX model; the lexicon takes over if it is missing or fails) or lexicon.",
            get: { .string($0.scoring.scorer.rawValue) }, set: { c, v throws(ValueError) in c.scoring.scorer = try choice(v) }),
        Key(name: "scoring.model", help: "Model folder (model.onnx, vocab.txt, config.json with id2label); empty = .models/finance-tweet-minilm.",
            get: { .string($0.scoring.model) }, set: { c, v throws(ValueError) in c.scoring.model = try string(v) }),
        Key(name: "scoring.batch_size", help: "Texts per ONNX Runtime call.",
            get: { .integer($0.scoring.batchSize) }, set: { c, v throws(ValueError) in c.scoring.batchSize = try int(v, 1...4096) }),
        Key(name: "scoring.threads", help: "ONNX Runtime intra-op threads; 0 = one per core.",
            get: { .integer($0.scoring.threads) }, set: { c, v throws(ValueError) in c.scoring.threads = try int(v, 0...256) }),
        Key(name: "scoring.optimization", help: "ONNX Runtime graph optimisation: disabled, basic, extended, all.",
            get: { .string($0.scoring.optimization.rawValue) }, set: { c, v throws(ValueError) in c.scoring.optimization = try choice(v) }),
        Key(name: "scoring.spinning", help: "Let ONNX Runtime threads busy-wait between operators (faster on an idle machine).",
            get: { .bool($0.scoring.spinning) }, set: { c, v throws(ValueError) in c.scoring.spinning = try bool(v) }),
        Key(name: "scoring.onnxruntime_library", help: "Path to libonnxruntime.so; empty = CONVICTION_ONNXRUNTIME_LIB, then .venv.",
            get: { .string($0.scoring.onnxruntimeLibrary) }, set: { c, v throws(ValueError) in c.scoring.onnxruntimeLibrary = try string(v) }),
        Key(name: "scoring.cache_entries", help: "Distinct texts remembered within a run, so reposts are scored once; 0 = none.",
            get: { .integer($0.scoring.cacheEntries) }, set: { c, v throws(ValueError) in c.scoring.cacheEntries = try int(v, 0...10_000_000) }),
        Key(name: "scoring.lease_seconds", help: "Lease on a partition a scoring worker holds unless it renews it (every third of this).",
            get: { .integer($0.scoring.lease.wholeSeconds) }, set: { c, v throws(ValueError) in c.scoring.lease = try wholeSeconds(v, 3...86_400) }),
        Key(name: "scoring.checkpoint_posts", help: "Posts per checkpoint: a worker that dies loses at most this many scored posts.",
            get: { .integer($0.scoring.checkpointPosts) }, set: { c, v throws(ValueError) in c.scoring.checkpointPosts = try int(v, 1...10_000_000) }),
        Key(name: "scoring.spot_notice_endpoint", help: "Instance metadata service polled for a spot interruption notice (http://169.254.169.254 on EC2); empty = not polled.",
            get: { .string($0.scoring.spotNoticeEndpoint) }, set: { c, v throws(ValueError) in c.scoring.spotNoticeEndpoint = try url(v) }),
        Key(name: "scoring.spot_poll_seconds", help: "Seconds between spot notice polls.",
            get: { .float($0.scoring.spotPollInterval.seconds) }, set: { c, v throws(ValueError) in c.scoring.spotPollInterval = try seconds(v, 0.05...120) }),
        Key(name: "llm.endpoint", help: "OpenAI-compatible base URL of an LLM scorer, e.g. http://10.0.0.12:8000/v1; empty = no LLM.",
            get: { .string($0.llm.endpoint) }, set: { c, v throws(ValueError) in c.llm.endpoint = try url(v) }),
        Key(name: "llm.model", help: "Model name the server serves.",
            get: { .string($0.llm.model) }, set: { c, v throws(ValueError) in c.llm.model = try string(v) }),
        Key(name: "llm.api", help: "chat (/chat/completions, one text per request) or completions (/completions, llm.batch_size prompts per request).",
            get: { .string($0.llm.api.rawValue) }, set: { c, v throws(ValueError) in c.llm.api = try choice(v) }),
        Key(name: "llm.prompt", help: "Instruction template; {text} is replaced by the post.",
            get: { .string($0.llm.prompt) },
            set: { c, v throws(ValueError) in
                let s = try string(v)
                guard s.contains("{text}") else { throw ValueError(message: "the template has no {text} placeholder") }
                c.llm.prompt = s
            }),
        Key(name: "llm.concurrency", help: "Requests in flight at once.",
            get: { .integer($0.llm.concurrency) }, set: { c, v throws(ValueError) in c.llm.concurrency = try int(v, 1...1024) }),
        Key(name: "llm.batch_size", help: "Prompts per request with api = completions.",
            get: { .integer($0.llm.batchSize) }, set: { c, v throws(ValueError) in c.llm.batchSize = try int(v, 1...1024) }),
        Key(name: "llm.timeout_seconds", help: "Deadline of one request.",
            get: { .float($0.llm.timeout.seconds) }, set: { c, v throws(ValueError) in c.llm.timeout = try seconds(v, 0.01...3600) }),
        Key(name: "llm.retries", help: "Retries of a request after a timeout, a connection error, 429 or 5xx.",
            get: { .integer($0.llm.retries) }, set: { c, v throws(ValueError) in c.llm.retries = try int(v, 0...20) }),
        Key(name: "llm.max_tokens", help: "Answer length limit in tokens.",
            get: { .integer($0.llm.maxTokens) }, set: { c, v throws(ValueError) in c.llm.maxTokens = try int(v, 1...256) }),
        Key(name: "llm.logprobs", help: "Ask for top log-probabilities and use them as probabilities (one-hot on the label otherwise).",
            get: { .bool($0.llm.logprobs) }, set: { c, v throws(ValueError) in c.llm.logprobs = try bool(v) }),
        Key(name: "llm.api_key_env", help: "Environment variable holding the server's API key; empty = none sent.",
            get: { .string($0.llm.apiKeyEnv) }, set: { c, v throws(ValueError) in c.llm.apiKeyEnv = try string(v) }),
        Key(name: "gpu.launch_template", help: "EC2 launch template (name, or id lt-...) of the GPU scoring instances.",
            get: { .string($0.gpu.launchTemplate) }, set: { c, v throws(ValueError) in c.gpu.launchTemplate = try string(v) }),
        Key(name: "gpu.instance_type", help: "Instance type; empty = the launch template's.",
            get: { .string($0.gpu.instanceType) }, set: { c, v throws(ValueError) in c.gpu.instanceType = try string(v) }),
        Key(name: "gpu.count", help: "Spot instances per launch.",
            get: { .integer($0.gpu.count) }, set: { c, v throws(ValueError) in c.gpu.count = try int(v, 1...100) }),
        Key(name: "gpu.max_price", help: "Highest spot price per instance-hour in USD, e.g. \"0.60\"; empty = up to the on-demand price.",
            get: { .string($0.gpu.maxPrice) },
            set: { c, v throws(ValueError) in
                let s = try string(v)
                guard s.isEmpty || (Double(s).map { $0 > 0 } ?? false) else { throw ValueError(message: "\(s.debugDescription) is not a positive price") }
                c.gpu.maxPrice = s
            }),
        Key(name: "gpu.estimate_hours", help: "Hours the launch cost estimate assumes.",
            get: { .float($0.gpu.estimateHours) }, set: { c, v throws(ValueError) in c.gpu.estimateHours = try double(v, 0.01...10_000) }),
        Key(name: "gpu.role", help: "Value of the conviction:role tag that marks the instances (status and terminate act on it).",
            get: { .string($0.gpu.role) }, set: { c, v throws(ValueError) in c.gpu.role = try string(v) }),
    ]
}
