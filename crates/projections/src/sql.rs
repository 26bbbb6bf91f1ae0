//! Where read models live, and the little SQL both backends share.
//!
//! **PostgreSQL**: in the log's own database, in the schema `xingcun_read`, so a town's
//! analyst points Metabase, Superset or psql at one database and sees the log (`events`)
//! and every read model side by side.
//!
//! **SQLite**: in a file beside the log's (`xingcun.db` → `xingcun.read.db`), not in the
//! log's own file. SQLite has one write lock per file: read models in the log's file would
//! make every append wait behind a projection batch, and a full rebuild would stall the
//! command path for as long as it writes. In their own file they take their own lock; the
//! log's file is only read. The read file is disposable: delete it and it is rebuilt.
//!
//! Statements are written once, in the SQL both backends accept (`$1` placeholders in
//! order of first use, `insert … on conflict … do update`, `bigint` and `text`), with
//! `{table}` placeholders the runtime fills with the table of the build being written.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use xingcun_store::{Store, StoreError};

/// The PostgreSQL schema that holds every read model.
pub const PG_SCHEMA: &str = "xingcun_read";

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}

/// One statement a projection wants run: SQL with `{table}` placeholders, and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub sql: &'static str,
    pub args: Vec<Arg>,
}

impl Stmt {
    pub fn new(sql: &'static str, args: Vec<Arg>) -> Self {
        Stmt { sql, args }
    }
}

/// The database that holds the read models.
#[derive(Clone)]
pub enum ReadDb {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on the read database.
pub enum ReadTx {
    /// The store's guarded SQLite transaction: a failed commit (a full disk) closes its
    /// connection rather than returning it to the pool still in a transaction.
    Sqlite(xingcun_store::sqlite::SqliteTx),
    Postgres(Transaction<'static, Postgres>),
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::OptInt(v) => q.bind(*v),
                Arg::OptText(v) => q.bind(v.as_deref()),
            };
        }
        q
    }};
}

impl ReadDb {
    /// The read database that goes with a store: PostgreSQL's own database (schema
    /// `xingcun_read`), or the SQLite file beside the log's.
    pub async fn for_store(store: &Store) -> Result<Self, StoreError> {
        match store {
            Store::Postgres(pg) => {
                let db = ReadDb::Postgres(pg.pool().clone());
                db.execute(&format!("create schema if not exists {PG_SCHEMA}"), &[])
                    .await?;
                Ok(db)
            }
            Store::Sqlite(sqlite) => {
                let log_file = sqlite.pool().connect_options().get_filename().to_owned();
                Self::open_sqlite(&read_file_beside(&log_file)).await
            }
        }
    }

    async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let url = format!("sqlite://{}", path.display());
        let unreachable = |e: sqlx::Error| StoreError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        };
        let base = SqliteConnectOptions::from_str(&url).map_err(StoreError::from)?;
        // WAL is a property of the file, set once by one connection when the file is made.
        // Setting it on every connection of the pool would fail with "database is locked"
        // while another process (a server's runners) holds the file's write lock.
        if !path.exists() {
            use sqlx::Connection;
            let conn = sqlx::SqliteConnection::connect_with(
                &base
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await
            .map_err(unreachable)?;
            let _ = conn.close().await;
        }
        let options = base
            // Disposable: a crash may lose the last batches, never corrupt them (WAL), and
            // the checkpoint is lost with them, so they are simply applied again.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        Ok(ReadDb::Sqlite(pool))
    }

    /// Vacuum and analyze a table (PostgreSQL), or analyze it (SQLite). Outside any
    /// transaction.
    pub async fn maintain(&self, table: &str) -> Result<(), StoreError> {
        match self {
            ReadDb::Sqlite(pool) => {
                sqlx::raw_sql(AssertSqlSafe(format!("analyze {table}")))
                    .execute(pool)
                    .await?;
            }
            ReadDb::Postgres(pool) => {
                sqlx::raw_sql(AssertSqlSafe(format!("vacuum (analyze) {table}")))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// A table's name in SQL, qualified by the schema on PostgreSQL.
    pub fn qualified(&self, table: &str) -> String {
        match self {
            ReadDb::Sqlite(_) => table.to_owned(),
            ReadDb::Postgres(_) => format!("{PG_SCHEMA}.{table}"),
        }
    }

    /// Begin a transaction (SQLite: taking the write lock up front).
    ///
    /// On PostgreSQL its commit does not wait for the WAL to reach the disk
    /// (`synchronous_commit = off`, for this transaction only): read models are disposable,
    /// and a build's rows and its position commit together, so a crash of PostgreSQL loses
    /// at most the last batches of both, which are then applied again. The log's own
    /// appends keep waiting for the disk, and no longer queue behind the read models' flushes.
    pub async fn begin(&self) -> Result<ReadTx, StoreError> {
        Ok(match self {
            ReadDb::Sqlite(pool) => {
                ReadTx::Sqlite(xingcun_store::sqlite::SqliteTx::begin(pool).await?)
            }
            ReadDb::Postgres(pool) => ReadTx::Postgres(
                pool.begin_with("begin; set local synchronous_commit = off")
                    .await?,
            ),
        })
    }

    /// Run one statement outside a transaction.
    /// Whether the read models live in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, ReadDb::Postgres(_))
    }

    pub async fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        // Autocommit: a statement that writes nothing (`create table if not exists` of a
        // table that exists) then takes no write lock.
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            ReadDb::Sqlite(pool) => bind_all!(sqlx::query(sql), args)
                .execute(pool)
                .await?
                .rows_affected(),
            ReadDb::Postgres(pool) => bind_all!(sqlx::query(sql), args)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// Rows of a query, each as the values of its columns in order (integers as `Int`,
    /// text as `Text`, NULL as `OptText(None)`). Aggregates must be cast to `bigint`.
    ///
    /// Each value is decoded once, as the type the database says it has (the column's type
    /// on PostgreSQL, the value's storage class on SQLite): trying types in turn would
    /// build an error for every miss, which cost more than the query on a 20-row board.
    pub async fn fetch(&self, sql: &str, args: &[Arg]) -> Result<Vec<Vec<Arg>>, StoreError> {
        use sqlx::{Column, Row, TypeInfo, ValueRef};
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            ReadDb::Sqlite(pool) => {
                let rows = bind_all!(sqlx::query(sql), args).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| {
                                let raw = r.try_get_raw(i)?;
                                if raw.is_null() {
                                    return Ok(Arg::OptText(None));
                                }
                                Ok(match raw.type_info().name() {
                                    "INTEGER" => Arg::Int(r.try_get(i)?),
                                    _ => Arg::Text(r.try_get(i)?),
                                })
                            })
                            .collect::<Result<_, sqlx::Error>>()
                    })
                    .collect::<Result<_, _>>()?
            }
            ReadDb::Postgres(pool) => {
                let rows = bind_all!(sqlx::query(sql), args).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| {
                        r.columns()
                            .iter()
                            .map(|c| {
                                let i = c.ordinal();
                                Ok(match c.type_info().name() {
                                    "INT8" => r
                                        .try_get::<Option<i64>, _>(i)?
                                        .map_or(Arg::OptText(None), Arg::Int),
                                    "INT4" => r
                                        .try_get::<Option<i32>, _>(i)?
                                        .map_or(Arg::OptText(None), |v| Arg::Int(v.into())),
                                    "INT2" => r
                                        .try_get::<Option<i16>, _>(i)?
                                        .map_or(Arg::OptText(None), |v| Arg::Int(v.into())),
                                    _ => r
                                        .try_get::<Option<String>, _>(i)?
                                        .map_or(Arg::OptText(None), Arg::Text),
                                })
                            })
                            .collect::<Result<_, sqlx::Error>>()
                    })
                    .collect::<Result<_, _>>()?
            }
        })
    }
}

impl ReadTx {
    /// Run one statement; returns the rows it affected.
    pub async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        self.execute_iter(sql, args.iter()).await
    }

    /// Run one statement whose values come from an iterator (many rows' values, borrowed).
    pub async fn execute_iter<'a>(
        &mut self,
        sql: &str,
        args: impl Iterator<Item = &'a Arg>,
    ) -> Result<u64, StoreError> {
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            ReadTx::Sqlite(tx) => bind_all!(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            ReadTx::Postgres(tx) => bind_all!(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Rows of a query whose columns are all text (or null).
    pub async fn fetch_texts(
        &mut self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        use sqlx::Row;
        let sql = AssertSqlSafe(sql.to_owned());
        Ok(match self {
            ReadTx::Sqlite(tx) => bind_all!(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| (0..r.len()).map(|i| r.try_get(i)).collect())
                .collect::<Result<_, sqlx::Error>>()?,
            ReadTx::Postgres(tx) => bind_all!(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| (0..r.len()).map(|i| r.try_get(i)).collect())
                .collect::<Result<_, sqlx::Error>>()?,
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, ReadTx::Postgres(_))
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            ReadTx::Sqlite(tx) => tx.commit().await?,
            ReadTx::Postgres(tx) => tx.commit().await.map_err(StoreError::from)?,
        }
        Ok(())
    }
}

/// `dir/xingcun.db` → `dir/xingcun.read.db`.
pub fn read_file_beside(log_file: &Path) -> PathBuf {
    let stem = log_file
        .file_stem()
        .map_or_else(|| "xingcun".into(), |s| s.to_string_lossy().into_owned());
    log_file.with_file_name(format!("{stem}.read.db"))
}

/// Read an integer column of a fetched row.
pub fn int(row: &[Arg], i: usize) -> Option<i64> {
    match row.get(i) {
        Some(Arg::Int(v)) => Some(*v),
        Some(Arg::OptInt(v)) => *v,
        Some(Arg::Text(t)) => t.parse().ok(),
        _ => None,
    }
}

/// Read a text column of a fetched row.
pub fn text(row: &[Arg], i: usize) -> Option<String> {
    match row.get(i) {
        Some(Arg::Text(v)) => Some(v.clone()),
        Some(Arg::OptText(v)) => v.clone(),
        Some(Arg::Int(v)) => Some(v.to_string()),
        _ => None,
    }
}
