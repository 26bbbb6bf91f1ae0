//! The embedded backend: one SQLite file in WAL mode.
//!
//! Appends go through the process's single writer task (group commit) inside
//! `BEGIN IMMEDIATE`, which takes SQLite's write lock up front, so even a second process on
//! the same file queues behind it (busy timeout) instead of failing half-way. Readers use the
//! pool and never block the writer (WAL). Subscribers in this process are woken through an
//! in-process watch channel; SQLite has no cross-process notification.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::{StoreError, redact_url};
use crate::hash;
use crate::migrations;
use crate::model::RecordedEvent;
use crate::upcast::Upcasters;
use crate::writer::{self, Existing, Head, LogBackend, PlanReads, WriterHandle, spawn_writer};

/// Rows per multi-row INSERT (13 bound values each; SQLite allows 32,766 per statement).
const INSERT_CHUNK: usize = 2_000;
/// Page cache per connection, in KiB (64 MiB; four connections at most).
const SQLITE_CACHE_KIB: u32 = 65_536;

/// The SQLite event store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: WriterHandle,
    log: Arc<SqliteLog>,
    head_tx: Arc<watch::Sender<u64>>,
    head: watch::Receiver<u64>,
    clock: Arc<dyn Clock>,
    upcasters: Arc<Upcasters>,
    /// Opened with [`SqliteStore::open_read_only`]: appends are refused.
    read_only: bool,
}

/// How a store opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Create the file if missing; migrate.
    Create,
    /// The file must exist; migrate.
    Existing,
    /// The file must exist; write nothing.
    ReadOnly,
}

/// Why a SQLite URL can only be read, if it can: the URL asks for it (`mode=ro`,
/// `immutable=1`), or the file exists and this process may not write it (its permission
/// bits, a read-only mount). Root ignores permission bits, so for root only the URL and a
/// read-only mount count.
pub fn read_only_reason(url: &str) -> Option<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == "mode" && value == "ro" {
            return Some("the URL asks for read-only access (mode=ro)".into());
        }
        if key == "immutable" && (value == "1" || value == "true") {
            return Some("the URL opens the file as immutable".into());
        }
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let file = options.get_filename();
    if !file.exists() {
        return None;
    }
    match std::fs::OpenOptions::new().write(true).open(file) {
        Err(e)
            if e.kind() == std::io::ErrorKind::PermissionDenied
                || e.kind() == std::io::ErrorKind::ReadOnlyFilesystem =>
        {
            Some(format!(
                "{} is not writable by this process ({e})",
                file.display()
            ))
        }
        _ => None,
    }
}

/// Tables in the SQLite file named by `url` that are not xingcun's, when xingcun's log is
/// not there yet; nothing for a file that does not exist (see
/// [`crate::Store::foreign_tables`]).
pub async fn foreign_tables(url: &str) -> Result<Vec<String>, StoreError> {
    let unreachable = |e: sqlx::Error| StoreError::Unreachable {
        url: redact_url(url),
        reason: crate::error::describe_sqlx(&e),
    };
    let options = SqliteConnectOptions::from_str(url).map_err(unreachable)?;
    // A file that cannot be written is refused by the opening for writing, with the reason.
    if !options.get_filename().exists() || read_only_reason(url).is_some() {
        return Ok(Vec::new());
    }
    let mut conn =
        SqliteConnection::connect_with(&options.read_only(true).create_if_missing(false))
            .await
            .map_err(unreachable)?;
    let tables: Vec<String> = sqlx::query_scalar(
        "select name from sqlite_master where type in ('table', 'view') \
         and name not like 'sqlite\\_%' escape '\\' order by 1",
    )
    .fetch_all(&mut conn)
    .await?;
    let _ = conn.close().await;
    let ours = ["events", "_sqlx_migrations"]
        .iter()
        .all(|t| tables.iter().any(|n| n == t));
    Ok(if ours { Vec::new() } else { tables })
}

/// Whether a read-only opening failed for want of the WAL index: SQLite reports it as
/// `SQLITE_READONLY` (8), `SQLITE_CANTOPEN` (14) or `SQLITE_IOERR` (10) and their extended
/// codes (`SQLITE_READONLY_CANTINIT`, `SQLITE_IOERR_SHMOPEN` …). Anything else (a file that
/// is not a database) is reported as it is, not retried.
fn is_wal_index_failure(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 8 | 10 | 14))
}

/// A read-only opening cannot migrate: it checks that the file holds xingcun's log at the
/// schema this build expects.
async fn check_schema_current(pool: &SqlitePool, url: &str) -> Result<(), StoreError> {
    let latest = migrations::sqlite()
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let applied: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
            .fetch_one(pool)
            .await;
    let problem = match applied {
        Ok(Some(v)) if v >= latest => return Ok(()),
        Ok(_) => {
            "its schema is older than this xingcun's; run `xingcun migrate` on a writable copy"
        }
        Err(sqlx::Error::Database(db)) if db.message().contains("no such table") => {
            "it holds no xingcun event log"
        }
        Err(e) => return Err(e.into()),
    };
    Err(StoreError::Unreachable {
        url: redact_url(url),
        reason: format!("cannot read it read-only: {problem}"),
    })
}

struct SqliteLog {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if missing) the database file named by a `sqlite://PATH` URL, apply
    /// migrations, and start the writer. A URL that asks for read-only access
    /// (`?mode=ro`, `?immutable=1`) is refused: this opening is for writing.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open(url, clock, Access::Create).await
    }

    /// Open an existing database file; a missing one is an error, never created.
    pub async fn open_existing(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open(url, clock, Access::Existing).await
    }

    /// Open an existing database file for reading only (verify, export, an auditor's copy,
    /// `serve` on a read-only file): nothing is written to it, not even the journal mode
    /// or a migration, and every append is refused with [`StoreError::ReadOnly`].
    ///
    /// A database in WAL mode is read through its `-shm` index. If that cannot be opened or
    /// created (a read-only directory without one, as an auditor who is not the owner
    /// meets it), the file is opened `immutable=1` instead: SQLite then reads it without
    /// any locking, which is right for a copy nobody writes and means that appends another
    /// process makes meanwhile are not seen (logged as a warning).
    pub async fn open_read_only(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open(url, clock, Access::ReadOnly).await
    }

    async fn open(url: &str, clock: Arc<dyn Clock>, access: Access) -> Result<Self, StoreError> {
        let unreachable = |e: sqlx::Error| StoreError::Unreachable {
            url: redact_url(url),
            reason: crate::error::describe_sqlx(&e),
        };
        let options = SqliteConnectOptions::from_str(url).map_err(unreachable)?;
        let file = options.get_filename();
        let in_memory = file == std::path::Path::new(":memory:");
        if access != Access::Create && !in_memory && !file.exists() {
            return Err(StoreError::Unreachable {
                url: redact_url(url),
                reason: format!(
                    "there is no database file at {} (commands that only read never create one)",
                    file.display()
                ),
            });
        }
        let read_only = access == Access::ReadOnly;
        if !read_only && let Some(reason) = read_only_reason(url) {
            return Err(StoreError::ReadOnly(reason));
        }
        let options = options
            .create_if_missing(access == Access::Create)
            .read_only(read_only)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // A city's log outgrows SQLite's default 2 MiB page cache within months; the
            // random-key indexes (event ids, stream ids) then miss it on every insert.
            // Negative = KiB, per connection, allocated only as pages are touched.
            .pragma("cache_size", format!("-{}", SQLITE_CACHE_KIB));
        // Setting the journal mode writes to the file: only a writable opening does it (a
        // read-only one reads the mode the file was written in).
        let options = if read_only {
            options
        } else {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
        };
        let pool_options = SqlitePoolOptions::new().max_connections(4);
        let (pool, options) = match pool_options.clone().connect_with(options.clone()).await {
            Ok(pool) => (pool, options),
            Err(e) if read_only && !in_memory && is_wal_index_failure(&e) => {
                // The WAL index could not be opened: read the file as immutable.
                tracing::warn!(
                    database = %redact_url(url),
                    error = %crate::error::describe_sqlx(&e),
                    "cannot open the database read-only with its WAL index; reading it as immutable \
                     (appends another process makes meanwhile will not be seen)"
                );
                let options = options.immutable(true);
                let pool = pool_options
                    .connect_with(options.clone())
                    .await
                    .map_err(unreachable)?;
                (pool, options)
            }
            Err(e) => return Err(unreachable(e)),
        };
        if read_only {
            check_schema_current(&pool, url).await?;
        } else {
            migrations::sqlite().run(&pool).await?;
        }
        let watcher = SqliteConnection::connect_with(&options)
            .await
            .map_err(unreachable)?;
        let mut store = Self::from_pool(pool, watcher, clock).await?;
        store.read_only = read_only;
        Ok(store)
    }

    async fn from_pool(
        pool: SqlitePool,
        watcher: SqliteConnection,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let head_position: i64 =
            sqlx::query_scalar("select coalesce(max(position), 0) from events")
                .fetch_one(&pool)
                .await?;
        let (head_tx, head) = watch::channel(head_position as u64);
        let head_tx = Arc::new(head_tx);
        spawn_commit_watcher(watcher, Arc::downgrade(&head_tx));
        let log = Arc::new(SqliteLog { pool: pool.clone() });
        let writer = spawn_writer(log.clone(), clock.clone(), head_tx.clone());
        Ok(SqliteStore {
            pool,
            writer,
            log,
            head_tx,
            head,
            clock,
            upcasters: Arc::new(Upcasters::new()),
            read_only: false,
        })
    }

    /// How this process's group commits went ([`writer::GroupCommits`]).
    pub fn group_commits(&self) -> writer::GroupCommits {
        self.writer.group_commits()
    }

    /// Whether appends are refused (opened with [`SqliteStore::open_read_only`]).
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

    /// Read events through these upcasters from now on.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = Arc::new(upcasters);
        self
    }

    /// The pool, for projections and tests that need their own tables in the same file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn fetch(
        &self,
        query: sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments>,
        partial: bool,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::decode_stream(query.fetch(&self.pool), decode, partial).await
    }
}

/// How often the commit watcher asks SQLite whether another connection committed.
const COMMIT_POLL: Duration = Duration::from_millis(25);

/// SQLite has no cross-process notification, so another process's appends to the same file
/// are noticed by polling `PRAGMA data_version` on a connection of our own: a cheap read of
/// a counter SQLite keeps in shared memory, which changes when any other connection commits.
/// Only then is the head read, and subscribers woken. Ends with the store.
fn spawn_commit_watcher(mut conn: SqliteConnection, head_tx: Weak<watch::Sender<u64>>) {
    tokio::spawn(async move {
        let mut seen: Option<i64> = None;
        let mut ticks = tokio::time::interval(COMMIT_POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(head_tx) = head_tx.upgrade() else {
                break;
            };
            let Ok(version) = sqlx::query_scalar::<_, i64>("pragma data_version")
                .fetch_one(&mut conn)
                .await
            else {
                continue;
            };
            if seen.replace(version) == Some(version) {
                continue;
            }
            if let Ok(head) =
                sqlx::query_scalar::<_, i64>("select coalesce(max(position), 0) from events")
                    .fetch_one(&mut conn)
                    .await
            {
                writer::advance(&head_tx, head as u64);
            }
        }
        let _ = conn.close().await;
    });
}

fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get("position")?;
    let corrupt = |reason: String| StoreError::Corrupt {
        position: position as u64,
        reason,
    };
    let uuid = |column: &str, text: &str| {
        Uuid::parse_str(text).map_err(|e| corrupt(format!("{column}: {e}")))
    };
    let event_id: &str = row.try_get("event_id")?;
    let command_id: Option<&str> = row.try_get("command_id")?;
    let recorded_at: &str = row.try_get("recorded_at")?;
    crate::decode_event(
        position,
        row.try_get("stream_id")?,
        row.try_get("category")?,
        row.try_get("stream_version")?,
        uuid("event_id", event_id)?,
        command_id.map(|c| uuid("command_id", c)).transpose()?,
        row.try_get("event_type")?,
        row.try_get("schema_version")?,
        row.try_get("payload")?,
        row.try_get("metadata")?,
        DateTime::parse_from_rfc3339(recorded_at)
            .map_err(|e| corrupt(format!("recorded_at: {e}")))?
            .with_timezone(&Utc),
        row.try_get("prev_hash")?,
        row.try_get("hash")?,
    )
}

impl SqliteLog {
    async fn find_existing(
        &self,
        tx: &mut SqliteTx,
        event_ids: &[Uuid],
        command_ids: &[Uuid],
    ) -> Result<Vec<Existing>, StoreError> {
        let mut found = Vec::new();
        let ids: Vec<(bool, String)> = event_ids
            .iter()
            .map(|id| (false, id.to_string()))
            .chain(command_ids.iter().map(|id| (true, id.to_string())))
            .collect();
        for chunk in ids.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "select event_id, command_id, position, stream_version, stream_id, event_type, payload \
                 from events where event_id in (",
            );
            let mut sep = q.separated(", ");
            for (_, id) in chunk.iter().filter(|(is_cmd, _)| !is_cmd) {
                sep.push_bind(id.clone());
            }
            sep.push_bind("");
            q.push(") or command_id in (");
            let mut sep = q.separated(", ");
            for (_, id) in chunk.iter().filter(|(is_cmd, _)| *is_cmd) {
                sep.push_bind(id.clone());
            }
            sep.push_bind("");
            q.push(")");
            for row in q.build().fetch_all(&mut **tx).await? {
                let event_id: String = row.try_get("event_id")?;
                let command_id: Option<String> = row.try_get("command_id")?;
                found.push(Existing {
                    event_id: Uuid::parse_str(&event_id).unwrap_or_default(),
                    command_id: command_id.and_then(|c| Uuid::parse_str(&c).ok()),
                    position: row.try_get::<i64, _>("position")? as u64,
                    stream_version: row.try_get::<i64, _>("stream_version")? as u64,
                    stream_id: row.try_get("stream_id")?,
                    event_type: row.try_get("event_type")?,
                    payload: row.try_get("payload")?,
                });
            }
        }
        found.sort_by_key(|e| e.position);
        found.dedup_by_key(|e| e.position);
        Ok(found)
    }

    async fn stream_versions(
        &self,
        tx: &mut SqliteTx,
        streams: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let mut versions = HashMap::with_capacity(streams.len());
        for stream in streams {
            let v: Option<i64> =
                sqlx::query_scalar("select max(stream_version) from events where stream_id = ?")
                    .bind(stream)
                    .fetch_one(&mut **tx)
                    .await?;
            versions.insert(stream.clone(), v.unwrap_or(0) as u64);
        }
        Ok(versions)
    }
}

/// A write transaction on SQLite (the log's writer, the read models' runners): a pooled connection with `BEGIN IMMEDIATE` issued
/// by hand rather than sqlx's `Transaction`.
///
/// When a `COMMIT` fails (`SQLITE_FULL`: the disk is full), SQLite may already have rolled
/// the transaction back; sqlx's transaction then returns its connection to the pool still
/// counting an open transaction, and every later `begin` on it fails ("non-zero
/// transaction depth"): one full disk would stop all writes until a restart. Here a
/// connection whose transaction did not end cleanly (a failed commit, or a transaction
/// dropped open on an error) is closed instead of returned, which also rolls back whatever
/// it held; the pool opens a fresh one.
pub struct SqliteTx {
    conn: sqlx::pool::PoolConnection<Sqlite>,
    open: bool,
}

impl std::ops::Deref for SqliteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

impl SqliteTx {
    /// `BEGIN IMMEDIATE` (the write lock up front) on a connection of `pool`.
    pub async fn begin(pool: &SqlitePool) -> Result<SqliteTx, StoreError> {
        // `open` from the start: dropped at any await below (cancelled, or failed), the
        // connection is closed, never returned to the pool in a transaction.
        let mut tx = SqliteTx {
            conn: pool.acquire().await?,
            open: true,
        };
        sqlx::query("begin immediate")
            .execute(&mut *tx.conn)
            .await?;
        Ok(tx)
    }

    /// `COMMIT`; on failure, roll back what SQLite left and close the connection.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        match sqlx::query("commit").execute(&mut *self.conn).await {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                // Whatever state SQLite left the transaction in, roll back what is left
                // of it; the connection is then closed (`open` stays true).
                let _ = sqlx::query("rollback").execute(&mut *self.conn).await;
                Err(e.into())
            }
        }
    }
}

impl LogBackend for SqliteLog {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<Self::Tx, StoreError> {
        SqliteTx::begin(&self.pool).await
    }

    async fn read_for_plan(
        &self,
        tx: &mut Self::Tx,
        event_ids: &[Uuid],
        command_ids: &[Uuid],
        streams: &[String],
    ) -> Result<PlanReads, StoreError> {
        // In-process round trips are cheap on SQLite: three plain queries.
        let head = self.head(tx).await?;
        let existing = self.find_existing(tx, event_ids, command_ids).await?;
        let versions = self.stream_versions(tx, streams).await?;
        Ok((head, existing, versions))
    }

    async fn head(&self, tx: &mut Self::Tx) -> Result<Head, StoreError> {
        // `begin immediate` already holds the write lock.
        let row = sqlx::query(
            "select position, hash, recorded_at from events order by position desc limit 1",
        )
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Head::empty());
        };
        let position: i64 = row.try_get("position")?;
        let recorded_at: String = row.try_get("recorded_at")?;
        Ok(Head {
            position: position as u64,
            hash: row.try_get("hash")?,
            recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        })
    }

    async fn insert(&self, tx: &mut Self::Tx, rows: &[RecordedEvent]) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "insert into events (position, stream_id, category, stream_version, event_id, command_id, event_type, \
                 schema_version, payload, metadata, recorded_at, prev_hash, hash) ",
            );
            q.push_values(chunk, |mut b, e| {
                let category = e
                    .stream_id
                    .split_once('-')
                    .map_or(e.stream_id.as_str(), |(c, _)| c)
                    .to_owned();
                b.push_bind(e.position as i64)
                    .push_bind(e.stream_id.clone())
                    .push_bind(category)
                    .push_bind(e.stream_version as i64)
                    .push_bind(e.event_id.to_string())
                    .push_bind(e.metadata.command_id.map(|c| c.to_string()))
                    .push_bind(e.event_type.clone())
                    .push_bind(i64::from(e.schema_version))
                    .push_bind(e.payload.json().get().to_owned())
                    .push_bind(serde_json::to_string(&e.metadata).unwrap_or_default())
                    .push_bind(hash::format_time(&e.recorded_at))
                    .push_bind(e.prev_hash.clone())
                    .push_bind(e.hash.clone());
            });
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn commit(&self, tx: Self::Tx, _head: u64) -> Result<(), StoreError> {
        tx.commit().await
    }
}

impl_event_log!(
    SqliteStore,
    stream: "where stream_id = ? and stream_version >= ? order by stream_version",
    all: "where position > ? order by position limit ?",
    category: "where category = ? and position > ? order by position limit ?",
    positions: "where position in (select value from json_each(?)) order by position",
    command: "select position, stream_version, stream_id from events where command_id = ? order by position",
    bind_command: |command_id| command_id.to_string(),
);
