import ConvictionAWS
import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionStore
import Foundation

/// The work of one AWS Batch array job (or `batch work --local N`): a stage, its units (raw
/// partitions for score, symbols for features, archive files for replay) and the configuration
/// they are worked with. Written to the store by `conviction batch submit`, at
/// `_batch/<stage>/<run>/manifest.json`, and read by every child. Child `i` of `n` takes the units
/// at positions `i, i+n, i+2n, ...`: shares that differ by at most one unit, and neighbouring days
/// spread over children.
public struct BatchManifest: Codable, Sendable, Equatable {
    public typealias Stage = BatchStage

    public var version = 1
    public var stage: Stage
    public var run: String
    public var units: [String]
    /// The array size it was submitted with; `batch work --array-size` overrides it.
    public var arraySize: Int
    /// The submitting machine's resolved configuration (TOML, no secrets: those come from the
    /// children's own environment and Secrets Manager), so every child works with the same settings.
    public var configuration: String
    public var createdAt: String

    public init(stage: Stage, run: String, units: [String], arraySize: Int, configuration: String, createdAt: String) {
        self.stage = stage; self.run = run; self.units = units; self.arraySize = arraySize
        self.configuration = configuration; self.createdAt = createdAt
    }

    public var key: String { Self.key(stage: stage, run: run) }

    public static func key(stage: Stage, run: String) -> String { "_batch/\(stage.rawValue)/\(run)/manifest.json" }

    /// A run name that sorts by time and never repeats: `20261205T230102Z-3f9a1c`.
    public static func newRun(now: Int64 = Timestamps.now()) -> String {
        Timestamps.compactStamp(now) + "-" + String(format: "%06x", UInt32.random(in: 0..<0xFFFFFF))
    }

    /// Child `index`'s units out of `size` children.
    public func share(index: Int, size: Int) -> [String] {
        guard size > 0, (0..<size).contains(index) else { return [] }
        return stride(from: index, to: units.count, by: size).map { units[$0] }
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func read(_ key: String, from store: any ObjectStore) async throws -> BatchManifest {
        guard try await store.exists(key) else {
            throw StoreError(key: key, message: "no batch manifest here (conviction batch submit writes it; is --data-dir the store it was submitted to?)", code: .missingInput)
        }
        do { return try JSONDecoder().decode(BatchManifest.self, from: try await store.get(key)) } catch {
            throw StoreError(key: key, message: "not a batch manifest: \(error)", code: .badInput)
        }
    }

    /// Writes the manifest; a manifest is never replaced (a run's children must all read the same one).
    public func write(to store: any ObjectStore) async throws {
        guard try await store.create(key, data: try encoded()) else {
            throw StoreError(key: key, message: "a manifest for this run already exists", code: .conflict)
        }
    }
}

/// What a stage has left to do, as batch units.
public enum BatchPlanner {
    /// The catalog's name of each stage.
    public static func catalogStage(_ stage: BatchManifest.Stage) -> String {
        switch stage {
        case .score: ScoreTask.stage
        case .features: FeaturesTask.stage
        case .replay: ReplayIngestor.stage
        }
    }

    /// The stage's units with no finished record yet; with `all`, every unit (children still skip
    /// the ones finished from the same inputs, so this is how a changed model or setting is redone).
    /// Replay's units are the archive files under `archives` in the store.
    public static func units(_ stage: BatchManifest.Stage, context: PipelineContext, archives: String? = nil, all: Bool = false) async throws -> [String] {
        var units: [String]
        switch stage {
        case .score:
            units = try await ScoreTask.partitions(context).map(\.0.prefix)
        case .features:
            let dataset: Dataset = context.configuration.features.frequency == .daily ? .dailyBars : .bars
            let withBars = Set(try await context.store.partitions(of: dataset, symbols: context.symbolSet).keys.compactMap(\.symbol))
            units = context.configuration.symbols.filter(withBars.contains).map { FeaturesTask.unit($0) }
        case .replay:
            guard let archives, !archives.isEmpty else {
                throw StoreError(key: "--archives", message: "replay needs the store folder that holds the archive files (e.g. archives/ after `aws s3 cp --recursive`; the simulator's is sim/stream/)", code: .configuration)
            }
            let prefix = archives.hasSuffix("/") ? archives : archives + "/"
            units = try await context.store.list(prefix: prefix).filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }.sorted()
            guard !units.isEmpty else { throw StoreError(key: prefix, message: "no archive files in the store under this folder", code: .missingInput) }
        }
        guard !all else { return units }
        var pending: [String] = []
        for unit in units where !(try await context.catalog.hasRecord(stage: catalogStage(stage), unit: unit, store: context.store)) {
            pending.append(unit)
        }
        return pending
    }
}
