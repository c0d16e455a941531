import ConvictionCore
import ConvictionIngest
import ConvictionScoring
import Testing

@Suite(.timeLimit(.minutes(10))) struct LexiconScorerTests {
    let scorer = LexiconScorer()

    func label(_ text: String) -> SentimentScore.Label {
        let p = scorer.score(text)
        return SentimentScore(postID: "1", symbol: Symbol("X"), createdAt: 0, receivedAt: 0, authorFollowers: 0,
                              positive: p.positive, negative: p.negative, neutral: p.neutral, scorer: LexiconScorer.name).label
    }

    @Test(arguments: [
        ("$AAPL breaking out, adding more here", SentimentScore.Label.positive),
        ("$TSLA missed estimates, guidance cut", .negative),
        ("$MSFT earnings on Thursday after the bell", .neutral),
        ("not bearish on $NVDA at all", .positive),
        ("no way $AMZN drops from here", .positive),
        ("not bullish on $META anymore", .negative),
        ("don't buy $JPM here", .negative),
        ("$GOOGL very bullish 🚀", .positive),
    ])
    func labelsFinancePosts(_ example: (String, SentimentScore.Label)) {
        #expect(label(example.0) == example.1, "\(example.0)")
    }

    @Test func probabilitiesAreAProperDistribution() {
        for text in ["", "🚀🚀🚀", "sell sell sell", "RT @x: $V to the moon", "https://t.co/abc $MA"] {
            let p = scorer.score(text)
            #expect(abs(p.positive + p.negative + p.neutral - 1) < 1e-12)
            #expect([p.positive, p.negative, p.neutral].allSatisfy { $0 > 0 && $0 < 1 })
        }
        #expect(scorer.score("very bullish").positive > scorer.score("bullish").positive, "intensifiers strengthen")
    }

    @Test func cashtagsAndURLsAreNotWords() {
        #expect(LexiconScorer.tokenize("$SELL now https://t.co/buy").contains("sell") == false)
        #expect(LexiconScorer.tokenize("Don’t BUY").contains("don't"))
    }

    /// The simulator writes text from a finance vocabulary with negation and irony: the lexicon
    /// recovers the intended polarity often, but not always.
    @Test func recoversSimulatedPolarityImperfectly() {
        let sim = MarketSimulator(configuration: .init(seed: 5, sessions: 5, symbols: [Symbol("AAPL")]))
        let posts = sim.simulate(Symbol("AAPL")).posts.map(\.message.data.text).filter { !$0.hasPrefix("RT") }
        let labels = posts.map(label)
        let polar = labels.filter { $0 != .neutral }.count
        #expect(Double(polar) / Double(labels.count) > 0.3)
        #expect(Double(polar) / Double(labels.count) < 0.9)
    }
}
