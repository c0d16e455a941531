import ConvictionCore
import ConvictionStore
import Foundation

/// Accepted posts grouped by `raw/posts/dt=<created_at UTC date>/symbol=<S>/`, and quarantine
/// records, on their way to the store. Every source (archive, stream segment) writes one part per
/// partition named after itself, so writing the same source again overwrites instead of adding.
public struct PartitionBatch: Sendable {
    /// Each partition's lines, newline-terminated, in one growing buffer (not one object per line).
    public private(set) var partitions: [Partition: Data] = [:]
    public private(set) var quarantine = Data()
    public private(set) var accepted = 0
    public private(set) var rejected: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { partitions.isEmpty && quarantine.isEmpty }

    public mutating func accept(_ post: Post, symbols: [Symbol], payload: Data) {
        let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(post.createdAt, Timestamps.day)))
        let raw = RawPostLine.encode(payload: payload, receivedAt: post.receivedAt)
        for symbol in symbols { add(rawLine: raw, to: Partition(.rawPosts, date: date, symbol: symbol)) }
        accepted += 1
    }

    /// Adds an already encoded raw line (a journal's recovered entry).
    public mutating func add(rawLine: Data, to partition: Partition) {
        partitions[partition, default: Data()].append(rawLine)
        partitions[partition]!.append(0x0A)
    }

    public mutating func reject(_ record: QuarantineRecord) {
        rejected[record.reason, default: 0] += 1
        add(quarantineLine: record.encoded())
    }

    public mutating func add(quarantineLine: Data) { quarantine.append(quarantineLine); quarantine.append(0x0A) }

    public mutating func countAccepted(_ n: Int) { accepted += n }

    /// Writes `part-<name>.jsonl.gz` into every partition and the quarantine; returns the keys
    /// written and a hash over their bytes.
    public func write(to store: any ObjectStore, partName: String, stage: String) async throws -> (keys: [String], hash: String) {
        let part = "part-\(partName).jsonl.gz"
        var files = partitions.sorted { $0.key < $1.key }.map { ($0.key.prefix + part, $0.value) }
        if !quarantine.isEmpty { files.append((Dataset.quarantine.rawValue + "/\(stage)/" + part, quarantine)) }
        let compressed = try await Self.compress(files.map(\.1))
        var hasher = ContentHasher()
        for ((key, _), bytes) in zip(files, compressed) {
            try await store.put(key, data: bytes)
            hasher.update(bytes)
        }
        return (files.map(\.0), hasher.finalize())
    }

    /// gzip of each file, one file per core at a time (compression is most of a commit's work).
    static func compress(_ files: [Data]) async throws -> [Data] {
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            var results = [Data](repeating: Data(), count: files.count)
            var next = 0
            func start() {
                let index = next, lines = files[index]
                group.addTask { (index, try Gzip.compress(lines)) }
                next += 1
            }
            while next < min(width, files.count) { start() }
            while let (index, bytes) = try await group.next() {
                results[index] = bytes
                if next < files.count { start() }
            }
            return results
        }
    }
}
