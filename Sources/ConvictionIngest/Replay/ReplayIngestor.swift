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

    /// One archive to replay: a name for messages and the catalog, and its bytes, read in pieces.
    public struct Source: Sendable {
        public let name: String
        public let open: @Sendable () async throws -> any ObjectReader
        public init(name: String, open: @escaping @Sendable () async throws -> any ObjectReader) { self.name = name; self.open = open }

        /// A local file.
        public static func file(_ path: String) -> Source { Source(name: path) { try FileReader(path: path) } }

        /// An object in a store.
        public static func object(_ key: String, in store: any ObjectStore) -> Source {
            Source(name: key) { try await store.reader(key, chunkSize: 4 << 20) }
        }

        /// Bytes in memory (tests, small inputs).
        public static func bytes(_ name: String, _ data: Data) -> Source { Source(name: name) { DataReader(data) } }
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
    /// A partition's lines are compressed once this many are gathered (one gzip member each).
    public var blockBytes = 256 << 10
    /// Lines waiting across all partitions, at most: past it every partition's block is sent as it is.
    public var pendingBudget = 24 << 20

    public init(store: any ObjectStore, symbols: [Symbol], filters: IngestFilters = .init()) {
        self.store = store; self.symbols = symbols; self.filters = filters
    }

    /// What a source's result depends on: its bytes, the symbols and the filters.
    public func inputHash(of source: Source) async throws -> String {
        var inputHasher = ContentHasher()
        inputHasher.update(try await ContentHasher.hash(try await source.open(), name: source.name))
        inputHasher.update(symbols.map(\.rawValue).sorted().joined(separator: ","))
        inputHasher.update(filters.fingerprint)
        return inputHasher.finalize()
    }
}
