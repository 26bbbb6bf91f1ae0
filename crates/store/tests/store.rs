//! The store's required properties, each proven on both backends from one test body.
//!
//! `both!(name, body)` defines `sqlite::name` and `postgres::name`; the PostgreSQL one
//! skips with a notice unless `XINGCUN_TEST_PG_URL` is set (and fails when
//! `XINGCUN_REQUIRE_PG=1`, as in CI).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use xingcun_domain::{Actor, Aggregate, CommandContext, DomainEvent, Rejection};
use xingcun_store::testing::{TempPath, TestDatabase, fresh_postgres, fresh_sqlite};
use xingcun_store::{
    AppendRequest, Clock, CommandMeta, EventLog, EventMetadata, ExecuteError, Executor,
    ExpectedVersion, ManualClock, NewEvent, PostgresStore, SqliteStore, Store, StoreError,
    StreamId, Tamper, Upcasters, subscribe, verify,
};

fn clock() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0)
            .single()
            .expect("valid time"),
    )
}

/// A store on a fresh SQLite file, and the guard that deletes the file: keep it alive.
async fn sqlite_store(clock: &ManualClock) -> (Store, TestDatabase) {
    let db = fresh_sqlite();
    let store = Store::connect(db.url(), Arc::new(clock.clone()))
        .await
        .expect("sqlite store");
    (store, db)
}

/// A store on a fresh PostgreSQL database, and the guard that drops it: keep it alive.
async fn postgres_store(clock: &ManualClock) -> Option<(Store, TestDatabase)> {
    let db = fresh_postgres().await?;
    let store = Store::connect(db.url(), Arc::new(clock.clone()))
        .await
        .expect("postgres store");
    Some((store, db))
}

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let clock = clock();
                let (store, _db) = sqlite_store(&clock).await;
                $body(store, clock).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let clock = clock();
                if let Some((store, _db)) = postgres_store(&clock).await {
                    $body(store, clock).await;
                }
            }
        }
    };
}

fn stream(s: &str) -> StreamId {
    StreamId::parse(s).expect("valid stream id")
}

fn event(kind: &str, n: i64) -> NewEvent {
    NewEvent::new(
        kind,
        1,
        json!({ "n": n, "village": "330681104201", "note": "枫源村" }),
    )
}

fn request(s: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        stream_id: stream(s),
        expected_version: expected,
        events,
        metadata: EventMetadata {
            actor: "tester".into(),
            ..Default::default()
        },
    }
}

// ---------------------------------------------------------------- append and read

async fn appends_and_reads(store: Store, _clock: ManualClock) {
    let a = store
        .append(request(
            "task-1",
            ExpectedVersion::Exact(0),
            vec![event("TaskDrafted", 1), event("TaskApproved", 2)],
        ))
        .await
        .expect("first append");
    assert_eq!(
        (a.stream_version, a.positions.clone(), a.duplicate),
        (2, vec![1, 2], false)
    );
    let b = store
        .append(request(
            "village-330681104201",
            ExpectedVersion::Exact(0),
            vec![event("TaskReceived", 3)],
        ))
        .await
        .expect("second stream");
    assert_eq!(b.positions, vec![3]);
    store
        .append(request(
            "task-1",
            ExpectedVersion::Exact(2),
            vec![event("TaskDispatched", 4)],
        ))
        .await
        .expect("third append");

    let task = store
        .read_stream(&stream("task-1"), 1)
        .await
        .expect("read stream");
    assert_eq!(
        task.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        task.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert_eq!(task[2].event_type, "TaskDispatched");
    assert_eq!(task[0].payload["note"], "枫源村");
    let tail = store
        .read_stream(&stream("task-1"), 3)
        .await
        .expect("read from version");
    assert_eq!(tail.len(), 1);

    let all = store.read_all(0, 100).await.expect("read all");
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let page = store.read_all(1, 2).await.expect("page");
    assert_eq!(
        page.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![2, 3]
    );

    let tasks = store.read_category("task", 0, 100).await.expect("category");
    assert_eq!(
        tasks.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    let villages = store
        .read_category("village", 0, 100)
        .await
        .expect("category");
    assert_eq!(villages.len(), 1);
    assert!(
        store
            .read_stream(&stream("task-none"), 1)
            .await
            .expect("empty")
            .is_empty()
    );
    assert_eq!(store.head_position().await.expect("head"), 4);
}
both!(append_and_read, appends_and_reads);

// ---------------------------------------------------------------- optimistic concurrency

async fn exactly_one_writer_wins(store: Store, _clock: ManualClock) {
    let writers = 16;
    let mut handles = Vec::new();
    for i in 0..writers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .append(request(
                    "procedure-p1",
                    ExpectedVersion::Exact(0),
                    vec![event("ProcedureStarted", i)],
                ))
                .await
        }));
    }
    let mut wins = 0;
    let mut conflicts = 0;
    for h in handles {
        match h.await.expect("join") {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict {
                stream_id,
                expected,
                actual,
            }) => {
                assert_eq!(
                    (stream_id.as_str(), expected, actual),
                    ("procedure-p1", 0, 1)
                );
                conflicts += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((wins, conflicts), (1, writers - 1));
    assert_eq!(
        store
            .read_stream(&stream("procedure-p1"), 1)
            .await
            .expect("read")
            .len(),
        1
    );
}
both!(optimistic_concurrency, exactly_one_writer_wins);

// ---------------------------------------------------------------- idempotency

async fn retries_append_nothing(store: Store, _clock: ManualClock) {
    let events = vec![event("BidSubmitted", 1), event("BidRevised", 2)];
    let first = store
        .append(request("listing-l1", ExpectedVersion::Any, events.clone()))
        .await
        .expect("first");
    let again = store
        .append(request("listing-l1", ExpectedVersion::Any, events))
        .await
        .expect("retry");
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);

    let command_id = Uuid::new_v4();
    let mut with_command = request(
        "listing-l2",
        ExpectedVersion::Exact(0),
        vec![event("ListingPosted", 1)],
    );
    with_command.metadata.command_id = Some(command_id);
    let first = store.append(with_command.clone()).await.expect("command");
    // A re-sent command gets new event ids from a careless client: the command id still wins.
    with_command.events = vec![event("ListingPosted", 1)];
    let again = store.append(with_command).await.expect("command retry");
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);
    assert_eq!(
        store
            .find_command(command_id)
            .await
            .expect("find")
            .map(|o| o.outcome.positions),
        Some(first.positions)
    );
    assert_eq!(store.head_position().await.expect("head"), 3);
}
both!(idempotency, retries_append_nothing);

// ---------------------------------------------------------------- readers never miss an event

async fn followers_see_every_position(store: Store, _clock: ManualClock) {
    let cancel = CancellationToken::new();
    let follower = tokio::spawn(
        subscribe(store.clone(), 0, cancel.clone())
            .take(400)
            .collect::<Vec<_>>(),
    );
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                let s = format!("assignment-w{w}");
                let events = vec![event("TaskSigned", i), event("TaskProgressReported", i)];
                store
                    .append(request(&s, ExpectedVersion::Any, events))
                    .await
                    .expect("append");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let seen = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("follower finished")
        .expect("join");
    let positions: Vec<u64> = seen
        .into_iter()
        .map(|e| e.expect("event").position)
        .collect();
    assert_eq!(positions, (1..=400).collect::<Vec<_>>());
    cancel.cancel();
}
both!(no_missed_events, followers_see_every_position);

/// PostgreSQL's sequence-gap problem, made deterministic: writer A holds its transaction
/// open, writer B tries to commit, the reader reads, A commits, the reader reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reader_never_skips_an_uncommitted_append() {
    let Some(pg_db) = fresh_postgres().await else {
        return;
    };
    let url = pg_db.url().to_owned();
    let clock = clock();
    let store = PostgresStore::connect(&url, Arc::new(clock.clone()))
        .await
        .expect("store");
    store
        .append(request(
            "task-0",
            ExpectedVersion::Any,
            vec![event("TaskDrafted", 0)],
        ))
        .await
        .expect("seed");

    let held = store
        .begin_held_append(request(
            "task-a",
            ExpectedVersion::Any,
            vec![event("TaskDrafted", 1)],
        ))
        .await
        .expect("A");
    let b_store = store.clone();
    let b = tokio::spawn(async move {
        b_store
            .append(request(
                "task-b",
                ExpectedVersion::Any,
                vec![event("TaskDrafted", 2)],
            ))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = store.read_all(1, 100).await.expect("read while A is open");
    assert!(
        seen.is_empty(),
        "reader saw {:?} while A was uncommitted",
        seen.iter().map(|e| e.position).collect::<Vec<_>>()
    );
    assert!(
        !b.is_finished(),
        "B must queue behind A, not commit past it"
    );

    held.commit().await.expect("A commits");
    let b = b.await.expect("join").expect("B commits");
    let seen = store.read_all(1, 100).await.expect("read after");
    let order: Vec<(&str, u64)> = seen
        .iter()
        .map(|e| (e.stream_id.as_str(), e.position))
        .collect();
    assert_eq!(order, vec![("task-a", 2), ("task-b", 3)]);
    assert_eq!(b.positions, vec![3]);
    assert!(verify(&store).await.expect("verify").is_intact());
}

// ---------------------------------------------------------------- live subscription

async fn subscription_catches_up_then_follows(store: Store, _clock: ManualClock) {
    store
        .append(request(
            "task-1",
            ExpectedVersion::Any,
            vec![event("TaskDrafted", 1)],
        ))
        .await
        .expect("append");
    let cancel = CancellationToken::new();
    let mut sub = Box::pin(subscribe(store.clone(), 0, cancel.clone()));
    let first = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("caught up")
        .expect("item");
    assert_eq!(first.expect("event").position, 1);
    let writer = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer
            .append(request(
                "task-2",
                ExpectedVersion::Any,
                vec![event("TaskDrafted", 2)],
            ))
            .await
            .expect("append");
    });
    let live = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("live")
        .expect("item");
    assert_eq!(live.expect("event").stream_id, "task-2");
    cancel.cancel();
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("ends on cancel");
    assert!(end.is_none());
}
both!(subscription, subscription_catches_up_then_follows);

/// Two server processes against one primary: an append in one wakes a subscriber in the
/// other through LISTEN/NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_reaches_other_instances() {
    let Some(pg_db) = fresh_postgres().await else {
        return;
    };
    let url = pg_db.url().to_owned();
    let one = PostgresStore::connect(&url, Arc::new(clock()))
        .await
        .expect("instance one");
    let two = PostgresStore::connect(&url, Arc::new(clock()))
        .await
        .expect("instance two");
    let mut head = two.watch_head();
    one.append(request(
        "task-x",
        ExpectedVersion::Any,
        vec![event("TaskDrafted", 1)],
    ))
    .await
    .expect("append");
    tokio::time::timeout(Duration::from_secs(1), head.wait_for(|h| *h >= 1))
        .await
        .expect("notified well before the fallback poll")
        .expect("watch open");
}

// ---------------------------------------------------------------- metadata and clock

async fn metadata_and_store_clock(store: Store, clock: ManualClock) {
    let at = Utc
        .with_ymd_and_hms(2024, 6, 1, 2, 3, 4)
        .single()
        .expect("time");
    clock.set(at);
    let (correlation, causation, command) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut req = request(
        "task-m",
        ExpectedVersion::Exact(0),
        vec![event("TaskDrafted", 1)],
    );
    req.metadata = EventMetadata {
        actor: "cadre-7".into(),
        correlation_id: Some(correlation),
        causation_id: Some(causation),
        command_id: Some(command),
        regions: vec!["330681104201".into()],
    };
    store.append(req.clone()).await.expect("append");
    let e = &store.read_all(0, 1).await.expect("read")[0];
    assert_eq!(e.metadata, req.metadata);
    assert_eq!(e.recorded_at, at);
    // A clock that runs backwards never reorders recorded time.
    clock.set(at - chrono::Duration::hours(1));
    store
        .append(request(
            "task-m",
            ExpectedVersion::Exact(1),
            vec![event("TaskApproved", 2)],
        ))
        .await
        .expect("append");
    assert_eq!(store.read_all(1, 1).await.expect("read")[0].recorded_at, at);
}
both!(metadata, metadata_and_store_clock);

// ---------------------------------------------------------------- tamper evidence

async fn seed_five(store: &Store) {
    for i in 1..=5 {
        store
            .append(request(
                &format!("task-{i}"),
                ExpectedVersion::Exact(0),
                vec![event("TaskDrafted", i)],
            ))
            .await
            .expect("seed");
    }
}

/// Run `statements` behind the store's back, with the append-only guard lifted as a
/// superuser would.
async fn tamper(store: &Store, statements: &[&'static str]) {
    match store {
        Store::Sqlite(s) => {
            let mut tx = s.pool().begin().await.expect("tx");
            sqlx::query("drop trigger if exists events_no_update")
                .execute(&mut *tx)
                .await
                .expect("drop");
            sqlx::query("drop trigger if exists events_no_delete")
                .execute(&mut *tx)
                .await
                .expect("drop");
            for sql in statements {
                sqlx::query(*sql).execute(&mut *tx).await.expect("tamper");
            }
            tx.commit().await.expect("commit");
        }
        Store::Postgres(s) => {
            let mut tx = s.pool().begin().await.expect("tx");
            sqlx::query("alter table events disable trigger user")
                .execute(&mut *tx)
                .await
                .expect("disable");
            for sql in statements {
                sqlx::query(*sql).execute(&mut *tx).await.expect("tamper");
            }
            sqlx::query("alter table events enable trigger user")
                .execute(&mut *tx)
                .await
                .expect("enable");
            tx.commit().await.expect("commit");
        }
    }
}

async fn the_log_refuses_update_and_delete(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    let (update, delete) = match &store {
        Store::Sqlite(s) => (
            sqlx::query("update events set payload = '{}' where position = 2")
                .execute(s.pool())
                .await
                .map(|_| ()),
            sqlx::query("delete from events where position = 2")
                .execute(s.pool())
                .await
                .map(|_| ()),
        ),
        Store::Postgres(s) => (
            sqlx::query("update events set payload = '{}' where position = 2")
                .execute(s.pool())
                .await
                .map(|_| ()),
            sqlx::query("delete from events where position = 2")
                .execute(s.pool())
                .await
                .map(|_| ()),
        ),
    };
    for result in [update, delete] {
        let err = result.expect_err("the trigger refuses");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let report = verify(&store).await.expect("verify");
    assert!(report.is_intact());
    assert_eq!((report.events, report.head_position), (5, 5));
}
both!(append_only_guard, the_log_refuses_update_and_delete);

async fn verify_names_an_altered_event(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    let sql = match &store {
        Store::Sqlite(_) => {
            "update events set payload = json_set(payload, '$.n', 99) where position = 3"
        }
        Store::Postgres(_) => {
            "update events set payload = jsonb_set(payload, '{n}', '99') where position = 3"
        }
    };
    tamper(&store, &[sql]).await;
    assert_eq!(
        verify(&store).await.expect("verify").first_problem,
        Some(Tamper::Altered { position: 3 })
    );
}
both!(verify_altered, verify_names_an_altered_event);

async fn verify_names_a_deleted_event(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    tamper(&store, &["delete from events where position = 3"]).await;
    assert_eq!(
        verify(&store).await.expect("verify").first_problem,
        Some(Tamper::Deleted { position: 3 })
    );
}
both!(verify_deleted, verify_names_a_deleted_event);

async fn verify_names_a_deleted_and_renumbered_event(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    tamper(
        &store,
        &[
            "delete from events where position = 3",
            "update events set position = 3 where position = 4",
            "update events set position = 4 where position = 5",
        ],
    )
    .await;
    assert_eq!(
        verify(&store).await.expect("verify").first_problem,
        Some(Tamper::BrokenLink { position: 3 })
    );
}
both!(
    verify_deleted_renumbered,
    verify_names_a_deleted_and_renumbered_event
);

async fn verify_names_an_inserted_event(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    // Make room at position 3 and forge a self-consistent event there: a copy of event 3
    // with a new id, chained to event 2 with a correctly computed hash.
    let forge = store.read_all(0, 5).await.expect("read");
    let mut forged = forge[2].clone();
    forged.event_id = Uuid::new_v4();
    forged.payload = json!({"n": 42, "forged": true}).into();
    forged.hash = xingcun_store::hash::chain_hash(
        &forged.prev_hash,
        &xingcun_store::hash::HashInput {
            stream_id: &forged.stream_id,
            stream_version: 2,
            event_id: forged.event_id,
            event_type: &forged.event_type,
            schema_version: forged.schema_version,
            payload: &forged.payload,
            metadata: &forged.metadata,
            recorded_at: &forged.recorded_at,
        },
    );
    let shift: [&'static str; 3] = [
        "update events set position = 6 where position = 5",
        "update events set position = 5 where position = 4",
        "update events set position = 4 where position = 3",
    ];
    tamper(&store, &shift).await;
    let recorded_at = xingcun_store::hash::format_time(&forged.recorded_at);
    match &store {
        Store::Sqlite(s) => {
            sqlx::query(
                "insert into events (position, stream_id, category, stream_version, event_id, event_type, schema_version, \
                 payload, metadata, recorded_at, prev_hash, hash) values (3, ?, 'task', 2, ?, ?, 1, ?, ?, ?, ?, ?)",
            )
            .bind(&forged.stream_id)
            .bind(forged.event_id.to_string())
            .bind(&forged.event_type)
            .bind(forged.payload.to_string())
            .bind(serde_json::to_string(&forged.metadata).expect("json"))
            .bind(&recorded_at)
            .bind(&forged.prev_hash)
            .bind(&forged.hash)
            .execute(s.pool())
            .await
            .expect("insert");
        }
        Store::Postgres(s) => {
            sqlx::query(
                "insert into events (position, stream_id, category, stream_version, event_id, event_type, schema_version, \
                 payload, metadata, recorded_at, prev_hash, hash) \
                 values (3, $1, 'task', 2, $2, $3, 1, $4, $5, $6::timestamptz, $7, $8)",
            )
            .bind(&forged.stream_id)
            .bind(forged.event_id)
            .bind(&forged.event_type)
            .bind(forged.payload.value())
            .bind(serde_json::to_value(&forged.metadata).expect("json"))
            .bind(&recorded_at)
            .bind(&forged.prev_hash)
            .bind(&forged.hash)
            .execute(s.pool())
            .await
            .expect("insert");
        }
    }
    assert_eq!(
        verify(&store).await.expect("verify").first_problem,
        Some(Tamper::Inserted { position: 3 })
    );
}
both!(verify_inserted, verify_names_an_inserted_event);

/// The chain covers a canonical form: the same events hash identically on both backends,
/// whatever key order or whitespace the payload arrived with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_are_identical_across_backends() {
    let Some(pg_db) = fresh_postgres().await else {
        return;
    };
    let pg_url = pg_db.url().to_owned();
    let clock = clock();
    let sqlite_db = fresh_sqlite();
    let sqlite = Store::connect(sqlite_db.url(), Arc::new(clock.clone()))
        .await
        .expect("sqlite");
    let postgres = Store::connect(&pg_url, Arc::new(clock.clone()))
        .await
        .expect("postgres");
    let payload: serde_json::Value = serde_json::from_str(
        r#"{ "z": 1, "a": {"y": [1, 2, {"k": "棠村"}], "b": 0.5}, "m": null,
             "numbers": [-0.0, 1e16, 1E30, 4.50, 2e-3, 333333333.33333329, 1.7976931348623157e308] }"#,
    )
    .expect("json");
    let events: Vec<NewEvent> = (0..3)
        .map(|i| NewEvent {
            event_id: Uuid::from_u128(i + 1),
            event_type: "ListingPosted".into(),
            schema_version: 1,
            payload: payload.clone(),
        })
        .collect();
    for store in [&sqlite, &postgres] {
        store
            .append(request(
                "listing-1",
                ExpectedVersion::Exact(0),
                events.clone(),
            ))
            .await
            .expect("append");
    }
    let a = sqlite.read_all_raw(0, 10).await.expect("read");
    let b = postgres.read_all_raw(0, 10).await.expect("read");
    assert_eq!(
        a.iter().map(|e| &e.hash).collect::<Vec<_>>(),
        b.iter().map(|e| &e.hash).collect::<Vec<_>>()
    );
    assert!(
        verify(&sqlite).await.expect("v").is_intact()
            && verify(&postgres).await.expect("v").is_intact()
    );
    // PostgreSQL respells the numbers; the exports are still byte for byte the same.
    let export = |store: Store| async move {
        let mut out = Vec::new();
        xingcun_store::transfer::export_jsonl(&store, &mut out, None)
            .await
            .expect("export");
        out
    };
    assert_eq!(export(sqlite).await, export(postgres).await);
}

// ---------------------------------------------------------------- schema evolution

async fn old_events_are_upcast_on_read(store: Store, clock: ManualClock) {
    // Version 1 of TaskDrafted had `score` as a string; version 2 has `score` as a number and
    // a `source` that defaults to 镇级任务 for old tasks.
    store
        .append(request(
            "task-old",
            ExpectedVersion::Exact(0),
            vec![NewEvent::new(
                "TaskDrafted",
                1,
                json!({"title": "清理河道", "score": "5"}),
            )],
        ))
        .await
        .expect("append v1");
    let upcasters = Upcasters::new().register("TaskDrafted", 1, |mut v| {
        let score = v["score"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        v["score"] = json!(score);
        v["source"] = json!("own");
        v
    });
    let upcast_store = match store {
        Store::Sqlite(s) => Store::Sqlite(s.with_upcasters(upcasters)),
        Store::Postgres(p) => Store::Postgres(p.with_upcasters(upcasters)),
    };
    let read = upcast_store
        .read_stream(&stream("task-old"), 1)
        .await
        .expect("read");
    assert_eq!(read[0].schema_version, 2);
    assert_eq!(
        read[0].payload,
        json!({"title": "清理河道", "score": 5, "source": "own"})
    );
    let raw = upcast_store.read_all_raw(0, 1).await.expect("raw");
    assert_eq!(
        (raw[0].schema_version, raw[0].payload["score"].clone()),
        (1, json!("5"))
    );
    assert!(
        verify(&upcast_store).await.expect("verify").is_intact(),
        "upcasting never touches the chain"
    );
    let _ = clock;
}
both!(upcasting, old_events_are_upcast_on_read);

// ---------------------------------------------------------------- bad input

async fn bad_input_is_refused_and_changes_nothing(store: Store, _clock: ManualClock) {
    for bad in [
        "",
        "task",
        "-1",
        "Task-1",
        "task-",
        "task-has space",
        "任务-1",
    ] {
        assert!(
            matches!(
                StreamId::parse(bad),
                Err(StoreError::InvalidStreamId { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ExpectedVersion::from_i64(-1),
        Err(StoreError::InvalidInput(_))
    ));
    let empty = request("task-1", ExpectedVersion::Any, vec![]);
    assert!(matches!(
        store.append(empty).await,
        Err(StoreError::InvalidInput(_))
    ));
    let nul = request(
        "task-1",
        ExpectedVersion::Any,
        vec![NewEvent::new("TaskDrafted", 1, json!({"t": "a\u{0}b"}))],
    );
    assert!(matches!(
        store.append(nul).await,
        Err(StoreError::InvalidInput(_))
    ));
    let dup_id = NewEvent::new("TaskDrafted", 1, json!({}));
    let dup = request("task-1", ExpectedVersion::Any, vec![dup_id.clone(), dup_id]);
    assert!(matches!(
        store.append(dup).await,
        Err(StoreError::InvalidInput(_))
    ));
    let v0 = request(
        "task-1",
        ExpectedVersion::Any,
        vec![NewEvent::new("TaskDrafted", 0, json!({}))],
    );
    assert!(matches!(
        store.append(v0).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(store.head_position().await.expect("head"), 0);
}
both!(bad_input, bad_input_is_refused_and_changes_nothing);

#[tokio::test]
async fn unreachable_database_names_the_url_without_its_password() {
    let err = Store::connect(
        "postgres://cadre:s3cret@127.0.0.1:1/xingcun",
        Arc::new(clock()),
    )
    .await
    .err()
    .expect("no server listens on port 1");
    let message = err.to_string();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{message}");
    assert!(
        message.contains("postgres://cadre:***@127.0.0.1:1/xingcun") && !message.contains("s3cret"),
        "{message}"
    );
    assert!(matches!(
        Store::connect("mysql://x/y", Arc::new(clock())).await,
        Err(StoreError::UnsupportedUrl(_))
    ));
    let dir = std::env::temp_dir().join(format!("xingcun-no-such-dir-{}", Uuid::new_v4().simple()));
    let err = Store::connect(
        &format!("sqlite://{}/x.db", dir.display()),
        Arc::new(clock()),
    )
    .await
    .err()
    .expect("fails");
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err}");
}

// ---------------------------------------------------------------- the command executor

/// A small aggregate for the executor: a counter that refuses to pass a ceiling.
#[derive(Default, Clone)]
struct Tally {
    count: u32,
}

#[derive(Clone)]
enum TallyCommand {
    Add(u32),
    Nothing,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum TallyEvent {
    Added { by: u32 },
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> &'static str {
        "Added"
    }
}

#[derive(Debug, thiserror::Error)]
enum TallyError {
    #[error("超过上限")]
    OverCeiling,
}

impl Rejection for TallyError {
    fn code(&self) -> &'static str {
        "RULE_VIOLATION"
    }
}

impl Aggregate for Tally {
    const CATEGORY: &'static str = "tally";
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = TallyError;

    fn decide(
        &self,
        command: TallyCommand,
        _ctx: &CommandContext<'_>,
    ) -> Result<Vec<TallyEvent>, TallyError> {
        match command {
            TallyCommand::Add(by) if self.count + by > 1_000 => Err(TallyError::OverCeiling),
            TallyCommand::Add(by) => Ok(vec![TallyEvent::Added { by }]),
            TallyCommand::Nothing => Ok(vec![]),
        }
    }

    fn evolve(&mut self, event: &TallyEvent) {
        let TallyEvent::Added { by } = event;
        self.count += by;
    }
}

async fn executor_decides_appends_and_retries(store: Store, _clock: ManualClock) {
    let executor = Executor::new(store.clone()).with_max_attempts(64);
    let actor = Actor::system();
    let done = executor
        .execute::<Tally>("t1", TallyCommand::Add(5), &actor, CommandMeta::default())
        .await;
    let done = done.expect("machinery").expect("accepted");
    assert_eq!(
        (done.stream_id.as_str(), done.stream_version),
        ("tally-t1", 1)
    );
    let refused = executor
        .execute::<Tally>(
            "t1",
            TallyCommand::Add(10_000),
            &actor,
            CommandMeta::default(),
        )
        .await;
    assert!(matches!(refused, Ok(Err(TallyError::OverCeiling))));
    let nothing = executor
        .execute::<Tally>("t1", TallyCommand::Nothing, &actor, CommandMeta::default())
        .await;
    assert!(nothing.expect("ok").expect("ok").positions.is_empty());

    // 12 concurrent commands on one stream: conflicts are retried, none is lost.
    let mut handles = Vec::new();
    for _ in 0..12 {
        let executor = executor.clone();
        handles.push(tokio::spawn(async move {
            executor
                .execute::<Tally>(
                    "t1",
                    TallyCommand::Add(1),
                    &Actor::system(),
                    CommandMeta::default(),
                )
                .await
        }));
    }
    for h in handles {
        h.await
            .expect("join")
            .expect("machinery")
            .expect("accepted");
    }
    let (state, version) = executor.load::<Tally>("t1").await.expect("load");
    assert_eq!((state.count, version), (17, 13));

    // The same command id twice: executed once.
    let meta = CommandMeta::with_command_id(Uuid::new_v4());
    let first = executor
        .execute::<Tally>("t2", TallyCommand::Add(3), &actor, meta)
        .await
        .expect("m")
        .expect("ok");
    let again = executor
        .execute::<Tally>("t2", TallyCommand::Add(3), &actor, meta)
        .await
        .expect("m")
        .expect("ok");
    assert!(again.duplicate && !first.duplicate);
    assert_eq!(again.positions, first.positions);
    assert_eq!(executor.load::<Tally>("t2").await.expect("load").0.count, 3);
    let meta_row = &store
        .read_stream(&stream("tally-t2"), 1)
        .await
        .expect("read")[0]
        .metadata;
    assert_eq!(
        (meta_row.actor.as_str(), meta_row.command_id),
        ("system", meta.command_id)
    );

    // Sent again once the state has moved on, so that deciding it now would refuse it
    // (over the ceiling): still its first result, not the refusal.
    let fill = CommandMeta::with_command_id(Uuid::new_v4());
    let first = executor
        .execute::<Tally>("t4", TallyCommand::Add(1_000), &actor, fill)
        .await
        .expect("m")
        .expect("ok");
    let again = executor
        .execute::<Tally>("t4", TallyCommand::Add(1_000), &actor, fill)
        .await
        .expect("m")
        .expect("its first result, not a refusal");
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);
    // The same command id on another stream is refused, naming the first.
    match executor
        .execute::<Tally>("t5", TallyCommand::Add(1), &actor, fill)
        .await
    {
        Err(ExecuteError::Store(StoreError::IdempotencyClash(reason))) => {
            assert!(reason.contains("tally-t4"), "{reason}");
        }
        other => panic!(
            "expected a clash, got {other:?}",
            other = other.map(|r| r.map(|e| e.stream_version))
        ),
    }
    assert_eq!(executor.load::<Tally>("t5").await.expect("load").1, 0);

    // With one attempt, contention surfaces as a clear conflict, not a lost write.
    let strict = Executor::new(store.clone()).with_max_attempts(1);
    let mut handles = Vec::new();
    for _ in 0..8 {
        let strict = strict.clone();
        handles.push(tokio::spawn(async move {
            strict
                .execute::<Tally>(
                    "t3",
                    TallyCommand::Add(1),
                    &Actor::system(),
                    CommandMeta::default(),
                )
                .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.expect("join") {
            Ok(Ok(_)) => ok += 1,
            Err(ExecuteError::Conflict { attempts: 1, .. }) => {}
            other => panic!(
                "unexpected {other:?}",
                other = other.map(|r| r.map(|e| e.stream_version))
            ),
        }
    }
    assert_eq!(
        executor.load::<Tally>("t3").await.expect("load").0.count,
        ok
    );
    assert!(matches!(
        executor
            .execute::<Tally>(
                "bad id",
                TallyCommand::Add(1),
                &actor,
                CommandMeta::default()
            )
            .await,
        Err(ExecuteError::Store(StoreError::InvalidStreamId { .. }))
    ));
}
both!(executor, executor_decides_appends_and_retries);

#[tokio::test]
async fn sqlite_store_type_is_usable_directly() {
    let db = fresh_sqlite();
    let store = SqliteStore::connect(db.url(), Arc::new(clock()))
        .await
        .expect("store");
    store
        .append(request(
            "task-1",
            ExpectedVersion::Exact(0),
            vec![event("TaskDrafted", 1)],
        ))
        .await
        .expect("append");
    assert_eq!(store.clock().now(), clock().now());
    assert!(verify(&store).await.expect("verify").is_intact());
}

/// The bundled SQLite is built without memory statistics (`.cargo/config.toml`): with them
/// every allocation takes one global mutex, which sqlx's reading thread and the decoding
/// task fought over on every row of a long read (BENCHMARKS.md §1).
#[tokio::test]
async fn sqlite_is_built_without_memory_statistics() {
    let db = fresh_sqlite();
    let store = SqliteStore::connect(db.url(), Arc::new(clock()))
        .await
        .expect("store");
    let options: Vec<String> =
        sqlx::query_scalar("select compile_options from pragma_compile_options")
            .fetch_all(store.pool())
            .await
            .expect("compile options");
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}

/// A cached state is only a guess: when another writer moved the stream on, the append
/// conflicts, the executor reloads, and nothing is lost.
async fn state_cache_never_decides_on_a_stale_state(store: Store, _clock: ManualClock) {
    let cached = Executor::new(store.clone()).with_state_cache(2);
    let plain = Executor::new(store.clone());
    let actor = Actor::system();
    for round in 0..5 {
        cached
            .execute::<Tally>("c1", TallyCommand::Add(1), &actor, CommandMeta::default())
            .await
            .expect("m")
            .expect("ok");
        plain
            .execute::<Tally>("c1", TallyCommand::Add(10), &actor, CommandMeta::default())
            .await
            .expect("m")
            .expect("ok");
        // Touch other streams so the tiny cache also empties and refills.
        cached
            .execute::<Tally>(
                &format!("other{round}"),
                TallyCommand::Add(1),
                &actor,
                CommandMeta::default(),
            )
            .await
            .expect("m")
            .expect("ok");
    }
    let (state, version) = plain.load::<Tally>("c1").await.expect("load");
    assert_eq!((state.count, version), (55, 10));
    // The ceiling rule sees the true count even through the cache.
    let refused = cached
        .execute::<Tally>("c1", TallyCommand::Add(950), &actor, CommandMeta::default())
        .await;
    assert!(matches!(refused, Ok(Err(TallyError::OverCeiling))));
}
both!(
    executor_state_cache,
    state_cache_never_decides_on_a_stale_state
);

/// Commands issued through a pipeline (appends in flight, group commits of any size) write
/// the very log that `execute`, one command after another, writes on the same manual
/// clock: the same order, times and hashes. The whole script goes through the pipeline
/// first, so appends are really in flight; the cache is tiny so that states leave it while
/// their appends are in flight.
async fn pipeline_writes_what_execute_writes(store: Store, clock: ManualClock) {
    fn script(i: u32) -> (String, TallyCommand, CommandMeta) {
        let command = match i % 11 {
            0 => TallyCommand::Add(2_000), // over the ceiling: refused, nothing queued
            5 => TallyCommand::Nothing,
            _ => TallyCommand::Add(i % 4 + 1),
        };
        let meta = CommandMeta::with_command_id(Uuid::from_u128(u128::from(i) + 1));
        (format!("p{}", i % 7), command, meta)
    }
    let actor = Actor::system();
    let mut pipeline = Executor::new(store.clone())
        .with_state_cache(3)
        .pipeline(16);
    let mut decided = Vec::new();
    let mut most_in_flight = 0;
    for i in 0..300u32 {
        let (id, command, meta) = script(i);
        clock.advance(chrono::Duration::milliseconds(1_500));
        let got = pipeline
            .submit::<Tally>(&id, command, &actor, meta)
            .await
            .expect("machinery")
            .map(|queued| (queued.stream_version, queued.events))
            .map_err(|e| e.to_string());
        decided.push(got);
        most_in_flight = most_in_flight.max(pipeline.in_flight());
        if i == 150 {
            // What the pipeline reports includes what is still in flight.
            let (seen, version) = pipeline.load::<Tally>("p3").await.expect("load");
            let stored = Executor::new(store.clone())
                .load::<Tally>("p3")
                .await
                .expect("load");
            assert!(version >= stored.1, "{version} < {}", stored.1);
            assert!(seen.count >= stored.0.count);
        }
    }
    // Several appends were in flight at once (with 7 streams and room for 6 states, a
    // stream evicted while in flight forces a flush now and then, so not the whole window).
    assert!(most_in_flight > 1, "{most_in_flight}");
    pipeline.flush().await.expect("flush");
    assert_eq!(pipeline.in_flight(), 0);

    let reference_clock = self::clock();
    let (reference, _reference_db) = sqlite_store(&reference_clock).await;
    let one_by_one = Executor::new(reference.clone());
    for (i, got) in decided.iter().enumerate() {
        let (id, command, meta) = script(i as u32);
        reference_clock.advance(chrono::Duration::milliseconds(1_500));
        let expected = one_by_one
            .execute::<Tally>(&id, command, &actor, meta)
            .await
            .expect("machinery")
            .map(|done| (done.stream_version, done.positions.len()))
            .map_err(|e| e.to_string());
        assert_eq!(&expected, got, "command {i}");
    }
    let ours = store.read_all_raw(0, 1_000).await.expect("read");
    let theirs = reference.read_all_raw(0, 1_000).await.expect("read");
    assert_eq!(
        ours.len(),
        decided.iter().filter(|d| matches!(d, Ok((_, 1)))).count()
    );
    assert_eq!(ours, theirs);
    assert!(verify(&store).await.expect("verify").is_intact());
}
both!(pipeline_same_log, pipeline_writes_what_execute_writes);

/// A pipeline decides on the states it keeps; if another writer moves a stream behind its
/// back, the queued append conflicts and the pipeline says so, and nothing it queued after
/// that append is stored (it was decided on a state that never existed), even where the
/// expected version happens to match.
async fn pipeline_reports_a_stream_moved_behind_its_back(store: Store, _clock: ManualClock) {
    let mut pipeline = Executor::new(store.clone()).pipeline(64);
    let other = Executor::new(store.clone());
    let actor = Actor::system();
    let meta = CommandMeta::default;
    let add = |n| TallyCommand::Add(n);
    pipeline
        .submit::<Tally>("d1", add(1), &actor, meta())
        .await
        .expect("m")
        .expect("ok");
    pipeline.flush().await.expect("stored");
    other
        .execute::<Tally>("d1", add(900), &actor, meta())
        .await
        .expect("m")
        .expect("ok");
    // Decided on count 1: 500 and then 400 fit under the ceiling of 1,000. The second
    // expects version 2, which the other writer's append happens to have made true.
    for n in [500, 400] {
        pipeline
            .submit::<Tally>("d1", add(n), &actor, meta())
            .await
            .expect("queued on a stale state")
            .expect("ok");
    }
    match pipeline.flush().await {
        Err(ExecuteError::Diverged { stream_id, reason }) => {
            assert_eq!(stream_id, "tally-d1");
            assert!(reason.contains("another writer"), "{reason}");
        }
        other => panic!("expected Diverged, got {other:?}"),
    }
    assert_eq!(pipeline.in_flight(), 0);
    let (state, version) = other.load::<Tally>("d1").await.expect("load");
    assert_eq!(
        (state.count, version),
        (901, 2),
        "nothing queued after the conflict landed"
    );
    // The pipeline forgot what it believed and reads the log again: the ceiling holds.
    let refused = pipeline
        .submit::<Tally>("d1", add(500), &actor, meta())
        .await
        .expect("m");
    assert!(matches!(refused, Err(TallyError::OverCeiling)));
    pipeline
        .submit::<Tally>("d1", add(99), &actor, meta())
        .await
        .expect("m")
        .expect("ok");
    pipeline.flush().await.expect("stored");
    let (state, version) = other.load::<Tally>("d1").await.expect("load");
    assert_eq!((state.count, version), (1_000, 3));
}
both!(
    pipeline_divergence,
    pipeline_reports_a_stream_moved_behind_its_back
);

// ---------------------------------------------------------------- export and import

mod transfer {
    use xingcun_store::transfer::{TransferError, check_file, export_jsonl, import_jsonl};

    use super::*;

    fn temp_file(tag: &str) -> TempPath {
        TempPath::new(&format!("xingcun-{tag}"), ".jsonl")
    }

    async fn seeded_sqlite(n: i64) -> (Store, TestDatabase) {
        let (store, db) = sqlite_store(&clock()).await;
        for i in 1..=n {
            let village = if i % 2 == 0 {
                "330681104201"
            } else {
                "330624101203"
            };
            let mut req = request(
                &format!("task-{i}"),
                ExpectedVersion::Exact(0),
                vec![event("TaskDrafted", i), event("TaskApproved", i)],
            );
            req.metadata.regions = vec![village.into()];
            store.append(req).await.expect("seed");
        }
        (store, db)
    }

    async fn export_to_file(store: &Store, tag: &str) -> (TempPath, Vec<u8>) {
        let path = temp_file(tag);
        let mut out = std::io::BufWriter::new(std::fs::File::create(path.path()).expect("create"));
        export_jsonl(store, &mut out, None).await.expect("export");
        drop(out);
        let bytes = std::fs::read(path.path()).expect("read back");
        (path, bytes)
    }

    async fn round_trip_into(target: Store) {
        let (source, _source_db) = seeded_sqlite(60).await;
        let (path, original) = export_to_file(&source, "src").await;
        let summary = import_jsonl(&target, path.path(), |_| {})
            .await
            .expect("import");
        assert_eq!(
            (
                summary.imported,
                summary.resumed_after,
                summary.head_position
            ),
            (120, 0, 120)
        );
        assert!(verify(&target).await.expect("verify").is_intact());
        let (_, again) = export_to_file(&target, "dst").await;
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&original),
            "re-export is byte-identical"
        );
        // The imported log keeps working: new appends chain on.
        target
            .append(request(
                "task-new",
                ExpectedVersion::Exact(0),
                vec![event("TaskDrafted", 0)],
            ))
            .await
            .expect("append");
        assert!(verify(&target).await.expect("verify").is_intact());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_export_imports_into_sqlite_identically() {
        let (target, _db) = sqlite_store(&clock()).await;
        round_trip_into(target).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_export_imports_into_postgres_identically() {
        if let Some((target, _db)) = postgres_store(&clock()).await {
            round_trip_into(target).await;
        }
    }

    fn rewrite(path: &TempPath, edit: impl FnOnce(&mut Vec<String>)) -> TempPath {
        let text = std::fs::read_to_string(path.path()).expect("read");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        edit(&mut lines);
        let out = temp_file("edited");
        std::fs::write(out.path(), lines.join("\n") + "\n").expect("write");
        out
    }

    async fn refused_and_nothing_imported(path: &std::path::Path) -> TransferError {
        let (target, _target_db) = sqlite_store(&clock()).await;
        let err = import_jsonl(&target, path, |_| {})
            .await
            .expect_err("refused");
        assert_eq!(
            target.head_position().await.expect("head"),
            0,
            "nothing is half-imported"
        );
        err
    }

    #[tokio::test]
    async fn bad_files_are_refused_naming_the_problem() {
        let (source, _source_db) = seeded_sqlite(10).await;
        let (path, bytes) = export_to_file(&source, "bad").await;

        let garbled = rewrite(&path, |l| l[6] = "{not json".into());
        let err = refused_and_nothing_imported(garbled.path()).await;
        assert!(matches!(err, TransferError::Line { line: 7, .. }), "{err}");

        let altered = rewrite(&path, |l| l[4] = l[4].replace("\"n\":3", "\"n\":33"));
        let err = refused_and_nothing_imported(altered.path()).await;
        assert!(
            matches!(&err, TransferError::Line { line: 5, reason } if reason.contains("hash chain")),
            "{err}"
        );

        let dropped = rewrite(&path, |l| {
            l.remove(3);
        });
        let err = refused_and_nothing_imported(dropped.path()).await;
        assert!(matches!(err, TransferError::Line { line: 4, .. }), "{err}");

        let cut_mid_line = temp_file("cut");
        std::fs::write(cut_mid_line.path(), &bytes[..bytes.len() / 2]).expect("write");
        let err = refused_and_nothing_imported(cut_mid_line.path()).await;
        assert!(matches!(err, TransferError::Truncated { .. }), "{err}");

        let cut_at_line = rewrite(&path, |l| l.truncate(12));
        let err = refused_and_nothing_imported(cut_at_line.path()).await;
        assert!(
            matches!(err, TransferError::Truncated { lines: 12, .. }),
            "{err}"
        );

        let mut village = Vec::new();
        export_jsonl(&source, &mut village, Some("330681104201"))
            .await
            .expect("village export");
        let village_path = temp_file("village");
        std::fs::write(village_path.path(), &village).expect("write");
        let err = refused_and_nothing_imported(village_path.path()).await;
        // Named as what it is, not as a broken chain (its chain has gaps by design).
        assert!(
            matches!(&err, TransferError::Partial { village } if village == "330681104201"),
            "{err}"
        );

        let (occupied, _occupied_db) = seeded_sqlite(1).await;
        let err = import_jsonl(&occupied, path.path(), |_| {})
            .await
            .expect_err("not empty");
        assert!(
            matches!(err, TransferError::NotEmpty { events: 2 }),
            "{err}"
        );
        assert_eq!(occupied.head_position().await.expect("head"), 2);
        assert!(check_file(path.path()).is_ok());
    }

    #[tokio::test]
    async fn village_export_holds_only_that_village() {
        let (source, _source_db) = seeded_sqlite(10).await;
        let mut out = Vec::new();
        let summary = export_jsonl(&source, &mut out, Some("330681104201"))
            .await
            .expect("export");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(summary.events, 10);
        assert_eq!(text.lines().count(), 11);
        assert!(
            text.lines()
                .take(10)
                .all(|l| l.contains("330681104201") && !l.contains("330624101203"))
        );
    }

    #[tokio::test]
    async fn an_interrupted_import_resumes_without_duplicates() {
        let (source, _source_db) = seeded_sqlite(30).await;
        let (path, original) = export_to_file(&source, "resume").await;
        let (target, _target_db) = sqlite_store(&clock()).await;
        // The first run got 17 events in before it was killed.
        let first = source.read_all_raw(0, 17).await.expect("read");
        target.import_batch(first).await.expect("partial import");
        let summary = import_jsonl(&target, path.path(), |_| {})
            .await
            .expect("resume");
        assert_eq!((summary.resumed_after, summary.imported), (17, 43));
        let (_, again) = export_to_file(&target, "resumed").await;
        assert_eq!(again, original);
        // Running it once more finds everything there and writes nothing.
        let summary = import_jsonl(&target, path.path(), |_| {})
            .await
            .expect("idempotent");
        assert_eq!((summary.resumed_after, summary.imported), (60, 0));
    }
}

// ---------------------------------------------------------------- hardening: what the log refuses

/// Run one statement behind the store's back, per backend, guards lifted.
async fn tamper_each(store: &Store, sqlite: &str, postgres: &str) {
    let sql: &'static str = Box::leak(
        match store {
            Store::Sqlite(_) => sqlite,
            Store::Postgres(_) => postgres,
        }
        .to_owned()
        .into_boxed_str(),
    );
    tamper(store, &[sql]).await;
}

fn nested_json_text(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

fn nested_value(levels: usize) -> serde_json::Value {
    let mut v = json!(1);
    for _ in 0..levels {
        v = serde_json::Value::Array(vec![v]);
    }
    v
}

/// PostgreSQL's jsonb gives numbers back in its own spelling (`-0.0` as `0.0`, `1e16` as
/// seventeen digits); the hash is over RFC 8785's spelling of the double, so the log still
/// verifies and reads back the same values.
async fn numbers_in_any_spelling_verify(store: Store, _clock: ManualClock) {
    let payload: serde_json::Value = serde_json::from_str(
        r#"{"rfc": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "neg_zero": -0.0, "big_float": 1e16, "max": 1.7976931348623157e308,
            "min": 5e-324, "safe": 9007199254740991, "unsafe_neg": -9007199254740991}"#,
    )
    .expect("json");
    store
        .append(request(
            "listing-n",
            ExpectedVersion::Exact(0),
            vec![NewEvent::new("ListingPosted", 1, payload.clone())],
        ))
        .await
        .expect("append");
    let report = verify(&store).await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.first_problem);
    let back = store.read_all(0, 10).await.expect("read");
    assert_eq!(
        xingcun_store::hash::canonical(&back[0].payload),
        xingcun_store::hash::canonical(&payload)
    );
    for too_big in [
        json!(9_007_199_254_740_993_u64),
        json!(-9_007_199_254_740_993_i64),
    ] {
        let refused = store
            .append(request(
                "listing-n2",
                ExpectedVersion::Any,
                vec![NewEvent::new("ListingPosted", 1, json!({ "n": too_big }))],
            ))
            .await;
        assert!(
            matches!(refused, Err(StoreError::InvalidInput(_))),
            "{refused:?}"
        );
    }
    assert_eq!(store.head_position().await.expect("head"), 1);
}
both!(numbers_any_spelling, numbers_in_any_spelling_verify);

async fn oversized_and_malformed_input_is_refused(store: Store, _clock: ManualClock) {
    let refused = |event: NewEvent, metadata: EventMetadata| {
        let store = store.clone();
        async move {
            let mut r = request("task-1", ExpectedVersion::Any, vec![event]);
            r.metadata = metadata;
            store.append(r).await
        }
    };
    let meta = || EventMetadata {
        actor: "tester".into(),
        ..Default::default()
    };
    let plain = |payload| NewEvent::new("TaskDrafted", 1, payload);
    let mut cases: Vec<(&str, NewEvent, EventMetadata)> = vec![
        ("33 levels", plain(nested_value(33)), meta()),
        ("10,000 levels", plain(nested_value(10_000)), meta()),
        (
            "300 KiB",
            plain(json!({ "t": "字".repeat(100_000) })),
            meta(),
        ),
        ("NUL in a key", plain(json!({ "a\u{0}": 1 })), meta()),
    ];
    for kind in ["Task\nDone", "Task\u{202e}Done", "Task\0", "", "任务"] {
        cases.push(("event type", NewEvent::new(kind, 1, json!({})), meta()));
    }
    let mut nul_actor = meta();
    nul_actor.actor = "a\u{0}b".into();
    cases.push(("NUL actor", plain(json!({})), nul_actor));
    let mut nul_region = meta();
    nul_region.regions = vec!["3306\u{0}".into()];
    cases.push(("NUL region", plain(json!({})), nul_region));
    let mut odd_region = meta();
    odd_region.regions = vec!["330 6".into()];
    cases.push(("region with a space", plain(json!({})), odd_region));
    for (what, event, metadata) in cases {
        let result = refused(event, metadata).await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "{what}: {result:?}"
        );
    }
    // Just inside the limits is accepted.
    store
        .append(request(
            "task-1",
            ExpectedVersion::Exact(0),
            vec![plain(nested_value(31))],
        ))
        .await
        .expect("32 levels are accepted");
    assert_eq!(store.head_position().await.expect("head"), 1);
    // Positions and versions past SQL's bigint read nothing (they used to wrap to -1).
    assert!(store.read_all(u64::MAX, 10).await.expect("all").is_empty());
    assert!(
        store
            .read_all_raw(u64::MAX, 10)
            .await
            .expect("raw")
            .is_empty()
    );
    assert!(
        store
            .read_category("task", u64::MAX, 10)
            .await
            .expect("category")
            .is_empty()
    );
    assert!(
        store
            .read_stream(&stream("task-1"), u64::MAX)
            .await
            .expect("stream")
            .is_empty()
    );
    assert!(verify(&store).await.expect("verify").is_intact());
}
both!(oversized_input, oversized_and_malformed_input_is_refused);

/// One event that no longer decodes (written behind the store's back) is named by verify,
/// reported by position to whoever reads it, and does not stop anyone reading past it.
async fn an_unreadable_event_is_named_and_read_past(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    let deep = nested_json_text(200);
    tamper_each(
        &store,
        &format!("update events set payload = '{deep}' where position = 3"),
        &format!("update events set payload = '{deep}'::jsonb where position = 3"),
    )
    .await;
    let report = verify(&store).await.expect("verify answers");
    assert!(
        matches!(
            report.first_problem,
            Some(Tamper::Unreadable { position: 3, .. })
        ),
        "{:?}",
        report.first_problem
    );
    assert_eq!(report.events, 2);
    let before = store.read_all(0, 10).await.expect("events before it");
    assert_eq!(
        before.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(matches!(
        store.read_all(2, 10).await,
        Err(StoreError::Corrupt { position: 3, .. })
    ));
    let after = store.read_all(3, 10).await.expect("events after it");
    assert_eq!(after.iter().map(|e| e.position).collect::<Vec<_>>(), [4, 5]);
    // A subscriber gets the events before it, then the error naming it.
    let got: Vec<_> = subscribe(store.clone(), 0, CancellationToken::new())
        .take(3)
        .collect()
        .await;
    assert!(got[0].is_ok() && got[1].is_ok());
    assert!(matches!(
        got[2],
        Err(StoreError::Corrupt { position: 3, .. })
    ));
}
both!(unreadable_event, an_unreadable_event_is_named_and_read_past);

/// A number PostgreSQL holds but no double can (it used to blind every reader).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_number_beyond_a_double_is_named() {
    let clock = clock();
    let Some((store, _db)) = postgres_store(&clock).await else {
        return;
    };
    seed_five(&store).await;
    tamper(
        &store,
        &[r#"update events set payload = '{"n": 1e400}'::jsonb where position = 4"#],
    )
    .await;
    let report = verify(&store).await.expect("verify answers");
    assert!(
        matches!(
            report.first_problem,
            Some(Tamper::Unreadable { position: 4, .. })
        ),
        "{:?}",
        report.first_problem
    );
    assert_eq!(store.read_all(4, 10).await.expect("past it").len(), 1);
}

/// Columns outside the hash (category, command id) and keys added to the metadata are
/// checked by verify, so an edit to them cannot pass as intact.
async fn unhashed_columns_are_checked(store: Store, _clock: ManualClock) {
    seed_five(&store).await;
    tamper_each(
        &store,
        r#"update events set metadata = json_insert(metadata, '$.extra', 1) where position = 5"#,
        r#"update events set metadata = metadata || '{"extra": 1}'::jsonb where position = 5"#,
    )
    .await;
    let first = |report: xingcun_store::VerifyReport| report.first_problem.map(|p| p.position());
    assert_eq!(first(verify(&store).await.expect("verify")), Some(5));
    tamper(
        &store,
        &["update events set category = 'village' where position = 3"],
    )
    .await;
    assert_eq!(first(verify(&store).await.expect("verify")), Some(3));
    // The reader by category misses it (1, 2 and 4 come back, then 5 does not read), and
    // verify says so.
    let read = store.read_category("task", 0, 10).await.expect("category");
    assert_eq!(
        read.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 4]
    );
    tamper_each(
        &store,
        "update events set command_id = '6f1c3a52-6b4e-4a43-9d3a-2a5f0f6c9e01' where position = 1",
        "update events set command_id = '6f1c3a52-6b4e-4a43-9d3a-2a5f0f6c9e01'::uuid where position = 1",
    )
    .await;
    assert_eq!(first(verify(&store).await.expect("verify")), Some(1));
}
both!(unhashed_columns, unhashed_columns_are_checked);

/// A re-send is a duplicate only when it is the same append; any other reuse of an id is
/// refused by name, and nothing is dropped silently.
async fn reusing_an_id_for_another_append_is_refused(store: Store, _clock: ManualClock) {
    let x = NewEvent::new("BidSubmitted", 1, json!({ "bid": 1 }));
    let first = store
        .append(request(
            "listing-a",
            ExpectedVersion::Exact(0),
            vec![x.clone()],
        ))
        .await
        .expect("first");
    let again = store
        .append(request("listing-a", ExpectedVersion::Any, vec![x.clone()]))
        .await
        .expect("the same append again");
    assert!(again.duplicate && again.positions == first.positions);

    let mut other_content = x.clone();
    other_content.payload = json!({ "bid": 2 });
    let elsewhere = store
        .append(request("listing-b", ExpectedVersion::Any, vec![x.clone()]))
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::IdempotencyClash(_))),
        "{elsewhere:?}"
    );
    let changed = store
        .append(request(
            "listing-a",
            ExpectedVersion::Any,
            vec![other_content],
        ))
        .await;
    assert!(
        matches!(changed, Err(StoreError::IdempotencyClash(_))),
        "{changed:?}"
    );
    let y = NewEvent::new("BidRevised", 1, json!({ "bid": 3 }));
    let mixed = store
        .append(request(
            "listing-a",
            ExpectedVersion::Any,
            vec![x.clone(), y.clone()],
        ))
        .await;
    match mixed {
        Err(StoreError::IdempotencyClash(why)) => {
            assert!(why.contains(&x.event_id.to_string()), "{why}")
        }
        other => panic!("expected a clash naming {}: {other:?}", x.event_id),
    }

    let command_id = Uuid::new_v4();
    let mut on_c = request(
        "listing-c",
        ExpectedVersion::Any,
        vec![event("ListingPosted", 1)],
    );
    on_c.metadata.command_id = Some(command_id);
    store.append(on_c.clone()).await.expect("command");
    let mut on_d = on_c.clone();
    on_d.stream_id = stream("listing-d");
    on_d.events = vec![event("ListingPosted", 1)];
    let reused = store.append(on_d).await;
    assert!(
        matches!(reused, Err(StoreError::IdempotencyClash(_))),
        "{reused:?}"
    );
    let mut other_kind = on_c.clone();
    other_kind.events = vec![event("ListingWithdrawn", 1)];
    let reused = store.append(other_kind).await;
    assert!(
        matches!(reused, Err(StoreError::IdempotencyClash(_))),
        "{reused:?}"
    );
    // Through the executor: the command id names a command on another stream.
    let executor = Executor::new(store.clone());
    let meta = CommandMeta::with_command_id(command_id);
    let via_executor = executor
        .execute::<Tally>("t9", TallyCommand::Add(1), &Actor::system(), meta)
        .await;
    assert!(
        matches!(
            via_executor,
            Err(ExecuteError::Store(StoreError::IdempotencyClash(_)))
        ),
        "{via_executor:?}"
    );
    // Nothing but the first two appends is in the log.
    assert_eq!(store.head_position().await.expect("head"), 2);
    assert!(verify(&store).await.expect("verify").is_intact());
}
both!(
    idempotency_clash,
    reusing_an_id_for_another_append_is_refused
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_insert_or_replace() {
    let (store, _store_db) = sqlite_store(&clock()).await;
    seed_five(&store).await;
    let Store::Sqlite(s) = &store else {
        unreachable!()
    };
    let replace = sqlx::query(
        "insert or replace into events select position, stream_id, category, stream_version, event_id, \
         command_id, event_type, schema_version, '{\"n\":99}', metadata, recorded_at, prev_hash, hash \
         from events where position = 2",
    )
    .execute(s.pool())
    .await;
    let err = replace.expect_err("refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(verify(&store).await.expect("verify").is_intact());
    assert_eq!(store.read_all(1, 1).await.expect("read")[0].payload["n"], 2);
}

#[tokio::test]
async fn commands_that_only_read_never_create_a_database() {
    let missing = TempPath::new("xingcun-test", ".db");
    let path = missing.path();
    let err = Store::open_existing(&format!("sqlite://{}", path.display()), Arc::new(clock()))
        .await
        .err()
        .expect("a missing file is an error");
    assert!(err.to_string().contains("no database file"), "{err}");
    assert!(!path.exists(), "nothing was created");
}

/// Two stores on one SQLite file stand for two processes: each sees the other's appends
/// through `PRAGMA data_version`, without the subscription's slow fallback poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_appends_by_another_process_wake_this_one() {
    let db = fresh_sqlite();
    let url = db.url().to_owned();
    let clock = clock();
    let a = Store::connect(&url, Arc::new(clock.clone()))
        .await
        .expect("a");
    let b = Store::connect(&url, Arc::new(clock.clone()))
        .await
        .expect("b");
    let mut head = b.watch_head();
    head.borrow_and_update();
    seed_five(&a).await;
    // A guard against a hang, not a timing: before the watcher, b's head never moved.
    tokio::time::timeout(Duration::from_secs(20), async {
        while *head.borrow_and_update() < 5 {
            head.changed().await.expect("store alive");
        }
    })
    .await
    .expect("b saw a's appends");
}

/// An import file holding what an append would refuse is refused before anything is
/// written (it used to commit a first batch into PostgreSQL and then fail on every rerun).
async fn import_refuses_what_append_refuses(store: Store, clock: ManualClock) {
    use xingcun_store::transfer::{TransferError, export_jsonl, import_jsonl};
    let (source, _source_db) = sqlite_store(&clock).await;
    seed_five(&source).await;
    let mut out = Vec::new();
    export_jsonl(&source, &mut out, None).await.expect("export");
    let text = String::from_utf8(out).expect("utf-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[3] = lines[3].replace("\"TaskDrafted\"", "\"Task\\u0000Drafted\"");
    let file = TempPath::new("xingcun-test", ".jsonl");
    let path = file.path();
    std::fs::write(path, lines.join("\n") + "\n").expect("write");
    let err = import_jsonl(&store, path, |_| {})
        .await
        .expect_err("refused");
    assert!(matches!(err, TransferError::Line { line: 4, .. }), "{err}");
    assert_eq!(store.head_position().await.expect("head"), 0);
}
both!(import_refusals, import_refuses_what_append_refuses);

/// The child process of [`postgres_a_writer_stopped_holding_the_log_lock_does_not_stall_the_others`]:
/// it takes the log lock with an append it never commits, says so, and sleeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the stopped-lock-holder test"]
async fn lock_holder_child() {
    let Ok(url) = std::env::var("XINGCUN_LOCK_HOLDER_URL") else {
        return;
    };
    let store = PostgresStore::connect(&url, Arc::new(clock()))
        .await
        .expect("connect");
    let held = store
        .begin_held_append(request(
            "task-held",
            ExpectedVersion::Exact(0),
            vec![event("TaskDrafted", 1)],
        ))
        .await
        .expect("hold the log lock");
    println!("HELD");
    use std::io::Write as _;
    std::io::stdout().flush().expect("flush");
    tokio::time::sleep(Duration::from_secs(300)).await;
    drop(held);
}

/// A writer process stopped (SIGSTOP) while it holds the log lock: PostgreSQL ends its
/// session (`idle_in_transaction_session_timeout`), its append rolls back, and the other
/// writers go on instead of stalling for as long as it sleeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_writer_stopped_holding_the_log_lock_does_not_stall_the_others() {
    use std::io::BufRead as _;
    let Some(pg_db) = fresh_postgres().await else {
        return;
    };
    let url = pg_db.url().to_owned();
    let store = Store::connect(&url, Arc::new(clock()))
        .await
        .expect("store");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--ignored", "--exact", "lock_holder_child", "--nocapture"])
        .env("XINGCUN_LOCK_HOLDER_URL", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the holder");
    let stdout = child.stdout.take().expect("stdout");
    let held = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.trim() == "HELD")
    })
    .await
    .expect("reader");
    assert!(held, "the holder never took the lock");
    let pid = child.id().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill -STOP");
    assert!(stopped.success());
    // A guard against a stall, not a timing: without the session timeout this append waits
    // for the lock until the holder wakes (300 s).
    let appended = tokio::time::timeout(
        Duration::from_secs(60),
        store.append(request(
            "task-free",
            ExpectedVersion::Exact(0),
            vec![event("TaskDrafted", 2)],
        )),
    )
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    let _ = child.wait();
    appended
        .expect("the other writers were not stalled")
        .expect("the append went through once the stopped session was ended");
    assert!(
        store
            .read_stream(&stream("task-held"), 1)
            .await
            .expect("read")
            .is_empty(),
        "the stopped writer's append was rolled back"
    );
    assert!(verify(&store).await.expect("verify").is_intact());
}

/// A store opened read-only answers reads and refuses every append with the reason,
/// before the writer (nothing is written to the file).
#[tokio::test]
async fn a_read_only_store_reads_and_refuses_appends() {
    let (store, db) = sqlite_store(&clock()).await;
    seed_five(&store).await;
    drop(store);
    let url = format!("{}?mode=ro", db.url());
    assert!(Store::read_only_reason(&url).is_some_and(|r| r.contains("mode=ro")));
    let err = Store::connect(&url, Arc::new(clock()))
        .await
        .err()
        .expect("a read-only URL cannot be opened for writing");
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    let ro = Store::open_read_only(&url, Arc::new(clock()))
        .await
        .expect("read-only");
    assert!(ro.is_read_only());
    assert_eq!(ro.head_position().await.expect("head"), 5);
    assert!(verify(&ro).await.expect("verify").is_intact());
    let err = ro
        .append(request(
            "task-new",
            ExpectedVersion::Exact(0),
            vec![event("TaskDrafted", 1)],
        ))
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    assert_eq!(err.code(), "READ_ONLY");
}

/// A file that holds another application's tables is reported, one holding xingcun's log
/// (with tables beside it) is not.
#[tokio::test]
async fn foreign_tables_are_named_until_the_log_is_there() {
    use sqlx::Connection;
    let db = fresh_sqlite();
    assert!(
        Store::foreign_tables(db.url())
            .await
            .expect("none")
            .is_empty()
    );
    let mut conn = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", db.url()))
        .await
        .expect("create");
    sqlx::query("create table orders (id integer)")
        .execute(&mut conn)
        .await
        .expect("table");
    conn.close().await.expect("close");
    assert_eq!(
        Store::foreign_tables(db.url()).await.expect("listed"),
        vec!["orders".to_owned()]
    );
    drop(
        Store::connect(db.url(), Arc::new(clock()))
            .await
            .expect("migrate"),
    );
    assert!(
        Store::foreign_tables(db.url())
            .await
            .expect("ours")
            .is_empty()
    );
}

// ---------------------------------------------------------------- planned ahead

/// Each process's writer plans a group on the head it committed last and on the versions
/// its requests expect, and writes it in one round trip (PostgreSQL). When another process
/// appended meanwhile, a command is re-sent or a stream moved, nothing is written that way:
/// the group is planned again on what the log holds, with the outcomes reading gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writers_plan_ahead_and_fall_back() {
    let Some(db) = fresh_postgres().await else {
        return;
    };
    let one = Store::connect(db.url(), Arc::new(clock()))
        .await
        .expect("process one");
    let two = Store::connect(db.url(), Arc::new(clock()))
        .await
        .expect("process two");
    let append = |store: &Store, s: &str, expected: u64, n: i64| {
        let store = store.clone();
        let request = request(
            s,
            ExpectedVersion::Exact(expected),
            vec![event("Counted", n)],
        );
        async move { store.append(request).await }
    };
    let counts = |planned_ahead, read_first| xingcun_store::GroupCommits {
        planned_ahead,
        read_first,
    };
    // The first group reads (nothing committed yet), the next ones go ahead.
    for n in 0..3 {
        let outcome = append(&one, "task-a", n, n as i64).await.expect("append");
        assert_eq!(outcome.positions, [n + 1]);
    }
    assert_eq!(one.group_commits(), counts(2, 1));

    // Another process appends: one's head is stale, so its next group is refused ahead,
    // planned again, and lands after two's.
    let theirs = append(&two, "task-b", 0, 10).await.expect("two");
    assert_eq!(theirs.positions, [4]);
    let ours = append(&one, "task-a", 3, 3).await.expect("one after two");
    assert_eq!(
        (ours.positions.as_slice(), ours.stream_version),
        ([5].as_slice(), 4)
    );
    assert_eq!(one.group_commits(), counts(2, 2));
    assert_eq!(two.group_commits(), counts(0, 1));
    append(&one, "task-a", 4, 4).await.expect("ahead again");
    assert_eq!(one.group_commits(), counts(3, 2));

    // A stale expected version: planned ahead on it, refused under the lock, a conflict
    // when read.
    match append(&one, "task-a", 2, 99).await {
        Err(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (2, 5)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(one.group_commits(), counts(3, 3));

    // A command sent again (its answer lost): refused ahead, answered as the duplicate.
    let mut with_command = request(
        "task-c",
        ExpectedVersion::Exact(0),
        vec![event("Counted", 7)],
    );
    with_command.metadata.command_id = Some(Uuid::new_v4());
    let first = one.append(with_command.clone()).await.expect("command");
    assert!(!first.duplicate);
    let again = one.append(with_command).await.expect("command again");
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);
    // Nothing was lost or written twice, and the chain holds.
    assert_eq!(one.head_position().await.expect("head"), 7);
    assert!(verify(&one).await.expect("verify").is_intact());
    let all = two.read_all(0, 100).await.expect("read");
    assert_eq!(
        all.iter()
            .map(|e| (e.stream_id.as_str(), e.stream_version))
            .collect::<Vec<_>>(),
        [
            ("task-a", 1),
            ("task-a", 2),
            ("task-a", 3),
            ("task-b", 1),
            ("task-a", 4),
            ("task-a", 5),
            ("task-c", 1)
        ]
    );
}

/// SQLite plans every group under its write lock (a round trip there is a function call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_read_first() {
    let clock = clock();
    let (store, _db) = sqlite_store(&clock).await;
    for n in 0..3 {
        store
            .append(request(
                "task-a",
                ExpectedVersion::Exact(n),
                vec![event("Counted", 1)],
            ))
            .await
            .expect("append");
    }
    assert_eq!(
        store.group_commits(),
        xingcun_store::GroupCommits {
            planned_ahead: 0,
            read_first: 3
        }
    );
}
