import ConvictionCore
import Foundation

/// Leases on units of work, kept in the object store so workers on several machines can share one
/// queue. A unit's lease is a chain of immutable records, `_leases/<queue>/<unit hash>/<generation>.json`;
/// taking, renewing or releasing a lease writes the next generation with an exclusive create
/// (`ObjectStore.create`), so of two workers racing for a unit exactly one wins. No record is ever
/// overwritten, which is why plain `If-None-Match` is enough and no compare-and-swap is needed.
///
/// A lease is free when its newest record is released, expired, or held by a process on this host
/// that no longer exists (a worker killed with SIGKILL is taken over at once, not after its TTL).
/// Expiry compares wall clocks: keep the TTL well above the clock skew between machines.
public struct LeaseBoard: Sendable {
    public struct Record: Codable, Sendable, Equatable {
        public var unit: String
        public var worker: String
        public var host: String
        public var pid: Int32
        public var generation: Int
        /// Milliseconds since 1970.
        public var expiresAt: Int64
        public var released: Bool
    }

    /// A lease this worker holds.
    public struct Lease: Sendable, Equatable {
        public let unit: String
        public let generation: Int
        public let expiresAt: Int64
    }

    /// Who holds a unit another worker asked for, and until when.
    public struct Holder: Sendable, Equatable {
        public let worker: String
        public let expiresAt: Int64
        public init(worker: String, expiresAt: Int64) { self.worker = worker; self.expiresAt = expiresAt }
    }

    public enum Attempt: Sendable, Equatable {
        case acquired(Lease)
        case busy(Holder)
    }

    public struct LeaseLost: ConvictionError {
        public var errorCode: ErrorCode { .conflict }
        public let unit: String
        public var description: String { "lease on \(unit) was taken by another worker (this one stalled past its TTL)" }
    }

    public let store: any ObjectStore
    public let queue: String
    public let worker: String
    public let ttl: Duration
    let host: String
    let pid: Int32

    public init(store: any ObjectStore, queue: String, worker: String, ttl: Duration,
                host: String = LeaseBoard.localHost, pid: Int32 = ProcessInfo.processInfo.processIdentifier) {
        self.store = store; self.queue = queue; self.worker = worker; self.ttl = ttl; self.host = host; self.pid = pid
    }

    /// Where pids can be compared: the host name, its boot and the pid namespace. Containers that
    /// share a host name have pid namespaces of their own, so their pids are never taken for dead.
    public static let localHost: String = {
        var id = ProcessInfo.processInfo.hostName
        if let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) {
            id += "/boot-" + boot.trimmingCharacters(in: .whitespacesAndNewlines).prefix(8)
        }
        if let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") { id += "/" + namespace }
        return id
    }()

    /// `<host>-<pid>`: unique among live workers, and recognisable in the lease records.
    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    func folder(_ unit: String) -> String {
        "_leases/\(queue)/\(ContentHasher.hash(Data(unit.utf8)).prefix(32))/"
    }

    func key(_ unit: String, generation: Int) -> String {
        folder(unit) + String(format: "%010d.json", generation)
    }

    var ttlMillis: Int64 { ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000 }

    /// The newest record of a unit's chain, nil when it never had a lease.
    public func newest(_ unit: String) async throws -> Record? {
        for attempt in 0..<3 {
            let keys = try await store.list(prefix: folder(unit)).filter { $0.hasSuffix(".json") }
            guard let last = keys.max() else { return nil }
            // A renewal may delete what was listed as newest a moment ago: list again.
            guard let data = try? await store.get(last) else { if attempt < 2 { continue } else { break } }
            return try JSONDecoder().decode(Record.self, from: data)
        }
        throw StoreError(key: folder(unit), message: "lease records changed while being read three times in a row")
    }

    /// The live holder of a unit's lease when it is another worker; nil when the unit is free or ours.
    public func holder(_ unit: String) async throws -> Holder? {
        guard let current = try await newest(unit), !isFree(current), !isMine(current) else { return nil }
        return Holder(worker: current.worker, expiresAt: current.expiresAt)
    }

    /// Takes the unit's lease when it is free; `.busy` names the live holder otherwise.
    public func acquire(_ unit: String) async throws -> Attempt {
        let current = try await newest(unit)
        if let current, !isFree(current) { return .busy(Holder(worker: current.worker, expiresAt: current.expiresAt)) }
        let next = (current?.generation ?? 0) + 1
        if let lease = try await write(unit, generation: next, released: false) { return .acquired(lease) }
        // Another worker wrote that generation first.
        let winner = try await newest(unit)
        return .busy(Holder(worker: winner?.worker ?? "another worker", expiresAt: winner?.expiresAt ?? 0))
    }

    /// Extends a held lease by a TTL from now; throws `LeaseLost` when another worker took it.
    public func renew(_ lease: Lease) async throws -> Lease {
        guard let renewed = try await write(lease.unit, generation: lease.generation + 1, released: false) else {
            throw LeaseLost(unit: lease.unit)
        }
        // Older generations are history; keep the chain short (best effort).
        for old in try await store.list(prefix: folder(lease.unit)) where old < key(lease.unit, generation: lease.generation) {
            try? await store.delete(old)
        }
        return renewed
    }

    /// Gives the unit back so another worker can take it at once. Released at the chain's head, so
    /// a renewal that landed after `lease` was last seen is covered too; a lease that another worker
    /// has taken meanwhile is left alone.
    public func release(_ lease: Lease) async throws {
        for _ in 0..<3 {
            guard let head = try await newest(lease.unit), isMine(head), !head.released else { return }
            if try await write(lease.unit, generation: head.generation + 1, released: true) != nil { return }
        }
    }

    func isMine(_ record: Record) -> Bool { record.worker == worker && record.host == host && record.pid == pid }

    func isFree(_ record: Record) -> Bool {
        if record.released || record.expiresAt <= Timestamps.now() { return true }
        // A worker on this host that no longer runs holds nothing.
        if record.host == host && record.pid != pid && kill(record.pid, 0) != 0 && errno == ESRCH { return true }
        return false
    }

    /// Writes the next generation; nil when another worker got there first.
    func write(_ unit: String, generation: Int, released: Bool) async throws -> Lease? {
        let key = key(unit, generation: generation)
        var record = Record(unit: unit, worker: worker, host: host, pid: pid, generation: generation,
                            expiresAt: Timestamps.now() + ttlMillis, released: released)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if try await !store.create(key, data: try encoder.encode(record)) {
            // A retried create whose first attempt landed finds its own record.
            guard let existing = try? JSONDecoder().decode(Record.self, from: try await store.get(key)), isMine(existing), existing.released == released else { return nil }
            record = existing
        }
        // Renewals delete old generations, so a worker that stalled can write a generation again:
        // the write alone proves nothing while a newer one exists.
        if let head = try await store.list(prefix: folder(unit)).filter({ $0.hasSuffix(".json") }).max(), head > key { return nil }
        return Lease(unit: unit, generation: generation, expiresAt: record.expiresAt)
    }
}
