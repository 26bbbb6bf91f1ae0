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
        command: $command:literal,
        bind_command: |$id:ident| $bind:expr $(,)?
    ) => {
        impl $crate::EventLog for $store {
            async fn enqueue(
                &self,
                request: $crate::model::AppendRequest,
                chain: Option<&$crate::writer::AppendChain>,
            ) -> Result<$crate::writer::PendingAppend, $crate::StoreError> {
                $crate::validate_request(&request)?;
                self.writer.enqueue(request, chain).await
            }

            async fn read_stream(
                &self,
                stream: &$crate::model::StreamId,
                from_version: u64,
            ) -> Result<Vec<$crate::model::RecordedEvent>, $crate::StoreError> {
                let q = sqlx::query($crate::select_events!($stream))
                    .bind(stream.as_str())
                    .bind(from_version as i64);
                Ok(self
                    .fetch(q)
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
                let q = sqlx::query($crate::select_events!($all))
                    .bind(after as i64)
                    .bind(i64::from(limit));
                self.fetch(q).await
            }

            async fn read_category(
                &self,
                category: &str,
                after: u64,
                limit: u32,
            ) -> Result<Vec<$crate::model::RecordedEvent>, $crate::StoreError> {
                let q = sqlx::query($crate::select_events!($category))
                    .bind(category)
                    .bind(after as i64)
                    .bind(i64::from(limit));
                Ok(self
                    .fetch(q)
                    .await?
                    .into_iter()
                    .map(|e| self.upcasters.upcast(e))
                    .collect())
            }

            async fn import_batch(
                &self,
                rows: Vec<$crate::model::RecordedEvent>,
            ) -> Result<u64, $crate::StoreError> {
                let head = $crate::writer::import_rows(self.log.as_ref(), &rows).await?;
                $crate::writer::advance(&self.head_tx, head);
                Ok(head)
            }

            async fn find_command(
                &self,
                $id: uuid::Uuid,
            ) -> Result<Option<$crate::model::AppendOutcome>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query($command)
                    .bind($bind)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::command_outcome(
                    rows.iter()
                        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?))),
                )
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
pub mod migrations;
pub mod model;
pub mod postgres;
pub mod sqlite;
pub mod subscribe;
pub mod testing;
pub mod transfer;
pub mod upcast;
pub mod verify;
pub mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{StoreError, redact_url};
pub use executor::{CommandMeta, ExecuteError, Executed, Executor, Pipeline, Submitted};
pub use model::{
    AppendOutcome, AppendRequest, EventMetadata, ExpectedVersion, NewEvent, RecordedEvent, StreamId,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use subscribe::subscribe;
pub use upcast::Upcasters;
pub use verify::{Tamper, VerifyReport, verify};
pub use writer::{AppendChain, PendingAppend};

/// `select <all event columns> from events <tail>` as one `&'static str`.
#[macro_export]
#[doc(hidden)]
macro_rules! select_events {
    ($tail:literal) => {
        concat!(
            "select position, stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, \
             recorded_at, prev_hash, hash from events ",
            $tail
        )
    };
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
    /// The outcome of an earlier append by this command, if any.
    fn find_command(
        &self,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<AppendOutcome>, StoreError>> + Send;
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
        } else if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::connect(url, clock).await?))
        } else if !url.contains("://") && !url.is_empty() {
            Ok(Store::Sqlite(
                SqliteStore::connect(&format!("sqlite://{url}"), clock).await?,
            ))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
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
    async fn find_command(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
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

/// Refuse requests that can never be stored, before they reach the writer.
pub(crate) fn validate_request(request: &AppendRequest) -> Result<(), StoreError> {
    if request.events.is_empty() {
        return Err(StoreError::InvalidInput(
            "an append needs at least one event".into(),
        ));
    }
    for event in &request.events {
        if event.event_type.trim().is_empty() || event.event_type.len() > 100 {
            return Err(StoreError::InvalidInput(format!(
                "invalid event type {:?}",
                event.event_type
            )));
        }
        if event.schema_version == 0 {
            return Err(StoreError::InvalidInput(
                "schema versions start at 1".into(),
            ));
        }
        if contains_nul(&event.payload) {
            return Err(StoreError::InvalidInput(format!(
                "event {} holds a NUL character",
                event.event_type
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

/// PostgreSQL's jsonb cannot hold U+0000; refuse it on both backends so logs stay portable.
fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v))
        }
        _ => false,
    }
}

/// The outcome of an earlier command from its (position, stream_version) rows.
pub(crate) fn command_outcome(
    rows: impl Iterator<Item = Result<(i64, i64), sqlx::Error>>,
) -> Result<Option<AppendOutcome>, StoreError> {
    let mut positions = Vec::new();
    let mut version = 0;
    for row in rows {
        let (p, v) = row?;
        positions.push(p as u64);
        version = version.max(v as u64);
    }
    Ok((!positions.is_empty()).then_some(AppendOutcome {
        stream_version: version,
        positions,
        duplicate: true,
    }))
}
