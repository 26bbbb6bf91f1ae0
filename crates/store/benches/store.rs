//! Store benchmark: every figure beside its raw ceiling, measured in the same run with plain
//! sqlx on the same table in a twin database (no hash chain, no log lock, positions from the
//! table's own rowid/identity).
//!
//! ```sh
//! cargo bench -p xingcun-store --bench store                       # SQLite only
//! XINGCUN_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench -p xingcun-store --bench store                     # SQLite and PostgreSQL
//! ```
//! `BENCH_SECONDS` (default 5) per command level, `BENCH_EVENTS` (default 1,000,000) for the
//! batch and read-all phases (0 skips the batch phase).
//!
//! With `BENCH_IMPORT_FILE=city.jsonl` (an `xingcun export`), both databases are first loaded
//! with that history: the store through `import_jsonl` (chain re-checked, batched), the raw
//! twin with plain multi-row inserts of the same rows. The command phases then run on a store
//! that already holds the history (does the command path slow down as the log grows?).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;
use uuid::Uuid;
use xingcun_store::testing::{fresh_sqlite, replace_database};
use xingcun_store::{
    AppendRequest, EventLog, EventMetadata, ExpectedVersion, NewEvent, Store, StreamId, SystemClock,
};

/// The shipped binary's allocator (`src/main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STREAMS_PER_WORKER: usize = 50;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn payload(i: u64) -> serde_json::Value {
    json!({"task_id": Uuid::from_u128(u128::from(i)), "village": "330681104201", "title": "清理河道垃圾", "score": 5, "n": i})
}

fn meta() -> EventMetadata {
    EventMetadata {
        actor: "bench".into(),
        regions: vec!["330681104201".into()],
        ..Default::default()
    }
}

/// The raw twin: same migrations, but position assigned by the database itself.
#[derive(Clone)]
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn command(&self, stream: &str, i: u64) {
        let p = payload(i).to_string();
        let meta = serde_json::to_string(&meta()).expect("json");
        match self {
            Raw::Sqlite(pool) => {
                let mut tx = pool.begin_with("begin immediate").await.expect("begin");
                let rows = sqlx::query("select stream_version, payload from events where stream_id = ? order by stream_version desc limit 5")
                    .bind(stream)
                    .fetch_all(&mut *tx)
                    .await
                    .expect("read");
                let v = rows.first().map_or(0, |r| r.get::<i64, _>(0)) + 1;
                sqlx::query(
                    "insert into events (stream_id, category, stream_version, event_id, event_type, schema_version, payload, \
                     metadata, recorded_at, prev_hash, hash) values (?, 'task', ?, ?, 'TaskSigned', 1, ?, ?, ?, '', '')",
                )
                .bind(stream)
                .bind(v)
                .bind(Uuid::new_v4().to_string())
                .bind(p)
                .bind(meta)
                .bind(chrono::Utc::now().to_rfc3339())
                .execute(&mut *tx)
                .await
                .expect("insert");
                tx.commit().await.expect("commit");
            }
            Raw::Postgres(pool) => {
                let mut tx = pool.begin().await.expect("begin");
                let rows = sqlx::query("select stream_version, payload from events where stream_id = $1 order by stream_version desc limit 5")
                    .bind(stream)
                    .fetch_all(&mut *tx)
                    .await
                    .expect("read");
                let v = rows.first().map_or(0, |r| r.get::<i64, _>(0)) + 1;
                sqlx::query(
                    "insert into events (stream_id, category, stream_version, event_id, event_type, schema_version, payload, \
                     metadata, recorded_at, prev_hash, hash) values ($1, 'task', $2, $3, 'TaskSigned', 1, $4::jsonb, $5::jsonb, now(), '', '')",
                )
                .bind(stream)
                .bind(v)
                .bind(Uuid::new_v4())
                .bind(p)
                .bind(meta)
                .execute(&mut *tx)
                .await
                .expect("insert");
                tx.commit().await.expect("commit");
            }
        }
    }

    async fn batch(&self, stream: &str, from: u64, n: u64) {
        let meta = serde_json::to_string(&meta()).expect("json");
        match self {
            Raw::Sqlite(pool) => {
                let mut tx = pool.begin_with("begin immediate").await.expect("begin");
                let rows: Vec<u64> = (from..from + n).collect();
                for chunk in rows.chunks(2000) {
                    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                        "insert into events (stream_id, category, stream_version, event_id, event_type, schema_version, \
                         payload, metadata, recorded_at, prev_hash, hash) ",
                    );
                    q.push_values(chunk, |mut b, i| {
                        b.push_bind(stream.to_owned())
                            .push_bind("batch")
                            .push_bind(*i as i64 + 1)
                            .push_bind(Uuid::new_v4().to_string())
                            .push_bind("TaskSigned")
                            .push_bind(1_i64)
                            .push_bind(payload(*i).to_string())
                            .push_bind(meta.clone())
                            .push_bind(chrono::Utc::now().to_rfc3339())
                            .push_bind("")
                            .push_bind("");
                    });
                    q.build().execute(&mut *tx).await.expect("insert");
                }
                tx.commit().await.expect("commit");
            }
            Raw::Postgres(pool) => {
                let ids: Vec<u64> = (from..from + n).collect();
                let metas: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|_| serde_json::to_value(self::meta()).expect("json"))
                    .collect();
                sqlx::query(
                    "insert into events (stream_id, category, stream_version, event_id, event_type, schema_version, payload, \
                     metadata, recorded_at, prev_hash, hash) \
                     select $1, 'batch', v, e, 'TaskSigned', 1, p, m, now(), '', '' \
                     from unnest($2::int8[], $3::uuid[], $4::jsonb[], $5::jsonb[]) as t(v, e, p, m)",
                )
                .bind(stream)
                .bind(ids.iter().map(|i| *i as i64 + 1).collect::<Vec<_>>())
                .bind(ids.iter().map(|_| Uuid::new_v4()).collect::<Vec<_>>())
                .bind(ids.iter().map(|i| payload(*i)).collect::<Vec<_>>())
                .bind(metas)
                .execute(pool)
                .await
                .expect("insert");
            }
        }
    }

    /// Load an export's event lines with plain multi-row inserts, 5,000 rows a transaction.
    async fn load_file(&self, path: &std::path::Path) -> u64 {
        use std::io::BufRead;
        let file = std::io::BufReader::new(std::fs::File::open(path).expect("open import file"));
        let mut batch: Vec<serde_json::Value> = Vec::with_capacity(5000);
        let mut n = 0;
        for line in file.lines() {
            let line = line.expect("line");
            if line.starts_with("{\"end\":") {
                break;
            }
            batch.push(serde_json::from_str(&line).expect("json"));
            if batch.len() == 5000 {
                n += self.insert_rows(&batch).await;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            n += self.insert_rows(&batch).await;
        }
        n
    }

    async fn insert_rows(&self, rows: &[serde_json::Value]) -> u64 {
        let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let i = |v: &serde_json::Value, k: &str| v[k].as_i64().unwrap_or_default();
        let category = |v: &serde_json::Value| {
            s(v, "stream_id")
                .split('-')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        match self {
            Raw::Sqlite(pool) => {
                let mut tx = pool.begin_with("begin immediate").await.expect("begin");
                for chunk in rows.chunks(2000) {
                    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                        "insert into events (position, stream_id, category, stream_version, event_id, event_type, \
                         schema_version, payload, metadata, recorded_at, prev_hash, hash) ",
                    );
                    q.push_values(chunk, |mut b, v| {
                        b.push_bind(i(v, "position"))
                            .push_bind(s(v, "stream_id"))
                            .push_bind(category(v))
                            .push_bind(i(v, "stream_version"))
                            .push_bind(s(v, "event_id"))
                            .push_bind(s(v, "event_type"))
                            .push_bind(i(v, "schema_version"))
                            .push_bind(v["payload"].to_string())
                            .push_bind(v["metadata"].to_string())
                            .push_bind(s(v, "recorded_at"))
                            .push_bind(s(v, "prev_hash"))
                            .push_bind(s(v, "hash"));
                    });
                    q.build().execute(&mut *tx).await.expect("insert");
                }
                tx.commit().await.expect("commit");
            }
            Raw::Postgres(pool) => {
                sqlx::query(
                    "insert into events (position, stream_id, category, stream_version, event_id, event_type, schema_version, \
                     payload, metadata, recorded_at, prev_hash, hash) \
                     select * from unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::uuid[], $6::text[], $7::int4[], \
                     $8::jsonb[], $9::jsonb[], $10::timestamptz[], $11::text[], $12::text[])",
                )
                .bind(rows.iter().map(|v| i(v, "position")).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| s(v, "stream_id")).collect::<Vec<_>>())
                .bind(rows.iter().map(category).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| i(v, "stream_version")).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| Uuid::parse_str(&s(v, "event_id")).expect("uuid")).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| s(v, "event_type")).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| i(v, "schema_version") as i32).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| v["payload"].clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| v["metadata"].clone()).collect::<Vec<_>>())
                .bind(
                    rows.iter()
                        .map(|v| chrono::DateTime::parse_from_rfc3339(&s(v, "recorded_at")).expect("time").to_utc())
                        .collect::<Vec<_>>(),
                )
                .bind(rows.iter().map(|v| s(v, "prev_hash")).collect::<Vec<_>>())
                .bind(rows.iter().map(|v| s(v, "hash")).collect::<Vec<_>>())
                .execute(pool)
                .await
                .expect("insert");
            }
        }
        rows.len() as u64
    }

    /// Read the whole table in pages of 10,000 by position; returns rows read.
    async fn read_all(&self) -> u64 {
        let mut after = 0_i64;
        let mut n = 0;
        loop {
            let (count, last) = match self {
                Raw::Sqlite(pool) => {
                    let rows = sqlx::query(xingcun_store::select_events!(
                        "where position > ? order by position limit 10000"
                    ))
                    .bind(after)
                    .fetch_all(pool)
                    .await
                    .expect("read");
                    let last = rows.last().map(|r| r.get::<i64, _>(0));
                    for r in &rows {
                        let _: (String, String, String) =
                            (r.get("stream_id"), r.get("payload"), r.get("metadata"));
                    }
                    (rows.len(), last)
                }
                Raw::Postgres(pool) => {
                    let rows = sqlx::query(xingcun_store::select_events!(
                        "where position > $1 order by position limit 10000"
                    ))
                    .bind(after)
                    .fetch_all(pool)
                    .await
                    .expect("read");
                    let last = rows.last().map(|r| r.get::<i64, _>(0));
                    for r in &rows {
                        let _: (String, String, String) =
                            (r.get("stream_id"), r.get("payload"), r.get("metadata"));
                    }
                    (rows.len(), last)
                }
            };
            let Some(last) = last else { return n };
            n += count as u64;
            after = last;
        }
    }
}

/// The lean ceiling of issue 15: what a generic event-sourcing framework does, on
/// PostgreSQL with plain sqlx. A table with only its primary key (an identity) and the
/// (stream, version) unique index, connections without TLS (`sslmode=disable`), a 300-byte
/// payload; a command reads the stream's last 5 events and appends 1 in one transaction.
/// No hash chain, no gap-free order, no idempotency, no log lock. A pool of 16 connections,
/// as the store's.
#[derive(Clone)]
struct Lean(sqlx::PgPool);

impl Lean {
    async fn open(url: &str) -> Self {
        use std::str::FromStr;
        let options = sqlx::postgres::PgConnectOptions::from_str(url)
            .expect("url")
            .ssl_mode(sqlx::postgres::PgSslMode::Disable);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .expect("lean pool");
        sqlx::query(
            "create table lean_events (position bigint generated always as identity primary key, \
             stream_id text not null, stream_version bigint not null, payload jsonb not null, \
             unique (stream_id, stream_version))",
        )
        .execute(&pool)
        .await
        .expect("lean table");
        Lean(pool)
    }

    fn payload(i: u64) -> serde_json::Value {
        let mut p = payload(i);
        let len = p.to_string().len();
        p["note"] = json!("x".repeat(300_usize.saturating_sub(len + 10)));
        p
    }

    async fn command(&self, stream: &str, i: u64) {
        let mut tx = self.0.begin().await.expect("begin");
        let rows = sqlx::query(
            "select stream_version, payload from lean_events where stream_id = $1 \
             order by stream_version desc limit 5",
        )
        .bind(stream)
        .fetch_all(&mut *tx)
        .await
        .expect("read");
        let v = rows.first().map_or(0, |r| r.get::<i64, _>(0)) + 1;
        sqlx::query(
            "insert into lean_events (stream_id, stream_version, payload) values ($1, $2, $3)",
        )
        .bind(stream)
        .bind(v)
        .bind(Self::payload(i))
        .execute(&mut *tx)
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
    }
}

/// The API's command path: the executor with its state cache (as `xingcun serve` runs it),
/// which decides on the state it keeps and skips the stream read when it is warm. A
/// counter whose events carry a 300-byte note, like the lean ceiling's payload.
#[derive(Default, Clone)]
struct Counter {
    count: u64,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum CounterEvent {
    Counted { n: u64, note: String },
}

impl xingcun_domain::DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        "Counted"
    }
}

#[derive(Debug, thiserror::Error)]
#[error("不会发生")]
struct Never;

impl xingcun_domain::Rejection for Never {
    fn code(&self) -> &'static str {
        "NEVER"
    }
}

impl xingcun_domain::Aggregate for Counter {
    const CATEGORY: &'static str = "counter";
    type Command = u64;
    type Event = CounterEvent;
    type Error = Never;

    fn decide(
        &self,
        n: u64,
        _ctx: &xingcun_domain::CommandContext<'_>,
    ) -> Result<Vec<CounterEvent>, Never> {
        let note = "x".repeat(250);
        Ok(vec![CounterEvent::Counted {
            n: self.count + n,
            note,
        }])
    }

    fn evolve(&mut self, event: &CounterEvent) {
        let CounterEvent::Counted { n, .. } = event;
        self.count = *n;
    }
}

/// CPU seconds used so far by this process and by every `postgres` process of the machine
/// (Linux `/proc`, at 100 ticks a second).
fn cpu_seconds() -> (f64, f64) {
    fn ticks(stat: &str) -> f64 {
        // After the command name in parentheses: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let get = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        get(11) + get(12)
    }
    let own = std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| ticks(&s));
    let mut pg = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let path = entry.path();
            if std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres") {
                pg += std::fs::read_to_string(path.join("stat")).map_or(0.0, |s| ticks(&s));
            }
        }
    }
    (own / 100.0, pg / 100.0)
}

/// Share of the machine's cores this process and PostgreSQL used while `run` ran.
async fn with_cpu<T>(run: impl std::future::Future<Output = T>) -> (T, String) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (own, pg) = cpu_seconds();
    let t = Instant::now();
    let out = run.await;
    let wall = t.elapsed().as_secs_f64() * cores;
    let (own2, pg2) = cpu_seconds();
    let share = format!(
        "{:.0}% / {:.0}%",
        100.0 * (own2 - own) / wall,
        100.0 * (pg2 - pg) / wall
    );
    (out, share)
}

/// An export's events as CSV for `COPY` into a table like `events`.
fn copy_csv(path: &std::path::Path) -> Vec<u8> {
    use std::io::BufRead;
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = Vec::new();
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("open import file"));
    for line in file.lines() {
        let line = line.expect("line");
        if line.starts_with("{\"end\":") {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let stream = text("stream_id");
        let category = stream.split('-').next().unwrap_or_default().to_owned();
        let command = v["metadata"]["command_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let fields = [
            v["position"].to_string(),
            quote(&stream),
            quote(&category),
            v["stream_version"].to_string(),
            text("event_id"),
            command,
            quote(&text("event_type")),
            v["schema_version"].to_string(),
            quote(&v["payload"].to_string()),
            quote(&v["metadata"].to_string()),
            text("recorded_at"),
            text("prev_hash"),
            text("hash"),
        ];
        out.extend_from_slice(fields.join(",").as_bytes());
        out.push(b'\n');
    }
    out
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn pct(&mut self, p: f64) -> f64 {
        self.0.sort();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Run `workers` loops of commands for `seconds`; returns (commands/s, p50 ms, p99 ms).
async fn run_commands<F, Fut>(workers: usize, seconds: u64, command: F) -> (f64, f64, f64)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let command = command.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                command(w, i).await;
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = all.len() as f64;
    let mut l = Latencies(all);
    (n / elapsed, l.pct(0.5), l.pct(0.99))
}

fn stream_of(w: usize, i: u64) -> String {
    format!("task-w{w}s{}", i as usize % STREAMS_PER_WORKER)
}

async fn seed_streams(store: &Store, raw: &Raw, workers: usize) {
    for w in 0..workers {
        for s in 0..STREAMS_PER_WORKER {
            let stream = format!("task-w{w}s{s}");
            let events = (0..5)
                .map(|i| NewEvent::new("TaskSigned", 1, payload(i)))
                .collect();
            let req = AppendRequest {
                stream_id: StreamId::parse(&stream).expect("id"),
                expected_version: ExpectedVersion::Any,
                events,
                metadata: meta(),
            };
            store.append(req).await.expect("seed");
            for i in 0..5 {
                raw.command(&stream, i).await;
            }
        }
    }
}

struct Row2 {
    what: String,
    store: String,
    raw: String,
    ratio: f64,
}

async fn bench_backend(
    name: &str,
    store: Store,
    raw: Raw,
    lean: Option<Lean>,
    seconds: u64,
    events: u64,
) -> (Vec<Row2>, Vec<String>) {
    let mut out = Vec::new();
    let mut against_lean = Vec::new();
    if let Ok(file) = std::env::var("BENCH_IMPORT_FILE") {
        let path = std::path::PathBuf::from(file);
        eprintln!("[{name}] importing {}", path.display());
        let t = Instant::now();
        let summary = xingcun_store::transfer::import_jsonl(&store, &path, |_| {})
            .await
            .expect("import");
        let store_rate = summary.imported as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        let n = raw.load_file(&path).await;
        let raw_rate = n as f64 / t.elapsed().as_secs_f64();
        if let Raw::Postgres(pool) = &raw {
            // PostgreSQL's own ceiling for the same rows: `COPY` into a table like the log
            // (its indexes and constraints, no triggers), the CSV made beforehand.
            let csv = copy_csv(&path);
            sqlx::query("create table copy_events (like events including all)")
                .execute(pool)
                .await
                .expect("copy table");
            let t = Instant::now();
            let mut copy = sqlx::postgres::PgPoolCopyExt::copy_in_raw(
                pool,
                "copy copy_events (position, stream_id, category, stream_version, event_id, command_id, \
                 event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash) from stdin (format csv)",
            )
            .await
            .expect("copy");
            for chunk in csv.chunks(1 << 20) {
                copy.send(chunk).await.expect("copy data");
            }
            let copied = copy.finish().await.expect("copy finished");
            let copy_rate = copied as f64 / t.elapsed().as_secs_f64();
            out.push(Row2 {
                what: format!("import against COPY ({copied} rows)"),
                store: format!("{store_rate:.0} events/s"),
                raw: format!("{copy_rate:.0} rows/s"),
                ratio: store_rate / copy_rate,
            });
            sqlx::query("drop table copy_events")
                .execute(pool)
                .await
                .expect("drop copy table");
            // Let the twin's identity continue after the imported positions.
            sqlx::query("select setval(pg_get_serial_sequence('events', 'position'), (select max(position) from events))")
                .execute(pool)
                .await
                .expect("setval");
        }
        out.push(Row2 {
            what: format!("import ({} events, chain re-checked)", summary.imported),
            store: format!("{store_rate:.0} events/s"),
            raw: format!("{raw_rate:.0} events/s"),
            ratio: store_rate / raw_rate,
        });
    }
    eprintln!("[{name}] seeding streams");
    seed_streams(&store, &raw, 32).await;
    for workers in [1, 8, 32] {
        eprintln!("[{name}] commands at concurrency {workers}");
        let s = store.clone();
        let ((sr, s50, s99), store_cpu) = with_cpu(run_commands(workers, seconds, move |w, i| {
            let s = s.clone();
            async move {
                let stream = StreamId::parse(&stream_of(w, i)).expect("id");
                // The stream's last 5 events, as the lean ceiling reads (its version
                // before this command is 5 seeded + one per round of the worker's streams).
                let from = i / STREAMS_PER_WORKER as u64 + 1;
                let current = s.read_stream(&stream, from).await.expect("read");
                let req = AppendRequest {
                    stream_id: stream,
                    expected_version: ExpectedVersion::Exact(
                        current.last().map_or(0, |e| e.stream_version),
                    ),
                    events: vec![NewEvent::new("TaskSigned", 1, payload(i))],
                    metadata: meta(),
                };
                s.append(req).await.expect("append");
            }
        }))
        .await;
        let r = raw.clone();
        let (rr, r50, r99) = run_commands(workers, seconds, move |w, i| {
            let r = r.clone();
            async move { r.command(&stream_of(w, i), i).await }
        })
        .await;
        out.push(Row2 {
            what: format!("commands, concurrency {workers}"),
            store: format!("{sr:.0}/s (p50 {s50:.2} ms, p99 {s99:.2} ms)"),
            raw: format!("{rr:.0}/s (p50 {r50:.2} ms, p99 {r99:.2} ms)"),
            ratio: sr / rr,
        });
        if let Some(lean) = &lean {
            let executor = xingcun_store::Executor::new(store.clone()).with_state_cache(10_000);
            let ((er, e50, e99), executor_cpu) =
                with_cpu(run_commands(workers, seconds, move |w, i| {
                    let executor = executor.clone();
                    async move {
                        executor
                            .execute::<Counter>(
                                &format!("w{w}s{}", i as usize % STREAMS_PER_WORKER),
                                1,
                                &xingcun_domain::Actor::system(),
                                // Every command with its id, as the API sends them:
                                // idempotency is checked on each.
                                xingcun_store::CommandMeta::with_command_id(Uuid::new_v4()),
                            )
                            .await
                            .expect("machinery")
                            .expect("decided");
                    }
                }))
                .await;
            let l = lean.clone();
            let ((lr, l50, l99), lean_cpu) =
                with_cpu(run_commands(workers, seconds, move |w, i| {
                    let l = l.clone();
                    async move { l.command(&stream_of(w, i), i).await }
                }))
                .await;
            against_lean.push(format!(
                "| c{workers} | {lr:.0} (p50 {l50:.2} ms, p99 {l99:.2} ms) | {lean_cpu} | \
                 {sr:.0} (p50 {s50:.2} ms, p99 {s99:.2} ms) | {store_cpu} | {:.2} | \
                 {er:.0} (p50 {e50:.2} ms, p99 {e99:.2} ms) | {executor_cpu} | {:.2} |",
                sr / lr,
                er / lr
            ));
        }
    }

    let batches = events / 1000;
    if batches == 0 {
        return (read_all_phase(name, &store, &raw, out).await, against_lean);
    }
    eprintln!("[{name}] {events} events in batches of 1,000");
    let t = Instant::now();
    for b in 0..batches {
        let req = AppendRequest {
            stream_id: StreamId::parse(&format!("batch-{b}")).expect("id"),
            expected_version: ExpectedVersion::Exact(0),
            events: (0..1000)
                .map(|i| NewEvent::new("TaskSigned", 1, payload(b * 1000 + i)))
                .collect(),
            metadata: meta(),
        };
        store.append(req).await.expect("batch");
    }
    let store_rate = (batches * 1000) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for b in 0..batches {
        raw.batch(&format!("batch-{b}"), b * 1000, 1000).await;
    }
    let raw_rate = (batches * 1000) as f64 / t.elapsed().as_secs_f64();
    out.push(Row2 {
        what: "batches of 1,000 events".into(),
        store: format!("{store_rate:.0} events/s"),
        raw: format!("{raw_rate:.0} events/s"),
        ratio: store_rate / raw_rate,
    });

    (read_all_phase(name, &store, &raw, out).await, against_lean)
}

async fn read_all_phase(name: &str, store: &Store, raw: &Raw, mut out: Vec<Row2>) -> Vec<Row2> {
    eprintln!("[{name}] read-all");
    let t = Instant::now();
    let mut after = 0;
    let mut n = 0_u64;
    loop {
        let page = store.read_all(after, 10_000).await.expect("read");
        let Some(last) = page.last() else { break };
        after = last.position;
        n += page.len() as u64;
    }
    let store_read = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let rn = raw.read_all().await;
    let raw_read = rn as f64 / t.elapsed().as_secs_f64();
    out.push(Row2 {
        what: format!("read-all ({n} events)"),
        store: format!("{store_read:.0} events/s"),
        raw: format!("{raw_read:.0} events/s"),
        ratio: store_read / raw_read,
    });
    out
}

#[tokio::main]
async fn main() {
    let seconds = env_num("BENCH_SECONDS", 5);
    let events = env_num("BENCH_EVENTS", 1_000_000);
    let mut report = Vec::new();

    let (store_db, twin_db) = (fresh_sqlite(), fresh_sqlite());
    let store = Store::connect(store_db.url(), Arc::new(SystemClock))
        .await
        .expect("sqlite store");
    let Store::Sqlite(twin) = Store::connect(twin_db.url(), Arc::new(SystemClock))
        .await
        .expect("sqlite twin")
    else {
        unreachable!()
    };
    let (rows, _) = bench_backend(
        "sqlite",
        store,
        Raw::Sqlite(twin.pool().clone()),
        None,
        seconds,
        events,
    )
    .await;
    report.push(("SQLite", rows));
    let mut against_lean = Vec::new();

    if let Ok(base) = std::env::var("XINGCUN_BENCH_PG_URL") {
        let admin = sqlx::PgPool::connect(&base).await.expect("pg admin");
        let mut names = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..3 {
            let name = format!("xingcun_bench_{}", Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                .execute(&admin)
                .await
                .expect("create");
            urls.push(replace_database(&base, &name));
            names.push(name);
        }
        let store = Store::connect(&urls[0], Arc::new(SystemClock))
            .await
            .expect("pg store");
        let Store::Postgres(twin) = Store::connect(&urls[1], Arc::new(SystemClock))
            .await
            .expect("pg twin")
        else {
            unreachable!()
        };
        sqlx::query(
            "alter table events alter column position add generated by default as identity",
        )
        .execute(twin.pool())
        .await
        .expect("identity");
        let lean = Lean::open(&urls[2]).await;
        let (rows, lean_rows) = bench_backend(
            "postgres",
            store,
            Raw::Postgres(twin.pool().clone()),
            Some(lean.clone()),
            seconds,
            events,
        )
        .await;
        report.push(("PostgreSQL", rows));
        against_lean = lean_rows;
        lean.0.close().await;
        // The two databases can hold gigabytes after a BENCH_IMPORT_FILE run: drop them.
        for name in names {
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists {name} with (force)"
            )))
            .execute(&admin)
            .await
            {
                eprintln!("could not drop the benchmark database {name}: {e}");
            }
        }
    } else {
        eprintln!("XINGCUN_BENCH_PG_URL not set: PostgreSQL skipped");
    }

    if !against_lean.is_empty() {
        println!(
            "PostgreSQL commands against the lean ceiling (CPU: this process / PostgreSQL, share of all cores)\n"
        );
        println!(
            "| concurrency | lean plain sqlx, commands/s | CPU | xingcun store (read 5, append 1), commands/s | CPU | store ÷ lean | executor with its state cache (the API's path), commands/s | CPU | executor ÷ lean |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for line in &against_lean {
            println!("{line}");
        }
        println!();
    }
    println!("| backend | measure | xingcun store | raw sqlx ceiling | ratio |");
    println!("|---|---|---|---|---|");
    for (backend, rows) in report {
        for r in rows {
            println!(
                "| {backend} | {} | {} | {} | {:.2} |",
                r.what, r.store, r.raw, r.ratio
            );
        }
    }
}
