import Foundation

/// The pieces a page is decoded with: schema leaves, value blocks, null interleaving and the byte
/// cursor that reads varints and RLE/bit-packed runs.
extension ParquetReader {
    /// A leaf column of the schema and how its physical values map to `ParquetValues`.
    struct Leaf: Sendable {
        enum Kind: Sendable { case bool, int, double, string, timestamp(microsPerUnit: Int64, unitsPerMicro: Int64) }
        let name: String
        let physical: Int
        let nullable: Bool
        let kind: Kind
    }

    /// A read position within a byte array, bounded by `end`.
    struct ByteCursor {
        let bytes: [UInt8]
        var position: Int
        var end: Int

        init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
            self.bytes = bytes
            self.position = start
            self.end = end ?? bytes.count
        }

        var remaining: Int { end - position }

        mutating func take(_ count: Int) throws -> Range<Int> {
            guard count >= 0, count <= remaining else {
                throw ParquetFailure("needs \(count) bytes at offset \(position) but only \(remaining) remain")
            }
            defer { position += count }
            return position..<position + count
        }

        mutating func byte() throws -> UInt8 { bytes[try take(1).lowerBound] }

        mutating func uint32() throws -> Int {
            let r = try take(4)
            return bytes[r].reversed().reduce(0) { $0 << 8 | Int($1) }
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
        /// booleans), handed over as they are read: a run as one value and its length, bit-packed
        /// values one by one, so callers append straight into their output.
        mutating func hybrid(bitWidth: Int, count: Int, run: (Int, Int) throws -> Void, value: (Int) throws -> Void) throws {
            guard (0...32).contains(bitWidth), count >= 0 else { throw ParquetFailure("bad bit width \(bitWidth) or count \(count)") }
            var done = 0
            let mask = UInt64(1) << bitWidth - 1
            while done < count {
                let header = try varint()
                if header & 1 == 0 {
                    // RLE run: one value, stored in ceil(bitWidth / 8) little-endian bytes.
                    let stored = try take((bitWidth + 7) / 8)
                    var v = 0
                    for i in stored.reversed() { v = v << 8 | Int(bytes[i]) }
                    let length = min(header >> 1, count - done)
                    try run(v, length)
                    done += length
                } else {
                    // Bit-packed run: groups of 8 values, LSB first. Writers may trim the last group's padding.
                    let groups = min(header >> 1, count)  // bounds the products below
                    let runEnd = position + min(groups * bitWidth, remaining)
                    let wanted = min(groups * 8, count - done)
                    var buffer: UInt64 = 0, bits = 0
                    for _ in 0..<wanted {
                        while bits < bitWidth {
                            guard position < runEnd else { throw ParquetFailure("bit-packed run ends early at offset \(position)") }
                            buffer |= UInt64(bytes[position]) << bits
                            position += 1
                            bits += 8
                        }
                        try value(Int(buffer & mask))
                        buffer >>= bitWidth
                        bits -= bitWidth
                    }
                    done += wanted
                    position = runEnd
                }
            }
        }

        /// Definition levels (bit width 1) of `count` slots; nil when every slot is present.
        mutating func levels(count: Int) throws -> [UInt8]? {
            var levels: [UInt8] = []
            var allPresent = true
            try hybrid(bitWidth: 1, count: count, run: { value, length in
                if value != 1 { allPresent = false }
                levels.append(contentsOf: repeatElement(UInt8(truncatingIfNeeded: value), count: length))
            }, value: { value in
                if value != 1 { allPresent = false }
                levels.append(UInt8(truncatingIfNeeded: value))
            })
            return allPresent ? nil : levels
        }
    }
}
