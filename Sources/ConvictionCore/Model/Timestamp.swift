import Foundation

/// Milliseconds since the Unix epoch, UTC. Every timestamp in Conviction is one of these, and every
/// property that holds one says which event it records (post `created_at`, time received, bar close...).
public typealias EpochMillis = Int64

public enum Timestamps {
    public static let minute: EpochMillis = 60_000
    public static let hour: EpochMillis = 3_600_000
    public static let day: EpochMillis = 86_400_000

    /// The wall-clock time now: for stamps and lease expiry, never for data.
    public static func now() -> EpochMillis { EpochMillis(Date().timeIntervalSince1970 * 1000) }

    /// RFC 3339 with milliseconds and `Z`, the X API's `created_at` format: `2026-11-24T14:30:01.000Z`.
    public static func iso8601(_ ms: EpochMillis) -> String {
        let days = floorDiv(ms, day)
        let civil = CivilDate(daysSinceEpoch: Int(days))
        var rest = ms - days * day
        let h = rest / hour; rest -= h * hour
        let m = rest / minute; rest -= m * minute
        let s = rest / 1000
        let milli = rest - s * 1000
        return "\(civil.isoString)T\(pad(h)):\(pad(m)):\(pad(s)).\(pad(milli, 3))Z"
    }

    /// `20261205T230102Z`: ISO 8601 basic format to the second, for run names that sort by time.
    public static func compactStamp(_ ms: EpochMillis) -> String {
        String(iso8601(ms).prefix(19).filter { $0 != "-" && $0 != ":" }) + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or a `+HH:MM` offset). Returns nil when malformed.
    public static func parseISO8601(_ text: String) -> EpochMillis? {
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == 45, u[7] == 45, u[10] == 84 || u[10] == 32, u[13] == 58, u[16] == 58 else { return nil }
        func num(_ a: Int, _ b: Int) -> Int? {
            var v = 0
            for i in a..<b { let c = Int(u[i]) - 48; guard c >= 0 && c <= 9 else { return nil }; v = v * 10 + c }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16),
              let s = num(17, 19), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var i = 19
        var millis = 0
        if i < u.count && u[i] == 46 {
            i += 1
            var digits = 0
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                if digits < 3 { millis = millis * 10 + Int(u[i]) - 48 }
                digits += 1; i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<3 where digits < 3 { millis *= 10 }
        }
        var offsetMinutes = 0
        guard i < u.count else { return nil }
        if u[i] == 90 { i += 1 } else if u[i] == 43 || u[i] == 45, i + 6 <= u.count, u[i + 3] == 58,
                  let oh = num(i + 1, i + 3), let om = num(i + 4, i + 6) {
            offsetMinutes = (oh * 60 + om) * (u[i] == 43 ? 1 : -1)
            i += 6
        } else { return nil }
        guard i == u.count else { return nil }
        let days = CivilDate(year: y, month: mo, day: d).daysSinceEpoch
        let total = Int64(days) * day + Int64(h) * hour + Int64(mi) * minute + Int64(s) * 1000 + Int64(millis)
        return total - Int64(offsetMinutes) * minute
    }

    /// X API v1.1's `created_at`: `Tue Jun 02 10:29:27 +0000 2015` (the weekday is checked too).
    public static func parseV1(_ text: String) -> EpochMillis? {
        let parts = text.split(separator: " ")
        guard parts.count == 6 else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        guard let month = months.firstIndex(of: String(parts[1])), let day = Int(parts[2]), (1...31).contains(day),
              let year = Int(parts[5]), parts[5].count == 4, let weekday = days.firstIndex(of: String(parts[0])) else { return nil }
        let clock = parts[3].split(separator: ":").compactMap { Int($0) }
        let zone = Array(parts[4].utf8)
        guard clock.count == 3, clock[0] < 24, clock[1] < 60, clock[2] < 61, zone.count == 5, zone[0] == 43 || zone[0] == 45,
              let zh = Int(String(parts[4].dropFirst().prefix(2))), let zm = Int(String(parts[4].suffix(2))) else { return nil }
        let date = CivilDate(year: year, month: month + 1, day: day)
        guard CivilDate(daysSinceEpoch: date.daysSinceEpoch) == date, date.weekday == weekday else { return nil }
        let offset = Int64(zh * 60 + zm) * minute * (zone[0] == 45 ? -1 : 1)
        return Int64(date.daysSinceEpoch) * Self.day + Int64(clock[0]) * hour + Int64(clock[1]) * minute + Int64(clock[2]) * 1000 - offset
    }

    public static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    private static func pad(_ v: Int64, _ width: Int = 2) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
