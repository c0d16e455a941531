import AsyncAlgorithms
import ConvictionCore
import ConvictionStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

extension ReplayIngestor {
    /// Whole lines of the source as read, in order (`seq`); `firstNumber` is the number of the line
    /// before the block's first. The last block also carries what followed the last newline and why
    /// the source ended early, if it did.
    struct TextBlock: Sendable {
        var seq = 0, firstNumber = 0
        var text = Data()
        var tail = Data()
        var damage: String?
        var isLast = false
    }

    /// A text block's lines, screened.
    struct LineBlock: Sendable {
        var seq = 0
        var lines: [Line] = []
        /// The number of the block's last newline in the source.
        var lastNumber = 0
        var tail = Data()
        var damage: String?
        var isLast = false
    }

    /// A non-empty line, numbered from 1 in the source, screened and with what it will be stored
    /// as prepared ahead: its raw line if it passed screening, else its quarantine record.
    struct Line: Sendable {
        let number: Int
        let bytes: Data
        let screened: PostProcessor.Screened
        let rawLine: Data?
        let quarantined: (reason: String, record: Data)?
    }

    static func quarantineRecord(_ source: String, _ number: Int, _ reason: String, _ detail: String, _ line: Data) -> Data {
        QuarantineRecord(stage: stage, source: source, line: number, reason: reason, detail: "line \(number): \(detail)",
                         raw: String(decoding: line, as: UTF8.self)).encoded()
    }

    /// Replays one source into the raw store as a bounded pipeline whose stages overlap:
    /// read and inflate (a task) → screen: parse and the memoryless filters (a worker per core) →
    /// decide in order: de-duplicate and partition (this task) → compress blocks (a worker per
    /// core) → a spill file; then each partition's blocks are streamed into its object. Channels
    /// hand over one block at a time, so memory stays the same whatever the source's size: a few
    /// blocks in flight and at most the gatherer's budget of pending lines.
    public func replay(_ source: Source, progress: (@Sendable (_ bytesRead: Int, _ size: Int?) -> Void)? = nil) async throws -> Outcome {
        let name = source.name
        var outcome = Outcome(source: name)
        let spill = try SpillFile()
        let texts = AsyncChannel<TextBlock>(), screened = AsyncChannel<LineBlock>(), jobs = AsyncChannel<SpillFile.Job>()
        let stopped = NIOLockedValueBox(false)
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        // Part names derive from the source's name, so replaying a source (say, once a truncated
        // file is whole again) overwrites its earlier output instead of adding to it.
        var gatherer = SpillGatherer(partName: String(ContentHasher.hash(Data(name.utf8)).prefix(16)), stage: Self.stage,
                                      blockBytes: blockBytes, budget: pendingBudget)
        var accepted = 0, rejected: [String: Int] = [:], sawLast = false

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { texts.finish() }
                try await Self.decompress(source, into: texts, stopped: stopped, progress: progress)
            }
            let screener = PostProcessor(symbols: symbols, filters: filters)
            group.addTask {
                defer { screened.finish() }
                await withTaskGroup(of: Void.self) { workers in
                    for _ in 0..<width {
                        workers.addTask { for await text in texts { await screened.send(Self.screen(text, screener, source: name)) } }
                    }
                }
            }
            for _ in 0..<width {
                group.addTask {
                    do {
                        let compressor = Gzip.MemberCompressor()
                        for await job in jobs { try spill.compress(job, with: compressor) }
                    } catch {
                        stopped.withLockedValue { $0 = true }
                        jobs.finish(); texts.finish(); screened.finish()
                        throw error
                    }
                }
            }
            // Duplicates are found within one source: a source's result must not depend on which
            // other sources happened to be replayed before it.
            var processor = PostProcessor(symbols: symbols, filters: filters)
            var newest = EpochMillis.min, forgotten = EpochMillis.min
            func handle(_ line: Line) {
                switch processor.decide(line.screened) {
                case .accepted(let post, let symbols):
                    newest = max(newest, post.createdAt)
                    let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(post.createdAt, Timestamps.day)))
                    let raw = line.rawLine ?? RawPostLine.encode(payload: line.bytes, receivedAt: post.receivedAt)
                    for symbol in symbols { gatherer.add(raw, to: Partition(.rawPosts, date: date, symbol: symbol)) }
                    accepted += 1
                case .skipped(let notice):
                    outcome.notices[notice, default: 0] += 1
                case .rejected(let reason, let detail, _, _):
                    if outcome.examples[reason] == nil { outcome.examples[reason] = "line \(line.number): \(detail)" }
                    rejected[reason, default: 0] += 1
                    let prepared = line.quarantined.flatMap { $0.reason == reason ? $0.record : nil }
                    gatherer.quarantine(prepared ?? Self.quarantineRecord(name, line.number, reason, detail, line.bytes))
                }
            }
            func decide(_ block: LineBlock) {
                for line in block.lines { handle(line) }
                if !block.tail.isEmpty {
                    let number = block.lastNumber + 1
                    // A plain file may simply lack its final newline; in a damaged file the last line is
                    // partial, kept for the quarantine and flagged.
                    if block.damage != nil && block.tail.last != UInt8(ascii: "}") {
                        rejected["truncated", default: 0] += 1
                        gatherer.quarantine(QuarantineRecord(stage: Self.stage, source: name, line: number, reason: "truncated",
                                                             detail: "line \(number) of a damaged file ends early", raw: String(decoding: block.tail, as: UTF8.self)).encoded())
                    } else {
                        handle(Self.prepare(number, block.tail, processor, source: name))
                    }
                }
                if let damage = block.damage {
                    outcome.failure = "\(name): \(damage)" + (block.tail.isEmpty ? "" : "; line \(block.lastNumber + 1) is incomplete")
                }
                // What is far behind the newest post is forgotten once a day of posts: memory stays
                // the same for a year of posts as for a month.
                if newest > .min && (forgotten == .min || newest - forgotten >= Timestamps.day) {
                    processor.forget(behind: newest)
                    forgotten = newest
                    // glibc keeps freed blocks in its arenas; over hours of blocks of varied sizes that
                    // grows the resident set, so what is free goes back to the system once a day of posts.
                    Self.releaseFreeMemory()
                }
                if block.isLast { gatherer.flush(); sawLast = true }
            }
            // Screened blocks arrive in any order; they are decided in the source's.
            var waiting: [Int: LineBlock] = [:], next = 0
            for await block in screened {
                waiting[block.seq] = block
                while let block = waiting.removeValue(forKey: next) {
                    next += 1
                    decide(block)
                    for job in gatherer.take() { await jobs.send(job) }
                }
            }
            jobs.finish()
            try await group.waitForAll()
        }
        // Cancelled (a stop signal) or cut short: a part of the source must not pass for all of it.
        try Task.checkCancellation()
        guard sawLast else { throw StoreError(key: name, message: "replay stopped before the end of the source") }
        outcome.accepted = accepted
        outcome.rejected = rejected
        (outcome.outputKeys, outcome.outputHash) = try await spill.write(to: store)
        return outcome
    }

    /// Screens a text block's lines; changes nothing, so blocks are screened side by side.
    static func screen(_ text: TextBlock, _ screener: PostProcessor, source: String) -> LineBlock {
        var block = LineBlock(seq: text.seq, tail: text.tail, damage: text.damage, isLast: text.isLast)
        var number = text.firstNumber
        _ = JSONLines.eachLine(in: text.text, number: &number) { line in
            block.lines.append(prepare(line.number, line.bytes, screener, source: source))
        }
        block.lastNumber = number
        return block
    }

    /// Screens a line and prepares what it will be stored as; changes nothing, so runs ahead.
    static func prepare(_ number: Int, _ bytes: Data, _ screener: PostProcessor, source: String) -> Line {
        let screened = screener.screen(bytes, receivedAt: nil)
        switch screened.verdict {
        case .post(let post, _, nil, _):
            return Line(number: number, bytes: bytes, screened: screened, rawLine: RawPostLine.encode(payload: bytes, receivedAt: post.receivedAt), quarantined: nil)
        case .post(_, _, let rejection?, _):
            return Line(number: number, bytes: bytes, screened: screened, rawLine: nil,
                        quarantined: (rejection.reason, quarantineRecord(source, number, rejection.reason, rejection.detail, bytes)))
        case .notPost(.rejected(let reason, let detail, _, _)):
            return Line(number: number, bytes: bytes, screened: screened, rawLine: nil,
                        quarantined: (reason, quarantineRecord(source, number, reason, detail, bytes)))
        case .notPost:
            return Line(number: number, bytes: bytes, screened: screened, rawLine: nil, quarantined: nil)
        }
    }

    /// glibc's `malloc_trim` (not in Swift's Glibc module, so looked up once).
    static let mallocTrim: (@convention(c) (Int) -> Int32)? = dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self) }
    static func releaseFreeMemory() { _ = mallocTrim?(0) }

    /// Progress within one large source, every five seconds: bytes read of its size, rate and ETA.
    public static func progressReport(_ name: String, _ report: @escaping @Sendable (String) -> Void) -> @Sendable (Int, Int?) -> Void {
        let started = Date()
        let last = NIOLockedValueBox(Date())
        return { read, size in
            let now = Date()
            let due = last.withLockedValue { last in
                guard now.timeIntervalSince(last) >= 5 else { return false }
                last = now
                return true
            }
            guard due else { return }
            let rate = Double(read) / max(now.timeIntervalSince(started), 0.001)
            let of = size.map { String(format: " of %.0f MB, ETA %.0fs", Double($0) / 1e6, Double($0 - read) / max(rate, 1)) } ?? ""
            report("ingest: \(name): " + String(format: "%.0f MB read", Double(read) / 1e6) + of + String(format: ", %.1f MB/s", rate / 1e6))
        }
    }

    /// Reads the source, inflates it when it is gzip (the first two bytes tell, whatever the name
    /// says) and sends blocks of whole lines. Damage (truncation, corruption) ends the source with
    /// the good lines before it; a read error is thrown.
    static func decompress(_ source: Source, into texts: AsyncChannel<TextBlock>, stopped: NIOLockedValueBox<Bool>,
                           progress: (@Sendable (Int, Int?) -> Void)?) async throws {
        let reader = try await source.open()
        let blockBytes = 1 << 20
        var pending = Data()
        pending.reserveCapacity(blockBytes + (1 << 18))
        var inflater: Gzip.Inflater?
        var decided = false
        var damage: String?
        var read = 0, seq = 0, number = 0
        /// Sends the whole lines pending; `all` also what follows the last newline, as the last block.
        func send(all: Bool) async {
            let newline = pending.lastIndex(of: 0x0A)
            var block = TextBlock(seq: seq, firstNumber: number)
            if let newline {
                block.text = Data(pending[..<(newline + 1)])
                _ = JSONLines.eachLine(in: block.text, number: &number) { _ in }  // counts the lines, for absolute numbers
                pending.removeSubrange(..<(newline + 1))
            }
            if all { block.tail = pending; block.damage = damage; block.isLast = true }
            seq += 1
            await texts.send(block)
        }
        func cut() async { if pending.count >= blockBytes, pending.contains(0x0A) { await send(all: false) } }
        while !stopped.withLockedValue({ $0 }), let chunk = try await reader.read() {
            read += chunk.count
            progress?(read, reader.size)
            if !decided {
                decided = true
                if chunk.count >= 2 && chunk[chunk.startIndex] == 0x1F && chunk[chunk.startIndex + 1] == 0x8B { inflater = try Gzip.Inflater() }
            }
            guard let inflater else { pending.append(chunk); await cut(); continue }
            // A quarter megabyte of input at a time, so a block stays near its size whatever the
            // chunk and the compression ratio.
            do {
                for offset in stride(from: 0, to: chunk.count, by: 1 << 18) {
                    let from = chunk.startIndex + offset
                    try inflater.inflate(chunk[from..<min(chunk.endIndex, from + (1 << 18))]) { pending.append(contentsOf: $0) }
                    await cut()
                }
            } catch {
                damage = "\(error)"
                break
            }
        }
        if damage == nil, let inflater {
            do { try inflater.finish() } catch { damage = "\(error)" }
        }
        await send(all: true)
    }
}
