//! End-to-end: the real `xingcun` binary against real databases.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use xingcun_store::testing::{TempPath, fresh_postgres, fresh_sqlite};
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
    let db = fresh_sqlite();
    let url = db.url().to_owned();
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
    let db = fresh_sqlite();
    let url = db.url().to_owned();
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
/// its answer and what it wrote to standard error; then SIGTERM it and check it stops
/// cleanly.
fn serve_then_stop(args: &[&str], env: &[(&str, &str)], port: u16) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let started = Instant::now();
    // Ready once the read models serve (503 while they are first built).
    let ready = loop {
        if let Some(r) = http_get(port, "/readyz")
            && (r.starts_with("HTTP/1.1 200") || started.elapsed() > Duration::from_secs(20))
        {
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
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).expect("stderr");
    }
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status}: {stderr}"
    );
    (ready, stderr)
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let port = free_port();
    let db = fresh_sqlite();
    let url = db.url().to_owned();
    let listen = format!("127.0.0.1:{port}");
    let (ready, _) = serve_then_stop(
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
    let db = fresh_sqlite();
    let url = db.url().to_owned();
    let listen = format!("localhost:{port}");
    let (ready, _) = serve_then_stop(
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
    let source_db = fresh_sqlite();
    let source = source_db.url().to_owned();
    drop(seeded(&source, 7).await);
    let file = TempPath::new("xingcun-e2e", ".jsonl");
    let again = TempPath::new("xingcun-e2e", ".jsonl");
    let file_s = file.as_str();
    let out = xingcun(&["--database-url", &source, "export", &file_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let target_db = fresh_sqlite();
    let target = target_db.url().to_owned();
    let out = xingcun(&["--database-url", &target, "import", &file_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 7 events"));
    let out = xingcun(&["--database-url", &target, "export", &again.as_str()]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(file.path()).expect("a"),
        std::fs::read(again.path()).expect("b")
    );

    // Importing into a database that holds something else is refused, exit 2, clearly.
    let out = xingcun(&["--database-url", &source, "import", &file_s]);
    assert!(
        out.status.success(),
        "the same log again is a completed import, not an error"
    );
    let other_db = fresh_sqlite();
    let other = other_db.url().to_owned();
    drop(seeded(&other, 1).await);
    let out = xingcun(&["--database-url", &other, "import", &file_s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not empty"), "{stderr}");
}

#[test]
fn simulate_twice_with_one_seed_exports_the_same_bytes() {
    let mut exports = Vec::new();
    for _ in 0..2 {
        let db = fresh_sqlite();
        let url = db.url().to_owned();
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
        let file = TempPath::new("xingcun-sim", ".jsonl");
        let out = xingcun(&["--database-url", &url, "export", &file.as_str()]);
        assert!(out.status.success());
        let out = xingcun(&["--database-url", &url, "verify"]);
        assert_eq!(out.status.code(), Some(0));
        exports.push(std::fs::read(file.path()).expect("export"));
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        // It says how to start over: which files to delete.
        assert!(
            stderr.contains("not empty") && stderr.contains("rm -f") && stderr.contains("-wal"),
            "{stderr}"
        );
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
    let missing = TempPath::new("xingcun-test-missing", ".db");
    let path = missing.path();
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

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn every_command_says_which_database_it_uses() {
    let db = fresh_sqlite();
    drop(seeded(db.url(), 1).await);
    let path = db.sqlite_path().expect("sqlite").display().to_string();
    for args in [vec!["verify"], vec!["migrate"], vec!["export", "-"]] {
        let mut all = vec!["--database-url", db.url()];
        all.extend(args);
        let out = xingcun(&all);
        let stderr = stderr_of(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.starts_with("xingcun: using SQLite database") && stderr.contains(&path),
            "{stderr}"
        );
    }
    let out = xingcun(&[
        "--database-url",
        "postgres://alice:S3cretPW@127.0.0.1:1/xingcun",
        "verify",
    ]);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("using PostgreSQL database postgres://alice:***@127.0.0.1:1/xingcun"),
        "{stderr}"
    );
}

/// A database that holds another application's tables is refused by the commands that
/// create tables, and nothing is created in it, unless `--allow-foreign-tables`.
#[tokio::test]
async fn another_applications_database_is_refused_unless_allowed() {
    use sqlx::Connection;
    let db = fresh_sqlite();
    {
        let mut conn = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", db.url()))
            .await
            .expect("create");
        sqlx::query("create table customers (id integer primary key)")
            .execute(&mut conn)
            .await
            .expect("their table");
        conn.close().await.expect("close");
    }
    let empty_file = TempPath::new("xingcun-e2e", ".jsonl");
    std::fs::write(empty_file.path(), "").expect("write");
    let import_file = empty_file.as_str();
    for verb in ["migrate", "import", "simulate"] {
        let mut args = vec!["--database-url", db.url(), verb];
        if verb == "import" {
            args.push(&import_file);
        }
        let out = xingcun(&args);
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{verb}: {stderr}");
        assert!(
            stderr.contains("holds other tables (customers)")
                && stderr.contains("--allow-foreign-tables"),
            "{verb}: {stderr}"
        );
    }
    let tables = sqlite_tables(db.url()).await;
    assert_eq!(tables, vec!["customers".to_owned()], "nothing was created");
    let out = xingcun(&[
        "--database-url",
        db.url(),
        "migrate",
        "--allow-foreign-tables",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(sqlite_tables(db.url()).await.contains(&"events".to_owned()));
    // Once the log is there, the database is xingcun's: no flag needed any more.
    let out = xingcun(&["--database-url", db.url(), "migrate"]);
    assert!(out.status.success(), "{}", stderr_of(&out));

    // The same on PostgreSQL, where a leftover DATABASE_URL does the most harm.
    let Some(pg) = fresh_postgres().await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(pg.url()).await.expect("pg");
    sqlx::query("create table invoices (id int)")
        .execute(&mut conn)
        .await
        .expect("their table");
    let out = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", pg.url())
        .output()
        .expect("run");
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("public.invoices"), "{stderr}");
    let ours: bool = sqlx::query_scalar("select to_regclass('events') is not null")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert!(!ours, "no events table was created");
    conn.close().await.expect("close");
}

async fn sqlite_tables(url: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=ro"))
        .await
        .expect("open");
    let tables = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite%' order by 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    conn.close().await.expect("close");
    tables
}

/// An auditor's read-only copy: `?mode=ro` (what a file without write permission gives a
/// user who is not root) is verified, exported and served; writes are refused, saying why.
#[tokio::test]
async fn a_read_only_copy_is_verified_exported_and_served() {
    let db = fresh_sqlite();
    drop(seeded(db.url(), 3).await);
    let before = std::fs::read(db.sqlite_path().expect("path")).expect("bytes");
    let ro = format!("{}?mode=ro", db.url());
    let out = xingcun(&["--database-url", &ro, "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout.contains("3 events verified"), "{stdout}");
    let out = xingcun(&["--database-url", &ro, "export", "-"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    // Commands that write say why they cannot.
    let out = xingcun(&["--database-url", &ro, "migrate"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("read-only") && stderr.contains("mode=ro"),
        "{stderr}"
    );

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (ready, stderr) = serve_then_stop(
        &["--database-url", &ro, "serve", "--listen", &listen],
        &[],
        port,
    );
    assert!(
        ready.starts_with("HTTP/1.1 200")
            && ready.contains("\"head_position\":3")
            && ready.contains("\"read_only\":true"),
        "{ready}"
    );
    assert!(
        stderr.contains("serving read-only") && stderr.contains("mode=ro"),
        "{stderr}"
    );
    // Logs written to a pipe carry no terminal colour codes.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert_eq!(
        std::fs::read(db.sqlite_path().expect("path")).expect("bytes"),
        before,
        "a read-only opening writes nothing"
    );
}

#[test]
fn connection_errors_say_what_to_do() {
    let out = xingcun(&["--database-url", "postgres://u@127.0.0.1:1/x", "verify"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("connection refused at 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("timed out"), "{stderr}");

    let db = TempPath::new("xingcun-test", ".db");
    let url = format!("sqlite://{}", db.path().display());
    let out = xingcun(&["--database-url", &url, "import", "/no/such/file.jsonl"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        !db.path().exists(),
        "a missing import file creates no database"
    );
}

#[tokio::test]
async fn a_missing_postgres_database_says_how_to_create_it() {
    let Some(pg) = fresh_postgres().await else {
        return;
    };
    let missing = xingcun_store::testing::replace_database(pg.url(), "xingcun_no_such_database");
    let out = xingcun(&["--database-url", &missing, "migrate"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"xingcun_no_such_database\" does not exist")
            && stderr.contains("createdb"),
        "{stderr}"
    );
    assert!(!stderr.contains("at line"), "{stderr}");
}

/// Simulate the village preset into a fresh file, for the tests below.
fn simulated_village() -> xingcun_store::testing::TestDatabase {
    let db = fresh_sqlite();
    let out = xingcun(&[
        "--database-url",
        db.url(),
        "simulate",
        "--preset",
        "village",
        "--years",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout.contains("deliberate refusals"), "{stdout}");
    // Two years from 2023 reach 2024, when screening took effect.
    assert!(
        !stdout.contains("screening rejections since 2024: 0;"),
        "{stdout}"
    );
    db
}

#[test]
fn regions_are_listed_and_villages_named_by_code_or_name() {
    let db = simulated_village();
    let out = xingcun(&["--database-url", db.url(), "regions"]);
    let outline = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        outline.contains("330624004000") && outline.contains("4 villages"),
        "{outline}"
    );
    let out = xingcun(&[
        "--database-url",
        db.url(),
        "regions",
        "--town",
        "330624004000",
    ]);
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // "  330624004201  某村  (village)": take the first village's code and name.
    let first = listing
        .lines()
        .nth(1)
        .expect("a village line")
        .split_whitespace()
        .collect::<Vec<_>>();
    let (code, name) = (first[0].to_owned(), first[1].to_owned());

    let by_code = TempPath::new("xingcun-e2e", ".jsonl");
    let by_name = TempPath::new("xingcun-e2e", ".jsonl");
    let out = xingcun(&[
        "--database-url",
        db.url(),
        "export",
        "--village",
        &code,
        &by_code.as_str(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = xingcun(&[
        "--database-url",
        db.url(),
        "export",
        "--village",
        &name,
        &by_name.as_str(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let extract = std::fs::read(by_code.path()).expect("extract");
    assert!(extract.len() > 1000);
    assert_eq!(extract, std::fs::read(by_name.path()).expect("by name"));

    // A code or name that names no village is an error, and nothing is written.
    for given in ["330624004999", "没有这个村"] {
        let file = TempPath::new("xingcun-e2e", ".jsonl");
        let out = xingcun(&[
            "--database-url",
            db.url(),
            "export",
            "--village",
            given,
            &file.as_str(),
        ]);
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("no village"), "{stderr}");
        assert!(!file.path().exists());
    }

    // An existing file is not overwritten unless asked.
    let out = xingcun(&["--database-url", db.url(), "export", &by_code.as_str()]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(by_code.path()).expect("kept"), extract);
    let out = xingcun(&[
        "--database-url",
        db.url(),
        "export",
        "--force",
        &by_code.as_str(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(std::fs::read(by_code.path()).expect("whole log").len() > extract.len());

    // A village extract is named as such when someone tries to import it.
    let target = fresh_sqlite();
    let out = xingcun(&["--database-url", target.url(), "import", &by_name.as_str()]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("village {code}")) && !stderr.contains("hash chain"),
        "{stderr}"
    );
}

/// Ctrl-C during `simulate` says what was written and how to start over (exit 130).
#[tokio::test]
async fn ctrl_c_during_simulate_says_what_to_do_next() {
    let db = fresh_sqlite();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(["--database-url", db.url(), "simulate", "--preset", "city"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start simulate");
    // Wait until it has written something (a guard against a hang, not a timing).
    let started = Instant::now();
    loop {
        if let Ok(store) = Store::open_read_only(db.url(), Arc::new(SystemClock)).await
            && store.head_position().await.unwrap_or(0) > 0
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "simulate wrote nothing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("events") && stderr.contains("rm -f"),
        "{stderr}"
    );
}

#[test]
fn short_and_long_help_open_alike_and_enum_flags_list_their_values() {
    let short = xingcun(&["-h"]);
    let long = xingcun(&["--help"]);
    let first = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(first(&short), first(&long));
    for flag in ["-h", "--help"] {
        let out = xingcun(&["simulate", flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("village") && text.contains("county"),
            "{text}"
        );
        assert!(
            text.contains("possible values") || text.contains("Possible values"),
            "{text}"
        );
    }
}

/// A command that only reads creates no table in a PostgreSQL database (a leftover
/// `DATABASE_URL` naming another application's database is left as it was).
#[tokio::test]
async fn reading_commands_create_no_tables_on_postgres() {
    use sqlx::Connection;
    let Some(pg) = fresh_postgres().await else {
        return;
    };
    for args in [vec!["verify"], vec!["export", "-"], vec!["regions"]] {
        let mut all = vec!["--database-url", pg.url()];
        all.extend(args);
        let out = xingcun(&all);
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("holds no xingcun event log"), "{stderr}");
    }
    let mut conn = sqlx::PgConnection::connect(pg.url()).await.expect("pg");
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         where c.relkind = 'r' and n.nspname = 'public'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    assert_eq!(tables, 0, "no table was created");
    conn.close().await.expect("close");
}

/// Ctrl-C during `import` says how far it got and that running it again continues (exit
/// 130); running it again does. The target's write lock is held by the test meanwhile, so
/// the import is certainly still running when the signal comes (it waits for the lock).
#[tokio::test]
async fn ctrl_c_during_import_says_how_to_continue() {
    use sqlx::Connection;
    use std::io::BufRead as _;
    let source = fresh_sqlite();
    drop(seeded(source.url(), 50).await);
    let file = TempPath::new("xingcun-e2e", ".jsonl");
    let out = xingcun(&["--database-url", source.url(), "export", &file.as_str()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let target = fresh_sqlite();
    let out = xingcun(&["--database-url", target.url(), "migrate"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut holder = sqlx::SqliteConnection::connect(target.url())
        .await
        .expect("holder");
    sqlx::query("begin immediate")
        .execute(&mut holder)
        .await
        .expect("hold the write lock");

    let mut child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(["--database-url", target.url(), "import", &file.as_str()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start import");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("first line");
    assert!(first.starts_with("xingcun: using"), "{first}");
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("rest");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains("interrupted") && rest.contains("Run the same command again"),
        "{rest}"
    );
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("release");
    holder.close().await.expect("close");

    let out = xingcun(&["--database-url", target.url(), "import", &file.as_str()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("head position 50"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Progress lines are drawn on a terminal (here a pseudo-terminal made by util-linux's
/// `script`) and never into a pipe or a log.
#[tokio::test]
async fn progress_is_drawn_on_a_terminal_only() {
    let source = fresh_sqlite();
    drop(seeded(source.url(), 3).await);
    let out = xingcun(&["--database-url", source.url(), "verify"]);
    assert!(out.status.success());
    assert!(
        !stderr_of(&out).contains("verified up to"),
        "{}",
        stderr_of(&out)
    );

    let on_terminal = |args: &str| {
        Command::new("script")
            .args([
                "-qec",
                &format!("{} {args}", env!("CARGO_BIN_EXE_xingcun")),
                "/dev/null",
            ])
            .output()
    };
    let Ok(out) = on_terminal(&format!("--database-url {} verify", source.url())) else {
        let _ = writeln!(
            std::io::stderr(),
            "note: `script` (util-linux) not found, skipping the terminal half of progress_is_drawn_on_a_terminal_only"
        );
        return;
    };
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("verified up to position 3 of 3"),
        "{screen}"
    );

    let file = TempPath::new("xingcun-e2e", ".jsonl");
    let out = xingcun(&["--database-url", source.url(), "export", &file.as_str()]);
    assert!(out.status.success());
    let target = fresh_sqlite();
    let out = on_terminal(&format!(
        "--database-url {} import {}",
        target.url(),
        file.as_str()
    ))
    .expect("script ran before");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("checking the file:") && screen.contains("imported up to position 3 of 3"),
        "{screen}"
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
    let db = fresh_sqlite();
    rebuild_survives_sigkill(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_survives_sigkill_on_postgres() {
    let Some(db) = fresh_postgres().await else {
        return;
    };
    rebuild_survives_sigkill(db.url()).await;
}

#[test]
fn rebuild_names_what_it_knows() {
    let db = fresh_sqlite();
    let url = db.url().to_owned();
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
/// A server process that is killed (SIGKILL) when dropped, so a failing test leaves no
/// server behind.
struct Server(std::process::Child);

impl Server {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(url: &str) -> Server {
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
    Server(child)
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
    let Some(db) = fresh_postgres().await else {
        return;
    };
    let url = db.url().to_owned();
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
    assert_eq!(
        holders.len(),
        xingcun_projections::all().len(),
        "one lock per read model: {holders:?}"
    );
    assert!(holders.iter().all(|(_, n)| *n == 1), "{holders:?}");

    // Kill A: B runs everything. Then restart A and kill B: A takes over whatever B led.
    for (round, victim) in [(1, &mut a), (2, &mut b)].into_iter() {
        let _ = Command::new("kill")
            .args(["-KILL", &victim.id().to_string()])
            .status();
        append_for_the_trail(&store, round).await;
        wait_level(&store).await;
        if round == 1 {
            *victim = start_server(&url);
        }
    }
    drop((a, b));
}

/// Ctrl-C during `xingcun rebuild` says what was done and how to go on (exit 130), and
/// the same command then finishes it. The read models' file is held locked by this test,
/// so the rebuild is certainly still running when it is interrupted.
#[test]
fn ctrl_c_during_rebuild_says_how_to_resume() {
    let db = fresh_sqlite();
    let url = db.url().to_owned();
    let out = xingcun(&[
        "--database-url",
        &url,
        "simulate",
        "--preset",
        "village",
        "--years",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = xingcun(&["--database-url", &url, "rebuild", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log_file = db.sqlite_path().expect("sqlite").to_owned();
    let read_file = log_file.with_file_name(format!(
        "{}.read.db",
        log_file.file_stem().expect("stem").to_string_lossy()
    ));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut holder = runtime.block_on(async {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", read_file.display()))
                .await
                .expect("open the read models' file");
        sqlx::query("begin immediate")
            .execute(&mut conn)
            .await
            .expect("hold its write lock");
        conn
    });
    let child = Command::new(env!("CARGO_BIN_EXE_xingcun"))
        .args(["--database-url", &url, "rebuild", "--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rebuild");
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    runtime.block_on(async {
        let _ = sqlx::query("rollback").execute(&mut holder).await;
    });
    drop(holder);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("Run the same command again to resume"),
        "{stderr}"
    );
    let out = xingcun(&["--database-url", &url, "rebuild", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
