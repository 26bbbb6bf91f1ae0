//! Calendar days in Asia/Shanghai (日历日), the one place every day rule of the domain is
//! counted.
//!
//! People and the law count days, not 24-hour spans: "提前三日" means a proposal sent on
//! 3 March (at any hour) is in time for a meeting on 6 March; "三日内" means a meeting held on
//! 1 March may be recorded until the end of 4 March. The counting follows 民法典 第二百零一条:
//! the day on which a period starts is not counted, and the period ends at 24:00 of its last
//! day.
//!
//! Two primitives serve every rule:
//! - [`days_between`]: how many calendar days lie from one instant's date to another's. A
//!   notice period of `n` days is met when `days_between(sent, held) >= n` (the proposal of a
//!   党员大会, 3 days; the announcement of a 村民会议, 10 days).
//! - [`period_end`]: the instant a period of `n` days starting at `t` is over, i.e. 24:00 of
//!   the `n`-th day after `t`'s date. A record is in time while `now < period_end(held, n)`
//!   (the record window against 后补); a 公开 posted on 1 March for 7 days ends at
//!   `period_end(posted, 7)`, the end of 8 March; a 揭榜 公示 likewise.
//!
//! Asia/Shanghai has been UTC+8 without daylight saving since 1991, so a fixed `+08:00`
//! offset ([`chrono::FixedOffset`]) is exact for every date the domain records and needs no
//! time-zone database.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

/// Asia/Shanghai: UTC+8, no daylight saving since 1991.
pub const SHANGHAI: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    // Unreachable: 8 hours is a valid offset; a `const` panic would fail the build.
    None => panic!("UTC+8 is a valid offset"),
};

/// The calendar date of an instant in Asia/Shanghai.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    // Checked: a claimed time is input, and the last instants of the UTC range have no
    // representable local time (chrono would panic converting them).
    t.checked_add_signed(TimeDelta::seconds(i64::from(SHANGHAI.local_minus_utc())))
        .map_or(NaiveDate::MAX, |local| local.date_naive())
}

/// Midnight (00:00 Asia/Shanghai) at the start of `date`, as an instant.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_time(NaiveTime::MIN);
    SHANGHAI
        .from_local_datetime(&naive)
        .single()
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.with_timezone(&Utc))
}

/// Calendar days from `from`'s date to `to`'s date in Asia/Shanghai (negative when `to` is on
/// an earlier date). 3 March 20:00 to 6 March 09:00 is 3 days; 3 March 23:59 to 4 March
/// 00:00 is 1 day.
pub fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (local_date(to) - local_date(from)).num_days()
}

/// The instant a period of `days` calendar days starting at `t` is over: 24:00 (Asia/Shanghai)
/// of the `days`-th day after `t`'s date. `period_end(1 March 20:00, 3)` is 5 March 00:00.
/// Saturates at the latest representable instant.
pub fn period_end(t: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    local_date(t)
        .checked_add_days(Days::new(u64::from(days) + 1))
        .map_or(DateTime::<Utc>::MAX_UTC, start_of_day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;

    #[test]
    fn days_are_counted_by_the_date_in_shanghai_not_by_hours() {
        // 3 March 20:00 to 6 March 09:00: 61 hours, but three calendar days.
        assert_eq!(
            days_between(
                at("2025-03-03T20:00:00+08:00"),
                at("2025-03-06T09:00:00+08:00")
            ),
            3
        );
        // Either side of midnight in Shanghai (16:00 UTC).
        let before = at("2025-03-03T23:59:59+08:00");
        let after = at("2025-03-04T00:00:00+08:00");
        assert_eq!(days_between(before, after), 1);
        assert_eq!(days_between(after, before), -1);
        assert_eq!(local_date(before).to_string(), "2025-03-03");
        assert_eq!(local_date(after).to_string(), "2025-03-04");
        // The same UTC date is two dates in Shanghai.
        assert_eq!(
            days_between(at("2025-03-03T15:59:00Z"), at("2025-03-03T16:00:00Z")),
            1
        );
    }

    #[test]
    fn a_period_ends_at_midnight_after_its_last_day() {
        let held = at("2025-03-01T20:00:00+08:00");
        assert_eq!(period_end(held, 3), at("2025-03-05T00:00:00+08:00"));
        assert_eq!(period_end(held, 0), at("2025-03-02T00:00:00+08:00"));
        // Posted in the first minute of a day or the last: the same end.
        assert_eq!(
            period_end(at("2025-03-01T00:00:00+08:00"), 7),
            period_end(at("2025-03-01T23:59:59+08:00"), 7)
        );
        assert_eq!(
            period_end(DateTime::<Utc>::MAX_UTC, 7),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            start_of_day(local_date(held)),
            at("2025-03-01T00:00:00+08:00")
        );
    }
}
