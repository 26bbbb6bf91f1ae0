//! The store's clock: the only time that orders facts. The server uses the system clock;
//! tests and the simulator inject their own.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (tests, the simulator replaying years of history).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The environment variable a debug build's clock reads its offset from (see
/// [`process_clock`]).
pub const TEST_CLOCK_FILE: &str = "XINGCUN_TEST_CLOCK_FILE";

/// The clock of a server or a command run from the command line: the system's.
///
/// In a debug build only (what `cargo test` runs; `cargo build --release` never has it),
/// when `XINGCUN_TEST_CLOCK_FILE` names a file, the clock is the system's shifted forward by
/// the whole seconds written in that file, read on every call. End-to-end tests use it to
/// let a 7-day 公示 or a bid deadline pass against a real server process. A release build
/// ignores the variable: nothing in production can move the clock that orders facts.
pub fn process_clock() -> std::sync::Arc<dyn Clock> {
    #[cfg(debug_assertions)]
    if let Some(path) = std::env::var_os(TEST_CLOCK_FILE) {
        tracing::warn!(
            file = %std::path::Path::new(&path).display(),
            "debug build: the clock is shifted by the offset in {TEST_CLOCK_FILE} (tests only)"
        );
        return std::sync::Arc::new(OffsetFileClock(path.into()));
    }
    std::sync::Arc::new(SystemClock)
}

/// The system clock shifted by the seconds in a file (debug builds, tests only).
#[cfg(debug_assertions)]
#[derive(Debug)]
struct OffsetFileClock(std::path::PathBuf);

#[cfg(debug_assertions)]
impl Clock for OffsetFileClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Utc::now() + Duration::seconds(offset)
    }
}
