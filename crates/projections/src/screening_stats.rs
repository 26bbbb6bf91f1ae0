//! 过筛统计 — screening statistics: tasks refused by screening, by reason, by duty area
//! (条线: the task's category, the office that drafted it) and by month; and the tasks that
//! reached villages (assignments issued) by month, from which the reduction against a
//! baseline year is computed. Per town, with the town's county, so a county or the city is
//! a sum over rows. Months are calendar months in Asia/Shanghai.

use serde::Serialize;
use xingcun_domain::calendar::local_date;
use xingcun_domain::{AssignmentEvent, RegionId, TaskEvent};
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, body, decode, t};
use crate::sql::{ReadDb, Stmt, int, text};

pub struct ScreeningStats;

const TABLES: &[Table] = &[
    Table {
        name: "screening_rejections",
        columns: "(town text not null, county text not null, month text not null, reason text not null, \
                  category text not null, rejected bigint not null, primary key (town, month, reason, category))",
        indexes: &["(county, month)"],
        lookups: &[],
    },
    Table {
        name: "villages_reached",
        columns: "(town text not null, county text not null, month text not null, assignments bigint not null, \
                  primary key (town, month))",
        indexes: &["(county, month)"],
        lookups: &[],
    },
];

const REJECTED: &str = "insert into {screening_rejections} as x (town, county, month, reason, category, rejected) \
     values ($1, $2, $3, $4, $5, 1) on conflict (town, month, reason, category) \
     do update set rejected = x.rejected + 1";
const REACHED: &str = "insert into {villages_reached} as x (town, county, month, assignments) \
     values ($1, $2, $3, 1) on conflict (town, month) do update set assignments = x.assignments + 1";

fn county_of(town: &RegionId) -> String {
    town.parent()
        .map_or_else(|| town.to_string(), |c| c.to_string())
}

fn month_of(event: &RecordedEvent) -> String {
    local_date(event.recorded_at).format("%Y-%m").to_string()
}

impl Projection for ScreeningStats {
    fn name(&self) -> &'static str {
        "screening_stats"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["task", "assignment"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        match event.event_type.as_str() {
            "TaskScreeningRejected" => {
                let TaskEvent::TaskScreeningRejected { town, draft, .. } = decode(event)? else {
                    return Err("not a screening rejection".into());
                };
                let reason = body(event)
                    .get("reason")
                    .and_then(|r| r.get("kind"))
                    .and_then(|k| k.as_str())
                    .unwrap_or("unknown")
                    .to_owned();
                out.push(Stmt::new(
                    REJECTED,
                    vec![
                        t(town.to_string()),
                        t(county_of(&town)),
                        t(month_of(event)),
                        t(reason),
                        t(draft.category.to_string()),
                    ],
                ));
            }
            "AssignmentIssued" => {
                let AssignmentEvent::AssignmentIssued(notice) = decode(event)? else {
                    return Err("not an assignment".into());
                };
                out.push(Stmt::new(
                    REACHED,
                    vec![
                        t(notice.town.to_string()),
                        t(county_of(&notice.town)),
                        t(month_of(event)),
                    ],
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Rejections in a scope (a town, a county, or `None` for the city), by month, reason and
/// duty area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionCount {
    pub month: String,
    pub reason: String,
    pub category: String,
    pub rejected: i64,
}

/// Rows matching a scope: every row for the city, a county's or a town's.
fn scope_filter(scope: Option<&str>) -> (&'static str, String) {
    match scope {
        None => ("($1 = '')", String::new()),
        Some(code) => ("(county = $1 or town = $1)", code.to_owned()),
    }
}

pub async fn rejections(
    db: &ReadDb,
    scope: Option<&str>,
    from_month: &str,
    to_month: &str,
) -> Result<Vec<RejectionCount>, StoreError> {
    let (filter, code) = scope_filter(scope);
    let sql = format!(
        "select month, reason, category, cast(sum(rejected) as bigint) from {} where {filter} and month >= $2 and month <= $3 \
         group by month, reason, category order by month, reason, category",
        db.qualified("screening_rejections")
    );
    let rows = db
        .fetch(&sql, &[code.into(), from_month.into(), to_month.into()])
        .await?;
    Ok(rows
        .iter()
        .map(|r| RejectionCount {
            month: text(r, 0).unwrap_or_default(),
            reason: text(r, 1).unwrap_or_default(),
            category: text(r, 2).unwrap_or_default(),
            rejected: int(r, 3).unwrap_or(0),
        })
        .collect())
}

/// Tasks that reached villages (assignments issued) in a scope, per month.
pub async fn villages_reached(
    db: &ReadDb,
    scope: Option<&str>,
    from_month: &str,
    to_month: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let (filter, code) = scope_filter(scope);
    let sql = format!(
        "select month, cast(sum(assignments) as bigint) from {} where {filter} and month >= $2 and month <= $3 \
         group by month order by month",
        db.qualified("villages_reached")
    );
    let rows = db
        .fetch(&sql, &[code.into(), from_month.into(), to_month.into()])
        .await?;
    Ok(rows
        .iter()
        .map(|r| (text(r, 0).unwrap_or_default(), int(r, 1).unwrap_or(0)))
        .collect())
}

/// Change of the tasks reaching villages from the `baseline` year to `year`, in percent
/// (negative: fewer; the published figure is a reduction of over 30%). `None` when the
/// baseline year has none.
pub async fn reduction_percent(
    db: &ReadDb,
    scope: Option<&str>,
    baseline: i32,
    year: i32,
) -> Result<Option<f64>, StoreError> {
    let total = |y: i32| async move {
        let months = villages_reached(db, scope, &format!("{y}-01"), &format!("{y}-12")).await?;
        Ok::<i64, StoreError>(months.iter().map(|(_, n)| n).sum())
    };
    let before = total(baseline).await?;
    let after = total(year).await?;
    Ok((before > 0).then(|| (after as f64 / before as f64 - 1.0) * 100.0))
}
