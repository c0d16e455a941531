import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import ConvictionStore
import Foundation

/// Everything a run needs, resolved once by the CLI in this order: defaults, then the
/// configuration file, then `CONVICTION_*` environment variables, then flags.
public struct ConvictionConfiguration: Sendable {
    /// Store root: a local folder or `s3://bucket/prefix`.
    public var dataDir = "data"
    /// Where every stage's inputs (posts, bars, news) come from: `stored` (what was ingested, imported
    /// or streamed into the store; the production default) or `simulator` (the embedded market
    /// simulator writes them first: the demo's configuration only).
    public var dataSource = "stored"
    public var symbols = Symbol.universe
    /// Former or alternative tickers and the symbol their posts count as. META was FB until 2022;
    /// GOOG -> GOOGL is a configuration choice (different share classes).
    public var aliases: [Symbol: Symbol] = [Symbol("FB"): Symbol("META")]
    /// Financial keywords: posts about ambiguous cashtags ($V, $MA) need one, in the stream rules
    /// and in the client-side filter.
    public var keywords = IngestFilters.defaultKeywords
    public var ingest = IngestSettings()
    public var simulation = MarketSimulator.Configuration()
    /// How the simulator's posts reach the raw store: `stream` (published by the local X API server,
    /// streamed in through the real X client) or `replay` (replayed directly).
    public var simulationDelivery = "stream"
    public var scoring = ScoringSettings()
    public var llm = LLMSettings()
    public var gpu = GPUSettings()
    public var features = FeatureBuilder.Configuration()
    /// `created` (post `created_at`) or `received` (stricter: when Conviction received it).
    public var pointInTime = "created"
    /// Below this share of symbol-days with posts, posts count as unavailable and the run measures
    /// news sentiment instead of failing.
    public var minPostCoverage = 0.5
    public var training = UpliftExperiment.Configuration()
    /// Path to libxgboost.so; empty = look in .venv, then the system.
    public var xgboostLibrary = ""
    /// Local catalog file; empty = `<data.dir>/catalog.sqlite`, or for S3 a cache under `.conviction-cache/`.
    public var catalogPath = ""
    public var aws = AWSSettings()
    public var secrets = SecretsSettings()

    public struct AWSSettings: Sendable {
        /// Empty = the standard chain (AWS_REGION, AWS_DEFAULT_REGION, the config file, us-east-1).
        public var region = ""
        /// Endpoint override, e.g. `http://127.0.0.1:5000` for moto_server; empty = AWS.
        public var endpoint = ""
        /// Shared-file profile; empty = AWS_PROFILE or `default`.
        public var profile = ""
        /// Create the S3 bucket when it does not exist.
        public var createBucket = false
        /// Instance metadata service for instance-role credentials, e.g. `http://169.254.169.254`;
        /// empty = AWS_EC2_METADATA_SERVICE_ENDPOINT, else not asked.
        public var imdsEndpoint = ""
    }

    public struct ScoringSettings: Sendable {
        /// `transformer` (an ONNX model, with the lexicon as fallback) or `lexicon`.
        public var scorer = "transformer"
        /// Model folder (model.onnx, vocab.txt, config.json); empty = the embedded default that
        /// `make setup` assembles, `.models/finance-tweet-minilm` (fp32: its scores do not depend on
        /// batch-mates; the int8 build beside it does, so it scores one text per run and is slower).
        public var model = ""
        public var batchSize = 32
        /// Intra-op threads; 0 = one per core.
        public var threads = 0
        public var optimization = "all"
        public var spinning = false
        /// Path to libonnxruntime.so; empty = CONVICTION_ONNXRUNTIME_LIB, then .venv.
        public var onnxruntimeLibrary = ""
        /// Distinct texts remembered within a run (reposts and templates are scored once); 0 = none.
        public var cacheEntries = 200_000
        /// How long a worker's lease on a partition lasts unless renewed (renewed every third of it).
        public var leaseSeconds = 120
        /// Posts per checkpoint: a worker that dies loses at most this many scored posts.
        public var checkpointPosts = 1000
        /// Instance metadata service polled for a spot interruption notice, e.g.
        /// `http://169.254.169.254`; empty = not polled.
        public var spotNoticeEndpoint = ""
        public var spotPollSeconds = 5.0
    }

    /// An LLM behind an OpenAI-compatible server scores first when `endpoint` is set; what it cannot
    /// score goes to the CPU scorer.
    public struct LLMSettings: Sendable {
        public var endpoint = ""
        public var model = ""
        public var api = "chat"
        public var prompt = LLMSentimentScorer.Settings.finGPTPrompt
        public var concurrency = 8
        public var batchSize = 16
        public var timeoutSeconds = 30.0
        public var retries = 3
        public var maxTokens = 4
        public var logprobs = true
        /// Environment variable holding the server's API key (never put the key in the file).
        public var apiKeyEnv = ""
    }

    /// Spot instances for the GPU path (`conviction gpu`).
    public struct GPUSettings: Sendable {
        public var launchTemplate = "conviction-gpu-scorer"
        /// Overrides the template's instance type; empty = the template's.
        public var instanceType = ""
        public var count = 1
        /// Highest spot price per instance-hour in USD; empty = up to the on-demand price.
        public var maxPrice = ""
        /// Hours the cost estimate assumes.
        public var estimateHours = 2.0
        /// Value of the `conviction:role` tag that marks the instances.
        public var role = "gpu-scorer"
    }

    public struct IngestSettings: Sendable {
        public var apiBase = "https://api.x.com"
        /// Filters; their keywords come from `universe.keywords`.
        public var filters = IngestFilters()
        public var idleTimeoutSeconds = 21.0
        public var commitIntervalSeconds = 60
        public var fsyncIntervalMillis = 1000
        public var queueCapacity = 100_000
        /// Port for `/metrics` while streaming; 0 = not served.
        public var metricsPort = 0
        /// Journal and de-duplication state; empty = `<data.dir>/ingest-state` (for s3:// a folder
        /// under `.conviction-cache/`).
        public var stateDir = ""
        public var maxAuthFailures = 5
        /// Posts per second the local X API server publishes in the demo.
        public var emulatorRate = 20_000.0
    }

    /// The ingest filters with the configured keywords.
    public var ingestFilters: IngestFilters {
        var f = ingest.filters
        f.keywords = Set(keywords.map { $0.lowercased() })
        f.aliases = aliases
        return f
    }

    public var streamRuleSet: StreamRuleSet {
        StreamRuleSet(symbols: symbols, filters: ingestFilters, ruleKeywords: keywords)
    }

    /// The journal folder of the stream ingester.
    public var ingestStateDirectory: URL {
        if !ingest.stateDir.isEmpty { return URL(fileURLWithPath: ingest.stateDir) }
        if usesS3 { return URL(fileURLWithPath: ".conviction-cache/ingest-\(ContentHasher.hash(Data(dataDir.utf8)).prefix(16))") }
        return URL(fileURLWithPath: dataDir).appendingPathComponent("ingest-state")
    }

    public struct SecretsSettings: Sendable {
        /// `environment`, or `secretsmanager` (with the environment as fallback).
        public var source = "environment"
        /// `json`: one secret holding all five keys; `per_key`: one secret per key under `prefix`.
        public var layout = "json"
        public var secretID = "conviction/x-api"
        public var prefix = "conviction"
        public var cacheTTLSeconds = 300
    }

    public init() {}

    /// The demo preset `make demo` runs (`examples/demo.toml`): the defaults with the embedded
    /// market simulator as the data source.
    public static let demo: ConvictionConfiguration = {
        var c = ConvictionConfiguration()
        c.dataSource = "simulator"
        return c
    }()

    public var simulates: Bool { dataSource == "simulator" }

    /// Keys that were replaced: a file that still uses one gets told what to write instead.
    static let retiredKeys = [
        "ingest.source": "ingest.source was replaced by data.source (\"stored\", or \"simulator\" for the demo) and simulation.delivery (\"stream\" or \"replay\")",
    ]

    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    // MARK: - Keys

    struct Key: Sendable {
        let name: String
        let help: String
        let get: @Sendable (ConvictionConfiguration) -> TOMLDocument.Value
        let set: @Sendable (inout ConvictionConfiguration, TOMLDocument.Value) throws(ValueError) -> Void
    }

    struct ValueError: Swift.Error { let message: String }

    static func string(_ v: TOMLDocument.Value) throws(ValueError) -> String {
        guard case .string(let s) = v else { throw ValueError(message: "expected a string in double quotes") }
        return s
    }
    static func int(_ v: TOMLDocument.Value, _ range: ClosedRange<Int>) throws(ValueError) -> Int {
        guard case .integer(let i) = v else { throw ValueError(message: "expected an integer") }
        guard range.contains(i) else { throw ValueError(message: "\(i) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return i
    }
    static func double(_ v: TOMLDocument.Value, _ range: ClosedRange<Double>) throws(ValueError) -> Double {
        let d: Double
        switch v {
        case .float(let f): d = f
        case .integer(let i): d = Double(i)
        default: throw ValueError(message: "expected a number")
        }
        guard range.contains(d) else { throw ValueError(message: "\(d) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return d
    }
    static func bool(_ v: TOMLDocument.Value) throws(ValueError) -> Bool {
        guard case .bool(let b) = v else { throw ValueError(message: "expected true or false") }
        return b
    }
    static func strings(_ v: TOMLDocument.Value) throws(ValueError) -> [String] {
        guard case .array(let items) = v else { throw ValueError(message: "expected an array of strings") }
        var out: [String] = []
        for item in items { out.append(try string(item)) }
        return out
    }
    /// `[low, high]` inside `limits`, low below high.
    static func range(_ v: TOMLDocument.Value, _ limits: ClosedRange<Double>) throws(ValueError) -> (Double, Double) {
        guard case .array(let items) = v, items.count == 2 else { throw ValueError(message: "expected [low, high]") }
        let low = try double(items[0], limits), high = try double(items[1], limits)
        guard low < high else { throw ValueError(message: "low \(low) is not below high \(high)") }
        return (low, high)
    }

    /// One `training.search_<parameter> = [low, high]` key per parameter of the search space.
    static let searchSpaceKeys: [Key] = SearchSpace.xgboost.parameters.map { template in
        let limits: ClosedRange<Double> = template.integer ? 1...64 : (template.log ? 1e-6...1e6 : 0.01...1)
        return Key(name: "training.search_\(template.name)",
                   help: "Search range of \(template.name)\(template.log ? " (sampled on a log scale)" : "")\(template.integer ? " (integer)" : "").",
                   get: { c in
                       let p = c.training.search.space.parameters.first { $0.name == template.name } ?? template
                       return .array(template.integer ? [.integer(Int(p.low)), .integer(Int(p.high))] : [.float(p.low), .float(p.high)])
                   },
                   set: { c, v throws(ValueError) in
                       let (low, high) = try range(v, limits)
                       let updated = SearchSpace.Parameter(name: template.name, low: low, high: high, log: template.log, integer: template.integer)
                       c.training.search.space.parameters = c.training.search.space.parameters.map { $0.name == template.name ? updated : $0 }
                   })
    }

    /// An http(s) URL, or empty.
    static func url(_ v: TOMLDocument.Value) throws(ValueError) -> String {
        let s = try string(v)
        guard s.isEmpty || s.hasPrefix("http://") || s.hasPrefix("https://") else { throw ValueError(message: "\(s.debugDescription) is not an http(s) URL") }
        return s
    }

    /// A YYYY-MM-DD date, or empty for none.
    static func date(_ v: TOMLDocument.Value) throws(ValueError) -> CivilDate? {
        let s = try string(v)
        if s.isEmpty { return nil }
        guard let d = CivilDate(iso: s) else { throw ValueError(message: "\(s.debugDescription) is not a YYYY-MM-DD date") }
        return d
    }

    static func oneOf(_ v: TOMLDocument.Value, _ allowed: [String]) throws(ValueError) -> String {
        let s = try string(v)
        guard allowed.contains(s) else { throw ValueError(message: "\(s.debugDescription) is not one of \(allowed.joined(separator: ", "))") }
        return s
    }

    static let keys: [Key] = [
        Key(name: "data.dir", help: "Store root folder (relative to the working directory).",
            get: { .string($0.dataDir) }, set: { c, v throws(ValueError) in c.dataDir = try string(v) }),
        Key(name: "data.source", help: "Where posts, bars and news come from: stored (what was ingested, imported or streamed into the store) or simulator (the embedded market simulator writes them first; the demo only). A store never mixes the two.",
            get: { .string($0.dataSource) }, set: { c, v throws(ValueError) in c.dataSource = try oneOf(v, ["stored", "simulator"]) }),
        Key(name: "data.catalog", help: "Local catalog file; empty = <data.dir>/catalog.sqlite (for s3:// a cache in .conviction-cache/).",
            get: { .string($0.catalogPath) }, set: { c, v throws(ValueError) in c.catalogPath = try string(v) }),
        Key(name: "universe.symbols", help: "Symbols to ingest, score and model.",
            get: { .array($0.symbols.map { .string($0.rawValue) }) },
            set: { c, v throws(ValueError) in
                let list = try strings(v)
                guard !list.isEmpty else { throw ValueError(message: "needs at least one symbol") }
                for s in list where s.isEmpty || !s.allSatisfy({ $0.isLetter }) { throw ValueError(message: "\(s.debugDescription) is not a ticker") }
                c.symbols = list.map(Symbol.init)
            }),
        Key(name: "universe.keywords", help: "Financial keywords (whole words): posts about ingest.keyword_symbols need one, in the stream rules and the client filter.",
            get: { .array($0.keywords.map { .string($0) }) },
            set: { c, v throws(ValueError) in
                let list = try strings(v)
                for k in list where k.isEmpty || !k.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                    throw ValueError(message: "\(k.debugDescription) is not a single ASCII word")
                }
                c.keywords = list.map { $0.lowercased() }
            }),
        Key(name: "universe.aliases", help: "Former or alternative tickers as \"OLD=SYMBOL\": their posts are stored under SYMBOL (META was FB until 2022; GOOG=GOOGL is a choice, they are different share classes).",
            get: { .array($0.aliases.map { "\($0.key)=\($0.value)" }.sorted().map { .string($0) }) },
            set: { c, v throws(ValueError) in
                var aliases: [Symbol: Symbol] = [:]
                for entry in try strings(v) {
                    let parts = entry.split(separator: "=", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isLetter) }) else {
                        throw ValueError(message: "\(entry.debugDescription) is not OLD=SYMBOL, e.g. \"FB=META\"")
                    }
                    aliases[Symbol(parts[0])] = Symbol(parts[1])
                }
                c.aliases = aliases
            }),
        Key(name: "ingest.api_base", help: "X API base URL (a local X API server in tests).",
            get: { .string($0.ingest.apiBase) },
            set: { c, v throws(ValueError) in
                let s = try string(v)
                guard s.hasPrefix("http://") || s.hasPrefix("https://") else { throw ValueError(message: "\(s.debugDescription) is not an http(s) URL") }
                c.ingest.apiBase = s
            }),
        Key(name: "ingest.languages", help: "Accepted post languages (lang); empty = all.",
            get: { .array($0.ingest.filters.languages.sorted().map { .string($0) }) },
            set: { c, v throws(ValueError) in c.ingest.filters.languages = Set(try strings(v)) }),
        Key(name: "ingest.drop_retweets", help: "Drop retweets (the rules say -is:retweet).",
            get: { .bool($0.ingest.filters.dropRetweets) }, set: { c, v throws(ValueError) in c.ingest.filters.dropRetweets = try bool(v) }),
        Key(name: "ingest.max_cashtags", help: "Posts with more distinct cashtags are cashtag spam; 0 = no limit.",
            get: { .integer($0.ingest.filters.maxCashtags) }, set: { c, v throws(ValueError) in c.ingest.filters.maxCashtags = try int(v, 0...100) }),
        Key(name: "ingest.keyword_symbols", help: "Symbols whose posts need a financial keyword (ambiguous cashtags); [\"*\"] = all.",
            get: { .array($0.ingest.filters.keywordSymbols.map { .string($0.rawValue) }.sorted { "\($0)" < "\($1)" }) },
            set: { c, v throws(ValueError) in c.ingest.filters.keywordSymbols = Set(try strings(v).map(Symbol.init)) }),
        Key(name: "ingest.bot_patterns", help: "Phrases (case-insensitive) that mark bot spam.",
            get: { .array($0.ingest.filters.botPatterns.map { .string($0) }) },
            set: { c, v throws(ValueError) in c.ingest.filters.botPatterns = try strings(v).filter { !$0.isEmpty } }),
        Key(name: "ingest.duplicate_window_seconds", help: "The same text from the same author within this window is a duplicate.",
            get: { .integer($0.ingest.filters.duplicateTextWindowSeconds) },
            set: { c, v throws(ValueError) in c.ingest.filters.duplicateTextWindowSeconds = try int(v, 0...7 * 86_400) }),
        Key(name: "ingest.idle_timeout_seconds", help: "No bytes, not even a keep-alive, for this long: the stream is dead, reconnect.",
            get: { .float($0.ingest.idleTimeoutSeconds) }, set: { c, v throws(ValueError) in c.ingest.idleTimeoutSeconds = try double(v, 0.05...600) }),
        Key(name: "ingest.commit_interval_seconds", help: "Journal segments are committed to the store at least this often.",
            get: { .integer($0.ingest.commitIntervalSeconds) }, set: { c, v throws(ValueError) in c.ingest.commitIntervalSeconds = try int(v, 1...86_400) }),
        Key(name: "ingest.fsync_interval_ms", help: "The journal is fsynced at least this often (a power cut loses at most this much).",
            get: { .integer($0.ingest.fsyncIntervalMillis) }, set: { c, v throws(ValueError) in c.ingest.fsyncIntervalMillis = try int(v, 0...600_000) }),
        Key(name: "ingest.queue_capacity", help: "Lines the reader may queue ahead of processing (overflow is recovered by backfill).",
            get: { .integer($0.ingest.queueCapacity) }, set: { c, v throws(ValueError) in c.ingest.queueCapacity = try int(v, 100...10_000_000) }),
        Key(name: "ingest.metrics_port", help: "Serve Prometheus /metrics on this loopback port while streaming; 0 = off.",
            get: { .integer($0.ingest.metricsPort) }, set: { c, v throws(ValueError) in c.ingest.metricsPort = try int(v, 0...65_535) }),
        Key(name: "ingest.state_dir", help: "Journal and de-duplication state; empty = <data.dir>/ingest-state.",
            get: { .string($0.ingest.stateDir) }, set: { c, v throws(ValueError) in c.ingest.stateDir = try string(v) }),
        Key(name: "ingest.max_auth_failures", help: "Consecutive 401/403 answers before the stream gives up.",
            get: { .integer($0.ingest.maxAuthFailures) }, set: { c, v throws(ValueError) in c.ingest.maxAuthFailures = try int(v, 1...1000) }),
        Key(name: "ingest.emulator_rate", help: "Posts per second the local X API server publishes in the demo.",
            get: { .float($0.ingest.emulatorRate) }, set: { c, v throws(ValueError) in c.ingest.emulatorRate = try double(v, 1...1_000_000) }),
        Key(name: "simulation.delivery", help: "How the simulator's posts reach the raw store: stream (published by the local X API server and streamed through the real X client) or replay (replayed directly).",
            get: { .string($0.simulationDelivery) }, set: { c, v throws(ValueError) in c.simulationDelivery = try oneOf(v, ["stream", "replay"]) }),
        Key(name: "simulation.seed", help: "Seed: the same seed and settings give byte-identical data.",
            get: { .integer(Int($0.simulation.seed)) }, set: { c, v throws(ValueError) in c.simulation.seed = UInt64(try int(v, 0...Int.max)) }),
        Key(name: "simulation.start", help: "First calendar day (YYYY-MM-DD); the first session is on or after it.",
            get: { .string($0.simulation.start.isoString) },
            set: { c, v throws(ValueError) in
                let s = try string(v)
                guard let d = CivilDate(iso: s) else { throw ValueError(message: "\(s.debugDescription) is not a YYYY-MM-DD date") }
                c.simulation.start = d
            }),
        Key(name: "simulation.sessions", help: "Trading sessions to simulate.",
            get: { .integer($0.simulation.sessions) }, set: { c, v throws(ValueError) in c.simulation.sessions = try int(v, 1...2000) }),
        Key(name: "simulation.signal", help: "How strongly post sentiment leads returns: 0 = not at all, 1 = default.",
            get: { .float($0.simulation.signal) }, set: { c, v throws(ValueError) in c.simulation.signal = try double(v, 0...20) }),
        Key(name: "simulation.post_rate", help: "Multiplier on simulated post volume.",
            get: { .float($0.simulation.postRate) }, set: { c, v throws(ValueError) in c.simulation.postRate = try double(v, 0.01...50) }),
        Key(name: "scoring.scorer", help: "Sentiment scorer: transformer (ONNX model; the lexicon takes over if it is missing or fails) or lexicon.",
            get: { .string($0.scoring.scorer) }, set: { c, v throws(ValueError) in c.scoring.scorer = try oneOf(v, ["transformer", "lexicon"]) }),
        Key(name: "scoring.model", help: "Model folder (model.onnx, vocab.txt, config.json with id2label); empty = .models/finance-tweet-minilm.",
            get: { .string($0.scoring.model) }, set: { c, v throws(ValueError) in c.scoring.model = try string(v) }),
        Key(name: "scoring.batch_size", help: "Texts per ONNX Runtime call.",
            get: { .integer($0.scoring.batchSize) }, set: { c, v throws(ValueError) in c.scoring.batchSize = try int(v, 1...4096) }),
        Key(name: "scoring.threads", help: "ONNX Runtime intra-op threads; 0 = one per core.",
            get: { .integer($0.scoring.threads) }, set: { c, v throws(ValueError) in c.scoring.threads = try int(v, 0...256) }),
        Key(name: "scoring.optimization", help: "ONNX Runtime graph optimisation: disabled, basic, extended, all.",
            get: { .string($0.scoring.optimization) },
            set: { c, v throws(ValueError) in c.scoring.optimization = try oneOf(v, ["disabled", "basic", "extended", "all"]) }),
        Key(name: "scoring.spinning", help: "Let ONNX Runtime threads busy-wait between operators (faster on an idle machine).",
            get: { .bool($0.scoring.spinning) }, set: { c, v throws(ValueError) in c.scoring.spinning = try bool(v) }),
        Key(name: "scoring.onnxruntime_library", help: "Path to libonnxruntime.so; empty = CONVICTION_ONNXRUNTIME_LIB, then .venv.",
            get: { .string($0.scoring.onnxruntimeLibrary) }, set: { c, v throws(ValueError) in c.scoring.onnxruntimeLibrary = try string(v) }),
        Key(name: "scoring.cache_entries", help: "Distinct texts remembered within a run, so reposts are scored once; 0 = none.",
            get: { .integer($0.scoring.cacheEntries) }, set: { c, v throws(ValueError) in c.scoring.cacheEntries = try int(v, 0...10_000_000) }),
        Key(name: "features.frequency", help: "1m: rows every features.bar_minutes from 1-minute bars (market/bars_1m/); 1d: one row per session at its close from daily bars (market/bars_1d/), labelled with the next session's direction.",
            get: { .string($0.features.frequency) }, set: { c, v throws(ValueError) in c.features.frequency = try oneOf(v, ["1m", "1d"]) }),
        Key(name: "features.bar_minutes", help: "Bar length in minutes; rows are stamped at each bar's close.",
            get: { .integer($0.features.barMinutes) },
            set: { c, v throws(ValueError) in
                let m = try int(v, 1...390)
                guard 390 % m == 0 || m % 5 == 0 else { throw ValueError(message: "\(m) does not divide the session evenly") }
                c.features.barMinutes = m
            }),
        Key(name: "features.label_horizon_bars", help: "Label: direction of the return over this many bars after the decision.",
            get: { .integer($0.features.labelHorizonBars) }, set: { c, v throws(ValueError) in c.features.labelHorizonBars = try int(v, 1...78) }),
        Key(name: "features.min_post_coverage", help: "Below this share of symbol-days with scored posts, posts count as unavailable: the run measures news sentiment instead.",
            get: { .float($0.minPostCoverage) }, set: { c, v throws(ValueError) in c.minPostCoverage = try double(v, 0...1) }),
        Key(name: "features.point_in_time", help: "A post counts from its created_at (created) or from when it was received (received).",
            get: { .string($0.pointInTime) }, set: { c, v throws(ValueError) in c.pointInTime = try oneOf(v, ["created", "received"]) }),
        Key(name: "features.quality_checks", help: "enforce: a failed data-quality check stops the run before training; warn: report and go on.",
            get: { .string($0.features.enforceQualityChecks ? "enforce" : "warn") },
            set: { c, v throws(ValueError) in c.features.enforceQualityChecks = try oneOf(v, ["enforce", "warn"]) == "enforce" }),
        Key(name: "scoring.lease_seconds", help: "Lease on a partition a scoring worker holds unless it renews it (every third of this).",
            get: { .integer($0.scoring.leaseSeconds) }, set: { c, v throws(ValueError) in c.scoring.leaseSeconds = try int(v, 3...86_400) }),
        Key(name: "scoring.checkpoint_posts", help: "Posts per checkpoint: a worker that dies loses at most this many scored posts.",
            get: { .integer($0.scoring.checkpointPosts) }, set: { c, v throws(ValueError) in c.scoring.checkpointPosts = try int(v, 1...10_000_000) }),
        Key(name: "scoring.spot_notice_endpoint", help: "Instance metadata service polled for a spot interruption notice (http://169.254.169.254 on EC2); empty = not polled.",
            get: { .string($0.scoring.spotNoticeEndpoint) }, set: { c, v throws(ValueError) in c.scoring.spotNoticeEndpoint = try url(v) }),
        Key(name: "scoring.spot_poll_seconds", help: "Seconds between spot notice polls.",
            get: { .float($0.scoring.spotPollSeconds) }, set: { c, v throws(ValueError) in c.scoring.spotPollSeconds = try double(v, 0.05...120) }),
        Key(name: "llm.endpoint", help: "OpenAI-compatible base URL of an LLM scorer, e.g. http://10.0.0.12:8000/v1; empty = no LLM.",
            get: { .string($0.llm.endpoint) }, set: { c, v throws(ValueError) in c.llm.endpoint = try url(v) }),
        Key(name: "llm.model", help: "Model name the server serves.",
            get: { .string($0.llm.model) }, set: { c, v throws(ValueError) in c.llm.model = try string(v) }),
        Key(name: "llm.api", help: "chat (/chat/completions, one text per request) or completions (/completions, llm.batch_size prompts per request).",
            get: { .string($0.llm.api) }, set: { c, v throws(ValueError) in c.llm.api = try oneOf(v, ["chat", "completions"]) }),
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
            get: { .float($0.llm.timeoutSeconds) }, set: { c, v throws(ValueError) in c.llm.timeoutSeconds = try double(v, 0.01...3600) }),
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
        Key(name: "aws.region", help: "AWS region; empty = AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config, else us-east-1.",
            get: { .string($0.aws.region) }, set: { c, v throws(ValueError) in c.aws.region = try string(v) }),
        Key(name: "aws.endpoint", help: "Endpoint override (S3-compatible service, moto_server); empty = AWS_ENDPOINT_URL or AWS.",
            get: { .string($0.aws.endpoint) },
            set: { c, v throws(ValueError) in
                let s = try string(v)
                guard s.isEmpty || s.hasPrefix("http://") || s.hasPrefix("https://") else { throw ValueError(message: "\(s.debugDescription) is not an http(s) URL") }
                c.aws.endpoint = s
            }),
        Key(name: "aws.profile", help: "Profile in ~/.aws/credentials; empty = AWS_PROFILE or default.",
            get: { .string($0.aws.profile) }, set: { c, v throws(ValueError) in c.aws.profile = try string(v) }),
        Key(name: "aws.create_bucket", help: "Create the data.dir bucket when it does not exist.",
            get: { .bool($0.aws.createBucket) }, set: { c, v throws(ValueError) in c.aws.createBucket = try bool(v) }),
        Key(name: "aws.imds_endpoint", help: "Instance metadata endpoint for instance-role credentials (IMDSv2), e.g. http://169.254.169.254; empty = not asked.",
            get: { .string($0.aws.imdsEndpoint) }, set: { c, v throws(ValueError) in c.aws.imdsEndpoint = try string(v) }),
        Key(name: "secrets.source", help: "Where X credentials come from: environment, or secretsmanager (environment as fallback).",
            get: { .string($0.secrets.source) }, set: { c, v throws(ValueError) in c.secrets.source = try oneOf(v, ["environment", "secretsmanager"]) }),
        Key(name: "secrets.layout", help: "json: one secret with all five keys (secret_id); per_key: one secret per key named <prefix>/<KEY>.",
            get: { .string($0.secrets.layout) }, set: { c, v throws(ValueError) in c.secrets.layout = try oneOf(v, ["json", "per_key"]) }),
        Key(name: "secrets.secret_id", help: "The JSON secret's name or ARN.",
            get: { .string($0.secrets.secretID) }, set: { c, v throws(ValueError) in c.secrets.secretID = try string(v) }),
        Key(name: "secrets.prefix", help: "Name prefix of per-key secrets.",
            get: { .string($0.secrets.prefix) }, set: { c, v throws(ValueError) in c.secrets.prefix = try string(v) }),
        Key(name: "secrets.cache_ttl_seconds", help: "How long resolved credentials are cached in memory.",
            get: { .integer($0.secrets.cacheTTLSeconds) }, set: { c, v throws(ValueError) in c.secrets.cacheTTLSeconds = try int(v, 0...86_400) }),
        Key(name: "training.dead_zone", help: "[low, high] next-period simple returns: up at high or more, down at low or less, rows in between dropped (StockNet: [-0.005, 0.0055]); [] = up when positive.",
            get: { .array(($0.training.deadZone ?? []).map { .float($0) }) },
            set: { c, v throws(ValueError) in
                if case .array(let items) = v, items.isEmpty { c.training.deadZone = nil; return }
                let (low, high) = try range(v, -1...1)
                guard low <= 0, high >= 0 else { throw ValueError(message: "the dead zone [\(low), \(high)] must contain 0") }
                c.training.deadZone = [low, high]
            }),
        Key(name: "training.validation_start", help: "Fixed-date evaluation: first day (YYYY-MM-DD) of the validation period that tunes and early-stops; empty = the latest training.validation_share of the training days.",
            get: { .string($0.training.validationStart?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.validationStart = try date(v) }),
        Key(name: "training.train_start", help: "Fixed-date evaluation: first training day (YYYY-MM-DD), e.g. when the posts begin; empty = all days before the test.",
            get: { .string($0.training.trainStart?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.trainStart = try date(v) }),
        Key(name: "training.test_start", help: "Fixed-date evaluation: first test day (YYYY-MM-DD); the model sees nothing from it on and is scored once on the test period. Empty = walk-forward.",
            get: { .string($0.training.testStart?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.testStart = try date(v) }),
        Key(name: "training.test_end", help: "Fixed-date evaluation: last test day (YYYY-MM-DD); empty = the last day with data.",
            get: { .string($0.training.testEnd?.isoString ?? "") }, set: { c, v throws(ValueError) in c.training.testEnd = try date(v) }),
        Key(name: "training.folds", help: "Walk-forward folds.",
            get: { .integer($0.training.folds) }, set: { c, v throws(ValueError) in c.training.folds = try int(v, 1...50) }),
        Key(name: "training.embargo_minutes", help: "Embargo after each test span, in minutes.",
            get: { .integer(Int($0.training.embargo / Timestamps.minute)) },
            set: { c, v throws(ValueError) in c.training.embargo = Int64(try int(v, 0...100_000)) * Timestamps.minute }),
        Key(name: "training.rounds", help: "Boosting rounds.",
            get: { .integer($0.training.rounds) }, set: { c, v throws(ValueError) in c.training.rounds = try int(v, 1...10_000) }),
        Key(name: "training.max_depth", help: "Tree depth.",
            get: { .integer($0.training.maxDepth) }, set: { c, v throws(ValueError) in c.training.maxDepth = try int(v, 1...16) }),
        Key(name: "training.learning_rate", help: "Shrinkage (eta).",
            get: { .float($0.training.learningRate) }, set: { c, v throws(ValueError) in c.training.learningRate = try double(v, 0.0001...1) }),
        Key(name: "training.subsample", help: "Row subsample per tree.",
            get: { .float($0.training.subsample) }, set: { c, v throws(ValueError) in c.training.subsample = try double(v, 0.05...1) }),
        Key(name: "training.colsample_bytree", help: "Column subsample per tree.",
            get: { .float($0.training.columnSample) }, set: { c, v throws(ValueError) in c.training.columnSample = try double(v, 0.05...1) }),
        Key(name: "training.min_child_weight", help: "Minimum hessian weight in a leaf.",
            get: { .float($0.training.minChildWeight) }, set: { c, v throws(ValueError) in c.training.minChildWeight = try double(v, 0...100_000) }),
        Key(name: "training.seed", help: "Model seed.",
            get: { .integer($0.training.seed) }, set: { c, v throws(ValueError) in c.training.seed = try int(v, 0...Int(Int32.max)) }),
        Key(name: "training.threads", help: "XGBoost threads.",
            get: { .integer($0.training.threads) }, set: { c, v throws(ValueError) in c.training.threads = try int(v, 1...256) }),
        Key(name: "training.bootstrap_replicates", help: "Day-block bootstrap replicates for the ΔAUC interval.",
            get: { .integer($0.training.bootstrapReplicates) }, set: { c, v throws(ValueError) in c.training.bootstrapReplicates = try int(v, 20...100_000) }),
        Key(name: "training.alpha", help: "Significance level.",
            get: { .float($0.training.alpha) }, set: { c, v throws(ValueError) in c.training.alpha = try double(v, 0.0001...0.5) }),
        Key(name: "training.trials", help: "Hyperparameter search trials per fold and model, tuned inside each training window; 0 = the fixed parameters above.",
            get: { .integer($0.training.search.trials) }, set: { c, v throws(ValueError) in c.training.search.trials = try int(v, 0...1000) }),
        Key(name: "training.sampler", help: "Search sampler: tpe (Tree-structured Parzen Estimator) or random.",
            get: { .string($0.training.search.sampler) }, set: { c, v throws(ValueError) in c.training.search.sampler = try oneOf(v, ["tpe", "random"]) }),
        Key(name: "training.max_rounds", help: "Most boosting rounds a search trial may use (early stopping picks the number).",
            get: { .integer($0.training.search.maxRounds) }, set: { c, v throws(ValueError) in c.training.search.maxRounds = try int(v, 10...10_000) }),
        Key(name: "training.early_stopping_rounds", help: "A trial stops after this many rounds without a better validation AUC.",
            get: { .integer($0.training.search.earlyStoppingRounds) }, set: { c, v throws(ValueError) in c.training.search.earlyStoppingRounds = try int(v, 10...10_000) }),
        Key(name: "training.validation_share", help: "Share of each training window's latest days that scores the search trials.",
            get: { .float($0.training.search.validationShare) }, set: { c, v throws(ValueError) in c.training.search.validationShare = try double(v, 0.05...0.5) }),
    ] + searchSpaceKeys + [
        Key(name: "training.xgboost_library", help: "Path to libxgboost.so; empty = .venv, then the system.",
            get: { .string($0.xgboostLibrary) }, set: { c, v throws(ValueError) in c.xgboostLibrary = try string(v) }),
    ]

    // MARK: - Loading

    /// Applies a configuration file. Unknown keys and bad values are errors naming the key and line.
    public mutating func apply(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Error(description: "\(path): cannot read the configuration file") }
        let document: TOMLDocument
        do { document = try TOMLDocument(parsing: String(decoding: data, as: UTF8.self), file: path) } catch { throw Error(description: error.description) }
        for (name, entry) in document.entries {
            if let retired = Self.retiredKeys[name] { throw Error(description: "\(path):\(entry.line): \(retired)") }
            guard let key = Self.keys.first(where: { $0.name == name }) else {
                let suggestion = Self.keys.map(\.name).min { Self.distance($0, name) < Self.distance($1, name) }.map { " (did you mean \($0)?)" } ?? ""
                throw Error(description: "\(path):\(entry.line): unknown key \(name)\(suggestion)")
            }
            do { try key.set(&self, entry.value) } catch {
                throw Error(description: "\(path):\(entry.line): \(name): \(error.message)")
            }
        }
    }

    /// Applies `CONVICTION_<SECTION>_<KEY>` variables, e.g. `CONVICTION_SIMULATION_SIGNAL=0`.
    public mutating func apply(environment: [String: String]) throws {
        for (name, retired) in Self.retiredKeys where environment[Self.environmentName(name)] != nil {
            throw Error(description: "environment variable \(Self.environmentName(name)): \(retired)")
        }
        for key in Self.keys {
            let variable = Self.environmentName(key.name)
            guard let raw = environment[variable] else { continue }
            try set(key.name, raw: raw, origin: "environment variable \(variable)")
        }
    }

    /// Sets one key from text as a user would type it in the file or on the command line.
    public mutating func set(_ name: String, raw: String, origin: String) throws {
        if let retired = Self.retiredKeys[name] { throw Error(description: "\(origin): \(retired)") }
        guard let key = Self.keys.first(where: { $0.name == name }) else { throw Error(description: "\(origin): unknown key \(name)") }
        // Text from the environment or a flag: a TOML value where it reads as one of the key's
        // type, else a bare word for a string key, or a comma list for an array key.
        var text = Substring(raw)
        var value = (try? TOMLDocument.parseValue(&text)).flatMap { String(text).trimmingWhitespace().isEmpty ? $0 : nil }
        switch (key.get(self), value) {
        case (.string, .string?), (.array, .array?): break
        case (.string, _): value = .string(raw)
        case (.array, _): value = .array(raw.split(separator: ",").map { .string(String($0).trimmingWhitespace()) })
        default: break
        }
        do { try key.set(&self, value ?? .string(raw)) } catch {
            throw Error(description: "\(origin): \(name): \(error.message)")
        }
    }

    static func environmentName(_ key: String) -> String {
        "CONVICTION_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Checks values that depend on each other.
    public func validate() throws {
        if let start = training.testStart {
            if let end = training.testEnd, end < start {
                throw Error(description: "training.test_end: \(end.isoString) is before training.test_start \(start.isoString)")
            }
            if let validation = training.validationStart, validation >= start {
                throw Error(description: "training.validation_start: \(validation.isoString) must be before training.test_start \(start.isoString)")
            }
        } else if training.validationStart != nil || training.testEnd != nil || training.trainStart != nil {
            throw Error(description: "training.train_start, training.validation_start and training.test_end need training.test_start (fixed-date evaluation)")
        }
        if features.frequency == "1d" && simulates {
            throw Error(description: "features.frequency = \"1d\" reads imported daily bars; the simulator makes 1-minute bars (use data.source = \"stored\")")
        }
        if features.frequency == "1m", features.labelHorizonBars * features.barMinutes >= 390 {
            throw Error(description: "features.label_horizon_bars: \(features.labelHorizonBars) bars of \(features.barMinutes) minutes do not fit in a session")
        }
        if simulates, !training.isFixedDate, simulation.sessions < training.folds + 1 {
            throw Error(description: "simulation.sessions: \(simulation.sessions) sessions are too few for \(training.folds) walk-forward folds (need at least \(training.folds + 1))")
        }
    }

    /// A commented configuration file holding these values (`conviction config init`).
    public func renderTOML() -> String {
        var out = "# Conviction configuration. Every key is optional; these are the defaults.\n"
        out += "# Environment variables override the file (CONVICTION_TRAINING_FOLDS=3), and flags override both.\n"
        var section = ""
        for key in Self.keys {
            let parts = key.name.split(separator: ".", maxSplits: 1)
            if String(parts[0]) != section {
                section = String(parts[0])
                out += "\n[\(section)]\n"
            }
            out += "# \(key.help)\n\(parts[1]) = \(Self.render(key.get(self)))\n"
        }
        return out
    }

    /// Resolved values, one `key = value` line each (`conviction config show`).
    public func renderResolved() -> String {
        Self.keys.map { "\($0.name) = \(Self.render($0.get(self)))" }.joined(separator: "\n")
    }

    static func render(_ value: TOMLDocument.Value) -> String {
        switch value {
        case .string(let s):
            return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") + "\""
        case .integer(let i): return String(i)
        case .float(let d): return String(d)
        case .bool(let b): return String(b)
        case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
        }
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]; row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
