import ConvictionCore
import ConvictionXPayload
import Foundation

/// The embedded default data source: a deterministic simulation of 1-minute prices, news and
/// cashtag posts for a set of symbols on the NYSE calendar. It is a simulation, not market data;
/// real bars, news and post archives replace it (see the README).
///
/// Each symbol carries a hidden crowd-mood state `mood` (an AR(1) process with a memory of about
/// an hour and a half). Posts lean bullish or bearish with the mood and with the last half hour's
/// return. With `signal > 0` the mood also tilts the drift of future returns, so sentiment leads
/// prices; with `signal = 0` sentiment only follows them.
public struct MarketSimulator: Sendable {
    public struct Configuration: Sendable, Hashable, Codable {
        public var seed: UInt64
        /// First calendar day considered; the first session is on or after it.
        public var start: CivilDate
        /// Number of trading sessions.
        public var sessions: Int
        public var symbols: [Symbol]
        /// How strongly post sentiment leads the forward return: 0 = not at all, 1 = the default.
        public var signal: Double
        /// Multiplier on post volume.
        public var postRate: Double

        public init(seed: UInt64 = 42, start: CivilDate = CivilDate(year: 2026, month: 1, day: 2), sessions: Int = 60,
                    symbols: [Symbol] = Symbol.universe, signal: Double = 1.0, postRate: Double = 1.0) {
            self.seed = seed; self.start = start; self.sessions = sessions; self.symbols = symbols
            self.signal = signal; self.postRate = postRate
        }
    }

    /// A simulated post: the stream message as X would send it, and when it was created.
    public struct SimulatedPost: Sendable {
        public let createdAt: EpochMillis
        public let id: UInt64
        public let message: XStreamMessage
    }

    public struct SymbolOutput: Sendable {
        public let symbol: Symbol
        public let bars: [PriceBar]
        public let news: [NewsEvent]
        public let posts: [SimulatedPost]
    }

    public let configuration: Configuration
    public let calendar = TradingCalendar()

    /// Per-minute drift, in units of the minute's volatility, of a mood of one standard deviation at signal 1.
    static let moodDrift = 0.08
    /// Memory of the mood process, in minutes.
    static let moodMemoryMinutes = 90.0

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public var sessions: [TradingSession] { calendar.sessions(from: configuration.start, count: configuration.sessions) }

    /// Simulates one symbol over all sessions. Independent of the other symbols, so symbols can run
    /// concurrently and still give identical results.
    public func simulate(_ symbol: Symbol) -> SymbolOutput {
        let profile = SymbolProfile.profile(for: symbol)
        let symbolIndex = UInt64(configuration.symbols.firstIndex(of: symbol) ?? 0)
        var rng = SeededGenerator(seed: configuration.seed, stream: "market/\(symbol.rawValue)")
        var textRng = SeededGenerator(seed: configuration.seed, stream: "text/\(symbol.rawValue)")
        let authors = AuthorPool(seed: configuration.seed)
        let texts = PostTextGenerator()
        let sessions = self.sessions
        guard let first = sessions.first else { return SymbolOutput(symbol: symbol, bars: [], news: [], posts: []) }

        let minuteVol = profile.dailyVolatility / (390.0).squareRoot()
        let moodDecay = exp(-1 / Self.moodMemoryMinutes)
        let moodShock = (1 - moodDecay * moodDecay).squareRoot()
        let drift = Self.moodDrift * configuration.signal

        var logPrice = log(profile.startPrice)   // efficient (unobserved) log price
        var lastObserved = profile.startPrice
        var mood = rng.normal()
        var dayVolFactor = 1.0
        var newsHeat = 0.0                       // decays after news, raises post rates
        var recentLogPrices: [Double] = Array(repeating: logPrice, count: 31)  // ring buffer, 30-minute lookback
        var ring = 0
        var sequence: UInt64 = 0
        var recentPosts: [(id: UInt64, text: String, username: String, tone: PostTextGenerator.Tone)] = []

        var bars: [PriceBar] = []
        var news: [NewsEvent] = []
        var posts: [SimulatedPost] = []
        bars.reserveCapacity(sessions.count * 390)

        // Posts and news run around the clock; prices move in sessions. Walk minute by minute from
        // the evening before the first session to the last close.
        var minute = first.open - 6 * Timestamps.hour
        var sessionIndex = 0
        while sessionIndex < sessions.count {
            let session = sessions[sessionIndex]
            let inSession = minute >= session.open && minute < session.close
            let local = Eastern.local(minute)

            if minute == session.open {
                // Overnight: a gap, and a new day's volatility level (log-AR(1) across days).
                dayVolFactor = exp(0.8 * log(dayVolFactor) + 0.25 * rng.normal())
                logPrice += 0.35 * profile.dailyVolatility * rng.normal()
            }

            // News arrives about 1.5 times a day per symbol, more of it in the morning.
            let newsRate = (local.minuteOfDay >= 6 * 60 && local.minuteOfDay < 18 * 60 ? 1.3 : 0.2) / 720.0
            if rng.chance(newsRate) {
                let tone = max(-1, min(1, 0.55 * rng.normal()))
                let articles = 1 + rng.poisson(3)
                news.append(NewsEvent(symbol: symbol, publishedAt: minute + Int64(rng.uniform() * 60_000),
                                      sentiment: tone, articles: articles, headline: headline(profile, tone: tone, rng: &rng)))
                // News moves the price at once (overnight: into the next open) and the crowd's mood.
                logPrice += tone * 0.25 * profile.dailyVolatility
                mood += 0.8 * tone
                newsHeat += 1.0 + Double(articles) / 4
            }
            newsHeat *= exp(-1 / 60.0)

            // Mood: AR(1), half-life of about an hour.
            mood = moodDecay * mood + moodShock * rng.normal()

            if inSession {
                let m = Double((minute - session.open) / Timestamps.minute)
                let uShape = 0.75 + 0.9 * exp(-m / 40) + 0.45 * exp(-(Double(session.minutes) - m) / 30)
                let sigma = minuteVol * dayVolFactor * uShape
                let shock = rng.normal()
                logPrice += sigma * (shock + drift * mood)
                // Observed price = efficient price + microstructure noise (bid-ask bounce), in cents.
                let observed = ((exp(logPrice + 0.3 * sigma * rng.normal())) * 100).rounded() / 100
                let open = lastObserved
                let wick = abs(rng.normal()) * 0.3 * sigma * observed
                let volume = (profile.minuteVolume * uShape * dayVolFactor * (0.6 + 0.8 * abs(shock)) * exp(0.3 * rng.normal())).rounded()
                bars.append(PriceBar(symbol: symbol, start: minute, end: minute + Timestamps.minute, open: open,
                                     high: max(open, observed) + (wick * 100).rounded() / 100,
                                     low: max(0.01, min(open, observed) - (wick * 100).rounded() / 100),
                                     close: observed, volume: volume))
                lastObserved = observed
            }

            ring = (ring + 1) % recentLogPrices.count
            recentLogPrices[ring] = logPrice
            let past30 = recentLogPrices[(ring + 1) % recentLogPrices.count]
            let returnZ = (logPrice - past30) / (minuteVol * dayVolFactor * (30.0).squareRoot())

            // Post rate: time of day, big moves and news.
            let activity: Double
            if inSession {
                let m = Double((minute - session.open) / Timestamps.minute)
                activity = 0.7 + 1.0 * exp(-m / 45) + 0.5 * exp(-(Double(session.minutes) - m) / 30)
            } else if local.date.isWeekend || calendar.isHoliday(local.date) {
                activity = 0.06
            } else if local.minuteOfDay >= 4 * 60 && local.minuteOfDay < 20 * 60 {
                activity = 0.25
            } else {
                activity = 0.04
            }
            let rate = 0.35 * profile.popularity * configuration.postRate * activity
                * (1 + 0.4 * min(abs(returnZ), 5)) * (1 + 0.8 * newsHeat)
            let count = rng.poisson(rate)
            for _ in 0..<count {
                let createdAt = minute + Int64(rng.uniform() * 60_000)
                sequence += 1
                let id = Self.snowflake(createdAt: createdAt, worker: symbolIndex, sequence: sequence)
                let author = authors.pick(&rng)

                // The post's tone: mood, the last half hour's return, and idiosyncratic noise.
                let lean = 0.9 * mood + 0.5 * max(-3, min(3, returnZ)) + 1.1 * rng.normal()
                let tone: PostTextGenerator.Tone = rng.chance(0.42) ? .neutral : (lean > 0 ? .bullish : .bearish)

                var text: String
                var referenced: [XReferencedTweet]?
                var cashtags = [symbol]
                let roll = rng.uniform()
                if author.isBot {
                    text = texts.spamText(symbol: symbol, rng: &textRng)
                } else if roll < 0.12, let original = recentPosts.last(where: { _ in textRng.chance(0.3) }) ?? recentPosts.last {
                    text = "RT @\(original.username): \(original.text)"
                    referenced = [XReferencedTweet(type: "retweeted", id: String(original.id))]
                } else if roll < 0.16, let original = recentPosts.last {
                    text = original.text + textRng.pick([" !", " 🔥", " fr", "."])  // near duplicate
                } else if roll < 0.20 {
                    var basket = [symbol]
                    for other in Symbol.universe.shuffled(using: &textRng) where other != symbol && basket.count < 3 + Int(textRng.next() % 4) {
                        basket.append(other)
                    }
                    cashtags = basket
                    text = texts.basketText(symbols: basket, tone: tone, rng: &textRng)
                } else if roll < 0.28, let offTopic = texts.offTopicText(symbol: symbol, rng: &textRng) {
                    text = offTopic
                } else {
                    text = texts.text(tone: tone, symbol: symbol, company: profile.company, rng: &textRng)
                }
                if referenced == nil, !author.isBot {
                    recentPosts.append((id, text, author.username, tone))
                    if recentPosts.count > 50 { recentPosts.removeFirst() }
                }
                posts.append(SimulatedPost(createdAt: createdAt, id: id, message: message(
                    id: id, text: text, createdAt: createdAt, author: author, cashtags: cashtags,
                    referenced: referenced, rng: &rng)))
            }

            minute += Timestamps.minute
            if minute >= session.close { sessionIndex += 1 }
        }
        posts.sort { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        return SymbolOutput(symbol: symbol, bars: bars, news: news, posts: posts)
    }

    /// X-style snowflake id: milliseconds since X's epoch, then worker and sequence bits, so ids
    /// sort by creation time as real ones do.
    static func snowflake(createdAt: EpochMillis, worker: UInt64, sequence: UInt64) -> UInt64 {
        (UInt64(createdAt - 1_288_834_974_657) << 22) | ((worker & 0x3FF) << 12) | (sequence & 0xFFF)
    }

    private func message(id: UInt64, text: String, createdAt: EpochMillis, author: AuthorPool.Author, cashtags: [Symbol],
                         referenced: [XReferencedTweet]?, rng: inout SeededGenerator) -> XStreamMessage {
        let entities = Self.cashtagEntities(in: text)
        let metrics = XTweetMetrics(retweetCount: rng.poisson(0.3 * log(Double(author.followers) + 1)),
                                    replyCount: rng.poisson(0.5), likeCount: rng.poisson(0.8 * log(Double(author.followers) + 1)),
                                    quoteCount: rng.poisson(0.05))
        let tweet = XTweet(id: String(id), text: text, createdAt: Timestamps.iso8601(createdAt), authorID: author.id,
                           lang: "en", publicMetrics: metrics, entities: XEntities(cashtags: entities.isEmpty ? nil : entities),
                           referencedTweets: referenced)
        let user = XUser(id: author.id, username: author.username,
                         publicMetrics: XUserMetrics(followersCount: author.followers, followingCount: author.following, tweetCount: author.tweets))
        let rules = cashtags.filter { Symbol.universe.contains($0) }.map { XMatchingRule(id: Self.ruleID($0), tag: $0.rawValue) }
        return XStreamMessage(data: tweet, includes: XIncludes(users: [user]), matchingRules: rules)
    }

    /// The stable rule id the simulator's stream uses for a symbol's rule.
    static func ruleID(_ symbol: Symbol) -> String {
        var rng = SeededGenerator(seed: 0, stream: "rule/" + symbol.rawValue)
        return String(1_800_000_000_000_000_000 + rng.next() % 100_000_000_000_000_000)
    }

    /// Cashtag entities with code-point offsets, as X reports them.
    static func cashtagEntities(in text: String) -> [XCashtag] {
        var result: [XCashtag] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            if scalars[i] == "$", i + 1 < scalars.count, ("A"..."Z").contains(scalars[i + 1]),
               i == 0 || !CharacterSet.alphanumerics.contains(scalars[i - 1]) {
                var j = i + 1
                while j < scalars.count, ("A"..."Z").contains(scalars[j]) || ("a"..."z").contains(scalars[j]) { j += 1 }
                result.append(XCashtag(start: i, end: j, tag: String(String.UnicodeScalarView(scalars[(i + 1)..<j]))))
                i = j
            } else {
                i += 1
            }
        }
        return result
    }

    private func headline(_ profile: SymbolProfile, tone: Double, rng: inout SeededGenerator) -> String {
        if tone > 0.3 { return rng.pick(["\(profile.company) beats expectations", "\(profile.company) raises outlook", "Analysts upgrade \(profile.company)"]) }
        if tone < -0.3 { return rng.pick(["\(profile.company) misses forecasts", "\(profile.company) faces probe", "Analysts cut \(profile.company) target"]) }
        return rng.pick(["\(profile.company) announces conference date", "\(profile.company) files quarterly report", "\(profile.company) names new director"])
    }
}

/// The simulated authors: followers log-normal around a few hundred, a few popular accounts, and
/// a handful of bots that post spam.
struct AuthorPool: Sendable {
    struct Author: Sendable {
        let id: String
        let username: String
        let followers: Int
        let following: Int
        let tweets: Int
        let isBot: Bool
    }

    let authors: [Author]

    init(seed: UInt64, count: Int = 4000) {
        var rng = SeededGenerator(seed: seed, stream: "authors")
        let words = ["trader", "bull", "bear", "alpha", "chart", "value", "macro", "quant", "swing", "options", "degen", "dividend"]
        authors = (0..<count).map { i in
            let isBot = rng.chance(0.03)
            let followers = isBot ? 5 + Int(rng.uniform() * 150) : Int(exp(6 + 1.8 * rng.normal()))
            let username = isBot ? "\(rng.pick(words))_alerts\(i)" : "\(rng.pick(words))\(rng.pick(words))\(i)"
            return Author(id: String(1_000_000_000 + i * 7919), username: username, followers: followers,
                          following: 50 + Int(rng.uniform() * 2000), tweets: 100 + Int(rng.uniform() * 50_000), isBot: isBot)
        }
    }

    /// Activity is skewed: a small share of authors writes most posts (Zipf-like).
    func pick(_ rng: inout SeededGenerator) -> Author {
        let u = rng.uniform()
        return authors[min(authors.count - 1, Int(Double(authors.count) * u * u * u))]
    }
}
