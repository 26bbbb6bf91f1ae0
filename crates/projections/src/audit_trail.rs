//! 无感留痕 — the audit trail: every event that concerns a region (a village, a town), in
//! log order, with who recorded it, when, and its place in the hash chain. One row per
//! (region, event), keyed by (region, position), so a village's history is read page by
//! page by position without scanning the log. The regions are those the domain names in
//! each event's metadata (`DomainEvent::regions`): a village's tasks, screening
//! rejections, procedure steps, bids and scores, cadres and praise.
//!
//! The table is an index into the log, not a copy of it: a row holds the region, the
//! position, and the stream and recorded time that [`village_as_of`] selects by. The event
//! itself (type, actor, hashes) is read from the log by position when a page is shown, so
//! what an auditor sees is the log's own record, and the table is a third of the size it
//! was with copies of both 64-character hashes in every row (1.3 million rows for the
//! 3-year city).

use serde::Serialize;
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, t};
use crate::sql::{ReadDb, Stmt, int, text};

pub struct AuditTrail;

const TABLES: &[Table] = &[Table {
    name: "audit_trail",
    columns: "(region text not null, position bigint not null, stream_id text not null, \
              recorded_at text not null, primary key (region, position))",
    indexes: &[],
    lookups: &[],
}];

const ENTRY: &str = "insert into {audit_trail} (region, position, stream_id, recorded_at) \
     values ($1, $2, $3, $4) on conflict (region, position) do nothing";

impl Projection for AuditTrail {
    fn name(&self) -> &'static str {
        "audit_trail"
    }
    fn version(&self) -> u32 {
        // 2: the event's type, actor and hashes are read from the log, not copied.
        2
    }
    fn categories(&self) -> &'static [&'static str] {
        &[]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        for region in &event.metadata.regions {
            out.push(Stmt::new(
                ENTRY,
                vec![
                    t(region.as_str()),
                    (event.position as i64).into(),
                    t(event.stream_id.as_str()),
                    t(xingcun_store::hash::format_time(&event.recorded_at)),
                ],
            ));
        }
        Ok(())
    }
}

/// One entry of a region's trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailEntry {
    pub position: i64,
    pub stream_id: String,
    pub event_type: String,
    pub actor: String,
    pub recorded_at: String,
    pub prev_hash: String,
    pub hash: String,
    /// The event's content (upcast to its current shape).
    pub payload: serde_json::Value,
}

/// Up to `limit` entries of a region's trail after position `after`, in log order: the
/// positions from the read model, the events from the log.
pub async fn trail<L: xingcun_store::EventLog>(
    log: &L,
    db: &ReadDb,
    region: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<TrailEntry>, StoreError> {
    let sql = format!(
        "select position from {} where region = $1 and position > $2 order by position limit $3",
        db.qualified("audit_trail")
    );
    let positions: Vec<u64> = db
        .fetch(&sql, &[region.into(), after.into(), limit.into()])
        .await?
        .iter()
        .filter_map(|r| int(r, 0))
        .map(|p| p.max(0) as u64)
        .collect();
    let events = log.read_positions(&positions).await?;
    Ok(events
        .into_iter()
        .map(|e| TrailEntry {
            position: e.position as i64,
            recorded_at: xingcun_store::hash::format_time(&e.recorded_at),
            actor: e.metadata.actor,
            stream_id: e.stream_id,
            event_type: e.event_type,
            prev_hash: e.prev_hash,
            hash: e.hash,
            payload: e.payload.into_value(),
        })
        .collect())
}

/// A moment in a village's history: a global position, or a time (the last of the
/// village's events recorded at or before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Position(u64),
    Time(chrono::DateTime<chrono::Utc>),
}

/// One task as it stood in the village at that moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskAsOf {
    pub task: String,
    pub title: String,
    pub deadline: String,
    /// The domain's own status, in Chinese (待签收, 办理中, 已提交, 已验收, 已撤回).
    pub status: String,
    /// 逾期 at that moment, by the domain's own rule.
    pub overdue: bool,
    pub progress_percent: u8,
    pub rework_count: u32,
    pub points_hundredths: Option<u64>,
}

/// A village as the rules saw it at a moment: folded from its own streams (its task
/// ledger and its assignments) through the domain's `evolve`, up to that moment only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VillageAsOf {
    pub village: String,
    /// The last of the village's events at or before the moment (0: none yet).
    pub position: u64,
    pub recorded_at: Option<String>,
    /// The village's events up to then.
    pub events: u64,
    /// Tasks in its ledger that were not released (withdrawn) by then.
    pub tasks_in_ledger: usize,
    pub tasks: Vec<TaskAsOf>,
}

/// Replay a village's history up to `as_of`. Reads the streams the audit trail names for
/// the village, each from the log, and keeps only events up to the moment: what an auditor
/// sees as of a date is what the rules saw then.
pub async fn village_as_of<L: xingcun_store::EventLog>(
    log: &L,
    db: &ReadDb,
    village: &str,
    as_of: AsOf,
) -> Result<VillageAsOf, StoreError> {
    use xingcun_domain::{Aggregate, Assignment, AssignmentEvent, LedgerEvent, VillageTaskLedger};
    let table = db.qualified("audit_trail");
    let limit = match as_of {
        AsOf::Position(p) => i64::try_from(p).unwrap_or(i64::MAX),
        AsOf::Time(t) => {
            let sql = format!(
                "select cast(coalesce(max(position), 0) as bigint) from {table} where region = $1 and recorded_at <= $2"
            );
            let rows = db
                .fetch(
                    &sql,
                    &[village.into(), xingcun_store::hash::format_time(&t).into()],
                )
                .await?;
            rows.first().and_then(|r| int(r, 0)).unwrap_or(0)
        }
    };
    // The clock the rules are read at (overdue): the moment asked for, or the recorded time
    // of the event at that position.
    let moment = match as_of {
        AsOf::Time(t) => t,
        AsOf::Position(p) => match p.checked_sub(1) {
            Some(before) => log
                .read_all_raw(before, 1)
                .await?
                .first()
                .map_or_else(chrono::Utc::now, |e| e.recorded_at),
            None => chrono::DateTime::<chrono::Utc>::MIN_UTC,
        },
    };
    let sql = format!(
        "select stream_id, cast(count(*) as bigint), cast(max(position) as bigint) from {table} \
         where region = $1 and position <= $2 group by stream_id order by stream_id"
    );
    let streams = db.fetch(&sql, &[village.into(), limit.into()]).await?;
    let mut ledger = VillageTaskLedger::default();
    let mut tasks = Vec::new();
    let mut events = 0;
    let mut last: Option<(u64, String)> = None;
    let decode_err = |e: serde_json::Error, position: u64| StoreError::Corrupt {
        position,
        reason: format!("does not decode as a domain event: {e}"),
    };
    for row in &streams {
        let stream = text(row, 0).unwrap_or_default();
        events += int(row, 1).unwrap_or(0) as u64;
        let Ok(id) = xingcun_store::StreamId::parse(&stream) else {
            continue;
        };
        let recorded: Vec<_> = log
            .read_stream(&id, 1)
            .await?
            .into_iter()
            .filter(|e| e.position as i64 <= limit)
            .collect();
        if let Some(e) = recorded.last()
            && last.as_ref().is_none_or(|(p, _)| e.position > *p)
        {
            last = Some((e.position, xingcun_store::hash::format_time(&e.recorded_at)));
        }
        match id.category() {
            "village" => {
                for e in &recorded {
                    let event = e
                        .payload
                        .decode::<LedgerEvent>()
                        .map_err(|err| decode_err(err, e.position))?;
                    ledger.evolve(&event);
                }
            }
            "assignment" => {
                let mut assignment = Assignment::default();
                for e in &recorded {
                    let event = e
                        .payload
                        .decode::<AssignmentEvent>()
                        .map_err(|err| decode_err(err, e.position))?;
                    assignment.evolve(&event);
                }
                if let (Some(record), Some(status)) = (assignment.record(), assignment.status()) {
                    tasks.push(TaskAsOf {
                        task: record.notice.task.to_string(),
                        title: record.notice.title.to_string(),
                        deadline: xingcun_store::hash::format_time(&record.notice.deadline),
                        status: status.title().to_owned(),
                        overdue: assignment.is_overdue(moment),
                        progress_percent: record.progress_percent,
                        rework_count: record.rework_count,
                        points_hundredths: record.points.map(|p| p.hundredths()),
                    });
                }
            }
            _ => {}
        }
    }
    tasks.sort_by(|a, b| a.deadline.cmp(&b.deadline).then(a.task.cmp(&b.task)));
    Ok(VillageAsOf {
        village: village.to_owned(),
        position: last.as_ref().map_or(0, |(p, _)| *p),
        recorded_at: last.map(|(_, t)| t),
        events,
        tasks_in_ledger: ledger.active().count(),
        tasks,
    })
}
