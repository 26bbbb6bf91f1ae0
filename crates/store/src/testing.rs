//! Fresh databases for tests (this crate's, the API's and the end-to-end tests), removed
//! again when the test is done.
//!
//! SQLite: a new file under the system temp directory. PostgreSQL: a new database on the
//! server named by `XINGCUN_TEST_PG_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
//! Without that variable the PostgreSQL half of a test is skipped, unless
//! `XINGCUN_REQUIRE_PG=1` is set (CI sets it), which turns the skip into a failure.
//!
//! Each database is a [`TestDatabase`] guard: dropping it (at the end of the test, or while
//! a failed test unwinds) deletes the SQLite file with its `-wal`, `-shm` and `-journal`
//! companions, or drops the PostgreSQL database (`with (force)`, so a pool still open in
//! the test does not keep it alive). Keep the guard in a variable for as long as the
//! database is used: `let db = fresh_sqlite(); Store::connect(db.url(), …)`.
//! [`TempPath`] does the same for other files a test writes (exports).
//!
//! The skip notice is written straight to the process's standard error, once per test
//! binary, not through `eprintln!`: the test harness captures `eprintln!` and shows it only
//! for failing tests, so a passing `cargo test --workspace` would otherwise never say that
//! the PostgreSQL half did not run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use sqlx::Connection;
use uuid::Uuid;

/// Environment variable naming the PostgreSQL server used by tests.
pub const PG_URL_VAR: &str = "XINGCUN_TEST_PG_URL";
/// Set to `1` to fail, not skip, when PostgreSQL is not configured.
pub const REQUIRE_PG_VAR: &str = "XINGCUN_REQUIRE_PG";

/// A database made for one test, removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(TempPath),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// The database URL, for `Store::connect` or `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file, if this is a SQLite database.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.cleanup {
            Cleanup::Sqlite(path) => Some(path.path()),
            Cleanup::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return; // the TempPath removes the file
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the work,
        // so it also works when the guard is dropped inside a test's runtime.
        let admin_url = admin_url.clone();
        let drop_sql = format!("drop database if exists {name} with (force)");
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(drop_sql))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) | Err(e) = done.map_err(|_| "panicked".to_owned()) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test database {name}: {e}"
            );
        }
    }
}

/// A path under the temp directory, removed (with any `-wal`, `-shm`, `-journal`
/// companions) when dropped. The file itself is not created.
#[derive(Debug)]
pub struct TempPath(PathBuf);

impl TempPath {
    /// `{temp}/{prefix}-{random}{suffix}`, e.g. `temp_path("xingcun-e2e", ".jsonl")`.
    pub fn new(prefix: &str, suffix: &str) -> Self {
        TempPath(std::env::temp_dir().join(format!("{prefix}-{}{suffix}", Uuid::new_v4().simple())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path as text (for command-line arguments).
    pub fn as_str(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        // A log file `x.db` has its read models beside it in `x.read.db`
        // (xingcun-projections): remove those too.
        let mut paths = vec![self.0.clone()];
        if self.0.extension().is_some_and(|e| e == "db")
            && let Some(stem) = self.0.file_stem()
        {
            paths.push(
                self.0
                    .with_file_name(format!("{}.read.db", stem.to_string_lossy())),
            );
        }
        for path in paths {
            let _ = std::fs::remove_file(&path);
            for companion in ["-wal", "-shm", "-journal"] {
                let mut name = path.clone().into_os_string();
                name.push(companion);
                let _ = std::fs::remove_file(name);
            }
        }
    }
}

/// A new, empty SQLite database (the file is created when first opened).
pub fn fresh_sqlite() -> TestDatabase {
    let path = TempPath::new("xingcun-test", ".db");
    TestDatabase {
        url: format!("sqlite://{}", path.path().display()),
        cleanup: Cleanup::Sqlite(path),
    }
}

/// Print the skip notice once per process, past the test harness's capture.
fn skip_notice() {
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL not configured, skipping the PostgreSQL half of these tests \
             (set {PG_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres to run it)"
        );
    });
}

/// A new, empty PostgreSQL database, or `None` (with a notice) when the tests are not
/// configured for PostgreSQL.
///
/// # Panics
/// When `XINGCUN_REQUIRE_PG=1` and PostgreSQL is not configured or not reachable: a test
/// run that is required to cover PostgreSQL must not pass by skipping it.
pub async fn fresh_postgres() -> Option<TestDatabase> {
    let required = std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1");
    let Ok(base) = std::env::var(PG_URL_VAR) else {
        assert!(
            !required,
            "{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set: the PostgreSQL half cannot run"
        );
        skip_notice();
        return None;
    };
    let name = format!("xingcun_test_{}", Uuid::new_v4().simple());
    let mut admin = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot reach PostgreSQL at {}: {e}",
            crate::redact_url(&base)
        ),
    };
    let create = format!("create database {name}");
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut admin)
        .await
    {
        panic!("cannot create test database {name}: {e}");
    }
    let _ = admin.close().await;
    Some(TestDatabase {
        url: replace_database(&base, &name),
        cleanup: Cleanup::Postgres {
            admin_url: base,
            name,
        },
    })
}

/// The same server URL with another database name.
pub fn replace_database(url: &str, database: &str) -> String {
    let (head, query) = url
        .split_once('?')
        .map_or((url, None), |(h, q)| (h, Some(q)));
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(slash) => &head[..scheme_end + slash],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Store, SystemClock};

    #[tokio::test]
    async fn a_sqlite_test_database_leaves_no_file_behind() {
        let db = fresh_sqlite();
        let path = db.sqlite_path().expect("sqlite").to_owned();
        let store = Store::connect(db.url(), Arc::new(SystemClock))
            .await
            .expect("store");
        assert!(path.exists());
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        assert!(Path::new(&wal).exists(), "WAL mode keeps a -wal file");
        drop(db);
        drop(store);
        assert!(!path.exists() && !Path::new(&wal).exists());
    }

    #[tokio::test]
    async fn a_postgres_test_database_is_dropped() {
        let Some(db) = fresh_postgres().await else {
            return;
        };
        let name = db.url().rsplit('/').next().expect("name").to_owned();
        let store = Store::connect(db.url(), Arc::new(SystemClock))
            .await
            .expect("store");
        drop(db); // the store's pool is still open: `with (force)` ends its sessions
        drop(store);
        let base = std::env::var(PG_URL_VAR).expect("configured");
        let mut admin = sqlx::PgConnection::connect(&base).await.expect("admin");
        let left: i64 = sqlx::query_scalar("select count(*) from pg_database where datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("count");
        assert_eq!(left, 0, "{name} is still on the server");
    }
}
