import Foundation

/// Writes a `ParquetTable` as a Parquet file: flat schema, PLAIN encoding, one v1 data page per
/// column chunk, a Thrift compact-protocol footer. The bytes depend only on the input.
public enum ParquetWriter {
    static let createdBy = "conviction parquet-writer 1"

    /// Throws ParquetError if columns differ in length, names repeat, or a REQUIRED column holds nil.
    public static func encode(
        _ table: ParquetTable, compression: ParquetCompression = .none, rowGroupSize: Int = 1 << 20
    ) throws -> Data {
        try validate(table, rowGroupSize: rowGroupSize)
        var out = Array("PAR1".utf8)
        var rowGroups: [ThriftValue] = []
        let rowCount = table.rowCount
        // A 0-row table gets no row groups at all: the schema in the footer is enough for readers.
        for start in stride(from: 0, to: rowCount, by: rowGroupSize) {
            let rows = start..<min(rowCount, start + rowGroupSize)
            let groupStart = out.count
            var chunks: [ThriftValue] = []
            var uncompressedTotal = 0
            for column in table.columns {
                let (chunk, uncompressed) = try writeChunk(column, rows: rows, compression: compression, to: &out)
                chunks.append(.structure(chunk))
                uncompressedTotal += uncompressed
            }
            rowGroups.append(.structure(ThriftStruct([
                (1, .list(.structure, chunks)),
                (2, .int64(uncompressedTotal)),
                (3, .int64(rows.count)),
                (5, .int64(groupStart)),
                (6, .int64(out.count - groupStart)),
            ])))
        }

        let root = ThriftStruct([(4, .string("schema")), (5, .int32(table.columns.count))])
        let schema = [ThriftValue.structure(root)] + table.columns.map { .structure(schemaElement($0)) }
        let keyValues = table.keyValueMetadata.sorted { $0.key < $1.key }.map { key, value in
            ThriftValue.structure(ThriftStruct([(1, .string(key)), (2, .string(value))]))
        }
        // TYPE_ORDER for every column: min_value/max_value follow the type's natural ordering.
        let typeOrder = ThriftValue.structure(ThriftStruct([(1, .structure(ThriftStruct()))]))
        let footer = ThriftEncoder.encode(ThriftStruct([
            (1, .int32(2)),
            (2, .list(.structure, schema)),
            (3, .int64(rowCount)),
            (4, .list(.structure, rowGroups)),
            (5, keyValues.isEmpty ? nil : .list(.structure, keyValues)),
            (6, .string(createdBy)),
            (7, .list(.structure, Array(repeating: typeOrder, count: table.columns.count))),
        ]))
        out += footer
        appendLittleEndian(UInt32(footer.count), to: &out)
        out += Array("PAR1".utf8)
        return Data(out)
    }

    private static func fail(_ message: String) -> ParquetError { ParquetError(source: "<memory>", message: message) }

    private static func validate(_ table: ParquetTable, rowGroupSize: Int) throws {
        guard rowGroupSize > 0 else { throw fail("rowGroupSize must be positive, got \(rowGroupSize)") }
        var names = Set<String>()
        for column in table.columns {
            guard names.insert(column.name).inserted else { throw fail("column name \(column.name) repeats") }
            guard column.values.count == table.rowCount else {
                let first = table.columns[0]
                throw fail("column \(column.name) has \(column.values.count) values, column \(first.name) has \(first.values.count)")
            }
            if !column.nullable, let row = column.values.firstNullIndex {
                throw fail("column \(column.name) is REQUIRED (nullable: false) but row \(row) is null")
            }
        }
    }

    private static func schemaElement(_ column: ParquetColumn) -> ThriftStruct {
        let (physical, converted, logical) = types(column.values)
        return ThriftStruct([
            (1, .int32(physical)),
            (3, .int32(column.nullable ? 1 : 0)),
            (4, .string(column.name)),
            (6, converted.map { .int32($0) }),
            (10, logical.map { .structure($0) }),
        ])
    }

    /// Physical type, converted type and logical type for each case.
    private static func types(_ values: ParquetValues) -> (Int, Int?, ThriftStruct?) {
        switch values {
        case .bool: return (0, nil, nil)
        case .int64: return (2, nil, nil)
        case .double: return (5, nil, nil)
        case .string: return (6, 0, ThriftStruct([(1, .structure(ThriftStruct()))]))
        case .timestamp:
            let micros = ThriftStruct([(2, .structure(ThriftStruct()))])
            let timestamp = ThriftStruct([(1, .bool(true)), (2, .structure(micros))])
            return (2, 10, ThriftStruct([(8, .structure(timestamp))]))
        }
    }

    /// Appends one column chunk (a single DATA_PAGE) and returns its ColumnChunk and uncompressed size.
    private static func writeChunk(
        _ column: ParquetColumn, rows: Range<Int>, compression: ParquetCompression, to out: inout [UInt8]
    ) throws -> (ThriftStruct, Int) {
        let page = PageValues(column.values, rows: rows)
        var body: [UInt8] = []
        if column.nullable {
            let levels = encodeLevels(page.defined)
            appendLittleEndian(UInt32(levels.count), to: &body)
            body += levels
        }
        body += page.plain
        let stored: [UInt8]
        switch compression {
        case .none: stored = body
        case .gzip:
            do { stored = [UInt8](try Gzip.compress(Data(body))) } catch {
                throw fail("gzip failed for column \(column.name): \(error)")
            }
        }
        guard stored.count <= Int(Int32.max), body.count <= Int(Int32.max) else {
            throw fail("column \(column.name): page of \(body.count) bytes exceeds 2 GiB; use a smaller rowGroupSize")
        }
        let dataPage = ThriftStruct([(1, .int32(rows.count)), (2, .int32(0)), (3, .int32(3)), (4, .int32(3))])
        let header = ThriftEncoder.encode(ThriftStruct([
            (1, .int32(0)), (2, .int32(body.count)), (3, .int32(stored.count)), (5, .structure(dataPage)),
        ]))
        let offset = out.count
        out += header
        out += stored

        let statistics = ThriftStruct([
            (3, .int64(page.nullCount)),
            (5, page.minMax.map { .binary($0.max) }),
            (6, page.minMax.map { .binary($0.min) }),
        ])
        let meta = ThriftStruct([
            (1, .int32(types(column.values).0)),
            (2, .list(.i32, [.int32(0), .int32(3)])),  // PLAIN values, RLE levels
            (3, .list(.binary, [.string(column.name)])),
            (4, .int32(compression == .gzip ? 2 : 0)),
            (5, .int64(rows.count)),
            (6, .int64(header.count + body.count)),
            (7, .int64(header.count + stored.count)),
            (9, .int64(offset)),
            (12, .structure(statistics)),
        ])
        return (ThriftStruct([(2, .int64(offset)), (3, .structure(meta))]), header.count + body.count)
    }

    /// Definition levels (bit width 1) in the RLE/bit-packed hybrid: runs of 8 or more equal levels
    /// become RLE runs, everything else goes into bit-packed groups of 8.
    private static func encodeLevels(_ defined: [Bool]) -> [UInt8] {
        var out: [UInt8] = []
        var literal: [Bool] = []
        func flushLiteral() {
            guard !literal.isEmpty else { return }
            let groups = (literal.count + 7) / 8
            appendVarint(UInt64(groups) << 1 | 1, to: &out)
            out += packBits(literal, byteCount: groups)
            literal.removeAll()
        }
        var i = 0
        while i < defined.count {
            var run = 1
            while i + run < defined.count && defined[i + run] == defined[i] { run += 1 }
            if run >= 8 {
                flushLiteral()
                appendVarint(UInt64(run) << 1, to: &out)
                out.append(defined[i] ? 1 : 0)
                i += run
            } else {
                // Whole groups of 8 keep literal runs aligned; only the last group may be short (padded).
                let end = min(i + 8, defined.count)
                literal += defined[i..<end]
                i = end
            }
        }
        flushLiteral()
        return out
    }
}

extension ParquetWriter {
    /// One page's worth of a column: definition flags, PLAIN bytes of the non-null values, and statistics.
    fileprivate struct PageValues {
        var defined: [Bool] = []
        var plain: [UInt8] = []
        var nullCount = 0
        /// PLAIN-encoded (min, max), for numeric columns with at least one non-null, non-NaN value.
        var minMax: (min: [UInt8], max: [UInt8])?

        init(_ values: ParquetValues, rows: Range<Int>) {
            switch values {
            case .int64(let v), .timestamp(let v):
                let present = split(v[rows])
                for x in present { appendLittleEndian(x, to: &plain) }
                if let lo = present.min(), let hi = present.max() { minMax = (le(lo), le(hi)) }
            case .double(let v):
                let present = split(v[rows])
                for x in present { appendLittleEndian(x.bitPattern, to: &plain) }
                // Statistics leave NaN out; zero bounds are written as -0.0 (min) and +0.0 (max).
                let ordered = present.filter { !$0.isNaN }
                if var lo = ordered.min(), var hi = ordered.max() {
                    if lo == 0 { lo = -0.0 }
                    if hi == 0 { hi = 0.0 }
                    minMax = (le(lo.bitPattern), le(hi.bitPattern))
                }
            case .string(let v):
                for s in split(v[rows]) {
                    appendLittleEndian(UInt32(s.utf8.count), to: &plain)
                    plain += s.utf8
                }
            case .bool(let v):
                let present = split(v[rows])
                plain = packBits(present, byteCount: (present.count + 7) / 8)
            }
        }

        private mutating func split<T>(_ slice: some Collection<T?>) -> [T] {
            defined.reserveCapacity(slice.count)
            var present: [T] = []
            present.reserveCapacity(slice.count)
            for value in slice {
                defined.append(value != nil)
                if let value { present.append(value) } else { nullCount += 1 }
            }
            return present
        }

        private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            var bytes: [UInt8] = []
            appendLittleEndian(value, to: &bytes)
            return bytes
        }
    }

    /// Bits LSB first, as both PLAIN booleans and bit-packed hybrid runs (bit width 1) lay them out.
    fileprivate static func packBits(_ bits: [Bool], byteCount: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        for (i, bit) in bits.enumerated() where bit { out[i >> 3] |= 1 << (i & 7) }
        return out
    }

    fileprivate static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    fileprivate static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
