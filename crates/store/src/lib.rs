//! xingcun-store: the append-only, hash-chained event log on sqlx.
//!
//! One trait, [`EventLog`], two implementations: [`SqliteStore`] (embedded default) and
//! [`PostgresStore`] (a whole city, several server processes). [`Store`] picks one from a
//! database URL at run time. On top of the trait, backend-independent: [`subscribe`] (catch
//! up, then follow live appends), [`verify`] (recompute the hash chain), and the command
//! [`Executor`] that loads, decides and appends with optimistic concurrency.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use uuid::Uuid;

/// The [`EventLog`] methods both stores share. The backends differ only in their SQL
/// placeholders (`?` against `$1`), in how a command id is bound (text against `uuid`) and
/// in row decoding (each store's own `fetch`); everything else is written once, here.
macro_rules! impl_event_log {
    (
        $store:ty,
        stream: $stream:literal,
        all: $all:literal,
        category: $category:literal,
        positions: $positions:literal,
        command: $command:literal,
        bind_command: |$id:ident| $bind:expr $(,)?
    ) => {
        impl $crate::EventLog for $store {
            async fn enqueue(
                &self,
                request: $crate::model::AppendRequest,
                chain: Option<&$crate::writer::AppendChain>,
            ) -> Result<$crate::writer::PendingAppend, $crate::StoreError> {
                self.check_writable()?;
                let request = $crate::admit(request)?;
                self.writer.enqueue(request, chain).await
            }

            async fn read_stream(
                &self,
                stream: &$crate::model::StreamId,
                from_version: u64,
            ) -> Result<Vec<$crate::model::RecordedEvent>, $crate::StoreError> {
                let Some(from_version) = $crate::as_sql_int(from_version) else {
                    return Ok(Vec::new());
                };
                let q = sqlx::query($crate::select_events!($stream))
                    .bind(stream.as_str())
                    .bind(from_version);
                Ok(self
                    .fetch(q, false)
                    .await?
                    .into_iter()
                    .map(|e| self.upcasters.upcast(e))
                    .collect())
            }

            async fn read_all_raw(
                &self,
                after: u64,
                limit: u32,
            ) -> Result<Vec<$crate::model::RecordedEvent>, $crate::StoreError> {
                let Some(after) = $crate::as_sql_int(after) else {
                    return Ok(Vec::new());
                };
                let q = sqlx::query($crate::select_events!($all))
                    .bind(after)
                    .bind(i64::from(limit));
                self.fetch(q, true).await
            }

            async fn read_category(
                &self,
                category: &str,
                after: u64,
                limit: u32,
            ) -> Result<Vec<$crate::model::RecordedEvent>, $crate::StoreError> {
                let Some(after) = $crate::as_sql_int(after) else {
                    return Ok(Vec::new());
                };
                let q = sqlx::query($crate::select_events!($category))
                    .bind(category)
                    .bind(after)
                    .bind(i64::from(limit));
                Ok(self
                    .fetch(q, true)
                    .await?
                    .into_iter()
                    .map(|e| self.upcasters.upcast(e))
                    .collect())
            }

            async fn import_batch(
                &self,
                rows: Vec<$crate::model::RecordedEvent>,
            ) -> Result<u64, $crate::StoreError> {
                self.check_writable()?;
                let head = $crate::writer::import_rows(self.log.as_ref(), &rows).await?;
                $crate::writer::advance(&self.head_tx, head);
                Ok(head)
            }

            async fn read_positions(
                &self,
                positions: &[u64],
            ) -> Result<Vec<$crate::model::RecordedEvent>, $crate::StoreError> {
                let wanted: Vec<i64> = positions
                    .iter()
                    .filter_map(|p| $crate::as_sql_int(*p))
                    .collect();
                if wanted.is_empty() {
                    return Ok(Vec::new());
                }
                let list = serde_json::to_string(&wanted)
                    .map_err(|e| $crate::StoreError::InvalidInput(e.to_string()))?;
                let q = sqlx::query($crate::select_events!($positions)).bind(list);
                Ok(self
                    .fetch(q, false)
                    .await?
                    .into_iter()
                    .map(|e| self.upcasters.upcast(e))
                    .collect())
            }

            async fn find_command(
                &self,
                $id: uuid::Uuid,
            ) -> Result<Option<$crate::model::CommandRecord>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query($command)
                    .bind($bind)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::command_outcome(rows.iter().map(|r| {
                    Ok((
                        r.try_get::<i64, _>(0)?,
                        r.try_get::<i64, _>(1)?,
                        r.try_get::<String, _>(2)?,
                    ))
                }))
            }

            async fn head_position(&self) -> Result<u64, $crate::StoreError> {
                let p: i64 = sqlx::query_scalar("select coalesce(max(position), 0) from events")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(p as u64)
            }

            fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
                self.head.clone()
            }

            fn clock(&self) -> &std::sync::Arc<dyn $crate::Clock> {
                &self.clock
            }

            fn upcasters(&self) -> &$crate::Upcasters {
                &self.upcasters
            }
        }
    };
}

pub mod clock;
pub mod error;
pub mod executor;
pub mod hash;
pub mod limits;
pub mod migrations;
pub mod model;
pub mod payload;
pub mod postgres;
pub mod sqlite;
pub mod subscribe;
pub mod testing;
pub mod tokens;
pub mod transfer;
pub mod upcast;
pub mod verify;
pub mod writer;

pub use clock::{Clock, ManualClock, SystemClock, process_clock};
pub use error::{StoreError, redact_url};
pub use executor::{CommandMeta, ExecuteError, Executed, Executor, Pipeline, Submitted};
pub use model::{
    AppendOutcome, AppendRequest, CommandRecord, EventMetadata, ExpectedVersion, NewEvent,
    RecordedEvent, StreamId,
};
pub use payload::Payload;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use subscribe::subscribe;
pub use tokens::TokenRecord;
pub use upcast::Upcasters;
pub use verify::{Tamper, VerifyReport, verify, verify_with_progress};
pub use writer::{AppendChain, GroupCommits, PendingAppend};

/// `select <all event columns> from events <tail>` as one `&'static str`.
#[macro_export]
#[doc(hidden)]
macro_rules! select_events {
    ($tail:literal) => {
        concat!(
            "select position, stream_id, category, stream_version, event_id, command_id, event_type, schema_version, \
             cast(payload as text) as payload, cast(metadata as text) as metadata, recorded_at, prev_hash, hash \
             from events ",
            $tail
        )
    };
}

/// A position or version as SQL's `bigint`; `None` past its range (nothing is stored there,
/// and a plain cast would wrap to -1 and read from the start).
#[doc(hidden)]
pub fn as_sql_int(n: u64) -> Option<i64> {
    i64::try_from(n).ok()
}

/// Decode rows as they arrive (the database sends the next ones meanwhile). A row that
/// does not decode (a column altered behind the store's back) is never skipped: with
/// `partial`, the rows before it are returned and the next read, which starts at it,
/// reports it by position; without, the read fails at once.
pub(crate) async fn decode_stream<R>(
    mut rows: impl futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    decode: impl Fn(&R) -> Result<RecordedEvent, StoreError>,
    partial: bool,
) -> Result<Vec<RecordedEvent>, StoreError> {
    use futures_util::TryStreamExt;
    let mut events = Vec::new();
    while let Some(row) = rows.try_next().await? {
        match decode(&row) {
            Ok(event) => events.push(event),
            Err(e) if !partial || events.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(events)
}

/// Decode the JSON columns of one row and check the columns that are derived from hashed
/// ones (`category` from the stream id, `command_id` from the metadata): verify relies on
/// this to name an event whose unhashed columns were edited.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_event(
    position: i64,
    stream_id: String,
    category: &str,
    stream_version: i64,
    event_id: Uuid,
    command_id: Option<Uuid>,
    event_type: String,
    schema_version: i64,
    payload: String,
    metadata: &str,
    recorded_at: chrono::DateTime<chrono::Utc>,
    prev_hash: String,
    hash: String,
) -> Result<RecordedEvent, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        position: position as u64,
        reason,
    };
    let payload = Payload::from_text(payload).map_err(|e| corrupt(format!("payload: {e}")))?;
    let metadata: EventMetadata =
        serde_json::from_str(metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    let derived = stream_id
        .split_once('-')
        .map_or(stream_id.as_str(), |(c, _)| c);
    if category != derived {
        return Err(corrupt(format!(
            "category column {category:?} does not match stream {stream_id}"
        )));
    }
    if command_id != metadata.command_id {
        return Err(corrupt(
            "command_id column does not match the event's metadata".into(),
        ));
    }
    Ok(RecordedEvent {
        position: u64::try_from(position).map_err(|_| corrupt("negative position".into()))?,
        stream_id,
        stream_version: u64::try_from(stream_version)
            .map_err(|_| corrupt("negative stream version".into()))?,
        event_id,
        event_type,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| corrupt("schema version out of range".into()))?,
        payload,
        metadata,
        recorded_at,
        prev_hash,
        hash,
    })
}

/// The event log, whatever the backend. Every method is a read or an append: there is no
/// update or delete path.
pub trait EventLog: Clone + Send + Sync + 'static {
    /// Queue an append to the writer and return as soon as it is queued; the outcome comes
    /// with [`PendingAppend::outcome`]. Appends are written in the order they were queued,
    /// each stamped with the store's clock at queueing. A caller that does not wait for
    /// one append before queueing the next lets the writer commit many in one transaction.
    /// Appends queued with the same `chain` are refused from the first one that is not
    /// stored as decided (see [`AppendChain`]).
    fn enqueue(
        &self,
        request: AppendRequest,
        chain: Option<&AppendChain>,
    ) -> impl Future<Output = Result<PendingAppend, StoreError>> + Send;

    /// Append events to one stream in one transaction, checked against the expected version.
    /// Re-sending the same event ids (or command id) appends nothing and returns the
    /// original positions with `duplicate: true`.
    fn append(
        &self,
        request: AppendRequest,
    ) -> impl Future<Output = Result<AppendOutcome, StoreError>> + Send {
        async move { self.enqueue(request, None).await?.outcome().await }
    }
    /// Events of one stream from `from_version` (1 = the first), upcast to current shapes.
    fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;
    /// Events after `after` in global order, as stored (no upcasting): export and verify.
    fn read_all_raw(
        &self,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;
    /// Events of every stream in one category (`task` for all `task-*`), after `after`.
    fn read_category(
        &self,
        category: &str,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;
    /// Append events that already carry positions and hashes, continuing the log exactly
    /// (imports). Returns the new head position.
    fn import_batch(
        &self,
        rows: Vec<RecordedEvent>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The events at these positions (upcast), in log order; positions with no event are
    /// left out. For readers that hold positions (the audit trail) and want the events.
    fn read_positions(
        &self,
        positions: &[u64],
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;
    /// The outcome of an earlier append by this command, if any.
    fn find_command(
        &self,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<CommandRecord>, StoreError>> + Send;
    /// The last global position (0 for an empty log).
    fn head_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Wakes on every append this process can observe (all processes on PostgreSQL).
    fn watch_head(&self) -> watch::Receiver<u64>;
    /// The store's clock: `recorded_at` and the `now` commands are decided at.
    fn clock(&self) -> &Arc<dyn Clock>;
    fn upcasters(&self) -> &Upcasters;

    /// Events after `after` in global order, upcast to current shapes.
    fn read_all(
        &self,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        async move {
            let events = self.read_all_raw(after, limit).await?;
            Ok(events
                .into_iter()
                .map(|e| self.upcasters().upcast(e))
                .collect())
        }
    }
}

/// A store chosen at run time from a URL: `sqlite://PATH` (or a bare path) or `postgres://…`.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Connect, migrate and start the writer.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PostgresStore::connect(url, clock).await?))
        } else if let Some(sqlite) = Self::sqlite_url(url) {
            Ok(Store::Sqlite(SqliteStore::connect(&sqlite, clock).await?))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Connect to a database that must already exist, for commands that only read: a
    /// SQLite path that names no file is an error, not a new empty log. (PostgreSQL never
    /// creates a database.)
    pub async fn open_existing(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        match Self::sqlite_url(url) {
            Some(sqlite) => Ok(Store::Sqlite(
                SqliteStore::open_existing(&sqlite, clock).await?,
            )),
            None => Self::connect(url, clock).await,
        }
    }

    /// Open an existing database for reading only: verify, export, regions, and `serve`
    /// on a read-only SQLite file. Nothing is written, no table created (see
    /// [`SqliteStore::open_read_only`], [`PostgresStore::open_read_only`]); every append
    /// is refused with [`StoreError::ReadOnly`].
    pub async fn open_read_only(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(
                PostgresStore::open_read_only(url, clock).await?,
            ))
        } else if let Some(sqlite) = Self::sqlite_url(url) {
            Ok(Store::Sqlite(
                SqliteStore::open_read_only(&sqlite, clock).await?,
            ))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Why the database at `url` can only be read (a SQLite URL with `mode=ro`, a file
    /// this process may not write), or `None`.
    pub fn read_only_reason(url: &str) -> Option<String> {
        Self::sqlite_url(url).and_then(|u| sqlite::read_only_reason(&u))
    }

    /// How this process's group commits went: how many were written as planned ahead in
    /// one round trip, how many planned on a read under the lock.
    pub fn group_commits(&self) -> writer::GroupCommits {
        match self {
            Store::Sqlite(s) => s.group_commits(),
            Store::Postgres(s) => s.group_commits(),
        }
    }

    /// Whether appends are refused.
    pub fn is_read_only(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.is_read_only(),
            Store::Postgres(s) => s.is_read_only(),
        }
    }

    /// The tables of the database at `url` that are not xingcun's, as long as xingcun's
    /// log (`events` and `_sqlx_migrations`) is not there yet; empty when it is, or when
    /// the database is empty (or, on SQLite, the file does not exist yet).
    ///
    /// A leftover `DATABASE_URL` pointing at another application's database would
    /// otherwise get `events` and `_sqlx_migrations` created in it silently: the commands
    /// that create tables refuse such a database unless told `--allow-foreign-tables`.
    /// Once the log is there the database is xingcun's, and tables beside it (read
    /// models, an operator's own) are not questioned again.
    pub async fn foreign_tables(url: &str) -> Result<Vec<String>, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres::foreign_tables(url).await
        } else if let Some(sqlite) = Self::sqlite_url(url) {
            sqlite::foreign_tables(&sqlite).await
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The `sqlite://` form of a SQLite URL or bare path; `None` for anything else.
    fn sqlite_url(url: &str) -> Option<String> {
        if url.starts_with("sqlite:") {
            Some(url.to_owned())
        } else if !url.contains("://") && !url.is_empty() {
            Some(format!("sqlite://{url}"))
        } else {
            None
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl EventLog for Store {
    async fn enqueue(
        &self,
        request: AppendRequest,
        chain: Option<&AppendChain>,
    ) -> Result<PendingAppend, StoreError> {
        dispatch!(self, s => s.enqueue(request, chain).await)
    }
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_stream(stream, from_version).await)
    }
    async fn read_positions(&self, positions: &[u64]) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_positions(positions).await)
    }
    async fn read_all_raw(&self, after: u64, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_all_raw(after, limit).await)
    }
    async fn read_category(
        &self,
        category: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_category(category, after, limit).await)
    }
    async fn import_batch(&self, rows: Vec<RecordedEvent>) -> Result<u64, StoreError> {
        dispatch!(self, s => s.import_batch(rows).await)
    }
    async fn find_command(&self, command_id: Uuid) -> Result<Option<CommandRecord>, StoreError> {
        dispatch!(self, s => s.find_command(command_id).await)
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.head_position().await)
    }
    fn watch_head(&self) -> watch::Receiver<u64> {
        dispatch!(self, s => s.watch_head())
    }
    fn clock(&self) -> &Arc<dyn Clock> {
        dispatch!(self, s => s.clock())
    }
    fn upcasters(&self) -> &Upcasters {
        dispatch!(self, s => s.upcasters())
    }
}

/// Refuse requests that can never be stored, before they reach the writer (and so before
/// the log lock is taken). The rules are in [`limits`].
pub(crate) fn validate_request(request: &AppendRequest) -> Result<(), StoreError> {
    if request.events.is_empty() {
        return Err(StoreError::InvalidInput(
            "an append needs at least one event".into(),
        ));
    }
    if request.events.len() > limits::MAX_APPEND_EVENTS {
        return Err(StoreError::InvalidInput(format!(
            "an append holds at most {} events",
            limits::MAX_APPEND_EVENTS
        )));
    }
    limits::check_metadata(&request.metadata)?;
    let mut bytes = 0usize;
    for event in &request.events {
        bytes += limits::check_event(&event.event_type, event.schema_version, &event.payload)?;
        if bytes > limits::MAX_APPEND_BYTES {
            return Err(StoreError::InvalidInput(format!(
                "an append holds at most {} bytes of payload",
                limits::MAX_APPEND_BYTES
            )));
        }
    }
    let mut ids: Vec<Uuid> = request.events.iter().map(|e| e.event_id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != request.events.len() {
        return Err(StoreError::InvalidInput(
            "event ids repeat within one append".into(),
        ));
    }
    Ok(())
}

/// [`validate_request`], dropping a refused request without recursion (its payload may
/// be nested deeper than the stack allows a recursive drop to go).
pub(crate) fn admit(request: AppendRequest) -> Result<AppendRequest, StoreError> {
    match validate_request(&request) {
        Ok(()) => Ok(request),
        Err(e) => {
            for event in request.events {
                limits::dismantle(event.payload);
            }
            Err(e)
        }
    }
}

/// What an earlier command wrote, from its (position, stream_version, stream_id) rows.
pub(crate) fn command_outcome(
    rows: impl Iterator<Item = Result<(i64, i64, String), sqlx::Error>>,
) -> Result<Option<CommandRecord>, StoreError> {
    let mut positions = Vec::new();
    let mut version = 0;
    let mut stream_id = String::new();
    for row in rows {
        let (p, v, s) = row?;
        positions.push(p as u64);
        version = version.max(v as u64);
        stream_id = s;
    }
    Ok((!positions.is_empty()).then_some(CommandRecord {
        stream_id,
        outcome: AppendOutcome {
            stream_version: version,
            positions,
            duplicate: true,
        },
    }))
}
