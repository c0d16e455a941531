import ConvictionCore
import ConvictionStore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Partitions too large to hold, on their way to the store. Each object's lines are gathered into
/// blocks (`SpillGatherer`); each block is compressed on a worker as a gzip member of its own and
/// appended to one temporary file, unlinked as soon as it is opened so nothing outlives the process;
/// `write` then streams every object's members, in order, into the store. Members one after another
/// make one gzip file (RFC 1952), which gzip, zlib, Python and Conviction read as one stream.
final class SpillFile: Sendable {
    struct Member: Sendable { let seq: Int, offset: Int, length: Int }
    struct Job: Sendable { let key: String, seq: Int, lines: Data }

    let fd: Int32
    let state = Mutex<(size: Int, members: [String: [Member]])>((0, [:]))

    init() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(".conviction-spill-\(UUID().uuidString)").path
        fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw StoreError(key: path, message: "cannot create a spill file: \(String(cString: strerror(errno)))") }
        unlink(path)
    }

    deinit { close(fd) }

    /// Compresses a block and appends it; safe from several workers at once.
    func compress(_ job: Job, with compressor: Gzip.MemberCompressor) throws {
        let member = try compressor.compress(job.lines)
        let offset = state.withLock { state -> Int in
            defer { state.size += member.count }
            return state.size
        }
        try member.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                guard n > 0 else { throw StoreError(key: job.key, message: "spill write failed: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
        state.withLock { $0.members[job.key, default: []].append(Member(seq: job.seq, offset: offset, length: member.count)) }
    }

    /// Streams every object into the store, in key order; returns the keys and a hash over their bytes.
    func write(to store: any ObjectStore) async throws -> (keys: [String], hash: String) {
        let all = state.withLock { $0.members }
        let keys = all.keys.sorted()
        var hasher = ContentHasher()
        for key in keys {
            let members = all[key]!.sorted { $0.seq < $1.seq }
            hasher.begin(length: members.reduce(0) { $0 + $1.length })
            try await store.write(key) { writer in
                for member in members {
                    let bytes = try read(member, key: key)
                    hasher.piece(bytes)
                    try await writer.write(bytes)
                }
            }
        }
        return (keys, hasher.finalize())
    }

    func read(_ member: Member, key: String) throws -> Data {
        var bytes = Data(count: member.length)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, member.length, off_t(member.offset)) }
        guard n == member.length else { throw StoreError(key: key, message: "spill read failed: \(String(cString: strerror(errno)))") }
        return bytes
    }
}

/// Gathers lines per partition into blocks for `SpillFile`: a partition's block is ready at
/// `blockBytes`; when all pending blocks together pass `budget`, the partitions written to least
/// recently are sent as they are until half the budget is left (in an archive in time order, the
/// days already past), so the busy partitions keep filling whole blocks.
struct SpillGatherer {
    let part: String
    let quarantineKey: String
    let blockBytes: Int
    let budget: Int
    var pending: [Partition: Data] = [:]
    var touched: [Partition: Int] = [:]
    var touches = 0
    var quarantine = Data()
    var pendingBytes = 0
    var sequence: [String: Int] = [:]
    var ready: [SpillFile.Job] = []

    init(partName: String, stage: String, blockBytes: Int, budget: Int) {
        part = "part-\(partName).jsonl.gz"
        quarantineKey = Dataset.quarantine.rawValue + "/\(stage)/" + part
        self.blockBytes = blockBytes; self.budget = budget
    }

    mutating func add(_ line: Data, to partition: Partition) {
        pending[partition, default: Data()].append(line)
        pending[partition]!.append(0x0A)
        pendingBytes += line.count + 1
        touches += 1
        touched[partition] = touches
        if pending[partition]!.count >= blockBytes { send(partition) }
        if pendingBytes > budget { relieve() }
    }

    mutating func quarantine(_ line: Data) {
        quarantine.append(line)
        quarantine.append(0x0A)
        pendingBytes += line.count + 1
        if quarantine.count >= blockBytes { sendQuarantine() }
        if pendingBytes > budget { relieve() }
    }

    /// Sends the least recently written partitions' blocks until half the budget is left.
    mutating func relieve() {
        sendQuarantine()
        for partition in pending.keys.sorted(by: { touched[$0, default: 0] < touched[$1, default: 0] }) where pendingBytes > budget / 2 {
            send(partition)
        }
    }

    /// Sends every pending block.
    mutating func flush() {
        for partition in pending.keys.sorted() { send(partition) }
        sendQuarantine()
    }

    mutating func take() -> [SpillFile.Job] { defer { ready = [] }; return ready }

    private mutating func send(_ partition: Partition) {
        touched[partition] = nil
        guard let lines = pending.removeValue(forKey: partition), !lines.isEmpty else { return }
        job(partition.prefix + part, lines)
    }

    private mutating func sendQuarantine() {
        guard !quarantine.isEmpty else { return }
        job(quarantineKey, quarantine)
        quarantine = Data()
    }

    private mutating func job(_ key: String, _ lines: Data) {
        let seq = sequence[key, default: 0]
        sequence[key] = seq + 1
        pendingBytes -= lines.count
        ready.append(SpillFile.Job(key: key, seq: seq, lines: lines))
    }
}
