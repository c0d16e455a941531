import ConvictionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
    /// Reads an object in pieces of about `chunkSize` bytes, so no one holds all of a large object.
    func reader(_ key: String, chunkSize: Int) async throws -> any ObjectReader
    /// Writes an object in pieces; readers see it only once `commit` returns.
    func writer(_ key: String) async throws -> any ObjectWriter
}

/// An object's bytes, a piece at a time.
public protocol ObjectReader: AnyObject {
    /// The object's size, when known before reading (for progress).
    var size: Int? { get }
    /// The next piece, or nil at the end.
    func read() async throws -> Data?
}

/// An object written a piece at a time. Nothing is visible until `commit`, which replaces an older
/// object with that key at once; `abort`, or dropping the writer uncommitted, leaves the old one.
public protocol ObjectWriter: AnyObject {
    func write(_ data: Data) async throws
    func commit() async throws
    func abort() async
}

extension ObjectStore {
    public var isShared: Bool { false }

    /// Stores that hold objects whole anyway read and write them whole.
    public func reader(_ key: String, chunkSize: Int) async throws -> any ObjectReader { DataReader(try await get(key)) }
    public func writer(_ key: String) async throws -> any ObjectWriter { BufferedObjectWriter { try await put(key, data: $0) } }

    /// Writes `key` from what `body` writes: committed when `body` returns, aborted when it throws.
    public func write(_ key: String, _ body: (any ObjectWriter) async throws -> Void) async throws {
        let writer = try await writer(key)
        do {
            try await body(writer)
            try await writer.commit()
        } catch {
            await writer.abort()
            throw error
        }
    }
}

/// Bytes already in memory, as a reader (one piece).
public final class DataReader: ObjectReader {
    var data: Data?
    public let size: Int?
    public init(_ data: Data) { self.data = data; size = data.count }
    public func read() async throws -> Data? { defer { data = nil }; return data?.isEmpty == true ? nil : data }
}

/// Collects the pieces and hands them over whole on commit.
final class BufferedObjectWriter: ObjectWriter {
    var buffer = Data()
    let commitWhole: (Data) async throws -> Void
    init(_ commitWhole: @escaping (Data) async throws -> Void) { self.commitWhole = commitWhole }
    func write(_ data: Data) async throws { buffer.append(data) }
    func commit() async throws { try await commitWhole(buffer) }
    func abort() async { buffer = Data() }
}

/// A local file read in pieces.
public final class FileReader: ObjectReader {
    let fd: Int32
    let path: String
    let chunkSize: Int
    public let size: Int?

    public init(path: String, chunkSize: Int = 4 << 20) throws {
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError(key: path, message: "cannot open: \(String(cString: strerror(errno)))", code: .missingInput) }
        var info = stat()
        size = fstat(fd, &info) == 0 ? Int(info.st_size) : nil
        self.path = path; self.chunkSize = max(1, chunkSize)
    }

    deinit { close(fd) }

    public func read() async throws -> Data? {
        var chunk = Data(count: chunkSize)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, chunkSize) }
        guard n >= 0 else { throw StoreError(key: path, message: "read failed: \(String(cString: strerror(errno)))") }
        if n == 0 { return nil }
        if n < chunkSize { chunk.count = n }
        return chunk
    }
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
