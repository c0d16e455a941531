import ConvictionCore
import ConvictionIngest
@testable import ConvictionPipeline
import ConvictionScoring
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct ScoreTaskTests {
    let tiny: @Sendable (inout ConvictionConfiguration) -> Void = {
        $0.symbols = [Symbol("AAPL")]
        $0.simulation.sessions = 6
    }

    func prepared(_ label: String) async throws -> URL {
        let dir = TestSupport.temporaryDirectory(label)
        _ = try await SimulateTask(context: try await makeContext(dir, tiny)).run()
        // Scoring is under test here: posts come by direct replay, not through the stream.
        let ingest = try await IngestTask(context: try await makeContext(dir) { tiny(&$0); $0.dataSource = .simulator; $0.simulationDelivery = .replay }, files: []).run()
        #expect(ingest.failures.isEmpty && ingest.rows > 0, "\(ingest.failures)")
        return dir
    }

    func scoreRows(_ dir: URL) throws -> [SentimentScore] {
        let root = dir.appendingPathComponent("scores")
        var rows: [SentimentScore] = []
        for case let path as String in FileManager.default.enumerator(atPath: root.path)! where path.hasSuffix(".parquet") {
            rows += try MarketTables.decodeScores(try Data(contentsOf: root.appendingPathComponent(path)), source: path)
        }
        return rows
    }

    @Test func aMissingModelFallsBackToTheLexiconAndSaysSo() async throws {
        let dir = try await prepared("fallback")
        let outcome = try await ScoreTask(context: try await makeContext(dir) { tiny(&$0); $0.scoring.model = dir.appendingPathComponent("no-model").path }).run()
        #expect(outcome.failures.isEmpty && outcome.done > 0)
        #expect(outcome.notes.contains { $0.contains("transformer model unavailable") && $0.contains("no-model") && $0.contains("lexicon-v1") }, "\(outcome.notes)")
        let rows = try scoreRows(dir)
        #expect(!rows.isEmpty && rows.allSatisfy { $0.scorer == "lexicon-v1" && $0.modelHash == "builtin" })
    }

    /// A post fetched from history (`ingest history`) counts from its created_at, a streamed one from its receipt.
    @Test func historicalPostsArePointInTimeByCreatedAtAndStreamedOnesByReceipt() async throws {
        let dir = TestSupport.temporaryDirectory("historical-pit")
        let context = try await makeContext(dir) { tiny(&$0); $0.scoring.model = dir.appendingPathComponent("no-model").path }
        let created = TestClock.defaultStart
        // TestFeed's posts 0 and 11 are about AAPL, created 660 s apart.
        let feed = TestFeed.posts(count: 12, start: created, spacing: .seconds(60))
        let posts = [RawPostLine.encode(payload: feed[0], receivedAt: created + 5_000),
                     RawPostLine.encode(payload: feed[11], receivedAt: created + 30 * Timestamps.day, historical: true)]
        let lines = posts.map { $0 + Data([0x0A]) }.reduce(Data(), +)
        let day = CivilDate(daysSinceEpoch: Int(created / Timestamps.day))
        try await context.store.put(Partition(.rawPosts, date: day, symbol: Symbol("AAPL")).prefix + "part-test.jsonl.gz", data: try Gzip.compress(lines))
        let outcome = try await ScoreTask(context: context).run()
        #expect(outcome.failures.isEmpty, "\(outcome.failures)")
        let rows = try scoreRows(dir)
        let streamed = try #require(rows.first { $0.createdAt == created })
        #expect(streamed.receivedAt == created + 5_000)
        let historical = try #require(rows.first { $0.createdAt == created + 660_000 }, "\(rows)")
        #expect(historical.receivedAt == historical.createdAt, "fetched a month later, but known from created_at")
    }

    /// The catalog knows which scorer finished a partition: another model re-scores it, the same one skips it.
    @Test(.enabled(if: ProjectFiles.find(ScoreTask.defaultModel + "/model.onnx") != nil))
    func aDifferentScorerRescoresAndTheSameOneSkips() async throws {
        let dir = try await prepared("rescore")
        let lexicon = try await ScoreTask(context: try await makeContext(dir) { tiny(&$0); $0.scoring.scorer = .lexicon }).run()
        #expect(lexicon.done > 0 && lexicon.skipped == 0)
        let transformer = try await ScoreTask(context: try await makeContext(dir, tiny)).run()
        #expect(transformer.done == lexicon.done && transformer.skipped == 0)
        let rows = try scoreRows(dir)
        #expect(rows.allSatisfy { $0.scorer == "finance-tweet-minilm" && $0.modelHash.count == 16 })
        #expect(rows.count == lexicon.rows)
        let again = try await ScoreTask(context: try await makeContext(dir, tiny)).run()
        #expect(again.done == 0 && again.skipped == lexicon.done)
    }

    @Test func adHocInputReadsLinesAndCSV() throws {
        let lines = try AdHocScoring.read(Data("first\r\nsecond, with comma\n\n\u{FF}bad\n".utf8 + [0xFF, 0x0A]), source: "in.txt", csv: nil)
        #expect(lines.map(\.line) == [1, 2, 3, 4, 5])
        #expect(lines[1].text == "second, with comma" && lines[2].text.isEmpty)
        #expect(lines[4].invalidUTF8 && !lines[0].invalidUTF8)
        let csv = try AdHocScoring.read(Data("id,Text\n1,\"say \"\"hi\"\", then\nleave\"\n2,plain\n".utf8), source: "posts.csv", csv: nil)
        #expect(csv.map(\.text) == ["say \"hi\", then\nleave", "plain"])
        #expect(csv.map(\.line) == [2, 4])
        let noColumn = try #require(throws: AdHocScoring.InputError.self) { try AdHocScoring.read(Data("id,body\n1,x\n".utf8), source: "posts.csv", csv: nil) }
        #expect(noColumn.description.hasPrefix("posts.csv:1:") && noColumn.description.contains("body"))
        let unclosed = try #require(throws: AdHocScoring.InputError.self) { try AdHocScoring.read(Data("text\n\"open\n".utf8), source: "x.csv", csv: nil) }
        #expect(unclosed.description.hasPrefix("x.csv:2:"))
        let short = try #require(throws: AdHocScoring.InputError.self) { try AdHocScoring.read(Data("id,text\n1,a\n2\n".utf8), source: "x.csv", csv: true) }
        #expect(short.description.hasPrefix("x.csv:3:"))
    }

    @Test func adHocOutputKeepsInputOrder() throws {
        let records = ["$V bullish, buying calls", "", "guidance cut, selling"].enumerated().map { AdHocScoring.Record(text: $0.element, line: $0.offset + 1, invalidUTF8: false) }
        var out: [String] = []
        AdHocScoring.score(records, chain: ScorerChain(scorers: [LexiconScorer()]), format: .csv) { out.append($0) }
        #expect(out.count == 3)
        #expect(out[0].hasPrefix("1,positive,") && out[1].hasPrefix("2,neutral,1.000000") && out[1].hasSuffix(",empty") && out[2].hasPrefix("3,negative,"))
        var json: [String] = []
        AdHocScoring.score(records, chain: ScorerChain(scorers: [LexiconScorer()]), format: .jsonl) { json.append($0) }
        let first = try JSONSerialization.jsonObject(with: Data(json[0].utf8)) as! [String: Any]
        #expect(first["label"] as? String == "positive" && first["scorer"] as? String == "lexicon-v1" && first["line"] as? Int == 1)
    }
}
