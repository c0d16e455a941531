/// One regular NYSE session. `open` and `close` are UTC instants of the opening and closing bells.
public struct TradingSession: Hashable, Sendable {
    public let date: CivilDate
    public let open: EpochMillis
    public let close: EpochMillis
    /// True on the 13:00 early-close days (day after Thanksgiving, Christmas Eve, 3 July).
    public let isHalfDay: Bool

    public var minutes: Int { Int((close - open) / Timestamps.minute) }
}

/// The NYSE calendar: 09:30-16:00 America/New_York, weekends and exchange holidays skipped, 13:00
/// early closes. Holidays follow the exchange's rules since 2022 (Juneteenth included); a Saturday
/// holiday moves to Friday except New Year's Day, which is then not observed.
public struct TradingCalendar: Sendable {
    public init() {}

    public func session(on date: CivilDate) -> TradingSession? {
        guard !date.isWeekend, !isHoliday(date) else { return nil }
        let half = isHalfDay(date)
        return TradingSession(
            date: date,
            open: Eastern.utc(date, hour: 9, minute: 30),
            close: half ? Eastern.utc(date, hour: 13, minute: 0) : Eastern.utc(date, hour: 16, minute: 0),
            isHalfDay: half
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

    public func isHoliday(_ date: CivilDate) -> Bool {
        holidays(in: date.year).contains(date)
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

    public func isHalfDay(_ date: CivilDate) -> Bool {
        guard !date.isWeekend, !isHoliday(date) else { return false }
        let thanksgiving = CivilDate.nthWeekday(4, weekday: 4, month: 11, year: date.year)
        if date == thanksgiving.adding(days: 1) { return true }
        if date.month == 12 && date.day == 24 { return true }
        if date.month == 7 && date.day == 3 { return true }
        return false
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
