import ConvictionCore
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct TradingCalendarTests {
    let calendar = TradingCalendar()

    func date(_ s: String) -> CivilDate { CivilDate(iso: s)! }
    func utc(_ s: String) -> EpochMillis { Timestamps.parseISO8601(s)! }

    @Test func regularSessionIsNineThirtyToFourEastern() throws {
        // 2026-01-05 is a Monday in standard time (UTC-5).
        let s = try #require(calendar.session(on: date("2026-01-05")))
        #expect(s.open == utc("2026-01-05T14:30:00Z"))
        #expect(s.close == utc("2026-01-05T21:00:00Z"))
        #expect(s.minutes == 390)
    }

    @Test func daylightSavingTimeShiftsTheSessionInUTC() throws {
        // DST starts Sunday 2026-03-08: Friday before opens 14:30 UTC, Monday after 13:30 UTC.
        #expect(calendar.session(on: date("2026-03-06"))?.open == utc("2026-03-06T14:30:00Z"))
        #expect(calendar.session(on: date("2026-03-08")) == nil)
        #expect(calendar.session(on: date("2026-03-09"))?.open == utc("2026-03-09T13:30:00Z"))
        // DST ends Sunday 2026-11-01.
        #expect(calendar.session(on: date("2026-10-30"))?.close == utc("2026-10-30T20:00:00Z"))
        #expect(calendar.session(on: date("2026-11-02"))?.close == utc("2026-11-02T21:00:00Z"))
    }

    @Test func easternOffsetMatchesTheSystemTimeZoneDatabase() throws {
        let zone = try #require(TimeZone(identifier: "America/New_York"))
        // Every 37 minutes over three years, including both switch nights.
        var t = utc("2025-01-01T00:00:00Z")
        while t < utc("2027-12-31T00:00:00Z") {
            let expected = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t) / 1000)) / 60
            #expect(Eastern.offsetMinutes(at: t) == expected, "at \(Timestamps.iso8601(t))")
            if Eastern.offsetMinutes(at: t) != expected { break }
            t += 37 * Timestamps.minute
        }
    }

    @Test(arguments: [
        "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19",
        "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
        "2027-06-18", "2027-07-05", "2027-12-24", "2025-01-20", "2024-03-29",
    ])
    func exchangeHolidaysHaveNoSession(_ day: String) {
        #expect(calendar.session(on: date(day)) == nil, "\(day) should be a holiday")
    }

    @Test func newYearOnSaturdayIsNotObservedOnFriday() {
        // 2022-01-01 was a Saturday; NYSE traded on Friday 2021-12-31.
        #expect(calendar.session(on: date("2021-12-31")) != nil)
        // 2023-01-01 was a Sunday: closed Monday 2023-01-02.
        #expect(calendar.session(on: date("2023-01-02")) == nil)
    }

    @Test func juneteenthOnlyFrom2022() {
        #expect(calendar.session(on: date("2021-06-18")) != nil)
        #expect(calendar.session(on: date("2022-06-20")) == nil)  // Sunday the 19th, observed Monday
    }

    @Test func halfDaysCloseAtOnePM() throws {
        let friday = try #require(calendar.session(on: date("2026-11-27")))  // day after Thanksgiving
        #expect(friday.isHalfDay)
        #expect(friday.close == utc("2026-11-27T18:00:00Z"))
        #expect(friday.minutes == 210)
        let eve = try #require(calendar.session(on: date("2026-12-24")))
        #expect(eve.isHalfDay && eve.close == utc("2026-12-24T18:00:00Z"))
        // 2025-07-03 (Thursday) closed early; 2026-07-03 is itself the observed holiday.
        #expect(calendar.session(on: date("2025-07-03"))?.isHalfDay == true)
        #expect(calendar.session(on: date("2026-07-02"))?.isHalfDay == false)
    }

    @Test func sessionsSkipWeekendsAndHolidays() {
        let sessions = calendar.sessions(from: date("2026-01-01"), count: 3)
        #expect(sessions.map(\.date.isoString) == ["2026-01-02", "2026-01-05", "2026-01-06"])
        #expect(calendar.sessions(from: date("2026-01-01"), through: date("2026-12-31")).count == 251)
    }
}

@Suite(.timeLimit(.minutes(10))) struct TimestampTests {
    @Test func formatsAndParsesRFC3339() {
        let t = Timestamps.parseISO8601("2026-11-24T14:30:01.250Z")
        #expect(t == 1_795_530_601_250)
        #expect(Timestamps.iso8601(t!) == "2026-11-24T14:30:01.250Z")
        #expect(Timestamps.parseISO8601("2026-11-24T09:30:01.250-05:00") == t)
        #expect(Timestamps.parseISO8601("2026-11-24T14:30:01Z") == 1_795_530_601_000)
    }

    @Test func compactStampIsBasicISO8601ToTheSecond() {
        #expect(Timestamps.compactStamp(1_795_530_601_250) == "20261124T143001Z")
        #expect(Timestamps.compactStamp(0) == "19700101T000000Z")
    }

    @Test(arguments: ["", "2026-11-24", "2026-13-01T00:00:00Z", "2026-11-24T25:00:00Z", "2026-11-24T14:30:01.Z", "2026-11-24T14:30:01", "yesterday"])
    func rejectsMalformedTimes(_ text: String) {
        #expect(Timestamps.parseISO8601(text) == nil)
    }

    @Test func civilDateRoundTripsAndWeekdays() {
        for days in stride(from: -1000, to: 30000, by: 17) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
        #expect(CivilDate(iso: "1970-01-01")?.weekday == 4)
        #expect(CivilDate(iso: "2026-02-29") == nil)
        #expect(CivilDate(iso: "2028-02-29") != nil)
    }
}

@Suite(.timeLimit(.minutes(10))) struct SeededGeneratorTests {
    @Test func sameSeedAndStreamGiveTheSameNumbers() {
        var a = SeededGenerator(seed: 42, stream: "AAPL"), b = SeededGenerator(seed: 42, stream: "AAPL")
        var c = SeededGenerator(seed: 42, stream: "TSLA")
        let xs = (0..<100).map { _ in a.next() }
        #expect(xs == (0..<100).map { _ in b.next() })
        #expect(xs != (0..<100).map { _ in c.next() })
    }

    @Test func normalAndPoissonHaveTheRightMoments() {
        var rng = SeededGenerator(seed: 1)
        let n = 100_000
        let normals = (0..<n).map { _ in rng.normal() }
        let mean = normals.reduce(0, +) / Double(n)
        let variance = normals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.02)
        let counts = (0..<n).map { _ in Double(rng.poisson(3.5)) }
        #expect(abs(counts.reduce(0, +) / Double(n) - 3.5) < 0.03)
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("AKIA-canary-value")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("canary"))
        #expect(secret.reveal() == "AKIA-canary-value")
    }
}
