//! `/metrics` in the Prometheus text format (version 0.0.4).
//!
//! - `xingcun_graphql_requests_total{operation,outcome}`: GraphQL requests by operation name
//!   (`anonymous` when the client gave none; at most [`MAX_OPERATIONS`] distinct names, the
//!   rest counted as `other`, so a client cannot blow up the series) and outcome (`ok`,
//!   `error`);
//! - `xingcun_graphql_request_duration_seconds{operation}`: a histogram of their latency;
//! - `xingcun_events_appended_total`, `xingcun_command_rejections_total{code}`;
//! - `xingcun_projection_lag_events{projection}`, `xingcun_projection_lag_seconds{projection}`;
//! - `xingcun_subscribers`: open WebSocket connections;
//! - `xingcun_log_group_commits_total{path}`: this process's group commits to the log,
//!   `planned_ahead` (one round trip) or `read_first` (planned on a read under the lock:
//!   the first, and any after another process appended or a command was re-sent).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use xingcun_store::GroupCommits;

/// Distinct operation names tracked.
pub const MAX_OPERATIONS: usize = 200;
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Operation {
    ok: u64,
    error: u64,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    operations: Mutex<BTreeMap<String, Operation>>,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    appended: AtomicU64,
    subscribers: AtomicI64,
}

fn operation_key(name: Option<&str>) -> String {
    match name {
        None => "anonymous".into(),
        Some(n)
            if !n.is_empty()
                && n.len() <= 64
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            n.to_owned()
        }
        Some(_) => "other".into(),
    }
}

impl Metrics {
    pub fn request(&self, operation: Option<&str>, ok: bool, elapsed: Duration) {
        let mut ops = self
            .operations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut key = operation_key(operation);
        if !ops.contains_key(&key) && ops.len() >= MAX_OPERATIONS {
            key = "other".into();
        }
        let op = ops.entry(key).or_default();
        if ok {
            op.ok += 1;
        } else {
            op.error += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                op.buckets[i] += 1;
            }
        }
        op.sum += secs;
        op.count += 1;
    }

    pub fn appended(&self, events: usize) {
        self.appended.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub fn rejected(&self, code: &'static str) {
        *self
            .rejections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(code)
            .or_default() += 1;
    }

    pub fn subscriber(&self, delta: i64) {
        self.subscribers.fetch_add(delta, Ordering::Relaxed);
    }

    /// Open WebSocket connections.
    pub fn subscribers(&self) -> i64 {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// The text exposition, with the projections' lag (name, events, seconds) and the
    /// log's group commits.
    pub fn render(&self, lag: &[(String, u64, i64)], commits: GroupCommits) -> String {
        let mut out = String::new();
        out.push_str("# HELP xingcun_log_group_commits_total Group commits of this process to the log, by how they were planned.\n# TYPE xingcun_log_group_commits_total counter\n");
        let _ = writeln!(
            out,
            "xingcun_log_group_commits_total{{path=\"planned_ahead\"}} {}",
            commits.planned_ahead
        );
        let _ = writeln!(
            out,
            "xingcun_log_group_commits_total{{path=\"read_first\"}} {}",
            commits.read_first
        );
        let ops = self
            .operations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.push_str("# HELP xingcun_graphql_requests_total GraphQL requests by operation and outcome.\n# TYPE xingcun_graphql_requests_total counter\n");
        for (name, op) in ops.iter() {
            let _ = writeln!(
                out,
                "xingcun_graphql_requests_total{{operation=\"{name}\",outcome=\"ok\"}} {}",
                op.ok
            );
            let _ = writeln!(
                out,
                "xingcun_graphql_requests_total{{operation=\"{name}\",outcome=\"error\"}} {}",
                op.error
            );
        }
        out.push_str("# HELP xingcun_graphql_request_duration_seconds GraphQL request latency.\n# TYPE xingcun_graphql_request_duration_seconds histogram\n");
        for (name, op) in ops.iter() {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "xingcun_graphql_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {}",
                    op.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "xingcun_graphql_request_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {}",
                op.count
            );
            let _ = writeln!(
                out,
                "xingcun_graphql_request_duration_seconds_sum{{operation=\"{name}\"}} {}",
                op.sum
            );
            let _ = writeln!(
                out,
                "xingcun_graphql_request_duration_seconds_count{{operation=\"{name}\"}} {}",
                op.count
            );
        }
        drop(ops);
        out.push_str("# HELP xingcun_events_appended_total Events appended by this server's mutations.\n# TYPE xingcun_events_appended_total counter\n");
        let _ = writeln!(
            out,
            "xingcun_events_appended_total {}",
            self.appended.load(Ordering::Relaxed)
        );
        out.push_str("# HELP xingcun_command_rejections_total Commands refused, by code.\n# TYPE xingcun_command_rejections_total counter\n");
        for (code, n) in self
            .rejections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "xingcun_command_rejections_total{{code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP xingcun_projection_lag_events Events between a read model and the log's head.\n# TYPE xingcun_projection_lag_events gauge\n");
        for (name, events, _) in lag {
            let _ = writeln!(
                out,
                "xingcun_projection_lag_events{{projection=\"{name}\"}} {events}"
            );
        }
        out.push_str("# HELP xingcun_projection_lag_seconds Recorded time between a read model's last event and the head's.\n# TYPE xingcun_projection_lag_seconds gauge\n");
        for (name, _, seconds) in lag {
            let _ = writeln!(
                out,
                "xingcun_projection_lag_seconds{{projection=\"{name}\"}} {seconds}"
            );
        }
        out.push_str("# HELP xingcun_subscribers Open GraphQL WebSocket connections.\n# TYPE xingcun_subscribers gauge\n");
        let _ = writeln!(
            out,
            "xingcun_subscribers {}",
            self.subscribers.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let m = Metrics::default();
        for i in 0..(MAX_OPERATIONS + 50) {
            m.request(Some(&format!("Op{i}")), true, Duration::from_millis(1));
        }
        m.request(Some("bad name\"}"), false, Duration::from_millis(1));
        let text = m.render(&[], GroupCommits::default());
        assert!(
            text.contains("operation=\"other\",outcome=\"ok\"} 50"),
            "{text}"
        );
        assert!(text.contains("operation=\"other\",outcome=\"error\"} 1"));
        assert!(!text.contains("bad name"));
    }
}
