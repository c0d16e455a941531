import Foundation

/// The pieces a page is decoded with: schema leaves, the byte cursor that reads varints and
/// RLE/bit-packed runs, and the per-thread scratch that pages are decompressed into.
extension ParquetReader {
    /// A leaf column of the schema and how its physical values map to `ParquetValues`.
    struct Leaf: Sendable {
        enum Kind: Sendable { case bool, int, double, string, timestamp(microsPerUnit: Int64, unitsPerMicro: Int64) }
        let name: String
        let physical: Int
        let nullable: Bool
        let kind: Kind

        var isTimestamp: Bool { if case .timestamp = kind { true } else { false } }
    }

    /// A read position within borrowed bytes, bounded by `end`.
    struct RawCursor {
        let bytes: UnsafeRawBufferPointer
        var position: Int
        let end: Int

        init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
            self.bytes = bytes
            self.end = min(max(end ?? bytes.count, 0), bytes.count)
            position = min(max(start, 0), self.end)
        }

        var remaining: Int { end - position }

        /// Skips `count` bytes and returns where they start.
        mutating func take(_ count: Int) throws -> Int {
            guard count >= 0, count <= remaining else {
                throw ParquetFailure("needs \(count) bytes at offset \(position) but only \(remaining) remain")
            }
            defer { position += count }
            return position
        }

        mutating func byte() throws -> UInt8 { bytes[try take(1)] }

        mutating func uint32() throws -> Int {
            Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)))
        }

        mutating func varint() throws -> Int {
            var result = 0
            for shift in stride(from: 0, through: 56, by: 7) {
                let b = try byte()
                result |= Int(b & 0x7F) << shift
                if b & 0x80 == 0 && result >= 0 { return result }
            }
            throw ParquetFailure("bad varint at offset \(position)")
        }

        /// `count` values of the RLE/bit-packed hybrid encoding (levels, dictionary indices, RLE
        /// booleans) into `out`: runs are filled, bit-packed groups unpacked a 64-bit load per value.
        mutating func hybrid(bitWidth: Int, count: Int, into out: UnsafeMutablePointer<UInt32>) throws {
            guard (0...32).contains(bitWidth), count >= 0 else { throw ParquetFailure("bad bit width \(bitWidth) or count \(count)") }
            var done = 0
            let mask = UInt64(1) << bitWidth - 1
            while done < count {
                let header = try varint()
                if header & 1 == 0 {
                    // RLE run: one value, stored in ceil(bitWidth / 8) little-endian bytes.
                    let stored = try take((bitWidth + 7) / 8)
                    var value: UInt32 = 0
                    for i in (stored..<(stored + (bitWidth + 7) / 8)).reversed() { value = value << 8 | UInt32(bytes[i]) }
                    let length = min(header >> 1, count - done)
                    (out + done).update(repeating: value, count: length)
                    done += length
                } else {
                    // Bit-packed run: groups of 8 values, LSB first. Writers may trim the last group's padding.
                    let groups = min(header >> 1, count)  // bounds the products below
                    let runStart = position, runBytes = min(groups * bitWidth, remaining)
                    let wanted = min(groups * 8, count - done)
                    guard bitWidth > 0 else {
                        (out + done).update(repeating: 0, count: wanted)
                        done += wanted
                        continue
                    }
                    guard wanted * bitWidth <= runBytes * 8 else {
                        throw ParquetFailure("bit-packed run ends early at offset \(position + runBytes)")
                    }
                    let base = bytes.baseAddress! + runStart
                    for j in 0..<wanted {
                        let bit = j * bitWidth, byte = bit >> 3
                        let word: UInt64
                        if byte + 8 <= runBytes {
                            word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: byte, as: UInt64.self))
                        } else {
                            var w: UInt64 = 0
                            for k in stride(from: min(runBytes, byte + 8) - 1, through: byte, by: -1) { w = w << 8 | UInt64(base.load(fromByteOffset: k, as: UInt8.self)) }
                            word = w
                        }
                        out[done + j] = UInt32(truncatingIfNeeded: (word >> UInt64(bit & 7)) & mask)
                    }
                    done += wanted
                    position = runStart + runBytes
                }
            }
        }
    }

    /// Growable buffers one thread decodes pages with: the decompressed page, definition levels and
    /// dictionary indices. Reused from page to page and chunk to chunk (`ScratchPool`), so a large
    /// file does not allocate, and fault in, fresh memory for every page.
    final class Scratch {
        private var page = Buffer<UInt8>(), levelWords = Buffer<UInt32>(), indexWords = Buffer<UInt32>()

        struct Buffer<T> {
            var pointer: UnsafeMutablePointer<T>?
            var capacity = 0

            mutating func reserve(_ count: Int) throws -> UnsafeMutablePointer<T> {
                if let pointer, capacity >= count { return pointer }
                free(pointer)
                pointer = nil
                capacity = 0
                let (bytes, overflow) = MemoryLayout<T>.stride.multipliedReportingOverflow(by: max(count, 1))
                guard !overflow, let memory = malloc(bytes) else { throw ParquetFailure("cannot allocate \(count) scratch values (corrupt size?)") }
                pointer = memory.bindMemory(to: T.self, capacity: max(count, 1))
                capacity = count
                return pointer!
            }
        }

        deinit {
            free(page.pointer)
            free(levelWords.pointer)
            free(indexWords.pointer)
        }

        /// A page's bytes after decompression: the stored bytes themselves when uncompressed.
        func decompress(_ codec: Int, _ stored: UnsafeRawBufferPointer, size: Int) throws -> UnsafeRawBufferPointer {
            guard size >= 0 else { throw ParquetFailure("negative page size \(size)") }
            let copied: [UInt8]
            switch codec {
            case 0:
                guard stored.count == size else { throw ParquetFailure("page holds \(stored.count) bytes, header says \(size)") }
                return stored
            case 6:
                let output = try page.reserve(size)
                try Zstd.decompress(stored, into: output, size: size)
                return UnsafeRawBufferPointer(start: output, count: size)
            case 1: copied = try Snappy.decompress(ArraySlice(stored))
            default:
                do { copied = [UInt8](try Gzip.decompress(Data(stored))) } catch { throw ParquetFailure("gzip: \(error)") }
            }
            guard copied.count == size else { throw ParquetFailure("page holds \(copied.count) bytes after decompression, header says \(size)") }
            let output = try page.reserve(size)
            copied.withUnsafeBufferPointer { output.update(from: $0.baseAddress!, count: size) }
            return UnsafeRawBufferPointer(start: output, count: size)
        }

        /// Definition levels (bit width 1) of `count` slots; nil when every slot is present.
        func levels(_ cursor: inout RawCursor, count: Int) throws -> UnsafeBufferPointer<UInt32>? {
            // The common page without nulls: one RLE run of 1s covering every slot, read without expanding it.
            var peek = cursor
            if let header = try? peek.varint(), header & 1 == 0, header >> 1 >= count, (try? peek.byte()) == 1 {
                cursor = peek
                return nil
            }
            let out = try levelWords.reserve(count)
            try cursor.hybrid(bitWidth: 1, count: count, into: out)
            let levels = UnsafeBufferPointer(start: out, count: count)
            return levels.allSatisfy { $0 == 1 } ? nil : levels
        }

        /// `count` dictionary indices, or RLE booleans.
        func indices(_ cursor: inout RawCursor, bitWidth: Int, count: Int) throws -> UnsafeBufferPointer<UInt32> {
            let out = try indexWords.reserve(count)
            try cursor.hybrid(bitWidth: bitWidth, count: count, into: out)
            return UnsafeBufferPointer(start: out, count: count)
        }
    }

    /// Scratch handed to each unit of work and taken back, so there are only as many as threads.
    final class ScratchPool: @unchecked Sendable {
        private var idle: [Scratch] = []
        private let lock = NSLock()
        func take() -> Scratch { lock.withLock { idle.popLast() } ?? Scratch() }
        func give(_ scratch: Scratch) { lock.withLock { idle.append(scratch) } }
    }
}
