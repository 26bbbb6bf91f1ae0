//! The periods of the boards: a month, a quarter or a year in Asia/Shanghai.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use xingcun_domain::calendar::local_date;

/// Month, quarter or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

/// A month (`2025-03`), a quarter (`2025-Q1`) or a year (`2025`) in Asia/Shanghai.
/// Cannot hold a period that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct Period {
    year: i32,
    kind: PeriodKind,
    /// The month (1..=12) or quarter (1..=4); 0 for a year.
    number: u32,
}

impl Period {
    pub fn month(year: i32, month: u32) -> Option<Self> {
        Self::new(year, PeriodKind::Month, month)
    }
    pub fn quarter(year: i32, quarter: u32) -> Option<Self> {
        Self::new(year, PeriodKind::Quarter, quarter)
    }
    pub fn year(year: i32) -> Option<Self> {
        Self::new(year, PeriodKind::Year, 0)
    }

    fn new(year: i32, kind: PeriodKind, number: u32) -> Option<Self> {
        let ok = (1000..=9999).contains(&year)
            && match kind {
                PeriodKind::Month => (1..=12).contains(&number),
                PeriodKind::Quarter => (1..=4).contains(&number),
                PeriodKind::Year => number == 0,
            };
        ok.then_some(Period { year, kind, number })
    }

    /// The month, quarter and year an instant falls in, in Asia/Shanghai.
    pub fn of(t: DateTime<Utc>) -> [Period; 3] {
        let date = local_date(t);
        let (year, month) = (date.year(), date.month());
        [
            Period {
                year,
                kind: PeriodKind::Month,
                number: month,
            },
            Period {
                year,
                kind: PeriodKind::Quarter,
                number: (month - 1) / 3 + 1,
            },
            Period {
                year,
                kind: PeriodKind::Year,
                number: 0,
            },
        ]
    }

    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    pub fn year_number(&self) -> i32 {
        self.year
    }

    /// The months this period spans, first and last.
    fn months(&self) -> (u32, u32) {
        match self.kind {
            PeriodKind::Month => (self.number, self.number),
            PeriodKind::Quarter => (self.number * 3 - 2, self.number * 3),
            PeriodKind::Year => (1, 12),
        }
    }

    /// Whether `other` lies within this period (itself included).
    pub fn contains(&self, other: &Period) -> bool {
        let (from, to) = self.months();
        let (other_from, other_to) = other.months();
        self.year == other.year && from <= other_from && other_to <= to
    }

    /// The periods around this one, the closest first: a month's quarter and year, a
    /// quarter's year.
    pub(super) fn enclosing(&self) -> Vec<Period> {
        let year = Period {
            year: self.year,
            kind: PeriodKind::Year,
            number: 0,
        };
        match self.kind {
            PeriodKind::Month => vec![
                Period {
                    year: self.year,
                    kind: PeriodKind::Quarter,
                    number: (self.number - 1) / 3 + 1,
                },
                year,
            ],
            PeriodKind::Quarter => vec![year],
            PeriodKind::Year => vec![],
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Month => write!(f, "{}-{:02}", self.year, self.number),
            PeriodKind::Quarter => write!(f, "{}-Q{}", self.year, self.number),
            PeriodKind::Year => write!(f, "{}", self.year),
        }
    }
}

impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

/// A string that is not `2025-03`, `2025-Q1` or `2025`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("统计周期 {0:?} 无效:应为 2025-03(月)、2025-Q1(季度)或 2025(年)")]
pub struct InvalidPeriod(pub String);

impl FromStr for Period {
    type Err = InvalidPeriod;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidPeriod(raw.to_owned());
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        let s = raw.trim();
        let (year, rest) = s.split_at(s.len().min(4));
        if !digits(year, 4) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let period = match rest {
            "" => Period::year(year),
            _ => match rest.strip_prefix("-Q") {
                Some(q) if digits(q, 1) => Period::quarter(year, q.parse().map_err(|_| bad())?),
                Some(_) => None,
                None => match rest.strip_prefix('-') {
                    Some(m) if digits(m, 2) => Period::month(year, m.parse().map_err(|_| bad())?),
                    _ => None,
                },
            },
        };
        period.ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn p(s: &str) -> Period {
        s.parse().expect("period")
    }

    #[test]
    fn periods_parse_print_and_nest() {
        for s in ["2025-03", "2025-Q1", "2025", "2024-12", "2024-Q4"] {
            assert_eq!(p(s).to_string(), s);
        }
        for bad in [
            "", "25", "2025-13", "2025-00", "2025-Q5", "2025-Q0", "2025-3", "2025-Q", "2025Q1",
            "20x5", "2025-Q12",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
        assert!(p("2025").contains(&p("2025-Q2")) && p("2025").contains(&p("2025-07")));
        assert!(p("2025-Q1").contains(&p("2025-03")) && !p("2025-Q1").contains(&p("2025-04")));
        assert!(!p("2025-Q1").contains(&p("2025")) && !p("2024").contains(&p("2025-01")));
        assert!(p("2025-03").contains(&p("2025-03")));
        assert_eq!(p("2025-05").enclosing(), vec![p("2025-Q2"), p("2025")]);
        assert_eq!(p("2025-Q3").enclosing(), vec![p("2025")]);
        assert!(p("2025").enclosing().is_empty());
        assert_eq!(
            serde_json::to_string(&p("2025-Q1")).expect("json"),
            "\"2025-Q1\""
        );
    }

    #[test]
    fn periods_are_counted_in_shanghai() {
        // 17:00 UTC on 31 March is 01:00 on 1 April in Shanghai.
        let t = Utc.with_ymd_and_hms(2025, 3, 31, 17, 0, 0).unwrap();
        assert_eq!(Period::of(t), [p("2025-04"), p("2025-Q2"), p("2025")]);
        let t = Utc.with_ymd_and_hms(2024, 12, 31, 15, 59, 59).unwrap();
        assert_eq!(Period::of(t), [p("2024-12"), p("2024-Q4"), p("2024")]);
        let t = Utc.with_ymd_and_hms(2024, 12, 31, 16, 0, 0).unwrap();
        assert_eq!(Period::of(t), [p("2025-01"), p("2025-Q1"), p("2025")]);
    }
}
