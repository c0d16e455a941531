import ConvictionAWS
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
    public var dataSource = DataSource.stored
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
    public var simulationDelivery = SimulationDelivery.stream
    public var scoring = ScoringSettings()
    public var llm = LLMSentimentScorer.Settings()
    public var gpu = GPUSettings()
    public var features = FeatureBuilder.Configuration()
    public var pointInTime = PointInTime.created
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
    public var monitoring = MonitoringSettings()
    public var sagemaker = SageMakerSettings()

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

    public init() {}

    /// The demo preset `make demo` runs (`examples/demo.toml`): the defaults with the embedded
    /// market simulator as the data source.
    public static let demo: ConvictionConfiguration = {
        var c = ConvictionConfiguration()
        c.dataSource = .simulator
        return c
    }()

    public var simulates: Bool { dataSource == .simulator }

    public enum DataSource: String, Sendable, CaseIterable {
        /// What was ingested, imported or streamed into the store: the production default.
        case stored
        /// The embedded market simulator writes posts, bars and news first: the demo only.
        case simulator
    }

    /// How the simulator's posts reach the raw store.
    public enum SimulationDelivery: String, Sendable, CaseIterable {
        /// Published by the local X API server and streamed in through the real X client.
        case stream
        /// Replayed directly.
        case replay
    }

    public struct Error: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let description: String
        public init(description: String) { self.description = description }
    }
}
