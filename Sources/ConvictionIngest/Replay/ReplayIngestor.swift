import ConvictionCore
import ConvictionStore
import Foundation

/// Replays X API v2 JSON-lines archives (the simulator's output, academic exports) into the raw
/// store: `raw/posts/dt=<created_at UTC date>/symbol=<S>/part-<source hash>.jsonl.gz`.
///
/// Each source is one unit of work in the catalog. A source replayed before with the same content
/// is skipped. Lines that cannot be used go to `raw/quarantine/ingest/` with the reason, the source
/// and the line number; a damaged (truncated) source keeps its good lines, quarantines the broken
/// tail, and is reported as failed so the run exits non-zero and retries it next time.
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
        public var skipped = false
        public var accepted = 0
        public var rejected: [String: Int] = [:]
        /// Set when the source could not be read completely.
        public var failure: String?
    }

    public let store: any ObjectStore
    public let catalog: Catalog
    public let normalizer: PostNormalizer

    public init(store: any ObjectStore, catalog: Catalog, symbols: [Symbol]) {
        self.store = store; self.catalog = catalog; self.normalizer = PostNormalizer(symbols: symbols)
    }

    public func replay(_ source: Source) async throws -> Outcome {
        var outcome = Outcome(source: source.name)
        let data = try await source.load()
        let contentHash = ContentHasher.hash(data)
        var inputHasher = ContentHasher()
        inputHasher.update(contentHash)
        inputHasher.update(normalizer.symbols.map(\.rawValue).sorted().joined(separator: ","))
        let inputHash = inputHasher.finalize()
        if let done = try await catalog.finished(stage: Self.stage, unit: source.name, inputHash: inputHash, store: store) {
            outcome.skipped = true
            outcome.accepted = done.rows
            return outcome
        }

        let file = JSONLines.read(data, gzipped: source.name.hasSuffix(".gz"))
        var partitions: [Partition: [Data]] = [:]
        var quarantine: [Data] = []
        var seen: Set<String> = []
        let lastLine = file.lines.last?.number

        func reject(_ line: JSONLines.Line, _ reason: String, _ detail: String) {
            outcome.rejected[reason, default: 0] += 1
            quarantine.append(QuarantineRecord(stage: Self.stage, source: source.name, line: line.number,
                                               reason: reason, detail: detail, raw: line.text).encoded())
        }

        for line in file.lines {
            if file.damage != nil, line.number == lastLine, !line.bytes.isEmpty, line.bytes.last != UInt8(ascii: "}") {
                reject(line, "truncated", "line \(line.number) of a damaged file ends early")
                continue
            }
            do {
                let (post, symbols) = try normalizer.normalize(line.bytes, receivedAt: nil)
                guard seen.insert(post.id).inserted else {
                    reject(line, "duplicate_id", "post \(post.id) already seen in this source")
                    continue
                }
                let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(post.createdAt, Timestamps.day)))
                let raw = RawPostLine.encode(payload: line.bytes, receivedAt: post.receivedAt)
                for symbol in symbols { partitions[Partition(.rawPosts, date: date, symbol: symbol), default: []].append(raw) }
                outcome.accepted += 1
            } catch {
                reject(line, error.reason, "line \(line.number): \(error.detail)")
            }
        }

        // Part names derive from the source's name, so replaying a source (say, once a truncated
        // file is whole again) overwrites its earlier output instead of adding to it.
        let part = "part-\(ContentHasher.hash(Data(source.name.utf8)).prefix(16)).jsonl.gz"
        var outputs: [String] = []
        var outputHasher = ContentHasher()
        for (partition, lines) in partitions.sorted(by: { $0.key < $1.key }) {
            let key = partition.prefix + part
            let bytes = try JSONLines.encode(lines)
            try await store.put(key, data: bytes)
            outputs.append(key)
            outputHasher.update(bytes)
        }
        if !quarantine.isEmpty {
            let key = Dataset.quarantine.rawValue + "/\(Self.stage)/" + part
            try await store.put(key, data: try JSONLines.encode(quarantine))
            outputs.append(key)
        }
        if let damage = file.damage {
            outcome.failure = "\(source.name): \(damage)"
            return outcome  // not recorded as finished: the next run retries it
        }
        try await catalog.record(.init(stage: Self.stage, unit: source.name, inputHash: inputHash, outputKeys: outputs.joined(separator: "\n"),
                                 outputHash: outputHasher.finalize(), rows: outcome.accepted, completedAt: Timestamps.iso8601(Timestamps.now())), store: store)
        return outcome
    }
}
