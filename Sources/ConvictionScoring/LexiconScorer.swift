import ConvictionCore
import Foundation

/// A finance lexicon scorer with negation handling: the always-available fallback when no
/// transformer model is configured. Authored for Conviction (no third-party word list).
///
/// Words and two-word phrases carry a polarity weight; a negator ("not", "no", "never", "don't",
/// "no longer", ...) flips the polarity of the next three tokens. The summed positive and negative
/// evidence becomes probabilities through a softmax against a fixed neutral logit.
public struct LexiconScorer: SentimentScorer {
    public static let name = "lexicon-v1"
    public var name: String { Self.name }
    /// The word tables are code: the version in the name identifies them.
    public var modelHash: String { "builtin" }

    public init() {}

    public func score(_ texts: [String]) throws -> [ScoredText] {
        texts.map { text in
            let issue = TextIssue.of(text)
            return ScoredText(probabilities: issue == nil ? score(text) : .certainNeutral, issue: issue)
        }
    }

    public func score(_ text: String) -> SentimentProbabilities {
        let tokens = Self.tokenize(text)
        var positive = 0.0
        var negative = 0.0
        var negateUntil = -1
        var i = 0
        while i < tokens.count {
            let token = tokens[i]
            if Self.negators.contains(token) || (token == "no" && i + 1 < tokens.count && tokens[i + 1] == "longer") {
                negateUntil = i + (token == "no" ? 4 : 3)
                i += 1
                continue
            }
            var weight: Double?
            var width = 1
            if i + 1 < tokens.count, let w = Self.phrases[token + " " + tokens[i + 1]] {
                weight = w; width = 2
            } else if let w = Self.words[token] {
                weight = w
            }
            if var w = weight {
                if i <= negateUntil { w = -w * 0.8 }
                if i > 0, Self.intensifiers.contains(tokens[i - 1]) { w *= 1.5 }
                if w > 0 { positive += w } else { negative -= w }
            }
            i += width
        }
        let logits = [1.3 * negative, 0.9, 1.3 * positive]
        let top = logits.max()!
        let e = logits.map { exp($0 - top) }
        let sum = e.reduce(0, +)
        return SentimentProbabilities(negative: e[0] / sum, neutral: e[1] / sum, positive: e[2] / sum)
    }

    /// Lower-cased words; `$TICKER` cashtags and URLs dropped; emoji kept as tokens.
    public static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var skippingTag = false
        func flush() {
            if !current.isEmpty, !skippingTag, !current.hasPrefix("http") { tokens.append(current) }
            current = ""; skippingTag = false
        }
        for scalar in text.lowercased().unicodeScalars {
            if scalar == "$" { flush(); skippingTag = true; current = "$"; continue }
            if CharacterSet.alphanumerics.contains(scalar) || scalar == "'" || scalar == "’" {
                current.unicodeScalars.append(scalar == "’" ? "'" : scalar)
            } else if scalar == ":" || scalar == "/" || scalar == "." , current.hasPrefix("http") {
                current.unicodeScalars.append(scalar)
            } else {
                flush()
                if scalar.properties.isEmojiPresentation { tokens.append(String(scalar)) }
            }
        }
        flush()
        return tokens
    }

    static let negators: Set<String> = ["not", "no", "never", "don't", "dont", "can't", "cant", "isn't", "won't", "nobody", "without", "neither"]
    static let intensifiers: Set<String> = ["very", "super", "extremely", "so", "really", "insanely"]

    static let words: [String: Double] = [
        // bullish
        "bullish": 1.5, "bull": 1.0, "buy": 1.0, "buying": 1.0, "bought": 0.8, "long": 0.6, "calls": 0.8, "breakout": 1.2,
        "beat": 1.2, "beats": 1.2, "strong": 1.0, "stronger": 1.0, "upgrade": 1.3, "upgraded": 1.3, "raised": 0.9, "raises": 0.9,
        "higher": 0.8, "highs": 0.9, "rally": 1.1, "rallies": 1.1, "record": 0.6, "outperforming": 1.1, "outperform": 1.1,
        "undervalued": 1.1, "growth": 0.6, "love": 0.7, "moon": 1.0, "green": 0.8, "ripping": 1.1, "crushing": 1.0,
        "accumulating": 1.0, "gains": 0.9, "gain": 0.7, "up": 0.4, "soaring": 1.2, "surge": 1.1, "momentum": 0.4,
        "great": 0.8, "good": 0.6, "winning": 0.8, "like": 0.3, "buyback": 0.8, "adding": 0.7, "loading": 0.8, "strength": 0.8,
        "🚀": 1.0, "📈": 1.0, "💎": 0.5,
        // bearish
        "bearish": -1.5, "bear": -1.0, "sell": -1.0, "selling": -1.0, "sold": -0.8, "short": -0.9, "shorts": -0.5, "puts": -0.9,
        "missed": -1.2, "misses": -1.2, "miss": -1.0, "weak": -1.1, "weaker": -1.1, "downgrade": -1.3, "downgraded": -1.3,
        "cut": -0.9, "cuts": -0.9, "lowered": -0.9, "lower": -0.8, "lows": -0.9, "dump": -1.2, "dumping": -1.2,
        "falling": -1.0, "fall": -0.8, "drops": -0.9, "drop": -0.8, "down": -0.6, "trouble": -1.0, "overvalued": -1.1,
        "selloff": -1.2, "ugly": -1.0, "red": -0.8, "risk": -0.5, "losing": -1.0, "loss": -0.9, "fading": -0.8, "heavy": -0.6,
        "underperforming": -1.1, "trimming": -0.7, "slowing": -0.8, "crash": -1.4, "probe": -0.8, "bad": -0.8, "worst": -1.2,
        "📉": -1.0,
    ]

    static let phrases: [String: Double] = [
        "breaking out": 1.4, "breaking down": -1.4, "the dip": 0.6, "price target": 0.0, "target raised": 1.2, "target lowered": -1.2,
        "guidance cut": -1.4, "strong guidance": 1.4, "gap up": 1.0, "gap down": -1.0, "new highs": 1.2, "all green": 1.2,
        "risk off": -1.2, "getting out": -1.0, "support held": 1.0, "lost support": -1.2, "to the moon": 1.2,
    ]
}
