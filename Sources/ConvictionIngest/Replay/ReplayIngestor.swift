import ConvictionCore
import ConvictionStore
import Foundation

/// Replays JSON-lines archives of X API v2 messages or v1.1 statuses (the simulator's output,
/// academic exports, StockNet, twarc 1, the Internet Archive's stream grabs) into the raw store: `raw/posts/dt=<created_at UTC date>/symbol=<S>/part-<source hash>.jsonl.gz`.
///
/// Lines that cannot be used go to `raw/quarantine/ingest/` with the reason, the source and the line
/// number; a damaged (truncated) source keeps its good lines, quarantines the broken tail, and is
/// reported as failed. Which sources are already done is the ingest task's business (the catalog),
/// as for every other stage: this type only turns one source's bytes into partitions.
public struct ReplayIngestor: Sendable {
    public static let stage = "ingest"

    /// One archive to replay: a name for messages and the catalog, and its bytes.
    public struct Source: Sendable {
        public let name: String
        public let load: @Sendable () async throws -> Data
        public init(name: String, load: @escaping @Sendable () async throws -> Data) { self.name = name; self.load = load }
    }

    public struct Outcome: Sendable {
        public var source: String
        public var accepted = 0
        public var rejected: [String: Int] = [:]
        /// The first quarantined line's detail for each reason, to show with the counts.
        public var examples: [String: String] = [:]
        /// v1.1 notices (delete, limit, ...) skipped, by kind.
        public var notices: [String: Int] = [:]
        /// Set when the source could not be read completely.
        public var failure: String?
        /// The partitions written, and their combined hash.
        public var outputKeys: [String] = []
        public var outputHash = ""
    }

    public let store: any ObjectStore
    public let symbols: [Symbol]
    public let filters: IngestFilters

    public init(store: any ObjectStore, symbols: [Symbol], filters: IngestFilters = .init()) {
        self.store = store; self.symbols = symbols; self.filters = filters
    }

    /// What a source's result depends on: its bytes, the symbols and the filters.
    public func inputHash(of data: Data) -> String {
        var inputHasher = ContentHasher()
        inputHasher.update(ContentHasher.hash(data))
        inputHasher.update(symbols.map(\.rawValue).sorted().joined(separator: ","))
        inputHasher.update(filters.fingerprint)
        return inputHasher.finalize()
    }

    /// Replays one source's bytes into the raw store.
    public func replay(_ name: String, _ data: Data) async throws -> Outcome {
        var outcome = Outcome(source: name)

        // Gzipped or not whatever the name says: the first two bytes tell.
        let file = JSONLines.read(data, gzipped: data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B)
        // Duplicates are found within one source: a source's result must not depend on which
        // other sources happened to be replayed before it.
        var processor = PostProcessor(symbols: symbols, filters: filters)
        var batch = PartitionBatch()
        let lastLine = file.lines.last?.number

        for line in file.lines {
            if file.damage != nil, line.number == lastLine, !line.bytes.isEmpty, line.bytes.last != UInt8(ascii: "}") {
                batch.reject(QuarantineRecord(stage: Self.stage, source: name, line: line.number, reason: "truncated",
                                              detail: "line \(line.number) of a damaged file ends early", raw: line.text))
                continue
            }
            switch processor.process(line.bytes, receivedAt: nil) {
            case .accepted(let post, let symbols):
                batch.accept(post, symbols: symbols, payload: line.bytes)
            case .skipped(let notice):
                outcome.notices[notice, default: 0] += 1
            case .rejected(let reason, let detail, _, _):
                if outcome.examples[reason] == nil { outcome.examples[reason] = "line \(line.number): \(detail)" }
                batch.reject(QuarantineRecord(stage: Self.stage, source: name, line: line.number, reason: reason,
                                              detail: "line \(line.number): \(detail)", raw: line.text))
            }
        }
        outcome.accepted = batch.accepted
        outcome.rejected = batch.rejected

        // Part names derive from the source's name, so replaying a source (say, once a truncated
        // file is whole again) overwrites its earlier output instead of adding to it.
        (outcome.outputKeys, outcome.outputHash) = try await batch.write(to: store, partName: String(ContentHasher.hash(Data(name.utf8)).prefix(16)),
                                                                         stage: Self.stage)
        if let damage = file.damage { outcome.failure = "\(name): \(damage)" }
        return outcome
    }
}
