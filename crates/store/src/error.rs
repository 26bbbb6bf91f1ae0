//! Infrastructure failures of the store. Domain rejections never use this type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Optimistic concurrency: another writer got there first.
    #[error("conflict on stream {stream_id}: expected version {expected}, actual {actual}")]
    Conflict {
        stream_id: String,
        expected: u64,
        actual: u64,
    },
    #[error("invalid stream id {stream_id:?}: {reason}")]
    InvalidStreamId { stream_id: String, reason: String },
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database could not be reached or opened. The URL is shown without its password.
    #[error("cannot connect to the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A stored row that does not decode (a corrupted database).
    #[error("corrupt event at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    /// An append queued behind one of its [`AppendChain`](crate::writer::AppendChain) that
    /// was not stored as decided: it was decided on that one's result, so it is refused too.
    #[error("append to {stream_id} refused: an earlier append it was decided after was not stored")]
    ChainBroken { stream_id: String },
    /// An event id or command id that is already in the log, reused for a different append
    /// (another stream, other events, other content). A true re-send is not an error: it
    /// is answered as a duplicate with the original positions.
    #[error("id already used for a different append: {0}")]
    IdempotencyClash(String),
    /// The database did not answer in time: the log lock was held too long by another
    /// session, or a session was ended by the server. Nothing was written; try again.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    #[error("the event store is shutting down")]
    Closed,
    /// The disk under the database is full (SQLite's `SQLITE_FULL`, PostgreSQL's
    /// `disk_full`): the write was not made, nothing half-made is left, and writes work
    /// again once space is freed.
    #[error("the database's disk is full: {0}")]
    StorageFull(String),
    /// The store was opened read-only (an auditor's copy, `?mode=ro`, a file this process
    /// may not write): reads work, every write is refused, with the reason.
    #[error("the event store is read-only: {0}; writes are refused")]
    ReadOnly(String),
    #[error("database error: {}", describe_sqlx(.0))]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The message of SQLite's `events_no_replace` trigger (migration 0002), which fires before
/// the unique indexes on any colliding insert: for the writer it means the same as a unique
/// violation (an event id sent again).
const REPLACE_REFUSED: &str = "an insert may not replace an event";

impl From<sqlx::Error> for StoreError {
    /// Failures that say the database is (for now) out of reach become
    /// [`StoreError::Unavailable`]: a lost connection, an exhausted pool, the log lock not
    /// granted within `lock_timeout`, a session ended by the server (its
    /// `idle_in_transaction_session_timeout`, a shutdown or a restart).
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // 08: connection exception; 57P01-03: admin shutdown, crash shutdown,
                // cannot connect now; 55P03: lock not available; 25P03: idle in
                // transaction timeout.
                code.starts_with("08")
                    || matches!(
                        code.as_ref(),
                        "57P01" | "57P02" | "57P03" | "55P03" | "25P03"
                    )
            }),
            _ => false,
        };
        // SQLite: 13 is SQLITE_FULL; PostgreSQL: 53100 is disk_full.
        let full = matches!(&e, sqlx::Error::Database(db)
            if db.code().is_some_and(|code| matches!(code.as_ref(), "13" | "53100")));
        if full {
            StoreError::StorageFull(e.to_string())
        } else if unavailable {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Database(e)
        }
    }
}

impl StoreError {
    /// A unique constraint refused the write (on the log: an event id seen before).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db))
            if db.is_unique_violation() || db.message().contains(REPLACE_REFUSED))
    }

    /// Stable code for the API boundary.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict { .. } | StoreError::ChainBroken { .. } => "CONFLICT",
            StoreError::InvalidStreamId { .. }
            | StoreError::InvalidInput(_)
            | StoreError::IdempotencyClash(_) => "INVALID_INPUT",
            StoreError::Unavailable(_) | StoreError::Unreachable { .. } | StoreError::Closed => {
                "UNAVAILABLE"
            }
            StoreError::ReadOnly(_) => "READ_ONLY",
            StoreError::StorageFull(_) => "STORAGE_FULL",
            _ => "INTERNAL",
        }
    }
}

/// A sqlx error as a person can act on it: the server's message without PostgreSQL's
/// source-line suffix (" at line 948"), a refused or unreachable address named as such
/// rather than as "pool timed out".
pub fn describe_sqlx(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused (is the database server running, on this host and port?)"
                    .to_owned()
            }
            std::io::ErrorKind::TimedOut => "the connection timed out".to_owned(),
            _ => io.to_string(),
        },
        sqlx::Error::PoolTimedOut => {
            "no connection could be made in time (the server is unreachable or overloaded)"
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// A database URL fit to print: the password (in the user info, or as a `password=`
/// query parameter) replaced by `***`.
///
/// The user info is masked before anything parses the URL: everything between the first
/// `:` after the user name and the last `@` of the URL is the password, whatever it holds
/// (`/`, `?`, `#`, `@` and `:` included; a URL parser would read `alice:2024/Spring@host`
/// as host `alice`, port `2024`, and print the password as a path). Then the query's
/// `password` and `sslpassword` parameters are masked. Text that does not parse after that
/// is cut before its query.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') || url.contains("password") {
            "…".to_owned()
        } else {
            url.to_owned()
        };
    };
    let masked = match rest.rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{}", &rest[at + 1..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    let Ok(mut parsed) = url::Url::parse(&masked) else {
        return match masked.split_once('?') {
            Some((before, _)) => format!("{before}?…"),
            None => masked,
        };
    };
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let secret =
                k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if pairs.is_empty() {
        return masked;
    }
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string().replace("%2A%2A%2A", "***")
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password_only() {
        assert_eq!(
            super::redact_url("postgres://u:s3cret@db:5432/x?sslmode=disable"),
            "postgres://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(super::redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(super::redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn redacts_passwords_holding_url_characters_and_query_passwords() {
        for (url, secret) in [
            ("postgres://alice:S3c/retPW@host/db", "S3c"),
            ("postgres://alice:p%40ss@host/db", "p%40ss"),
            (
                "postgres://alice@host/db?password=S3cretPW&sslmode=disable",
                "S3cretPW",
            ),
            ("postgres://alice:a:b@host:5432/db", "a:b"),
            ("postgres://alice:2024/Spring@host/db", "Spring"),
            ("postgres://alice:/x9@host/db", "x9"),
            ("postgres://alice:?q9@host/db", "q9"),
            ("postgres://alice:#h9@host/db", "h9"),
            ("postgres://alice:pa?ss@host/db", "pa"),
            ("postgres://alice:p@ss@host/db", "p@ss"),
        ] {
            let shown = super::redact_url(url);
            assert!(!shown.contains(secret), "{url} shown as {shown}");
            assert!(shown.contains("***"), "{shown}");
            assert!(shown.contains("alice"), "{shown}");
        }
        let shown = super::redact_url("postgres://alice:S3c/retPW@host/db");
        assert!(!shown.contains("retPW"), "{shown}");
    }
}
