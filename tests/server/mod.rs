//! What the end-to-end tests of the server share (tests/api.rs, tests/cockpit.rs): the real
//! binary, a server killed when dropped, plain HTTP, a GraphQL client per token, tokens,
//! the simulated village preset and its people.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xingcun_projections::{Runtime, directory};
use xingcun_store::testing::TestDatabase;
use xingcun_store::{Store, SystemClock};

pub const CHENGTAN: &str = "330624004000";

pub fn xingcun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(args)
        .output()
        .expect("run xingcun")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A server killed when dropped, so a failing test leaves none behind.
pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP exchange: status, head (lower-cased), body.
pub fn http(port: u16, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

pub fn post_raw(port: u16, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    let mut req = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    http(port, &req)
}

pub fn start(url: &str) -> Server {
    start_with(url, &[])
}

/// A test's own clock for a server: the system's shifted forward by what [`TestClock::advance`]
/// wrote (read by debug builds only, see `xingcun_store::process_clock`), so seven days of
/// 公示 can pass in a test.
pub struct TestClock {
    file: std::path::PathBuf,
    offset: std::cell::Cell<i64>,
}

impl TestClock {
    pub fn new() -> TestClock {
        let file = std::env::temp_dir().join(format!("xingcun-clock-{}", uuid::Uuid::new_v4()));
        std::fs::write(&file, "0").expect("clock file");
        TestClock {
            file,
            offset: std::cell::Cell::new(0),
        }
    }

    /// Move the server's clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset.set(self.offset.get() + by.num_seconds());
        std::fs::write(&self.file, self.offset.get().to_string()).expect("clock file");
    }

    /// The server's now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::seconds(self.offset.get())
    }

    pub fn env(&self) -> (&'static str, &std::path::Path) {
        (xingcun_store::clock::TEST_CLOCK_FILE, &self.file)
    }
}

impl Drop for TestClock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Where a test server's log goes: nowhere, or appended to the file named by
/// `XINGCUN_TEST_SERVER_LOG` (to see why a test failed).
fn server_log() -> Stdio {
    std::env::var_os("XINGCUN_TEST_SERVER_LOG")
        .and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        })
        .map_or_else(Stdio::null, Stdio::from)
}

/// A server with extra environment variables (a [`TestClock`]'s, say).
pub fn start_with(url: &str, env: &[(&str, &std::path::Path)]) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .envs(env.iter().copied())
        .args([
            "--database-url",
            url,
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(server_log())
        .spawn()
        .expect("start server");
    let server = Server { child, port };
    let started = Instant::now();
    loop {
        let ready = TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(
                port,
                "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .0 == 200;
        if ready {
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GraphQL client for one token.
pub struct Client {
    pub port: u16,
    pub token: Option<String>,
}

impl Client {
    pub fn call(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        let (status, _, body) = post_raw(self.port, &headers, &body);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("json")
    }

    /// `data` of a call that must succeed.
    pub fn ok(&self, query: &str, variables: Value) -> Value {
        let v = self.call(query, variables);
        assert!(v.get("errors").is_none(), "{query}: {v}");
        v["data"].clone()
    }

    /// The code of a call that must fail.
    pub fn code(&self, query: &str, variables: Value) -> String {
        let v = self.call(query, variables);
        v["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{query} should fail: {v}"))
            .to_owned()
    }

    /// Call until `done` holds of the data (the read models follow the log).
    pub fn until(&self, query: &str, variables: Value, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let data = self.ok(query, variables.clone());
            if done(&data) {
                return data;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "never reached: {query} {data}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn token(url: &str, person: &str) -> String {
    // A year: tests move a server's clock forward by weeks (TestClock).
    token_with_id(url, person, "365").0
}

/// A token and its id (from `token create`'s note on standard error).
pub fn token_with_id(url: &str, person: &str, days: &str) -> (String, String) {
    let out = xingcun(&[
        "--database-url",
        url,
        "token",
        "create",
        "--person",
        person,
        "--expires",
        days,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let note = String::from_utf8_lossy(&out.stderr).to_string();
    let id = note
        .split_once("token id ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .expect("token id")
        .to_owned();
    (String::from_utf8_lossy(&out.stdout).trim().to_owned(), id)
}

/// The village preset (澄潭街道, 4 villages, 2 years) in `db`.
pub fn simulate(db: &TestDatabase) {
    simulate_into(db.url());
}

/// The village preset in the database at `url`.
pub fn simulate_into(url: &str) {
    let out = xingcun(&[
        "--database-url",
        url,
        "simulate",
        "--preset",
        "village",
        "--years",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// People of the simulated history, by role, read from the directory read model.
pub async fn people(url: &str, role: &str, scope: &str) -> Vec<directory::Person> {
    let store = Store::connect(url, Arc::new(SystemClock))
        .await
        .expect("store");
    let runtime = Runtime::open(store, xingcun_projections::all())
        .await
        .expect("runtime");
    runtime.catch_up().await.expect("catch up");
    directory::in_post(runtime.db(), role, scope)
        .await
        .expect("people")
}
