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

/// Every row of every read model, in a stable order.
async fn read_models(store: &Store) -> Vec<Vec<xingcun_projections::sql::Arg>> {
    let runtime = xingcun_projections::Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("read models");
    let mut rows = Vec::new();
    for p in runtime.projections() {
        for table in p.tables() {
            let sql = format!(
                "select * from {} order by 1, 2, 3, 4",
                runtime.db().qualified(table.name)
            );
            rows.extend(runtime.db().fetch(&sql, &[]).await.expect("rows"));
        }
    }
    rows
}

/// `xingcun rebuild` killed with SIGKILL at several points (between and inside batches),
/// then run again: it resumes, and every table equals a fresh rebuild's.
async fn rebuild_survives_sigkill(url: &str) {
    let out = xingcun(&[
        "--database-url",
        url,
        "simulate",
        "--preset",
        "village",
        "--years",
        "2",
        "--seed",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for delay_ms in [30, 120, 300, 700] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
            .args(["--database-url", url, "rebuild", "--all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rebuild");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    let out = xingcun(&["--database-url", url, "rebuild", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rebuilt village_board"), "{stdout}");
    let store = Store::connect(url, Arc::new(SystemClock))
        .await
        .expect("store");
    let after_kills = read_models(&store).await;
    assert!(after_kills.len() > 100, "the history fills the read models");
    let out = xingcun(&["--database-url", url, "rebuild", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read_models(&store).await,
        after_kills,
        "identical to a fresh rebuild"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_survives_sigkill_on_sqlite() {
    rebuild_survives_sigkill(&fresh_sqlite_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_survives_sigkill_on_postgres() {
    let Some(url) = xingcun_store::testing::fresh_postgres_url().await else {
        return;
    };
    rebuild_survives_sigkill(&url).await;
}

#[test]
fn rebuild_names_what_it_knows() {
    let url = fresh_sqlite_url();
    let out = xingcun(&["--database-url", &url, "rebuild"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--all") && stderr.contains("village_board"),
        "{stderr}"
    );
    let out = xingcun(&["--database-url", &url, "rebuild", "no_such_board"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no_such_board"), "{stderr}");
    let out = xingcun(&[
        "--database-url",
        "postgres://u:pw@127.0.0.1:1/x",
        "rebuild",
        "--all",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect") && !stderr.contains("pw@"),
        "{stderr}"
    );
}

/// Start `xingcun serve` on `url` and a free port; returns the child once /readyz answers.
fn start_server(url: &str) -> std::process::Child {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(["--database-url", url, "serve", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let started = Instant::now();
    while http_get(port, "/readyz").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("server did not come up");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Wait until every read model has applied the whole log.
async fn wait_level(store: &Store) {
    let runtime = xingcun_projections::Runtime::open(store.clone(), xingcun_projections::all())
        .await
        .expect("read models");
    let head = store.head_position().await.expect("head");
    let waited = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let status = runtime.status().await.expect("status");
            if status
                .iter()
                .all(|s| s.position == head && s.state == "live")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "the read models did not reach position {head}"
    );
}

async fn append_for_the_trail(store: &Store, n: i64) {
    store
        .append(AppendRequest {
            stream_id: StreamId::parse(&format!("note-{n}")).expect("id"),
            expected_version: ExpectedVersion::Exact(0),
            events: vec![NewEvent::new("AuditNoteRecorded", 1, json!({ "n": n }))],
            metadata: EventMetadata {
                actor: "e2e".into(),
                regions: vec!["330624004202".into()],
                ..Default::default()
            },
        })
        .await
        .expect("append");
}

/// Two servers on one PostgreSQL: each read model is run by exactly one of them (one
/// advisory lock per read model, granted to one session), and when a server is killed
/// with SIGKILL the other takes its read models over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_the_read_models_and_take_over() {
    let Some(url) = xingcun_store::testing::fresh_postgres_url().await else {
        return;
    };
    let out = xingcun(&[
        "--database-url",
        &url,
        "simulate",
        "--preset",
        "village",
        "--years",
        "1",
        "--seed",
        "5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::connect(&url, Arc::new(SystemClock))
        .await
        .expect("store");
    let mut a = start_server(&url);
    let mut b = start_server(&url);
    wait_level(&store).await;
    let Store::Postgres(pg) = &store else {
        unreachable!("postgres url")
    };
    let holders: Vec<(i64, i64)> = sqlx::query_as(
        "select l.objid::int8, count(*) from pg_locks l join pg_stat_activity s on s.pid = l.pid \
         where l.locktype = 'advisory' and l.granted and s.datname = current_database() \
         group by l.objid",
    )
    .fetch_all(pg.pool())
    .await
    .expect("locks");
    assert_eq!(holders.len(), 3, "one lock per read model: {holders:?}");
    assert!(holders.iter().all(|(_, n)| *n == 1), "{holders:?}");

    // Kill A: B runs everything. Then restart A and kill B: A takes over whatever B led.
    for (round, victim) in [(1, &mut a), (2, &mut b)].into_iter() {
        let _ = Command::new("kill")
            .args(["-KILL", &victim.id().to_string()])
            .status();
        let _ = victim.wait();
        append_for_the_trail(&store, round).await;
        wait_level(&store).await;
        if round == 1 {
            *victim = start_server(&url);
        }
    }
    let _ = Command::new("kill")
        .args(["-KILL", &a.id().to_string()])
        .status();
    let _ = a.wait();
    let _ = b.kill();
}
