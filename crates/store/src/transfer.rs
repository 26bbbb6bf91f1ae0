//! `xingcun export` / `xingcun import`: the log as JSON Lines.
//!
//! One event per line, in position order, each line the canonical JSON (sorted keys, no
//! whitespace) of the stored event: position, stream id and version, event id and type,
//! schema version, payload, metadata, recorded time and both hashes. The last line is a
//! trailer, `{"end":{…}}`, with the event count and head hash, so a file cut short at a line
//! boundary is still recognised as truncated. Because every line is canonical, exporting the
//! same log from SQLite or PostgreSQL gives the same bytes.
//!
//! Import is for moving a city between databases and for starting benchmarks from identical
//! data. It reads the file twice: first it parses every line and re-checks the whole hash
//! chain and the trailer, refusing a bad file (naming the line) before writing anything;
//! then it loads the events in batched transactions. An import that was interrupted leaves a
//! prefix of the file in the database; running it again checks that prefix against the file
//! and continues after it, so nothing is duplicated. A database holding anything else is
//! refused.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::EventLog;
use crate::error::StoreError;
use crate::hash::{self, GENESIS_HASH};
use crate::model::RecordedEvent;
use crate::payload::Payload;
use crate::verify::ChainChecker;

const PAGE: u32 = 10_000;
/// Events per import transaction.
pub const IMPORT_BATCH: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("line {line}: {reason}")]
    Line { line: u64, reason: String },
    #[error("the file is truncated after line {lines}: {reason}")]
    Truncated { lines: u64, reason: String },
    #[error(
        "the target database is not empty ({events} events) and does not hold the beginning of this file; \
         import only into an empty database or one an interrupted import of this file left behind"
    )]
    NotEmpty { events: u64 },
    #[error(
        "this file is one village's extract (village {village}), not a whole log; only whole logs can be imported"
    )]
    Partial { village: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub events: u64,
    /// Position and hash of the last event of the log read (not only of the events written).
    pub head_position: u64,
    pub head_hash: String,
    /// The village the export was restricted to, if any.
    pub village: Option<String>,
}

/// The canonical line of one event.
pub fn event_line(e: &RecordedEvent) -> String {
    let value = json!({
        "position": e.position,
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_id": e.event_id,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "payload": e.payload,
        "metadata": e.metadata,
        "recorded_at": hash::format_time(&e.recorded_at),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    });
    hash::canonical(&value)
}

/// Write the log (or the events touching one village) to `out` as JSON Lines.
pub async fn export_jsonl<L: EventLog>(
    log: &L,
    out: &mut impl Write,
    village: Option<&str>,
) -> Result<ExportSummary, TransferError> {
    let io = |source| TransferError::Io {
        path: PathBuf::from("<output>"),
        source,
    };
    let mut after = 0;
    let mut written = 0;
    let mut head_hash = GENESIS_HASH.to_owned();
    loop {
        let page = log.read_all_raw(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        head_hash = last.hash.clone();
        for e in &page {
            if village.is_some_and(|v| !e.metadata.regions.iter().any(|r| r == v)) {
                continue;
            }
            out.write_all(event_line(e).as_bytes()).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
            written += 1;
        }
    }
    let summary = ExportSummary {
        events: written,
        head_position: after,
        head_hash,
        village: village.map(str::to_owned),
    };
    let trailer = hash::canonical(&json!({ "end": summary }));
    out.write_all(trailer.as_bytes()).map_err(io)?;
    out.write_all(b"\n").map_err(io)?;
    out.flush().map_err(io)?;
    Ok(summary)
}

/// One event line as read back.
#[derive(Deserialize)]
struct Line {
    position: u64,
    stream_id: String,
    stream_version: u64,
    event_id: uuid::Uuid,
    event_type: String,
    schema_version: u32,
    payload: Value,
    metadata: crate::model::EventMetadata,
    recorded_at: String,
    prev_hash: String,
    hash: String,
}

#[derive(Deserialize)]
struct Trailer {
    end: ExportSummary,
}

enum Parsed {
    Event(Box<RecordedEvent>),
    End(ExportSummary),
}

fn parse_line(text: &str, line: u64) -> Result<Parsed, TransferError> {
    let bad = |reason: String| TransferError::Line { line, reason };
    if text.starts_with("{\"end\":") {
        let t: Trailer =
            serde_json::from_str(text).map_err(|e| bad(format!("unreadable trailer: {e}")))?;
        return Ok(Parsed::End(t.end));
    }
    let l: Line = serde_json::from_str(text).map_err(|e| bad(format!("not an event line: {e}")))?;
    let recorded_at = DateTime::parse_from_rfc3339(&l.recorded_at)
        .map_err(|e| bad(format!("recorded_at: {e}")))?
        .with_timezone(&Utc);
    crate::model::StreamId::parse(&l.stream_id).map_err(|e| bad(e.to_string()))?;
    // What an append would refuse, an import refuses too, before anything is written: a
    // file from an older or tampered store must not get half-way into a database.
    crate::limits::check_event(&l.event_type, l.schema_version, &l.payload)
        .and_then(|_| crate::limits::check_metadata(&l.metadata))
        .map_err(|e| bad(e.to_string()))?;
    Ok(Parsed::Event(Box::new(RecordedEvent {
        position: l.position,
        stream_id: l.stream_id,
        stream_version: l.stream_version,
        event_id: l.event_id,
        event_type: l.event_type,
        schema_version: l.schema_version,
        payload: Payload::from(l.payload),
        metadata: l.metadata,
        recorded_at,
        prev_hash: l.prev_hash,
        hash: l.hash,
    })))
}

/// Read a file's lines, calling `each` for every event line; checks the trailer.
fn scan(
    path: &Path,
    mut each: impl FnMut(u64, RecordedEvent) -> Result<bool, TransferError>,
) -> Result<ExportSummary, TransferError> {
    let io = |source| TransferError::Io {
        path: path.to_owned(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let mut buf = String::new();
    let mut line = 0;
    let mut events = 0;
    loop {
        buf.clear();
        let n = reader.read_line(&mut buf).map_err(io)?;
        if n == 0 {
            return Err(TransferError::Truncated {
                lines: line,
                reason: "the end-of-log trailer is missing".into(),
            });
        }
        line += 1;
        if !buf.ends_with('\n') {
            return Err(TransferError::Truncated {
                lines: line - 1,
                reason: format!("line {line} is cut off"),
            });
        }
        match parse_line(buf.trim_end_matches(['\n', '\r']), line)? {
            Parsed::Event(e) => {
                events += 1;
                if !each(line, *e)? {
                    // The caller needs no more lines.
                    return Ok(ExportSummary {
                        events,
                        head_position: 0,
                        head_hash: String::new(),
                        village: None,
                    });
                }
            }
            Parsed::End(summary) => {
                if let Some(village) = summary.village {
                    return Err(TransferError::Partial { village });
                }
                if summary.events != events {
                    return Err(TransferError::Line {
                        line,
                        reason: format!(
                            "the trailer counts {} events but the file holds {events}",
                            summary.events
                        ),
                    });
                }
                buf.clear();
                if reader.read_line(&mut buf).map_err(io)? != 0 {
                    return Err(TransferError::Line {
                        line: line + 1,
                        reason: "text after the end-of-log trailer".into(),
                    });
                }
                return Ok(summary);
            }
        }
    }
}

/// The village named in the trailer of a village extract (`xingcun export --village`),
/// read from the end of the file; `None` for a whole log or a file without a readable
/// trailer (the full check then says what is wrong with it).
fn extract_village(path: &Path) -> Result<Option<String>, TransferError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| TransferError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // A trailer is well under 1 KiB; 4 KiB leaves room for any village code.
    let tail_len = len.min(4096);
    file.seek(SeekFrom::Start(len - tail_len)).map_err(io)?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.take(tail_len).read_to_end(&mut tail).map_err(io)?;
    let tail = String::from_utf8_lossy(&tail);
    let Some(last) = tail.trim_end_matches(['\n', '\r']).rsplit('\n').next() else {
        return Ok(None);
    };
    Ok(serde_json::from_str::<Trailer>(last)
        .ok()
        .and_then(|t| t.end.village))
}

/// Check a file without importing it: every line parses, the chain verifies, the trailer
/// matches. Returns the trailer.
pub fn check_file(path: &Path) -> Result<ExportSummary, TransferError> {
    check_file_counting(path, &AtomicU64::new(0))
}

/// [`check_file`], counting the events checked so far into `checked` (read by another
/// task to show progress).
pub fn check_file_counting(
    path: &Path,
    checked: &AtomicU64,
) -> Result<ExportSummary, TransferError> {
    // A village extract holds a chain with gaps, so the chain check would fail on its second
    // event with "hash chain broken"; its trailer says what it is, so that is read first.
    if let Some(village) = extract_village(path)? {
        return Err(TransferError::Partial { village });
    }
    let mut chain = ChainChecker::default();
    let summary = scan(path, |line, e| {
        chain.check(&e).map_err(|t| TransferError::Line {
            line,
            reason: format!("hash chain broken: {t}"),
        })?;
        checked.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    })?;
    let (head_position, head_hash) = chain.head();
    if summary.head_hash != head_hash || summary.head_position != head_position {
        return Err(TransferError::Truncated {
            lines: summary.events,
            reason: "the trailer's head does not match the last event".into(),
        });
    }
    Ok(summary)
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Events written by this run.
    pub imported: u64,
    /// Events that an earlier, interrupted run had already written.
    pub resumed_after: u64,
    pub head_position: u64,
    pub head_hash: String,
}

/// How far an import has got, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// The first pass: this many events of the file checked (lines and hash chain).
    Checked { events: u64 },
    /// The second pass: the log's head is at `position` of the file's `of`.
    Loaded { position: u64, of: u64 },
}

/// How often the first pass reports how many events it has checked.
const CHECK_REPORT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Import a whole-log export into an empty database (or continue an interrupted import).
/// `progress` is called during the checking pass (every quarter second, and once at its
/// end with the file's count) and after each batch written. The checking pass runs on a blocking thread, so a caller can stop the
/// import (drop this future) at any point; what was committed stays, and running the
/// import again continues after it.
pub async fn import_jsonl<L: EventLog>(
    log: &L,
    path: &Path,
    mut progress: impl FnMut(ImportProgress),
) -> Result<ImportSummary, TransferError> {
    let checked = std::sync::Arc::new(AtomicU64::new(0));
    let mut check = tokio::task::spawn_blocking({
        let path = path.to_owned();
        let checked = checked.clone();
        move || check_file_counting(&path, &checked)
    });
    let mut ticks = tokio::time::interval(CHECK_REPORT_EVERY);
    let summary = loop {
        tokio::select! {
            done = &mut check => break done.map_err(|e| {
                TransferError::Store(StoreError::InvalidInput(format!("checker failed: {e}")))
            })??,
            _ = ticks.tick() => progress(ImportProgress::Checked {
                events: checked.load(Ordering::Relaxed),
            }),
        }
    };
    progress(ImportProgress::Checked {
        events: summary.events,
    });
    let existing = log.head_position().await?;
    if existing > 0 {
        let ours = log.read_all_raw(existing - 1, 1).await?;
        let mut matches = false;
        scan(path, |_, e| {
            if e.position == existing {
                matches = ours.first().is_some_and(|o| o.hash == e.hash);
                return Ok(false);
            }
            Ok(true)
        })?;
        if !matches {
            return Err(TransferError::NotEmpty { events: existing });
        }
    }
    let mut batch: Vec<RecordedEvent> = Vec::with_capacity(IMPORT_BATCH);
    let mut imported = 0;
    // Lines are read synchronously; batches are written between reads.
    let path = path.to_owned();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<RecordedEvent>, TransferError>>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let result = scan(&path, |_, e| {
            if e.position <= existing {
                return Ok(true);
            }
            batch.push(e);
            if batch.len() >= IMPORT_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH));
                if tx.blocking_send(Ok(full)).is_err() {
                    return Ok(false);
                }
            }
            Ok(true)
        });
        match result {
            Ok(_) if !batch.is_empty() => {
                let _ = tx.blocking_send(Ok(batch));
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    while let Some(next) = rx.recv().await {
        let rows = next?;
        imported += rows.len() as u64;
        let head = log.import_batch(rows).await?;
        progress(ImportProgress::Loaded {
            position: head,
            of: summary.head_position,
        });
    }
    reader.await.map_err(|e| {
        TransferError::Store(StoreError::InvalidInput(format!("reader failed: {e}")))
    })?;
    Ok(ImportSummary {
        imported,
        resumed_after: existing,
        head_position: summary.head_position,
        head_hash: summary.head_hash,
    })
}
