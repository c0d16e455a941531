import Foundation

/// Reads flat Parquet files: PLAIN and dictionary encodings, data pages v1 and v2,
/// UNCOMPRESSED, SNAPPY, GZIP and ZSTD codecs.
public enum ParquetReader {
    /// `source` names the file in error messages.
    public static func decode(_ data: Data, source: String) throws -> ParquetTable {
        do {
            return try FileDecoder(bytes: [UInt8](data)).decode()
        } catch let failure as ParquetFailure {
            throw ParquetError(source: source, message: failure.message)
        }
    }
}

extension ParquetReader {
    /// One decoding pass over a whole file.
    struct FileDecoder {
        let bytes: [UInt8]

        private static let typeNames = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"]
        private static let codecNames = ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"]
        private static let encodingNames = [
            "PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
            "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT",
        ]

        private static func label(_ names: [String], _ code: Int) -> String { names.indices.contains(code) ? names[code] : "#\(code)" }

        func decode() throws -> ParquetTable {
            let size = bytes.count
            guard size >= 12 else { throw ParquetFailure("truncated: file is \(size) bytes, a Parquet file needs at least 12") }
            let head = String(decoding: bytes[0..<4], as: UTF8.self), tail = String(decoding: bytes[(size - 4)...], as: UTF8.self)
            guard head == "PAR1" else { throw ParquetFailure("bad magic: file starts with \(Array(bytes[0..<4])), expected PAR1") }
            guard tail != "PARE" else { throw ParquetFailure("encrypted Parquet files are not supported") }
            guard tail == "PAR1" else { throw ParquetFailure("bad magic at end of file (truncated or not a Parquet file)") }
            var cursor = ByteCursor(bytes, from: size - 8)
            let footerLength = try cursor.uint32()
            guard footerLength <= size - 12 else {
                throw ParquetFailure("truncated: footer length \(footerLength) exceeds file size \(size)")
            }
            let footerStart = size - 8 - footerLength
            var thrift = ThriftDecoder(bytes, from: footerStart, to: size - 8)
            let meta: ThriftStruct
            do { meta = try thrift.readStruct() } catch let failure as ParquetFailure {
                throw ParquetFailure("corrupt footer at byte \(footerStart): \(failure.message)")
            }

            let leaves = try parseSchema(meta.structs(2) ?? [])
            var accumulators = Array(repeating: Accumulator(), count: leaves.count)
            for (group, rowGroup) in (meta.structs(4) ?? []).enumerated() {
                let chunks = rowGroup.structs(1) ?? []
                let rows = rowGroup.int(3) ?? 0
                guard chunks.count == leaves.count else {
                    throw ParquetFailure("row group \(group) has \(chunks.count) column chunks, schema has \(leaves.count) columns")
                }
                for (index, (leaf, chunk)) in zip(leaves, chunks).enumerated() {
                    let before = accumulators[index].count
                    try readChunk(chunk, leaf: leaf, group: group, dataEnd: footerStart, into: &accumulators[index])
                    guard accumulators[index].count - before == rows else {
                        let read = accumulators[index].count - before
                        throw ParquetFailure("column \(leaf.name), row group \(group): read \(read) values for \(rows) rows")
                    }
                }
            }

            var keyValues: [String: String] = [:]
            for pair in meta.structs(5) ?? [] {
                if let key = pair.string(1) { keyValues[key] = pair.string(2) ?? "" }
            }
            let columns = try zip(leaves, accumulators).map { leaf, accumulator in
                ParquetColumn(name: leaf.name, nullable: leaf.nullable, values: try accumulator.values(leaf.kind))
            }
            return ParquetTable(columns: columns, keyValueMetadata: keyValues)
        }

        private func parseSchema(_ schema: [ThriftStruct]) throws -> [Leaf] {
            guard let root = schema.first else { throw ParquetFailure("footer has no schema") }
            let elements = schema.dropFirst()
            // Flat means every element after the root is a leaf, and the root counts them all.
            let group = elements.first { ($0.int(5) ?? 0) > 0 }
            if let nested = group ?? (elements.count != (root.int(5) ?? 0) ? elements.first : nil) {
                throw ParquetFailure("nested schemas are not supported (column \(nested.string(4) ?? "?"))")
            }
            return try elements.map { element in
                let name = element.string(4) ?? ""
                guard element.int(3) != 2 else { throw ParquetFailure("repeated column \(name) is not supported") }
                guard let physical = element.int(1) else { throw ParquetFailure("column \(name) has no physical type") }
                let logical = element.structure(10), converted = element.int(6)
                let kind: Leaf.Kind
                switch physical {
                case 0: kind = .bool
                case 1: kind = .int
                case 2:
                    // TIMESTAMP logical type first; older files only carry converted types 9 / 10.
                    if let unit = logical?.structure(8)?.structure(2) {
                        if unit[1] != nil { kind = .timestamp(microsPerUnit: 1000, unitsPerMicro: 1) }
                        else if unit[3] != nil { kind = .timestamp(microsPerUnit: 1, unitsPerMicro: 1000) }
                        else { kind = .timestamp(microsPerUnit: 1, unitsPerMicro: 1) }
                    } else if converted == 9 {
                        kind = .timestamp(microsPerUnit: 1000, unitsPerMicro: 1)
                    } else if converted == 10 {
                        kind = .timestamp(microsPerUnit: 1, unitsPerMicro: 1)
                    } else {
                        kind = .int
                    }
                case 4, 5: kind = .double
                case 6: kind = .string
                default: throw ParquetFailure("column \(name) has unsupported physical type \(Self.label(Self.typeNames, physical))")
                }
                return Leaf(name: name, physical: physical, nullable: element.int(3) == 1, kind: kind)
            }
        }

        private func readChunk(_ chunk: ThriftStruct, leaf: Leaf, group: Int, dataEnd: Int, into out: inout Accumulator) throws {
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
            var cursor = ByteCursor(bytes, from: start, to: start + total)
            var dictionary: Block?
            var read = 0
            while read < valueCount {
                let pageStart = cursor.position
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
                        var page = ByteCursor(try decompress(codec, bytes[body], size: rawSize))
                        dictionary = try plain(&page, leaf: leaf, count: count)
                    case 0:
                        guard let info = header.structure(5), let count = info.int(1), let encoding = info.int(2) else {
                            throw ParquetFailure("data page header missing")
                        }
                        var page = ByteCursor(try decompress(codec, bytes[body], size: rawSize))
                        var levels: [Int]?
                        if leaf.nullable {
                            guard info.int(3) == 3 else { throw ParquetFailure("definition levels must be RLE-encoded") }
                            let length = try page.uint32()
                            var levelCursor = ByteCursor(page.bytes, from: page.position, to: page.position + length)
                            _ = try page.take(length)
                            levels = try levelCursor.hybrid(bitWidth: 1, count: count)
                        }
                        let present = levels?.reduce(0, +) ?? count
                        let block = try values(&page, encoding: encoding, leaf: leaf, count: present, dictionary: dictionary)
                        out.append(block, levels: levels)
                        read += count
                    case 3:
                        guard let info = header.structure(8), let count = info.int(1), let encoding = info.int(4),
                              let levelsLength = info.int(5), let repetitionLength = info.int(6)
                        else { throw ParquetFailure("data page v2 header missing") }
                        // v2 keeps levels outside the compressed part, without a length prefix.
                        let levelsStart = body.lowerBound + repetitionLength
                        var levelCursor = ByteCursor(bytes, from: levelsStart, to: levelsStart + levelsLength)
                        guard repetitionLength >= 0, levelsLength >= 0, levelCursor.end <= body.upperBound else {
                            throw ParquetFailure("level lengths exceed page size")
                        }
                        let levels = leaf.nullable && levelsLength > 0 ? try levelCursor.hybrid(bitWidth: 1, count: count) : nil
                        let valueBytes = bytes[levelCursor.end..<body.upperBound]
                        var page = info.bool(7) == false || codec == 0
                            ? ByteCursor(Array(valueBytes))
                            : ByteCursor(try decompress(codec, valueBytes, size: rawSize - levelsLength - repetitionLength))
                        let present = levels?.reduce(0, +) ?? count
                        let block = try values(&page, encoding: encoding, leaf: leaf, count: present, dictionary: dictionary)
                        out.append(block, levels: levels)
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

        private func values(_ page: inout ByteCursor, encoding: Int, leaf: Leaf, count: Int, dictionary: Block?) throws -> Block {
            switch encoding {
            case 0:
                return try plain(&page, leaf: leaf, count: count)
            case 2, 8:
                guard let dictionary else { throw ParquetFailure("dictionary-encoded page without a dictionary page") }
                let indices = try page.hybrid(bitWidth: Int(try page.byte()), count: count)
                func gather<T>(_ entries: [T]) throws -> [T] {
                    try indices.map { index in
                        guard index < entries.count else {
                            throw ParquetFailure("dictionary index \(index) out of range (\(entries.count) entries)")
                        }
                        return entries[index]
                    }
                }
                switch dictionary {
                case .bool(let d): return .bool(try gather(d))
                case .int(let d): return .int(try gather(d))
                case .double(let d): return .double(try gather(d))
                case .string(let d): return .string(try gather(d))
                }
            case 3 where leaf.physical == 0:
                // RLE booleans (written by some v2 writers) carry a 4-byte length prefix.
                _ = try page.uint32()
                return .bool(try page.hybrid(bitWidth: 1, count: count).map { $0 == 1 })
            default:
                throw ParquetFailure("unsupported encoding \(Self.label(Self.encodingNames, encoding)) in column \(leaf.name)")
            }
        }

        /// PLAIN-encoded values of the column's physical type.
        private func plain(_ page: inout ByteCursor, leaf: Leaf, count: Int) throws -> Block {
            guard count >= 0 else { throw ParquetFailure("negative value count \(count)") }
            let bytes = page.bytes
            func fixed<T>(_ width: Int, _ convert: (UnsafeRawBufferPointer, Int) -> T) throws -> [T] {
                let range = try page.take(count * width)
                return bytes.withUnsafeBytes { raw in (0..<count).map { convert(raw, range.lowerBound + $0 * width) } }
            }
            switch leaf.physical {
            case 0:
                let range = try page.take((count + 7) / 8)
                return .bool((0..<count).map { bytes[range.lowerBound + $0 >> 3] >> ($0 & 7) & 1 == 1 })
            case 1: return .int(try fixed(4) { Int64(Int32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int32.self))) })
            case 2: return .int(try fixed(8) { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int64.self)) })
            case 4:
                return .double(try fixed(4) {
                    Double(Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self))))
                })
            case 5:
                return .double(try fixed(8) {
                    Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self)))
                })
            default:
                var strings: [String] = []
                for _ in 0..<count {
                    let range = try page.take(try page.uint32())
                    let text = String(decoding: bytes[range], as: UTF8.self)
                    // Decoding repairs invalid UTF-8; any change means the bytes were not text.
                    guard text.utf8.elementsEqual(bytes[range]) else {
                        throw ParquetFailure("column \(leaf.name) holds a value that is not UTF-8 (page offset \(range.lowerBound))")
                    }
                    strings.append(text)
                }
                return .string(strings)
            }
        }
    }
}
