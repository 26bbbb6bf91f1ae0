//! Who is calling: a bearer token resolved to a person, their role and their scope.
//!
//! A token names a person ([`xingcun_store::tokens`]); the role and scope are the person's
//! current post in the directory read model, looked up on every request (and every
//! WebSocket connection), so a departure (离任) ends their access at once.
//!
//! The built-in person `system` (no appointment needed) is the administrator over the whole
//! city, for the engineer who runs xingcun: `xingcun token create --person system` is how
//! the first regions and people are entered through the API.
//!
//! Resolving a token costs two lookups (the token's hash, the person's post). A server
//! answering thousands of requests a second from a few dozen dashboards keeps what it
//! resolved for [`CALLER_TTL`] in a [`CallerCache`]: a revocation or a departure takes
//! effect on the next request after at most that long (one second), on every server
//! process, without any signal between processes. Unknown, expired and revoked tokens are
//! never cached, so every bad attempt reaches the database and the rate limit.
//!
//! Rules of scope (tested in tests/api.rs with villages of two towns):
//! - everyone reads only inside their scope: a village cadre their village, town staff and
//!   leaders their town's villages, auditors and administrators their town, county or city;
//! - auditors never change anything;
//! - what else a role may do is the domain's decision (the command is refused there with
//!   `FORBIDDEN` and a message naming the rule).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use xingcun_domain::{Actor, PersonId, RegionId, Role};
use xingcun_projections::{ReadDb, directory};
use xingcun_store::Store;

use crate::error::ApiError;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub name: String,
    /// The token's id (for revocation checks on long-lived connections).
    pub token_id: uuid::Uuid,
}

impl Caller {
    /// Whether the caller may read what concerns `region`.
    pub fn reads(&self, region: &RegionId) -> bool {
        self.actor.covers(region)
    }

    /// Refuse unless the caller may read `region`.
    pub fn must_read(&self, region: &RegionId) -> Result<(), ApiError> {
        if self.reads(region) {
            Ok(())
        } else {
            Err(ApiError::forbidden(&format!(
                "{} {} 的数据不在您的权限范围({})内",
                level_name(region),
                region,
                self.actor.scope
            )))
        }
    }

    /// Refuse unless `region` is inside the caller's scope or one of the regions above it
    /// (a village secretary sees their town, county and city: their regions and boards).
    pub fn must_see(&self, region: &RegionId) -> Result<(), ApiError> {
        if region.contains(&self.actor.scope) {
            Ok(())
        } else {
            self.must_read(region)
        }
    }

    /// Refuse auditors (read-only by role).
    pub fn must_write(&self) -> Result<(), ApiError> {
        if matches!(self.actor.role, Role::Auditor) {
            Err(ApiError::forbidden("审计督查人员只能查阅,不能修改记录"))
        } else {
            Ok(())
        }
    }
}

fn level_name(region: &RegionId) -> &'static str {
    use xingcun_domain::RegionLevel::*;
    match region.level() {
        Province => "省",
        City => "市",
        County => "区县",
        Town => "镇街",
        Village => "村社",
    }
}

/// The token in an `Authorization` header value (`Bearer xc_…`), if there is one.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// How long a resolved caller is reused: the longest a revocation or a departure waits to
/// take effect.
pub const CALLER_TTL: Duration = Duration::from_secs(1);
/// The most callers kept; past it the cache starts again empty (a dashboard wall has a few
/// dozen tokens, not thousands).
const CALLER_CACHE_MAX: usize = 10_000;

/// Callers resolved in the last [`CALLER_TTL`], by the SHA-256 of their token (the token
/// itself is not kept).
#[derive(Debug, Default)]
pub struct CallerCache {
    entries: Mutex<HashMap<String, Cached>>,
}

#[derive(Debug)]
struct Cached {
    caller: Caller,
    resolved: Instant,
    token_expires: DateTime<Utc>,
}

impl CallerCache {
    /// The caller of `token` at `now`: from the cache while fresh, else resolved and kept.
    pub async fn resolve(
        &self,
        store: &Store,
        db: &ReadDb,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Caller, ApiError> {
        let key = xingcun_store::tokens::token_hash(token);
        if let Some(hit) = self.fresh(&key, now) {
            return Ok(hit);
        }
        let (caller, token_expires) = resolve_with_expiry(store, db, token, now).await?;
        let mut entries = self.lock();
        if entries.len() >= CALLER_CACHE_MAX {
            entries.clear();
        }
        entries.insert(
            key,
            Cached {
                caller: caller.clone(),
                resolved: Instant::now(),
                token_expires,
            },
        );
        Ok(caller)
    }

    fn fresh(&self, key: &str, now: DateTime<Utc>) -> Option<Caller> {
        let entries = self.lock();
        let hit = entries.get(key)?;
        (hit.resolved.elapsed() < CALLER_TTL && now < hit.token_expires).then(|| hit.caller.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Resolve a token to its caller at `now`, without the cache.
pub async fn resolve(
    store: &Store,
    db: &ReadDb,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Caller, ApiError> {
    resolve_with_expiry(store, db, token, now)
        .await
        .map(|(caller, _)| caller)
}

async fn resolve_with_expiry(
    store: &Store,
    db: &ReadDb,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Caller, DateTime<Utc>), ApiError> {
    let Some(record) = store.find_token(token).await? else {
        return Err(
            ApiError::new("UNAUTHENTICATED", "访问令牌无效,请重新获取").detail("unknown token")
        );
    };
    if record.revoked_at.is_some() {
        return Err(
            ApiError::new("UNAUTHENTICATED", "访问令牌已被吊销,请重新获取").detail("token revoked"),
        );
    }
    if !record.is_valid_at(now) {
        return Err(
            ApiError::new("UNAUTHENTICATED", "访问令牌已过期,请重新获取").detail("token expired"),
        );
    }
    if record.person_id == "system" {
        let caller = Caller {
            actor: Actor::system(),
            name: "系统管理员".into(),
            token_id: record.token_id,
        };
        return Ok((caller, record.expires_at));
    }
    let person = directory::person(db, &record.person_id).await?;
    let Some(person) = person.filter(|p| p.active) else {
        return Err(ApiError::new(
            "UNAUTHENTICATED",
            "令牌所属人员不在岗(未任职或已离任),不能再使用",
        )
        .detail("person not in post"));
    };
    let (Ok(id), Ok(scope)) = (
        PersonId::parse(person.person.clone()),
        RegionId::parse(&person.scope),
    ) else {
        return Err(ApiError::new("INTERNAL", "人员名录数据有误,请联系管理员"));
    };
    let caller = Caller {
        actor: Actor {
            id,
            role: person.role,
            scope,
        },
        name: person.name,
        token_id: record.token_id,
    };
    Ok((caller, record.expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_takes_the_token_after_the_scheme() {
        assert_eq!(bearer("Bearer xc_1"), Some("xc_1"));
        assert_eq!(bearer("bearer  xc_1 "), Some("xc_1"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("xc_1"), None);
    }
}
