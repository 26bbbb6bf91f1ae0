//! The shape every aggregate of xingcun takes: a pure `decide` and `evolve`.
//!
//! The store crate's command executor is generic over [`Aggregate`]: it loads a stream,
//! folds it with [`Aggregate::evolve`], calls [`Aggregate::decide`] with the caller and the
//! server's clock, and appends what was decided with the expected version.

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};

use crate::people::Actor;

/// An event as the store sees it: a stable type name, a schema version, and a JSON body.
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Stable name stored in the log, e.g. `"TaskScreeningRejected"`. Never renamed.
    fn event_type(&self) -> &'static str;
    /// Version of this event's payload shape; bumped (with an upcaster) when it changes.
    fn schema_version(&self) -> u32 {
        1
    }
    /// The regions (villages, towns) this event concerns. The executor records them in the
    /// event's metadata so an auditor can replay one village's history (无感留痕) without
    /// knowing every event type.
    fn regions(&self) -> Vec<crate::region::RegionId> {
        Vec::new()
    }
}

/// A refusal of a command. `Display` is the message a village cadre reads (Chinese);
/// [`Rejection::code`] is the stable English code the API puts in `extensions.code`.
pub trait Rejection: std::error::Error + Send + Sync + 'static {
    /// One of `INVALID_INPUT`, `FORBIDDEN`, `NOT_FOUND`, `CONFLICT`, `SCREENING_REJECTED`,
    /// `RULE_VIOLATION`, or a more specific stable code.
    fn code(&self) -> &'static str;
}

/// Who acts and when: everything a decision needs from outside the stream.
#[derive(Debug, Clone)]
pub struct CommandContext<'a> {
    /// The authenticated caller.
    pub actor: &'a Actor,
    /// Server time (the injected clock). Never read a clock inside `decide`.
    pub now: DateTime<Utc>,
}

/// A consistency boundary: one stream of events, folded into state.
pub trait Aggregate: Default + Send + Sync + 'static {
    /// Stream category: streams are named `{CATEGORY}-{id}`, e.g. `task-…`.
    const CATEGORY: &'static str;
    type Command: Send;
    type Event: DomainEvent;
    type Error: Rejection;

    /// Pure decision: the events a command produces, or why it is refused.
    fn decide(
        &self,
        command: Self::Command,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// Fold one event into the state. Must be total: events in the log are facts.
    fn evolve(&mut self, event: &Self::Event);

    /// Fold a whole history.
    fn replay<'e>(events: impl IntoIterator<Item = &'e Self::Event>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.evolve(event);
        }
        state
    }
}
