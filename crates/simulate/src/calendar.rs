//! Time in Asia/Shanghai (UTC+8, no daylight saving): working days, working hours, and the
//! public holidays of the years the default history covers.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc, Weekday,
};

use crate::rng::Rng;

pub(crate) fn shanghai() -> FixedOffset {
    // 8 hours east is always a valid offset; UTC is only the type-level fallback.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `date` at `h:m:s` local time, in UTC.
pub(crate) fn at_local(date: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    let naive = date
        .and_hms_opt(h.min(23), m.min(59), s.min(59))
        .unwrap_or_else(|| date.and_time(chrono::NaiveTime::MIN));
    shanghai()
        .from_local_datetime(&naive)
        .single()
        .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
}

/// Local midnight at the start of `date`.
pub(crate) fn midnight(date: NaiveDate) -> DateTime<Utc> {
    at_local(date, 0, 0, 0)
}

/// The local calendar date of an instant.
pub(crate) fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&shanghai()).date_naive()
}

/// The local calendar year of an instant.
pub(crate) fn local_year(t: DateTime<Utc>) -> i32 {
    local_date(t).year()
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Public holidays (法定节假日 and the days bridged to them); make-up working days are
/// ignored. 2023–2025 as announced by the State Council; other years: New Year, Labour Day
/// and the National Day week.
/// A holiday period: first and last (month, day), inclusive.
type Holiday = ((u32, u32), (u32, u32));

fn is_holiday(date: NaiveDate) -> bool {
    let ranges: &[Holiday] = match date.year() {
        2023 => &[
            ((1, 1), (1, 2)),
            ((1, 21), (1, 27)),
            ((4, 5), (4, 5)),
            ((4, 29), (5, 3)),
            ((6, 22), (6, 24)),
            ((9, 29), (10, 6)),
        ],
        2024 => &[
            ((1, 1), (1, 1)),
            ((2, 10), (2, 17)),
            ((4, 4), (4, 6)),
            ((5, 1), (5, 5)),
            ((6, 10), (6, 10)),
            ((9, 15), (9, 17)),
            ((10, 1), (10, 7)),
        ],
        2025 => &[
            ((1, 1), (1, 1)),
            ((1, 28), (2, 4)),
            ((4, 4), (4, 6)),
            ((5, 1), (5, 5)),
            ((5, 31), (6, 2)),
            ((10, 1), (10, 8)),
        ],
        _ => &[((1, 1), (1, 1)), ((5, 1), (5, 3)), ((10, 1), (10, 7))],
    };
    let y = date.year();
    ranges.iter().any(|((m1, d1), (m2, d2))| {
        matches!((ymd(y, *m1, *d1), ymd(y, *m2, *d2)), (Some(a), Some(b)) if a <= date && date <= b)
    })
}

pub(crate) fn is_workday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// The first working day on or after `date`.
pub(crate) fn next_workday(mut date: NaiveDate) -> NaiveDate {
    for _ in 0..30 {
        if is_workday(date) {
            return date;
        }
        date = date.succ_opt().unwrap_or(date);
    }
    date
}

/// `n` working days after `date` (0: the first working day on or after `date`).
pub(crate) fn add_workdays(date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = next_workday(date);
    for _ in 0..n {
        d = next_workday(d.succ_opt().unwrap_or(d));
    }
    d
}

/// A random moment of the working day `date`: 08:30–12:00 or 13:30–17:30 local.
pub(crate) fn work_time(rng: &mut Rng, date: NaiveDate) -> DateTime<Utc> {
    let m = u32::try_from(rng.below(450)).unwrap_or(0);
    let t = if m < 210 {
        8 * 60 + 30 + m
    } else {
        13 * 60 + 30 + (m - 210)
    };
    let s = u32::try_from(rng.below(60)).unwrap_or(0);
    at_local(date, t / 60, t % 60, s)
}

/// A working moment strictly after `after`, `min_days..=max_days` working days later
/// (0: later the same working day if there is time left, else the next working day).
pub(crate) fn after_work(
    rng: &mut Rng,
    after: DateTime<Utc>,
    min_days: u32,
    max_days: u32,
) -> DateTime<Utc> {
    let k = rng.range_u32(min_days, max_days.max(min_days));
    let base = local_date(after);
    let date = add_workdays(base, k);
    let t = work_time(rng, date);
    if t > after {
        return t;
    }
    let soon = after + Duration::minutes(rng.range(10, 120));
    if is_workday(base) && soon < at_local(base, 17, 30, 0) {
        soon
    } else {
        work_time(rng, add_workdays(date.succ_opt().unwrap_or(date), 0))
    }
}

/// `t` plus `hours` hours.
pub(crate) fn plus_hours(t: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    t + Duration::hours(hours)
}

/// `t` plus `minutes` minutes.
pub(crate) fn plus_minutes(t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    t + Duration::minutes(minutes)
}

/// `t` plus `days` calendar days.
pub(crate) fn plus_days(t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    t + Duration::days(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        assert!(!is_workday(d(2023, 1, 1)));
        assert!(!is_workday(d(2024, 2, 12)));
        assert!(is_workday(d(2024, 1, 2)));
        assert_eq!(next_workday(d(2023, 1, 1)), d(2023, 1, 3));
        assert_eq!(add_workdays(d(2024, 1, 5), 1), d(2024, 1, 8));
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let t = work_time(&mut rng, d(2024, 3, 4));
            assert_eq!(local_date(t), d(2024, 3, 4));
            let later = after_work(&mut rng, t, 0, 2);
            assert!(later > t);
            assert!(is_workday(local_date(later)));
        }
    }
}
