//! Load against a running `xingcun serve`: the village board (20 rows), a leaderboard, the
//! report-progress mutation, and the time from a mutation to its subscription event, each
//! beside a ceiling measured in the same run (`GET /healthz`, which touches no database:
//! what the HTTP stack alone gives on this machine).
//!
//! `bench/api.sh` prepares the city, the tokens and the server, then runs this with:
//! - `BENCH_ADDR` host:port of the server; `BENCH_PID` its process id (for peak memory);
//! - `BENCH_TOKEN` a village secretary's token, `BENCH_VILLAGE` their village;
//! - `BENCH_TOWN` the town for the leaderboard, `BENCH_PERIOD` its period;
//! - `BENCH_CONNECTIONS` (default 64), `BENCH_SECONDS` per phase (default 10).
//!
//! The client is plain HTTP/1.1 keep-alive over loopback, one task per connection, so it
//! measures the server, not a client library. Each phase also reports the share of the
//! machine's CPU the server, PostgreSQL and this client used (from /proc), since all three
//! share the same cores.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            reader: BufReader::new(stream),
        }
    }

    /// One request; returns the status and body.
    async fn send(&mut self, request: &[u8]) -> (u16, Vec<u8>) {
        self.reader
            .get_mut()
            .write_all(request)
            .await
            .expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("status");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

fn post(addr: &str, token: &str, query: &str, variables: &Value) -> Vec<u8> {
    let body = json!({ "query": query, "variables": variables }).to_string();
    format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Outcome {
    requests: u64,
    errors: u64,
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// CPU seconds used during the phase: the server, PostgreSQL, this client.
    cpu: [f64; 3],
}

/// CPU seconds (user + system) of one process, from /proc (USER_HZ is 100 on Linux).
fn cpu_of(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name is in parentheses and may hold spaces: count fields after it.
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every PostgreSQL process on the machine.
fn cpu_of_postgres() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| cpu_of(&pid))
        .sum()
}

fn cpu_now() -> [f64; 3] {
    let server = std::env::var("BENCH_PID").map_or(0.0, |pid| cpu_of(&pid));
    [server, cpu_of_postgres(), cpu_of("self")]
}

impl Outcome {
    /// One request after the other, timed from `started`.
    fn sequential(latencies: Vec<Duration>, started: Instant, cpu_before: [f64; 3]) -> Outcome {
        let cpu_after = cpu_now();
        Outcome {
            requests: latencies.len() as u64,
            errors: 0,
            latencies,
            elapsed: started.elapsed(),
            cpu: std::array::from_fn(|i| cpu_after[i] - cpu_before[i]),
        }
    }

    fn report(&self, name: &str, ceiling: Option<f64>) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let rate = self.requests as f64 / self.elapsed.as_secs_f64();
        let ratio = ceiling.map_or(String::new(), |c| {
            format!(", {:.2} of the ceiling", rate / c)
        });
        let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        let share = |i: usize| 100.0 * self.cpu[i] / (self.elapsed.as_secs_f64() * cores);
        println!(
            "{name}: {rate:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} errors of {}{ratio}; CPU: server {:.0}%, PostgreSQL {:.0}%, client {:.0}% of {cores} cores",
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.errors,
            self.requests,
            share(0),
            share(1),
            share(2),
        );
        rate
    }
}

/// `connections` connections, each sending `request` (built per connection and round)
/// for `seconds`.
async fn load(
    addr: &str,
    connections: usize,
    seconds: u64,
    request: impl Fn(usize, u64) -> Vec<u8> + Send + Sync + Clone + 'static,
    ok: impl Fn(u16, &[u8]) -> bool + Send + Sync + Clone + 'static,
) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let cpu_before = cpu_now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let addr = addr.to_owned();
        let request = request.clone();
        let ok = ok.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await;
            let (mut n, mut errors, mut latencies) = (0u64, 0u64, Vec::new());
            let mut round = 0u64;
            while Instant::now() < deadline {
                let req = request(c, round);
                round += 1;
                let t = Instant::now();
                let (status, body) = conn.send(&req).await;
                latencies.push(t.elapsed());
                n += 1;
                if !ok(status, &body) {
                    errors += 1;
                }
            }
            (n, errors, latencies)
        }));
    }
    let mut outcome = Outcome {
        requests: 0,
        errors: 0,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        cpu: [0.0; 3],
    };
    for t in tasks {
        let (n, e, l) = t.await.expect("task");
        outcome.requests += n;
        outcome.errors += e;
        outcome.latencies.extend(l);
    }
    outcome.elapsed = started.elapsed();
    let cpu_after = cpu_now();
    outcome.cpu = std::array::from_fn(|i| cpu_after[i] - cpu_before[i]);
    outcome
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const REPORT_PROGRESS: &str = "mutation($t: String!, $v: String!, $p: Int!) { reportProgress(task: $t, village: $v, percent: $p, note: \"进度\") { position } }";

/// 200 progress reports on `task`, one after the other, each timed until `ws` receives a
/// message containing `marker` (its subscription's push).
async fn pushed(
    conn: &mut Conn,
    ws: &mut Ws,
    addr: &str,
    token: &str,
    village: &str,
    task: &str,
    marker: &str,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for i in 0..200u64 {
        let req = post(
            addr,
            token,
            REPORT_PROGRESS,
            &json!({ "t": task, "v": village, "p": 10 + (i % 80) }),
        );
        let t = Instant::now();
        let _ = conn.send(&req).await;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(m))) if m.to_text().unwrap_or("").contains(marker) => break,
                Ok(Some(Ok(_))) => continue,
                _ => panic!("no push containing {marker} within 5 s"),
            }
        }
        latencies.push(t.elapsed());
    }
    latencies
}

/// `reportProgress` at a fixed 50 a second for `duration`, rotating over `tasks`, while
/// `ws` (subscribed to the village's `villageBoardChanged`) receives the board's rows:
/// reports each mutation's time to its acknowledgement and to its row being pushed (a row
/// of the same task at the mutation's position or later).
async fn steady(
    addr: &str,
    token: &str,
    village: &str,
    tasks: &[String],
    ws: &mut Ws,
    duration: Duration,
    label: &str,
) {
    let (tx, mut sent) = tokio::sync::mpsc::unbounded_channel::<(String, i64, Instant, Duration)>();
    let (a, t, v, tasks) = (
        addr.to_owned(),
        token.to_owned(),
        village.to_owned(),
        tasks.to_vec(),
    );
    let cpu_before = cpu_now();
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut conn = Conn::open(&a).await;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut i = 0usize;
        while started.elapsed() < duration {
            tick.tick().await;
            let task = tasks[i % tasks.len()].clone();
            let req = post(
                &a,
                &t,
                REPORT_PROGRESS,
                &json!({ "t": task, "v": v, "p": 10 + (i % 80) }),
            );
            i += 1;
            let at = Instant::now();
            let (_, body) = conn.send(&req).await;
            let acked = at.elapsed();
            let position = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b["data"]["reportProgress"]["position"].as_i64());
            if let Some(p) = position {
                let _ = tx.send((task, p, at, acked));
            }
        }
    });
    // (task, position, sent, acknowledged after) still waiting for their row.
    let mut waiting: Vec<(String, i64, Instant, Duration)> = Vec::new();
    let (mut acks, mut visible) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + duration + Duration::from_secs(5);
    while Instant::now() < deadline
        && !(sender.is_finished() && waiting.is_empty() && sent.is_empty())
    {
        tokio::select! {
            Some(m) = sent.recv() => {
                acks.push(m.3);
                waiting.push(m);
            }
            Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_millis(100), ws.next()) => {
                let now = Instant::now();
                let Ok(v) = serde_json::from_str::<Value>(message.to_text().unwrap_or("")) else { continue };
                for row in v["payload"]["data"]["villageBoardChanged"].as_array().into_iter().flatten() {
                    let (task, position) = (row["task"].as_str().unwrap_or(""), row["position"].as_i64().unwrap_or(0));
                    waiting.retain(|(t, p, at, _)| {
                        let seen = t == task && *p <= position;
                        if seen {
                            visible.push(now - *at);
                        }
                        !seen
                    });
                }
            }
            else => {}
        }
    }
    let _ = sender.await;
    let cpu_after = cpu_now();
    let elapsed = started.elapsed();
    let outcome = |latencies: Vec<Duration>| Outcome {
        requests: latencies.len() as u64,
        errors: 0,
        latencies,
        elapsed,
        cpu: std::array::from_fn(|i| cpu_after[i] - cpu_before[i]),
    };
    let never = waiting.len();
    outcome(acks).report(&format!("{label}: append acknowledged"), None);
    outcome(visible).report(
        &format!("{label}: append to its board row pushed ({never} not seen)"),
        None,
    );
}

fn graphql_ok(status: u16, body: &[u8]) -> bool {
    status == 200 && !body.windows(9).any(|w| w == b"\"errors\":")
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (see bench/api.sh)"))
}

fn peak_rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

async fn call(addr: &str, token: &str, query: &str, variables: Value) -> Value {
    let mut conn = Conn::open(addr).await;
    let (_, body) = conn.send(&post(addr, token, query, &variables)).await;
    serde_json::from_slice(&body).expect("json")
}

#[tokio::main]
async fn main() {
    let addr = env("BENCH_ADDR");
    let token = env("BENCH_TOKEN");
    let village = env("BENCH_VILLAGE");
    let town = env("BENCH_TOWN");
    let period = env("BENCH_PERIOD");
    let connections: usize = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    println!("{connections} connections, {seconds} s per phase, server {addr}");

    let health = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    let ceiling = load(
        &addr,
        connections,
        seconds,
        move |_, _| health.clone(),
        |s, _| s == 200,
    )
    .await
    .report("ceiling GET /healthz", None);

    // The GraphQL floor: a token checked and a query parsed, validated and answered
    // without touching a read model.
    let floor = post(&addr, &token, "{ __typename }", &json!({}));
    load(
        &addr,
        connections,
        seconds,
        move |_, _| floor.clone(),
        graphql_ok,
    )
    .await
    .report(
        "GraphQL floor ({ __typename }, with a token)",
        Some(ceiling),
    );

    let board = post(
        &addr,
        &token,
        "query($v: String!) { villageBoard(village: $v, first: 20) { task title status deadline overdue progressPercent } }",
        &json!({ "v": village }),
    );
    load(
        &addr,
        connections,
        seconds,
        move |_, _| board.clone(),
        graphql_ok,
    )
    .await
    .report("villageBoard (20 rows)", Some(ceiling));

    let leaderboard = post(
        &addr,
        &token,
        "query($t: String!, $p: String!) { leaderboard(board: VILLAGES, scope: $t, period: $p, first: 20) { rank subject name points { total } } }",
        &json!({ "t": town, "p": period }),
    );
    load(
        &addr,
        connections,
        seconds,
        move |_, _| leaderboard.clone(),
        graphql_ok,
    )
    .await
    .report("leaderboard (20 rows)", Some(ceiling));

    // The mutation path: progress reports on the village's open assignments, one
    // connection per assignment (one stream each).
    let open = call(
        &addr,
        &token,
        "query($v: String!) { villageBoard(village: $v, first: 200) { task status } }",
        json!({ "v": village }),
    )
    .await;
    let tasks: Vec<String> = open["data"]["villageBoard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(
                r["status"].as_str(),
                Some("signed" | "assigned" | "in_progress" | "returned")
            )
        })
        .filter_map(|r| r["task"].as_str().map(str::to_owned))
        .collect();
    if tasks.is_empty() {
        println!("mutations: no open assignment in {village}; skipped");
    } else {
        let (a, t, v) = (addr.clone(), token.clone(), village.clone());
        let tasks2 = tasks.clone();
        load(
            &addr,
            tasks.len().min(16),
            seconds,
            move |c, round| {
                post(
                    &a,
                    &t,
                    REPORT_PROGRESS,
                    &json!({ "t": tasks2[c], "v": v, "p": 10 + (round % 80) }),
                )
            },
            graphql_ok,
        )
        .await
        .report(
            &format!("reportProgress ({} streams)", tasks.len().min(16)),
            Some(ceiling),
        );

        // Mutation to subscription event.
        let mut request = format!("ws://{addr}/graphql")
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("ws");
        ws.send(Message::text(
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})
                .to_string(),
        ))
        .await
        .expect("init");
        let _ack = ws.next().await;
        ws.send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": format!("subscription {{ events(region: \"{village}\") {{ position }} }}")}})
                .to_string(),
        ))
        .await
        .expect("subscribe");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut conn = Conn::open(&addr).await;
        let (started, cpu_before) = (Instant::now(), cpu_now());
        let latencies = pushed(
            &mut conn, &mut ws, &addr, &token, &village, &tasks[0], "\"next\"",
        )
        .await;
        Outcome::sequential(latencies, started, cpu_before).report(
            "mutation to its log event pushed (events, latency only)",
            None,
        );

        // Append to a visible board row: the board's read model must have applied it.
        ws.send(Message::text(
            json!({"id": "1", "type": "complete"}).to_string(),
        ))
        .await
        .expect("complete");
        ws.send(Message::text(
            json!({"id": "2", "type": "subscribe", "payload": {"query": format!("subscription {{ villageBoardChanged(village: \"{village}\") {{ task position }} }}")}})
                .to_string(),
        ))
        .await
        .expect("subscribe");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (started, cpu_before) = (Instant::now(), cpu_now());
        let latencies = pushed(
            &mut conn,
            &mut ws,
            &addr,
            &token,
            &village,
            &tasks[0],
            "villageBoardChanged",
        )
        .await;
        Outcome::sequential(latencies, started, cpu_before).report(
            "mutation to its board row pushed (villageBoardChanged, latency only)",
            None,
        );

        // Issue 10's lag: a steady 50 mutations/s, each timed to its acknowledgement and
        // to the moment its board row is pushed; then the same while `xingcun rebuild
        // --all` rebuilds every read model beside the server (the append's wait during a
        // full rebuild).
        let steady_for = Duration::from_secs(seconds * 2);
        steady(
            &addr,
            &token,
            &village,
            &tasks,
            &mut ws,
            steady_for,
            "steady 50 mutations/s",
        )
        .await;
        if let (Ok(bin), Ok(db)) = (std::env::var("BENCH_BIN"), std::env::var("BENCH_DB")) {
            let mut rebuild = std::process::Command::new(&bin)
                .args(["--database-url", &db, "rebuild", "--all"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start the rebuild");
            tokio::time::sleep(Duration::from_secs(2)).await;
            steady(
                &addr,
                &token,
                &village,
                &tasks,
                &mut ws,
                steady_for,
                "steady 50 mutations/s during `xingcun rebuild --all`",
            )
            .await;
            // Interrupted like Ctrl-C: the rebuild resumes next time; the old tables serve.
            let _ = std::process::Command::new("kill")
                .args(["-INT", &rebuild.id().to_string()])
                .status();
            let _ = rebuild.wait();
        }
    }
    if let Ok(pid) = std::env::var("BENCH_PID")
        && let Some(mib) = peak_rss_mib(&pid)
    {
        println!("server peak memory (VmHWM): {mib:.0} MiB");
    }
}
