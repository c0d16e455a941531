import ConvictionCore

/// How a simulated symbol behaves: price level, volatility, trading and posting activity, names.
struct SymbolProfile: Sendable {
    let symbol: Symbol
    let company: String
    let startPrice: Double
    /// Daily return volatility.
    let dailyVolatility: Double
    /// Shares traded per regular minute, on average.
    let minuteVolume: Double
    /// Relative post activity (1 = an average mega-cap).
    let popularity: Double

    static func profile(for symbol: Symbol) -> SymbolProfile {
        let table: [String: (String, Double, Double, Double, Double)] = [
            "AAPL": ("Apple", 228, 0.016, 140_000, 1.3),
            "AMZN": ("Amazon", 205, 0.019, 110_000, 1.0),
            "GOOGL": ("Alphabet", 172, 0.018, 80_000, 0.9),
            "TSLA": ("Tesla", 342, 0.035, 260_000, 1.9),
            "META": ("Meta", 585, 0.022, 40_000, 1.0),
            "MSFT": ("Microsoft", 428, 0.014, 55_000, 1.0),
            "NVDA": ("Nvidia", 138, 0.030, 600_000, 1.7),
            "JPM": ("JPMorgan", 242, 0.013, 25_000, 0.5),
            "JNJ": ("Johnson & Johnson", 152, 0.010, 20_000, 0.35),
            "V": ("Visa", 312, 0.012, 18_000, 0.45),
            "MA": ("Mastercard", 520, 0.012, 9_000, 0.4),
        ]
        if let row = table[symbol.rawValue] {
            return SymbolProfile(symbol: symbol, company: row.0, startPrice: row.1, dailyVolatility: row.2,
                                 minuteVolume: row.3, popularity: row.4)
        }
        // Symbols outside the universe get a generic profile, stable for their name.
        var rng = SeededGenerator(seed: 7, stream: symbol.rawValue)
        return SymbolProfile(symbol: symbol, company: symbol.rawValue, startPrice: 20 + 300 * rng.uniform(),
                             dailyVolatility: 0.012 + 0.02 * rng.uniform(), minuteVolume: 20_000, popularity: 0.5)
    }
}
