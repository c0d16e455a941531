import ConvictionTesting
import Foundation
import Testing

/// `conviction score --text/--input`, as people and scripts use it.
@Suite(.timeLimit(.minutes(10))) struct ScoreCommandTests {
    var modelPresent: Bool { FileManager.default.fileExists(atPath: TestSupport.packageRoot.appendingPathComponent(".models/finance-tweet-minilm/model.onnx").path) }

    @Test func scoresTextsInOrderAsCSVAndJSONLines() throws {
        let csv = try TestSupport.conviction(["score", "--text", "$AAPL beats estimates, raises guidance", "--text", "   ",
                                              "--text", "$TSLA downgraded to sell after deliveries miss"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "line,label,confidence,positive,negative,neutral,scorer,note")
        #expect(lines.count == 4)
        #expect(lines[2].hasPrefix("2,neutral,1.000000") && lines[2].hasSuffix(",whitespace-only"))
        if modelPresent {
            #expect(lines[1].hasPrefix("1,positive,") && lines[3].hasPrefix("3,negative,"), "\(lines)")
            #expect(lines[1].contains(",finance-tweet-minilm,"))
        }
        let input = TestSupport.temporaryDirectory("score-cli").appendingPathComponent("posts.csv")
        try Data("id,text\n7,\"Shares of $NVDA soar, record revenue\"\n8,\"$JPM \"\"in line\"\"\nwith estimates\"\n".utf8).write(to: input)
        let json = try TestSupport.conviction(["score", "--input", input.path, "--format", "jsonl"])
        #expect(json.status == 0, "\(json.stderr)")
        let rows = json.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(rows.map { $0["line"] as? Int } == [2, 3])
        for row in rows {
            let sum = ["positive", "negative", "neutral"].map { row[$0] as! Double }.reduce(0, +)
            #expect(abs(sum - 1) < 1e-5)
        }
    }

    @Test func readsStandardInputAndNotesBadBytes() throws {
        var bytes = Data("good day for $V\n".utf8)
        bytes.append(contentsOf: [0xFF, 0xFE, 0x20, 0x62, 0x0A])
        let result = try TestSupport.run(TestSupport.convictionBinary.path, ["score", "--input", "-"], in: TestSupport.packageRoot, input: bytes)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[2].hasSuffix(",invalid-utf8"))
    }

    @Test func badInputIsAClearErrorWithFileAndLine() throws {
        let input = TestSupport.temporaryDirectory("score-cli").appendingPathComponent("posts.csv")
        try Data("id,body\n1,x\n".utf8).write(to: input)
        let result = try TestSupport.conviction(["score", "--input", input.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(input.path):1:") && result.stderr.contains("text column"), "\(result.stderr)")
        let missing = try TestSupport.conviction(["score", "--input", "/nonexistent/posts.txt"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/posts.txt"))
    }

    /// The acceptance check: with the model folder gone, scoring goes on with the lexicon and says so.
    @Test func aRemovedModelFolderFallsBackWithAWarning() throws {
        let gone = TestSupport.temporaryDirectory("removed-model").appendingPathComponent("finance-tweet-minilm").path
        let result = try TestSupport.conviction(["score", "--text", "$AAPL to the moon"], environment: ["CONVICTION_SCORING_MODEL": gone])
        #expect(result.status == 0)
        #expect(result.stderr.contains("warning: transformer model unavailable (model folder \(gone) does not exist); scoring with lexicon-v1"), "\(result.stderr)")
        #expect(result.stdout.contains(",lexicon-v1,"))
    }
}
