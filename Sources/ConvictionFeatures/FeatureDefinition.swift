/// What a feature column is: the source of `feature_metadata.json` and of docs/features.
public struct FeatureDefinition: Sendable, Codable, Hashable {
    public enum Group: String, Sendable, Codable { case price, volume, calendar, news, sentiment }

    public let name: String
    public let group: Group
    /// Trailing window, e.g. "5m", "60m", "1d", "12 bars"; empty when none.
    public let window: String
    public let unit: String
    public let description: String

    public static let base: [FeatureDefinition] = [
        .init(name: "ret_1", group: .price, window: "1 bar", unit: "log return", description: "Log return of the last closed bar (first bar of a session: close over the session open)."),
        .init(name: "ret_3", group: .price, window: "3 bars", unit: "log return", description: "Log return over the last 3 closed bars of the session; null before 3 bars have closed."),
        .init(name: "ret_12", group: .price, window: "12 bars", unit: "log return", description: "Log return over the last 12 closed bars of the session; null before 12 bars have closed."),
        .init(name: "ret_session", group: .price, window: "session", unit: "log return", description: "Log return from the session open to the last close."),
        .init(name: "gap", group: .price, window: "overnight", unit: "log return", description: "Session open over the previous session's close; null on the first session."),
        .init(name: "vol_12", group: .price, window: "12 bars", unit: "log return", description: "Standard deviation of the last 12 bar returns of the session; null before 4 bars."),
        .init(name: "range_1", group: .price, window: "1 bar", unit: "fraction", description: "(high - low) / close of the last closed bar."),
        .init(name: "volume_z", group: .volume, window: "12 bars", unit: "log ratio", description: "Log of the last bar's volume over the mean volume of the session's previous (up to 12) bars; null on the first bar."),
        .init(name: "minute_of_session", group: .calendar, window: "", unit: "minutes", description: "Minutes from the opening bell to the decision time."),
        .init(name: "news_sentiment", group: .news, window: "24h", unit: "[-1, 1]", description: "Mean tone of news published in the 24 hours before the decision time; null when none."),
        .init(name: "news_volume", group: .news, window: "24h", unit: "articles", description: "Articles published in the 24 hours before the decision time."),
    ]

    public static let sentiment: [FeatureDefinition] = [
        .init(name: "sent_5m", group: .sentiment, window: "5m", unit: "[-1, 1]", description: "Mean of P(positive) - P(negative) over posts in the 5 minutes before the decision time; null when none."),
        .init(name: "sent_10m", group: .sentiment, window: "10m", unit: "[-1, 1]", description: "As sent_5m over 10 minutes."),
        .init(name: "sent_60m", group: .sentiment, window: "60m", unit: "[-1, 1]", description: "As sent_5m over 60 minutes."),
        .init(name: "sent_daily", group: .sentiment, window: "24h", unit: "[-1, 1]", description: "As sent_5m over 24 hours."),
        .init(name: "posts_5m", group: .sentiment, window: "5m", unit: "posts", description: "Posts in the 5 minutes before the decision time (0 is a real zero)."),
        .init(name: "posts_60m", group: .sentiment, window: "60m", unit: "posts", description: "Posts in the 60 minutes before the decision time."),
        .init(name: "sent_60m_followers", group: .sentiment, window: "60m", unit: "[-1, 1]", description: "sent_60m weighted by log(1 + followers) of each author; null when none."),
        .init(name: "sent_divergence", group: .sentiment, window: "5m vs 60m", unit: "[-2, 2]", description: "sent_5m - sent_60m; null when either is null."),
    ]
}
