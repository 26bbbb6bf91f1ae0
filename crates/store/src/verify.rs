//! `xingcun verify`: recompute the hash chain over the whole log and name the first event
//! that was altered, deleted or inserted behind the store's back.
//!
//! What it proves: that the log is the one the store wrote, as long as the head hash it
//! reports matches one recorded outside the database (a printed monthly report, an auditor's
//! note). Someone with superuser rights who rewrites the whole chain from an altered event on
//! produces a different head hash; only that outside anchor reveals it.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::EventLog;
use crate::error::StoreError;
use crate::hash::{self, GENESIS_HASH, HashInput};
use crate::model::RecordedEvent;

/// How many recent hashes verify remembers to recognise inserted events.
const RECENT_WINDOW: usize = 4096;
const PAGE: u32 = 10_000;

/// The first problem found in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tamper {
    /// The event's content no longer matches its hash.
    Altered { position: u64 },
    /// The event that belongs at this position is missing.
    Deleted { position: u64 },
    /// This event (and possibly some after it) was not in the chain as written: the next
    /// genuine event still links to the event before it.
    Inserted { position: u64 },
    /// The event does not link to its predecessor: an event before it was deleted and the
    /// positions closed up, or the predecessor was altered and its hash recomputed.
    BrokenLink { position: u64 },
    /// The stored row no longer decodes, or a column derived from hashed ones (category,
    /// command id) disagrees with them: it was edited behind the store's back.
    Unreadable { position: u64, reason: String },
}

impl Tamper {
    pub fn position(&self) -> u64 {
        match self {
            Tamper::Altered { position }
            | Tamper::Deleted { position }
            | Tamper::Inserted { position }
            | Tamper::BrokenLink { position }
            | Tamper::Unreadable { position, .. } => *position,
        }
    }
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tamper::Altered { position } => write!(
                f,
                "event at position {position} was altered (its hash no longer matches)"
            ),
            Tamper::Deleted { position } => {
                write!(f, "the event at position {position} was deleted")
            }
            Tamper::Inserted { position } => {
                write!(f, "an event was inserted at position {position}")
            }
            Tamper::BrokenLink { position } => write!(
                f,
                "event at position {position} does not follow its predecessor: an event before it was deleted, \
                 or position {} was altered and re-hashed",
                position.saturating_sub(1)
            ),
            Tamper::Unreadable { position, reason } => write!(
                f,
                "event at position {position} was altered: its stored row no longer reads back ({reason})"
            ),
        }
    }
}

/// What verify found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Events read.
    pub events: u64,
    /// Hash of the last event read (compare with an outside record of it).
    pub head_hash: String,
    pub head_position: u64,
    /// The first problem, if any. Verification stops there.
    pub first_problem: Option<Tamper>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_problem.is_none()
    }
}

/// Incremental chain checker, fed events in position order (also used by import).
#[derive(Debug)]
pub struct ChainChecker {
    expected_position: u64,
    prev_hash: String,
    recent: HashMap<String, u64>,
    order: std::collections::VecDeque<String>,
    events: u64,
}

impl Default for ChainChecker {
    fn default() -> Self {
        ChainChecker {
            expected_position: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            recent: HashMap::new(),
            order: std::collections::VecDeque::new(),
            events: 0,
        }
    }
}

impl ChainChecker {
    /// Continue a chain whose last verified event is `position` with `hash`.
    pub fn resume(position: u64, hash: String) -> Self {
        ChainChecker {
            expected_position: position + 1,
            prev_hash: hash,
            ..Default::default()
        }
    }

    pub fn head(&self) -> (u64, &str) {
        (self.expected_position - 1, &self.prev_hash)
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Check the next event; on success it becomes the new head.
    pub fn check(&mut self, e: &RecordedEvent) -> Result<(), Tamper> {
        if e.position > self.expected_position {
            return Err(Tamper::Deleted {
                position: self.expected_position,
            });
        }
        if e.position < self.expected_position {
            return Err(Tamper::Inserted {
                position: e.position,
            });
        }
        let payload = e.payload.try_value().map_err(|err| Tamper::Unreadable {
            position: e.position,
            reason: format!("payload: {err}"),
        })?;
        let recomputed = hash::chain_hash(
            &e.prev_hash,
            &HashInput {
                stream_id: &e.stream_id,
                stream_version: e.stream_version,
                event_id: e.event_id,
                event_type: &e.event_type,
                schema_version: e.schema_version,
                payload,
                metadata: &e.metadata,
                recorded_at: &e.recorded_at,
            },
        );
        if recomputed != e.hash {
            return Err(Tamper::Altered {
                position: e.position,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(match self.recent.get(&e.prev_hash) {
                Some(&earlier) => Tamper::Inserted {
                    position: earlier + 1,
                },
                None => Tamper::BrokenLink {
                    position: e.position,
                },
            });
        }
        self.remember(e.position, e.hash.clone());
        self.prev_hash = e.hash.clone();
        self.expected_position += 1;
        self.events += 1;
        Ok(())
    }

    fn remember(&mut self, position: u64, hash: String) {
        self.recent.insert(hash.clone(), position);
        self.order.push_back(hash);
        if self.order.len() > RECENT_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.recent.remove(&old);
        }
    }
}

/// Recompute the whole chain, streaming the log in pages (bounded memory).
pub async fn verify<L: EventLog>(log: &L) -> Result<VerifyReport, StoreError> {
    verify_with_progress(log, |_| {}).await
}

/// [`verify`], calling `progress` with the last position checked after every page.
pub async fn verify_with_progress<L: EventLog>(
    log: &L,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let mut checker = ChainChecker::default();
    let mut after = 0;
    loop {
        let page = match log.read_all_raw(after, PAGE).await {
            Ok(page) => page,
            // An undecodable row is named, not a reason to give up without a position.
            Err(StoreError::Corrupt { position, reason }) => {
                let (head_position, head_hash) = checker.head();
                let problem = if position > head_position + 1 {
                    Tamper::Deleted {
                        position: head_position + 1,
                    }
                } else {
                    Tamper::Unreadable { position, reason }
                };
                return Ok(VerifyReport {
                    events: checker.events(),
                    head_hash: head_hash.to_owned(),
                    head_position,
                    first_problem: Some(problem),
                });
            }
            Err(e) => return Err(e),
        };
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in &page {
            if let Err(problem) = checker.check(e) {
                let (head_position, head_hash) = checker.head();
                return Ok(VerifyReport {
                    events: checker.events(),
                    head_hash: head_hash.to_owned(),
                    head_position,
                    first_problem: Some(problem),
                });
            }
        }
        progress(after);
    }
    let (head_position, head_hash) = checker.head();
    Ok(VerifyReport {
        events: checker.events(),
        head_hash: head_hash.to_owned(),
        head_position,
        first_problem: None,
    })
}
