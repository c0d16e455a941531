/// What a feature column is: the source of `feature_metadata.json` and of docs/features.
public struct FeatureDefinition: Sendable, Codable, Hashable {
    public enum Group: String, Sendable, Codable { case price, volatility, range, volume, oscillator, calendar, news, sentiment }

    public let name: String
    public let group: Group
    /// Trailing window, e.g. "5m", "60m", "1d", "12 bars"; empty when none.
    public let window: String
    public let unit: String
    public let description: String

    public init(name: String, group: Group, window: String, unit: String, description: String) {
        self.name = name; self.group = group; self.window = window; self.unit = unit; self.description = description
    }

    /// The 67 base features, in matrix order.
    public static let base: [FeatureDefinition] = BaseFeatures(bars: BarSeries(minuteBars: [], barMinutes: 5), news: []).definitions

    /// The sentiment features, in matrix order.
    public static let sentiment: [FeatureDefinition] = SentimentFeatures.definitions
}
