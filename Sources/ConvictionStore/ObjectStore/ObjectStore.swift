import ConvictionCore
import Foundation

/// Where Conviction keeps its data: raw posts, scores, features, run records. Keys are `/`-separated
/// relative paths (`raw/posts/dt=2026-11-24/symbol=AAPL/part-....jsonl.gz`).
///
/// `put` is atomic: a reader sees the old object or the new one, never part of one. The local
/// backend is the default; S3 implements the same protocol.
public protocol ObjectStore: Sendable {
    /// A human-readable location, e.g. `file:///data` or `s3://bucket/prefix`.
    var location: String { get }
    func put(_ key: String, data: Data) async throws
    /// Writes `key` only if no object has that key (S3 `If-None-Match: *`); false when one exists.
    /// Exactly one of several racing writers gets true: leases are built on this.
    func create(_ key: String, data: Data) async throws -> Bool
    func get(_ key: String) async throws -> Data
    func exists(_ key: String) async throws -> Bool
    /// Keys under `prefix`, sorted.
    func list(prefix: String) async throws -> [String]
    func delete(_ key: String) async throws
    /// True when other machines may work on the same store (S3): stage completions are then also
    /// recorded as marker objects beside the data, and the local catalog is only a cache.
    var isShared: Bool { get }
}

extension ObjectStore {
    public var isShared: Bool { false }
}

public struct StoreError: ConvictionError {
    public let key: String
    public let message: String
    /// `.storage` unless the caller knows better (a missing input, a malformed file).
    public let errorCode: ErrorCode
    public init(key: String, message: String, code: ErrorCode = .storage) { self.key = key; self.message = message; self.errorCode = code }
    public var description: String { "\(key): \(message)" }
}

/// Object keys are relative `/`-separated paths; one rule for every backend.
public enum ObjectKey {
    public static func validate(_ key: String) throws {
        guard !key.isEmpty, !key.hasPrefix("/"), !key.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            throw StoreError(key: key, message: "invalid object key (must be a relative path without '.' or '..')")
        }
    }
}
