//! 无感留痕 — the audit trail: every event that concerns a region (a village, a town), in
//! log order, with who recorded it, when, and its place in the hash chain. One row per
//! (region, event), keyed by (region, position), so a village's history is read page by
//! page by position without scanning the log. The regions are those the domain names in
//! each event's metadata (`DomainEvent::regions`): a village's tasks, screening
//! rejections, procedure steps, bids and scores, cadres and praise.

use serde::Serialize;
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, t};
use crate::sql::{ReadDb, Stmt, int, text};

pub struct AuditTrail;

const TABLES: &[Table] = &[Table {
    name: "audit_trail",
    columns: "(region text not null, position bigint not null, stream_id text not null, \
              event_type text not null, actor text not null, recorded_at text not null, \
              prev_hash text not null, hash text not null, primary key (region, position))",
    indexes: &[],
}];

const ENTRY: &str = "insert into {audit_trail} (region, position, stream_id, event_type, actor, recorded_at, \
     prev_hash, hash) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (region, position) do nothing";

impl Projection for AuditTrail {
    fn name(&self) -> &'static str {
        "audit_trail"
    }
    fn version(&self) -> u32 {
        1
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
                    t(event.event_type.as_str()),
                    t(event.metadata.actor.as_str()),
                    t(xingcun_store::hash::format_time(&event.recorded_at)),
                    t(event.prev_hash.as_str()),
                    t(event.hash.as_str()),
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
}

/// Up to `limit` entries of a region's trail after position `after`, in log order.
pub async fn trail(
    db: &ReadDb,
    region: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<TrailEntry>, StoreError> {
    let sql = format!(
        "select position, stream_id, event_type, actor, recorded_at, prev_hash, hash from {} \
         where region = $1 and position > $2 order by position limit $3",
        db.qualified("audit_trail")
    );
    let rows = db
        .fetch(&sql, &[region.into(), after.into(), limit.into()])
        .await?;
    Ok(rows
        .iter()
        .map(|r| TrailEntry {
            position: int(r, 0).unwrap_or(0),
            stream_id: text(r, 1).unwrap_or_default(),
            event_type: text(r, 2).unwrap_or_default(),
            actor: text(r, 3).unwrap_or_default(),
            recorded_at: text(r, 4).unwrap_or_default(),
            prev_hash: text(r, 5).unwrap_or_default(),
            hash: text(r, 6).unwrap_or_default(),
        })
        .collect())
}
