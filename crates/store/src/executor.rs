//! The command executor: load a stream, fold it, decide, append with the expected version.
//!
//! The API, the simulator and the tests all issue commands through [`Executor::execute`],
//! so every rule of the domain runs the same way whoever calls. Domain refusals and
//! infrastructure failures never share a type: `Ok(Err(rejection))` is the domain saying no,
//! `Err(ExecuteError)` is the machinery failing.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use uuid::Uuid;
use xingcun_domain::{Actor, Aggregate, CommandContext, DomainEvent};

use crate::EventLog;
use crate::error::StoreError;
use crate::model::{AppendRequest, EventMetadata, ExpectedVersion, NewEvent, StreamId};
use crate::writer::{AppendChain, PendingAppend};

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
    /// An append queued by a [`Pipeline`] was not stored as it was decided (another writer
    /// moved the stream, or the command id had been used before).
    #[error("queued append to {stream_id} was not stored as decided: {reason}")]
    Diverged { stream_id: String, reason: String },
}

impl ExecuteError {
    pub fn code(&self) -> &'static str {
        match self {
            ExecuteError::Store(e) => e.code(),
            ExecuteError::Conflict { .. } | ExecuteError::Diverged { .. } => "CONFLICT",
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
///
/// Two generations bound the memory: when the current one is full it becomes the previous
/// one (the older previous one is dropped), and a hit in the previous generation moves the
/// entry back to the current one. Streams in use stay; streams nobody touched for a whole
/// generation go. At most twice `capacity` states are held.
struct StateCache {
    current: HashMap<String, CachedState>,
    previous: HashMap<String, CachedState>,
    capacity: usize,
}

type CachedState = (Box<dyn Any + Send>, u64);

impl StateCache {
    fn take(&mut self, stream: &str) -> Option<CachedState> {
        self.current
            .remove(stream)
            .or_else(|| self.previous.remove(stream))
    }

    fn put(&mut self, stream: &str, entry: CachedState) {
        if self.current.len() >= self.capacity && !self.current.contains_key(stream) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(stream.to_owned(), entry);
    }

    fn clear(&mut self) {
        self.current.clear();
        self.previous.clear();
    }
}

impl<L: EventLog> Executor<L> {
    pub fn new(log: L) -> Self {
        Executor {
            log,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            cache: None,
        }
    }

    /// Keep up to `capacity` folded aggregate states in memory (twice that at most, see
    /// the two generations of the cache), so a command on a stream this executor touched
    /// recently does not re-read and re-fold the stream. For long runs of commands from one
    /// process (the simulator, imports of reference data).
    pub fn with_state_cache(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(Mutex::new(StateCache {
            current: HashMap::new(),
            previous: HashMap::new(),
            capacity: capacity.max(1),
        })));
        self
    }

    fn cached<A: Aggregate>(&self, stream: &StreamId) -> Option<(A, u64)> {
        let cache = self.cache.as_ref()?;
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        let (state, version) = cache.take(stream.as_str())?;
        state.downcast::<A>().ok().map(|s| (*s, version))
    }

    fn keep<A: Aggregate>(&self, stream: &StreamId, state: A, version: u64) {
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.put(stream.as_str(), (Box::new(state), version));
        }
    }

    /// Decide `command` on `state` at the store's clock.
    fn decide<A: Aggregate>(&self, state: &A, command: A::Command, actor: &Actor) -> Decision<A> {
        let ctx = CommandContext {
            actor,
            now: self.log.clock().now(),
        };
        match state.decide(command, &ctx) {
            Ok(events) if events.is_empty() => Decision::Nothing,
            Ok(events) => Decision::Append(events),
            Err(rejection) => Decision::Refused(rejection),
        }
    }

    fn forget_cached_states(&self) {
        if let Some(cache) = &self.cache {
            cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// A [`Pipeline`] over this executor's log, keeping up to `window` appends in flight.
    /// It has a state cache of its own (never shared with this executor, whose commands
    /// must not decide on states that are not stored yet), as large as this executor's, or
    /// `window * 16` states if this one has none.
    pub fn pipeline(&self, window: usize) -> Pipeline<L> {
        let window = window.max(1);
        let capacity = self
            .cache
            .as_ref()
            .map_or(window.saturating_mul(16), |cache| {
                cache.lock().unwrap_or_else(|p| p.into_inner()).capacity
            });
        Pipeline {
            executor: Executor::new(self.log.clone())
                .with_max_attempts(self.max_attempts)
                .with_state_cache(capacity),
            chain: AppendChain::new(),
            in_flight: VecDeque::new(),
            streams_in_flight: HashMap::new(),
            window,
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
            let event: A::Event =
                recorded
                    .payload
                    .decode()
                    .map_err(|e| ExecuteError::Undecodable {
                        stream_id: stream.to_string(),
                        position: recorded.position,
                        reason: e.to_string(),
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
        // A command sent again gets its first result, whatever deciding it now would say.
        // That is found without a round trip of its own on the way that matters: an append
        // carrying the command id is answered as the duplicate by the log itself. Only a
        // decision that would not append the same events (a refusal, nothing to do, other
        // events: the state moved on since) asks the log whether the command was done.
        for _attempt in 0..self.max_attempts {
            let (mut state, version) = match self.cached::<A>(&stream) {
                Some(hit) => hit,
                None => self.load_stream::<A>(&stream).await?,
            };
            let events = match self.decide(&state, command.clone(), actor) {
                Decision::Append(events) => events,
                Decision::Refused(rejection) => {
                    self.keep(&stream, state, version);
                    if let Some(done) = self.done_before(&stream, meta.command_id).await? {
                        return Ok(Ok(done));
                    }
                    return Ok(Err(rejection));
                }
                Decision::Nothing => {
                    self.keep(&stream, state, version);
                    if let Some(done) = self.done_before(&stream, meta.command_id).await? {
                        return Ok(Ok(done));
                    }
                    return Ok(Ok(Executed {
                        stream_id: stream.to_string(),
                        stream_version: version,
                        positions: Vec::new(),
                        duplicate: false,
                    }));
                }
            };
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
                Err(StoreError::IdempotencyClash(reason)) => {
                    // The command was done on this stream with other events than deciding
                    // it now gives: its first result stands.
                    if let Some(done) = self.done_before(&stream, meta.command_id).await? {
                        return Ok(Ok(done));
                    }
                    return Err(StoreError::IdempotencyClash(reason).into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExecuteError::Conflict {
            stream_id: stream.to_string(),
            attempts: self.max_attempts,
        })
    }

    /// The first result of `command_id` on `stream`, if the log holds it; an idempotency
    /// clash if it was used on another stream.
    async fn done_before(
        &self,
        stream: &StreamId,
        command_id: Option<Uuid>,
    ) -> Result<Option<Executed>, ExecuteError> {
        let Some(command_id) = command_id else {
            return Ok(None);
        };
        let Some(record) = self.log.find_command(command_id).await? else {
            return Ok(None);
        };
        if record.stream_id != stream.as_str() {
            return Err(StoreError::IdempotencyClash(format!(
                "command {command_id} was already used on stream {}",
                record.stream_id
            ))
            .into());
        }
        let done = record.outcome;
        Ok(Some(Executed {
            stream_id: stream.to_string(),
            stream_version: done.stream_version,
            positions: done.positions,
            duplicate: true,
        }))
    }
}

/// What the domain made of a command.
enum Decision<A: Aggregate> {
    Append(Vec<A::Event>),
    /// Decided, nothing to record.
    Nothing,
    Refused(A::Error),
}

/// What a command queued by a [`Pipeline`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub stream_id: String,
    /// The stream's version once the append is stored.
    pub stream_version: u64,
    /// Events the command appends (0 if it decided nothing).
    pub events: usize,
}

/// Commands issued back to back without waiting for each one to commit: the writer then
/// stores many of them in one group commit, one transaction and one fsync, instead of one
/// each. For a single writer that owns the streams it touches (the simulator, bulk loads of
/// reference data); a server handling cadres' requests uses [`Executor::execute`].
///
/// Each command is decided against the state its predecessors left in the cache, not
/// against the log, and queued with that version as the expected one. Order is kept: the
/// writer stores queued appends in the order they were queued, each stamped with the
/// store's clock when it was queued, so a pipeline on a manual clock writes the same log,
/// byte for byte, however its appends are grouped.
///
/// What it gives up, against `execute`: no look-up of the command id before deciding (the
/// writer still refuses a re-sent one), and no retry. An append's outcome is only looked at
/// when it is settled: when more than `window` are in flight, on [`Pipeline::flush`], or
/// when a stream with appends in flight is read again; a [`Submitted`] is provisional until
/// then. If one is not stored as decided, that call reports [`ExecuteError::Diverged`] (or
/// the store's error); the writer refuses every append queued after it in this pipeline
/// ([`AppendChain`]: they were decided on its result), the pipeline waits for them to be
/// refused, forgets its cached states, and goes on from what the log holds. A stream that
/// is not in the cache is read from the log; if appends to it are still in flight (its
/// state left the cache meanwhile), only after they have been stored.
///
/// Same log as `execute` means: on a [`ManualClock`](crate::ManualClock) set before each
/// command, as the simulator does. On the system clock the times are those at queueing.
pub struct Pipeline<L> {
    executor: Executor<L>,
    chain: AppendChain,
    in_flight: VecDeque<(String, u64, PendingAppend)>,
    /// Appends in flight per stream.
    streams_in_flight: HashMap<String, usize>,
    window: usize,
}

impl<L: EventLog> Pipeline<L> {
    pub fn log(&self) -> &L {
        self.executor.log()
    }

    /// Appends queued and not yet confirmed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Decide `command` against `{A::CATEGORY}-{id}` as `actor` at the store's clock and
    /// queue its events. `Ok(Err(rejection))` is the domain refusing it (nothing queued).
    pub async fn submit<A: Aggregate>(
        &mut self,
        id: &str,
        command: A::Command,
        actor: &Actor,
        meta: CommandMeta,
    ) -> Result<Result<Submitted, A::Error>, ExecuteError> {
        let stream = StreamId::of(A::CATEGORY, id)?;
        let (mut state, version) = self.state_of::<A>(&stream).await?;
        let events = match self.executor.decide(&state, command, actor) {
            Decision::Append(events) => events,
            Decision::Refused(rejection) => {
                self.executor.keep(&stream, state, version);
                return Ok(Err(rejection));
            }
            Decision::Nothing => {
                self.executor.keep(&stream, state, version);
                return Ok(Ok(Submitted {
                    stream_id: stream.to_string(),
                    stream_version: version,
                    events: 0,
                }));
            }
        };
        let request = match to_request(&stream, version, &events, actor, meta) {
            Ok(request) => request,
            Err(e) => {
                self.executor.keep(&stream, state, version);
                return Err(e.into());
            }
        };
        let pending = match self.executor.log.enqueue(request, Some(&self.chain)).await {
            Ok(pending) => pending,
            // Refused before it was queued (an event that can never be stored): nothing
            // changed, the pipeline goes on.
            Err(e @ StoreError::InvalidInput(_)) => {
                self.executor.keep(&stream, state, version);
                return Err(e.into());
            }
            Err(e) => return Err(self.abandon(e.into()).await),
        };
        for event in &events {
            state.evolve(event);
        }
        let stream_version = version + events.len() as u64;
        self.executor.keep(&stream, state, stream_version);
        *self
            .streams_in_flight
            .entry(stream.as_str().to_owned())
            .or_default() += 1;
        self.in_flight
            .push_back((stream.to_string(), stream_version, pending));
        while self.in_flight.len() > self.window {
            self.settle_oldest().await?;
        }
        Ok(Ok(Submitted {
            stream_id: stream.to_string(),
            stream_version,
            events: events.len(),
        }))
    }

    /// The state of `{A::CATEGORY}-{id}` with everything queued so far applied.
    pub async fn load<A: Aggregate + Clone>(&mut self, id: &str) -> Result<(A, u64), ExecuteError> {
        let stream = StreamId::of(A::CATEGORY, id)?;
        let (state, version) = self.state_of::<A>(&stream).await?;
        self.executor.keep(&stream, state.clone(), version);
        Ok((state, version))
    }

    /// Wait until every queued append is stored.
    pub async fn flush(&mut self) -> Result<(), ExecuteError> {
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    async fn state_of<A: Aggregate>(
        &mut self,
        stream: &StreamId,
    ) -> Result<(A, u64), ExecuteError> {
        if let Some(hit) = self.executor.cached::<A>(stream) {
            return Ok(hit);
        }
        if self.streams_in_flight.contains_key(stream.as_str()) {
            self.flush().await?;
        }
        self.executor.load_stream::<A>(stream).await
    }

    /// Wait for the oldest append in flight. Cancel-safe: it leaves the queue only once its
    /// outcome is known.
    async fn settle_oldest(&mut self) -> Result<(), ExecuteError> {
        let Some((_, _, pending)) = self.in_flight.front_mut() else {
            return Ok(());
        };
        let result = pending.wait().await;
        let Some((stream_id, expected, _)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        if let Some(count) = self.streams_in_flight.get_mut(&stream_id) {
            *count -= 1;
            if *count == 0 {
                self.streams_in_flight.remove(&stream_id);
            }
        }
        let failure = match result {
            // A duplicate at the decided version is this very append, committed by an
            // attempt whose answer was lost and found again by the writer's retry.
            Ok(outcome) if outcome.stream_version == expected => return Ok(()),
            Ok(outcome) if outcome.duplicate => ExecuteError::Diverged {
                stream_id,
                reason: "its command id was already in the log".into(),
            },
            Ok(outcome) => ExecuteError::Diverged {
                reason: format!(
                    "stored at version {}, decided for {expected}",
                    outcome.stream_version
                ),
                stream_id,
            },
            Err(StoreError::Conflict {
                expected, actual, ..
            }) => ExecuteError::Diverged {
                reason: format!("another writer moved it from version {expected} to {actual}"),
                stream_id,
            },
            Err(e) => e.into(),
        };
        Err(self.abandon(failure).await)
    }

    /// After a failure: wait until the writer has dealt with everything still in flight
    /// (the chain makes it refuse them), forget the cached states, start a new chain.
    async fn abandon(&mut self, error: ExecuteError) -> ExecuteError {
        for (_, _, mut pending) in self.in_flight.drain(..) {
            let _ = pending.wait().await;
        }
        self.streams_in_flight.clear();
        self.executor.forget_cached_states();
        self.chain = AppendChain::new();
        error
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
