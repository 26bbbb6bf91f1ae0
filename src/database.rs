//! Which database a command is about to use, said before it does anything; what to do
//! with a database that is someone else's; how to empty one to start over.

use std::path::PathBuf;

use anyhow::{Context, bail};
use xingcun_store::{Store, redact_url};

/// The database a URL names, fit to print: the backend, the URL without its password,
/// and for SQLite the file's absolute path (a relative one depends on where you stand).
pub fn describe_database(url: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return format!("PostgreSQL database {}", redact_url(url));
    }
    match sqlite_file(url) {
        Some(path) => {
            let absolute = std::path::absolute(&path).unwrap_or(path);
            format!(
                "SQLite database {} ({})",
                redact_url(url),
                absolute.display()
            )
        }
        None => format!("database {}", redact_url(url)),
    }
}

/// The file of a SQLite URL (`sqlite://PATH?…` or a bare path).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.contains("://") && !url.starts_with("sqlite:") {
        return None;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// How to empty the database at `url` so a simulation can start over.
pub fn start_over_hint(url: &str) -> String {
    if let Some(path) = sqlite_file(url) {
        let p = path.display();
        let read = xingcun_projections::sql::read_file_beside(&path);
        let r = read.display();
        return format!(
            "delete the SQLite file, its companions and its read models (`rm -f {p} {p}-wal {p}-shm {r} {r}-wal {r}-shm`), then run the same command again"
        );
    }
    let Some(db) = url_database(url) else {
        return "drop and re-create the database, then run the same command again".into();
    };
    format!(
        "drop and re-create the PostgreSQL database ({}, or in psql: `drop database \"{}\"; create database \"{}\";`), then run the same command again",
        db.shell, db.name, db.name
    )
}

struct PgTarget {
    name: String,
    shell: String,
}

/// The database name of a PostgreSQL URL and the dropdb/createdb lines for it.
fn url_database(url: &str) -> Option<PgTarget> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (authority, name) = rest.split_once('/')?;
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (user.split(':').next().filter(|u| !u.is_empty()), host),
        None => (None, authority),
    };
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (host, None),
    };
    let mut args = format!("-h {host}");
    if let Some(port) = port {
        args.push_str(&format!(" -p {port}"));
    }
    if let Some(user) = user {
        args.push_str(&format!(" -U {user}"));
    }
    Some(PgTarget {
        name: name.to_owned(),
        shell: format!("`dropdb {args} {name} && createdb {args} {name}`"),
    })
}

/// Commands that create tables refuse a database that holds other tables and no xingcun
/// log yet (see `Store::foreign_tables`).
pub async fn refuse_foreign_tables(url: &str, allowed: bool) -> anyhow::Result<()> {
    if allowed {
        return Ok(());
    }
    let tables = Store::foreign_tables(url)
        .await
        .context("opening the event store")?;
    if tables.is_empty() {
        return Ok(());
    }
    let shown = tables
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if tables.len() > 5 { ", …" } else { "" };
    bail!(
        "{} holds other tables ({shown}{more}) and no xingcun event log: it looks like another \
         application's database, and nothing was created in it. Name xingcun's own database with \
         --database-url (is a leftover DATABASE_URL set?), or pass --allow-foreign-tables to \
         create xingcun's tables beside them",
        redact_url(url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_described_without_its_password() {
        let shown = describe_database("postgres://alice:S3cret@db.example:5433/xingcun");
        assert_eq!(
            shown,
            "PostgreSQL database postgres://alice:***@db.example:5433/xingcun"
        );
        let shown = describe_database("sqlite:///var/lib/xingcun.db?mode=ro");
        assert!(
            shown.starts_with("SQLite database sqlite:///var/lib/xingcun.db?mode=ro")
                && shown.ends_with("(/var/lib/xingcun.db)"),
            "{shown}"
        );
    }

    #[test]
    fn starting_over_names_the_files_or_the_database() {
        let hint = start_over_hint("sqlite://./demo.db");
        assert!(
            hint.contains("rm -f ./demo.db ./demo.db-wal ./demo.db-shm"),
            "{hint}"
        );
        let hint = start_over_hint("postgres://alice:S3cret@db:5433/city?sslmode=disable");
        assert!(
            hint.contains(
                "dropdb -h db -p 5433 -U alice city && createdb -h db -p 5433 -U alice city"
            ) && hint.contains("drop database \"city\"")
                && !hint.contains("S3cret"),
            "{hint}"
        );
    }
}
