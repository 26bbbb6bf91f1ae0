//! 村社任务看板 — the village task board: what is addressed to one village (属于你的才显示),
//! one row per task that reached it, folded from its assignment stream
//! (`assignment-{task}-{village}`).
//!
//! Overdue is not stored: it depends on the clock, not on an event. [`board`] computes it
//! against the `now` it is given (past the deadline and neither accepted nor withdrawn), so
//! a task becomes overdue at its deadline with nothing appended.

use chrono::{DateTime, Utc};
use serde::Serialize;
use xingcun_domain::{Assignee, AssignmentEvent};
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, decode, t};
use crate::sql::{Arg, ReadDb, Stmt, int, text};

pub struct VillageBoard;

const TABLES: &[Table] = &[Table {
    name: "village_board",
    columns: "(task text not null, village text not null, town text not null, title text not null, \
              category text not null, matter_code text not null, score bigint not null, \
              deadline text not null, dispatched_at text not null, status text not null, \
              signed_by text, signed_at text, assignee text, progress_percent bigint, progress_note text, \
              progress_at text, submitted_at text, on_time bigint, points_hundredths bigint, \
              returns bigint not null, last_return_reason text, withdrawn_reason text, \
              updated_at text not null, position bigint not null, primary key (village, task))",
    indexes: &["(village, deadline)", "(town, status)"],
    lookups: &[],
}];

const ISSUED: &str = "insert into {village_board} (task, village, town, title, category, matter_code, score, \
     deadline, dispatched_at, status, returns, updated_at, position) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'issued', 0, $10, $11) \
     on conflict (village, task) do nothing";
const SIGNED: &str = "update {village_board} set status = 'signed', signed_by = $1, signed_at = $2, \
     updated_at = $2, position = $3 where village = $4 and task = $5";
const ASSIGNED: &str = "update {village_board} set assignee = $1, \
     status = case when status = 'signed' then 'assigned' else status end, \
     updated_at = $2, position = $3 where village = $4 and task = $5";
const PROGRESS: &str = "update {village_board} set progress_percent = $1, progress_note = $2, progress_at = $3, \
     status = case when status in ('signed', 'assigned', 'returned') then 'in_progress' else status end, \
     updated_at = $3, position = $4 where village = $5 and task = $6";
const SUBMITTED: &str = "update {village_board} set status = 'submitted', submitted_at = $1, on_time = $2, \
     updated_at = $1, position = $3 where village = $4 and task = $5";
const ACCEPTED: &str = "update {village_board} set status = 'accepted', on_time = $1, points_hundredths = $2, \
     updated_at = $3, position = $4 where village = $5 and task = $6";
const RETURNED: &str = "update {village_board} set status = 'returned', returns = returns + 1, \
     last_return_reason = $1, updated_at = $2, position = $3 where village = $4 and task = $5";
const WITHDRAWN: &str = "update {village_board} set status = 'withdrawn', withdrawn_reason = $1, \
     updated_at = $2, position = $3 where village = $4 and task = $5";

fn time(t: &DateTime<Utc>) -> Arg {
    Arg::Text(xingcun_store::hash::format_time(t))
}

fn assignee_label(a: &Assignee) -> String {
    match a {
        Assignee::Cadre { person } => format!("cadre:{person}"),
        Assignee::Grid { grid } => format!("grid:{grid}"),
    }
}

impl Projection for VillageBoard {
    fn name(&self) -> &'static str {
        "village_board"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["assignment"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        let key = |village: &dyn ToString, task: &dyn ToString| {
            [t(village.to_string()), t(task.to_string())]
        };
        let stmt = match decode::<AssignmentEvent>(event)? {
            AssignmentEvent::AssignmentIssued(n) => Stmt::new(
                ISSUED,
                vec![
                    t(n.task.to_string()),
                    t(n.village.to_string()),
                    t(n.town.to_string()),
                    t(n.title.to_string()),
                    t(n.category.to_string()),
                    t(n.matter_code.to_string()),
                    i64::from(n.score.get()).into(),
                    time(&n.deadline),
                    time(&n.dispatched_at),
                    time(&event.recorded_at),
                    at.into(),
                ],
            ),
            AssignmentEvent::AssignmentSigned {
                task,
                village,
                signed_by,
                signed_at,
                ..
            } => {
                let mut args = vec![t(signed_by.to_string()), time(&signed_at), at.into()];
                args.extend(key(&village, &task));
                Stmt::new(SIGNED, args)
            }
            AssignmentEvent::AssignmentAssigned {
                task,
                village,
                assignee,
                assigned_at,
                ..
            } => {
                let mut args = vec![t(assignee_label(&assignee)), time(&assigned_at), at.into()];
                args.extend(key(&village, &task));
                Stmt::new(ASSIGNED, args)
            }
            AssignmentEvent::AssignmentProgressReported {
                task,
                village,
                percent,
                note,
                reported_at,
                ..
            } => {
                let mut args = vec![
                    i64::from(percent).into(),
                    t(note.to_string()),
                    time(&reported_at),
                    at.into(),
                ];
                args.extend(key(&village, &task));
                Stmt::new(PROGRESS, args)
            }
            AssignmentEvent::AssignmentSubmitted {
                task,
                village,
                on_time,
                submitted_at,
                ..
            } => {
                let mut args = vec![time(&submitted_at), i64::from(on_time).into(), at.into()];
                args.extend(key(&village, &task));
                Stmt::new(SUBMITTED, args)
            }
            AssignmentEvent::AssignmentAccepted {
                task,
                village,
                on_time,
                points,
                accepted_at,
                ..
            } => {
                let mut args = vec![
                    i64::from(on_time).into(),
                    (points.hundredths() as i64).into(),
                    time(&accepted_at),
                    at.into(),
                ];
                args.extend(key(&village, &task));
                Stmt::new(ACCEPTED, args)
            }
            AssignmentEvent::AssignmentReturned {
                task,
                village,
                reason,
                returned_at,
                ..
            } => {
                let mut args = vec![t(reason.to_string()), time(&returned_at), at.into()];
                args.extend(key(&village, &task));
                Stmt::new(RETURNED, args)
            }
            AssignmentEvent::AssignmentWithdrawn {
                task,
                village,
                reason,
                withdrawn_at,
                ..
            } => {
                let mut args = vec![t(reason.to_string()), time(&withdrawn_at), at.into()];
                args.extend(key(&village, &task));
                Stmt::new(WITHDRAWN, args)
            }
        };
        out.push(stmt);
        Ok(())
    }
}

/// One row of a village's board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardRow {
    pub task: String,
    pub village: String,
    pub town: String,
    pub title: String,
    pub category: String,
    pub matter_code: String,
    pub score: i64,
    pub deadline: String,
    pub dispatched_at: String,
    /// `issued`, `signed`, `assigned`, `in_progress`, `submitted`, `accepted`, `returned`
    /// or `withdrawn`.
    pub status: String,
    pub signed_by: Option<String>,
    pub assignee: Option<String>,
    pub progress_percent: Option<i64>,
    pub progress_note: Option<String>,
    pub on_time: Option<bool>,
    pub points_hundredths: Option<i64>,
    pub returns: i64,
    pub last_return_reason: Option<String>,
    /// Past the deadline at `now` and neither accepted nor withdrawn (逾期).
    pub overdue: bool,
    /// The position of the last event that changed the row.
    pub position: i64,
}

/// A village's board at `now`: at most `limit` rows, soonest deadline first.
pub async fn board(
    db: &ReadDb,
    village: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BoardRow>, StoreError> {
    let sql = format!(
        "select task, village, town, title, category, matter_code, score, deadline, dispatched_at, status, \
         signed_by, assignee, progress_percent, progress_note, on_time, points_hundredths, returns, \
         last_return_reason, position from {} where village = $1 order by deadline, task limit $2",
        db.qualified("village_board")
    );
    let rows = db.fetch(&sql, &[village.into(), limit.into()]).await?;
    let now = xingcun_store::hash::format_time(&now);
    Ok(rows
        .iter()
        .map(|r| {
            let status = text(r, 9).unwrap_or_default();
            let deadline = text(r, 7).unwrap_or_default();
            BoardRow {
                task: text(r, 0).unwrap_or_default(),
                village: text(r, 1).unwrap_or_default(),
                town: text(r, 2).unwrap_or_default(),
                title: text(r, 3).unwrap_or_default(),
                category: text(r, 4).unwrap_or_default(),
                matter_code: text(r, 5).unwrap_or_default(),
                score: int(r, 6).unwrap_or(0),
                // Times are stored as RFC 3339 UTC with microseconds: they sort as text.
                overdue: deadline < now && !matches!(status.as_str(), "accepted" | "withdrawn"),
                deadline,
                dispatched_at: text(r, 8).unwrap_or_default(),
                status,
                signed_by: text(r, 10),
                assignee: text(r, 11),
                progress_percent: int(r, 12),
                progress_note: text(r, 13),
                on_time: int(r, 14).map(|v| v != 0),
                points_hundredths: int(r, 15),
                returns: int(r, 16).unwrap_or(0),
                last_return_reason: text(r, 17),
                position: int(r, 18).unwrap_or(0),
            }
        })
        .collect())
}
