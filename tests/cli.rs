//! End-to-end: the real `xingcun` binary against real databases.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use xingcun_store::testing::fresh_sqlite_url;
use xingcun_store::{
    AppendRequest, EventLog, EventMetadata, ExpectedVersion, NewEvent, Store, StreamId, SystemClock,
};

fn xingcun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(args)
        .output()
        .expect("run xingcun")
}

async fn seeded(url: &str, n: i64) -> Store {
    let store = Store::connect(url, Arc::new(SystemClock))
        .await
        .expect("store");
    for i in 1..=n {
        store
            .append(AppendRequest {
                stream_id: StreamId::parse(&format!("task-{i}")).expect("id"),
                expected_version: ExpectedVersion::Exact(0),
                events: vec![NewEvent::new("TaskDrafted", 1, json!({ "n": i }))],
                metadata: EventMetadata {
                    actor: "e2e".into(),
                    ..Default::default()
                },
            })
            .await
            .expect("append");
    }
    store
}

#[tokio::test]
async fn migrate_then_verify_an_intact_log() {
    let url = fresh_sqlite_url();
    let out = xingcun(&["--database-url", &url, "migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(seeded(&url, 4).await);
    let out = xingcun(&["--database-url", &url, "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("4 events verified"), "{stdout}");
}

#[tokio::test]
async fn verify_exits_1_naming_the_altered_position() {
    let url = fresh_sqlite_url();
    let store = seeded(&url, 5).await;
    let Store::Sqlite(s) = &store else {
        unreachable!("sqlite url")
    };
    sqlx::query("drop trigger events_no_update")
        .execute(s.pool())
        .await
        .expect("lift guard");
    sqlx::query("update events set payload = '{\"n\":40}' where position = 4")
        .execute(s.pool())
        .await
        .expect("tamper");
    drop(store);
    let out = xingcun(&["--database-url", &url, "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("TAMPERED at position 4"), "{stdout}");
}

#[test]
fn unreachable_database_is_a_clear_error_without_the_password() {
    let out = xingcun(&[
        "--database-url",
        "postgres://cadre:s3cret@127.0.0.1:1/xingcun",
        "verify",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("postgres://cadre:***@127.0.0.1:1/xingcun"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn help_explains_the_verbs() {
    let out = xingcun(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for verb in ["serve", "migrate", "verify", "--database-url"] {
        assert!(text.contains(verb), "{verb} missing from --help:\n{text}");
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Start the server with `args` and `env`, wait until /readyz answers on `port`, return
/// its answer; then SIGTERM it and check it stops cleanly.
fn serve_then_stop(args: &[&str], env: &[(&str, &str)], port: u16) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let started = Instant::now();
    let ready = loop {
        if let Some(r) = http_get(port, "/readyz") {
            break r;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("server did not come up on port {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let health = http_get(port, "/healthz").expect("healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    ready
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let port = free_port();
    let url = fresh_sqlite_url();
    let listen = format!("127.0.0.1:{port}");
    let ready = serve_then_stop(
        &["--database-url", &url, "serve", "--listen", &listen],
        &[],
        port,
    );
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.contains("\"backend\":\"sqlite\""),
        "{ready}"
    );
}

#[test]
fn no_verb_serves_on_xingcun_listen_given_by_host_name() {
    let port = free_port();
    let url = fresh_sqlite_url();
    let listen = format!("localhost:{port}");
    let ready = serve_then_stop(
        &["--database-url", &url],
        &[("XINGCUN_LISTEN", listen.as_str())],
        port,
    );
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let out = xingcun(&["--database-url", &url, "serve", "--listen", "nowhere"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected HOST:PORT"), "{stderr}");
}

#[tokio::test]
async fn export_then_import_moves_a_log_byte_for_byte() {
    let source = fresh_sqlite_url();
    drop(seeded(&source, 7).await);
    let dir = std::env::temp_dir();
    let file = dir.join(format!(
        "xingcun-e2e-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let again = dir.join(format!(
        "xingcun-e2e-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let file_s = file.to_string_lossy().to_string();
    let out = xingcun(&["--database-url", &source, "export", &file_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let target = fresh_sqlite_url();
    let out = xingcun(&["--database-url", &target, "import", &file_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 7 events"));
    let out = xingcun(&[
        "--database-url",
        &target,
        "export",
        &again.to_string_lossy(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(&file).expect("a"),
        std::fs::read(&again).expect("b")
    );

    // Importing into a database that holds something else is refused, exit 2, clearly.
    let out = xingcun(&["--database-url", &source, "import", &file_s]);
    assert!(
        out.status.success(),
        "the same log again is a completed import, not an error"
    );
    let other = fresh_sqlite_url();
    drop(seeded(&other, 1).await);
    let out = xingcun(&["--database-url", &other, "import", &file_s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not empty"), "{stderr}");
}

#[test]
fn simulate_twice_with_one_seed_exports_the_same_bytes() {
    let dir = std::env::temp_dir();
    let mut exports = Vec::new();
    for run in 0..2 {
        let url = fresh_sqlite_url();
        let out = xingcun(&[
            "--database-url",
            &url,
            "simulate",
            "--preset",
            "village",
            "--years",
            "1",
            "--seed",
            "7",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("from the log: 1 towns, 4 villages"),
            "{stdout}"
        );
        let file = dir.join(format!(
            "xingcun-sim-{run}-{}.jsonl",
            uuid::Uuid::new_v4().simple()
        ));
        let out = xingcun(&["--database-url", &url, "export", &file.to_string_lossy()]);
        assert!(out.status.success());
        let out = xingcun(&["--database-url", &url, "verify"]);
        assert_eq!(out.status.code(), Some(0));
        exports.push(std::fs::read(&file).expect("export"));
        // A second simulation into the same database is refused, and changes nothing.
        let out = xingcun(&[
            "--database-url",
            &url,
            "simulate",
            "--preset",
            "village",
            "--years",
            "1",
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    }
    assert!(exports[0].len() > 10_000);
    assert_eq!(exports[0], exports[1], "same seed, same log, byte for byte");
    let out = xingcun(&["simulate", "--preset", "province"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown preset is a usage error"
    );
}

#[test]
fn verify_and_export_never_create_a_database() {
    let path = std::env::temp_dir().join(format!(
        "xingcun-test-missing-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}", path.display());
    for args in [vec!["verify"], vec!["export", "-"]] {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend(args);
        let out = xingcun(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("no database file"), "{stderr}");
        assert!(!path.exists(), "{} was created", path.display());
    }
}

#[test]
fn passwords_never_show_in_messages_or_help() {
    for url in [
        "postgres://alice:S3c/retPW@127.0.0.1:1/xingcun",
        "postgres://alice@127.0.0.1:1/xingcun?password=S3cretPW",
    ] {
        let out = xingcun(&["--database-url", url, "verify"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            !stderr.contains("S3c") && !stderr.contains("retPW"),
            "{stderr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .arg("--help")
        .env("DATABASE_URL", "postgres://alice:S3cretPW@db/x")
        .output()
        .expect("run xingcun");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("DATABASE_URL") && !help.contains("S3cretPW"),
        "{help}"
    );
}
