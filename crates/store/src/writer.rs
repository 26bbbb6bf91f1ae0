//! The single writer of the log: group commit, ordering and the hash chain.
//!
//! Why serialised appends (and not a `pg_snapshot_xmin` watermark): every event's hash
//! covers its predecessor's hash, so appends to the global log are inherently sequential —
//! the writer must know the head hash before it can write. Positions are therefore assigned
//! under one lock (on PostgreSQL a transaction-scoped advisory lock, so several server
//! processes against one primary also queue; on SQLite the database's single write lock),
//! and a transaction commits before the next one can read the head. A reader following
//! `position > checkpoint` can never see position N+1 committed while N is still in flight:
//! the sequence-gap problem cannot occur, without any watermark bookkeeping on the read side.
//!
//! The cost is that one transaction is in flight at a time. To keep throughput, each
//! process runs one writer task that drains every append request waiting in its queue and
//! commits them together (group commit): under load, 32 concurrent commands cost one
//! transaction and one fsync, not 32. Each request still gets its own optimistic
//! concurrency check and its own outcome; a conflicting request does not fail the others.
//!
//! Each request carries the store's clock reading from when it was queued ([`Received`]):
//! that, not the commit, is its recorded time. So a request's time does not depend on the
//! group it lands in, and a caller that queues without waiting (an
//! [`Executor::pipeline`](crate::Executor::pipeline)) writes the same log as one that waits.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::hash::{self, GENESIS_HASH, HashInput};
use crate::model::{AppendOutcome, AppendRequest, ExpectedVersion, RecordedEvent};
use crate::payload::Payload;

/// Most requests one group commit takes.
const MAX_GROUP_REQUESTS: usize = 512;
/// Most events one group commit takes (a single larger request still goes through whole).
const MAX_GROUP_EVENTS: usize = 20_000;

/// The last event of the log, as the writer needs it.
#[derive(Debug, Clone)]
pub struct Head {
    pub position: u64,
    pub hash: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

impl Head {
    pub fn empty() -> Self {
        Head {
            position: 0,
            hash: GENESIS_HASH.to_owned(),
            recorded_at: None,
        }
    }
}

/// What planning a group reads under the lock: the head, the events already written by
/// the group's event or command ids, and each stream's current version.
pub type PlanReads = (Head, Vec<Existing>, HashMap<String, u64>);

/// An event already in the log that a new request repeats (same event id or command id).
#[derive(Debug, Clone)]
pub struct Existing {
    pub event_id: Uuid,
    pub command_id: Option<Uuid>,
    pub position: u64,
    pub stream_version: u64,
    pub stream_id: String,
    pub event_type: String,
    /// The stored payload as JSON text (any spelling; compared in canonical form).
    pub payload: String,
}

/// The IO one backend provides to the writer. All calls happen inside `Tx`, which holds
/// the log lock from `begin` until `commit`.
pub trait LogBackend: Send + Sync + 'static {
    type Tx: Send;
    /// Begin a transaction holding the log lock.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;
    /// Read the head of the log.
    fn head(&self, tx: &mut Self::Tx) -> impl Future<Output = Result<Head, StoreError>> + Send;
    /// Everything planning a group needs, in as few round trips as the backend allows: the
    /// head, the events that these event ids or command ids already wrote, and the current
    /// version of each stream.
    fn read_for_plan(
        &self,
        tx: &mut Self::Tx,
        event_ids: &[Uuid],
        command_ids: &[Uuid],
        streams: &[String],
    ) -> impl Future<Output = Result<PlanReads, StoreError>> + Send;
    fn insert(
        &self,
        tx: &mut Self::Tx,
        rows: &[RecordedEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Commit; `head` is the new last position (PostgreSQL notifies listeners with it).
    fn commit(
        &self,
        tx: Self::Tx,
        head: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the backend offers [`LogBackend::append_planned`]: a group written in one
    /// round trip when it was planned on the right assumptions. Worth it where a round trip
    /// is (PostgreSQL); SQLite, in process, plans under its lock.
    const PLANS_AHEAD: bool = false;

    /// Under the log lock, in a transaction of its own: write `rows` (planned on `head`,
    /// with no earlier event of `command_ids`, and each stream of `versions` at that
    /// version) if all of that still holds, and answer whether it did. When it answers
    /// `false` nothing was written.
    fn append_planned(
        &self,
        head: &Head,
        command_ids: &[Uuid],
        versions: &[(String, u64)],
        rows: &[RecordedEvent],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = (head, command_ids, versions, rows);
        async { Ok(false) }
    }
}

type Reply = oneshot::Sender<Result<AppendOutcome, StoreError>>;

/// An append request as the writer received it: stamped with the store's clock at the
/// moment it was queued. That reading becomes its events' `recorded_at` (raised to the
/// log's last recorded time if the clock is behind it), so a request's time does not depend
/// on which group commit it happens to share, and a caller that queues requests one after
/// another on a manual clock gets the same times whatever the grouping.
#[derive(Debug, Clone)]
pub struct Received {
    pub request: AppendRequest,
    pub at: DateTime<Utc>,
    pub chain: Option<AppendChain>,
}

impl Received {
    pub fn now(request: AppendRequest, clock: &dyn Clock) -> Self {
        Received {
            request,
            at: hash::truncate_to_micros(clock.now()),
            chain: None,
        }
    }
}

/// Appends queued one after another, each decided on the result of those before it (a
/// [`Pipeline`](crate::executor::Pipeline)'s). Once one of them is not stored as decided (a
/// conflict, a re-sent command, a failed write), the writer refuses every later append of
/// the chain with [`StoreError::ChainBroken`], even one whose expected version happens to
/// match: it was decided on a state that never existed.
#[derive(Debug, Clone, Default)]
pub struct AppendChain(Arc<AtomicBool>);

impl AppendChain {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_broken(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn mark_broken(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Break the chain of `received` if `outcome` is not what its request decided.
fn break_chain_unless_stored(received: &Received, outcome: &Result<AppendOutcome, StoreError>) {
    if let Some(chain) = chain_broken_by(received, outcome) {
        chain.mark_broken();
    }
}

/// The chain of `received`, if `outcome` is not what its request decided.
fn chain_broken_by<'a>(
    received: &'a Received,
    outcome: &Result<AppendOutcome, StoreError>,
) -> Option<&'a AppendChain> {
    received
        .chain
        .as_ref()
        .filter(|_| !stored_as_decided(received, outcome))
}

/// Whether `outcome` is what the request decided: not an error, nor a duplicate that is not
/// this very append (an ambiguous commit retried says duplicate at the version it was
/// decided for).
fn stored_as_decided(received: &Received, outcome: &Result<AppendOutcome, StoreError>) -> bool {
    match (outcome, received.request.expected_version) {
        (Ok(o), _) if !o.duplicate => true,
        (Ok(o), ExpectedVersion::Exact(v)) => {
            o.stream_version == v + received.request.events.len() as u64
        }
        _ => false,
    }
}

/// Break the chains of the requests whose outcome (now final: written, or nothing to
/// write) is not what they decided. [`plan`] does not: a plan made ahead may not be the one
/// written.
pub fn settle_chains(requests: &[Received], outcomes: &[Result<AppendOutcome, StoreError>]) {
    for (received, outcome) in requests.iter().zip(outcomes) {
        break_chain_unless_stored(received, outcome);
    }
}

/// An append queued to the writer, not yet known to be committed.
#[must_use = "an append is only known to be stored once its outcome has been awaited"]
pub struct PendingAppend(oneshot::Receiver<Result<AppendOutcome, StoreError>>);

impl PendingAppend {
    /// Wait for the group commit that carries this append.
    pub async fn outcome(mut self) -> Result<AppendOutcome, StoreError> {
        self.wait().await
    }

    /// Wait for the outcome without giving the handle up (cancel-safe: if this future is
    /// dropped, waiting again later still gets the outcome). Once it has returned, do not
    /// wait again.
    pub async fn wait(&mut self) -> Result<AppendOutcome, StoreError> {
        (&mut self.0).await.map_err(|_| StoreError::Closed)?
    }
}

/// Handle to the writer task.
#[derive(Clone)]
pub struct WriterHandle {
    queue: mpsc::Sender<(Received, Reply)>,
    clock: Arc<dyn Clock>,
    counts: Arc<Counts>,
}

/// How this process's group commits went, since it opened the store (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommits {
    /// Written as planned ahead, in one round trip ([`commit_group`]).
    pub planned_ahead: u64,
    /// Planned on what was read under the lock (the first group, a group after another
    /// process appended or a command was re-sent, a backend that does not plan ahead).
    pub read_first: u64,
}

#[derive(Default)]
struct Counts {
    planned_ahead: AtomicU64,
    read_first: AtomicU64,
}

impl WriterHandle {
    /// Queue an append (waiting only if the queue is full). Requests are written in the
    /// order they were queued.
    pub async fn enqueue(
        &self,
        request: AppendRequest,
        chain: Option<&AppendChain>,
    ) -> Result<PendingAppend, StoreError> {
        let (tx, rx) = oneshot::channel();
        let mut received = Received::now(request, self.clock.as_ref());
        received.chain = chain.cloned();
        self.queue
            .send((received, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(PendingAppend(rx))
    }

    pub fn group_commits(&self) -> GroupCommits {
        GroupCommits {
            planned_ahead: self.counts.planned_ahead.load(Ordering::Relaxed),
            read_first: self.counts.read_first.load(Ordering::Relaxed),
        }
    }
}

/// Start the writer task for a backend. It ends when every handle is dropped.
pub fn spawn_writer<B: LogBackend>(
    backend: Arc<B>,
    clock: Arc<dyn Clock>,
    head_tx: Arc<watch::Sender<u64>>,
) -> WriterHandle {
    let (queue, mut rx) = mpsc::channel::<(Received, Reply)>(4096);
    let counts = Arc::new(Counts::default());
    let task_counts = counts.clone();
    tokio::spawn(async move {
        let mut group: Vec<(Received, Reply)> = Vec::new();
        // The head this writer committed last: the next group is planned on it.
        let mut predicted: Option<Head> = None;
        while let Some(first) = rx.recv().await {
            let mut events = first.0.request.events.len();
            group.push(first);
            while group.len() < MAX_GROUP_REQUESTS && events < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(next) => {
                        events += next.0.request.events.len();
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            let (requests, replies): (Vec<_>, Vec<_>) = group.drain(..).unzip();
            let outcomes = match commit_group(
                backend.as_ref(),
                &requests,
                false,
                &mut predicted,
                &task_counts,
            )
            .await
            {
                Ok((outcomes, head)) => {
                    advance(&head_tx, head);
                    settle_chains(&requests, &outcomes);
                    outcomes
                }
                Err(e) => {
                    // A re-sent event id (the unique index said so) or one bad request: retry
                    // each request on its own, looking its event ids up this time, so that
                    // duplicates get their original positions and nobody fails for a
                    // neighbour.
                    if requests.len() > 1 || !e.is_unique_violation() {
                        tracing::warn!(error = %e, requests = requests.len(), "group commit failed, retrying one by one");
                    }
                    let mut outcomes = Vec::with_capacity(requests.len());
                    for request in &requests {
                        let single = std::slice::from_ref(request);
                        let outcome = match commit_group(
                            backend.as_ref(),
                            single,
                            true,
                            &mut predicted,
                            &task_counts,
                        )
                        .await
                        {
                            Ok((mut single, head)) => {
                                advance(&head_tx, head);
                                single.pop().unwrap_or(Err(StoreError::Closed))
                            }
                            Err(e) => Err(e),
                        };
                        break_chain_unless_stored(request, &outcome);
                        outcomes.push(outcome);
                    }
                    outcomes
                }
            };
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
    });
    WriterHandle {
        queue,
        clock,
        counts,
    }
}

/// Move the watched head forward (never back).
pub fn advance(head_tx: &watch::Sender<u64>, head: u64) {
    head_tx.send_if_modified(|h| {
        let moved = head > *h;
        *h = (*h).max(head);
        moved
    });
}

/// Write a group of requests in one transaction. Returns each request's outcome (an
/// individual conflict is an `Err` for that request only) and the new head position.
///
/// Re-sent event ids are normally caught by the unique index on `event_id` at insert, not
/// looked up first: looking up every id of every group is the costliest read of an append
/// (a 1,000-event batch probes the index 1,000 times). Only when the insert reports the
/// violation is the group retried with `check_event_ids`, which finds the original events
/// and answers with their positions. Command ids are always looked up (one per request).
///
/// **Planned ahead** (backends with [`LogBackend::PLANS_AHEAD`]): when this writer knows the
/// head it committed last (`predicted`) and every request names the version it expects,
/// the group is planned without reading: on that head, with no earlier event of its
/// command ids, and each stream at the version its first request expects. Those are
/// exactly the reads planning would make, so if they hold the plan is the one reading
/// would give; [`LogBackend::append_planned`] checks them under the lock and writes, in
/// one round trip. If another process appended meanwhile, a command is re-sent or a
/// stream moved, nothing is written and the group is planned again the long way.
async fn commit_group<B: LogBackend>(
    backend: &B,
    requests: &[Received],
    check_event_ids: bool,
    predicted: &mut Option<Head>,
    counts: &Counts,
) -> Result<(Vec<Result<AppendOutcome, StoreError>>, u64), StoreError> {
    // Whatever happens below, the head is known again only once a write says what it is.
    let known = predicted.take();
    if B::PLANS_AHEAD
        && !check_event_ids
        && let Some(head) = known
        && let Some(versions) = expected_versions(requests)
    {
        let (outcomes, rows, position) = plan(
            head.clone(),
            requests,
            &[],
            versions.iter().cloned().collect(),
        );
        if !rows.is_empty() {
            let command_ids: Vec<Uuid> = requests
                .iter()
                .filter_map(|r| r.request.metadata.command_id)
                .collect();
            if backend
                .append_planned(&head, &command_ids, &versions, &rows)
                .await?
            {
                *predicted = rows.last().map(head_after);
                counts.planned_ahead.fetch_add(1, Ordering::Relaxed);
                return Ok((outcomes, position));
            }
        }
    }
    let mut tx = backend.begin().await?;
    let (outcomes, rows, head) = plan_in_tx(backend, &mut tx, requests, check_event_ids).await?;
    if rows.is_empty() {
        // Nothing new (all duplicates or conflicts): end the transaction without notifying.
        backend.commit(tx, 0).await?;
        counts.read_first.fetch_add(1, Ordering::Relaxed);
        return Ok((outcomes, 0));
    }
    backend.insert(&mut tx, &rows).await?;
    backend.commit(tx, head).await?;
    *predicted = rows.last().map(head_after);
    counts.read_first.fetch_add(1, Ordering::Relaxed);
    Ok((outcomes, head))
}

/// The head of the log once `last` is written.
fn head_after(last: &RecordedEvent) -> Head {
    Head {
        position: last.position,
        hash: last.hash.clone(),
        recorded_at: Some(last.recorded_at),
    }
}

/// Each stream of the group at the version its first request expects, in the order of
/// first appearance; `None` when a request expects none (`ExpectedVersion::Any`), whose
/// stream's version only a read can tell.
fn expected_versions(requests: &[Received]) -> Option<Vec<(String, u64)>> {
    let mut seen = std::collections::HashSet::with_capacity(requests.len());
    let mut versions: Vec<(String, u64)> = Vec::with_capacity(requests.len());
    for received in requests {
        let ExpectedVersion::Exact(expected) = received.request.expected_version else {
            return None;
        };
        let stream = received.request.stream_id.as_str();
        if seen.insert(stream) {
            versions.push((stream.to_owned(), expected));
        }
    }
    Some(versions)
}

/// Lock the log, check each request, and compute the rows to insert (not yet inserted).
pub async fn plan_in_tx<B: LogBackend>(
    backend: &B,
    tx: &mut B::Tx,
    requests: &[Received],
    check_event_ids: bool,
) -> Result<
    (
        Vec<Result<AppendOutcome, StoreError>>,
        Vec<RecordedEvent>,
        u64,
    ),
    StoreError,
> {
    let event_ids: Vec<Uuid> = if check_event_ids {
        requests
            .iter()
            .flat_map(|r| r.request.events.iter().map(|e| e.event_id))
            .collect()
    } else {
        Vec::new()
    };
    let command_ids: Vec<Uuid> = requests
        .iter()
        .filter_map(|r| r.request.metadata.command_id)
        .collect();
    let mut streams: Vec<String> = requests
        .iter()
        .map(|r| r.request.stream_id.as_str().to_owned())
        .collect();
    streams.sort();
    streams.dedup();
    let (head, existing, versions) = backend
        .read_for_plan(tx, &event_ids, &command_ids, &streams)
        .await?;
    Ok(plan(head, requests, &existing, versions))
}

/// The pure part of an append: duplicates, version checks, positions, times and hashes.
pub fn plan(
    head: Head,
    requests: &[Received],
    existing: &[Existing],
    mut versions: HashMap<String, u64>,
) -> (
    Vec<Result<AppendOutcome, StoreError>>,
    Vec<RecordedEvent>,
    u64,
) {
    let mut last_recorded = head.recorded_at;
    let mut position = head.position;
    let mut prev_hash = head.hash;
    let mut rows: Vec<RecordedEvent> = Vec::new();
    // Appends earlier in this group, by command id: a repeat within one group is a
    // duplicate (or a clash) just as one of an earlier group is.
    let mut seen_commands: HashMap<Uuid, Vec<Existing>> = HashMap::new();
    let mut outcomes = Vec::with_capacity(requests.len());

    // Chains this plan breaks (marked only once the outcome is final: [`settle_chains`]).
    let mut broken: Vec<&AppendChain> = Vec::new();

    for received in requests {
        let Received { request, at, chain } = received;
        let stream = request.stream_id.as_str();
        if chain
            .as_ref()
            .is_some_and(|c| c.is_broken() || broken.iter().any(|b| Arc::ptr_eq(&b.0, &c.0)))
        {
            outcomes.push(Err(StoreError::ChainBroken {
                stream_id: stream.to_owned(),
            }));
            continue;
        }
        if let Some(outcome) = duplicate_of(request, existing, &seen_commands) {
            broken.extend(chain_broken_by(received, &outcome));
            outcomes.push(outcome);
            continue;
        }
        let actual = versions.get(stream).copied().unwrap_or(0);
        if let ExpectedVersion::Exact(expected) = request.expected_version
            && expected != actual
        {
            let conflict = Err(StoreError::Conflict {
                stream_id: stream.to_owned(),
                expected,
                actual,
            });
            broken.extend(chain_broken_by(received, &conflict));
            outcomes.push(conflict);
            continue;
        }
        // Recorded time never runs backwards in the log, even if the server clock does.
        let recorded_at = last_recorded.map_or(*at, |last| (*at).max(last));
        last_recorded = Some(recorded_at);
        let mut positions = Vec::with_capacity(request.events.len());
        let first_row = rows.len();
        let mut version = actual;
        for event in &request.events {
            position += 1;
            version += 1;
            let hash = hash::chain_hash(
                &prev_hash,
                &HashInput {
                    stream_id: stream,
                    stream_version: version,
                    event_id: event.event_id,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    payload: &event.payload,
                    metadata: &request.metadata,
                    recorded_at: &recorded_at,
                },
            );
            rows.push(RecordedEvent {
                position,
                stream_id: stream.to_owned(),
                stream_version: version,
                event_id: event.event_id,
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                payload: Payload::from(event.payload.clone()),
                metadata: request.metadata.clone(),
                recorded_at,
                prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
                hash,
            });
            positions.push(position);
        }
        versions.insert(stream.to_owned(), version);
        let outcome = AppendOutcome {
            stream_version: version,
            positions,
            duplicate: false,
        };
        if let Some(command_id) = request.metadata.command_id {
            let written = rows[first_row..]
                .iter()
                .map(|row| Existing {
                    event_id: row.event_id,
                    command_id: Some(command_id),
                    position: row.position,
                    stream_version: row.stream_version,
                    stream_id: row.stream_id.clone(),
                    event_type: row.event_type.clone(),
                    payload: String::new(),
                })
                .collect();
            seen_commands.insert(command_id, written);
        }
        outcomes.push(Ok(outcome));
    }
    (outcomes, rows, position)
}

/// Whether `request` repeats an append already made, and if so its original outcome.
///
/// A re-send is a duplicate only when it is the same append: the same stream and the same
/// events. By command id (the idempotency key of a command): the same stream and the same
/// event types in the same order; the payloads and event ids may differ, as a command
/// decided again may stamp another time into its payload and a raw client may draw new
/// event ids per attempt (the executor derives them from the command id). By event id
/// alone: the same ids, types, command id and payloads. Anything else that reuses an id is refused with
/// [`StoreError::IdempotencyClash`] naming it: nothing is dropped silently.
fn duplicate_of(
    request: &AppendRequest,
    existing: &[Existing],
    seen_commands: &HashMap<Uuid, Vec<Existing>>,
) -> Option<Result<AppendOutcome, StoreError>> {
    let stream = request.stream_id.as_str();
    let clash = |reason: String| Some(Err(StoreError::IdempotencyClash(reason)));
    if let Some(command_id) = request.metadata.command_id {
        let mut hits: Vec<&Existing> = match seen_commands.get(&command_id) {
            Some(written) => written.iter().collect(),
            None => existing
                .iter()
                .filter(|e| e.command_id == Some(command_id))
                .collect(),
        };
        if !hits.is_empty() {
            hits.sort_by_key(|e| e.position);
            if let Some(other) = hits.iter().find(|e| e.stream_id != stream) {
                return clash(format!(
                    "command {command_id} was already used on stream {}",
                    other.stream_id
                ));
            }
            let same_events = hits.len() == request.events.len()
                && hits
                    .iter()
                    .zip(&request.events)
                    .all(|(e, n)| e.event_type == n.event_type);
            if !same_events {
                return clash(format!(
                    "command {command_id} was already stored on {stream} with other events"
                ));
            }
            return Some(Ok(outcome_of(&hits)));
        }
    }
    let mut hits: Vec<&Existing> = existing
        .iter()
        .filter(|e| request.events.iter().any(|n| n.event_id == e.event_id))
        .collect();
    if hits.is_empty() {
        return None;
    }
    hits.sort_by_key(|e| e.position);
    if hits.len() != request.events.len() {
        return clash(format!(
            "event {} is already in the log (position {}), but this append also holds events that are not",
            hits[0].event_id, hits[0].position
        ));
    }
    for (stored, new) in hits.iter().zip(&request.events) {
        let same = stored.event_id == new.event_id
            && stored.stream_id == stream
            && stored.event_type == new.event_type
            && stored.command_id == request.metadata.command_id
            && serde_json::from_str::<serde_json::Value>(&stored.payload)
                .is_ok_and(|p| hash::canonical(&p) == hash::canonical(&new.payload));
        if !same {
            return clash(format!(
                "event {} is already in the log (position {}, stream {}) with other content",
                stored.event_id, stored.position, stored.stream_id
            ));
        }
    }
    Some(Ok(outcome_of(&hits)))
}

fn outcome_of(hits: &[&Existing]) -> AppendOutcome {
    AppendOutcome {
        stream_version: hits.iter().map(|e| e.stream_version).max().unwrap_or(0),
        positions: hits.iter().map(|e| e.position).collect(),
        duplicate: true,
    }
}

/// Append events that already carry their positions and hashes (an import). They must
/// continue the log exactly: the first one follows the head, and each links to the one
/// before. Takes the same log lock as appends.
pub async fn import_rows<B: LogBackend>(
    backend: &B,
    rows: &[RecordedEvent],
) -> Result<u64, StoreError> {
    let Some(first) = rows.first() else {
        return Err(StoreError::InvalidInput(
            "an import batch needs at least one event".into(),
        ));
    };
    let mut tx = backend.begin().await?;
    let head = backend.head(&mut tx).await?;
    if first.position != head.position + 1 || first.prev_hash != head.hash {
        return Err(StoreError::InvalidInput(format!(
            "imported event {} does not continue the log at position {}",
            first.position, head.position
        )));
    }
    for pair in rows.windows(2) {
        if pair[1].position != pair[0].position + 1 || pair[1].prev_hash != pair[0].hash {
            return Err(StoreError::InvalidInput(format!(
                "imported event {} does not follow {}",
                pair[1].position, pair[0].position
            )));
        }
    }
    let last = rows.last().map_or(head.position, |e| e.position);
    backend.insert(&mut tx, rows).await?;
    backend.commit(tx, last).await?;
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventMetadata, NewEvent, StreamId};

    fn received(stream: &str, expected: ExpectedVersion, chain: Option<&AppendChain>) -> Received {
        Received {
            request: AppendRequest {
                stream_id: StreamId::parse(stream).expect("stream id"),
                expected_version: expected,
                events: vec![NewEvent::new("Counted", 1, serde_json::json!({ "n": 1 }))],
                metadata: EventMetadata::default(),
            },
            at: chrono::DateTime::UNIX_EPOCH,
            chain: chain.cloned(),
        }
    }

    /// A plan marks no chain: a plan made ahead may never be written. Within the plan a
    /// chain broken by an earlier request refuses the later ones all the same, and the
    /// chain is marked once the outcomes are settled.
    #[test]
    fn a_plan_breaks_chains_only_when_settled() {
        let chain = AppendChain::new();
        let requests = [
            received("tally-a", ExpectedVersion::Exact(5), Some(&chain)),
            received("tally-b", ExpectedVersion::Exact(0), Some(&chain)),
            received("tally-c", ExpectedVersion::Exact(0), None),
        ];
        let versions = HashMap::from([("tally-a".to_owned(), 7)]);
        let (outcomes, rows, head) = plan(Head::empty(), &requests, &[], versions);
        assert!(matches!(
            outcomes[0],
            Err(StoreError::Conflict { actual: 7, .. })
        ));
        assert!(matches!(outcomes[1], Err(StoreError::ChainBroken { .. })));
        assert!(outcomes[2].is_ok());
        assert_eq!((rows.len(), head), (1, 1));
        assert!(!chain.is_broken(), "not before the outcome is final");
        settle_chains(&requests, &outcomes);
        assert!(chain.is_broken());
    }

    #[test]
    fn a_group_is_planned_ahead_only_on_expected_versions() {
        let requests = [
            received("tally-a", ExpectedVersion::Exact(2), None),
            received("tally-b", ExpectedVersion::Exact(0), None),
            received("tally-a", ExpectedVersion::Exact(3), None),
        ];
        assert_eq!(
            expected_versions(&requests),
            Some(vec![("tally-a".to_owned(), 2), ("tally-b".to_owned(), 0)])
        );
        let any = [
            received("tally-a", ExpectedVersion::Exact(2), None),
            received("tally-b", ExpectedVersion::Any, None),
        ];
        assert_eq!(expected_versions(&any), None);
    }
}
