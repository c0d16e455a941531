import Foundation

/// The pieces a page is decoded with: schema leaves, value blocks, null interleaving and the byte
/// cursor that reads varints and RLE/bit-packed runs.
extension ParquetReader {
    /// A leaf column of the schema and how its physical values map to `ParquetValues`.
    struct Leaf {
        enum Kind { case bool, int, double, string, timestamp(microsPerUnit: Int64, unitsPerMicro: Int64) }
        let name: String
        let physical: Int
        let nullable: Bool
        let kind: Kind
    }

    /// Non-null values decoded from one page (or a dictionary), widened to the output types.
    enum Block {
        case bool([Bool]), int([Int64]), double([Double]), string([String])
    }

    /// The values of one column across row groups; only the array matching the column's kind is used.
    struct Accumulator {
        var bools: [Bool?] = [], ints: [Int64?] = [], doubles: [Double?] = [], strings: [String?] = []
        var count: Int { bools.count + ints.count + doubles.count + strings.count }

        /// Interleaves nulls: a definition level of 1 takes the next value, 0 is a null.
        mutating func append(_ block: Block, levels: [Int]?) {
            switch block {
            case .bool(let v): Self.scatter(v, levels, into: &bools)
            case .int(let v): Self.scatter(v, levels, into: &ints)
            case .double(let v): Self.scatter(v, levels, into: &doubles)
            case .string(let v): Self.scatter(v, levels, into: &strings)
            }
        }

        private static func scatter<T>(_ values: [T], _ levels: [Int]?, into out: inout [T?]) {
            guard let levels else { return out += values.map { $0 } }
            var next = 0
            for level in levels {
                if level == 1 {
                    out.append(values[next])
                    next += 1
                } else {
                    out.append(nil)
                }
            }
        }

        func values(_ kind: Leaf.Kind) throws -> ParquetValues {
            switch kind {
            case .bool: return .bool(bools)
            case .int: return .int64(ints)
            case .double: return .double(doubles)
            case .string: return .string(strings)
            case .timestamp(let multiply, let divide):
                return .timestamp(try ints.map { value in
                    guard let value else { return nil }
                    // Floor division keeps instants before 1970 on the earlier microsecond.
                    let (product, overflow) = value.multipliedReportingOverflow(by: multiply)
                    guard !overflow else { throw ParquetFailure("timestamp \(value) overflows microseconds") }
                    return product >= 0 || divide == 1 ? product / divide : (product - divide + 1) / divide
                })
            }
        }
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

        /// `count` values of the RLE/bit-packed hybrid encoding (levels, dictionary indices, RLE booleans).
        mutating func hybrid(bitWidth: Int, count: Int) throws -> [Int] {
            guard (0...32).contains(bitWidth), count >= 0 else { throw ParquetFailure("bad bit width \(bitWidth) or count \(count)") }
            var out: [Int] = []
            out.reserveCapacity(min(count, remaining * 8 + 64))
            while out.count < count {
                let header = try varint()
                if header & 1 == 0 {
                    // RLE run: one value, stored in ceil(bitWidth / 8) little-endian bytes.
                    let value = bytes[try take((bitWidth + 7) / 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
                    out += repeatElement(value, count: min(header >> 1, count - out.count))
                } else {
                    // Bit-packed run: groups of 8 values, LSB first. Writers may trim the last group's padding.
                    let groups = min(header >> 1, count)  // bounds the products below
                    let runEnd = position + min(groups * bitWidth, remaining)
                    let wanted = min(groups * 8, count - out.count)
                    var buffer: UInt64 = 0, bits = 0
                    for _ in 0..<wanted {
                        while bits < bitWidth {
                            guard position < runEnd else { throw ParquetFailure("bit-packed run ends early at offset \(position)") }
                            buffer |= UInt64(bytes[position]) << bits
                            position += 1
                            bits += 8
                        }
                        out.append(Int(buffer & (1 << bitWidth - 1)))
                        buffer >>= bitWidth
                        bits -= bitWidth
                    }
                    position = runEnd
                }
            }
            return out
        }
    }
}
