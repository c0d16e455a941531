import ConvictionCore
import ConvictionFeatures
import ConvictionStore
import Foundation
import Logging

/// Builds one point-in-time feature matrix per symbol from bars, news and scores:
/// `features/symbol=S/part-0.parquet`, plus `features/feature_metadata.json`.
public struct FeaturesTask: Sendable {
    public static let stage = "features"
    /// Bumped whenever the matrix layout changes; a test fails until `schemaFingerprint` below is
    /// updated with it, so a column change cannot ship under an old version.
    public static let schemaVersion = 2
    public static let schemaFingerprint = "5c81c4cc082cc977"

    /// SHA-256 of the column names and order, labels included.
    public static var currentSchemaFingerprint: String {
        let names = ["timestamp", "symbol"] + (FeatureDefinition.base + FeatureDefinition.sentiment).map(\.name) + ["label", "forward_return", "label_end"]
        return String(ContentHasher.hash(Data(names.joined(separator: ",").utf8)).prefix(16))
    }
    /// Part of each matrix's input hash: bumped when a computation or check changes without the
    /// columns changing, so matrices made by older code are rebuilt.
    static let computationVersion = 2
    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    /// A symbol's unit of work in the catalog.
    public static func unit(_ symbol: Symbol) -> String { "symbol=\(symbol.rawValue)" }

    /// The symbol of a unit written by `unit(_:)`; nil when it is not one.
    public static func symbol(ofUnit unit: String) -> Symbol? {
        guard unit.hasPrefix("symbol="), unit.count > 7 else { return nil }
        return Symbol(String(unit.dropFirst(7)))
    }

    var builder: FeatureBuilder { FeatureBuilder(configuration: context.configuration.features) }

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: Self.stage)
        let config = context.configuration
        let store = context.store
        let daily = builder.daily
        let barDataset: Dataset = daily ? .dailyBars : .bars
        let bars = try await store.partitions(of: barDataset, symbols: context.symbolSet)
        let news = try await store.partitions(of: .news, symbols: context.symbolSet)
        let scores = try await store.partitions(of: .scores, symbols: context.symbolSet)
        func keys(_ partitions: [Partition: [String]], _ symbol: Symbol) -> [String] {
            partitions.filter { $0.key.symbol == symbol }.flatMap(\.value).sorted()
        }
        if context.dryRun {
            outcome.planned = ["build \(config.symbols.count) feature matrices (\(builder.definitions.count) columns, \(daily ? "daily rows at each session's close" : "\(config.features.barMinutes)-minute bars"), sentiment \(config.features.includeSentiment ? "included" : "excluded"))"]
            return outcome
        }
        var meter = ProgressMeter(stage: "features", total: config.symbols.count, logger: context.logger)
        var findings: [QualityChecks.Finding] = []
        for (n, symbol) in config.symbols.enumerated() {
            defer { meter.step(n + 1, rows: outcome.rows) }
            let inputs = keys(bars, symbol) + keys(news, symbol) + (config.features.includeSentiment ? keys(scores, symbol) : [])
            guard !keys(bars, symbol).isEmpty else {
                outcome.failures.append(daily
                    ? "\(symbol): no daily bars in \(Dataset.dailyBars.rawValue)/ (import them: conviction features import-bars --frequency 1d --symbol \(symbol) FILE.csv)"
                    : "\(symbol): no bars in \(Dataset.bars.rawValue)/ (import them with conviction features import-bars, or set features.frequency = \"1d\" for daily bars; the demo simulates them)")
                continue
            }
            var hasher = ContentHasher()
            hasher.update(String(Self.schemaVersion)); hasher.update("computation-v\(Self.computationVersion)"); hasher.update(try JSON.encode(config.features)); hasher.update(config.pointInTime.rawValue)
            var loaded: [String: Data] = [:]
            for key in inputs {
                let data = try await store.get(key)
                loaded[key] = data; hasher.update(key); hasher.update(data)
            }
            let inputHash = hasher.finalize()
            let unit = Self.unit(symbol)
            if let done = try await context.catalog.finished(stage: Self.stage, unit: unit, inputHash: inputHash, store: store) {
                outcome.skipped += 1; outcome.rows += done.rows
                let reportKey = Dataset.features.rawValue + "/quality/symbol=\(symbol.rawValue).json"
                if try await store.exists(reportKey) {
                    findings += try JSONDecoder().decode([QualityChecks.Finding].self, from: try await store.get(reportKey))
                }
                continue
            }
            let minuteBars = try keys(bars, symbol).flatMap { try MarketTables.decodeBars(loaded[$0]!, source: $0) }.sorted { $0.start < $1.start }
            let newsEvents = try keys(news, symbol).flatMap { try MarketTables.decodeNews(loaded[$0]!, source: $0) }
            let received = config.pointInTime == .received
            let symbolScores = config.features.includeSentiment
                ? try keys(scores, symbol).flatMap { try MarketTables.decodeScores(loaded[$0]!, source: $0) } : []
            let posts = symbolScores
                    .map { SentimentObservation(time: received ? $0.receivedAt : $0.createdAt, polarity: $0.polarity, followers: $0.authorFollowers,
                                                engagement: $0.engagement, label: $0.label == .positive ? 1 : ($0.label == .negative ? -1 : 0)) }
            let matrix = daily
                ? builder.buildDaily(symbol: symbol, dailyBars: minuteBars, news: newsEvents, posts: posts)
                : builder.build(symbol: symbol, minuteBars: minuteBars, news: newsEvents, posts: posts)
            if config.features.includeSentiment {
                findings += QualityChecks().run(symbol: symbol, scores: symbolScores, matrix: matrix, daily: daily)
            }
            let bytes = try Self.encode(matrix)
            let key = Partition(.features, symbol: symbol).prefix + "part-0.parquet"
            try await store.put(key, data: bytes)
            let symbolFindings = findings.filter { $0.symbol == symbol.rawValue }
            try await store.put(Dataset.features.rawValue + "/quality/symbol=\(symbol.rawValue).json", data: try JSON.encode(symbolFindings))
            try await context.catalog.record(.init(stage: Self.stage, unit: unit, inputHash: inputHash, outputKeys: key,
                                             outputHash: ContentHasher.hash(bytes), rows: matrix.rowCount, completedAt: Timestamps.iso8601(Timestamps.now())), store: store)
            outcome.done += 1
            outcome.rows += matrix.rowCount
        }
        try await store.put(Dataset.features.rawValue + "/feature_metadata.json", data: try JSON.encode(metadata, snakeCase: true))
        var failed = findings.filter(\.failed)
        // Without posts, the post checks cannot pass; that is not bad data but a missing source, and
        // training measures news sentiment instead (TrainTask), so they become notes.
        if config.features.includeSentiment,
           let reason = try await PostCoverage.measure(store, symbols: Set(config.symbols), daily: config.features.frequency == .daily).unavailable(threshold: context.configuration.minPostCoverage) {
            let postChecks: Set<String> = ["completeness", "stale_sentiment", "post_volume"]
            let skipped = failed.filter { postChecks.contains($0.check) }
            failed.removeAll { postChecks.contains($0.check) }
            outcome.notes.append("\(reason); \(skipped.count) post check failure(s) noted, not enforced; training measures news sentiment instead")
        }
        for f in failed {
            let line = "quality check \(f.check) failed for \(f.symbol): \(f.detail)"
            if config.features.enforceQualityChecks { outcome.failures.append(line + " (set features.quality_checks = \"warn\" to train anyway)") } else { outcome.notes.append("warning: " + line) }
        }
        if !findings.isEmpty { outcome.notes.append("quality checks: \(findings.filter { !$0.failed }.count) passed, \(findings.filter(\.failed).count) failed (features/quality/)") }
        return outcome
    }

    /// `feature_metadata.json`: what the training stage reads to know the columns.
    public struct Metadata: Codable, Sendable {
        public struct Column: Codable, Sendable {
            public let name: String, type: String, group: String, window: String, source: String, unit: String, description: String
        }
        public let version: Int
        /// `1m` (rows every bar_minutes) or `1d` (one row per session, at the close).
        public let frequency: String
        public let barMinutes: Int
        public let labelHorizonBars: Int
        public let pointInTime: String
        public let includeSentiment: Bool
        public let timestamp: String
        public let label: String
        public let features: [Column]
    }

    public var metadata: Metadata {
        let config = context.configuration
        return Metadata(
            version: Self.schemaVersion, frequency: config.features.frequency.rawValue, barMinutes: config.features.barMinutes, labelHorizonBars: config.features.labelHorizonBars,
            pointInTime: config.pointInTime.rawValue, includeSentiment: config.features.includeSentiment,
            timestamp: builder.daily
                ? "timestamp: the decision time, the session's close (16:00 New York, 13:00 on early-close days, as UTC); every feature uses only information from before it"
                : "timestamp: the decision time, the close of the bar (UTC); every feature uses only information from before it",
            label: builder.daily
                ? "label: 1 if log(close[next session]/close[t]) > 0, else 0 (adjusted closes); null where the next session's bar is missing. label_end is the next close. training.dead_zone drops small moves at training time."
                : "label: 1 if log(close[t+h]/close[t]) > 0 over the next h bars, else 0; null where t+h passes the session close. label_end is t+h.",
            features: builder.definitions.map {
                Metadata.Column(name: $0.name, type: "double", group: $0.group.rawValue, window: $0.window,
                                source: $0.group == .sentiment ? "scores" : ($0.group == .news ? "market/news" : (builder.daily ? "market/bars_1d" : "market/bars_1m")),
                                unit: $0.unit, description: $0.description)
            })
    }

    static func encode(_ matrix: FeatureMatrix) throws -> Data {
        var columns = [
            ParquetColumn(name: "timestamp", nullable: false, values: .timestamp(matrix.timestamps.map { $0 * 1000 })),
            ParquetColumn(name: "symbol", nullable: false, values: .string(Array(repeating: matrix.symbol.rawValue, count: matrix.rowCount))),
        ]
        for (definition, values) in zip(matrix.definitions, matrix.columns) {
            columns.append(ParquetColumn(name: definition.name, values: .double(values)))
        }
        columns.append(ParquetColumn(name: "label", values: .int64(matrix.labels.map { $0.map(Int64.init) })))
        columns.append(ParquetColumn(name: "forward_return", values: .double(matrix.forwardReturns)))
        columns.append(ParquetColumn(name: "label_end", values: .timestamp(matrix.labelEnds.map { $0.map { $0 * 1000 } })))
        return try ParquetWriter.encode(ParquetTable(columns: columns, keyValueMetadata: ["conviction.schema_version": String(schemaVersion)]))
    }
}
