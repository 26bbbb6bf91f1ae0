//! API bearer tokens, kept beside the log (table `access_tokens`), never in it.
//!
//! - A token is `xc_` followed by 64 hex digits: two version-4 UUIDs, 244 bits from the
//!   operating system's random source. It is returned once, by [`Store::create_token`].
//! - Only its SHA-256 is stored. A lookup hashes what the client sent, finds the row by that
//!   hash, and compares the stored hash with the computed one in constant time.
//! - A token names a person, not a role: the role and scope are the person's current
//!   appointment, resolved by the API on every request, so a departure or a new post takes
//!   effect without new tokens.
//! - Nothing here enters the event log or an export: the chain and `verify` never see it.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

use crate::{Store, StoreError};

/// The prefix of every token, so a leaked one is recognisable in a log or a repository.
pub const TOKEN_PREFIX: &str = "xc_";

/// What is stored about a token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_id: Uuid,
    pub person_id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`: not revoked, not expired.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// SHA-256 of a token, lowercase hex.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn new_secret() -> String {
    format!(
        "{TOKEN_PREFIX}{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// A plausible token: the prefix and 64 hex digits. Anything else is refused before the
/// database is asked.
pub fn looks_like_token(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn record_from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<TokenRecord, StoreError> {
    let id: String = row.try_get("token_id")?;
    let time = |col: &str| -> Result<DateTime<Utc>, StoreError> {
        let raw: String = row.try_get(col)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::InvalidInput(format!("access_tokens.{col}: {e}")))
    };
    let revoked: Option<String> = row.try_get("revoked_at")?;
    Ok(TokenRecord {
        token_id: Uuid::parse_str(&id)
            .map_err(|e| StoreError::InvalidInput(format!("access_tokens.token_id: {e}")))?,
        person_id: row.try_get("person_id")?,
        label: row.try_get("label")?,
        created_at: time("created_at")?,
        expires_at: time("expires_at")?,
        revoked_at: match revoked {
            Some(raw) => Some(
                DateTime::parse_from_rfc3339(&raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::InvalidInput(format!("access_tokens: {e}")))?,
            ),
            None => None,
        },
    })
}

fn record_from_pg(row: &sqlx::postgres::PgRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        token_id: row.try_get("token_id")?,
        person_id: row.try_get("person_id")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

macro_rules! select_tokens {
    ($rest:literal) => {
        concat!(
            "select token_id, token_hash, person_id, label, created_at, expires_at, revoked_at from access_tokens ",
            $rest
        )
    };
}

impl Store {
    /// Create a token for `person`, valid until `expires_at`. Returns the token (shown once,
    /// never stored) and its record.
    pub async fn create_token(
        &self,
        person: &str,
        label: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(String, TokenRecord), StoreError> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly("tokens cannot be created".into()));
        }
        let secret = new_secret();
        let hash = token_hash(&secret);
        let record = TokenRecord {
            token_id: Uuid::new_v4(),
            person_id: person.to_owned(),
            label: label.to_owned(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        match self {
            Store::Sqlite(s) => {
                sqlx::query(
                    "insert into access_tokens (token_id, token_hash, person_id, label, created_at, expires_at) values (?, ?, ?, ?, ?, ?)",
                )
                .bind(record.token_id.to_string())
                .bind(&hash)
                .bind(person)
                .bind(label)
                .bind(now.to_rfc3339())
                .bind(expires_at.to_rfc3339())
                .execute(s.pool())
                .await?;
            }
            Store::Postgres(p) => {
                sqlx::query(
                    "insert into access_tokens (token_id, token_hash, person_id, label, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(record.token_id)
                .bind(&hash)
                .bind(person)
                .bind(label)
                .bind(now)
                .bind(expires_at)
                .execute(p.pool())
                .await?;
            }
        }
        Ok((secret, record))
    }

    /// The record of the token a client presented, valid or not (the caller checks
    /// [`TokenRecord::is_valid_at`]); `None` when no such token exists.
    pub async fn find_token(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let (stored, record) = match self {
            Store::Sqlite(s) => {
                let sql = select_tokens!("where token_hash = ?");
                match sqlx::query(sql)
                    .bind(&hash)
                    .fetch_optional(s.pool())
                    .await?
                {
                    Some(row) => (
                        row.try_get::<String, _>("token_hash")?,
                        record_from_sqlite(&row)?,
                    ),
                    None => return Ok(None),
                }
            }
            Store::Postgres(p) => {
                let sql = select_tokens!("where token_hash = $1");
                match sqlx::query(sql)
                    .bind(&hash)
                    .fetch_optional(p.pool())
                    .await?
                {
                    Some(row) => (
                        row.try_get::<String, _>("token_hash")?,
                        record_from_pg(&row)?,
                    ),
                    None => return Ok(None),
                }
            }
        };
        Ok(constant_time_eq(stored.as_bytes(), hash.as_bytes()).then_some(record))
    }

    /// Revoke a token by its id. `Ok(false)` when there is no such token or it was revoked
    /// already.
    pub async fn revoke_token(
        &self,
        token_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly("tokens cannot be revoked".into()));
        }
        let done = match self {
            Store::Sqlite(s) => sqlx::query(
                "update access_tokens set revoked_at = ? where token_id = ? and revoked_at is null",
            )
            .bind(now.to_rfc3339())
            .bind(token_id.to_string())
            .execute(s.pool())
            .await?
            .rows_affected(),
            Store::Postgres(p) => sqlx::query(
                "update access_tokens set revoked_at = $1 where token_id = $2 and revoked_at is null",
            )
            .bind(now)
            .bind(token_id)
            .execute(p.pool())
            .await?
            .rows_affected(),
        };
        Ok(done == 1)
    }

    /// Every token's record (never the token), newest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = select_tokens!("order by created_at desc");
        match self {
            Store::Sqlite(s) => sqlx::query(sql)
                .fetch_all(s.pool())
                .await?
                .iter()
                .map(record_from_sqlite)
                .collect(),
            Store::Postgres(p) => sqlx::query(sql)
                .fetch_all(p.pool())
                .await?
                .iter()
                .map(record_from_pg)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_recognisable() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(looks_like_token(&a), "{a}");
        assert!(!looks_like_token(&a[..a.len() - 1]));
        assert!(!looks_like_token(&format!("{}g", &a[..a.len() - 1])));
        assert!(!looks_like_token("Bearer x"));
        assert_eq!(token_hash("abc").len(), 64);
    }

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"abcd", b"abcd"));
        assert!(!constant_time_eq(b"abcd", b"abce"));
        assert!(!constant_time_eq(b"xbcd", b"abcd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
