import ConvictionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An object store on the local filesystem. Writes go to a temporary file in the target folder,
/// are fsynced, renamed over the key, and the folder is fsynced: a crash leaves the old object or
/// the new one, and at worst a `.tmp-*` file that listings ignore.
public struct LocalObjectStore: ObjectStore {
    public let root: URL

    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
    }

    public var location: String { root.path }

    public func url(for key: String) throws -> URL {
        try ObjectKey.validate(key)
        return root.appendingPathComponent(key)
    }

    public func put(_ key: String, data: Data) async throws {
        try Self.replace(try url(for: key), with: data, key: key)
    }

    /// Writes `data` to a temporary file beside `target`, fsyncs it, renames it over `target` and
    /// fsyncs the folder: the file holds the old bytes or the new, never part of them. Also for
    /// local state outside a store (the ingest journal's files).
    public static func replace(_ target: URL, with data: Data, key: String? = nil) throws {
        let folder = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temp = folder.appendingPathComponent(".tmp-\(UUID().uuidString)")
        do {
            try writeSynced(data, to: temp)
            guard rename(temp.path, target.path) == 0 else {
                throw StoreError(key: key ?? target.path, message: "rename failed: \(String(cString: strerror(errno)))")
            }
            syncDirectory(folder)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
    }

    /// Writes a synced temporary file and hard-links it to the key: `link` fails when the key
    /// exists, atomically, so exactly one racing writer wins.
    public func create(_ key: String, data: Data) async throws -> Bool {
        let target = try url(for: key)
        let folder = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temp = folder.appendingPathComponent(".tmp-\(UUID().uuidString)")
        defer { unlink(temp.path) }
        try Self.writeSynced(data, to: temp)
        guard link(temp.path, target.path) == 0 else {
            if errno == EEXIST { return false }
            throw StoreError(key: key, message: "link failed: \(String(cString: strerror(errno)))")
        }
        Self.syncDirectory(folder)
        return true
    }

    public func get(_ key: String) async throws -> Data {
        let target = try url(for: key)
        guard let data = FileManager.default.contents(atPath: target.path) else {
            throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput)
        }
        return data
    }

    public func reader(_ key: String, chunkSize: Int) async throws -> any ObjectReader {
        let path = try url(for: key).path
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput) }
        return try FileReader(path: path, chunkSize: chunkSize)
    }

    public func writer(_ key: String) async throws -> any ObjectWriter { try Writer(target: try url(for: key), key: key) }

    /// Appends to a temporary file beside the key; commit fsyncs it and renames it over the key.
    final class Writer: ObjectWriter {
        let target: URL, temp: URL, key: String
        var fd: Int32

        init(target: URL, key: String) throws {
            let folder = target.deletingLastPathComponent()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            self.target = target; self.key = key
            temp = folder.appendingPathComponent(".tmp-\(UUID().uuidString)")
            fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw StoreError(key: key, message: "cannot create: \(String(cString: strerror(errno)))") }
        }

        deinit { if fd >= 0 { close(fd); unlink(temp.path) } }

        func write(_ data: Data) async throws { try LocalObjectStore.writeAll(data, to: fd, name: key) }

        func commit() async throws {
            guard fsync(fd) == 0 else { throw StoreError(key: key, message: "fsync failed: \(String(cString: strerror(errno)))") }
            close(fd); fd = -1
            guard rename(temp.path, target.path) == 0 else {
                unlink(temp.path)
                throw StoreError(key: key, message: "rename failed: \(String(cString: strerror(errno)))")
            }
            LocalObjectStore.syncDirectory(target.deletingLastPathComponent())
        }

        func abort() async {
            if fd >= 0 { close(fd); fd = -1; unlink(temp.path) }
        }
    }

    public func exists(_ key: String) async throws -> Bool {
        FileManager.default.fileExists(atPath: try url(for: key).path)
    }

    public func list(prefix: String) async throws -> [String] {
        // List from the deepest folder the prefix names, then filter by the full prefix.
        let folderPart = prefix.hasSuffix("/") ? prefix : (prefix.split(separator: "/").dropLast().joined(separator: "/"))
        let start = folderPart.isEmpty ? root : root.appendingPathComponent(folderPart)
        guard let walker = FileManager.default.enumerator(at: start, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        var keys: [String] = []
        for case let file as URL in walker {
            guard (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                  !file.lastPathComponent.hasPrefix(".tmp-") else { continue }
            let path = file.standardizedFileURL.path
            guard path.hasPrefix(rootPath) else { continue }
            let key = String(path.dropFirst(rootPath.count))
            if key.hasPrefix(prefix) { keys.append(key) }
        }
        return keys.sorted()
    }

    public func delete(_ key: String) async throws {
        let target = try url(for: key)
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
    }

    static func writeSynced(_ data: Data, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StoreError(key: url.path, message: "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try writeAll(data, to: fd, name: url.path)
        guard fsync(fd) == 0 else { throw StoreError(key: url.path, message: "fsync failed: \(String(cString: strerror(errno)))") }
    }

    static func writeAll(_ data: Data, to fd: Int32, name: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                guard n > 0 else { throw StoreError(key: name, message: "write failed: \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }

    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
