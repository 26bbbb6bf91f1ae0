//! 镇街派单看板 — the town dispatch dashboard: every task a town drafted (title, office,
//! leader in charge, dispatch and deadline), how far each village it reached has got with
//! it, and the duplicates (多头派单) flagged on the way.
//!
//! Three tables, folded from the task streams (`task-…`), each village's work on a task
//! (`assignment-…`) and the villages' ledgers (`village-…`):
//!
//! - `town_tasks`: one row per task that passed screening, with its town side: status
//!   (`awaiting_review`, `returned`, `approved`, `dispatched`, `withdrawn`,
//!   `committee_rejected`, or `screening_rejected` when a revision failed screening), the
//!   leader in charge who last reviewed it (approved or returned it), review returns,
//!   dispatch and withdrawal. A draft refused at screening never was a live task and is not
//!   here ([`crate::screening_stats`] counts it).
//! - `town_task_villages`: one row per (task, village) the task reached, with the village's
//!   status (`issued`, `signed`, `in_progress`, `submitted`, `accepted`, `returned`,
//!   `withdrawn`; assigning the work to a cadre keeps it `signed`) and how often its work was
//!   returned for rework.
//! - `town_duplicates`: one row per duplicate flagged: the task, the village, the earlier task
//!   it duplicates, and where it was caught (`review`: `TaskDuplicateDispatchFlagged` at
//!   screening or review, before dispatch; `ledger`: `DuplicateDispatchFlagged` in the
//!   village's ledger, after dispatch). A task flagged again with the same duplicate at a
//!   later review is one row.
//!
//! Overdue is not stored: [`tasks`], [`by_office`] and [`by_leader`] count it against the
//! `now` they are given (past the deadline, neither accepted nor withdrawn), like
//! [`crate::village_board`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use xingcun_domain::task::CommitteeOutcome;
use xingcun_domain::{AssignmentEvent, LedgerEvent, RegionId, TaskEvent};
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, decode, t};
use crate::sql::{Arg, ReadDb, Stmt, int, text};

pub struct TownDashboard;

const TABLES: &[Table] = &[
    Table {
        name: "town_tasks",
        columns: "(task text not null, town text not null, county text not null, title text not null, \
                  category text not null, source text not null, matter_code text not null, score bigint not null, \
                  deadline text not null, villages bigint not null, status text not null, leader text, \
                  review_returns bigint not null, last_return_reason text, drafted_at text not null, \
                  approved_at text, dispatched_at text, dispatched_by text, withdrawn_at text, \
                  withdrawn_reason text, kept_villages bigint, updated_at text not null, \
                  position bigint not null, primary key (task))",
        indexes: &["(town, status)", "(town, category)", "(town, leader)"],
        lookups: &[],
    },
    Table {
        name: "town_task_villages",
        columns: "(task text not null, village text not null, town text not null, category text not null, \
                  deadline text not null, status text not null, returns bigint not null, signed_at text, \
                  submitted_at text, accepted_at text, on_time bigint, withdrawn_at text, \
                  updated_at text not null, position bigint not null, primary key (task, village))",
        indexes: &["(town, task)"],
        lookups: &[],
    },
    Table {
        name: "town_duplicates",
        columns: "(task text not null, village text not null, duplicate_of text not null, stage text not null, \
                  town text not null, matter_code text not null, flagged_at text not null, \
                  position bigint not null, primary key (task, village, duplicate_of, stage))",
        indexes: &["(town, flagged_at)"],
        lookups: &[],
    },
];

const DRAFTED: &str = "insert into {town_tasks} (task, town, county, title, category, source, matter_code, score, \
     deadline, villages, status, review_returns, drafted_at, updated_at, position) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'awaiting_review', 0, $11, $11, $12) \
     on conflict (task) do nothing";
const REVISED: &str = "update {town_tasks} set title = $1, category = $2, source = $3, matter_code = $4, \
     score = $5, deadline = $6, villages = $7, status = 'awaiting_review', updated_at = $8, position = $9 \
     where task = $10";
const SCREENING_REJECTED: &str = "update {town_tasks} set status = 'screening_rejected', updated_at = $1, \
     position = $2 where task = $3";
const APPROVED: &str = "update {town_tasks} set status = 'approved', leader = $1, approved_at = $2, \
     updated_at = $2, position = $3 where task = $4";
const RETURNED: &str = "update {town_tasks} set status = 'returned', leader = $1, \
     review_returns = review_returns + 1, last_return_reason = $2, updated_at = $3, position = $4 \
     where task = $5";
const COMMITTEE_REJECTED: &str = "update {town_tasks} set status = 'committee_rejected', updated_at = $1, \
     position = $2 where task = $3";
const DISPATCHED: &str = "update {town_tasks} set status = 'dispatched', title = $1, category = $2, \
     matter_code = $3, score = $4, deadline = $5, villages = $6, dispatched_at = $7, dispatched_by = $8, \
     updated_at = $7, position = $9 where task = $10";
const WITHDRAWN: &str = "update {town_tasks} set status = 'withdrawn', withdrawn_at = $1, withdrawn_reason = $2, \
     kept_villages = $3, updated_at = $1, position = $4 where task = $5";
const DUPLICATE: &str = "insert into {town_duplicates} (task, village, duplicate_of, stage, town, matter_code, \
     flagged_at, position) values ($1, $2, $3, $4, $5, $6, $7, $8) \
     on conflict (task, village, duplicate_of, stage) do nothing";

const ISSUED: &str = "insert into {town_task_villages} (task, village, town, category, deadline, status, returns, \
     updated_at, position) values ($1, $2, $3, $4, $5, 'issued', 0, $6, $7) \
     on conflict (task, village) do nothing";
const V_SIGNED: &str = "update {town_task_villages} set status = 'signed', signed_at = $1, updated_at = $1, \
     position = $2 where task = $3 and village = $4";
const V_PROGRESS: &str = "update {town_task_villages} set \
     status = case when status in ('signed', 'returned') then 'in_progress' else status end, \
     updated_at = $1, position = $2 where task = $3 and village = $4";
const V_SUBMITTED: &str = "update {town_task_villages} set status = 'submitted', submitted_at = $1, on_time = $2, \
     updated_at = $1, position = $3 where task = $4 and village = $5";
const V_ACCEPTED: &str = "update {town_task_villages} set status = 'accepted', accepted_at = $1, on_time = $2, \
     updated_at = $1, position = $3 where task = $4 and village = $5";
const V_RETURNED: &str = "update {town_task_villages} set status = 'returned', returns = returns + 1, \
     updated_at = $1, position = $2 where task = $3 and village = $4";
const V_WITHDRAWN: &str = "update {town_task_villages} set status = 'withdrawn', withdrawn_at = $1, \
     updated_at = $1, position = $2 where task = $3 and village = $4";

fn time(t: &DateTime<Utc>) -> Arg {
    Arg::Text(xingcun_store::hash::format_time(t))
}

fn county_of(town: &RegionId) -> String {
    town.parent()
        .map_or_else(|| town.to_string(), |c| c.to_string())
}

fn count(n: usize) -> Arg {
    Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn source_name(source: xingcun_domain::TaskSource) -> &'static str {
    match source {
        xingcun_domain::TaskSource::UpperLevel => "upper_level",
        xingcun_domain::TaskSource::Town => "town",
        xingcun_domain::TaskSource::Major => "major",
    }
}

impl TownDashboard {
    fn task(event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        match decode::<TaskEvent>(event)? {
            TaskEvent::TaskDrafted {
                task,
                town,
                draft,
                matter,
                drafted_at,
                ..
            } => out.push(Stmt::new(
                DRAFTED,
                vec![
                    t(task.to_string()),
                    t(town.to_string()),
                    t(county_of(&town)),
                    t(draft.title.to_string()),
                    t(draft.category.to_string()),
                    t(source_name(draft.source)),
                    t(matter.code.to_string()),
                    i64::from(draft.score.get()).into(),
                    time(&draft.deadline),
                    count(draft.villages.len()),
                    time(&drafted_at),
                    at.into(),
                ],
            )),
            TaskEvent::TaskRevised {
                task,
                draft,
                matter,
                revised_at,
                ..
            } => out.push(Stmt::new(
                REVISED,
                vec![
                    t(draft.title.to_string()),
                    t(draft.category.to_string()),
                    t(source_name(draft.source)),
                    t(matter.code.to_string()),
                    i64::from(draft.score.get()).into(),
                    time(&draft.deadline),
                    count(draft.villages.len()),
                    time(&revised_at),
                    at.into(),
                    t(task.to_string()),
                ],
            )),
            // A first draft refused at screening has no row; a revision refused at
            // screening ends a live task.
            TaskEvent::TaskScreeningRejected {
                task, rejected_at, ..
            } => out.push(Stmt::new(
                SCREENING_REJECTED,
                vec![time(&rejected_at), at.into(), t(task.to_string())],
            )),
            TaskEvent::TaskApproved {
                task,
                approved_by,
                approved_at,
                ..
            } => out.push(Stmt::new(
                APPROVED,
                vec![
                    t(approved_by.to_string()),
                    time(&approved_at),
                    at.into(),
                    t(task.to_string()),
                ],
            )),
            TaskEvent::TaskReturned {
                task,
                reason,
                returned_by,
                returned_at,
                ..
            } => out.push(Stmt::new(
                RETURNED,
                vec![
                    t(returned_by.to_string()),
                    t(reason.to_string()),
                    time(&returned_at),
                    at.into(),
                    t(task.to_string()),
                ],
            )),
            TaskEvent::TaskCollectiveDecisionRecorded {
                task,
                outcome,
                recorded_at,
                ..
            } => {
                if outcome == CommitteeOutcome::Rejected {
                    out.push(Stmt::new(
                        COMMITTEE_REJECTED,
                        vec![time(&recorded_at), at.into(), t(task.to_string())],
                    ));
                }
            }
            TaskEvent::TaskDuplicateDispatchFlagged {
                task,
                town,
                matter_code,
                duplicates,
                flagged_at,
            } => {
                for d in duplicates {
                    out.push(Stmt::new(
                        DUPLICATE,
                        vec![
                            t(task.to_string()),
                            t(d.village.to_string()),
                            t(d.duplicate_of.to_string()),
                            t("review"),
                            t(town.to_string()),
                            t(matter_code.to_string()),
                            time(&flagged_at),
                            at.into(),
                        ],
                    ));
                }
            }
            TaskEvent::TaskDispatched(d) => out.push(Stmt::new(
                DISPATCHED,
                vec![
                    t(d.title.to_string()),
                    t(d.category.to_string()),
                    t(d.matter_code.to_string()),
                    i64::from(d.score.get()).into(),
                    time(&d.deadline),
                    count(d.villages.len()),
                    time(&d.dispatched_at),
                    t(d.dispatched_by.to_string()),
                    at.into(),
                    t(d.task.to_string()),
                ],
            )),
            TaskEvent::TaskWithdrawn(w) => out.push(Stmt::new(
                WITHDRAWN,
                vec![
                    time(&w.withdrawn_at),
                    t(w.reason.to_string()),
                    count(w.kept.len()),
                    at.into(),
                    t(w.task.to_string()),
                ],
            )),
        }
        Ok(())
    }

    fn assignment(event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        let key = |task: &dyn ToString, village: &dyn ToString| {
            [t(task.to_string()), t(village.to_string())]
        };
        let (sql, mut args, (task, village)) = match decode::<AssignmentEvent>(event)? {
            AssignmentEvent::AssignmentIssued(n) => {
                out.push(Stmt::new(
                    ISSUED,
                    vec![
                        t(n.task.to_string()),
                        t(n.village.to_string()),
                        t(n.town.to_string()),
                        t(n.category.to_string()),
                        time(&n.deadline),
                        time(&n.dispatched_at),
                        at.into(),
                    ],
                ));
                return Ok(());
            }
            // Assigning the work to a cadre or grid leaves the village's status as signed.
            AssignmentEvent::AssignmentAssigned { .. } => return Ok(()),
            AssignmentEvent::AssignmentSigned {
                task,
                village,
                signed_at,
                ..
            } => (V_SIGNED, vec![time(&signed_at)], (task, village)),
            AssignmentEvent::AssignmentProgressReported {
                task,
                village,
                reported_at,
                ..
            } => (V_PROGRESS, vec![time(&reported_at)], (task, village)),
            AssignmentEvent::AssignmentSubmitted {
                task,
                village,
                on_time,
                submitted_at,
                ..
            } => (
                V_SUBMITTED,
                vec![time(&submitted_at), i64::from(on_time).into()],
                (task, village),
            ),
            AssignmentEvent::AssignmentAccepted {
                task,
                village,
                on_time,
                accepted_at,
                ..
            } => (
                V_ACCEPTED,
                vec![time(&accepted_at), i64::from(on_time).into()],
                (task, village),
            ),
            AssignmentEvent::AssignmentReturned {
                task,
                village,
                returned_at,
                ..
            } => (V_RETURNED, vec![time(&returned_at)], (task, village)),
            AssignmentEvent::AssignmentWithdrawn {
                task,
                village,
                withdrawn_at,
                ..
            } => (V_WITHDRAWN, vec![time(&withdrawn_at)], (task, village)),
        };
        args.push(at.into());
        args.extend(key(&task, &village));
        out.push(Stmt::new(sql, args));
        Ok(())
    }

    fn ledger(event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        if let LedgerEvent::DuplicateDispatchFlagged {
            village,
            town,
            task,
            matter_code,
            duplicate_of,
            ..
        } = decode::<LedgerEvent>(event)?
        {
            for earlier in duplicate_of {
                out.push(Stmt::new(
                    DUPLICATE,
                    vec![
                        t(task.to_string()),
                        t(village.to_string()),
                        t(earlier.to_string()),
                        t("ledger"),
                        t(town.to_string()),
                        t(matter_code.to_string()),
                        time(&event.recorded_at),
                        (event.position as i64).into(),
                    ],
                ));
            }
        }
        Ok(())
    }
}

impl Projection for TownDashboard {
    fn name(&self) -> &'static str {
        "town_dashboard"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["task", "assignment", "village"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        match event.stream_id.split_once('-').map(|(c, _)| c) {
            Some("task") => Self::task(event, out),
            Some("assignment") => Self::assignment(event, out),
            Some("village") => Self::ledger(event, out),
            _ => Ok(()),
        }
    }
}

/// How many of a task's villages stand where (村社办理情况).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VillageCounts {
    pub issued: i64,
    pub signed: i64,
    pub in_progress: i64,
    pub submitted: i64,
    pub accepted: i64,
    pub returned: i64,
    pub withdrawn: i64,
}

impl VillageCounts {
    pub fn total(&self) -> i64 {
        self.issued
            + self.signed
            + self.in_progress
            + self.submitted
            + self.accepted
            + self.returned
            + self.withdrawn
    }
}

/// One task of a town's dashboard at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DashboardTask {
    pub task: String,
    pub town: String,
    pub title: String,
    /// The office (条线) the task belongs to.
    pub category: String,
    /// `upper_level`, `town` or `major`.
    pub source: String,
    /// The leader in charge who last reviewed it (approved or returned it).
    pub leader: Option<String>,
    pub status: String,
    pub review_returns: i64,
    pub dispatched_at: Option<String>,
    pub deadline: String,
    pub villages: VillageCounts,
    /// Rework returns over all its villages (a village returned twice counts twice).
    pub returns: i64,
    /// Villages past the deadline at `now` whose work is neither accepted nor withdrawn.
    pub overdue: i64,
    /// Duplicates flagged (多头派单), at review and in the villages' ledgers.
    pub duplicates: i64,
}

/// Totals over a group of tasks: one office (category) or one leader in charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DashboardGroup {
    /// The category, or the leader's person id.
    pub key: String,
    pub tasks: i64,
    pub dispatched: i64,
    pub villages: VillageCounts,
    pub returns: i64,
    pub overdue: i64,
}

/// Per-village status counts, returns and overdue, as SQL over `town_task_villages v` at `$1`
/// (first in the statement: placeholders are numbered in order of first use).
const COUNTS: &str = "cast(coalesce(sum(case when v.status = 'issued' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(case when v.status = 'signed' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(case when v.status = 'in_progress' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(case when v.status = 'submitted' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(case when v.status = 'accepted' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(case when v.status = 'returned' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(case when v.status = 'withdrawn' then 1 else 0 end), 0) as bigint), \
     cast(coalesce(sum(v.returns), 0) as bigint), \
     cast(coalesce(sum(case when v.deadline < $1 and v.status not in ('accepted', 'withdrawn') \
     then 1 else 0 end), 0) as bigint)";

fn counts_at(r: &[Arg], i: usize) -> (VillageCounts, i64, i64) {
    let n = |k| int(r, i + k).unwrap_or(0);
    (
        VillageCounts {
            issued: n(0),
            signed: n(1),
            in_progress: n(2),
            submitted: n(3),
            accepted: n(4),
            returned: n(5),
            withdrawn: n(6),
        },
        n(7),
        n(8),
    )
}

/// A town's tasks at `now`, newest draft first.
pub async fn tasks(
    db: &ReadDb,
    town: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DashboardTask>, StoreError> {
    let sql = format!(
        "select t.task, t.town, t.title, t.category, t.source, t.leader, t.status, t.review_returns, \
         t.dispatched_at, t.deadline, {COUNTS}, \
         cast((select count(*) from {dup} d where d.task = t.task) as bigint) \
         from {tasks} t left join {villages} v on v.task = t.task \
         where t.town = $2 \
         group by t.task, t.town, t.title, t.category, t.source, t.leader, t.status, t.review_returns, \
         t.dispatched_at, t.deadline, t.drafted_at \
         order by t.drafted_at desc, t.task",
        tasks = db.qualified("town_tasks"),
        villages = db.qualified("town_task_villages"),
        dup = db.qualified("town_duplicates"),
    );
    let now = xingcun_store::hash::format_time(&now);
    let rows = db.fetch(&sql, &[now.into(), town.into()]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (villages, returns, overdue) = counts_at(r, 10);
            DashboardTask {
                task: text(r, 0).unwrap_or_default(),
                town: text(r, 1).unwrap_or_default(),
                title: text(r, 2).unwrap_or_default(),
                category: text(r, 3).unwrap_or_default(),
                source: text(r, 4).unwrap_or_default(),
                leader: text(r, 5),
                status: text(r, 6).unwrap_or_default(),
                review_returns: int(r, 7).unwrap_or(0),
                dispatched_at: text(r, 8),
                deadline: text(r, 9).unwrap_or_default(),
                villages,
                returns,
                overdue,
                duplicates: int(r, 19).unwrap_or(0),
            }
        })
        .collect())
}

async fn grouped(
    db: &ReadDb,
    town: &str,
    now: DateTime<Utc>,
    column: &str,
) -> Result<Vec<DashboardGroup>, StoreError> {
    let sql = format!(
        "select coalesce(t.{column}, ''), cast(count(distinct t.task) as bigint), \
         cast(count(distinct case when t.dispatched_at is not null then t.task end) as bigint), {COUNTS} \
         from {tasks} t left join {villages} v on v.task = t.task \
         where t.town = $2 group by coalesce(t.{column}, '') order by 1",
        tasks = db.qualified("town_tasks"),
        villages = db.qualified("town_task_villages"),
    );
    let now = xingcun_store::hash::format_time(&now);
    let rows = db.fetch(&sql, &[now.into(), town.into()]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (villages, returns, overdue) = counts_at(r, 3);
            DashboardGroup {
                key: text(r, 0).unwrap_or_default(),
                tasks: int(r, 1).unwrap_or(0),
                dispatched: int(r, 2).unwrap_or(0),
                villages,
                returns,
                overdue,
            }
        })
        .collect())
}

/// A town's tasks per office (category, 条线) at `now`.
pub async fn by_office(
    db: &ReadDb,
    town: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DashboardGroup>, StoreError> {
    grouped(db, town, now, "category").await
}

/// A town's tasks per leader in charge (分管领导, the last reviewer; `""` for tasks not yet
/// reviewed) at `now`.
pub async fn by_leader(
    db: &ReadDb,
    town: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DashboardGroup>, StoreError> {
    grouped(db, town, now, "leader").await
}

/// One duplicate flagged (多头派单), with what became of the later task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateFlag {
    pub task: String,
    pub village: String,
    pub duplicate_of: String,
    /// `review` (before dispatch) or `ledger` (in the village's ledger, after dispatch).
    pub stage: String,
    pub matter_code: String,
    pub flagged_at: String,
    /// The flagged task's status now (`withdrawn`: merged).
    pub task_status: Option<String>,
}

/// The duplicates flagged in a town, in the order they were flagged.
pub async fn duplicates(db: &ReadDb, town: &str) -> Result<Vec<DuplicateFlag>, StoreError> {
    let sql = format!(
        "select d.task, d.village, d.duplicate_of, d.stage, d.matter_code, d.flagged_at, t.status \
         from {dup} d left join {tasks} t on t.task = d.task where d.town = $1 \
         order by d.position, d.village, d.duplicate_of",
        dup = db.qualified("town_duplicates"),
        tasks = db.qualified("town_tasks"),
    );
    let rows = db.fetch(&sql, &[town.into()]).await?;
    Ok(rows
        .iter()
        .map(|r| DuplicateFlag {
            task: text(r, 0).unwrap_or_default(),
            village: text(r, 1).unwrap_or_default(),
            duplicate_of: text(r, 2).unwrap_or_default(),
            stage: text(r, 3).unwrap_or_default(),
            matter_code: text(r, 4).unwrap_or_default(),
            flagged_at: text(r, 5).unwrap_or_default(),
            task_status: text(r, 6),
        })
        .collect())
}
