import ConvictionAWS
import ConvictionCore
import ConvictionStore
import Foundation
import Logging

/// One child of a batch array: works its share of the manifest's units through the stage's own
/// task, so it commits exactly as a one-machine run does, through the catalog's records (markers on
/// a shared store) and, for scoring, the lease board. A retried child finds what it committed
/// before as finished and redoes nothing of it; a partition it was killed in the middle of resumes
/// from its checkpoints.
public struct BatchWork: Sendable {
    public let manifest: BatchManifest
    public let index: Int
    public let size: Int
    let context: PipelineContext
    let worker: String
    let stop: StopSignal

    public init(manifest: BatchManifest, index: Int, size: Int, context: PipelineContext,
                worker: String = LeaseBoard.defaultWorkerID(), stop: StopSignal = StopSignal()) {
        self.manifest = manifest; self.index = index; self.size = size; self.context = context; self.worker = worker; self.stop = stop
    }

    /// The configuration the children work with: the manifest's, then the child's environment
    /// (instance-specific settings such as threads), on the store the manifest was read from.
    public static func configuration(for manifest: BatchManifest, manifestKey: String, store: String,
                                     environment: [String: String]) throws -> ConvictionConfiguration {
        var configuration = ConvictionConfiguration()
        try configuration.apply(text: manifest.configuration, source: "\(store)/\(manifestKey)")
        try configuration.apply(environment: environment)
        try configuration.set("data.dir", raw: store, origin: "the store the manifest was read from")
        try configuration.validate()
        return configuration
    }

    public var units: [String] { manifest.share(index: index, size: size) }

    public func run() async throws -> StageOutcome {
        let units = units
        guard !units.isEmpty else {
            var outcome = StageOutcome(stage: BatchPlanner.catalogStage(manifest.stage))
            outcome.notes.append("child \(index) of \(size) has no units: the manifest holds \(manifest.units.count)")
            return outcome
        }
        context.logger.info("batch: child \(index) of \(size) works \(units.count) of the manifest's \(manifest.units.count) \(manifest.stage.rawValue) unit(s)")
        switch manifest.stage {
        case .score:
            return try await ScoreTask(context: context, worker: worker, stop: stop, only: Set(units)).run()
        case .features:
            let symbols = try units.map { unit -> Symbol in
                guard let symbol = FeaturesTask.symbol(ofUnit: unit) else {
                    throw StoreError(key: manifest.key, message: "features unit \(unit) is not symbol=<SYMBOL>", code: .badInput)
                }
                return symbol
            }
            var configuration = context.configuration
            configuration.symbols = symbols
            let scoped = PipelineContext(configuration: configuration, store: context.store, catalog: context.catalog,
                                         logger: context.logger, dryRun: context.dryRun)
            return try await FeaturesTask(context: scoped).run()
        case .replay:
            return try await IngestTask(context: context).replay(storeKeys: units)
        }
    }
}
