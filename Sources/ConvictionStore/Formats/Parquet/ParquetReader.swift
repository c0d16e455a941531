import Foundation

/// Reads flat Parquet files: PLAIN, dictionary and RLE encodings, data pages v1 and v2,
/// UNCOMPRESSED, SNAPPY, GZIP and ZSTD codecs.
///
/// Every (column, row group) chunk is decoded on its own, on every core, straight into the column's
/// final buffer at the group's first row; only the columns asked for are touched. The file's bytes
/// are borrowed, never copied: a mapped file (`read(contentsOf:)`) pages in just the chunks read.
public enum ParquetReader {
    /// `source` names the file in error messages; `columns`, when given, are the only columns read
    /// (in the file's order; names the file lacks are an error).
    public static func decode(_ data: Data, source: String, columns: Set<String>? = nil) throws -> ParquetTable {
        do {
            return try data.withUnsafeBytes { try FileDecoder(file: RawBytes(bytes: $0)).decode(columns: columns) }
        } catch let failure as ParquetFailure {
            throw ParquetError(source: source, message: failure.message)
        }
    }

    /// Reads a local file through a memory map, so a projection reads only its columns' chunks.
    public static func read(contentsOf url: URL, columns: Set<String>? = nil) throws -> ParquetTable {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ParquetError(source: url.path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try decode(data, source: url.path, columns: columns)
    }
}

extension ParquetReader {
    /// Borrowed file bytes, shared by the threads that decode its chunks while the owner's scope lasts.
    struct RawBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
    }

    /// One column's chunk in one row group, and where its rows go in the column.
    struct ChunkPlan: Sendable {
        let group: Int
        let chunk: ThriftStruct
        let firstRow: Int
        let rows: Int
        /// The chunk's stored size, to start the largest first.
        let storedSize: Int
    }

    /// One decoding pass over a whole file.
    struct FileDecoder {
        let file: RawBytes

        private static let typeNames = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"]

        private static func label(_ names: [String], _ code: Int) -> String { names.indices.contains(code) ? names[code] : "#\(code)" }

        func decode(columns wanted: Set<String>? = nil) throws -> ParquetTable {
            let bytes = file.bytes, size = bytes.count
            guard size >= 12 else { throw ParquetFailure("truncated: file is \(size) bytes, a Parquet file needs at least 12") }
            let headBytes = Array(bytes[0..<4])
            let head = String(decoding: headBytes, as: UTF8.self), tail = String(decoding: bytes[(size - 4)..<size], as: UTF8.self)
            guard head == "PAR1" else { throw ParquetFailure("bad magic: file starts with \(headBytes), expected PAR1") }
            guard tail != "PARE" else { throw ParquetFailure("encrypted Parquet files are not supported") }
            guard tail == "PAR1" else { throw ParquetFailure("bad magic at end of file (truncated or not a Parquet file)") }
            let footerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: size - 8, as: UInt32.self)))
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
            if let wanted, let missing = wanted.subtracting(leaves.map(\.name)).sorted().first {
                throw ParquetFailure("no column \(missing) (the file has \(leaves.map(\.name).joined(separator: ", ")))")
            }
            var plansByLeaf = Array(repeating: [ChunkPlan](), count: leaves.count)
            var totalRows = 0
            for (group, rowGroup) in (meta.structs(4) ?? []).enumerated() {
                let chunks = rowGroup.structs(1) ?? []
                guard chunks.count == leaves.count else {
                    throw ParquetFailure("row group \(group) has \(chunks.count) column chunks, schema has \(leaves.count) columns")
                }
                let rows = rowGroup.int(3) ?? 0
                // Every row takes at least a bit of the file; a larger count is corrupt, not a reason to allocate.
                guard rows >= 0, rows <= size * 8 - totalRows else { throw ParquetFailure("row group \(group) claims \(rows) rows") }
                for index in leaves.indices {
                    let stored = chunks[index].structure(3)?.int(7) ?? 0
                    plansByLeaf[index].append(ChunkPlan(group: group, chunk: chunks[index], firstRow: totalRows, rows: rows, storedSize: stored))
                }
                totalRows += rows
            }
            let selected = leaves.indices.filter { wanted?.contains(leaves[$0].name) ?? true }
            let columns = selected.map { makeColumn(leaves[$0], rows: totalRows, dataEnd: footerStart) }
            // Units of work: every chunk of every selected column, largest first so the cores finish together.
            let units = selected.indices.flatMap { c in plansByLeaf[selected[c]].map { (column: c, plan: $0) } }
                .sorted { $0.plan.storedSize > $1.plan.storedSize }
            let failures = FailureSlots(count: units.count)
            let pool = ScratchPool()
            DispatchQueue.concurrentPerform(iterations: units.count) { i in
                let scratch = pool.take()
                defer { pool.give(scratch) }
                do { try columns[units[i].column].decode(units[i].plan, file: file, scratch: scratch) } catch {
                    failures.set(i, error)
                }
            }
            // The first failure in file order, so the message does not depend on thread timing.
            if let first = units.indices.filter({ failures.error(at: $0) != nil })
                .min(by: { (units[$0].column, units[$0].plan.group) < (units[$1].column, units[$1].plan.group) }) {
                throw failures.error(at: first)!
            }
            var keyValues: [String: String] = [:]
            for pair in meta.structs(5) ?? [] {
                if let key = pair.string(1) { keyValues[key] = pair.string(2) ?? "" }
            }
            return ParquetTable(columns: zip(selected, columns).map { index, column in
                ParquetColumn(name: leaves[index].name, nullable: leaves[index].nullable, values: column.finish())
            }, keyValueMetadata: keyValues)
        }

        private func makeColumn(_ leaf: Leaf, rows: Int, dataEnd: Int) -> AnyColumn {
            switch leaf.kind {
            case .bool: .bool(TypedColumn(leaf: leaf, rows: rows, dataEnd: dataEnd))
            case .int where leaf.physical == 1: .int32(TypedColumn(leaf: leaf, rows: rows, dataEnd: dataEnd))
            case .int, .timestamp: .int64(TypedColumn(leaf: leaf, rows: rows, dataEnd: dataEnd))
            case .double where leaf.physical == 4: .float(TypedColumn(leaf: leaf, rows: rows, dataEnd: dataEnd))
            case .double: .double(TypedColumn(leaf: leaf, rows: rows, dataEnd: dataEnd))
            case .string: .string(TypedColumn(leaf: leaf, rows: rows, dataEnd: dataEnd))
            }
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

    /// A column of one of the supported types. A closed set rather than a protocol existential, so
    /// each type's decoding is compiled for that type (through a protocol it ran generic, 2x slower).
    enum AnyColumn: Sendable {
        case bool(TypedColumn<PlainBool>), int32(TypedColumn<PlainInt32>), int64(TypedColumn<PlainInt64>)
        case float(TypedColumn<PlainFloat>), double(TypedColumn<PlainDouble>), string(TypedColumn<PlainString>)

        func decode(_ plan: ChunkPlan, file: RawBytes, scratch: Scratch) throws {
            switch self {
            case .bool(let column): try column.decode(plan, file: file, scratch: scratch)
            case .int32(let column): try column.decode(plan, file: file, scratch: scratch)
            case .int64(let column): try column.decode(plan, file: file, scratch: scratch)
            case .float(let column): try column.decode(plan, file: file, scratch: scratch)
            case .double(let column): try column.decode(plan, file: file, scratch: scratch)
            case .string(let column): try column.decode(plan, file: file, scratch: scratch)
            }
        }

        /// The finished values; call once, after every chunk decoded without error.
        func finish() -> ParquetValues {
            switch self {
            case .bool(let column): .bool(column.finish())
            case .int32(let column): .int64(column.finish())
            case .int64(let column): column.leaf.isTimestamp ? .timestamp(column.finish()) : .int64(column.finish())
            case .float(let column): .double(column.finish())
            case .double(let column): .double(column.finish())
            case .string(let column): .string(column.finish())
            }
        }
    }

    /// Each unit of work records its own failure; read after all have finished.
    final class FailureSlots: @unchecked Sendable {
        private var slots: [(any Error)?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ error: any Error) { lock.withLock { slots[index] = error } }
        func error(at index: Int) -> (any Error)? { lock.withLock { slots[index] } }
    }
}
