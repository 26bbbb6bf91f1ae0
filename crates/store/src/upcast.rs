//! Schema evolution: old event shapes are upcast (JSON to JSON) when read, so history
//! written years ago stays readable after an event's shape changes. The stored bytes and the
//! hash chain are never touched; only what readers see is upgraded.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::model::RecordedEvent;
use crate::payload::Payload;

/// Turns a payload at schema version `from` into version `from + 1`.
pub type UpcastFn = Arc<dyn Fn(Value) -> Value + Send + Sync>;

/// Upcasters registered per event type and source version.
#[derive(Clone, Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), UpcastFn>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.steps.keys().collect();
        keys.sort();
        f.debug_struct("Upcasters").field("steps", &keys).finish()
    }
}

impl Upcasters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the step from schema version `from` to `from + 1` of `event_type`.
    pub fn register(
        mut self,
        event_type: &str,
        from: u32,
        step: impl Fn(Value) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.steps
            .insert((event_type.to_owned(), from), Arc::new(step));
        self
    }

    /// Apply every registered step, in order, until none applies.
    pub fn upcast(&self, mut event: RecordedEvent) -> RecordedEvent {
        if self.steps.is_empty() {
            return event;
        }
        while let Some(step) = self
            .steps
            .get(&(event.event_type.clone(), event.schema_version))
        {
            event.payload = Payload::from(step(std::mem::take(&mut event.payload).into_value()));
            event.schema_version += 1;
        }
        event
    }
}
