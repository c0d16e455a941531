import ConvictionAWS
import ConvictionCore
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

/// The object-store behaviour every backend must have, run against the local folder and against
/// S3 (moto_server started by `make test`).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, s3
    var testDescription: String { rawValue }

    func make(_ label: String) async throws -> (any ObjectStore)? {
        switch self {
        case .local:
            return try LocalObjectStore(root: TestSupport.temporaryDirectory(label))
        case .s3:
            guard let endpoint = TestSupport.motoEndpoint else { return nil }
            let store = try S3ObjectStore(bucket: TestSupport.uniqueBucket(label), prefix: "some/prefix", configuration: motoConfiguration(endpoint))
            try await store.createBucketIfNeeded()
            return store
        }
    }
}

func motoConfiguration(_ endpoint: String, keyID: String = "testing", secret: String = "testing") -> AWSConfiguration {
    AWSConfiguration(region: "us-east-1", endpoint: endpoint,
                     credentials: AWSCredentials(accessKeyID: keyID, secretAccessKey: Secret(secret), source: "test"))
}

@Suite(.timeLimit(.minutes(10))) struct ObjectStoreConformanceTests {
    static let backends: [Backend] = TestSupport.motoEndpoint == nil ? [.local] : Backend.allCases

    @Test(arguments: backends)
    func putGetListDelete(_ backend: Backend) async throws {
        let store = try #require(try await backend.make("conf"))
        let keys = ["raw/posts/dt=2026-01-05/symbol=AAPL/part-a.jsonl.gz", "raw/posts/dt=2026-01-06/symbol=TSLA/part-b.jsonl.gz",
                    "scores/dt=2026-01-05/symbol=AAPL/part-0.parquet", "odd/key with spaces/ünï+&=.txt"]
        for (i, key) in keys.enumerated() { try await store.put(key, data: Data("v\(i)".utf8)) }
        for (i, key) in keys.enumerated() { #expect(try await store.get(key) == Data("v\(i)".utf8)) }
        #expect(try await store.list(prefix: "raw/posts/") == keys[0...1].sorted())
        #expect(try await store.list(prefix: "raw/posts/dt=2026-01-06").count == 1)
        #expect(try await store.list(prefix: "").count == 4)
        try await store.put(keys[0], data: Data("replaced".utf8))
        #expect(try await store.get(keys[0]) == Data("replaced".utf8))
        #expect(try await store.exists(keys[2]))
        try await store.delete(keys[2])
        #expect(try await store.exists(keys[2]) == false)
        try await store.delete(keys[2])  // deleting twice is fine
        await #expect { try await store.get("missing/key") } throws: { ($0 as? StoreError)?.errorCode == .missingInput }
        await #expect(throws: StoreError.self) { try await store.put("../escape", data: Data()) }
        // Partition listing by date and symbol works the same way.
        let partitions = try await store.partitions(of: .rawPosts, symbols: [Symbol("TSLA")])
        #expect(partitions.keys.map(\.prefix) == ["raw/posts/dt=2026-01-06/symbol=TSLA/"])
    }

    @Test(arguments: backends)
    func objectsStreamInPiecesAndAppearOnlyOnCommit(_ backend: Backend) async throws {
        var store = try #require(try await backend.make("stream"))
        if var s3 = store as? S3ObjectStore { s3.multipartThreshold = 6 << 20; s3.partSize = 5 << 20; store = s3 }
        // 13 MiB that differ at every 8 bytes, made a word at a time (a byte-wise generator is slow in debug builds).
        let data = Data((0..<(13 << 17)).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }.withUnsafeBytes { Array($0) })
        try await store.put("blob", data: Data("old".utf8))
        let writer = try await store.writer("blob")
        for offset in stride(from: 0, to: data.count, by: 1 << 20) { try await writer.write(data[offset..<min(data.count, offset + (1 << 20))]) }
        #expect(try await store.get("blob") == Data("old".utf8), "nothing shows before commit")
        try await writer.commit()
        let reader = try await store.reader("blob", chunkSize: 3 << 20)
        #expect(reader.size == data.count)
        var pieces: [Data] = []
        while let piece = try await reader.read() { pieces.append(piece) }
        #expect(pieces.allSatisfy { $0.count <= 3 << 20 } && pieces.count == 5)
        #expect(pieces.reduce(Data(), +) == data)

        // An aborted write, and a body that throws, leave the old object and nothing else.
        let aborted = try await store.writer("blob")
        try await aborted.write(data)
        await aborted.abort()
        struct Stop: Error {}
        await #expect(throws: Stop.self) { try await store.write("blob") { try await $0.write(Data("partial".utf8)); throw Stop() } }
        #expect(try await store.get("blob") == data)
        #expect(try await store.list(prefix: "") == ["blob"])
        await #expect { try await store.reader("missing", chunkSize: 1) } throws: { ($0 as? StoreError)?.errorCode == .missingInput }
    }

    @Test(arguments: backends)
    func catalogResumesFromTheStore(_ backend: Backend) async throws {
        let store = try #require(try await backend.make("catalog"))
        let cache = TestSupport.temporaryDirectory("cache")
        let first = try Catalog(path: cache.appendingPathComponent("a.sqlite").path)
        try await store.put("scores/x.parquet", data: Data("x".utf8))
        try await first.record(.init(stage: "score", unit: "u1", inputHash: "h1", outputKeys: "scores/x.parquet", outputHash: "o",
                                     rows: 3, completedAt: "2026-01-01T00:00:00.000Z"), store: store)
        // A second machine, with an empty catalog of its own.
        let second = try Catalog(path: cache.appendingPathComponent("b.sqlite").path)
        let found = try await second.finished(stage: "score", unit: "u1", inputHash: "h1", store: store)
        #expect((found != nil) == store.isShared, "on a shared store the marker tells other machines the work is done")
        #expect(try await second.finished(stage: "score", unit: "u1", inputHash: "h2", store: store) == nil)
    }
}

@Suite(.enabled(if: TestSupport.motoEndpoint != nil, "needs moto_server: run through `make test` (scripts/with-moto.sh)"), .timeLimit(.minutes(10)))
struct S3ObjectStoreTests {
    func store(_ label: String) async throws -> S3ObjectStore {
        let store = try S3ObjectStore(bucket: TestSupport.uniqueBucket(label), prefix: "", configuration: motoConfiguration(TestSupport.motoEndpoint!))
        try await store.createBucketIfNeeded()
        return store
    }

    @Test func listsAcrossPages() async throws {
        var s = try await store("pages")
        s.listPageSize = 7
        for i in 0..<23 { try await s.put(String(format: "k/%03d", i), data: Data([UInt8(i)])) }
        let keys = try await s.list(prefix: "k/")
        #expect(keys.count == 23 && keys == keys.sorted())
    }

    @Test func rangedGet() async throws {
        let s = try await store("range")
        try await s.put("blob", data: Data("0123456789".utf8))
        #expect(try await s.get("blob", range: 2...5) == Data("2345".utf8))
    }

    @Test func multipartUploadOfALargeObject() async throws {
        var s = try await store("multipart")
        s.multipartThreshold = 6 << 20
        s.partSize = 5 << 20
        var rng = SeededGenerator(seed: 1)
        let data = Data((0..<(11 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        try await s.put("big.bin", data: data)
        #expect(try await s.get("big.bin") == data)
    }

    @Test func aReaderFailsWhenTheObjectIsReplacedMidRead() async throws {
        let s = try await store("replaced")
        try await s.put("blob", data: Data(repeating: 1, count: 1000))
        let reader = try await s.reader("blob", chunkSize: 400)
        _ = try await reader.read()
        try await s.put("blob", data: Data(repeating: 2, count: 1000))
        await #expect { _ = try await reader.read() } throws: { "\($0)".contains("changed") }
    }

    @Test func addressingStyles() throws {
        let aws = AWSConfiguration(region: "eu-west-1", endpoint: nil, credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: Secret("s"), source: "t"))
        let virtual = try S3ObjectStore(bucket: "my-bucket", prefix: "p", configuration: aws)
        #expect(virtual.url(for: "raw/a b.txt") == "https://my-bucket.s3.eu-west-1.amazonaws.com/p/raw/a%20b.txt")
        let dotted = try S3ObjectStore(bucket: "my.bucket", prefix: "", configuration: aws)
        #expect(dotted.url(for: "k") == "https://s3.eu-west-1.amazonaws.com/my.bucket/k", "dots break TLS for virtual hosts")
        let local = try S3ObjectStore(bucket: "b", prefix: "", configuration: motoConfiguration("http://127.0.0.1:5000"))
        #expect(local.url(for: "k") == "http://127.0.0.1:5000/b/k")
    }

    @Test func s3URLsParse() throws {
        let s = try S3ObjectStore(url: "s3://my-bucket/a/b/", configuration: motoConfiguration("http://127.0.0.1:1"))
        #expect(s.bucket == "my-bucket" && s.prefix == "a/b" && s.location == "s3://my-bucket/a/b")
        #expect(throws: AWSError.self) { try S3ObjectStore(url: "s3://Bad_Bucket", configuration: motoConfiguration("http://127.0.0.1:1")) }
    }
}
