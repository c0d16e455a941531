import Foundation

/// Decompressor for raw Snappy blocks (not the framing format), as Parquet's SNAPPY codec stores pages.
///
/// A block is a varint uncompressed length followed by elements: literals, and back-references
/// (copies) into the output produced so far.
enum Snappy {
    static func decompress(_ input: ArraySlice<UInt8>) throws -> [UInt8] {
        var pos = input.startIndex
        let end = input.endIndex

        func byte() throws -> Int {
            guard pos < end else { throw ParquetFailure("snappy data ends early") }
            defer { pos += 1 }
            return Int(input[pos])
        }
        func littleEndian(_ count: Int) throws -> Int {
            var value = 0
            for i in 0..<count { value |= try byte() << (8 * i) }
            return value
        }

        var length = 0
        for shift in stride(from: 0, through: 28, by: 7) {
            let b = try byte()
            length |= (b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            if shift == 28 { throw ParquetFailure("snappy length varint too long") }
        }
        // A literal tag covers at most 64 bytes of output per input byte, so a huge length is corrupt.
        guard length <= input.count &* 64 + 64 else { throw ParquetFailure("snappy length \(length) is implausible") }

        var output = [UInt8]()
        output.reserveCapacity(length)
        while pos < end {
            let tag = try byte()
            switch tag & 3 {
            case 0:
                var count = tag >> 2
                if count >= 60 { count = try littleEndian(count - 59) }
                count += 1
                guard count <= end - pos, output.count + count <= length else {
                    throw ParquetFailure("snappy literal of \(count) bytes overruns its data")
                }
                output.append(contentsOf: input[pos..<pos + count])
                pos += count
            default:
                let count: Int, offset: Int
                switch tag & 3 {
                case 1:
                    count = (tag >> 2 & 7) + 4
                    offset = (tag >> 5) << 8 | (try byte())
                case 2:
                    count = (tag >> 2) + 1
                    offset = try littleEndian(2)
                default:
                    count = (tag >> 2) + 1
                    offset = try littleEndian(4)
                }
                guard offset > 0, offset <= output.count, output.count + count <= length else {
                    throw ParquetFailure("snappy copy (offset \(offset), \(count) bytes) is out of range")
                }
                // Byte by byte: a copy may overlap the bytes it is producing (run-length style).
                let start = output.count - offset
                for i in 0..<count { output.append(output[start + i]) }
            }
        }
        guard output.count == length else {
            throw ParquetFailure("snappy produced \(output.count) bytes, expected \(length)")
        }
        return output
    }
}
