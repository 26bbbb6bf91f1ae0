//! Live subscription: catch up from a position, then follow new appends as they commit.
//!
//! The subscriber reads pages after its position until it is level with the log, then
//! sleeps on the store's head watch: woken by the writer in this process, and on PostgreSQL
//! by LISTEN/NOTIFY from every process. A slow fallback poll covers a notification lost
//! while the LISTEN connection reconnects, and appends by another process on one SQLite file.
//!
//! An outage (the database unreachable, a connection lost) is waited out: the subscriber
//! reads again from the same position, 0.5 s after the failure and then doubling to 5 s,
//! so a dashboard's feed goes on by itself, missing nothing, once the database is back.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use tokio_util::sync::CancellationToken;

use crate::EventLog;
use crate::error::StoreError;
use crate::model::RecordedEvent;

const PAGE: u32 = 1_000;
const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// First and longest wait before reading again after an outage.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(5);

struct Cursor<L> {
    log: L,
    after: u64,
    buffer: VecDeque<RecordedEvent>,
    head: tokio::sync::watch::Receiver<u64>,
    cancel: CancellationToken,
    failed: bool,
    retry: Duration,
}

/// Every event after `after`, in order, then each new one as it is appended, until `cancel`
/// fires (the stream then ends cleanly). An outage is retried (see the module); any other
/// read error (a corrupt row) is yielded once and ends the stream.
pub fn subscribe<L: EventLog>(
    log: L,
    after: u64,
    cancel: CancellationToken,
) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
    let head = log.watch_head();
    let cursor = Cursor {
        log,
        after,
        buffer: VecDeque::new(),
        head,
        cancel,
        failed: false,
        retry: RETRY_FIRST,
    };
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.failed || c.cancel.is_cancelled() {
                return None;
            }
            if let Some(e) = c.buffer.pop_front() {
                c.after = e.position;
                return Some((Ok(e), c));
            }
            // Mark the current head as seen before reading, so an append that lands while
            // we read still wakes us afterwards.
            c.head.borrow_and_update();
            match c.log.read_all(c.after, PAGE).await {
                Err(e) if is_outage(&e) => {
                    tracing::warn!(error = %e, after = c.after, "subscription read failed; reading again");
                    tokio::select! {
                        () = c.cancel.cancelled() => return None,
                        () = tokio::time::sleep(c.retry) => {}
                    }
                    c.retry = (c.retry * 2).min(RETRY_MAX);
                    continue;
                }
                Err(e) => {
                    c.failed = true;
                    return Some((Err(e), c));
                }
                Ok(page) => {
                    c.retry = RETRY_FIRST;
                    if !page.is_empty() {
                        c.buffer.extend(page);
                        continue;
                    }
                }
            }
            tokio::select! {
                () = c.cancel.cancelled() => return None,
                changed = c.head.changed() => if changed.is_err() { return None },
                () = tokio::time::sleep(FALLBACK_POLL) => {}
            }
        }
    })
}

/// Whether a read failed because the database is (for now) out of reach.
fn is_outage(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Unavailable(_) | StoreError::Unreachable { .. } | StoreError::Database(_)
    )
}
