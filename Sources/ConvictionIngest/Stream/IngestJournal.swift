import ConvictionCore
import ConvictionStore
import Foundation
import GRDB

/// The stream's write-ahead journal. Every post the processor decided on is appended to the open
/// segment with one `write` (so `kill -9` loses nothing already written) and fsynced at an interval
/// (so a power cut loses at most that interval). A commit closes the segment, writes its posts as
/// `part-stream-<instance>-<segment>.jsonl.gz` into each date/symbol partition (and its rejects into
/// the quarantine), records the ids in the catalog's ingest tables, then deletes the segment. A crash at any
/// point leaves either the segment (committed again on restart, overwriting the same part names)
/// or the recorded ids: nothing is lost and nothing is stored twice.
///
/// Segment line: `P|Q` (+ `b` when from recent search) `<TAB> id <TAB> created_at <TAB> text key <TAB> partitions (comma) <TAB> JSON`.
public final class IngestJournal: @unchecked Sendable {
    // @unchecked: used by one task at a time (the ingester's processing task).
    public static let stage = "ingest"

    public let folder: URL
    let database: any DatabaseWriter
    /// Distinguishes this journal's part files from another ingester's writing to the same store.
    public let instance: String
    private var handle: FileHandle?
    private var segment: Int
    private var lastSync = ContinuousClock.now
    private var unsynced = false
    public private(set) var entriesInSegment = 0
    /// Every object key this journal has written to the store since it was opened, when
    /// `keepsWrittenKeys` is set (a batch run records them; a long-running stream does not).
    public private(set) var writtenKeys: [String] = []
    public var keepsWrittenKeys = false
    /// The newest `created_at` committed so far.
    public private(set) var newestCreatedAt: EpochMillis?
    let fsyncInterval: Duration

    public struct Entry: Sendable {
        public enum Kind: String, Sendable { case post = "P", quarantine = "Q" }
        public var kind: Kind
        public var id: UInt64
        public var createdAt: EpochMillis
        public var textKey: UInt64
        public var partitions: [Partition]
        public var json: Data
        /// Came from recent search, not the stream: it does not move the stream's newest id.
        public var fromBackfill: Bool

        public init(kind: Kind, id: UInt64, createdAt: EpochMillis, textKey: UInt64, partitions: [Partition], json: Data, fromBackfill: Bool = false) {
            self.kind = kind; self.id = id; self.createdAt = createdAt; self.textKey = textKey; self.partitions = partitions; self.json = json
            self.fromBackfill = fromBackfill
        }
    }

    /// Opens the journal in `folder` (its segments and instance name), keeping its de-duplication
    /// state in `catalog`'s tables; without a catalog, in one of its own in the folder.
    public init(folder: URL, catalog: Catalog? = nil, fsyncInterval: Duration = .seconds(1)) throws {
        self.folder = folder
        self.fsyncInterval = fsyncInterval
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("segments"), withIntermediateDirectories: true)
        database = try (catalog ?? Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)).database
        instance = try Self.adoptLegacyState(folder: folder, into: database)
        // Segment numbers name part files, so they never repeat: not after a commit deleted every
        // segment file, not after a restart.
        let committed = try database.read { [instance] db in
            try String.fetchOne(db, sql: "SELECT value FROM ingest_meta WHERE journal = ? AND key = 'last_segment'", arguments: [instance]).flatMap(Int.init)
        } ?? 0
        segment = max(Self.segmentNumbers(in: folder).max() ?? 0, committed) + 1
    }

    /// The journal's instance name (file `instance`, made once). A `state.sqlite` left by a
    /// version before the state moved into the catalog is copied in under its own instance name,
    /// then renamed `state.sqlite.migrated`, so a stream resumed after the upgrade keeps its
    /// de-duplication state and its part names. Safe to repeat after a crash at any step.
    static func adoptLegacyState(folder: URL, into database: any DatabaseWriter) throws -> String {
        let instanceFile = folder.appendingPathComponent("instance")
        let legacyPath = folder.appendingPathComponent("state.sqlite").path
        let legacy = FileManager.default.fileExists(atPath: legacyPath) ? try DatabaseQueue(path: legacyPath) : nil
        let legacyInstance = try legacy?.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'instance'") }
        let instance: String
        if let text = try? String(contentsOf: instanceFile, encoding: .utf8), !text.isEmpty {
            instance = text
        } else {
            instance = legacyInstance ?? String(UUID().uuidString.lowercased().prefix(8))
            try LocalObjectStore.replace(instanceFile, with: Data(instance.utf8))
        }
        guard let legacy else { return instance }
        let (ids, texts, meta) = try legacy.read { db in
            (try Row.fetchAll(db, sql: "SELECT id, created_at FROM seen_id").map { ($0[0] as Int64, $0[1] as Int64) },
             try Row.fetchAll(db, sql: "SELECT key, created_at FROM seen_text").map { ($0[0] as Int64, $0[1] as Int64) },
             try Row.fetchAll(db, sql: "SELECT key, value FROM meta WHERE key != 'instance'").map { ($0[0] as String, $0[1] as String) })
        }
        try legacy.close()
        try database.write { db in
            for (id, created) in ids {
                try db.execute(sql: "INSERT OR IGNORE INTO ingest_seen_id (journal, id, created_at) VALUES (?, ?, ?)", arguments: [instance, id, created])
            }
            for (key, created) in texts {
                try db.execute(sql: "INSERT OR IGNORE INTO ingest_seen_text (journal, key, created_at) VALUES (?, ?, ?)", arguments: [instance, key, created])
            }
            for (key, value) in meta {
                try db.execute(sql: "INSERT OR IGNORE INTO ingest_meta (journal, key, value) VALUES (?, ?, ?)", arguments: [instance, key, value])
            }
        }
        guard rename(legacyPath, legacyPath + ".migrated") == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: legacyPath]) }
        return instance
    }

    var segmentsFolder: URL { folder.appendingPathComponent("segments") }

    static func segmentNumbers(in folder: URL) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("segments").path)) ?? []
        return names.compactMap { name in
            guard name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
            return Int(name.dropFirst(8).dropLast(4))
        }.sorted()
    }

    func path(of segment: Int) -> URL { segmentsFolder.appendingPathComponent(String(format: "segment-%012d.log", segment)) }

    // MARK: - Recovery

    /// What a restart must know: ids and texts already decided, the newest id (the backfill's
    /// `since_id`), and the segments a crash left uncommitted.
    public struct Recovered: Sendable {
        /// Ids with their `created_at`.
        public var ids: [(UInt64, EpochMillis)] = []
        public var texts: [(UInt64, EpochMillis)] = []
        public var newestID: UInt64?
        /// Set when a backfill was under way: its `since_id`.
        public var backfillFloor: UInt64?
        public var pendingSegments: [Int] = []
        public var truncatedLines = 0
    }

    /// Reads the state database and every segment left behind. The processor prunes what it is
    /// given by its own windows, counted back from the newest `created_at` seen.
    public func recover() throws -> Recovered {
        var recovered = Recovered()
        try database.read { [instance] db in
            for row in try Row.fetchAll(db, sql: "SELECT id, created_at FROM ingest_seen_id WHERE journal = ?", arguments: [instance]) {
                recovered.ids.append((UInt64(bitPattern: row[0] as Int64), row[1]))
            }
            for row in try Row.fetchAll(db, sql: "SELECT key, created_at FROM ingest_seen_text WHERE journal = ?", arguments: [instance]) {
                recovered.texts.append((UInt64(bitPattern: row[0] as Int64), row[1]))
            }
            if let newest = try String.fetchOne(db, sql: "SELECT value FROM ingest_meta WHERE journal = ? AND key = 'newest_id'", arguments: [instance]) {
                recovered.newestID = UInt64(newest)
            }
        }
        for number in Self.segmentNumbers(in: folder) {
            let (entries, truncated) = try readSegment(number)
            recovered.truncatedLines += truncated
            for entry in entries {
                recovered.ids.append((entry.id, entry.createdAt))
                if entry.kind == .post { recovered.texts.append((entry.textKey, entry.createdAt)) }
                if !entry.fromBackfill { recovered.newestID = max(recovered.newestID ?? 0, entry.id) }
            }
            recovered.pendingSegments.append(number)
        }
        if let text = try? String(contentsOf: floorFile, encoding: .utf8) { recovered.backfillFloor = UInt64(text) }
        return recovered
    }

    /// A segment's complete lines; a last line cut short by a crash is dropped (its post was never
    /// acknowledged, and the backfill after restart fetches it again).
    func readSegment(_ number: Int) throws -> ([Entry], truncated: Int) {
        // A segment that cannot be read is an error, never an empty segment: committing would delete it.
        let data = try Data(contentsOf: path(of: number))
        var entries: [Entry] = []
        var truncated = 0
        var start = data.startIndex
        while start < data.endIndex {
            guard let newline = data[start...].firstIndex(of: 0x0A) else { truncated += 1; break }
            if let entry = Self.parse(data[start..<newline]) { entries.append(entry) } else { truncated += 1 }
            start = newline + 1
        }
        return (entries, truncated)
    }

    static func parse(_ line: Data) -> Entry? {
        let fields = line.split(separator: 0x09, maxSplits: 5, omittingEmptySubsequences: false)
        let kindField = String(decoding: fields.first ?? Data(), as: UTF8.self)
        guard fields.count == 6, let kind = Entry.Kind(rawValue: String(kindField.prefix(1))),
              let id = UInt64(String(decoding: fields[1], as: UTF8.self)),
              let createdAt = Int64(String(decoding: fields[2], as: UTF8.self)),
              let textKey = UInt64(String(decoding: fields[3], as: UTF8.self)) else { return nil }
        let partitions = fields[4].split(separator: 0x2C).compactMap { Partition(prefix: String(decoding: $0, as: UTF8.self), in: .rawPosts) }
        return Entry(kind: kind, id: id, createdAt: createdAt, textKey: textKey, partitions: partitions, json: Data(fields[5]),
                     fromBackfill: kindField.hasSuffix("b"))
    }

    // MARK: - Appending

    public func append(_ entry: Entry) throws {
        if handle == nil {
            guard FileManager.default.createFile(atPath: path(of: segment).path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path(of: segment).path])
            }
            handle = try FileHandle(forWritingTo: path(of: segment))
            try handle?.seekToEnd()
        }
        var line = Data("\(entry.kind.rawValue)\(entry.fromBackfill ? "b" : "")\t\(entry.id)\t\(entry.createdAt)\t\(entry.textKey)\t".utf8)
        line.append(Data(entry.partitions.map(\.prefix).joined(separator: ",").utf8))
        line.append(0x09)
        line.append(entry.json)
        line.append(0x0A)
        try handle?.write(contentsOf: line)
        entriesInSegment += 1
        unsynced = true
        syncIfDue()
    }

    /// fsyncs the open segment when the interval has passed since the last sync.
    public func syncIfDue(force: Bool = false) {
        guard unsynced, let handle, force || ContinuousClock.now - lastSync >= fsyncInterval else { return }
        try? handle.synchronize()
        unsynced = false
        lastSync = .now
    }

    // MARK: - Committing

    /// Closes the open segment (if it holds anything) and commits every segment on disk.
    /// Returns the posts committed.
    @discardableResult
    public func commit(to store: any ObjectStore) async throws -> Int {
        if let handle {
            try handle.synchronize()
            try handle.close()
            self.handle = nil
            unsynced = false
            segment += 1
            entriesInSegment = 0
        }
        var committed = 0
        for number in Self.segmentNumbers(in: folder) { committed += try await commitSegment(number, to: store) }
        return committed
    }

    func commitSegment(_ number: Int, to store: any ObjectStore) async throws -> Int {
        let (entries, _) = try readSegment(number)
        var batch = PartitionBatch()
        for entry in entries {
            switch entry.kind {
            case .post:
                for partition in entry.partitions { batch.add(rawLine: entry.json, to: partition) }
                batch.countAccepted(1)
            case .quarantine:
                batch.add(quarantineLine: entry.json)
            }
        }
        if !batch.isEmpty {
            let keys = try await batch.write(to: store, partName: "stream-\(instance)-\(String(format: "%012d", number))", stage: Self.stage).keys
            if keepsWrittenKeys { writtenKeys += keys }
        }
        let newest = entries.filter { !$0.fromBackfill }.map(\.id).max()
        let maxCreated = entries.map(\.createdAt).max()
        try await database.write { [instance] db in
            for entry in entries {
                try db.execute(sql: "INSERT OR IGNORE INTO ingest_seen_id (journal, id, created_at) VALUES (?, ?, ?)",
                               arguments: [instance, Int64(bitPattern: entry.id), entry.createdAt])
                if entry.kind == .post {
                    try db.execute(sql: "INSERT OR REPLACE INTO ingest_seen_text (journal, key, created_at) VALUES (?, ?, ?)",
                                   arguments: [instance, Int64(bitPattern: entry.textKey), entry.createdAt])
                }
            }
            func meta(_ key: String) throws -> String? {
                try String.fetchOne(db, sql: "SELECT value FROM ingest_meta WHERE journal = ? AND key = ?", arguments: [instance, key])
            }
            func setMeta(_ key: String, _ value: String) throws {
                try db.execute(sql: "INSERT OR REPLACE INTO ingest_meta (journal, key, value) VALUES (?, ?, ?)", arguments: [instance, key, value])
            }
            try setMeta("last_segment", String(max(try meta("last_segment").flatMap(Int.init) ?? 0, number)))
            if let newest { try setMeta("newest_id", String(max(try meta("newest_id").flatMap(UInt64.init) ?? 0, newest))) }
            // Ids older than recent search's 7 days (by the data's own clock) cannot come back.
            if let maxCreated {
                try db.execute(sql: "DELETE FROM ingest_seen_id WHERE journal = ? AND created_at < ?", arguments: [instance, maxCreated - 8 * Timestamps.day])
                try db.execute(sql: "DELETE FROM ingest_seen_text WHERE journal = ? AND created_at < ?", arguments: [instance, maxCreated - 2 * Timestamps.day])
            }
        }
        try FileManager.default.removeItem(at: path(of: number))
        if let maxCreated { newestCreatedAt = max(newestCreatedAt ?? maxCreated, maxCreated) }
        return entries.filter { $0.kind == .post }.count
    }

    var floorFile: URL { folder.appendingPathComponent("backfill-floor") }

    /// Keeps (or, with nil, forgets) the `since_id` of a backfill under way, durably: after a crash
    /// the next backfill starts from it, not from the newest id the interrupted one had reached.
    public func saveBackfillFloor(_ id: UInt64?) throws {
        guard let id else {
            if FileManager.default.fileExists(atPath: floorFile.path) { try FileManager.default.removeItem(at: floorFile) }
            return
        }
        if (try? String(contentsOf: floorFile, encoding: .utf8)) == String(id) { return }
        try LocalObjectStore.replace(floorFile, with: Data(String(id).utf8))
    }

    /// Ids this journal has committed (for tests and reports).
    public func committedIDCount() throws -> Int {
        try database.read { [instance] db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ingest_seen_id WHERE journal = ?", arguments: [instance]) ?? 0 }
    }
}
