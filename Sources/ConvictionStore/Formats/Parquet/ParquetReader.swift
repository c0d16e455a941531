import Foundation

/// Reads flat Parquet files: PLAIN and dictionary encodings, data pages v1 and v2,
/// UNCOMPRESSED, SNAPPY, GZIP and ZSTD codecs. Columns decode in parallel, each straight into its
/// final array; `columns` reads only the named ones.
public enum ParquetReader {
    /// `source` names the file in error messages; `columns`, when given, are the only columns read
    /// (in the file's order; names the file lacks are an error).
    public static func decode(_ data: Data, source: String, columns: Set<String>? = nil) throws -> ParquetTable {
        do {
            return try FileDecoder(file: data).decode(columns: columns)
        } catch let failure as ParquetFailure {
            throw ParquetError(source: source, message: failure.message)
        }
    }
}

extension ParquetReader {
    /// One decoding pass over a whole file.
    struct FileDecoder {
        let file: Data

        private static let typeNames = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"]

        private static func label(_ names: [String], _ code: Int) -> String { names.indices.contains(code) ? names[code] : "#\(code)" }

        func decode(columns wanted: Set<String>? = nil) throws -> ParquetTable {
            let size = file.count
            guard size >= 12 else { throw ParquetFailure("truncated: file is \(size) bytes, a Parquet file needs at least 12") }
            // Only the magic numbers and the footer are copied here; column chunks are copied by the
            // threads that decode them.
            func slice(_ range: Range<Int>) -> [UInt8] { [UInt8](file[(file.startIndex + range.lowerBound)..<(file.startIndex + range.upperBound)]) }
            let headBytes = slice(0..<4)
            let head = String(decoding: headBytes, as: UTF8.self), tail = String(decoding: slice((size - 4)..<size), as: UTF8.self)
            guard head == "PAR1" else { throw ParquetFailure("bad magic: file starts with \(headBytes), expected PAR1") }
            guard tail != "PARE" else { throw ParquetFailure("encrypted Parquet files are not supported") }
            guard tail == "PAR1" else { throw ParquetFailure("bad magic at end of file (truncated or not a Parquet file)") }
            var cursor = ByteCursor(slice((size - 8)..<(size - 4)))
            let footerLength = try cursor.uint32()
            guard footerLength <= size - 12 else {
                throw ParquetFailure("truncated: footer length \(footerLength) exceeds file size \(size)")
            }
            let footerStart = size - 8 - footerLength
            var thrift = ThriftDecoder(slice(footerStart..<(size - 8)), from: 0, to: footerLength)
            let meta: ThriftStruct
            do { meta = try thrift.readStruct() } catch let failure as ParquetFailure {
                throw ParquetFailure("corrupt footer at byte \(footerStart): \(failure.message)")
            }

            let leaves = try parseSchema(meta.structs(2) ?? [])
            if let wanted, let missing = wanted.subtracting(leaves.map(\.name)).sorted().first {
                throw ParquetFailure("no column \(missing) (the file has \(leaves.map(\.name).joined(separator: ", ")))")
            }
            var chunksByLeaf = Array(repeating: [(group: Int, chunk: ThriftStruct, rows: Int)](), count: leaves.count)
            for (group, rowGroup) in (meta.structs(4) ?? []).enumerated() {
                let chunks = rowGroup.structs(1) ?? []
                guard chunks.count == leaves.count else {
                    throw ParquetFailure("row group \(group) has \(chunks.count) column chunks, schema has \(leaves.count) columns")
                }
                for index in leaves.indices { chunksByLeaf[index].append((group, chunks[index], rowGroup.int(3) ?? 0)) }
            }
            let selected = leaves.indices.filter { wanted?.contains(leaves[$0].name) ?? true }
            let decoders = selected.map { ColumnDecoder(file: file, leaf: leaves[$0], dataEnd: footerStart, chunks: chunksByLeaf[$0]) }
            let results = ResultSlots(count: decoders.count)
            // Columns are independent: decode them on every core.
            DispatchQueue.concurrentPerform(iterations: decoders.count) { i in
                results.set(i, Result { try decoders[i].decode() })
            }
            var columns: [ParquetColumn] = []
            for (decoder, result) in zip(decoders, results.all) {
                columns.append(ParquetColumn(name: decoder.leaf.name, nullable: decoder.leaf.nullable, values: try result.get()))
            }
            var keyValues: [String: String] = [:]
            for pair in meta.structs(5) ?? [] {
                if let key = pair.string(1) { keyValues[key] = pair.string(2) ?? "" }
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
    }

    /// Each parallel task writes its own slot; read after all have finished.
    final class ResultSlots: @unchecked Sendable {
        private var slots: [Result<ParquetValues, any Error>?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ result: Result<ParquetValues, any Error>) { lock.withLock { slots[index] = result } }
        var all: [Result<ParquetValues, any Error>] { lock.withLock { slots.map { $0! } } }
    }
}
