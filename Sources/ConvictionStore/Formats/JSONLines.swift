import Foundation

/// Newline-delimited JSON, gzip-compressed: the raw store's format.
public enum JSONLines {
    /// One line of a file, numbered from 1 so errors can name it.
    public struct Line: Sendable {
        public let number: Int
        public let bytes: Data
        public var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    public struct ReadResult: Sendable {
        public let lines: [Line]
        /// Set when the file ended early (truncated gzip, or a last line with no newline in a
        /// truncated file); `lines` then holds every complete line before the damage.
        public let damage: String?
    }

    public static func encode(_ lines: [Data], gzip: Bool = true) throws -> Data {
        var out = Data()
        out.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for line in lines { out.append(line); out.append(0x0A) }
        return gzip ? try Gzip.compress(out) : out
    }

    /// Reads every complete line; never throws on damage, reports it instead so callers can keep
    /// the good lines and quarantine the rest.
    public static func read(_ data: Data, gzipped: Bool) -> ReadResult {
        var body = data
        var damage: String?
        if gzipped {
            let (output, error) = Gzip.decompressPartial(data)
            body = output
            if let error { damage = error.description }
        }
        var lines: [Line] = []
        var number = 0
        let start = eachLine(in: body, number: &number) { lines.append($0) }
        if start < body.endIndex {
            number += 1
            // A plain file may simply lack its final newline; in a damaged file the last line is
            // partial, kept for the quarantine and flagged.
            lines.append(Line(number: number, bytes: Data(body[start...])))
            if damage != nil { damage! += "; line \(number) is incomplete" }
        }
        return ReadResult(lines: lines, damage: damage)
    }

    /// Reads an object's lines a piece at a time (gzip or not, as its first bytes tell), handing each
    /// complete line to `body`; the bytes are valid during the call only. Returns the damage, as
    /// `read` reports it, instead of throwing; a read error is thrown.
    public static func forEachLine(of reader: any ObjectReader, _ body: (Line) throws -> Void) async throws -> String? {
        var inflater: Gzip.Inflater?
        var decided = false
        var pending = Data()
        var number = 0
        var damage: String?
        func emit(all: Bool) throws {
            let start = try eachLine(in: pending, number: &number, body)
            pending.removeSubrange(..<start)
            if all && !pending.isEmpty {
                number += 1
                try body(Line(number: number, bytes: pending))
                if damage != nil { damage! += "; line \(number) is incomplete" }
                pending = Data()
            }
        }
        while let chunk = try await reader.read() {
            if !decided {
                decided = true
                if chunk.count >= 2 && chunk[chunk.startIndex] == 0x1F && chunk[chunk.startIndex + 1] == 0x8B { inflater = try Gzip.Inflater() }
            }
            if let inflater {
                do { try inflater.inflate(chunk) { pending.append(contentsOf: $0) } } catch { damage = "\(error)"; break }
            } else {
                pending.append(chunk)
            }
            try emit(all: false)
        }
        if damage == nil, let inflater {
            do { try inflater.finish() } catch { damage = "\(error)" }
        }
        try emit(all: true)
        return damage
    }

    /// Hands each complete line of `data` to `body`, numbered on from `number` (empty lines are
    /// counted, not handed over), and returns the index just past the last newline. A line is a
    /// slice that shares `data`'s buffer: no copy per line.
    public static func eachLine(in data: Data, number: inout Int, _ body: (Line) throws -> Void) rethrows -> Data.Index {
        var count = number
        defer { number = count }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Data.Index in
            var start = 0
            while start < raw.count, let hit = memchr(raw.baseAddress! + start, 0x0A, raw.count - start) {
                let end = raw.baseAddress!.distance(to: UnsafeRawPointer(hit))
                count += 1
                if end > start { try body(Line(number: count, bytes: data[(data.startIndex + start)..<(data.startIndex + end)])) }
                start = end + 1
            }
            return data.startIndex + start
        }
    }
}
