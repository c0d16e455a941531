import ConvictionStore
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1))) struct ParquetArrayTests {
    @Test func optionalsKeepTheirNullsAndPlaceholdersFillTheValues() {
        let array: ParquetArray<Int64> = [3, nil, 5, nil]
        #expect(Array(array) == [3, nil, 5, nil])
        #expect(array.nullCount == 2 && array.firstNullIndex == 1)
        #expect(array.isNull(1) && !array.isNull(0))
        #expect(array.values == [3, 0, 5, 0])
        #expect(array.withUnsafeValues { Array($0) } == [3, 0, 5, 0])
    }

    @Test func anArrayWithoutNullsHasNoNullMap() {
        let strings = ParquetArray(["a", "héllo ✓", ""])
        #expect(strings.nullCount == 0 && strings.firstNullIndex == nil)
        #expect(Array(strings) == ["a", "héllo ✓", ""])
        #expect(ParquetArray<Bool>([]).isEmpty)
    }

    @Test func equalityCountsNaNEqualAndNullsApartFromPlaceholders() {
        #expect(ParquetArray<Double>([1, .nan]) == ParquetArray([1, .nan]))
        #expect(ParquetArray<Double>(optionals: [0, nil]) != ParquetArray([0, 0]))
        #expect(ParquetValues.double([0.5, nil]) == .double(ParquetArray(optionals: [0.5, nil])))
    }

    /// The reader fills each row group of a column on its own thread; every group must land at its
    /// own rows, nulls included, whatever order the threads finish in.
    @Test func rowGroupsDecodedInParallelLandAtTheirRows() throws {
        let rows = 10_000
        let table = ParquetTable(columns: [
            ParquetColumn(name: "k", nullable: false, values: .int64((0..<rows).map { Int64($0) })),
            ParquetColumn(name: "s", values: .string((0..<rows).map { $0 % 7 == 0 ? nil : "v\($0)" })),
            ParquetColumn(name: "d", values: .double((0..<rows).map { $0 % 5 == 0 ? nil : Double($0) / 2 })),
        ])
        let data = try ParquetWriter.encode(table, rowGroupSize: 97)
        for _ in 0..<5 { #expect(try ParquetReader.decode(data, source: "mem") == table) }
        guard case .string(let s)? = try ParquetReader.decode(data, source: "mem").column("s")?.values else { Issue.record("no s"); return }
        #expect(s.nullCount == (rows + 6) / 7)
    }

    @Test func readingAFileByPathMatchesDecodingItsBytes() throws {
        let table = ParquetTable(columns: [ParquetColumn(name: "x", values: .int64([1, nil, 3]))])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("parquet-array-\(UUID().uuidString).parquet")
        defer { try? FileManager.default.removeItem(at: url) }
        try ParquetWriter.encode(table).write(to: url)
        #expect(try ParquetReader.read(contentsOf: url) == table)
        let missing = url.appendingPathExtension("missing")
        let error = #expect(throws: ParquetError.self) { try ParquetReader.read(contentsOf: missing) }
        #expect(error?.source == missing.path)
    }
}
