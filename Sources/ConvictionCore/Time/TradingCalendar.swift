/// One regular NYSE session. `open` and `close` are UTC instants of the opening and closing bells.
public struct TradingSession: Hashable, Sendable {
    public let date: CivilDate
    public let open: EpochMillis
    public let close: EpochMillis
    /// True on early-close days (13:00: day after Thanksgiving, Christmas Eve, around 4 July; and
    /// the exchange's one-off early closes).
    public let isHalfDay: Bool

    public var minutes: Int { Int((close - open) / Timestamps.minute) }
}

/// The NYSE calendar since 2000: 09:30-16:00 America/New_York, weekends, exchange holidays and
/// unscheduled closures skipped, early closes at 13:00. Holidays follow the exchange's rules
/// (Juneteenth from 2022); a Saturday holiday moves to Friday except New Year's Day, which is then
/// not observed. Sources: NYSE holiday announcements and its closings history, as encoded by
/// pandas_market_calendars and exchange_calendars.
public struct TradingCalendar: Sendable {
    public init() {}

    /// Days the exchange closed that no holiday rule gives: 9/11, national days of mourning
    /// (Reagan, Ford, G. H. W. Bush, Carter) and Hurricane Sandy.
    public static let unscheduledClosures: Set<CivilDate> = Set([
        "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", "2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30",
        "2018-12-05", "2025-01-09",
    ].compactMap { CivilDate(iso: $0) })

    /// Early closes no rule gives, with their closing time: the Friday after Christmas 2003 (13:00)
    /// and 2005-06-01, closed at 15:56 after a systems problem.
    public static let oneOffEarlyCloses: [CivilDate: (hour: Int, minute: Int)] = [
        CivilDate(year: 2003, month: 12, day: 26): (13, 0), CivilDate(year: 2005, month: 6, day: 1): (15, 56),
    ]

    public func session(on date: CivilDate) -> TradingSession? {
        guard !date.isWeekend, !isHoliday(date) else { return nil }
        let close = earlyClose(date) ?? (16, 0)
        return TradingSession(
            date: date,
            open: Eastern.utc(date, hour: 9, minute: 30),
            close: Eastern.utc(date, hour: close.hour, minute: close.minute),
            isHalfDay: close.hour < 16
        )
    }

    /// `count` consecutive sessions starting on or after `start`.
    public func sessions(from start: CivilDate, count: Int) -> [TradingSession] {
        var result: [TradingSession] = []
        var date = start
        while result.count < count {
            if let s = session(on: date) { result.append(s) }
            date = date.adding(days: 1)
        }
        return result
    }

    /// Sessions with `start <= date <= end`.
    public func sessions(from start: CivilDate, through end: CivilDate) -> [TradingSession] {
        var result: [TradingSession] = []
        var date = start
        while date <= end {
            if let s = session(on: date) { result.append(s) }
            date = date.adding(days: 1)
        }
        return result
    }

    /// A regular holiday or an unscheduled closure.
    public func isHoliday(_ date: CivilDate) -> Bool {
        holidays(in: date.year).contains(date) || Self.unscheduledClosures.contains(date)
    }

    public func holidays(in year: Int) -> Set<CivilDate> {
        var days: Set<CivilDate> = []
        // New Year's Day: Sunday -> Monday; Saturday -> not observed (NYSE rule 7.2).
        let newYear = CivilDate(year: year, month: 1, day: 1)
        if newYear.weekday == 0 { days.insert(newYear.adding(days: 1)) } else if newYear.weekday != 6 { days.insert(newYear) }
        days.insert(.nthWeekday(3, weekday: 1, month: 1, year: year))   // Martin Luther King Jr. Day
        days.insert(.nthWeekday(3, weekday: 1, month: 2, year: year))   // Washington's Birthday
        days.insert(easter(year).adding(days: -2))                      // Good Friday
        days.insert(.nthWeekday(-1, weekday: 1, month: 5, year: year))  // Memorial Day
        if year >= 2022 { days.insert(observed(CivilDate(year: year, month: 6, day: 19))) }
        days.insert(observed(CivilDate(year: year, month: 7, day: 4)))
        days.insert(.nthWeekday(1, weekday: 1, month: 9, year: year))   // Labor Day
        days.insert(.nthWeekday(4, weekday: 4, month: 11, year: year))  // Thanksgiving
        days.insert(observed(CivilDate(year: year, month: 12, day: 25)))
        return days
    }

    public func isHalfDay(_ date: CivilDate) -> Bool { earlyClose(date) != nil }

    /// The closing time of an early-close session, nil on a full session or a closed day. Rules:
    /// the day after Thanksgiving; 24 December from Monday to Thursday; 3 July on a Monday, Tuesday
    /// or Thursday, and on a Wednesday from 2013; until 2012, 5 July when it is a Friday.
    public func earlyClose(_ date: CivilDate) -> (hour: Int, minute: Int)? {
        guard !date.isWeekend, !isHoliday(date) else { return nil }
        if let oneOff = Self.oneOffEarlyCloses[date] { return oneOff }
        let weekday = date.weekday  // 0 = Sunday
        let thanksgiving = CivilDate.nthWeekday(4, weekday: 4, month: 11, year: date.year)
        if date == thanksgiving.adding(days: 1) { return (13, 0) }
        if date.month == 12 && date.day == 24 && (1...4).contains(weekday) { return (13, 0) }
        if date.month == 7 && date.day == 3 && ([1, 2, 4].contains(weekday) || (weekday == 3 && date.year >= 2013)) { return (13, 0) }
        if date.month == 7 && date.day == 5 && weekday == 5 && date.year <= 2012 { return (13, 0) }
        return nil
    }

    private func observed(_ date: CivilDate) -> CivilDate {
        switch date.weekday {
        case 6: return date.adding(days: -1)
        case 0: return date.adding(days: 1)
        default: return date
        }
    }

    /// Western Easter Sunday (anonymous Gregorian algorithm).
    private func easter(_ year: Int) -> CivilDate {
        let a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4
        let f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30
        let i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return CivilDate(year: year, month: month, day: day)
    }
}
