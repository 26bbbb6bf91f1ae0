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
    #[error("the event store is shutting down")]
    Closed,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A unique constraint refused the write (on the log: an event id seen before).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
    }

    /// Stable code for the API boundary.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict { .. } | StoreError::ChainBroken { .. } => "CONFLICT",
            StoreError::InvalidStreamId { .. } | StoreError::InvalidInput(_) => "INVALID_INPUT",
            _ => "INTERNAL",
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest
        .split_once('/')
        .map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    match tail {
        Some(t) => format!("{scheme}://{authority}/{t}"),
        None => format!("{scheme}://{authority}"),
    }
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
}
