import ConvictionCore
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct LocalObjectStoreTests {
    @Test func putGetListDelete() async throws {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("store"))
        try await store.put("raw/posts/dt=2026-01-05/symbol=AAPL/part-a.jsonl.gz", data: Data("a".utf8))
        try await store.put("raw/posts/dt=2026-01-06/symbol=TSLA/part-b.jsonl.gz", data: Data("b".utf8))
        try await store.put("scores/dt=2026-01-05/symbol=AAPL/part-0.parquet", data: Data("c".utf8))
        #expect(try await store.get("raw/posts/dt=2026-01-05/symbol=AAPL/part-a.jsonl.gz") == Data("a".utf8))
        #expect(try await store.list(prefix: "raw/posts/").count == 2)
        #expect(try await store.list(prefix: "raw/posts/dt=2026-01-06").count == 1)
        try await store.put("raw/posts/dt=2026-01-05/symbol=AAPL/part-a.jsonl.gz", data: Data("replaced".utf8))
        #expect(try await store.get("raw/posts/dt=2026-01-05/symbol=AAPL/part-a.jsonl.gz") == Data("replaced".utf8))
        try await store.delete("scores/dt=2026-01-05/symbol=AAPL/part-0.parquet")
        #expect(try await store.exists("scores/dt=2026-01-05/symbol=AAPL/part-0.parquet") == false)
        // Atomic writes leave no temporary files behind.
        let leftovers = FileManager.default.enumerator(atPath: store.root.path)!.compactMap { $0 as? String }.filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test(arguments: ["", "/etc/passwd", "../outside", "a/../../b", "a/./b"])
    func rejectsKeysThatEscapeTheRoot(_ key: String) async throws {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("store"))
        await #expect(throws: StoreError.self) { try await store.put(key, data: Data()) }
    }

    @Test func missingObjectErrorNamesTheKey() async throws {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("store"))
        do {
            _ = try await store.get("scores/none.parquet")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("scores/none.parquet"))
        }
    }

    @Test func partitionsByDateRangeAndSymbol() async throws {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("store"))
        for (d, s) in [("2026-01-05", "AAPL"), ("2026-01-06", "AAPL"), ("2026-01-07", "TSLA"), ("2026-01-08", "AAPL")] {
            try await store.put(Partition(.rawPosts, date: CivilDate(iso: d), symbol: Symbol(s)).prefix + "part-1.jsonl.gz", data: Data())
        }
        let found = try await store.partitions(of: .rawPosts, from: CivilDate(iso: "2026-01-06"), through: CivilDate(iso: "2026-01-07"),
                                               symbols: [Symbol("AAPL")])
        #expect(found.keys.map(\.prefix) == ["raw/posts/dt=2026-01-06/symbol=AAPL/"])
        #expect(Partition.containing("raw/posts/dt=2026-01-06/symbol=AAPL/part-1.jsonl.gz", in: .rawPosts)?.symbol == Symbol("AAPL"))
        #expect(Partition.containing("raw/posts/dt=2026-13-06/x", in: .rawPosts) == nil)
    }
}

@Suite(.timeLimit(.minutes(10))) struct JSONLinesTests {
    @Test func roundTripsLinesThroughGzip() throws {
        let lines = ["{\"a\":1}", "{\"b\":\"✓\"}", "{}"].map { Data($0.utf8) }
        let data = try JSONLines.encode(lines)
        #expect(data.prefix(2) == Data([0x1F, 0x8B]))
        #expect(try JSONLines.encode(lines) == data, "gzip output is deterministic")
        let read = JSONLines.read(data, gzipped: true)
        #expect(read.damage == nil)
        #expect(read.lines.map(\.bytes) == lines)
        #expect(read.lines.map(\.number) == [1, 2, 3])
    }

    @Test func truncatedGzipKeepsTheCompleteLinesAndReportsDamage() throws {
        let lines = (0..<2000).map { Data("{\"id\":\"\($0)\",\"text\":\"post number \($0) with some padding text\"}".utf8) }
        let data = try JSONLines.encode(lines)
        let truncated = data.prefix(data.count * 2 / 3)
        let read = JSONLines.read(Data(truncated), gzipped: true)
        #expect(read.damage != nil)
        #expect(read.lines.count > 100 && read.lines.count < 2000)
        // Every line but possibly the last is intact.
        for line in read.lines.dropLast() { #expect(lines[line.number - 1] == line.bytes) }
        #expect(throws: Gzip.Error.self) { try Gzip.decompress(Data(truncated)) }
    }

    /// `cat a.gz b.gz` makes one valid gzip file of two members, as gzip and Python read it; the
    /// second member's lines must not be dropped.
    @Test(arguments: [true, false])
    func gzipIsDeterministicWithNoModificationTimeAndReadsBack(_ libdeflate: Bool) throws {
        let input = Data((0..<20_000).map { "{\"id\":\"\($0)\",\"text\":\"$AAPL line \($0 % 97)\"}\n" }.joined().utf8)
        let compressor = Gzip.MemberCompressor(useLibDeflate: libdeflate)
        try #require(compressor.engine == (libdeflate ? "libdeflate" : "zlib"), "make setup installs libdeflate0")
        let a = try compressor.compress(input), b = try Gzip.MemberCompressor(useLibDeflate: libdeflate).compress(input)
        #expect(a == b)
        #expect(Array(a.prefix(8)) == [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0], "no name, no modification time")
        #expect(a.count < input.count / 5)
        #expect(try Gzip.decompress(a) == input)
    }

    /// Hands out bytes seven at a time.
    final class SevenByteReader: ObjectReader {
        var rest: Data
        let size: Int?
        init(_ data: Data) { rest = data; size = data.count }
        func read() async throws -> Data? {
            guard !rest.isEmpty else { return nil }
            defer { rest = Data(rest.dropFirst(7)) }
            return Data(rest.prefix(7))
        }
    }

    @Test(arguments: [true, false])
    func readingInPiecesGivesTheSameLinesAndDamageAsReadingWhole(_ gzipped: Bool) async throws {
        let lines = (0..<400).map { Data("{\"id\":\"\($0)\"}".utf8) }
        var data = try JSONLines.encode(lines, gzip: gzipped)
        data.insert(contentsOf: [0x0A, 0x0A], at: gzipped ? data.count : 30)  // empty lines are numbered, not returned
        for bytes in [data, data.prefix(data.count * 2 / 3)] {
            let whole = JSONLines.read(bytes, gzipped: gzipped)
            var pieces: [(Int, Data)] = []
            let damage = try await JSONLines.forEachLine(of: SevenByteReader(Data(bytes))) { pieces.append(($0.number, Data($0.bytes))) }
            #expect(pieces.map(\.0) == whole.lines.map(\.number))
            #expect(pieces.map(\.1) == whole.lines.map { Data($0.bytes) })
            #expect(damage == whole.damage)
        }
    }

    @Test func concatenatedGzipMembersReadAsOneFile() throws {
        let first = (0..<300).map { Data("{\"id\":\"a\($0)\"}".utf8) }, second = (0..<200).map { Data("{\"id\":\"b\($0)\"}".utf8) }
        let joined = try JSONLines.encode(first) + JSONLines.encode(second)
        let read = JSONLines.read(joined, gzipped: true)
        #expect(read.damage == nil)
        #expect(read.lines.map(\.bytes) == first + second)
        #expect(try Gzip.decompress(joined + Data(repeating: 0, count: 512)) == Data(try Gzip.decompress(joined)), "trailing zero padding is ignored")
        let garbage = JSONLines.read(joined + Data("not gzip".utf8), gzipped: true)
        #expect(garbage.lines.map(\.bytes) == first + second, "the good lines are kept")
        #expect(garbage.damage?.contains("unexpected bytes after the gzip data") == true, "\(String(describing: garbage.damage))")
    }
}

@Suite(.timeLimit(.minutes(10))) struct CatalogTests {
    @Test func finishedOnlyWithSameInputsAndExistingOutputs() async throws {
        let root = TestSupport.temporaryDirectory("catalog")
        let store = try LocalObjectStore(root: root)
        let catalog = try Catalog(path: root.appendingPathComponent("catalog.sqlite").path)
        try await store.put("scores/x.parquet", data: Data("x".utf8))
        try await catalog.record(.init(stage: "score", unit: "u1", inputHash: "h1", outputKeys: "scores/x.parquet", outputHash: "o",
                                 rows: 3, completedAt: "2026-01-01T00:00:00.000Z"), store: store)
        #expect(try await catalog.finished(stage: "score", unit: "u1", inputHash: "h1", store: store)?.rows == 3)
        #expect(try await catalog.finished(stage: "score", unit: "u1", inputHash: "h2", store: store) == nil)
        try await store.delete("scores/x.parquet")
        #expect(try await catalog.finished(stage: "score", unit: "u1", inputHash: "h1", store: store) == nil)
        // Persisted across opens.
        let reopened = try Catalog(path: root.appendingPathComponent("catalog.sqlite").path)
        #expect(try reopened.completions(stage: "score").count == 1)
    }

    @Test func contentHashIsSHA256OfLengthAndBytes() {
        #expect(ContentHasher.hash(Data("abc".utf8)) == ContentHasher.hash(Data("abc".utf8)))
        #expect(ContentHasher.hash(Data("abc".utf8)) != ContentHasher.hash(Data("abd".utf8)))
        #expect(ContentHasher.hash(Data()).count == 64)
    }
}
