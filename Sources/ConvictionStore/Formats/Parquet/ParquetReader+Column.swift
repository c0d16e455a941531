import Foundation

/// One column decoded across its row groups straight into its final array: pages are decompressed,
/// their definition levels read (a page whose levels are all 1 is taken as having none), and PLAIN
/// or dictionary values appended in place, so no intermediate arrays are built on the common paths.
extension ParquetReader {
    /// Appends `count` PLAIN values at the cursor to the output, for one output type.
    struct PlainReader<T>: Sendable {
        let append: @Sendable (inout ByteCursor, Int, inout [T?]) throws -> Void
        /// RLE-encoded values (booleans only).
        var appendRLE: (@Sendable (inout ByteCursor, Int, inout [T?]) throws -> Void)? = nil
    }

    struct ColumnDecoder: Sendable {
        /// The whole file; each chunk is copied out on the thread that decodes it.
        let file: Data
        let leaf: Leaf
        let dataEnd: Int
        /// The column's chunk in each row group, with the group's row count.
        let chunks: [(group: Int, chunk: ThriftStruct, rows: Int)]

        static let codecNames = ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"]
        static let encodingNames = [
            "PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
            "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT",
        ]

        static func label(_ names: [String], _ code: Int) -> String { names.indices.contains(code) ? names[code] : "#\(code)" }

        func decode() throws -> ParquetValues {
            switch leaf.kind {
            case .bool: return .bool(try read(Self.plainBool))
            case .int: return .int64(try read(leaf.physical == 1 ? Self.plainInt32 : Self.plainInt64))
            case .double: return .double(try read(leaf.physical == 4 ? Self.plainFloat : Self.plainDouble))
            case .string: return .string(try read(Self.plainString(leaf.name)))
            case .timestamp(let multiply, let divide):
                var values = try read(Self.plainInt64)
                for i in values.indices {
                    guard let value = values[i] else { continue }
                    // Floor division keeps instants before 1970 on the earlier microsecond.
                    let (product, overflow) = value.multipliedReportingOverflow(by: multiply)
                    guard !overflow else { throw ParquetFailure("timestamp \(value) overflows microseconds") }
                    values[i] = product >= 0 || divide == 1 ? product / divide : (product - divide + 1) / divide
                }
                return .timestamp(values)
            }
        }

        func read<T>(_ plain: PlainReader<T>) throws -> [T?] {
            var out: [T?] = []
            // A hint only: a corrupt row count must not reserve more than the file could hold.
            out.reserveCapacity(min(chunks.reduce(0) { $0 + max(0, $1.rows) }, file.count * 8 + 1024))
            for (group, chunk, rows) in chunks {
                let before = out.count
                try readChunk(chunk, group: group, plain: plain, into: &out)
                guard out.count - before == rows else {
                    throw ParquetFailure("column \(leaf.name), row group \(group): read \(out.count - before) values for \(rows) rows")
                }
            }
            return out
        }

        private func readChunk<T>(_ chunk: ThriftStruct, group: Int, plain: PlainReader<T>, into out: inout [T?]) throws {
            let place = "column \(leaf.name), row group \(group)"
            guard chunk.string(1) == nil else { throw ParquetFailure("\(place): column data in another file is not supported") }
            guard let meta = chunk.structure(3), let dataOffset = meta.int(9), let codec = meta.int(4),
                  let total = meta.int(7), let valueCount = meta.int(5)
            else { throw ParquetFailure("\(place): column metadata missing") }
            guard [0, 1, 2, 6].contains(codec) else {
                throw ParquetFailure("unsupported compression codec \(Self.label(Self.codecNames, codec)) in column \(leaf.name)")
            }
            var start = dataOffset
            if let dictionaryOffset = meta.int(11), dictionaryOffset >= 4 { start = min(start, dictionaryOffset) }
            guard start >= 4, total >= 0, start <= dataEnd - total else {
                throw ParquetFailure("truncated: \(place) spans bytes \(start)..<\(start + total), data ends at \(dataEnd)")
            }
            let bytes = [UInt8](file[(file.startIndex + start)..<(file.startIndex + start + total)])
            var cursor = ByteCursor(bytes)
            var dictionary: [T]?
            var read = 0
            while read < valueCount {
                let pageStart = start + cursor.position
                do {
                    guard cursor.remaining > 0 else { throw ParquetFailure("chunk ends after \(read) of \(valueCount) values") }
                    var thrift = ThriftDecoder(bytes, from: cursor.position, to: cursor.end)
                    let header = try thrift.readStruct()
                    cursor.position = thrift.position
                    guard let type = header.int(1), let rawSize = header.int(2), let storedSize = header.int(3) else {
                        throw ParquetFailure("page header lacks type or sizes")
                    }
                    let body = try cursor.take(storedSize)
                    switch type {
                    case 2:
                        let count = header.structure(7)?.int(1) ?? 0
                        guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
                        var page = ByteCursor(try decompress(codec, bytes[body], size: rawSize))
                        var entries: [T?] = []
                        try plain.append(&page, count, &entries)
                        dictionary = entries.compactMap { $0 }
                    case 0:
                        guard let info = header.structure(5), let count = info.int(1), let encoding = info.int(2) else {
                            throw ParquetFailure("data page header missing")
                        }
                        guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
                        var page = ByteCursor(try decompress(codec, bytes[body], size: rawSize))
                        var levels: [UInt8]?
                        if leaf.nullable {
                            guard info.int(3) == 3 else { throw ParquetFailure("definition levels must be RLE-encoded") }
                            let length = try page.uint32()
                            var levelCursor = ByteCursor(page.bytes, from: page.position, to: page.position + length)
                            _ = try page.take(length)
                            levels = try levelCursor.levels(count: count)
                        }
                        try values(&page, encoding: encoding, count: count, levels: levels, dictionary: dictionary, plain: plain, into: &out)
                        read += count
                    case 3:
                        guard let info = header.structure(8), let count = info.int(1), let encoding = info.int(4),
                              let levelsLength = info.int(5), let repetitionLength = info.int(6)
                        else { throw ParquetFailure("data page v2 header missing") }
                        guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
                        // v2 keeps levels outside the compressed part, without a length prefix.
                        let levelsStart = body.lowerBound + repetitionLength
                        var levelCursor = ByteCursor(bytes, from: levelsStart, to: levelsStart + levelsLength)
                        guard repetitionLength >= 0, levelsLength >= 0, levelCursor.end <= body.upperBound else {
                            throw ParquetFailure("level lengths exceed page size")
                        }
                        let levels = leaf.nullable && levelsLength > 0 ? try levelCursor.levels(count: count) : nil
                        let valueBytes = bytes[levelCursor.end..<body.upperBound]
                        var page = info.bool(7) == false || codec == 0
                            ? ByteCursor(Array(valueBytes))
                            : ByteCursor(try decompress(codec, valueBytes, size: rawSize - levelsLength - repetitionLength))
                        try values(&page, encoding: encoding, count: count, levels: levels, dictionary: dictionary, plain: plain, into: &out)
                        read += count
                    default:
                        continue  // index pages carry nothing we need
                    }
                } catch let failure as ParquetFailure {
                    throw ParquetFailure("\(place), page at byte \(pageStart): \(failure.message)")
                }
            }
        }

        private func decompress(_ codec: Int, _ input: ArraySlice<UInt8>, size: Int) throws -> [UInt8] {
            guard size >= 0 else { throw ParquetFailure("negative page size \(size)") }
            let output: [UInt8]
            switch codec {
            case 1: output = try Snappy.decompress(input)
            case 6: return try Zstd.decompress(input, size: size)
            case 2:
                do { output = [UInt8](try Gzip.decompress(Data(input))) } catch {
                    throw ParquetFailure("gzip: \(error)")
                }
            default: output = Array(input)
            }
            guard output.count == size else {
                throw ParquetFailure("page holds \(output.count) bytes after decompression, header says \(size)")
            }
            return output
        }

        /// A page's `count` slots: values appended in place when every slot is present, otherwise the
        /// present values decoded first and nulls interleaved by the levels.
        private func values<T>(_ page: inout ByteCursor, encoding: Int, count: Int, levels: [UInt8]?, dictionary: [T]?,
                               plain: PlainReader<T>, into out: inout [T?]) throws {
            guard let levels else {
                return try presentValues(&page, encoding: encoding, count: count, dictionary: dictionary, plain: plain, into: &out)
            }
            var present: [T?] = []
            var presentCount = 0
            for level in levels where level == 1 { presentCount += 1 }
            present.reserveCapacity(presentCount)
            try presentValues(&page, encoding: encoding, count: presentCount, dictionary: dictionary, plain: plain, into: &present)
            guard present.count == presentCount else { throw ParquetFailure("page holds \(present.count) values for \(presentCount) present slots") }
            var next = 0
            for level in levels {
                if level == 1 {
                    out.append(present[next])
                    next += 1
                } else {
                    out.append(nil)
                }
            }
        }

        private func presentValues<T>(_ page: inout ByteCursor, encoding: Int, count: Int, dictionary: [T]?,
                                      plain: PlainReader<T>, into out: inout [T?]) throws {
            switch encoding {
            case 0:
                try plain.append(&page, count, &out)
            case 2, 8:
                guard let dictionary else { throw ParquetFailure("dictionary-encoded page without a dictionary page") }
                let entries = dictionary.count
                try page.hybrid(bitWidth: Int(try page.byte()), count: count, run: { index, length in
                    guard index < entries else { throw ParquetFailure("dictionary index \(index) out of range (\(entries) entries)") }
                    out.append(contentsOf: repeatElement(Optional(dictionary[index]), count: length))
                }, value: { index in
                    guard index < entries else { throw ParquetFailure("dictionary index \(index) out of range (\(entries) entries)") }
                    out.append(dictionary[index])
                })
            case 3 where plain.appendRLE != nil:
                // RLE booleans (written by some v2 writers) carry a 4-byte length prefix.
                _ = try page.uint32()
                try plain.appendRLE!(&page, count, &out)
            default:
                throw ParquetFailure("unsupported encoding \(Self.label(Self.encodingNames, encoding)) in column \(leaf.name)")
            }
        }

        // MARK: PLAIN values by physical type

        static func fixed<T, Raw: FixedWidthInteger>(_: Raw.Type, _ convert: @escaping @Sendable (Raw) -> T) -> PlainReader<T> {
            PlainReader { page, count, out in
                guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
                let width = MemoryLayout<Raw>.size
                let base = try page.take(count * width).lowerBound
                page.bytes.withUnsafeBytes { raw in
                    out.append(contentsOf: (0..<count).lazy.map { i in
                        Optional(convert(Raw(littleEndian: raw.loadUnaligned(fromByteOffset: base + i * width, as: Raw.self))))
                    })
                }
            }
        }

        static let plainInt32 = fixed(Int32.self) { Int64($0) }
        static let plainInt64 = fixed(Int64.self) { $0 }
        static let plainFloat = fixed(UInt32.self) { Double(Float(bitPattern: $0)) }
        static let plainDouble = fixed(UInt64.self) { Double(bitPattern: $0) }

        static let plainBool = PlainReader<Bool>(append: { page, count, out in
            guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
            let range = try page.take((count + 7) / 8)
            let bytes = page.bytes
            for i in 0..<count { out.append(bytes[range.lowerBound + i >> 3] >> (i & 7) & 1 == 1) }
        }, appendRLE: { page, count, out in
            try page.hybrid(bitWidth: 1, count: count, run: { value, length in out.append(contentsOf: repeatElement(Optional(value == 1), count: length)) },
                            value: { out.append($0 == 1) })
        })

        static func plainString(_ column: String) -> PlainReader<String> {
            PlainReader { page, count, out in
                guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
                let bytes = page.bytes
                for _ in 0..<count {
                    let range = try page.take(try page.uint32())
                    let text = String(decoding: bytes[range], as: UTF8.self)
                    // Decoding repairs invalid UTF-8; any change means the bytes were not text.
                    guard text.utf8.elementsEqual(bytes[range]) else {
                        throw ParquetFailure("column \(column) holds a value that is not UTF-8 (page offset \(range.lowerBound))")
                    }
                    out.append(text)
                }
            }
        }
    }
}
