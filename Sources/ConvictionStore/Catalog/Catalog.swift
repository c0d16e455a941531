import Crypto
import Foundation
import GRDB
import Synchronization

/// The embedded catalog (SQLite through GRDB): what each stage has finished, for which partition,
/// from which inputs. A stage skips a partition whose recorded input hash equals the current one
/// and whose outputs are still in the store, so re-runs do no duplicate work and resume where a
/// failed run stopped.
public final class Catalog: Sendable {
    /// One finished unit of work.
    public struct Completion: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "stage_completion"
        public var stage: String
        /// What was processed, e.g. a partition prefix or a source file key.
        public var unit: String
        /// SHA-256 over the inputs and the stage's settings.
        public var inputHash: String
        /// Keys written, newline-separated.
        public var outputKeys: String
        /// SHA-256 over the outputs' bytes.
        public var outputHash: String
        public var rows: Int
        /// Wall-clock time of completion (ISO 8601); informational only.
        public var completedAt: String

        public init(stage: String, unit: String, inputHash: String, outputKeys: String, outputHash: String, rows: Int, completedAt: String) {
            self.stage = stage; self.unit = unit; self.inputHash = inputHash; self.outputKeys = outputKeys
            self.outputHash = outputHash; self.rows = rows; self.completedAt = completedAt
        }

        public var outputKeyList: [String] { outputKeys.split(separator: "\n").map(String.init) }
    }

    private let queue: DatabaseQueue
    private let observers = Mutex<[@Sendable (Completion) -> Void]>([])

    /// Calls `observer` right after each unit this process records as finished (`conviction batch
    /// work` reports its commits this way, one line per unit, as they happen).
    public func observeRecords(_ observer: @escaping @Sendable (Completion) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// The database, for a stage that keeps tables of its own here (the ingest journal's
    /// de-duplication state); their schema is in `migrator` like every other table.
    public var database: any DatabaseWriter { queue }

    /// Opens (creating if needed) the catalog file; `nil` path gives an in-memory catalog.
    public init(path: String?) throws {
        // Several commands may use one catalog at once (a stream and a scoring run): wait for
        // another's write instead of failing at once.
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        if let path {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } else {
            queue = try DatabaseQueue(configuration: configuration)
        }
        try Self.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        // Never edit a shipped migration: add a new one.
        migrator.registerMigration("v1-stage-completion") { db in
            try db.create(table: "stage_completion") { t in
                t.column("stage", .text).notNull()
                t.column("unit", .text).notNull()
                t.column("inputHash", .text).notNull()
                t.column("outputKeys", .text).notNull()
                t.column("outputHash", .text).notNull()
                t.column("rows", .integer).notNull()
                t.column("completedAt", .text).notNull()
                t.primaryKey(["stage", "unit"])
            }
        }
        // The stream ingester's state, per journal (its `instance`): ids and text keys already
        // decided, with their created_at for pruning, and a few values (newest_id, last_segment).
        // Before this migration each journal kept these in `<state_dir>/state.sqlite`; the journal
        // copies such a file in when it first opens (IngestJournal.adoptLegacyState).
        migrator.registerMigration("v2-ingest-journal") { db in
            for (table, key) in [("ingest_seen_id", "id"), ("ingest_seen_text", "key")] {
                try db.create(table: table) { t in
                    t.column("journal", .text).notNull()
                    t.column(key, .integer).notNull()
                    t.column("created_at", .integer).notNull()
                    t.primaryKey(["journal", key])
                }
                try db.create(index: "\(table)_by_age", on: table, columns: ["journal", "created_at"])
            }
            try db.create(table: "ingest_meta") { t in
                t.column("journal", .text).notNull()
                t.column("key", .text).notNull()
                t.column("value", .text).notNull()
                t.primaryKey(["journal", "key"])
            }
        }
        return migrator
    }

    public func completion(stage: String, unit: String) throws -> Completion? {
        try queue.read { db in
            try Completion.filter(Column("stage") == stage && Column("unit") == unit).fetchOne(db)
        }
    }

    public func completions(stage: String) throws -> [Completion] {
        try queue.read { db in try Completion.filter(Column("stage") == stage).order(Column("unit")).fetchAll(db) }
    }

    /// Records a finished unit; on a shared store also as a marker object
    /// (`_markers/<stage>/<sha256(unit)>.json`) that other machines find.
    public func record(_ completion: Completion, store: any ObjectStore) async throws {
        if store.isShared {
            try await store.put(Self.markerKey(stage: completion.stage, unit: completion.unit), data: try JSONEncoder().encode(completion))
        }
        try await queue.write { db in try completion.upsert(db) }
        for observer in observers.withLock({ $0 }) { observer(completion) }
    }

    /// Whether `unit` was recorded as finished here or, on a shared store, by another machine
    /// (whatever its inputs were: `finished` is the check that compares them).
    public func hasRecord(stage: String, unit: String, store: any ObjectStore) async throws -> Bool {
        if try completion(stage: stage, unit: unit) != nil { return true }
        return store.isShared ? try await store.exists(Self.markerKey(stage: stage, unit: unit)) : false
    }

    static func markerKey(stage: String, unit: String) -> String {
        "_markers/\(stage)/\(ContentHasher.hash(Data(unit.utf8)).prefix(32)).json"
    }

    public func forget(stage: String, unit: String) throws {
        _ = try queue.write { db in
            try Completion.filter(Column("stage") == stage && Column("unit") == unit).deleteAll(db)
        }
    }

    /// The finished record for `unit` when it was made from the same inputs and its outputs still
    /// exist; nil means the work must be (re)done.
    public func finished(stage: String, unit: String, inputHash: String, store: any ObjectStore) async throws -> Completion? {
        var done = try completion(stage: stage, unit: unit)
        if done?.inputHash != inputHash, store.isShared {
            // Another machine may have done it: its marker is the record of truth.
            let key = Self.markerKey(stage: stage, unit: unit)
            if try await store.exists(key) { done = try? JSONDecoder().decode(Completion.self, from: try await store.get(key)) }
        }
        guard let done, done.inputHash == inputHash else { return nil }
        for key in done.outputKeyList where !(try await store.exists(key)) { return nil }
        try await queue.write { db in try done.upsert(db) }  // cache it
        return done
    }
}

/// SHA-256 content hashes, hex-encoded.
public struct ContentHasher {
    private var hasher = SHA256()
    public init() {}

    public mutating func update(_ data: Data) {
        hasher.update(data: withUnsafeBytes(of: UInt64(data.count).littleEndian) { Data($0) })
        hasher.update(data: data)
    }

    public mutating func update(_ text: String) { update(Data(text.utf8)) }

    /// `update` for data that arrives in pieces: `begin` with the whole length, then each `piece`.
    public mutating func begin(length: Int) {
        hasher.update(data: withUnsafeBytes(of: UInt64(length).littleEndian) { Data($0) })
    }

    public mutating func piece(_ data: Data) { hasher.update(data: data) }

    /// `update` with an object read in pieces; its size must be known up front.
    public mutating func update(_ reader: any ObjectReader, name: String) async throws {
        guard let size = reader.size else { throw StoreError(key: name, message: "cannot hash: the size is not known") }
        begin(length: size)
        var seen = 0
        while let chunk = try await reader.read() { piece(chunk); seen += chunk.count }
        guard seen == size else { throw StoreError(key: name, message: "read \(seen) bytes of \(size): the file changed while it was read") }
    }

    /// `hash` of an object read in pieces.
    public static func hash(_ reader: any ObjectReader, name: String) async throws -> String {
        var h = ContentHasher()
        try await h.update(reader, name: name)
        return h.finalize()
    }

    public func finalize() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }

    public static func hash(_ data: Data) -> String {
        var h = ContentHasher(); h.update(data); return h.finalize()
    }
}
