//! Live subscription: catch up from a position, then follow new appends as they commit.
//!
//! The subscriber reads pages after its position until it is level with the log, then
//! sleeps on the store's head watch: woken by the writer in this process, and on PostgreSQL
//! by LISTEN/NOTIFY from every process. A slow fallback poll covers a notification lost
//! while the LISTEN connection reconnects, and appends by another process on one SQLite file.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use tokio_util::sync::CancellationToken;

use crate::EventLog;
use crate::error::StoreError;
use crate::model::RecordedEvent;

const PAGE: u32 = 1_000;
const FALLBACK_POLL: Duration = Duration::from_secs(2);

struct Cursor<L> {
    log: L,
    after: u64,
    buffer: VecDeque<RecordedEvent>,
    head: tokio::sync::watch::Receiver<u64>,
    cancel: CancellationToken,
    failed: bool,
}

/// Every event after `after`, in order, then each new one as it is appended, until `cancel`
/// fires (the stream then ends cleanly). A read error is yielded once and ends the stream.
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
                Err(e) => {
                    c.failed = true;
                    return Some((Err(e), c));
                }
                Ok(page) if !page.is_empty() => {
                    c.buffer.extend(page);
                    continue;
                }
                Ok(_) => {}
            }
            tokio::select! {
                () = c.cancel.cancelled() => return None,
                changed = c.head.changed() => if changed.is_err() { return None },
                () = tokio::time::sleep(FALLBACK_POLL) => {}
            }
        }
    })
}
