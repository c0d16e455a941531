import ConvictionCore
import ConvictionScoring
import ConvictionTesting
import Foundation
import Testing

@Suite(.enabled(if: ScoringFixtures.available)) struct TransformerScorerTests {
    /// Swift's probabilities equal Python onnxruntime's for a FinBERT-layout model
    /// (labels positive, negative, neutral in that order), read by label name.
    @Test(arguments: [1, 7, 32])
    func matchesPythonOnnxruntime(batchSize: Int) throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let scorer = try TransformerScorer(folder: tiny.folder, batchSize: batchSize)
        #expect(scorer.model.positiveIndex == 0 && scorer.model.negativeIndex == 1 && scorer.model.neutralIndex == 2)
        #expect(scorer.model.maxLength == 48)
        let scored = try scorer.score(tiny.texts)
        try #require(scored.count == tiny.reference.count)
        var worst = 0.0
        for (i, (s, r)) in zip(scored, tiny.reference).enumerated() {
            if s.issue == .empty || s.issue == .whitespaceOnly {
                #expect(s.probabilities == .certainNeutral, "text \(i)")
                continue
            }
            worst = max(worst, abs(s.probabilities.positive - r["positive"]!), abs(s.probabilities.negative - r["negative"]!),
                        abs(s.probabilities.neutral - r["neutral"]!))
        }
        #expect(worst < 1e-5, "largest difference \(worst)")
        #expect(scored[tiny.texts.count - 1].issue == .truncated)
        let stats = scorer.statistics
        #expect(stats.texts == tiny.texts.count && stats.runSeconds > 0 && stats.runSeconds <= stats.totalSeconds)
        #expect(stats.paddedTokens >= stats.tokens)
    }

    @Test func modelFolderErrorsNameTheFileAndField() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let dir = TestSupport.temporaryDirectory("bad-model")
        #expect(throws: SentimentModel.FolderError.self) { try SentimentModel(folder: dir.appendingPathComponent("absent").path) }
        #expect(throws: SentimentModel.FolderError.self) { try SentimentModel(folder: dir.path) }
        for file in ["model.onnx", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: tiny.folder + "/" + file, toPath: dir.appendingPathComponent(file).path)
        }
        func expectError(config: String, mentioning: String) throws {
            try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
            let error = try #require(throws: SentimentModel.FolderError.self) { try SentimentModel(folder: dir.path) }
            #expect(error.description.contains("config.json") && error.description.contains(mentioning), "\(error)")
        }
        try expectError(config: "{", mentioning: "not valid JSON")
        try expectError(config: "{}", mentioning: "id2label")
        try expectError(config: #"{"id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}}"#, mentioning: "LABEL_0")
        try expectError(config: #"{"id2label": {"0": "positive", "1": "negative"}}"#, mentioning: "neutral")
        try Data(#"{"id2label": {"0": "Bearish", "1": "Bullish", "2": "Neutral"}, "max_length": 32}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let model = try SentimentModel(folder: dir.path)
        #expect(model.negativeIndex == 0 && model.positiveIndex == 1 && model.maxLength == 32 && model.modelHash.count == 16)
    }

    /// The embedded default model, when the set-up has assembled it.
    @Test(.enabled(if: ProjectFiles.find(".models/finance-tweet-minilm-int8/model.onnx") != nil))
    func theDefaultModelReadsFinanceTweets() throws {
        let scorer = try TransformerScorer(folder: ProjectFiles.find(".models/finance-tweet-minilm-int8")!)
        let texts = ["$AAPL beats earnings estimates, raises full-year guidance; shares jump 8%",
                     "$TSLA shares plunge after deliveries miss and a downgrade to sell",
                     "$MSFT to report earnings on Thursday after the close"]
        let labels = try scorer.score(texts).map { s -> String in
            let p = s.probabilities
            return p.positive > max(p.negative, p.neutral) ? "positive" : p.negative > p.neutral ? "negative" : "neutral"
        }
        #expect(labels == ["positive", "negative", "neutral"])
    }
}
