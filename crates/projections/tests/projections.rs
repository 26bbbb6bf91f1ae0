//! The read models on both backends, fed by the real domain: the simulator issues real
//! commands through the executor, the runtime folds the log, and each table is compared
//! with an independent count over the log itself, and with a fresh rebuild.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use xingcun_projections::sql::Arg;
use xingcun_projections::{
    Projection, ReadDb, Runtime, audit_trail, screening_stats, village_board,
};
use xingcun_simulate::{Preset, SimConfig};
use xingcun_store::testing::{fresh_postgres_url, fresh_sqlite_url};
use xingcun_store::{EventLog, Executor, ManualClock, RecordedEvent, Store};

fn start() -> chrono::DateTime<Utc> {
    NaiveDate::from_ymd_opt(2023, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("date")
        .and_utc()
}

async fn simulate_into(store: &Store, clock: &ManualClock, years: u32) {
    let config = SimConfig {
        preset: Preset::Village,
        years,
        seed: 7,
        start: start().date_naive(),
        daily_progress: false,
    };
    xingcun_simulate::simulate(&Executor::new(store.clone()), clock, &config, |_| {})
        .await
        .expect("simulate");
}

async fn sqlite(clock: &ManualClock) -> Store {
    Store::connect(&fresh_sqlite_url(), Arc::new(clock.clone()))
        .await
        .expect("sqlite")
}

async fn postgres(clock: &ManualClock) -> Option<Store> {
    let url = fresh_postgres_url().await?;
    Some(
        Store::connect(&url, Arc::new(clock.clone()))
            .await
            .expect("postgres"),
    )
}

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let clock = ManualClock::new(start());
                $body(super::sqlite(&clock).await, clock).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let clock = ManualClock::new(start());
                if let Some(store) = super::postgres(&clock).await {
                    $body(store, clock).await;
                }
            }
        }
    };
}

async fn all_events(store: &Store) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    loop {
        let page = store
            .read_all(out.last().map_or(0, |e: &RecordedEvent| e.position), 10_000)
            .await
            .expect("read");
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Every row of every read model's view, in a stable order.
async fn snapshot(db: &ReadDb) -> BTreeMap<&'static str, Vec<Vec<Arg>>> {
    let mut out = BTreeMap::new();
    for p in xingcun_projections::all() {
        for table in p.tables() {
            let sql = format!(
                "select * from {} order by 1, 2, 3, 4",
                db.qualified(table.name)
            );
            out.insert(table.name, db.fetch(&sql, &[]).await.expect("snapshot"));
        }
    }
    out
}

fn village_of(e: &RecordedEvent) -> Option<&str> {
    e.payload
        .get("payload")
        .and_then(|p| p.get("village"))
        .and_then(|v| v.as_str())
}

/// The tables hold exactly what an independent count over the log says.
async fn read_models_match_the_log(store: Store, clock: ManualClock) {
    simulate_into(&store, &clock, 2).await;
    let runtime = Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("runtime");
    runtime.catch_up().await.expect("catch up");
    let events = all_events(&store).await;
    let db = runtime.db();

    // The board: each village's tasks and their last status, from the assignment events.
    let mut expected: BTreeMap<(String, String), &str> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.stream_id.starts_with("assignment-"))
    {
        let village = village_of(e).expect("village").to_owned();
        let task = e.payload["payload"]["task"]
            .as_str()
            .expect("task")
            .to_owned();
        let status = match e.event_type.as_str() {
            "AssignmentIssued" => "issued",
            "AssignmentSigned" => "signed",
            "AssignmentAssigned" => "assigned",
            "AssignmentProgressReported" => "in_progress",
            "AssignmentSubmitted" => "submitted",
            "AssignmentAccepted" => "accepted",
            "AssignmentReturned" => "returned",
            "AssignmentWithdrawn" => "withdrawn",
            other => panic!("unexpected {other}"),
        };
        let entry = expected.entry((village, task)).or_insert(status);
        // Assigning after signing, or a progress report after a return, is how the
        // board reads them too; the rest simply overwrite.
        *entry = match (*entry, status) {
            ("signed", "assigned") => "assigned",
            (prev, "assigned") => prev,
            ("submitted" | "accepted" | "withdrawn" | "issued", "in_progress") => *entry,
            _ => status,
        };
    }
    let villages: BTreeSet<String> = expected.keys().map(|(v, _)| v.clone()).collect();
    assert!(
        villages.len() >= 2,
        "the simulated town has villages with tasks"
    );
    let mut seen = 0;
    for village in &villages {
        let rows = village_board::board(db, village, Utc::now(), 10_000)
            .await
            .expect("board");
        for row in &rows {
            assert_eq!(
                row.village, *village,
                "only what is addressed to this village"
            );
            let want = expected[&(village.clone(), row.task.clone())];
            assert_eq!(row.status, want, "task {} in {village}", row.task);
            // Every task of a simulated 2023–2024 is past its deadline in real time now.
            assert_eq!(row.overdue, !matches!(want, "accepted" | "withdrawn"));
        }
        seen += rows.len();
    }
    assert_eq!(seen, expected.len());
    for status in ["accepted", "returned", "in_progress"] {
        assert!(
            expected.values().any(|s| *s == status)
                || events.iter().any(|e| e.event_type == "AssignmentReturned"),
            "the history holds {status} work"
        );
    }

    // Screening: every rejection counted once, and every assignment issued.
    let rejected = events
        .iter()
        .filter(|e| e.event_type == "TaskScreeningRejected")
        .count() as i64;
    let counted: i64 = screening_stats::rejections(db, None, "2000-01", "2999-12")
        .await
        .expect("rejections")
        .iter()
        .map(|r| r.rejected)
        .sum();
    assert_eq!(counted, rejected);
    assert!(
        rejected > 0,
        "the simulated history has screening rejections"
    );
    let issued = events
        .iter()
        .filter(|e| e.event_type == "AssignmentIssued")
        .count() as i64;
    let reached: i64 = screening_stats::villages_reached(db, None, "2000-01", "2999-12")
        .await
        .expect("reached")
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(reached, issued);
    let town = events
        .iter()
        .find(|e| e.event_type == "AssignmentIssued")
        .map(|e| {
            e.payload["payload"]["town"]
                .as_str()
                .expect("town")
                .to_owned()
        })
        .expect("a task reached a village");
    let in_town: i64 = screening_stats::villages_reached(db, Some(&town), "2000-01", "2999-12")
        .await
        .expect("town")
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(in_town, issued, "the village preset is one town");
    let elsewhere =
        screening_stats::villages_reached(db, Some("330100000000"), "2000-01", "2999-12")
            .await
            .expect("another city");
    assert!(elsewhere.is_empty());

    // The audit trail: a village's events, in log order, with their hashes.
    let village = villages.iter().next().expect("a village");
    let want: Vec<(i64, &str)> = events
        .iter()
        .filter(|e| e.metadata.regions.iter().any(|r| r == village))
        .map(|e| (e.position as i64, e.hash.as_str()))
        .collect();
    let mut got = Vec::new();
    let mut after = 0;
    loop {
        let page = audit_trail::trail(db, village, after, 50)
            .await
            .expect("trail");
        let Some(last) = page.last() else { break };
        after = last.position;
        got.extend(page.into_iter().map(|e| (e.position, e.hash)));
    }
    assert_eq!(
        got.iter()
            .map(|(p, h)| (*p, h.as_str()))
            .collect::<Vec<_>>(),
        want
    );
    assert!(want.len() > 10);

    let status = runtime.status().await.expect("status");
    let head = store.head_position().await.expect("head");
    for s in &status {
        assert_eq!(
            (s.state.as_str(), s.position, s.lag_events),
            ("live", head, 0),
            "{s:?}"
        );
    }
}
both!(match_the_log, read_models_match_the_log);

/// A rebuild (blue/green) gives the same rows in fresh tables, then serves them; the old
/// build's tables are dropped. An interrupted build resumes to the same rows.
async fn rebuilds_are_identical(store: Store, clock: ManualClock) {
    // Two years: screening takes effect in the second (2024), so every table has rows.
    simulate_into(&store, &clock, 2).await;
    let runtime = Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("runtime");
    runtime.catch_up().await.expect("catch up");
    let first = snapshot(runtime.db()).await;
    assert!(first.values().all(|rows| !rows.is_empty()));
    for p in runtime.projections() {
        runtime
            .catch_up_one(p.as_ref(), true, &mut |_| {})
            .await
            .expect("rebuild");
        let builds = runtime.builds(p.name()).await.expect("builds");
        assert_eq!(builds.len(), 1, "the old build is gone: {builds:?}");
        assert!(builds[0].active && builds[0].build == 2);
    }
    assert_eq!(snapshot(runtime.db()).await, first);

    // Interrupted: a fresh build stepped part of the way, the runtime dropped (as a crash
    // would), then a new runtime resumes it.
    let p = runtime.find("audit_trail").expect("audit trail");
    let build = runtime
        .build_to_write(p.as_ref(), true)
        .await
        .expect("build");
    let step = runtime.step(p.as_ref(), &build).await.expect("one batch");
    assert!(matches!(step, xingcun_projections::Step::Advanced { .. }));
    drop(runtime);
    let runtime = Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("runtime again");
    runtime
        .catch_up_one(p.as_ref(), true, &mut |_| {})
        .await
        .expect("resume");
    let builds = runtime.builds("audit_trail").await.expect("builds");
    assert_eq!(
        builds.iter().map(|b| b.build).collect::<Vec<_>>(),
        [3],
        "{builds:?}"
    );
    assert_eq!(snapshot(runtime.db()).await, first);
}
both!(rebuild_identical, rebuilds_are_identical);

/// Live: runners follow a log while it is being written, and end level with it, with the
/// rows a fresh rebuild gives.
async fn runners_follow_live_appends(store: Store, clock: ManualClock) {
    let runtime = Arc::new(
        Runtime::open(store.clone(), xingcun_projections::all())
            .await
            .expect("runtime"),
    );
    let cancel = CancellationToken::new();
    let running = tokio::spawn(runtime.clone().run(cancel.clone()));
    simulate_into(&store, &clock, 1).await;
    let head = store.head_position().await.expect("head");
    let level = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let status = runtime.status().await.expect("status");
            if status
                .iter()
                .all(|s| s.state == "live" && s.position == head)
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the runners reached the head");
    assert_eq!(level.len(), 3);
    cancel.cancel();
    running.await.expect("runners stop on cancel");
    let live = snapshot(runtime.db()).await;
    for p in runtime.projections() {
        runtime
            .catch_up_one(p.as_ref(), true, &mut |_| {})
            .await
            .expect("rebuild");
    }
    assert_eq!(snapshot(runtime.db()).await, live);
}
both!(live_follow, runners_follow_live_appends);

/// A projection that cannot apply an event stops, naming it; the others go on.
struct Fails;

impl Projection for Fails {
    fn name(&self) -> &'static str {
        "fails"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["assignment"]
    }
    fn tables(&self) -> &'static [xingcun_projections::runtime::Table] {
        &[]
    }
    fn apply(
        &self,
        event: &RecordedEvent,
        _out: &mut Vec<xingcun_projections::sql::Stmt>,
    ) -> Result<(), String> {
        if event.event_type == "AssignmentSigned" {
            return Err("this projection cannot read signatures".into());
        }
        Ok(())
    }
}

async fn a_failing_projection_stops_alone(store: Store, clock: ManualClock) {
    simulate_into(&store, &clock, 1).await;
    let mut projections = xingcun_projections::all();
    projections.insert(0, Arc::new(Fails));
    let runtime = Arc::new(
        Runtime::open(store.clone(), projections)
            .await
            .expect("runtime"),
    );
    let cancel = CancellationToken::new();
    let running = tokio::spawn(runtime.clone().run(cancel.clone()));
    let head = store.head_position().await.expect("head");
    let first_signed = all_events(&store)
        .await
        .into_iter()
        .find(|e| e.event_type == "AssignmentSigned")
        .expect("a signature")
        .position;
    let status = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let status = runtime.status().await.expect("status");
            let others_live = status
                .iter()
                .filter(|s| s.name != "fails")
                .all(|s| s.state == "live" && s.position == head);
            let failed = status
                .iter()
                .any(|s| s.name == "fails" && s.state == "failed");
            if others_live && failed {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the others reached the head while one failed");
    cancel.cancel();
    running.await.expect("stop");
    let fails = status
        .iter()
        .find(|s| s.name == "fails")
        .expect("status of fails");
    let error = fails.error.as_deref().unwrap_or_default();
    assert!(
        error.contains(&format!("event {first_signed} (AssignmentSigned)")),
        "{error}"
    );
    assert!(
        fails.position < first_signed,
        "nothing past the failing event was applied"
    );
}
both!(failure_isolated, a_failing_projection_stops_alone);

/// The auditor's replay: a village as of a past position (or time) is what its own events
/// up to then say, folded by the domain, not what it is now.
async fn a_village_replayed_as_of_a_moment(store: Store, clock: ManualClock) {
    use xingcun_projections::audit_trail::{AsOf, village_as_of};
    simulate_into(&store, &clock, 2).await;
    let runtime = Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("runtime");
    runtime.catch_up().await.expect("catch up");
    let events = all_events(&store).await;
    let village = events
        .iter()
        .find_map(|e| {
            (e.event_type == "AssignmentIssued")
                .then(|| village_of(e))
                .flatten()
        })
        .expect("a village with tasks")
        .to_owned();
    let mine: Vec<&RecordedEvent> = events
        .iter()
        .filter(|e| e.metadata.regions.contains(&village))
        .collect();
    let middle = mine[mine.len() / 2];
    let oracle = |upto: u64| -> BTreeMap<String, &'static str> {
        let mut status = BTreeMap::new();
        for e in mine
            .iter()
            .filter(|e| e.position <= upto && e.stream_id.starts_with("assignment-"))
        {
            let task = e.payload["payload"]["task"]
                .as_str()
                .expect("task")
                .to_owned();
            let s = match e.event_type.as_str() {
                "AssignmentIssued" => "待签收",
                "AssignmentSubmitted" => "已提交",
                "AssignmentAccepted" => "已验收",
                "AssignmentWithdrawn" => "已撤回",
                _ => "办理中",
            };
            status.insert(task, s);
        }
        status
    };
    for upto in [middle.position, events.last().expect("events").position] {
        let replay = village_as_of(&store, runtime.db(), &village, AsOf::Position(upto))
            .await
            .expect("replay");
        let got: BTreeMap<String, &str> = replay
            .tasks
            .iter()
            .map(|t| (t.task.clone(), t.status.as_str()))
            .collect();
        assert_eq!(got, oracle(upto), "as of position {upto}");
        let count = mine.iter().filter(|e| e.position <= upto).count() as u64;
        assert_eq!(replay.events, count);
        assert!(replay.position <= upto);
    }
    assert_ne!(
        oracle(middle.position),
        oracle(u64::MAX),
        "the village changed since"
    );
    let by_time = village_as_of(
        &store,
        runtime.db(),
        &village,
        AsOf::Time(middle.recorded_at),
    )
    .await
    .expect("replay by time");
    let by_position = village_as_of(
        &store,
        runtime.db(),
        &village,
        AsOf::Position(by_time.position),
    )
    .await
    .expect("replay by position");
    assert!(by_time.position >= middle.position);
    assert_eq!(by_time.tasks, by_position.tasks);
    let before_anything = village_as_of(&store, runtime.db(), &village, AsOf::Position(0))
        .await
        .expect("replay at 0");
    assert!(before_anything.tasks.is_empty() && before_anything.events == 0);
}
both!(as_of_replay, a_village_replayed_as_of_a_moment);
