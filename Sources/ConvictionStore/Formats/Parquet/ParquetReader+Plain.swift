import Foundation

/// PLAIN values by physical type, written straight into a column's slots. Fixed-width values that
/// match the output's layout are copied in one move.
extension ParquetReader {
    protocol PlainDecoding {
        associatedtype Value: ParquetValue
        /// `count` PLAIN values at the cursor into `slots`, which start uninitialised.
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Value>, column: String) throws
        /// `count` RLE-encoded values (booleans only).
        static func rle(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Value>, scratch: Scratch, column: String) throws
    }

    enum PlainInt64: PlainDecoding {
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Int64>, column: String) throws {
            try copyFixed(&page, count: count, into: slots)
        }
    }

    enum PlainDouble: PlainDecoding {
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Double>, column: String) throws {
            try copyFixed(&page, count: count, into: slots)
        }
    }

    enum PlainInt32: PlainDecoding {
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Int64>, column: String) throws {
            let start = try page.take(try byteCount(count, 4))
            for i in 0..<count { slots[i] = Int64(Int32(littleEndian: page.bytes.loadUnaligned(fromByteOffset: start + 4 * i, as: Int32.self))) }
        }
    }

    enum PlainFloat: PlainDecoding {
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Double>, column: String) throws {
            let start = try page.take(try byteCount(count, 4))
            for i in 0..<count {
                slots[i] = Double(Float(bitPattern: UInt32(littleEndian: page.bytes.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))))
            }
        }
    }

    enum PlainBool: PlainDecoding {
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Bool>, column: String) throws {
            guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
            let start = try page.take((count + 7) / 8)
            for i in 0..<count { slots[i] = page.bytes[start + i >> 3] >> (i & 7) & 1 == 1 }
        }

        static func rle(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<Bool>, scratch: Scratch, column: String) throws {
            let bits = try scratch.indices(&page, bitWidth: 1, count: count)
            for i in 0..<count { slots[i] = bits[i] == 1 }
        }
    }

    enum PlainString: PlainDecoding {
        /// Initialises all `count` slots even when it throws (the rest with the placeholder).
        static func plain(_ page: inout RawCursor, count: Int, into slots: UnsafeMutablePointer<String>, column: String) throws {
            var i = 0
            do {
                while i < count {
                    let length = try page.uint32()
                    let start = try page.take(length)
                    let utf8 = UnsafeBufferPointer(start: (page.bytes.baseAddress! + start).assumingMemoryBound(to: UInt8.self), count: length)
                    // ASCII (the common case) needs no validation; `String(validating:)` is generic and slow.
                    guard let text = isASCII(utf8) ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self) else {
                        throw ParquetFailure("column \(column) holds a value that is not UTF-8 (page offset \(start))")
                    }
                    (slots + i).initialize(to: text)
                    i += 1
                }
            } catch {
                (slots + i).initialize(repeating: "", count: count - i)
                throw error
            }
        }
    }
}

extension ParquetReader.PlainString {
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var high: UInt8 = 0
        for byte in bytes { high |= byte }
        return high < 0x80
    }
}

extension ParquetReader.PlainDecoding {
    static func rle(_ page: inout ParquetReader.RawCursor, count: Int, into slots: UnsafeMutablePointer<Value>,
                    scratch: ParquetReader.Scratch, column: String) throws {
        throw ParquetFailure("unsupported encoding RLE in column \(column)")
    }

    static func byteCount(_ count: Int, _ width: Int) throws -> Int {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard count >= 0, !overflow else { throw ParquetFailure("bad value count \(count)") }
        return bytes
    }

    /// Little-endian 8-byte values, moved as they are stored.
    static func copyFixed<T>(_ page: inout ParquetReader.RawCursor, count: Int, into slots: UnsafeMutablePointer<T>) throws {
        let bytes = try byteCount(count, 8)
        let start = try page.take(bytes)
        guard count > 0 else { return }
        #if _endian(little)
        UnsafeMutableRawPointer(slots).copyMemory(from: page.bytes.baseAddress! + start, byteCount: bytes)
        #else
        for i in 0..<count {
            let raw = UInt64(littleEndian: page.bytes.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self))
            withUnsafeBytes(of: raw) { UnsafeMutableRawPointer(slots + i).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        }
        #endif
    }
}
