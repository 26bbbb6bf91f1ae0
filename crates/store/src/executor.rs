//! The command executor: load a stream, fold it, decide, append with the expected version.
//!
//! The API, the simulator and the tests all issue commands through [`Executor::execute`],
//! so every rule of the domain runs the same way whoever calls. Domain refusals and
//! infrastructure failures never share a type: `Ok(Err(rejection))` is the domain saying no,
//! `Err(ExecuteError)` is the machinery failing.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use uuid::Uuid;
use xingcun_domain::{Actor, Aggregate, CommandContext, DomainEvent};

use crate::EventLog;
use crate::error::StoreError;
use crate::model::{AppendRequest, EventMetadata, ExpectedVersion, NewEvent, StreamId};

/// Attempts before a contended command gives up with [`ExecuteError::Conflict`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Correlation data the caller supplies with a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommandMeta {
    /// Re-sending a command with the same id appends nothing and returns the first result.
    pub command_id: Option<Uuid>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl CommandMeta {
    pub fn with_command_id(command_id: Uuid) -> Self {
        CommandMeta {
            command_id: Some(command_id),
            ..Default::default()
        }
    }
}

/// What a command did to the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Executed {
    pub stream_id: String,
    /// The stream's version after the command.
    pub stream_version: u64,
    /// Global positions of the events appended (empty if the command decided nothing).
    pub positions: Vec<u64>,
    /// The command had already been executed: nothing new was appended.
    pub duplicate: bool,
}

impl Executed {
    pub fn last_position(&self) -> Option<u64> {
        self.positions.last().copied()
    }
}

/// The machinery failed (the domain did not refuse).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Other writers kept changing the stream; the command was not applied.
    #[error("stream {stream_id} kept changing under {attempts} attempts; try again")]
    Conflict { stream_id: String, attempts: u32 },
    /// A stored event of the stream no longer decodes into the aggregate's event type.
    #[error("event {position} of {stream_id} does not decode: {reason}")]
    Undecodable {
        stream_id: String,
        position: u64,
        reason: String,
    },
}

impl ExecuteError {
    pub fn code(&self) -> &'static str {
        match self {
            ExecuteError::Store(e) => e.code(),
            ExecuteError::Conflict { .. } => "CONFLICT",
            ExecuteError::Undecodable { .. } => "INTERNAL",
        }
    }
}

/// Issues commands against aggregates in an [`EventLog`].
#[derive(Clone)]
pub struct Executor<L> {
    log: L,
    max_attempts: u32,
    cache: Option<Arc<Mutex<StateCache>>>,
}

/// Folded states kept between commands, keyed by stream, with the version they reflect.
///
/// Safe without any invalidation protocol: a cached state is only ever used to decide a
/// command whose append then names the cached version as the expected one. If another
/// writer (another process) moved the stream on, the append conflicts, the entry is dropped
/// and the stream is reloaded from the log.
struct StateCache {
    entries: HashMap<String, (Box<dyn Any + Send>, u64)>,
    capacity: usize,
}

impl<L: EventLog> Executor<L> {
    pub fn new(log: L) -> Self {
        Executor {
            log,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            cache: None,
        }
    }

    /// Keep up to `capacity` folded aggregate states in memory, so a command on a stream
    /// this executor touched recently does not re-read and re-fold the stream. For long runs
    /// of commands from one process (the simulator, imports of reference data). When full,
    /// the cache is emptied and refills.
    pub fn with_state_cache(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(Mutex::new(StateCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        })));
        self
    }

    fn cached<A: Aggregate>(&self, stream: &StreamId) -> Option<(A, u64)> {
        let cache = self.cache.as_ref()?;
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        let (state, version) = cache.entries.remove(stream.as_str())?;
        state.downcast::<A>().ok().map(|s| (*s, version))
    }

    fn keep<A: Aggregate>(&self, stream: &StreamId, state: A, version: u64) {
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.entries.len() >= cache.capacity {
                cache.entries.clear();
            }
            cache
                .entries
                .insert(stream.as_str().to_owned(), (Box::new(state), version));
        }
    }

    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    pub fn log(&self) -> &L {
        &self.log
    }

    /// Fold the stream `{A::CATEGORY}-{id}` into its state and current version.
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<(A, u64), ExecuteError> {
        let stream = StreamId::of(A::CATEGORY, id)?;
        self.load_stream::<A>(&stream).await
    }

    async fn load_stream<A: Aggregate>(&self, stream: &StreamId) -> Result<(A, u64), ExecuteError> {
        let mut state = A::default();
        let mut version = 0;
        for recorded in self.log.read_stream(stream, 1).await? {
            let event: A::Event = serde_json::from_value(recorded.payload).map_err(|e| {
                ExecuteError::Undecodable {
                    stream_id: stream.to_string(),
                    position: recorded.position,
                    reason: e.to_string(),
                }
            })?;
            state.evolve(&event);
            version = recorded.stream_version;
        }
        Ok((state, version))
    }

    /// Execute `command` against the aggregate `{A::CATEGORY}-{id}` as `actor`, at the
    /// store's clock. On a concurrency conflict the stream is reloaded and the command decided
    /// again, up to the attempt limit.
    #[tracing::instrument(skip_all, fields(category = A::CATEGORY, id = %id))]
    pub async fn execute<A>(
        &self,
        id: &str,
        command: A::Command,
        actor: &Actor,
        meta: CommandMeta,
    ) -> Result<Result<Executed, A::Error>, ExecuteError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let stream = StreamId::of(A::CATEGORY, id)?;
        if let Some(command_id) = meta.command_id
            && let Some(done) = self.log.find_command(command_id).await?
        {
            return Ok(Ok(Executed {
                stream_id: stream.to_string(),
                stream_version: done.stream_version,
                positions: done.positions,
                duplicate: true,
            }));
        }
        for _attempt in 0..self.max_attempts {
            let (mut state, version) = match self.cached::<A>(&stream) {
                Some(hit) => hit,
                None => self.load_stream::<A>(&stream).await?,
            };
            let ctx = CommandContext {
                actor,
                now: self.log.clock().now(),
            };
            let events = match state.decide(command.clone(), &ctx) {
                Ok(events) => events,
                Err(rejection) => {
                    self.keep(&stream, state, version);
                    return Ok(Err(rejection));
                }
            };
            if events.is_empty() {
                self.keep(&stream, state, version);
                return Ok(Ok(Executed {
                    stream_id: stream.to_string(),
                    stream_version: version,
                    positions: Vec::new(),
                    duplicate: false,
                }));
            }
            let request = to_request(&stream, version, &events, actor, meta)?;
            match self.log.append(request).await {
                Ok(outcome) if !outcome.duplicate => {
                    for event in &events {
                        state.evolve(event);
                    }
                    self.keep(&stream, state, outcome.stream_version);
                    return Ok(Ok(Executed {
                        stream_id: stream.to_string(),
                        stream_version: outcome.stream_version,
                        positions: outcome.positions,
                        duplicate: false,
                    }));
                }
                Ok(outcome) => {
                    return Ok(Ok(Executed {
                        stream_id: stream.to_string(),
                        stream_version: outcome.stream_version,
                        positions: outcome.positions,
                        duplicate: outcome.duplicate,
                    }));
                }
                Err(StoreError::Conflict { .. }) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExecuteError::Conflict {
            stream_id: stream.to_string(),
            attempts: self.max_attempts,
        })
    }
}

/// Domain events to an append request. With a command id, event ids are derived from it
/// (UUIDv5), so a retried command produces the very same event ids and cannot append twice.
fn to_request<E: DomainEvent>(
    stream: &StreamId,
    version: u64,
    events: &[E],
    actor: &Actor,
    meta: CommandMeta,
) -> Result<AppendRequest, StoreError> {
    let mut regions: Vec<String> = Vec::new();
    let mut new_events = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let mut new = NewEvent::from_serialize(event.event_type(), event.schema_version(), event)?;
        if let Some(command_id) = meta.command_id {
            new.event_id = Uuid::new_v5(&command_id, &(i as u64).to_be_bytes());
        }
        regions.extend(event.regions().into_iter().map(String::from));
        new_events.push(new);
    }
    regions.sort();
    regions.dedup();
    Ok(AppendRequest {
        stream_id: stream.clone(),
        expected_version: ExpectedVersion::Exact(version),
        events: new_events,
        metadata: EventMetadata {
            actor: actor.id.to_string(),
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            command_id: meta.command_id,
            regions,
        },
    })
}
