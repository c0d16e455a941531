import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionXPayload
import Foundation
import Logging

/// Runs the market simulator and writes its bars, news and post archive to the store:
/// `market/bars_1m/dt=/symbol=/part-0.parquet`, `market/news/dt=/symbol=/part-0.parquet`,
/// `sim/stream/dt=/part-0.jsonl.gz` (X API v2 stream lines, all symbols).
public struct SimulateTask: Sendable {
    public static let stage = "simulate"
    let context: PipelineContext

    public init(context: PipelineContext) { self.context = context }

    public func run() async throws -> StageOutcome {
        var outcome = StageOutcome(stage: Self.stage)
        let config = context.configuration
        var simulation = config.simulation
        simulation.symbols = config.symbols
        let inputHash = ContentHasher.hash(try JSON.encode(simulation))
        let unit = "simulation"
        if try await context.catalog.finished(stage: Self.stage, unit: unit, inputHash: inputHash, store: context.store) != nil {
            outcome.skipped = 1
            context.logger.info("simulate: skipped, the store already holds this simulation (seed \(simulation.seed), \(simulation.sessions) sessions)")
            return outcome
        }
        let simulator = MarketSimulator(configuration: simulation)
        let sessions = simulator.sessions
        outcome.planned = ["simulate \(config.symbols.count) symbols x \(sessions.count) sessions (\(sessions.first?.date.isoString ?? "-") to \(sessions.last?.date.isoString ?? "-")), seed \(simulation.seed), signal \(simulation.signal)"]
        if context.dryRun { return outcome }
        try await StoreOrigin.claim(.simulated, by: "conviction simulate", in: context.store)

        let started = Date()
        // Symbols are independent: simulate two at a time (this machine has two cores).
        var outputs: [MarketSimulator.SymbolOutput] = []
        try await withThrowingTaskGroup(of: MarketSimulator.SymbolOutput.self) { group in
            var pending = config.symbols[...]
            for _ in 0..<2 { if let s = pending.popFirst() { group.addTask { simulator.simulate(s) } } }
            while let output = try await group.next() {
                outputs.append(output)
                context.logger.info("simulate: \(output.symbol) \(output.bars.count) bars, \(output.news.count) news, \(output.posts.count) posts (\(outputs.count)/\(config.symbols.count), \(String(format: "%.1f", Date().timeIntervalSince(started)))s)")
                if let s = pending.popFirst() { group.addTask { simulator.simulate(s) } }
            }
        }
        outputs.sort { $0.symbol < $1.symbol }

        var keys: [String] = []
        var hasher = ContentHasher()
        func put(_ key: String, _ data: Data) async throws {
            try await context.store.put(key, data: data)
            keys.append(key); hasher.update(data)
        }
        for output in outputs {
            for (date, bars) in Dictionary(grouping: output.bars, by: { Self.utcDate($0.start) }).sorted(by: { $0.key < $1.key }) {
                try await put(Partition(.bars, date: date, symbol: output.symbol).prefix + "part-0.parquet", try MarketTables.encode(bars: bars))
            }
            for (date, news) in Dictionary(grouping: output.news, by: { Self.utcDate($0.publishedAt) }).sorted(by: { $0.key < $1.key }) {
                try await put(Partition(.news, date: date, symbol: output.symbol).prefix + "part-0.parquet", try MarketTables.encode(news: news))
            }
            outcome.rows += output.bars.count
        }
        let allPosts = outputs.flatMap(\.posts).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        for (date, posts) in Dictionary(grouping: allPosts, by: { Self.utcDate($0.createdAt) }).sorted(by: { $0.key < $1.key }) {
            let lines = try posts.map { try XPayloadWriter.encode($0.message) }
            try await put(Partition(.simulatedStream, date: date).prefix + "part-0.jsonl.gz", try JSONLines.encode(lines))
        }
        try await context.catalog.record(.init(stage: Self.stage, unit: unit, inputHash: inputHash, outputKeys: keys.joined(separator: "\n"),
                                         outputHash: hasher.finalize(), rows: outcome.rows, completedAt: Timestamps.iso8601(Timestamps.now())), store: context.store)
        outcome.done = 1
        outcome.notes.append("\(allPosts.count) posts, \(outcome.rows) one-minute bars in \(String(format: "%.1f", Date().timeIntervalSince(started)))s")
        return outcome
    }

    static func utcDate(_ ms: EpochMillis) -> CivilDate { CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(ms, Timestamps.day))) }
}
