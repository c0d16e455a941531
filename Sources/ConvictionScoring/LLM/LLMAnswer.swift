import Foundation

/// Turns an instruction model's answer into probabilities. The label is the first of
/// negative / neutral / positive (or a close synonym) in the answer; probabilities come from the
/// first answer token's top log-probabilities when the server returns them (the mass on each label's
/// tokens, renormalised), and are one-hot on the label otherwise.
public enum LLMAnswer {
    public enum Label: String, Sendable, CaseIterable { case negative, neutral, positive }

    /// How an answer's probabilities were obtained.
    public enum Source: String, Sendable { case logprobs, label }

    /// Words an instruction model answers with, by label. Longer words first so `neutral` wins
    /// over a stray `neg` inside it.
    static let words: [(String, Label)] = [
        ("negative", .negative), ("bearish", .negative), ("positive", .positive), ("bullish", .positive),
        ("neutral", .neutral), ("mixed", .neutral),
    ]

    /// The label an answer names first, or nil when it names none.
    public static func label(in answer: String) -> Label? {
        let text = answer.lowercased()
        var best: (String.Index, Label)?
        for (word, label) in words {
            guard let range = text.range(of: word) else { continue }
            // A whole word or a word's start ("positively"), not the inside of another word.
            if range.lowerBound > text.startIndex, text[text.index(before: range.lowerBound)].isLetter { continue }
            if best == nil || range.lowerBound < best!.0 { best = (range.lowerBound, label) }
        }
        return best?.1
    }

    /// The label a single answer token stands for: a prefix of at least three letters of a label
    /// word (`pos`, `Neg`, ` neutral`), nil for anything else.
    static func label(ofToken token: String) -> Label? {
        let t = token.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters)).lowercased()
        guard t.count >= 3 else { return nil }
        return words.first { $0.0.hasPrefix(t) }?.1
    }

    /// Probabilities for an answer: from top log-probabilities of the first token when they put
    /// mass on the answer's label, one-hot otherwise. Nil when the answer names no label.
    public static func probabilities(answer: String, topLogprobs: [(token: String, logprob: Double)]) -> (SentimentProbabilities, Source)? {
        guard let named = label(in: answer) else { return nil }
        var mass: [Label: Double] = [:]
        for (token, logprob) in topLogprobs where logprob.isFinite {
            if let l = label(ofToken: token) { mass[l, default: 0] += exp(logprob) }
        }
        let total = mass.values.reduce(0, +)
        // Log-probabilities that disagree with the answer's own label belong to another position.
        if total > 0, let top = mass.max(by: { $0.value < $1.value })?.key, top == named {
            return (SentimentProbabilities(negative: (mass[.negative] ?? 0) / total, neutral: (mass[.neutral] ?? 0) / total,
                                           positive: (mass[.positive] ?? 0) / total), .logprobs)
        }
        return (SentimentProbabilities(negative: named == .negative ? 1 : 0, neutral: named == .neutral ? 1 : 0,
                                       positive: named == .positive ? 1 : 0), .label)
    }
}
