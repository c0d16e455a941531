import ConvictionStore
import Foundation
import Testing

// MARK: - Fixtures

/// Every supported type with nulls, NaN, infinities, -0.0, empty and non-ASCII strings.
/// The Python scripts below build the same values; keep them in step.
private let sample = ParquetTable(columns: [
    ParquetColumn(name: "i", values: .int64([1, 2, nil, -5, 9_007_199_254_740_993, 0])),
    ParquetColumn(name: "d", values: .double([1.5, .nan, nil, -0.0, 1e300, .infinity])),
    ParquetColumn(name: "s", values: .string(["a", "", nil, "héllo ✓ 日本 🎉", "a", "a"])),
    ParquetColumn(name: "ts", values: .timestamp([0, 1_700_000_000_123_456, nil, -1, 86_400_000_000, 1])),
    ParquetColumn(name: "b", values: .bool([true, false, nil, true, true, false])),
])

/// `sample` plus a REQUIRED column and file metadata.
private let sampleWithRequired = ParquetTable(
    columns: [ParquetColumn(name: "k", nullable: false, values: .int64([10, 11, 12, 13, 14, 15]))] + sample.columns,
    keyValueMetadata: ["origin": "ParquetTests", "note": "ünïcode"]
)

/// 5000 rows; Python writes it with many pages, row groups and dictionary fallback.
private let big: ParquetTable = {
    let keys = 0..<5000
    return ParquetTable(columns: [
        ParquetColumn(name: "k", values: .int64(keys.map { Int64($0) })),
        ParquetColumn(name: "i", values: .int64(keys.map { $0 % 7 == 0 ? nil : Int64($0 * 3) })),
        ParquetColumn(name: "s", values: .string(keys.map { $0 % 11 == 0 ? nil : "s\($0 % 13)" })),
        ParquetColumn(name: "b", values: .bool(keys.map { $0 % 3 == 0 })),
        ParquetColumn(name: "d", values: .double(keys.map { Double($0) / 4 })),
    ])
}()

private func emptied(_ table: ParquetTable) -> ParquetTable {
    var table = table
    for index in table.columns.indices {
        switch table.columns[index].values {
        case .int64: table.columns[index].values = .int64([])
        case .double: table.columns[index].values = .double([])
        case .string: table.columns[index].values = .string([])
        case .timestamp: table.columns[index].values = .timestamp([])
        case .bool: table.columns[index].values = .bool([])
        }
    }
    return table
}

/// Written by pyarrow 26 (`store_schema=False`, data page v2, SNAPPY, dictionary for s and n; r is PLAIN).
private let pyarrowSnappyV2 = """
    UEFSMRUEFTgVPEwVBBUAEgAAHGwGAAAAc25hcHB5DgAAAGRpY3Rpb25hcnkg4pyTFQYVChUKXBUIFQIVCBUQFQQVABIcAAAAAwsBAwQVBBUwFS5MFQYVABIAABgE\
    AQAJATwCAAAAAAAAAAMAAAAAAAAAFQYVDBUMXBUIFQIVCBUQFQQVABIcAAAAAwcCAyQAFQYVogIVQlwVCBUCFQgVABUEFQARHAAAAAMLjwEsQAAAAGFiY2RlZmdo\
    3ggA/kQAAUQYAwAAAHh5ehUEGUw1ABgGc2NoZW1hFQYAFQwlAhgBcyUATBwAAAAVBCUCGAFuABUMJQIYAXIlAEwcAAAAFggZHBk8JgAcFQwZNQAGEBkYAXMVAhYI\
    Fo4BFpIBJmAmCCksFQQVABUCABUAFRAVAgA8FjQZBhkmAgYAAAAmABwVBBk1AAYQGRgBbhUCFggWiAEWhgEm5AEmmgEpLBUEFQAVAgAVABUQFQIAPCkGGSYCBgAA\
    ACYAHBUMGSUGABkYAXIVAhYIFtQCFnQmoAJJHBUAFQAVAgA8FoYCGQYZJgIGAAAAFuoEFggmCBaMAwAoIHBhcnF1ZXQtY3BwLWFycm93IHZlcnNpb24gMjYuMC4x\
    GTwcAAAcAAAcAAAAEwEAAFBBUjE=
    """

// MARK: - Swift round trips

@Suite(.timeLimit(.minutes(10))) struct ParquetRoundTripTests {
    @Test(arguments: [ParquetCompression.none, .gzip], [1, 4, 1 << 20])
    func everyTypeRoundTrips(compression: ParquetCompression, rowGroupSize: Int) throws {
        let data = try ParquetWriter.encode(sampleWithRequired, compression: compression, rowGroupSize: rowGroupSize)
        let decoded = try ParquetReader.decode(data, source: "sample.parquet")
        #expect(decoded == sampleWithRequired)
        #expect(decoded.column("k")?.nullable == false)
        #expect(decoded.column("i")?.nullable == true)
        guard case .double(let doubles)? = decoded.column("d")?.values else {
            Issue.record("column d is not double")
            return
        }
        #expect(doubles[1]?.isNaN == true)  // `==` on tables treats NaN as equal; check it really is NaN
    }

    @Test func emptyTableRoundTrips() throws {
        let empty = emptied(sampleWithRequired)
        #expect(empty.rowCount == 0)
        let decoded = try ParquetReader.decode(try ParquetWriter.encode(empty), source: "empty.parquet")
        #expect(decoded == empty)
    }

    @Test func outputIsDeterministic() throws {
        let first = try ParquetWriter.encode(sampleWithRequired, compression: .gzip, rowGroupSize: 4)
        let second = try ParquetWriter.encode(sampleWithRequired, compression: .gzip, rowGroupSize: 4)
        #expect(first == second)
        #expect(first.prefix(4) == Data("PAR1".utf8) && first.suffix(4) == Data("PAR1".utf8))
    }

    @Test func bigTableRoundTripsAcrossRowGroups() throws {
        let data = try ParquetWriter.encode(big, compression: .gzip, rowGroupSize: 777)
        #expect(try ParquetReader.decode(data, source: "big.parquet") == big)
    }

    /// Snappy, data page v2 and dictionaries, covered without Python.
    @Test func readsEmbeddedPyarrowFile() throws {
        let data = try #require(Data(base64Encoded: pyarrowSnappyV2))
        let table = try ParquetReader.decode(data, source: "embedded.parquet")
        let long = String(repeating: "abcdefgh", count: 8)
        #expect(table.columns == [
            ParquetColumn(name: "s", values: .string(["snappy", "snappy", nil, "dictionary ✓"])),
            ParquetColumn(name: "n", values: .int64([1, 2, 3, nil])),
            ParquetColumn(name: "r", values: .string([long, long, nil, "xyz"])),
        ])
    }
}

// MARK: - Errors

@Suite(.timeLimit(.minutes(10))) struct ParquetErrorTests {
    private let file: Data = (try? ParquetWriter.encode(sample)) ?? Data()

    @Test func projectionReadsOnlyTheNamedColumnsInFileOrder() throws {
        let data = try ParquetWriter.encode(sampleWithRequired, compression: .gzip, rowGroupSize: 4)
        let names = sampleWithRequired.columns.map(\.name)
        let wanted: Set<String> = [names[2], names[0]]
        let projected = try ParquetReader.decode(data, source: "mem", columns: wanted)
        #expect(projected.columns == sampleWithRequired.columns.filter { wanted.contains($0.name) })
        #expect(throws: ParquetError.self) { try ParquetReader.decode(data, source: "mem", columns: ["no_such_column"]) }
        do { _ = try ParquetReader.decode(data, source: "mem", columns: ["no_such_column"]) } catch {
            #expect("\(error)".contains("no column no_such_column"), "\(error)")
        }
    }

    @Test func truncatedFileThrows() {
        let error = #expect(throws: ParquetError.self) {
            try ParquetReader.decode(file.prefix(file.count - 5), source: "cut.parquet")
        }
        #expect(error?.source == "cut.parquet")
        #expect(error?.message.contains("truncated") == true)
        #expect(throws: ParquetError.self) { try ParquetReader.decode(Data("PAR1".utf8), source: "tiny") }
    }

    @Test func oversizedFooterLengthThrows() {
        var bad = file
        bad.replaceSubrange(bad.count - 8..<bad.count - 4, with: [0xFF, 0xFF, 0, 0])
        let error = #expect(throws: ParquetError.self) { try ParquetReader.decode(bad, source: "f") }
        #expect(error?.message.contains("footer length 65535 exceeds file size") == true)
    }

    @Test func badMagicThrows() {
        var bad = file
        bad.replaceSubrange(0..<4, with: Data("PAR2".utf8))
        let error = #expect(throws: ParquetError.self) { try ParquetReader.decode(bad, source: "m") }
        #expect(error?.message.contains("bad magic") == true)
    }

    /// Corrupting any single byte, or cutting the file anywhere, gives a `ParquetError` that names
    /// the source and says what was wrong, or a well-formed table (a flipped bit inside a value is
    /// still a valid file); never a crash or another kind of error.
    @Test func everyCorruptedByteGivesANamedErrorOrAWellFormedTable() throws {
        var errors = 0, tables = 0
        func check(_ data: Data, source: String, at index: Int) {
            do {
                let table = try ParquetReader.decode(data, source: source)
                #expect(table.columns.allSatisfy { $0.values.count == table.rowCount }, "\(source) byte \(index): ragged table")
                tables += 1
            } catch let error as ParquetError {
                #expect(error.source == source && !error.message.isEmpty, "\(source) byte \(index): \(error)")
                errors += 1
            } catch {
                Issue.record("\(source) byte \(index): not a ParquetError: \(type(of: error)) \(error)")
            }
        }
        for original in [file, try #require(Data(base64Encoded: pyarrowSnappyV2))] {
            for index in 0..<original.count {
                var bad = original
                bad[index] ^= 0x5A
                check(bad, source: "corrupt", at: index)
                check(original.prefix(index), source: "cut", at: index)
            }
        }
        #expect(errors > 0 && tables > 0, "\(errors) errors, \(tables) tables")
    }

    @Test func requiredColumnWithNilThrows() {
        let table = ParquetTable(columns: [ParquetColumn(name: "x", nullable: false, values: .string(["a", nil]))])
        let error = #expect(throws: ParquetError.self) { try ParquetWriter.encode(table) }
        #expect(error?.message.contains("x") == true)
    }

    @Test func mismatchedLengthsAndRepeatedNamesThrow() {
        let uneven = ParquetTable(columns: [
            ParquetColumn(name: "a", values: .int64([1, 2])),
            ParquetColumn(name: "b", values: .bool([true])),
        ])
        #expect(throws: ParquetError.self) { try ParquetWriter.encode(uneven) }
        let repeated = ParquetTable(columns: [
            ParquetColumn(name: "a", values: .int64([1])),
            ParquetColumn(name: "a", values: .int64([2])),
        ])
        #expect(throws: ParquetError.self) { try ParquetWriter.encode(repeated) }
    }
}

// MARK: - Interop with pyarrow, polars and DuckDB

/// `<package root>/.venv/bin/python`, when it can import pyarrow, polars and duckdb.
private enum Python {
    static let interpreter: URL? = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                let python = directory.appendingPathComponent(".venv/bin/python")
                let probe = Process()
                probe.executableURL = python
                probe.arguments = ["-c", "import pyarrow, polars, duckdb"]
                probe.standardOutput = FileHandle.nullDevice
                probe.standardError = FileHandle.nullDevice
                guard (try? probe.run()) != nil else { return nil }
                probe.waitUntilExit()
                return probe.terminationStatus == 0 ? python : nil
            }
            directory.deleteLastPathComponent()
        }
        return nil
    }()

    static let skipReason: Comment = "needs <package root>/.venv/bin/python with pyarrow, polars and duckdb"

    /// Runs `script` with the directory as its argument; throws with the script's output if it fails.
    static func run(_ script: String, in directory: URL) throws {
        let scriptURL = directory.appendingPathComponent("script.py")
        let logURL = directory.appendingPathComponent("python.log")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let process = Process()
        process.executableURL = interpreter
        process.arguments = [scriptURL.path, directory.path]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        process.waitUntilExit()
        try log.close()
        let output = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        try #require(process.terminationStatus == 0, "python failed:\n\(output)")
    }
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("parquet-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// What one Python library saw in one file: type names and values rendered as strings.
private struct Seen: Decodable {
    var types: [String: String]
    var values: [String: [String?]]
}

/// Compares Python's rendering (str() of ints, repr() of floats, epoch microseconds) with Swift values.
private func same(_ seen: [String?]?, _ expected: ParquetValues) -> Bool {
    guard let seen, seen.count == expected.count else { return false }
    switch expected {
    case .int64(let values), .timestamp(let values): return seen == values.map { $0.map { "\($0)" } }
    case .string(let values): return seen == Array(values)
    case .bool(let values): return seen == values.map { $0.map { $0 ? "true" : "false" } }
    case .double(let values):
        return zip(seen, values).allSatisfy { text, value in
            guard let text, let value else { return text == nil && value == nil }
            guard let parsed = Double(text) else { return false }
            return parsed.isNaN ? value.isNaN : parsed == value && parsed.sign == value.sign
        }
    }
}

private let readScript = #"""
import datetime, json, os, sys
import duckdb, polars as pl, pyarrow.parquet as pq

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

def norm(v):
    if v is None: return None
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, float): return repr(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None: v = v.replace(tzinfo=datetime.timezone.utc)
        return str((v - EPOCH) // datetime.timedelta(microseconds=1))
    return str(v)

def by_pyarrow(f):
    t = pq.read_table(f)
    return {"types": {n: str(t.schema.field(n).type) for n in t.column_names},
            "values": {n: [norm(v) for v in t.column(n).to_pylist()] for n in t.column_names}}

def by_polars(f):
    df = pl.read_parquet(f)
    return {"types": {n: str(df.schema[n]) for n in df.columns},
            "values": {n: [norm(v) for v in df[n].to_list()] for n in df.columns}}

def by_duckdb(f):
    rel = duckdb.sql("select * from '%s'" % f.replace("'", "''"))
    rows = rel.fetchall()
    return {"types": {n: str(t) for n, t in zip(rel.columns, rel.types)},
            "values": {n: [norm(r[i]) for r in rows] for i, n in enumerate(rel.columns)}}

d = sys.argv[1]
out = {}
for name in sorted(os.listdir(d)):
    if name.endswith(".parquet"):
        f = os.path.join(d, name)
        out[name] = {"pyarrow": by_pyarrow(f), "polars": by_polars(f), "duckdb": by_duckdb(f)}
json.dump(out, open(os.path.join(d, "seen.json"), "w"))
"""#

private let writeScript = #"""
import os, sys
import duckdb, polars as pl, pyarrow as pa, pyarrow.parquet as pq

d = sys.argv[1]
p = lambda name: os.path.join(d, name)
ids = [1, 2, None, -5, 9007199254740993, 0]
dbl = [1.5, float("nan"), None, -0.0, 1e300, float("inf")]
s = ["a", "", None, "héllo ✓ 日本 🎉", "a", "a"]
ts = [0, 1700000000123456, None, -1, 86400000000, 1]
b = [True, False, None, True, True, False]

def table(unit="us", stamps=ts):
    return pa.table({"i": pa.array(ids, pa.int64()), "d": pa.array(dbl, pa.float64()), "s": pa.array(s, pa.string()),
                     "ts": pa.array(stamps, pa.timestamp(unit, tz="UTC")), "b": pa.array(b, pa.bool_())})

t = table()
pq.write_table(t, p("pa_default.parquet"))
pq.write_table(t, p("pa_v2.parquet"), data_page_version="2.0")
pq.write_table(t, p("pa_gzip.parquet"), compression="gzip")
pq.write_table(table("ns", [None if v is None else v * 1000 for v in ts]), p("pa_ns.parquet"), coerce_timestamps=None)
pq.write_table(t, p("pa_ms.parquet"), coerce_timestamps="ms", allow_truncated_timestamps=True)
pq.write_table(pa.table({"i32": pa.array([1, None, -7], pa.int32()), "f32": pa.array([0.5, float("nan"), None], pa.float32()),
                         "day": pa.array([0, 19000, None], pa.date32()), "naive": pa.array([1, None, -1000001], pa.timestamp("us"))}),
               p("pa_extra.parquet"))
n = 5000
big = pa.table({"k": pa.array(range(n), pa.int64()),
                "i": pa.array([None if k % 7 == 0 else k * 3 for k in range(n)], pa.int64()),
                "s": pa.array([None if k % 11 == 0 else "s%d" % (k % 13) for k in range(n)], pa.string()),
                "b": pa.array([k % 3 == 0 for k in range(n)], pa.bool_()),
                "d": pa.array([k / 4 for k in range(n)], pa.float64())})
pages = dict(row_group_size=1200, data_page_size=512, write_batch_size=100)
pq.write_table(big, p("pa_pages.parquet"), dictionary_pagesize_limit=64, **pages)
pq.write_table(big, p("pa_pages_v2.parquet"), data_page_version="2.0", compression="gzip", **pages)
pl.from_arrow(t).write_parquet(p("pl_snappy.parquet"), compression="snappy")
pl.from_arrow(t).write_parquet(p("pl_none.parquet"), compression="uncompressed")
pl.from_arrow(big).write_parquet(p("pl_pages.parquet"), compression="snappy", row_group_size=1000, data_page_size=512)
duckdb.sql("COPY (SELECT * FROM t) TO '%s' (FORMAT PARQUET)" % p("duckdb.parquet"))
duckdb.sql("COPY (SELECT * FROM big) TO '%s' (FORMAT PARQUET, ROW_GROUP_SIZE 1000)" % p("duckdb_pages.parquet"))
# zstd: polars' default codec, and pyarrow's and DuckDB's on request.
pl.from_arrow(t).write_parquet(p("pl_default.parquet"))
pl.from_arrow(big).write_parquet(p("pl_default_pages.parquet"), row_group_size=1000, data_page_size=512)
pq.write_table(t, p("pa_zstd.parquet"), compression="zstd")
pq.write_table(big, p("pa_zstd_v2.parquet"), data_page_version="2.0", compression="zstd", **pages)
duckdb.sql("COPY (SELECT * FROM big) TO '%s' (FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE 1000)" % p("duckdb_zstd.parquet"))
"""#

@Suite(.timeLimit(.minutes(10))) struct ParquetInteropTests {
    @Test(.enabled(if: Python.interpreter != nil, Python.skipReason))
    func pythonReadsSwiftFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let files: [(name: String, table: ParquetTable, compression: ParquetCompression, rowGroupSize: Int)] = [
            ("swift_none.parquet", sampleWithRequired, .none, 1 << 20),
            ("swift_gzip.parquet", sampleWithRequired, .gzip, 4),
            ("swift_empty.parquet", emptied(sampleWithRequired), .none, 1 << 20),
            ("swift_big.parquet", big, .gzip, 1000),
        ]
        for file in files {
            let data = try ParquetWriter.encode(file.table, compression: file.compression, rowGroupSize: file.rowGroupSize)
            try data.write(to: directory.appendingPathComponent(file.name))
        }
        try Python.run(readScript, in: directory)
        let seen = try JSONDecoder().decode(
            [String: [String: Seen]].self, from: Data(contentsOf: directory.appendingPathComponent("seen.json")))

        let expectedTypes = [
            "pyarrow": ["k": "int64", "i": "int64", "d": "double", "s": "string", "ts": "timestamp[us, tz=UTC]", "b": "bool"],
            "polars": ["k": "Int64", "i": "Int64", "d": "Float64", "s": "String",
                       "ts": "Datetime(time_unit='us', time_zone='UTC')", "b": "Boolean"],
            "duckdb": ["k": "BIGINT", "i": "BIGINT", "d": "DOUBLE", "s": "VARCHAR", "ts": "TIMESTAMP WITH TIME ZONE", "b": "BOOLEAN"],
        ]
        for (name, table, _, _) in files {
            for library in ["pyarrow", "polars", "duckdb"] {
                guard let result = seen[name]?[library] else {
                    Issue.record("\(library) gave no result for \(name)")
                    continue
                }
                for column in table.columns {
                    #expect(same(result.values[column.name], column.values), "\(library) reading \(name), column \(column.name)")
                    if name != "swift_big.parquet" {
                        let type = expectedTypes[library]?[column.name]
                        #expect(result.types[column.name] == type, "\(library) type of \(column.name) in \(name)")
                    }
                }
            }
        }
    }

    @Test(.enabled(if: Python.interpreter != nil, Python.skipReason))
    func swiftReadsPythonFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Python.run(writeScript, in: directory)

        var truncatedToMillis = sample
        truncatedToMillis.columns[3].values = .timestamp([0, 1_700_000_000_123_000, nil, 0, 86_400_000_000, 0])
        let extra = ParquetTable(columns: [
            ParquetColumn(name: "i32", values: .int64([1, nil, -7])),
            ParquetColumn(name: "f32", values: .double([0.5, .nan, nil])),
            ParquetColumn(name: "day", values: .int64([0, 19000, nil])),
            ParquetColumn(name: "naive", values: .timestamp([1, nil, -1_000_001])),
        ])
        let expected: [String: ParquetTable] = [
            "pa_default.parquet": sample, "pa_v2.parquet": sample, "pa_gzip.parquet": sample, "pa_ns.parquet": sample,
            "pa_ms.parquet": truncatedToMillis, "pa_extra.parquet": extra,
            "pa_pages.parquet": big, "pa_pages_v2.parquet": big, "pl_snappy.parquet": sample, "pl_none.parquet": sample,
            "pl_pages.parquet": big, "duckdb.parquet": sample, "duckdb_pages.parquet": big,
            "pl_default.parquet": sample, "pl_default_pages.parquet": big, "pa_zstd.parquet": sample, "pa_zstd_v2.parquet": big,
            "duckdb_zstd.parquet": big,
        ]
        for (name, table) in expected.sorted(by: { $0.key < $1.key }) {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            let decoded: ParquetTable
            do {
                decoded = try ParquetReader.decode(data, source: name)
            } catch {
                Issue.record("\(error)")
                continue
            }
            #expect(decoded.columns == table.columns, "\(name)")
            if name.hasPrefix("pa_") {
                #expect(decoded.keyValueMetadata["ARROW:schema"] != nil, "\(name) key/value metadata")
            }
        }
    }
}
