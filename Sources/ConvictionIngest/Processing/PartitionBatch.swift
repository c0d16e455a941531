import ConvictionCore
import ConvictionStore
import Foundation

/// Accepted posts grouped by `raw/posts/dt=<created_at UTC date>/symbol=<S>/`, and quarantine
/// records, on their way to the store. Every source (archive, stream segment) writes one part per
/// partition named after itself, so writing the same source again overwrites instead of adding.
public struct PartitionBatch: Sendable {
    public private(set) var partitions: [Partition: [Data]] = [:]
    public private(set) var quarantine: [Data] = []
    public private(set) var accepted = 0
    public private(set) var rejected: [String: Int] = [:]

    public init() {}

    public var isEmpty: Bool { partitions.isEmpty && quarantine.isEmpty }

    public mutating func accept(_ post: Post, symbols: [Symbol], payload: Data) {
        let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(post.createdAt, Timestamps.day)))
        let raw = RawPostLine.encode(payload: payload, receivedAt: post.receivedAt)
        for symbol in symbols { partitions[Partition(.rawPosts, date: date, symbol: symbol), default: []].append(raw) }
        accepted += 1
    }

    /// Adds an already encoded raw line (a journal's recovered entry).
    public mutating func add(rawLine: Data, to partition: Partition) {
        partitions[partition, default: []].append(rawLine)
    }

    public mutating func reject(_ record: QuarantineRecord) {
        rejected[record.reason, default: 0] += 1
        quarantine.append(record.encoded())
    }

    public mutating func add(quarantineLine: Data) { quarantine.append(quarantineLine) }

    public mutating func countAccepted(_ n: Int) { accepted += n }

    /// Writes `part-<name>.jsonl.gz` into every partition and the quarantine; returns the keys
    /// written and a hash over their bytes.
    public func write(to store: any ObjectStore, partName: String, stage: String) async throws -> (keys: [String], hash: String) {
        let part = "part-\(partName).jsonl.gz"
        var keys: [String] = []
        var hasher = ContentHasher()
        for (partition, lines) in partitions.sorted(by: { $0.key < $1.key }) {
            let bytes = try JSONLines.encode(lines)
            try await store.put(partition.prefix + part, data: bytes)
            keys.append(partition.prefix + part)
            hasher.update(bytes)
        }
        if !quarantine.isEmpty {
            let key = Dataset.quarantine.rawValue + "/\(stage)/" + part
            try await store.put(key, data: try JSONLines.encode(quarantine))
            keys.append(key)
        }
        return (keys, hasher.finalize())
    }
}
