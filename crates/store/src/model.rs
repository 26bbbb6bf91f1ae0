//! What goes into the log and what comes out of it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::StoreError;
use crate::payload::Payload;

/// A stream id: `{category}-{id}`, e.g. `task-7f3c…` or `village-330681104201`.
///
/// The category is lowercase ASCII (`[a-z][a-z0-9_]*`); the id is 1..=160 characters of
/// `[A-Za-z0-9_.:-]`. Reading "all `task-*` streams" is reading the category `task`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

impl StreamId {
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::InvalidStreamId {
            stream_id: raw.chars().take(80).collect(),
            reason: why.to_owned(),
        };
        let (category, id) = raw
            .split_once('-')
            .ok_or_else(|| bad("expected {category}-{id}"))?;
        let mut chars = category.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_lowercase())
            || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(bad("category must match [a-z][a-z0-9_]*"));
        }
        if id.is_empty() || id.len() > 160 {
            return Err(bad("id must be 1..=160 characters"));
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
        {
            return Err(bad("id may hold only [A-Za-z0-9_.:-]"));
        }
        Ok(StreamId(raw.to_owned()))
    }

    /// `{category}-{id}` from parts.
    pub fn of(category: &str, id: &str) -> Result<Self, StoreError> {
        StreamId::parse(&format!("{category}-{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or(self.0.as_str(), |(c, _)| c)
    }
}

impl TryFrom<String> for StreamId {
    type Error = StoreError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        StreamId::parse(&raw)
    }
}

impl From<StreamId> for String {
    fn from(s: StreamId) -> String {
        s.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the writer believes the stream's current version to be (0 = the stream is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check (reference data appended by administrators, imports).
    Any,
    /// The stream must be at exactly this version; `Exact(0)` means it must not exist yet.
    Exact(u64),
}

impl ExpectedVersion {
    /// From an API value: negative numbers are refused.
    pub fn from_i64(v: i64) -> Result<Self, StoreError> {
        u64::try_from(v)
            .map(ExpectedVersion::Exact)
            .map_err(|_| StoreError::InvalidInput(format!("expected version {v} is below zero")))
    }
}

/// Who, why and in answer to what: stored with every event. Unknown keys are refused when
/// read, so a key added behind the store's back cannot hide from the hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMetadata {
    /// Person id of the caller (`system` for imports and the simulator's reference data).
    pub actor: String,
    /// Ties together everything one user action caused.
    pub correlation_id: Option<Uuid>,
    /// The event or command that directly caused this one.
    pub causation_id: Option<Uuid>,
    /// The command that produced the event; re-sending it appends nothing.
    pub command_id: Option<Uuid>,
    /// Regions (villages, towns) the event concerns, for the audit trail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Value,
}

impl NewEvent {
    pub fn new(event_type: impl Into<String>, schema_version: u32, payload: Value) -> Self {
        NewEvent {
            event_id: Uuid::new_v4(),
            event_type: event_type.into(),
            schema_version,
            payload,
        }
    }

    /// From a serialisable value (a domain event); fails if it does not serialise to JSON.
    pub fn from_serialize<T: Serialize>(
        event_type: &str,
        schema_version: u32,
        value: &T,
    ) -> Result<Self, StoreError> {
        let payload = serde_json::to_value(value).map_err(|e| {
            StoreError::InvalidInput(format!("event {event_type} does not serialise: {e}"))
        })?;
        Ok(NewEvent::new(event_type, schema_version, payload))
    }
}

/// One append: events for one stream, checked against an expected version, in one transaction.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream_id: StreamId,
    pub expected_version: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub metadata: EventMetadata,
}

/// Where an append landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// The stream's version after the append (the last event's version).
    pub stream_version: u64,
    /// Global positions of the appended events, in order.
    pub positions: Vec<u64>,
    /// True when nothing new was written because the events (or the command) were already in
    /// the log: the positions are those of the original append.
    pub duplicate: bool,
}

impl AppendOutcome {
    pub fn last_position(&self) -> Option<u64> {
        self.positions.last().copied()
    }
}

/// What an earlier command wrote: its stream, and where its events landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub stream_id: String,
    pub outcome: AppendOutcome,
}

/// An event as stored: the envelope, the body and the hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    /// Decoded lazily: see [`Payload`].
    pub payload: Payload,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}
