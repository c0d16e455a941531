import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    static let featuresKeys: [Key] = [
        Key(name: "features.frequency", help: "1m: rows every features.bar_minutes from 1-minute bars (market/bars_1m/); 1d: one row per session at its close from daily bars (market/bars_1d/), labelled with the next session's direction.",
            get: { .string($0.features.frequency.rawValue) }, set: { c, v throws(ValueError) in c.features.frequency = try choice(v) }),
        Key(name: "features.bar_minutes", help: "Bar length in minutes; rows are stamped at each bar's close.",
            get: { .integer($0.features.barMinutes) },
            set: { c, v throws(ValueError) in
                let m = try int(v, 1...390)
                guard 390 % m == 0 || m % 5 == 0 else { throw ValueError(message: "\(m) does not divide the session evenly") }
                c.features.barMinutes = m
            }),
        Key(name: "features.label_horizon_bars", help: "Label: direction of the return over this many bars after the decision.",
            get: { .integer($0.features.labelHorizonBars) }, set: { c, v throws(ValueError) in c.features.labelHorizonBars = try int(v, 1...78) }),
        Key(name: "features.min_post_coverage", help: "Below this share of symbol-days with scored posts, posts count as unavailable: the run measures news sentiment instead.",
            get: { .float($0.minPostCoverage) }, set: { c, v throws(ValueError) in c.minPostCoverage = try double(v, 0...1) }),
        Key(name: "features.point_in_time", help: "A post counts from its created_at (created) or from when it was received (received).",
            get: { .string($0.pointInTime.rawValue) }, set: { c, v throws(ValueError) in c.pointInTime = try choice(v) }),
        Key(name: "features.quality_checks", help: "enforce: a failed data-quality check stops the run before training; warn: report and go on.",
            get: { .string($0.features.enforceQualityChecks ? "enforce" : "warn") },
            set: { c, v throws(ValueError) in c.features.enforceQualityChecks = try oneOf(v, ["enforce", "warn"]) == "enforce" }),
    ]
}
