//! The dispatch fan-out (派发到村): a process manager that follows the `task` category of
//! the log and, after each `TaskDispatched`, registers the task in every village's ledger
//! (`village-{code}`, the 多头派单 check) and opens the village's assignment
//! (`assignment-{task}-{village}`); after each `TaskWithdrawn`, it withdraws the villages'
//! assignments and releases their ledgers.
//!
//! - Its checkpoint (the last `task` event handled) is kept in the read database
//!   (`fanout_checkpoint`), moved only after every command of an event has been done.
//! - Every command carries a command id derived from the event's id, the village and the
//!   step (UUID v5), so a crash between commands re-runs them on restart and the store
//!   answers the ones already done as duplicates: nothing is doubled.
//! - A command the domain refuses because it is already done (an assignment already
//!   issued, a history written by the simulator, which fans out itself) is skipped; any
//!   other refusal is logged with the event's position and skipped, so one bad event never
//!   stalls every village's board.
//! - A store failure (database unreachable) is retried every second without moving the
//!   checkpoint.
//! - It acts as the dispatcher: the person who dispatched (or withdrew), as town staff of
//!   the task's town.
//!
//! Several servers on one PostgreSQL may all run it: the command ids make their work
//! idempotent (the loser of a race gets the winner's result as a duplicate).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use xingcun_domain::assignment::AssignmentStatus;
use xingcun_domain::{
    Actor, Assignment, AssignmentCommand, AssignmentId, LedgerCommand, RegionId, Role, TaskEvent,
    VillageTaskLedger,
};
use xingcun_projections::sql::{Arg, ReadDb};
use xingcun_store::{
    CommandMeta, EventLog, ExecuteError, Executor, RecordedEvent, Store, StoreError,
};

const NAME: &str = "dispatch_fanout";
const BATCH: u32 = 500;
/// Namespace of the fan-out's command ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_3b2e_9a4d_4c7e_8b15_2d0f_a7e3_c9b1);

/// The fan-out's command id for one step of one event.
pub fn command_id(event: Uuid, step: &str, village: &RegionId) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{event}/{step}/{village}").as_bytes())
}

async fn ensure_table(db: &ReadDb) -> Result<(), StoreError> {
    db.execute(
        &format!(
            "create table if not exists {} (name text primary key, position bigint not null)",
            db.qualified("fanout_checkpoint")
        ),
        &[],
    )
    .await?;
    Ok(())
}

/// The fan-out's checkpoint.
pub async fn checkpoint(db: &ReadDb) -> Result<u64, StoreError> {
    ensure_table(db).await?;
    let rows = db
        .fetch(
            &format!(
                "select position from {} where name = $1",
                db.qualified("fanout_checkpoint")
            ),
            &[NAME.into()],
        )
        .await?;
    Ok(rows
        .first()
        .and_then(|r| xingcun_projections::sql::int(r, 0))
        .map_or(0, |p| p.max(0) as u64))
}

async fn save(db: &ReadDb, position: u64) -> Result<(), StoreError> {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    db.execute(
        &format!(
            "insert into {} (name, position) values ($1, $2) on conflict (name) do update set position = excluded.position",
            db.qualified("fanout_checkpoint")
        ),
        &[NAME.into(), Arg::Int(position)],
    )
    .await?;
    Ok(())
}

/// The person who dispatched or withdrew, in the role they hold in the town now (the
/// directory), or as town staff when the directory does not know them in that town.
async fn acting_as(
    db: &ReadDb,
    person: &xingcun_domain::PersonId,
    town: &RegionId,
) -> Result<Actor, StoreError> {
    let role = match xingcun_projections::directory::person(db, person.as_str()).await? {
        Some(p) if p.active && p.scope == town.as_str() => p.role,
        _ => Role::TownOfficeStaff,
    };
    Ok(Actor {
        id: person.clone(),
        role,
        scope: town.clone(),
    })
}

/// Whether a refusal means "already done".
fn already_done(code: &str) -> bool {
    code == "CONFLICT"
}

async fn on_ledger(
    ex: &Executor<Store>,
    event: &RecordedEvent,
    actor: &Actor,
    step: &str,
    village: &RegionId,
    command: LedgerCommand,
) -> Result<(), ExecuteError> {
    let meta = CommandMeta {
        command_id: Some(command_id(event.event_id, step, village)),
        causation_id: Some(event.event_id),
        correlation_id: event.metadata.correlation_id,
    };
    if let Err(refused) = ex
        .execute::<VillageTaskLedger>(village.as_str(), command, actor, meta)
        .await?
    {
        skip(event, step, village, &refused);
    }
    Ok(())
}

async fn on_assignment(
    ex: &Executor<Store>,
    event: &RecordedEvent,
    actor: &Actor,
    step: &str,
    id: &AssignmentId,
    command: AssignmentCommand,
) -> Result<(), ExecuteError> {
    let meta = CommandMeta {
        command_id: Some(command_id(event.event_id, step, &id.village)),
        causation_id: Some(event.event_id),
        correlation_id: event.metadata.correlation_id,
    };
    if let Err(refused) = ex
        .execute::<Assignment>(&id.to_string(), command, actor, meta)
        .await?
    {
        skip(event, step, &id.village, &refused);
    }
    Ok(())
}

fn skip(
    event: &RecordedEvent,
    step: &str,
    village: &RegionId,
    refused: &dyn xingcun_domain::Rejection,
) {
    if already_done(refused.code()) {
        tracing::debug!(position = event.position, step, %village, "fan-out step already done");
    } else {
        tracing::warn!(
            position = event.position,
            event_type = %event.event_type,
            step,
            %village,
            code = refused.code(),
            reason = %refused,
            "fan-out step refused by the domain; skipped"
        );
    }
}

/// Do the fan-out one `task` event calls for.
pub async fn handle(
    ex: &Executor<Store>,
    db: &ReadDb,
    event: &RecordedEvent,
) -> Result<(), ExecuteError> {
    if event.event_type != "TaskDispatched" && event.event_type != "TaskWithdrawn" {
        return Ok(());
    }
    let task: TaskEvent = match event.payload.decode::<TaskEvent>() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(position = event.position, error = %e, "fan-out: undecodable task event; skipped");
            return Ok(());
        }
    };
    match task {
        TaskEvent::TaskDispatched(dispatch) => {
            let actor = acting_as(db, &dispatch.dispatched_by, &dispatch.town).await?;
            let ledgers = dispatch.ledger_commands();
            let assignments = dispatch.assignment_commands();
            for ((village, register), (id, issue)) in ledgers.into_iter().zip(assignments) {
                // The ledger entry is always made before the assignment (here and in the
                // simulator): an assignment already issued means both are done, and one
                // read of a short stream saves the rest (a server's first start over a
                // simulated city re-checks every dispatch in the log).
                let (assignment, _) = ex.load::<Assignment>(&id.to_string()).await?;
                if assignment.status().is_some() {
                    continue;
                }
                on_ledger(ex, event, &actor, "register", &village, register).await?;
                on_assignment(ex, event, &actor, "issue", &id, issue).await?;
            }
        }
        TaskEvent::TaskWithdrawn(withdrawal) => {
            // Withdrawing a village's work is the leader's (or the party secretary's) act:
            // the fan-out acts in the role the withdrawer holds.
            let actor = acting_as(db, &withdrawal.withdrawn_by, &withdrawal.town).await?;
            for (id, command) in withdrawal.assignment_commands() {
                let (assignment, _) = ex.load::<Assignment>(&id.to_string()).await?;
                if matches!(
                    assignment.status(),
                    Some(AssignmentStatus::Withdrawn | AssignmentStatus::Accepted)
                ) {
                    continue;
                }
                on_assignment(ex, event, &actor, "withdraw", &id, command).await?;
            }
            for (village, command) in withdrawal.ledger_commands() {
                on_ledger(ex, event, &actor, "release", &village, command).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One pass: handle every `task` event after the checkpoint. Returns the events handled.
pub async fn catch_up(ex: &Executor<Store>, db: &ReadDb) -> Result<usize, ExecuteError> {
    let mut after = checkpoint(db).await?;
    let mut handled = 0;
    loop {
        let events = ex.log().read_category("task", after, BATCH).await?;
        if events.is_empty() {
            return Ok(handled);
        }
        for event in &events {
            handle(ex, db, event).await?;
            after = event.position;
            handled += 1;
            if matches!(
                event.event_type.as_str(),
                "TaskDispatched" | "TaskWithdrawn"
            ) {
                save(db, after).await?;
            }
        }
        save(db, after).await?;
    }
}

/// Follow the log until `cancel`: catch up, then wake on every append.
pub async fn run(ex: Executor<Store>, db: ReadDb, cancel: CancellationToken) {
    let mut head = ex.log().watch_head();
    loop {
        match catch_up(&ex, &db).await {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "fan-out paused; retrying in 1 s");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = head.changed() => if changed.is_err() { return },
            // Also poll: another process's append on SQLite is seen by the watcher, but a
            // wake lost to a race costs at most this.
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
