/// US Eastern time (America/New_York): daylight time from the second Sunday of March at 02:00 local
/// to the first Sunday of November at 02:00 local since 2007, and from the first Sunday of April to
/// the last Sunday of October from 1987 to 2006. Computed here rather
/// than read from the system's tz database so the simulator gives the same bytes on every machine.
public enum Eastern {
    /// UTC offset in minutes (-240 in daylight time, -300 in standard time) at a UTC instant.
    public static func offsetMinutes(at utc: EpochMillis) -> Int {
        let date = CivilDate(daysSinceEpoch: Int(Timestamps.floorDiv(utc, Timestamps.day)))
        let modern = date.year >= 2007
        let start = modern ? CivilDate.nthWeekday(2, weekday: 0, month: 3, year: date.year) : CivilDate.nthWeekday(1, weekday: 0, month: 4, year: date.year)
        let end = modern ? CivilDate.nthWeekday(1, weekday: 0, month: 11, year: date.year) : CivilDate.nthWeekday(-1, weekday: 0, month: 10, year: date.year)
        // 02:00 EST = 07:00 UTC; 02:00 EDT = 06:00 UTC.
        let dstStart = Int64(start.daysSinceEpoch) * Timestamps.day + 7 * Timestamps.hour
        let dstEnd = Int64(end.daysSinceEpoch) * Timestamps.day + 6 * Timestamps.hour
        return (utc >= dstStart && utc < dstEnd) ? -240 : -300
    }

    /// The UTC instant of a local wall-clock time on a date. Trading hours never fall in the
    /// skipped or repeated hour, so the offset at local noon is the right one.
    public static func utc(_ date: CivilDate, hour: Int, minute: Int) -> EpochMillis {
        let localMidnightAsUTC = Int64(date.daysSinceEpoch) * Timestamps.day
        let noonGuess = localMidnightAsUTC + 17 * Timestamps.hour
        let offset = Int64(offsetMinutes(at: noonGuess))
        return localMidnightAsUTC + Int64(hour) * Timestamps.hour + Int64(minute) * Timestamps.minute - offset * Timestamps.minute
    }

    /// Local date and minutes after local midnight of a UTC instant.
    public static func local(_ utc: EpochMillis) -> (date: CivilDate, minuteOfDay: Int) {
        let shifted = utc + Int64(offsetMinutes(at: utc)) * Timestamps.minute
        let days = Timestamps.floorDiv(shifted, Timestamps.day)
        let minute = Int((shifted - days * Timestamps.day) / Timestamps.minute)
        return (CivilDate(daysSinceEpoch: Int(days)), minute)
    }
}
