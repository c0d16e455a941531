import ConvictionCore
import ConvictionStore
import Foundation

/// How much of the market data has posts: the share of (symbol, day) bar partitions with a score
/// partition beside them. Below `features.min_post_coverage` posts count as unavailable (X down,
/// no credentials, an archive gap), and the run measures news sentiment instead of failing.
struct PostCoverage: Sendable, Equatable {
    let covered: Int
    let total: Int
    var share: Double { total == 0 ? 0 : Double(covered) / Double(total) }

    /// `daily`: bars are one partition per symbol, so the days are the sessions from each symbol's
    /// first to its last scored day, and a session counts when posts were scored on its date.
    static func measure(_ store: any ObjectStore, symbols: Set<Symbol>, daily: Bool = false) async throws -> PostCoverage {
        if daily {
            let scored = Dictionary(grouping: try await store.partitions(of: .scores, symbols: symbols).keys.compactMap { p in
                p.symbol.flatMap { s in p.date.map { (s, $0) } } }, by: \.0).mapValues { Set($0.map(\.1)) }
            var covered = 0, total = 0
            for days in scored.values {
                guard let first = days.min(), let last = days.max() else { continue }
                let sessions = TradingCalendar().sessions(from: first, through: last)
                total += sessions.count
                covered += sessions.filter { days.contains($0.date) }.count
            }
            return PostCoverage(covered: covered, total: total)
        }
        let bars = Set(try await store.partitions(of: .bars, symbols: symbols).keys.filter { $0.symbol != nil && $0.date != nil })
        let scores = Set(try await store.partitions(of: .scores, symbols: symbols).keys.map { Partition(.bars, date: $0.date, symbol: $0.symbol) })
        return PostCoverage(covered: bars.intersection(scores).count, total: bars.count)
    }

    func unavailable(threshold: Double) -> String? {
        guard share < threshold else { return nil }
        return String(format: "posts unavailable: %d of %d symbol-days have scored posts (%.0f%%, below features.min_post_coverage %.0f%%)",
                      covered, total, share * 100, threshold * 100)
    }
}
