//! The projection runtime: builds, checkpoints, catch-up, live following, blue/green
//! rebuilds, leadership and status. The read models do not see into it: each is a
//! [`Projection`] that turns events into [`Stmt`]s for its own tables.
//!
//! **Builds.** A projection's tables are built per *build*: `village_board_b3` is build 3
//! of `village_board`. The build being served is named in `projection_active`, and a view
//! with the plain name (`village_board`; on PostgreSQL `xingcun_read.village_board`) points
//! at it, so an analyst's SQL never changes. A projection whose code version differs from
//! the active build's, or one asked to rebuild, gets a new build from position 0 while the
//! old one keeps serving; once the new one has reached the head of the log, one transaction
//! points the view and `projection_active` at it and drops the old tables. (The old build
//! serves as it stood: its code is gone, so it is not advanced meanwhile.)
//!
//! **Writing.** A batch's statements go to the database grouped, many rows to a statement,
//! with the outcome of running them one by one ([`crate::batch`]). A build being written has
//! only its primary keys and the indexes its own statements look up by
//! ([`Table::lookups`]); the indexes for readers are made when it is served, one pass each.
//!
//! **Checkpoints.** Each build's position (the last global position applied) is in
//! `projection_builds` and is moved in the same transaction as the rows, guarded by the
//! position it moves from (`… where position = $old`): a crash never skips nor applies
//! twice, and two runners on one build cannot both apply a batch (the second finds the
//! position moved, rolls back and reads again).
//!
//! **Leadership.** On PostgreSQL each projection is run by one process at a time: the one
//! holding a session advisory lock keyed by the projection's name, on a connection of its
//! own. When that process dies its session ends, the lock is free, and another process's
//! runner (retrying every [`STANDBY_RETRY`]) takes over. SQLite serves one machine; the
//! position guard alone keeps two processes on one file correct.
//!
//! **Failure.** An event a projection cannot apply stops that projection, recorded in its
//! build (`state = 'failed'`, the error naming the position and event type); the others go
//! on, each in its own task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;
use xingcun_store::{EventLog, RecordedEvent, Store, StoreError};

use crate::batch::Planner;
use crate::sql::{Arg, ReadDb, ReadTx, Stmt, int, text};

/// Events read per batch (and applied per transaction).
pub const BATCH: u32 = 5_000;
/// How often a standby process tries to take over a projection (PostgreSQL).
pub const STANDBY_RETRY: Duration = Duration::from_secs(2);

/// A table of a read model: its name and its column definitions.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// `(column type, …, primary key (…))`.
    pub columns: &'static str,
    /// Indexes for readers, `(col, col)` each: made when a build is served, in one pass
    /// each, rather than kept up row by row while the whole history is folded into it.
    pub indexes: &'static [&'static str],
    /// Indexes the projection's own statements look rows up by (a lookup that is not by
    /// the primary key): made with the table.
    pub lookups: &'static [&'static str],
}

/// A read model folded from the log.
pub trait Projection: Send + Sync + 'static {
    /// Stable name (also the name of its view, for one-table projections).
    fn name(&self) -> &'static str;
    /// Bump when `apply` or the tables change: the runtime rebuilds into fresh tables.
    fn version(&self) -> u32;
    /// Stream categories read (`task`, `assignment`); empty for every event.
    fn categories(&self) -> &'static [&'static str];
    fn tables(&self) -> &'static [Table];
    /// The statements that fold one event into the tables (`{table}` placeholders).
    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String>;

    /// What folding `events` (a batch) needs to read from this projection's own tables,
    /// read once for the batch before any of it is applied, in its transaction. A
    /// statement that reads another table to write a row cannot be written many rows to a
    /// statement and holds back every write after it on that table ([`crate::batch`]);
    /// reading first, then writing rows by key, can. Default: nothing.
    fn lookups(&self, events: &[RecordedEvent]) -> Vec<Lookup> {
        let _ = events;
        Vec::new()
    }

    /// What [`Projection::lookups`] read (each lookup's rows, text columns, in order), as
    /// the state [`Projection::apply_with`] answers from and keeps current while the batch
    /// is folded. Default: none.
    fn batch_state(&self, rows: Vec<Vec<Vec<Option<String>>>>) -> Option<BatchState> {
        let _ = rows;
        None
    }

    /// [`Projection::apply`] with the batch's state, for a projection that reads first.
    fn apply_with(
        &self,
        event: &RecordedEvent,
        state: Option<&mut BatchState>,
        out: &mut Vec<Stmt>,
    ) -> Result<(), String> {
        let _ = state;
        self.apply(event, out)
    }
}

/// A read a projection makes once per batch ([`Projection::lookups`]): a query with
/// `{table}` placeholders whose columns are all text.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// A projection's state over one batch, built from its lookups ([`Projection::batch_state`]).
pub type BatchState = Box<dyn std::any::Any + Send>;

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("projection {projection} cannot apply event {position} ({event_type}): {reason}")]
    Apply {
        projection: String,
        position: u64,
        event_type: String,
        reason: String,
    },
    #[error("no projection is named {0:?}")]
    Unknown(String),
    /// A newer version of this read model is in service (a newer binary built it): this
    /// older one stands by rather than tear it down.
    #[error(
        "read model {projection} is served at version {serving}, newer than this binary's {ours}"
    )]
    NewerInService {
        projection: String,
        serving: i64,
        ours: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One build of one projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub build: i64,
    pub version: i64,
    pub position: u64,
    /// Hash of the log's event at `position`: ties the build to the log it was folded
    /// from (a log replaced under the same name is noticed, and the build started over).
    pub last_hash: Option<String>,
    pub active: bool,
}

/// Where a projection stands, for `projection_status` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    pub version: i64,
    /// The build being served (none before the first build is complete).
    pub active_build: Option<i64>,
    /// Position of the build being written (the new one while rebuilding).
    pub position: u64,
    pub head: u64,
    pub lag_events: u64,
    /// From the last applied event's recorded time to the head event's.
    pub lag_seconds: i64,
    /// `live`, `catching_up`, `rebuilding` or `failed`.
    pub state: String,
    pub error: Option<String>,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Applied events up to this position.
    Advanced { to: u64, applied: usize },
    /// Nothing new in the log.
    Level,
    /// Another runner moved the build meanwhile; read again.
    Moved,
}

/// Progress of a rebuild, for the command line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub position: u64,
    pub head: u64,
    pub elapsed: Duration,
}

/// How many read models a one-pass rebuild ([`Runtime::catch_up_all_paced`]) writes at
/// once on PostgreSQL. Side by side is about twice as fast on two cores, but it takes the
/// machine: beside a server taking commands it made the log's appends wait (p99 55.8 ms
/// against 20.4 ms with no rebuild, BENCHMARKS.md §4). So by default the rebuild yields:
/// it writes one read model at a time while the log is taking appends from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// All read models at once while the log is quiet; one at a time from the batch after
    /// the head of the log was seen to move (another process appended), until it rests.
    Auto,
    /// At most this many at once (at least one), whatever the log does.
    Width(usize),
}

impl Pace {
    fn width(self, live: bool, models: usize) -> usize {
        match self {
            Pace::Auto if live => 1,
            Pace::Auto => models.max(1),
            Pace::Width(n) => n.clamp(1, models.max(1)),
        }
    }
}

/// The runtime over a store and its read database.
pub struct Runtime {
    store: Store,
    db: ReadDb,
    projections: Vec<Arc<dyn Projection>>,
    /// Bumped each time a runner of this process commits a batch, so a reader waiting for a
    /// position ([`Runtime::watch_applied`]) wakes at once rather than at its next poll.
    applied: tokio::sync::watch::Sender<u64>,
}

const META: &[&str] = &[
    "create table if not exists {projection_builds} (name text not null, build bigint not null, \
     version bigint not null, position bigint not null, last_hash text, last_recorded_at text, \
     state text not null, error text, primary key (name, build))",
    "create table if not exists {projection_active} (name text primary key, build bigint not null)",
];

impl Runtime {
    /// Open the read database beside `store` and make sure the runtime's own tables exist.
    pub async fn open(
        store: Store,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Self, StoreError> {
        let db = ReadDb::for_store(&store).await?;
        let runtime = Runtime {
            store,
            db,
            projections,
            applied: tokio::sync::watch::Sender::new(0),
        };
        // The runtime's own tables from an older layout (they are disposable like the rest):
        // start over. Each build's tables are dropped and made again as builds restart.
        let probe = runtime
            .db
            .fetch(
                &runtime.meta("select name, build, last_hash from {projection_builds} where 1 = 0"),
                &[],
            )
            .await;
        if probe.is_err() {
            for table in ["projection_builds", "projection_active"] {
                let name = runtime.db.qualified(table);
                runtime
                    .db
                    .execute(&format!("drop table if exists {name}"), &[])
                    .await?;
            }
        }
        for sql in META {
            runtime.db.execute(&runtime.meta(sql), &[]).await?;
        }
        Ok(runtime)
    }

    pub fn db(&self) -> &ReadDb {
        &self.db
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn projections(&self) -> &[Arc<dyn Projection>] {
        &self.projections
    }

    pub fn find(&self, name: &str) -> Result<Arc<dyn Projection>, ProjectionError> {
        self.projections
            .iter()
            .find(|p| p.name() == name)
            .cloned()
            .ok_or_else(|| ProjectionError::Unknown(name.to_owned()))
    }

    fn meta(&self, sql: &str) -> String {
        sql.replace(
            "{projection_builds}",
            &self.db.qualified("projection_builds"),
        )
        .replace(
            "{projection_active}",
            &self.db.qualified("projection_active"),
        )
    }

    fn build_table(&self, table: &str, build: i64) -> String {
        self.db.qualified(&format!("{table}_b{build}"))
    }

    /// The builds of a projection, newest first.
    pub async fn builds(&self, name: &str) -> Result<Vec<Build>, StoreError> {
        let rows = self
            .db
            .fetch(
                &self.meta(
                    "select b.build, b.version, b.position, \
                     case when a.build = b.build then 1 else 0 end, b.last_hash \
                     from {projection_builds} b left join {projection_active} a on a.name = b.name \
                     where b.name = $1 order by b.build desc",
                ),
                &[name.into()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Build {
                build: int(r, 0).unwrap_or(0),
                version: int(r, 1).unwrap_or(0),
                position: int(r, 2).unwrap_or(0) as u64,
                active: int(r, 3) == Some(1),
                last_hash: text(r, 4),
            })
            .collect())
    }

    /// The build to write next: the active one if it runs this code's version, else an
    /// unfinished build of this version, else a new one (`fresh` forces a new one unless an
    /// unfinished one of this version exists, which is resumed).
    pub async fn build_to_write(
        &self,
        p: &dyn Projection,
        fresh: bool,
    ) -> Result<Build, ProjectionError> {
        let mut builds = self.builds(p.name()).await?;
        let version = i64::from(p.version());
        if let Some(newer) = builds.iter().find(|b| b.active && b.version > version) {
            return Err(ProjectionError::NewerInService {
                projection: p.name().to_owned(),
                serving: newer.version,
                ours: version,
            });
        }
        let mut ours = builds
            .iter()
            .filter(|b| b.version == version && (!b.active || !fresh));
        if let Some(candidate) = ours
            .clone()
            .find(|b| b.active)
            .or_else(|| ours.find(|b| !b.active))
        {
            if self.folded_from_this_log(candidate).await? {
                return Ok(candidate.clone());
            }
            // The log was replaced under the same name (a new simulation, an import into a
            // fresh file): nothing here belongs to it.
            tracing::warn!(
                projection = p.name(),
                "the read model was built from another log; building it afresh"
            );
            self.forget(p, &builds).await?;
            builds.clear();
        }
        let build = builds.first().map_or(1, |b| b.build + 1);
        let mut tx = self.db.begin().await?;
        for table in p.tables() {
            let name = self.build_table(table.name, build);
            tx.execute(&format!("drop table if exists {name}"), &[])
                .await?;
            // The primary key and the lookups while the build is written; the indexes for
            // readers come when it is served (`activate`).
            let columns = if tx.is_postgres() {
                byte_ordered(table.columns)
            } else {
                table.columns.to_owned()
            };
            tx.execute(&format!("create table {name} {columns}"), &[])
                .await?;
            for (i, columns) in table.lookups.iter().enumerate() {
                let index = format!("{}_b{build}_l{i}", table.name);
                tx.execute(&format!("create index {index} on {name} {columns}"), &[])
                    .await?;
            }
        }
        tx.execute(
            &self.meta(
                "insert into {projection_builds} (name, build, version, position, state) \
                 values ($1, $2, $3, 0, 'building')",
            ),
            &[p.name().into(), build.into(), version.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(Build {
            build,
            version,
            position: 0,
            last_hash: None,
            active: false,
        })
    }

    /// A build as stored now (another runner moved it).
    async fn reload(&self, p: &dyn Projection, id: i64) -> Result<Build, ProjectionError> {
        self.builds(p.name())
            .await?
            .into_iter()
            .find(|b| b.build == id)
            .ok_or_else(|| ProjectionError::Unknown(format!("{} build {id}", p.name())))
    }

    /// Whether the log still holds, at the build's position, the event it was folded up to.
    async fn folded_from_this_log(&self, build: &Build) -> Result<bool, StoreError> {
        let Some(before) = build.position.checked_sub(1) else {
            return Ok(true);
        };
        let event = self.store.read_all_raw(before, 1).await?;
        Ok(event.first().is_some_and(|e| {
            e.position == build.position && Some(&e.hash) == build.last_hash.as_ref()
        }))
    }

    /// Drop every build of a projection, its views and its place in `projection_active`.
    async fn forget(&self, p: &dyn Projection, builds: &[Build]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for build in builds {
            drop_build(&mut tx, self, p, build.build).await?;
        }
        for table in p.tables() {
            tx.execute(
                &format!("drop view if exists {}", self.db.qualified(table.name)),
                &[],
            )
            .await?;
        }
        tx.execute(
            &self.meta("delete from {projection_active} where name = $1"),
            &[p.name().into()],
        )
        .await?;
        tx.commit().await
    }

    /// Apply the next batch of events to `build`.
    pub async fn step(&self, p: &dyn Projection, build: &Build) -> Result<Step, ProjectionError> {
        let events = self.store.read_all(build.position, BATCH).await?;
        self.apply_batch(p, build, &events).await
    }

    /// Apply the events of `events` that come after the build's position (a batch read
    /// once for several read models), in one transaction guarded by that position.
    async fn apply_batch(
        &self,
        p: &dyn Projection,
        build: &Build,
        events: &[RecordedEvent],
    ) -> Result<Step, ProjectionError> {
        let start = events.partition_point(|e| e.position <= build.position);
        let events = &events[start..];
        let Some(last) = events.last() else {
            return Ok(Step::Level);
        };
        let to = last.position;
        let last_hash = last.hash.clone();
        let last_recorded_at = xingcun_store::hash::format_time(&last.recorded_at);
        let categories = p.categories();
        let mut tx = self.db.begin().await?;
        let moved = tx
            .execute(
                &self.meta(
                    "update {projection_builds} set position = $1, last_hash = $2, last_recorded_at = $3, \
                     state = case when state = 'failed' then 'building' else state end, error = null \
                     where name = $4 and build = $5 and position = $6",
                ),
                &[
                    (to as i64).into(),
                    last_hash.into(),
                    last_recorded_at.into(),
                    p.name().into(),
                    build.build.into(),
                    (build.position as i64).into(),
                ],
            )
            .await?;
        if moved != 1 {
            return Ok(Step::Moved);
        }
        let lookups = p.lookups(events);
        let mut state = if lookups.is_empty() {
            None
        } else {
            let mut rows = Vec::with_capacity(lookups.len());
            for lookup in &lookups {
                let sql = self.fill(p, build.build, &lookup.sql);
                rows.push(tx.fetch_texts(&sql, &lookup.args).await?);
            }
            p.batch_state(rows)
        };
        let mut stmts = Vec::new();
        let mut applied = 0;
        for event in events {
            let category = event
                .stream_id
                .split_once('-')
                .map_or(event.stream_id.as_str(), |(c, _)| c);
            if !categories.is_empty() && !categories.contains(&category) {
                continue;
            }
            p.apply_with(event, state.as_mut(), &mut stmts)
                .map_err(|reason| ProjectionError::Apply {
                    projection: p.name().to_owned(),
                    position: event.position,
                    event_type: event.event_type.clone(),
                    reason,
                })?;
            applied += 1;
        }
        self.execute_all(&mut tx, p, build.build, &stmts).await?;
        tx.commit().await?;
        Ok(Step::Advanced { to, applied })
    }

    /// `sql` with the projection's `{table}` placeholders naming the tables of `build`.
    fn fill(&self, p: &dyn Projection, build: i64, sql: &str) -> String {
        p.tables().iter().fold(sql.to_owned(), |sql, t| {
            sql.replace(&format!("{{{}}}", t.name), &self.build_table(t.name, build))
        })
    }

    /// Run a batch's statements with the outcome of running them in order, in as few
    /// round trips as that allows ([`crate::batch`]).
    async fn execute_all(
        &self,
        tx: &mut ReadTx,
        p: &dyn Projection,
        build: i64,
        stmts: &[Stmt],
    ) -> Result<(), StoreError> {
        let fill = |sql: &str| self.fill(p, build, sql);
        Planner::new(p.tables()).run(tx, stmts, &fill).await
    }

    /// Serve `build`: point the views and `projection_active` at it, drop the build it
    /// replaces, in one transaction.
    pub async fn activate(&self, p: &dyn Projection, build: &Build) -> Result<(), StoreError> {
        let previous: Vec<Build> = self
            .builds(p.name())
            .await?
            .into_iter()
            .filter(|b| b.build != build.build && (b.active || b.build < build.build))
            .collect();
        // Statistics for the planner, and on PostgreSQL the dead row versions that folding
        // the history left behind (a board row is rewritten at each step of its task: the
        // 3-year city left 250,000 of them beside 66,000 live rows) marked for reuse: a
        // build is served at once, before autovacuum would look at it.
        for table in p.tables() {
            self.db
                .maintain(&self.build_table(table.name, build.build))
                .await?;
        }
        // The readers' indexes first, in a transaction of their own, so that the swap
        // below holds the views for no longer than it takes to point them.
        let mut tx = self.db.begin().await?;
        for table in p.tables() {
            let name = self.build_table(table.name, build.build);
            for (i, columns) in table.indexes.iter().enumerate() {
                let index = format!("{}_b{}_i{i}", table.name, build.build);
                tx.execute(
                    &format!("create index if not exists {index} on {name} {columns}"),
                    &[],
                )
                .await?;
            }
        }
        tx.commit().await?;
        let mut tx = self.db.begin().await?;
        for table in p.tables() {
            let view = self.db.qualified(table.name);
            tx.execute(&format!("drop view if exists {view}"), &[])
                .await?;
            tx.execute(
                &format!(
                    "create view {view} as select * from {}",
                    self.build_table(table.name, build.build)
                ),
                &[],
            )
            .await?;
        }
        tx.execute(
            &self.meta(
                "insert into {projection_active} (name, build) values ($1, $2) \
                 on conflict (name) do update set build = excluded.build",
            ),
            &[p.name().into(), build.build.into()],
        )
        .await?;
        tx.execute(
            &self.meta(
                "update {projection_builds} set state = 'live' where name = $1 and build = $2",
            ),
            &[p.name().into(), build.build.into()],
        )
        .await?;
        for old in &previous {
            drop_build(&mut tx, self, p, old.build).await?;
        }
        tx.commit().await
    }

    /// Bring every projection level with the log once (tests, `xingcun rebuild`'s end).
    pub async fn catch_up(&self) -> Result<(), ProjectionError> {
        self.catch_up_all(false, &mut |_| {}).await
    }

    /// Bring every projection level with the log in one pass: each batch is read once and
    /// applied to every read model that has not passed it yet (each in its own guarded
    /// transaction), then each new build is served. With `fresh`, every read model is
    /// rebuilt (resuming unfinished builds of its version), as `xingcun rebuild --all`.
    pub async fn catch_up_all(
        &self,
        fresh: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), ProjectionError> {
        self.catch_up_all_paced(fresh, Pace::Auto, progress).await
    }

    /// [`Runtime::catch_up_all`] writing at most as many read models at once as `pace`
    /// allows (PostgreSQL only; SQLite writes them in turn).
    pub async fn catch_up_all_paced(
        &self,
        fresh: bool,
        pace: Pace,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), ProjectionError> {
        let started = Instant::now();
        let mut builds = Vec::with_capacity(self.projections.len());
        for p in &self.projections {
            builds.push(self.build_to_write(p.as_ref(), fresh).await?);
        }
        // PostgreSQL writes the read models side by side, each on its own connection, and
        // the next batch is read meanwhile; SQLite has one write lock for the read file, so
        // there they take turns.
        let side_by_side = matches!(self.db, ReadDb::Postgres(_));
        let from = builds.iter().map(|b| b.position).min().unwrap_or(0);
        let mut events = self.store.read_all(from, BATCH).await?;
        let mut head = self.store.head_position().await?;
        let mut live = false;
        while let Some(last) = events.last() {
            let to = last.position;
            let outcomes = if side_by_side {
                let width = pace.width(live, self.projections.len());
                let (outcomes, next) = tokio::join!(
                    futures_util::stream::iter(
                        self.projections
                            .iter()
                            .zip(builds.iter())
                            .map(|(p, build)| self.apply_batch(p.as_ref(), build, &events)),
                    )
                    .buffered(width)
                    .collect::<Vec<_>>(),
                    self.store.read_all(to, BATCH),
                );
                events = next?;
                outcomes
            } else {
                let mut outcomes = Vec::with_capacity(builds.len());
                for (p, build) in self.projections.iter().zip(builds.iter()) {
                    outcomes.push(self.apply_batch(p.as_ref(), build, &events).await);
                }
                events = self.store.read_all(to, BATCH).await?;
                outcomes
            };
            for ((p, build), outcome) in
                self.projections.iter().zip(builds.iter_mut()).zip(outcomes)
            {
                match outcome {
                    Ok(Step::Advanced { to, .. }) => build.position = to,
                    Ok(Step::Level) => {}
                    Ok(Step::Moved) => {
                        *build = self.reload(p.as_ref(), build.build).await?;
                    }
                    Err(e) => {
                        self.record_failure(p.as_ref(), build, &e).await;
                        return Err(e);
                    }
                }
            }
            let next_from = builds.iter().map(|b| b.position).min().unwrap_or(0);
            if next_from != to {
                // A build was moved by another runner: read from where the slowest stands.
                events = self.store.read_all(next_from, BATCH).await?;
            }
            let now = self.store.head_position().await?;
            // Another process appended while this batch was written: a server is taking
            // commands, and the pace yields to them from the next batch on.
            live = now != head;
            head = now;
            progress(Progress {
                position: to,
                head,
                elapsed: started.elapsed(),
            });
        }
        for (p, build) in self.projections.iter().zip(&builds) {
            if !build.active {
                self.activate(p.as_ref(), build).await?;
            }
        }
        Ok(())
    }

    /// Bring one projection level with the log, building afresh if asked (resuming an
    /// unfinished build of this version if there is one), and serve the result.
    pub async fn catch_up_one(
        &self,
        p: &dyn Projection,
        fresh: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), ProjectionError> {
        let started = Instant::now();
        let mut build = self.build_to_write(p, fresh).await?;
        loop {
            match self.step(p, &build).await {
                Ok(Step::Advanced { to, .. }) => {
                    build.position = to;
                    let head = self.store.head_position().await?;
                    progress(Progress {
                        position: to,
                        head,
                        elapsed: started.elapsed(),
                    });
                }
                Ok(Step::Level) => break,
                Ok(Step::Moved) => {
                    build = self.reload(p, build.build).await?;
                }
                Err(e) => {
                    self.record_failure(p, &build, &e).await;
                    return Err(e);
                }
            }
        }
        if !build.active {
            self.activate(p, &build).await?;
        }
        Ok(())
    }

    /// Record an event the read model cannot apply. Passing failures (the database out of
    /// reach, a lock timeout) are not recorded: the runner retries them.
    async fn record_failure(&self, p: &dyn Projection, build: &Build, error: &ProjectionError) {
        if !matches!(error, ProjectionError::Apply { .. }) {
            return;
        }
        let result = self
            .db
            .execute(
                &self.meta(
                    "update {projection_builds} set state = 'failed', error = $1 where name = $2 and build = $3",
                ),
                &[error.to_string().into(), p.name().into(), build.build.into()],
            )
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a projection's failure");
        }
    }

    /// Run every projection until `cancel`: catch up, then follow the log. One task per
    /// projection, so a slow or failed one does not hold up the others.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let tasks: Vec<_> = self
            .projections
            .clone()
            .into_iter()
            .map(|p| {
                let runtime = self.clone();
                let cancel = cancel.clone();
                tokio::spawn(async move { runtime.run_one(p, cancel).await })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    async fn run_one(&self, p: Arc<dyn Projection>, cancel: CancellationToken) {
        let mut head = self.store.watch_head();
        let mut leader: Option<Leader> = None;
        while !cancel.is_cancelled() {
            if leader.is_none() {
                match Leader::acquire(&self.db, p.name()).await {
                    Ok(Some(l)) => leader = Some(l),
                    Ok(None) => {
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            () = tokio::time::sleep(STANDBY_RETRY) => continue,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(projection = p.name(), error = %e, "read database unavailable");
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            () = tokio::time::sleep(STANDBY_RETRY) => continue,
                        }
                    }
                }
            }
            head.borrow_and_update();
            let outcome = async {
                let build = self.build_to_write(p.as_ref(), false).await?;
                let step = self.step(p.as_ref(), &build).await;
                if let Err(e) = &step {
                    self.record_failure(p.as_ref(), &build, e).await;
                }
                if matches!(step, Ok(Step::Level)) && !build.active {
                    self.activate(p.as_ref(), &build).await?;
                }
                step
            }
            .await;
            match outcome {
                Ok(Step::Advanced { .. }) => {
                    self.applied.send_modify(|n| *n = n.wrapping_add(1));
                    continue;
                }
                Ok(Step::Moved) => continue,
                Ok(Step::Level) => {
                    if let Some(l) = &mut leader
                        && !l.alive().await
                    {
                        leader = None;
                        continue;
                    }
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        _ = head.changed() => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(ProjectionError::NewerInService { .. }) => {
                    tracing::warn!(
                        projection = p.name(),
                        "a newer version is in service; standing by"
                    );
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(STANDBY_RETRY * 5) => {}
                    }
                }
                Err(ProjectionError::Apply { .. } | ProjectionError::Unknown(_)) => {
                    if let Err(e) = outcome {
                        tracing::error!(projection = p.name(), error = %e, "projection stopped");
                    }
                    cancel.cancelled().await;
                    break;
                }
                Err(ProjectionError::Store(e)) => {
                    tracing::warn!(projection = p.name(), error = %e, "projection paused; retrying");
                    leader = None;
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(STANDBY_RETRY) => {}
                    }
                }
            }
        }
    }

    /// The position up to which the build being served of projection `name` has applied
    /// the log (`None` before its first build is complete). Read-your-writes waits on it.
    /// Changes each time a runner of this process has committed a batch (any read model):
    /// wake on it to look at [`Runtime::served_position`] again. Runners in another process
    /// do not signal here; poll for those.
    pub fn watch_applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub async fn served_position(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let rows = self
            .db
            .fetch(
                &self.meta(
                    "select b.position from {projection_builds} b join {projection_active} a \
                     on a.name = b.name and a.build = b.build where b.name = $1",
                ),
                &[name.into()],
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| int(r, 0))
            .map(|p| p.max(0) as u64))
    }

    /// Each projection's version, position, lag and state.
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>, StoreError> {
        let head = self.store.head_position().await?;
        let head_time = match head {
            0 => None,
            h => self
                .store
                .read_all_raw(h - 1, 1)
                .await?
                .first()
                .map(|e| e.recorded_at),
        };
        let mut out = Vec::new();
        for p in &self.projections {
            let rows = self
                .db
                .fetch(
                    &self.meta(
                        "select b.build, b.version, b.position, b.last_recorded_at, b.state, b.error, \
                         case when a.build = b.build then 1 else 0 end \
                         from {projection_builds} b left join {projection_active} a on a.name = b.name \
                         where b.name = $1 order by b.build desc",
                    ),
                    &[p.name().into()],
                )
                .await?;
            let active = rows.iter().find(|r| int(r, 6) == Some(1));
            let writing = rows.first();
            let position = writing.and_then(|r| int(r, 2)).unwrap_or(0) as u64;
            let last = writing
                .and_then(|r| text(r, 3))
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
            let lag_seconds = match (head_time, last) {
                (Some(h), Some(l)) => (h - l.with_timezone(&chrono::Utc)).num_seconds().max(0),
                (Some(_), None) => i64::MAX,
                _ => 0,
            };
            let error = writing.and_then(|r| text(r, 5));
            let rebuilding = writing.is_some_and(|r| int(r, 6) != Some(1));
            let state = if writing.and_then(|r| text(r, 4)).as_deref() == Some("failed") {
                "failed"
            } else if rebuilding || writing.is_none() {
                "rebuilding"
            } else if position < head {
                "catching_up"
            } else {
                "live"
            };
            out.push(ProjectionStatus {
                name: p.name().to_owned(),
                version: i64::from(p.version()),
                active_build: active.and_then(|r| int(r, 0)),
                position,
                head,
                lag_events: head.saturating_sub(position),
                lag_seconds: if position >= head { 0 } else { lag_seconds },
                state: state.to_owned(),
                error,
            });
        }
        Ok(out)
    }
}

async fn drop_build(
    tx: &mut ReadTx,
    runtime: &Runtime,
    p: &dyn Projection,
    build: i64,
) -> Result<(), StoreError> {
    // The row first: a runner mid-batch on this build holds it (its guarded update), so
    // this waits for that batch, and a later batch finds the row gone (Moved) without
    // touching the tables. Dropping the tables first would lock them against the runner's
    // writes while the runner holds the row: a deadlock.
    tx.execute(
        &runtime.meta("delete from {projection_builds} where name = $1 and build = $2"),
        &[p.name().into(), build.into()],
    )
    .await?;
    for table in p.tables() {
        tx.execute(
            &format!(
                "drop table if exists {}",
                runtime.build_table(table.name, build)
            ),
            &[],
        )
        .await?;
    }
    Ok(())
}

/// The right to run one projection (PostgreSQL): a session advisory lock held on a
/// connection of its own. SQLite needs none (see the module doc).
enum Leader {
    Sqlite,
    Postgres(sqlx::PgConnection),
}

impl Leader {
    async fn acquire(db: &ReadDb, name: &str) -> Result<Option<Leader>, StoreError> {
        match db {
            ReadDb::Sqlite(_) => Ok(Some(Leader::Sqlite)),
            ReadDb::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                let key = lock_key(name);
                let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await?;
                if got {
                    Ok(Some(Leader::Postgres(conn)))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
        }
    }

    /// Still holding the lock (its session is alive)?
    async fn alive(&mut self) -> bool {
        match self {
            Leader::Sqlite => true,
            Leader::Postgres(conn) => conn.ping().await.is_ok(),
        }
    }
}

/// Column definitions with every `text` column compared as bytes (`collate "C"`), for
/// PostgreSQL.
///
/// A read model's keys are text (codes, ids, months), and folding a history is mostly
/// B-tree descents comparing them. Under the database's collation PostgreSQL compares
/// text through the C library's `strcoll`, even for `C.UTF-8`; as bytes it compares with
/// `memcmp`. On the 3-year city the one-pass rebuild went from 67–69 s to 54.5 s, and
/// PostgreSQL's CPU from 87–89 to 70 seconds (BENCHMARKS.md §4). Byte order is also what
/// SQLite's read models have always used (`BINARY`), so a reader's `order by` gives one
/// order on both backends, whatever locale the database was created with. Builds made
/// before keep their columns until they are rebuilt; their rows are the same.
fn byte_ordered(columns: &str) -> String {
    let mut out = String::with_capacity(columns.len() + 64);
    let mut rest = columns;
    while let Some(at) = rest.find(" text") {
        let after = &rest[at + " text".len()..];
        out.push_str(&rest[..at + " text".len()]);
        if after.starts_with([' ', ',', ')']) {
            out.push_str(" collate \"C\"");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The advisory lock key of a projection: FNV-1a of its name, in its own key space
/// (the log lock is a different constant).
fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "xingcun-projection:".bytes().chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// Values of an event's body: adjacently tagged domain events keep their fields under
/// `payload`.
pub fn body(event: &RecordedEvent) -> &serde_json::Value {
    match event.payload.get("payload") {
        Some(inner) if inner.is_object() => inner,
        _ => &event.payload,
    }
}

/// Decode an event's payload into a domain event type.
pub fn decode<T: serde::de::DeserializeOwned>(event: &RecordedEvent) -> Result<T, String> {
    event
        .payload
        .decode::<T>()
        .map_err(|e| format!("payload does not decode: {e}"))
}

/// An `Arg` for a text column.
pub fn t(s: impl Into<String>) -> Arg {
    Arg::Text(s.into())
}

#[cfg(test)]
mod tests {
    use super::Pace;

    #[test]
    fn text_columns_are_compared_as_bytes_on_postgres() {
        assert_eq!(
            super::byte_ordered(
                "(village text not null, texts bigint, note text, context text, primary key (village))"
            ),
            "(village text collate \"C\" not null, texts bigint, note text collate \"C\", \
             context text collate \"C\", primary key (village))"
        );
        assert_eq!(
            super::byte_ordered("(a bigint, b text)"),
            "(a bigint, b text collate \"C\")"
        );
        assert_eq!(super::byte_ordered("(a bigint)"), "(a bigint)");
    }

    #[test]
    fn the_pace_yields_to_a_live_log() {
        assert_eq!(Pace::Auto.width(false, 9), 9);
        assert_eq!(Pace::Auto.width(true, 9), 1);
        assert_eq!(Pace::Width(2).width(false, 9), 2);
        assert_eq!(Pace::Width(2).width(true, 9), 2);
        assert_eq!(Pace::Width(0).width(false, 9), 1);
        assert_eq!(Pace::Width(40).width(false, 9), 9);
    }
}
