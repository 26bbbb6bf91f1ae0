//! How soon one process sees another's appends on one SQLite file: two stores on the same
//! file stand for two processes (each has its own pool, writer and watcher). Store A
//! appends one event at a time, at uneven intervals; we time from A's commit to store B's
//! head reaching it (what wakes B's subscribers).
//!
//! ```sh
//! cargo bench -p xingcun-store --bench wakeup
//! ```
//! `WAKEUP_SAMPLES` (default 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use xingcun_store::testing::fresh_sqlite;
use xingcun_store::{
    AppendRequest, EventLog, EventMetadata, ExpectedVersion, NewEvent, Store, StreamId, SystemClock,
};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: usize = std::env::var("WAKEUP_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let db = fresh_sqlite();
    let url = db.url().to_owned();
    let a = Store::connect(&url, Arc::new(SystemClock))
        .await
        .expect("a");
    let b = Store::connect(&url, Arc::new(SystemClock))
        .await
        .expect("b");
    let mut head = b.watch_head();
    let stream = StreamId::parse("task-wakeup").expect("stream");
    let mut lags = Vec::with_capacity(samples);
    for i in 0..samples {
        // Uneven spacing, so commits fall at every phase of the watcher's poll.
        tokio::time::sleep(Duration::from_millis(7 + (i as u64 * 13) % 41)).await;
        let outcome = a
            .append(AppendRequest {
                stream_id: stream.clone(),
                expected_version: ExpectedVersion::Any,
                events: vec![NewEvent::new("TaskDrafted", 1, json!({ "n": i }))],
                metadata: EventMetadata {
                    actor: "bench".into(),
                    ..Default::default()
                },
            })
            .await
            .expect("append");
        let committed = Instant::now();
        let position = outcome.positions[0];
        while *head.borrow_and_update() < position {
            head.changed().await.expect("store alive");
        }
        lags.push(committed.elapsed());
    }
    lags.sort();
    let pick = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize];
    println!(
        "SQLite, another process's append seen: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {samples} appends",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        lags[lags.len() - 1].as_secs_f64() * 1e3
    );
    if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}
