import ConvictionCore
import ConvictionScoring
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct WordPieceTokenizerTests {
    /// Hugging Face `tokenizers`' ids for the same texts, vocabulary and settings.
    func referenceIDs(_ texts: [String], lowercase: Bool, maxLength: Int) throws -> [[Int32]] {
        let input = try texts.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/reference/tokenize_reference.py").path
        let result = try TestSupport.run(TestSupport.python!, [script, ScoringFixtures.vocabulary!, lowercase ? "1" : "0", String(maxLength)],
                                         input: Data(input.utf8))
        try #require(result.status == 0, "\(result.stderr)")
        return try result.stdout.split(separator: "\n").map { try JSONDecoder().decode([Int32].self, from: Data($0.utf8)) }
    }

    func compare(_ texts: [String], lowercase: Bool, maxLength: Int) throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: ScoringFixtures.vocabulary!, lowercase: lowercase, maxLength: maxLength)
        let reference = try referenceIDs(texts, lowercase: lowercase, maxLength: maxLength)
        try #require(reference.count == texts.count)
        var mismatches = 0
        for (text, expected) in zip(texts, reference) {
            let got = tokenizer.encode(text).ids
            if got != expected {
                mismatches += 1
                if mismatches <= 5 { Issue.record("ids differ for \(text.debugDescription):\n  swift \(got)\n  hf    \(expected)") }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(texts.count) texts tokenised differently")
    }

    @Test(.enabled(if: ScoringFixtures.vocabulary != nil && TestSupport.pythonHas("tokenizers")))
    func matchesHuggingFaceOnTenThousandVariedPosts() throws {
        try compare(VariedPosts.generate(count: 10_000, seed: 42), lowercase: true, maxLength: 128)
    }

    @Test(.enabled(if: ScoringFixtures.vocabulary != nil && TestSupport.pythonHas("tokenizers")))
    func matchesHuggingFaceCasedAndTruncated() throws {
        try compare(VariedPosts.generate(count: 2_000, seed: 7), lowercase: false, maxLength: 16)
    }

    /// The labelled finance tweets, when ../shared is beside the checkout.
    @Test(.enabled(if: ScoringFixtures.vocabulary != nil && TestSupport.pythonHas("tokenizers")
                   && FileManager.default.fileExists(atPath: TestSupport.packageRoot.appendingPathComponent("../shared/data/tfns/sent_train.csv").path)))
    func matchesHuggingFaceOnFinanceTweets() throws {
        let csv = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("../shared/data/tfns/sent_train.csv"), encoding: .utf8)
        // Whole lines are fine as texts: the label and quoting only add tokens.
        try compare(csv.split(separator: "\n").dropFirst().map(String.init), lowercase: true, maxLength: 64)
    }

    @Test func basicRules() throws {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "buy", "##ing", "$", "aapl", "!", "日", "本", "cafe", "un", "##believ", "##able", "##s"]
        let t = try WordPieceTokenizer(vocabulary: vocab, lowercase: true, maxLength: 10)
        func pieces(_ s: String) -> [String] { t.encode(s).ids.map { vocab[Int($0)] } }
        #expect(pieces("Buying $AAPL!") == ["[CLS]", "buy", "##ing", "$", "aapl", "!", "[SEP]"])
        #expect(pieces("日本") == ["[CLS]", "日", "本", "[SEP]"])                     // CJK characters split
        #expect(pieces("CAFÉ") == ["[CLS]", "cafe", "[SEP]"])                         // accents stripped
        #expect(pieces("Cafe\u{0301}") == ["[CLS]", "cafe", "[SEP]"])                 // decomposed form too
        #expect(pieces("unbelievables") == ["[CLS]", "un", "##believ", "##able", "##s", "[SEP]"])
        #expect(pieces("buyx") == ["[CLS]", "[UNK]", "[SEP]"])                         // one unknown piece: the whole word
        #expect(pieces(String(repeating: "buy", count: 34)) == ["[CLS]", "[UNK]", "[SEP]"])  // over 100 characters
        #expect(pieces("buy\u{0007}ing\u{200B}") == ["[CLS]", "buy", "##ing", "[SEP]"])  // control and format removed
        let long = t.encode(String(repeating: "buy ", count: 20))
        #expect(long.ids.count == 10 && long.truncated == 12 && long.ids.last == 3)
        #expect(pieces("") == ["[CLS]", "[SEP]"])
        #expect(throws: WordPieceTokenizer.VocabularyError.self) { try WordPieceTokenizer(vocabulary: ["[PAD]", "a"], lowercase: true, maxLength: 8) }
    }
}
