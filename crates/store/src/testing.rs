//! Fresh databases for tests (this crate's, the API's and the end-to-end tests).
//!
//! SQLite: a new file under the system temp directory. PostgreSQL: a new database on the
//! server named by `XINGCUN_TEST_PG_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
//! Without that variable the PostgreSQL half of a test is skipped with a notice, unless
//! `XINGCUN_REQUIRE_PG=1` is set (CI sets it), which turns the skip into a failure.

use std::path::PathBuf;

use sqlx::Connection;
use uuid::Uuid;

/// Environment variable naming the PostgreSQL server used by tests.
pub const PG_URL_VAR: &str = "XINGCUN_TEST_PG_URL";
/// Set to `1` to fail, not skip, when PostgreSQL is not configured.
pub const REQUIRE_PG_VAR: &str = "XINGCUN_REQUIRE_PG";

/// A `sqlite://` URL for a new, empty database file.
pub fn fresh_sqlite_url() -> String {
    let path: PathBuf =
        std::env::temp_dir().join(format!("xingcun-test-{}.db", Uuid::new_v4().simple()));
    format!("sqlite://{}", path.display())
}

/// A URL for a new, empty PostgreSQL database, or `None` (with a notice) when the tests are
/// not configured for PostgreSQL.
///
/// # Panics
/// When `XINGCUN_REQUIRE_PG=1` and PostgreSQL is not configured or not reachable: a test
/// run that is required to cover PostgreSQL must not pass by skipping it.
pub async fn fresh_postgres_url() -> Option<String> {
    let required = std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1");
    let Ok(base) = std::env::var(PG_URL_VAR) else {
        assert!(
            !required,
            "{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set: the PostgreSQL half cannot run"
        );
        eprintln!(
            "PostgreSQL not configured, skipping the PostgreSQL half (set {PG_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres)"
        );
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
    Some(replace_database(&base, &name))
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
