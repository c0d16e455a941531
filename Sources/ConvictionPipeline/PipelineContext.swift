import ConvictionAWS
import ConvictionCore
import ConvictionStore
import Foundation
import Logging

/// What every stage task gets: the resolved configuration, the store, the catalog and a logger.
public struct PipelineContext: Sendable {
    public let configuration: ConvictionConfiguration
    public let store: any ObjectStore
    public let catalog: Catalog
    public let logger: Logger
    /// Validate and plan only: read inputs, write nothing.
    public let dryRun: Bool
    /// The demo's local X API server (`simulation.delivery = "stream"`), wired in by the caller.
    public var localXAPIServer: LocalXAPIServerFactory?

    public init(configuration: ConvictionConfiguration, store: any ObjectStore, catalog: Catalog, logger: Logger, dryRun: Bool = false) {
        self.configuration = configuration; self.store = store; self.catalog = catalog; self.logger = logger; self.dryRun = dryRun
    }

    /// Opens the store `configuration.dataDir` names: a local folder (catalog at
    /// `<dataDir>/catalog.sqlite`) or `s3://bucket/prefix` (catalog cached in `.conviction-cache/`).
    public static func open(_ configuration: ConvictionConfiguration, logger: Logger, dryRun: Bool = false,
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> PipelineContext {
        if configuration.usesS3 {
            let store = try S3ObjectStore(url: configuration.dataDir, configuration: try await configuration.awsConfiguration(environment: environment))
            if configuration.aws.createBucket && !dryRun { try await store.createBucketIfNeeded() }
            let catalogPath = configuration.catalogPath.isEmpty
                ? ".conviction-cache/catalog-\(ContentHasher.hash(Data(configuration.dataDir.utf8)).prefix(16)).sqlite"
                : configuration.catalogPath
            return PipelineContext(configuration: configuration, store: store, catalog: try Catalog(path: dryRun ? nil : catalogPath),
                                   logger: logger, dryRun: dryRun)
        }
        let root = URL(fileURLWithPath: configuration.dataDir)
        if dryRun && !FileManager.default.fileExists(atPath: root.path) {
            // A dry run creates nothing: use an in-memory catalog over an empty store location.
            return PipelineContext(configuration: configuration, store: EmptyStore(location: root.path), catalog: try Catalog(path: nil),
                                   logger: logger, dryRun: true)
        }
        let store = try LocalObjectStore(root: root)
        let catalog = try Catalog(path: configuration.catalogPath.isEmpty ? root.appendingPathComponent("catalog.sqlite").path : configuration.catalogPath)
        return PipelineContext(configuration: configuration, store: store, catalog: catalog, logger: logger, dryRun: dryRun)
    }

    public var symbolSet: Set<Symbol> { Set(configuration.symbols) }
}

/// What a stage did, for the summary line and the exit code.
public struct StageOutcome: Sendable {
    public var stage: String
    public var done = 0
    public var skipped = 0
    public var rows = 0
    public var failures: [String] = []
    public var notes: [String] = []
    public var planned: [String] = []
    /// Why the stage stopped early (SIGTERM, a spot notice), leaving work to another worker.
    public var interrupted: String?
    /// Units left unfinished when it stopped early.
    public var left = 0

    public init(stage: String) { self.stage = stage }

    public var summary: String {
        var s = "\(stage): \(done) done, \(skipped) skipped (already finished), \(rows) rows"
        if !failures.isEmpty { s += ", \(failures.count) FAILED" }
        if let interrupted { s += "; stopped early (\(interrupted)): \(left) unit(s) left for another worker" }
        return s
    }
}

/// Prints progress for a stage working through units: count, rate and ETA.
struct ProgressMeter {
    let stage: String
    let total: Int
    let logger: Logger
    let started = Date()
    private var lastPrint = Date.distantPast

    init(stage: String, total: Int, logger: Logger) { self.stage = stage; self.total = total; self.logger = logger }

    mutating func step(_ completed: Int, rows: Int) {
        let now = Date()
        guard completed == total || now.timeIntervalSince(lastPrint) > 2 else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(started)
        let rate = Double(rows) / max(elapsed, 0.001)
        let eta = completed > 0 ? elapsed / Double(completed) * Double(total - completed) : 0
        logger.info("\(stage): \(completed)/\(total) units, \(rows) rows, \(Int(rate)) rows/s, ETA \(Int(eta.rounded()))s")
    }
}

/// A store with nothing in it, for dry runs against a data folder that does not exist yet.
struct EmptyStore: ObjectStore {
    let location: String
    func put(_ key: String, data: Data) async throws { throw StoreError(key: key, message: "dry run: nothing is written") }
    func create(_ key: String, data: Data) async throws -> Bool { throw StoreError(key: key, message: "dry run: nothing is written") }
    func get(_ key: String) async throws -> Data { throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput) }
    func exists(_ key: String) async throws -> Bool { false }
    func list(prefix: String) async throws -> [String] { [] }
    func delete(_ key: String) async throws {}
}

enum JSON {
    /// Sorted keys for stable bytes; `snakeCase` for files other tools read (feature_metadata.json).
    static func encode<T: Encodable>(_ value: T, snakeCase: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        // Undefined statistics (an IC over too few rows) are written as "NaN", not a failed run.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(value)
    }

    /// Reads what `encode` wrote.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(type, from: data)
    }
}
