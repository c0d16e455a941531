import ConvictionCore
import ConvictionScoring
import ConvictionTesting
import Foundation
import Testing

@Suite(.enabled(if: ScoringFixtures.available), .timeLimit(.minutes(10))) struct TransformerScorerTests {
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
    @Test(.enabled(if: ProjectFiles.find(".models/finance-tweet-minilm/model.onnx") != nil))
    func theDefaultModelReadsFinanceTweets() throws {
        let scorer = try TransformerScorer(folder: ProjectFiles.find(".models/finance-tweet-minilm")!)
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

@Suite(.enabled(if: ScoringFixtures.available), .timeLimit(.minutes(10))) struct BatchInvarianceTests {
    /// A text's probabilities do not depend on the texts that share its batch, on the batch size or
    /// on its position: bit for bit.
    @Test func aTextsScoreDependsOnTheTextAlone() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let texts = Array(tiny.texts.prefix(120))
        let big = try TransformerScorer(folder: tiny.folder, batchSize: 32)
        #expect(big.batchInvariant)
        let batched = try big.score(texts)
        let alone = try TransformerScorer(folder: tiny.folder, batchSize: 1)
        for (i, text) in texts.enumerated() where i % 7 == 0 {
            #expect(try alone.score([text])[0] == batched[i], "text \(i)")
        }
        let reversed = try big.score(texts.reversed())
        #expect(Array(reversed.reversed()) == batched)
    }

    /// Dynamic int8 quantisation scales activations per tensor, so rows depend on batch-mates: the
    /// probe notices and the scorer runs one text at a time, which keeps scores reproducible.
    @Test(.enabled(if: ProjectFiles.find(".models/finance-tweet-minilm-int8/model.onnx") != nil))
    func batchDependentModelsScoreOneTextPerRun() throws {
        let int8 = try TransformerScorer(folder: ProjectFiles.find(".models/finance-tweet-minilm-int8")!, batchSize: 32)
        #expect(!int8.batchInvariant && int8.effectiveBatchSize == 1)
        let texts = VariedPosts.generate(count: 40, seed: 3)
        let together = try int8.score(texts)
        let apart = try texts.map { try int8.score([$0])[0] }
        #expect(together == apart)
    }
}

@Suite(.enabled(if: ScoringFixtures.available), .timeLimit(.minutes(10))) struct ScorerChainTests {
    /// A model that loads but fails on some input (its config claims more positions than the graph
    /// has): the chain moves to the lexicon for the rest of the run and records why.
    @Test func aFailingModelHandsOverToTheLexicon() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let dir = TestSupport.temporaryDirectory("lying-model")
        for file in ["model.onnx", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: tiny.folder + "/" + file, toPath: dir.appendingPathComponent(file).path)
        }
        try Data(#"{"id2label": {"0": "positive", "1": "negative", "2": "neutral"}, "max_length": 300, "max_position_embeddings": 512}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        var settings = ScorerChain.Settings()
        settings.modelFolder = dir.path
        let chain = ScorerChain.make(settings)
        #expect(chain.active.name == dir.lastPathComponent && chain.notices.isEmpty)
        let short = chain.score(["$AAPL looks fine"])
        #expect(short.scorer.name == dir.lastPathComponent)
        let long = chain.score(["$AAPL looks fine", String(repeating: "word ", count: 200)])
        #expect(long.scorer.name == LexiconScorer.name && long.results.count == 2)
        #expect(chain.active.name == LexiconScorer.name)
        #expect(chain.notices.count == 1 && chain.notices[0].contains("failed") && chain.notices[0].contains("lexicon-v1"), "\(chain.notices)")
    }

    @Test func noModelMeansTheLexiconWithANotice() {
        var settings = ScorerChain.Settings()
        settings.modelFolder = nil
        let chain = ScorerChain.make(settings)
        #expect(chain.active.name == LexiconScorer.name)
        #expect(chain.notices.first?.contains("make setup") == true)
    }
}
