//! The city-scale backend: PostgreSQL, several server processes against one primary.
//!
//! Appends are serialised by a transaction-scoped advisory lock (see `writer` for why) and
//! grouped per process by the writer task; rows go in with one `unnest` insert per group.
//! Every committing append issues `pg_notify('xingcun_events', head)` inside its
//! transaction, so the notification is delivered exactly when the rows become visible, to
//! every process that listens: subscribers in all instances wake without polling.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::{StoreError, redact_url};
use crate::migrations;
use crate::model::{AppendOutcome, AppendRequest, RecordedEvent};
use crate::upcast::Upcasters;
use crate::writer::{self, Existing, Head, LogBackend, PlanReads, WriterHandle, spawn_writer};

/// Key of the advisory lock that serialises appends to the log: "xingcun" in ASCII,
/// 0x78696e6763756e = 33940422599251566, written out in [`BEGIN_LOCKED`].
/// `BEGIN` and the log lock, sent as one simple-protocol message.
const BEGIN_LOCKED: &str = "begin; select pg_advisory_xact_lock(33940422599251566)";
/// How long a session of ours waits for the log lock before the append fails as
/// `UNAVAILABLE` (nothing written; the caller may retry).
const LOCK_TIMEOUT: &str = "10s";
/// How long a session of ours may sit idle inside a transaction before PostgreSQL ends it.
/// A writer paused while holding the log lock (a stopped process, a debugger, a frozen VM)
/// would otherwise stall every writer of the city for as long as it sleeps; with this the
/// server ends its session, its transaction rolls back (nothing half-written) and the
/// lock passes on. Our own transactions are never idle between statements for more than
/// the milliseconds it takes to hash a group.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "5s";
/// The LISTEN/NOTIFY channel that carries the new head position.
pub const NOTIFY_CHANNEL: &str = "xingcun_events";

/// The PostgreSQL event store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    log: Arc<PgLog>,
    writer: WriterHandle,
    head_tx: Arc<watch::Sender<u64>>,
    head: watch::Receiver<u64>,
    clock: Arc<dyn Clock>,
    upcasters: Arc<Upcasters>,
    /// Opened with [`PostgresStore::open_read_only`]: appends are refused.
    read_only: bool,
}

struct PgLog {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect, apply migrations, start the writer and the LISTEN task.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open(url, clock, false).await
    }

    /// Connect for reading only (verify, export, regions): no migration, so a command that
    /// only reads never creates tables (in another application's database, say); the
    /// schema is checked instead, and appends are refused with [`StoreError::ReadOnly`].
    pub async fn open_read_only(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open(url, clock, true).await
    }

    async fn open(url: &str, clock: Arc<dyn Clock>, read_only: bool) -> Result<Self, StoreError> {
        let options = connect_options(url)?.options([
            ("lock_timeout", LOCK_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
        ]);
        // One plain connection first: a pool only reports "pool timed out" after its
        // acquire timeout, where this names the cause (refused, no such database, bad
        // password) at once.
        let probe = probe(url, &options).await?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(|e| unreachable(url, &options, &e))?;
        if read_only {
            check_schema_current(&pool, url).await?;
        } else {
            migrations::postgres().run(&pool).await?;
        }
        let mut store = Self::from_pool(pool, clock).await?;
        store.read_only = read_only;
        Ok(store)
    }

    async fn from_pool(pool: PgPool, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let head_position: i64 =
            sqlx::query_scalar("select coalesce(max(position), 0) from events")
                .fetch_one(&pool)
                .await?;
        let (head_tx, head) = watch::channel(head_position as u64);
        let head_tx = Arc::new(head_tx);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        spawn_listener(listener, head_tx.clone());
        let log = Arc::new(PgLog { pool: pool.clone() });
        let writer = spawn_writer(log.clone(), clock.clone(), head_tx.clone());
        Ok(PostgresStore {
            pool,
            log,
            writer,
            head_tx,
            head,
            clock,
            upcasters: Arc::new(Upcasters::new()),
            read_only: false,
        })
    }

    /// Read events through these upcasters from now on.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = Arc::new(upcasters);
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How this process's group commits went ([`writer::GroupCommits`]).
    pub fn group_commits(&self) -> writer::GroupCommits {
        self.writer.group_commits()
    }

    /// Whether appends are refused (opened with [`PostgresStore::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Appends are refused on a read-only store, before they reach the writer.
    fn check_writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(
                "the database was opened read-only".into(),
            ));
        }
        Ok(())
    }

    /// Write an append inside a transaction and hold it open, holding the log lock, until
    /// [`HeldAppend::commit`]. Bypasses group commit. Used to prove that readers never see
    /// a later append while an earlier one is in flight; also usable for maintenance that
    /// must pause writers.
    pub async fn begin_held_append(
        &self,
        request: AppendRequest,
    ) -> Result<HeldAppend, StoreError> {
        let request = crate::admit(request)?;
        let mut tx = self.log.begin().await?;
        let received = writer::Received::now(request, self.clock.as_ref());
        let (mut outcomes, rows, head) = writer::plan_in_tx(
            self.log.as_ref(),
            &mut tx,
            std::slice::from_ref(&received),
            true,
        )
        .await?;
        if !rows.is_empty() {
            self.log.insert(&mut tx, &rows).await?;
        }
        let outcome = outcomes.pop().unwrap_or(Err(StoreError::Closed))?;
        Ok(HeldAppend {
            tx,
            log: self.log.clone(),
            head_tx: self.head_tx.clone(),
            head,
            outcome,
        })
    }

    async fn fetch(
        &self,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
        partial: bool,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::decode_stream(query.fetch(&self.pool), decode, partial).await
    }
}

/// An append written but not committed; it holds the log lock until committed or dropped.
pub struct HeldAppend {
    tx: Transaction<'static, Postgres>,
    log: Arc<PgLog>,
    head_tx: Arc<watch::Sender<u64>>,
    head: u64,
    outcome: AppendOutcome,
}

impl HeldAppend {
    pub async fn commit(self) -> Result<AppendOutcome, StoreError> {
        self.log.commit(self.tx, self.head).await?;
        writer::advance(&self.head_tx, self.head);
        Ok(self.outcome)
    }
}

/// A read-only opening cannot migrate: it checks that the database holds xingcun's log at
/// the schema this build expects.
async fn check_schema_current(pool: &PgPool, url: &str) -> Result<(), StoreError> {
    let latest = migrations::postgres()
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let present: bool = sqlx::query_scalar(
        "select to_regclass('_sqlx_migrations') is not null and to_regclass('events') is not null",
    )
    .fetch_one(pool)
    .await?;
    let applied: Option<i64> = if present {
        sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
            .fetch_one(pool)
            .await?
    } else {
        None
    };
    let problem = match applied {
        Some(v) if v >= latest => return Ok(()),
        Some(_) => "its schema is older than this xingcun's; run `xingcun migrate` first",
        None => "it holds no xingcun event log (`xingcun migrate` creates one)",
    };
    Err(StoreError::Unreachable {
        url: redact_url(url),
        reason: format!("cannot read it: {problem}"),
    })
}

/// The connection options of `url`.
///
/// A connection to this machine (`localhost`, a loopback address, a Unix socket) does not
/// negotiate TLS unless the URL (`sslmode=…`) or `PGSSLMODE` asks for it: encrypting
/// loopback traffic protects nothing and costs both sides CPU on every query (sqlx's
/// default, `prefer`, encrypts whenever the server offers it, as Debian's does). Any other
/// host keeps sqlx's default.
fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Unreachable {
        url: redact_url(url),
        reason: crate::error::describe_sqlx(&e),
    })?;
    let asks_for_tls = url.contains("sslmode=")
        || url.contains("ssl-mode=")
        || std::env::var_os("PGSSLMODE").is_some();
    Ok(if is_local(options.get_host()) && !asks_for_tls {
        options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    } else {
        options
    })
}

/// Whether `host` is this machine: `localhost`, a loopback address or a socket directory.
fn is_local(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn probe(url: &str, options: &PgConnectOptions) -> Result<PgConnection, StoreError> {
    PgConnection::connect_with(options)
        .await
        .map_err(|e| unreachable(url, options, &e))
}

/// Why a connection failed, with what to do where the cause is clear.
fn unreachable(url: &str, options: &PgConnectOptions, e: &sqlx::Error) -> StoreError {
    let host = options.get_host();
    let port = options.get_port();
    let database = options.get_database().unwrap_or(options.get_username());
    let reason = match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("connection refused at {host}:{port} (is PostgreSQL running there?)")
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => format!(
            "the database {database:?} does not exist on {host}:{port}; xingcun creates its tables \
             but not the database: create it with `createdb -h {host} -p {port} -U {user} {database}` \
             (or `create database \"{database}\";` in psql)",
            user = options.get_username(),
        ),
        other => crate::error::describe_sqlx(other),
    };
    StoreError::Unreachable {
        url: redact_url(url),
        reason,
    }
}

/// Tables in the database named by `url` that are not xingcun's, when xingcun's log is not
/// there yet (see [`crate::Store::foreign_tables`]).
pub async fn foreign_tables(url: &str) -> Result<Vec<String>, StoreError> {
    let options = connect_options(url)?;
    let mut conn = probe(url, &options).await?;
    let ours: bool = sqlx::query_scalar(
        "select to_regclass('events') is not null and to_regclass('_sqlx_migrations') is not null",
    )
    .fetch_one(&mut conn)
    .await?;
    let tables = if ours {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "select n.nspname || '.' || c.relname from pg_class c \
             join pg_namespace n on n.oid = c.relnamespace \
             where c.relkind in ('r', 'p', 'v', 'm', 'f') \
             and n.nspname not in ('pg_catalog', 'information_schema') \
             and n.nspname not like 'pg\\_toast%' \
             order by 1 limit 20",
        )
        .fetch_all(&mut conn)
        .await?
    };
    let _ = conn.close().await;
    Ok(tables)
}

/// First and longest wait before the LISTEN connection is tried again after a failure.
const LISTEN_RETRY_FIRST: Duration = Duration::from_millis(500);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(60);

/// The wait after `retry` when the LISTEN connection fails again: twice as long, at most
/// [`LISTEN_RETRY_MAX`].
fn next_listen_retry(retry: Duration) -> Duration {
    (retry * 2).min(LISTEN_RETRY_MAX)
}

/// Follows `pg_notify` from every process. While PostgreSQL is away the connection is
/// retried after 0.5 s, then twice as long each time up to a minute, and each failed try is
/// logged: the outage shows in the log at once and then ever more rarely, not twice a
/// second for as long as it lasts. The return of the connection is logged once.
fn spawn_listener(mut listener: PgListener, head_tx: Arc<watch::Sender<u64>>) {
    tokio::spawn(async move {
        let mut retry = LISTEN_RETRY_FIRST;
        let mut failures: u32 = 0;
        loop {
            tokio::select! {
                () = head_tx.closed() => break,
                received = listener.recv() => match received {
                    Ok(note) => {
                        if failures > 0 {
                            tracing::info!(failures, "LISTEN connection restored");
                            failures = 0;
                            retry = LISTEN_RETRY_FIRST;
                        }
                        if let Ok(head) = note.payload().parse::<u64>() {
                            writer::advance(&head_tx, head);
                        }
                    }
                    Err(e) => {
                        // PgListener reconnects by itself on the next recv.
                        failures += 1;
                        tracing::warn!(
                            error = %crate::error::describe_sqlx(&e),
                            failures,
                            retry_in_secs = retry.as_secs_f32(),
                            "LISTEN connection to PostgreSQL lost; retrying"
                        );
                        tokio::select! {
                            () = head_tx.closed() => break,
                            () = tokio::time::sleep(retry) => {}
                        }
                        retry = next_listen_retry(retry);
                    }
                },
            }
        }
    });
}

fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    crate::decode_event(
        row.try_get("position")?,
        row.try_get("stream_id")?,
        row.try_get("category")?,
        row.try_get("stream_version")?,
        row.try_get("event_id")?,
        row.try_get("command_id")?,
        row.try_get("event_type")?,
        i64::from(row.try_get::<i32, _>("schema_version")?),
        row.try_get("payload")?,
        row.try_get("metadata")?,
        row.try_get::<DateTime<Utc>, _>("recorded_at")?,
        row.try_get("prev_hash")?,
        row.try_get("hash")?,
    )
}

/// Bind `rows` as the thirteen column arrays `$1..=$13` of an insert into `events`.
fn bind_rows<'q>(
    query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    rows: &[RecordedEvent],
) -> Result<sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>, StoreError> {
    let mut metadata = Vec::with_capacity(rows.len());
    for e in rows {
        metadata.push(
            serde_json::to_value(&e.metadata)
                .map_err(|err| StoreError::InvalidInput(err.to_string()))?,
        );
    }
    Ok(query
        .bind(rows.iter().map(|e| e.position as i64).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.stream_id.clone()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|e| {
                    e.stream_id
                        .split_once('-')
                        .map_or(e.stream_id.as_str(), |(c, _)| c)
                        .to_owned()
                })
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|e| e.stream_version as i64)
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|e| e.event_id).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|e| e.metadata.command_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|e| e.event_type.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|e| e.schema_version as i32)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|e| sqlx::types::Json(e.payload.json()))
                .collect::<Vec<_>>(),
        )
        .bind(metadata)
        .bind(rows.iter().map(|e| e.recorded_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.prev_hash.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|e| e.hash.clone()).collect::<Vec<_>>()))
}

impl LogBackend for PgLog {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self) -> Result<Self::Tx, StoreError> {
        // BEGIN and the lock in one round trip (simple query protocol, two statements).
        Ok(self.pool.begin_with(BEGIN_LOCKED).await?)
    }

    async fn head(&self, tx: &mut Self::Tx) -> Result<Head, StoreError> {
        let row = sqlx::query(
            "select position, hash, recorded_at from events order by position desc limit 1",
        )
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Head::empty());
        };
        Ok(Head {
            position: row.try_get::<i64, _>("position")? as u64,
            hash: row.try_get("hash")?,
            recorded_at: Some(row.try_get("recorded_at")?),
        })
    }

    async fn read_for_plan(
        &self,
        tx: &mut Self::Tx,
        event_ids: &[Uuid],
        command_ids: &[Uuid],
        streams: &[String],
    ) -> Result<PlanReads, StoreError> {
        // One round trip: the head, earlier events of these ids (each lookup on its own
        // index: an OR of the two would scan the table), and each stream's version.
        let rows = sqlx::query(
            "(select 'head' as kind, null::text as stream_id, position, 0::int8 as version, hash, \
                     null::uuid as event_id, null::uuid as command_id, recorded_at, \
                     null::text as event_type, null::text as payload \
                from events order by position desc limit 1) \
             union all \
             (select 'event', stream_id, position, stream_version, null, event_id, command_id, null, \
                     event_type, payload::text \
                from events where event_id = any($1)) \
             union all \
             (select 'event', stream_id, position, stream_version, null, event_id, command_id, null, \
                     event_type, payload::text \
                from events where command_id = any($2)) \
             union all \
             (select 'version', s.stream_id, 0, \
                     coalesce((select max(e.stream_version) from events e where e.stream_id = s.stream_id), 0), \
                     null, null, null, null, null, null \
                from unnest($3::text[]) as s(stream_id))",
        )
        .bind(event_ids)
        .bind(command_ids)
        .bind(streams)
        .fetch_all(&mut **tx)
        .await?;
        let mut head = Head::empty();
        let mut existing = Vec::new();
        let mut versions = HashMap::with_capacity(streams.len());
        for row in &rows {
            match row.try_get::<&str, _>("kind")? {
                "head" => {
                    head = Head {
                        position: row.try_get::<i64, _>("position")? as u64,
                        hash: row.try_get("hash")?,
                        recorded_at: row.try_get("recorded_at")?,
                    }
                }
                "event" => existing.push(Existing {
                    event_id: row.try_get("event_id")?,
                    command_id: row.try_get("command_id")?,
                    position: row.try_get::<i64, _>("position")? as u64,
                    stream_version: row.try_get::<i64, _>("version")? as u64,
                    stream_id: row.try_get("stream_id")?,
                    event_type: row.try_get("event_type")?,
                    payload: row.try_get("payload")?,
                }),
                _ => {
                    versions.insert(
                        row.try_get("stream_id")?,
                        row.try_get::<i64, _>("version")? as u64,
                    );
                }
            }
        }
        existing.sort_by_key(|e| e.position);
        existing.dedup_by_key(|e| e.position);
        Ok((head, existing, versions))
    }

    async fn insert(&self, tx: &mut Self::Tx, rows: &[RecordedEvent]) -> Result<(), StoreError> {
        let head = rows.last().map_or(0, |e| e.position);
        bind_rows(
            sqlx::query(
                "with inserted as (insert into events (position, stream_id, category, stream_version, event_id, command_id, \
                 event_type, schema_version, payload, metadata, recorded_at, prev_hash, hash) \
                 select * from unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::uuid[], $6::uuid[], $7::text[], \
                 $8::int4[], $9::jsonb[], $10::jsonb[], $11::timestamptz[], $12::text[], $13::text[]) \
                 returning 1) \
                 select pg_notify($14, $15)",
            ),
            rows,
        )?
        .bind(NOTIFY_CHANNEL)
        .bind(head.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    const PLANS_AHEAD: bool = true;

    /// `xingcun_append` (migration 0003): the lock, the checks and the insert in one
    /// statement, committed on its own.
    async fn append_planned(
        &self,
        head: &Head,
        command_ids: &[Uuid],
        versions: &[(String, u64)],
        rows: &[RecordedEvent],
    ) -> Result<bool, StoreError> {
        let answer = bind_rows(
            sqlx::query(
                "select xingcun_append($1::int8[], $2::text[], $3::text[], $4::int8[], $5::uuid[], $6::uuid[], \
                 $7::text[], $8::int4[], $9::jsonb[], $10::jsonb[], $11::timestamptz[], $12::text[], $13::text[], \
                 $14, $15, $16, $17::uuid[], $18::text[], $19::int8[])",
            ),
            rows,
        )?
        .bind(NOTIFY_CHANNEL)
        .bind(head.position as i64)
        .bind(head.hash.as_str())
        .bind(command_ids)
        .bind(versions.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>())
        .bind(versions.iter().map(|(_, v)| *v as i64).collect::<Vec<_>>())
        .fetch_one(&self.pool)
        .await?;
        Ok(answer.try_get::<&str, _>(0)? == "written")
    }

    /// The NOTIFY was queued by the insert; PostgreSQL delivers it at commit.
    async fn commit(&self, tx: Self::Tx, _head: u64) -> Result<(), StoreError> {
        Ok(tx.commit().await?)
    }
}

impl_event_log!(
    PostgresStore,
    stream: "where stream_id = $1 and stream_version >= $2 order by stream_version",
    all: "where position > $1 order by position limit $2",
    category: "where category = $1 and position > $2 order by position limit $3",
    positions: "where position in (select cast(jsonb_array_elements_text(cast($1 as jsonb)) as bigint)) order by position",
    command: "select position, stream_version, stream_id from events where command_id = $1 order by position",
    bind_command: |command_id| command_id,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// An outage is logged at 0.5 s, 1 s, 2 s … then once a minute: 16 lines in the first
    /// ten minutes, not 1,200.
    #[test]
    fn listen_retries_slow_down_to_once_a_minute() {
        let mut retry = LISTEN_RETRY_FIRST;
        let mut waited = Duration::ZERO;
        let mut tries = 0;
        while waited < Duration::from_secs(600) {
            waited += retry;
            retry = next_listen_retry(retry);
            tries += 1;
        }
        assert_eq!(retry, LISTEN_RETRY_MAX);
        assert!(tries <= 20, "{tries} tries in ten minutes");
    }

    #[test]
    fn local_connections_skip_tls_unless_asked() {
        use sqlx::postgres::PgSslMode;
        let mode = |url: &str| format!("{:?}", connect_options(url).expect("url").get_ssl_mode());
        let disable = format!("{:?}", PgSslMode::Disable);
        assert_eq!(mode("postgres://postgres@127.0.0.1:5432/x"), disable);
        assert_eq!(mode("postgres://postgres@localhost/x"), disable);
        assert_eq!(mode("postgres://postgres@[::1]/x"), disable);
        assert_eq!(mode("postgres:///x?host=/var/run/postgresql"), disable);
        if std::env::var_os("PGSSLMODE").is_none() {
            assert_eq!(
                mode("postgres://postgres@127.0.0.1/x?sslmode=require"),
                format!("{:?}", PgSslMode::Require)
            );
            assert_ne!(mode("postgres://postgres@db.example.org/x"), disable);
        }
    }
}
