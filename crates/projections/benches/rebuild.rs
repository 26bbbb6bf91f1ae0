//! Rebuild of every read model over a loaded log, beside the plain read-all rate of the
//! same log measured in the same run.
//!
//! ```sh
//! cargo run --release -- --database-url sqlite://./city.db simulate        # or import an export
//! BENCH_DATABASE_URL=sqlite://./city.db cargo bench -p xingcun-projections --bench rebuild
//! ```
//! Each read model is rebuilt afresh (`catch_up_one(fresh)`, as `xingcun rebuild` does);
//! the figures are events of the log per second of wall time.

use std::sync::Arc;
use std::time::Instant;

use xingcun_projections::Runtime;
use xingcun_store::{EventLog, Store, SystemClock};

/// The shipped binary's allocator (`src/main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(url) = std::env::var("BENCH_DATABASE_URL") else {
        eprintln!("set BENCH_DATABASE_URL to a loaded log (sqlite://… or postgres://…)");
        return;
    };
    let store = Store::open_existing(&url, Arc::new(SystemClock))
        .await
        .expect("store");
    let head = store.head_position().await.expect("head");
    let started = Instant::now();
    let mut after = 0;
    loop {
        let page = store.read_all(after, 5_000).await.expect("read");
        let Some(last) = page.last() else { break };
        after = last.position;
    }
    let read_secs = started.elapsed().as_secs_f64();
    println!(
        "{} events; read-all: {:.1} s = {:.0} events/s",
        head,
        read_secs,
        head as f64 / read_secs
    );
    let runtime = Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("runtime");
    let all_started = Instant::now();
    // BENCH_ONLY_ALL: only the one pass; BENCH_PROJECTIONS=a,b: only these, alone.
    let only: Option<Vec<String>> = std::env::var("BENCH_PROJECTIONS")
        .ok()
        .map(|names| names.split(',').map(str::to_owned).collect());
    let only_all = std::env::var_os("BENCH_ONLY_ALL").is_some();
    let each: Vec<_> = runtime
        .projections()
        .iter()
        .filter(|_| !only_all)
        .filter(|p| {
            only.as_ref()
                .is_none_or(|names| names.iter().any(|n| n == p.name()))
        })
        .collect();
    for p in &each {
        let started = Instant::now();
        runtime
            .catch_up_one(p.as_ref(), true, &mut |_| {})
            .await
            .expect("rebuild");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "rebuild {:<16} {:>7.1} s = {:>8.0} events/s ({:.2} of read-all)",
            p.name(),
            secs,
            head as f64 / secs,
            (head as f64 / secs) / (head as f64 / read_secs)
        );
    }
    if !each.is_empty() {
        let secs = all_started.elapsed().as_secs_f64();
        println!(
            "all read models one after another: {:.1} s = {:.0} events of the log/s",
            secs,
            head as f64 / secs,
        );
    }
    if only.is_some() {
        return;
    }
    let started = Instant::now();
    runtime
        .catch_up_all(true, &mut |_| {})
        .await
        .expect("rebuild all in one pass");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "all read models in one pass (xingcun rebuild --all): {:.1} s = {:.0} events of the log/s ({:.2} of read-all); peak memory {:.0} MiB",
        secs,
        head as f64 / secs,
        read_secs / secs,
        peak_rss_mib()
    );
}
