import Foundation
import ConvictionCore

/// Writes post text from a finance vocabulary. The intended polarity is recoverable, but not
/// perfectly: bullish posts sometimes use negated bearish words, bearish ones sarcasm, neutral
/// ones stray polar words, as real cashtag chatter does.
struct PostTextGenerator: Sendable {
    enum Tone: Sendable { case bullish, bearish, neutral }

    private static let bullish = [
        "{T} breaking out, adding more here", "loading up on {T} calls before earnings", "{T} beat estimates, strong guidance",
        "{T} looks strong, higher highs incoming", "bought the dip on {T}, bullish setup", "{T} upgrade to buy, price target raised",
        "{T} momentum is insane, long and strong", "{T} rally continues, record demand", "{C} crushing it, {T} to new highs",
        "{T} support held perfectly, going higher", "very bullish on {T} into the close", "{T} outperforming the market again",
        "{T} buyback plus growth, easy buy", "{T} gap up and holding, love this", "accumulating {T}, undervalued at these levels",
    ]
    private static let bearish = [
        "{T} breaking down, getting out", "bought puts on {T}, this is weak", "{T} missed estimates, guidance cut",
        "{T} looks heavy, lower lows coming", "selling my {T}, bearish setup", "{T} downgrade to sell, target lowered",
        "{T} momentum fading fast, short it", "{T} dump continues, demand slowing", "{C} in trouble, {T} falling apart",
        "{T} lost support, going lower", "very bearish on {T} into the close", "{T} underperforming the market again",
        "{T} overvalued, expect a selloff", "{T} gap down, ugly chart", "trimming {T}, risk is too high here",
    ]
    private static let neutral = [
        "{T} earnings on Thursday after the bell", "watching {T} today", "what is everyone doing with {T}?",
        "{T} trading sideways", "{C} event next week, {T} on watch", "{T} volume about average today",
        "any news on {T}?", "{T} options expiring Friday", "holding {T} for now, no change", "{T} chart update",
        "{T} conference call transcript is out", "{T} in the index rebalance list", "new filing from {C}, {T}",
    ]
    // Polarity carried by negation or irony: a lexicon without context gets these wrong.
    private static let bullishTwisted = [
        "not bearish on {T} at all", "no way {T} drops from here", "{T} never going down lol",
        "shorts are not going to like {T} tomorrow", "can't stop buying {T}",
    ]
    private static let bearishTwisted = [
        "great, {T} red again. just great", "not bullish on {T} anymore", "{T} holders really love losing money huh",
        "don't buy {T} here", "{T} no longer a growth story",
    ]
    private static let emoji = ["", "", "", " 🚀", " 📈", " 📉", " 🤔", " 👀", "!!", " 💎🙌"]

    func text(tone: Tone, symbol: Symbol, company: String, rng: inout SeededGenerator) -> String {
        let template: String
        switch tone {
        case .bullish: template = rng.chance(0.15) ? rng.pick(Self.bullishTwisted) : rng.pick(Self.bullish)
        case .bearish: template = rng.chance(0.15) ? rng.pick(Self.bearishTwisted) : rng.pick(Self.bearish)
        case .neutral: template = rng.pick(Self.neutral)
        }
        var text = template.replacingOccurrences(of: "{T}", with: symbol.cashtag).replacingOccurrences(of: "{C}", with: company)
        text += rng.pick(Self.emoji)
        return text
    }

    /// A multi-ticker post about the whole group.
    func basketText(symbols: [Symbol], tone: Tone, rng: inout SeededGenerator) -> String {
        let tags = symbols.map(\.cashtag).joined(separator: " ")
        switch tone {
        case .bullish: return tags + " " + rng.pick(["big tech rally today", "all green, buying the strength", "mega caps ripping"])
        case .bearish: return tags + " " + rng.pick(["tech selloff, everything red", "mega caps dumping hard", "risk off, selling"])
        case .neutral: return tags + " " + rng.pick(["watchlist for tomorrow", "which one are you holding?", "weekly levels posted"])
        }
    }

    /// Spam from bot accounts: repeated verbatim, unrelated to the stock's prospects.
    func spamText(symbol: Symbol, rng: inout SeededGenerator) -> String {
        rng.pick([
            "🚨 \(symbol.cashtag) ALERT 🚨 huge move incoming, join our free discord",
            "\(symbol.cashtag) signals are live, link in bio, 90% win rate",
            "Top 5 stocks to buy now: \(symbol.cashtag) and more. Free newsletter!",
        ])
    }

    /// Ordinary-language uses of a cashtag that is also a word or an abbreviation ($V, $MA).
    func offTopicText(symbol: Symbol, rng: inout SeededGenerator) -> String? {
        switch symbol.rawValue {
        case "V": return rng.pick(["watching \(symbol.cashtag) for Vendetta again tonight, love that movie",
                                   "\(symbol.cashtag) is the best letter change my mind", "Plan \(symbol.cashtag) for the weekend: pizza"])
        case "MA": return rng.pick(["happy birthday \(symbol.cashtag)! dinner at home tonight",
                                    "\(symbol.cashtag) and pa visiting this weekend", "\(symbol.cashtag) said the roast was great"])
        default: return nil
        }
    }
}
