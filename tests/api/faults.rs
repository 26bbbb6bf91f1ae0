//! Faults from the outside (RELIABILITY.md): real server processes killed with SIGKILL while
//! several clients write through them, on both backends. Run them all with
//! `cargo test --test api faults::`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// One GraphQL call that may fail at the transport (the server is being killed): `None`
/// when the connection is refused, reset or closed before a whole answer.
pub(crate) fn try_call(port: u16, token: &str, query: &str, variables: &Value) -> Option<Value> {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    // Any status with a GraphQL body (a 503 UNAVAILABLE when the token cannot be checked
    // while the database is away): the body says what happened.
    let (_, body) = text.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

/// What the clients were told was done: command id -> the positions acknowledged.
type Acknowledged = Mutex<BTreeMap<String, (String, Value, Vec<i64>)>>;

fn positions(result: &Value) -> Vec<i64> {
    result["positions"]
        .as_array()
        .map(|ps| ps.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Send `query` with a fresh command id; remember it when acknowledged. Returns the
/// mutation's result, `None` when the server did not answer (killed) or refused.
fn acknowledged(
    port: u16,
    token: &str,
    field: &str,
    query: &str,
    mut variables: Value,
    acks: &Acknowledged,
) -> Option<Value> {
    let command = uuid::Uuid::new_v4().to_string();
    variables["c"] = json!(command);
    let answer = try_call(port, token, query, &variables)?;
    let result = answer["data"][field].clone();
    if result.is_null() {
        return None;
    }
    acks.lock()
        .expect("acks")
        .insert(command, (query.to_owned(), variables, positions(&result)));
    Some(result)
}

/// Several clients write through a server (praise from a town leader, and tasks drafted,
/// approved and dispatched, so the fan-out runs), the server is killed with
/// SIGKILL in the middle, and started again:
/// - every acknowledged mutation is in the log: sent again with its command id it is a
///   duplicate answered with the same positions, and appends nothing;
/// - the fan-out completes every acknowledged dispatch, exactly one assignment each;
/// - `xingcun verify` passes;
/// - every read model equals a fresh rebuild of the log.
async fn acknowledged_work_survives_sigkill(db: TestDatabase) {
    simulate(&db);
    let url = db.url();
    let staff = people(url, "town_office_staff", CHENGTAN).await;
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let villages = [secretaries[0].scope.clone(), secretaries[1].scope.clone()];
    let mut server = start(url);
    let port = server.port;
    let office_token = token(url, &staff[0].person);
    let office = Client {
        port,
        token: Some(office_token.clone()),
    };
    let list = office.ok(
        "{ catalogue { items { code category level kind effectiveTo } } }",
        json!({}),
    );
    // A leader in charge of listed village duties: they approve and dispatch. Each task
    // goes to one village with one matter, never the same pair twice (the same matter to the
    // same village again is refused as 多头派单).
    let (leader, jobs) = leaders
        .iter()
        .find_map(|l| {
            let xingcun_domain::Role::TownLeader { duty_areas } = &l.role else {
                return None;
            };
            let duties: Vec<(String, String)> = list["catalogue"]["items"]
                .as_array()?
                .iter()
                .filter(|i| {
                    i["kind"] == "duty"
                        && i["level"] == "village"
                        && i["effectiveTo"].is_null()
                        && duty_areas.iter().any(|d| i["category"] == d.as_str())
                })
                .map(|i| {
                    (
                        i["code"].as_str().unwrap_or_default().to_owned(),
                        i["category"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let jobs: Vec<(String, String, String)> = duties
                .iter()
                .flat_map(|(code, category)| {
                    secretaries
                        .iter()
                        .map(|s| (code.clone(), category.clone(), s.scope.clone()))
                })
                .collect();
            (jobs.len() >= 4).then(|| (l.person.clone(), jobs))
        })
        .expect("a leader with listed duties");
    let leader_token = token(url, &leader);

    let acks: Arc<Acknowledged> = Arc::default();
    let dispatched: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    // Two clients praising villages.
    for c in 0..2 {
        let (acks, stop, token, villages) = (
            acks.clone(),
            stop.clone(),
            leader_token.clone(),
            villages.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let praise = "mutation($v: String!, $c: String!) { givePraise(village: $v, points: 2, reason: \"按时完成\", commandId: $c) { positions duplicate } }";
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let v = json!({ "v": villages[i % 2] });
                // About fifty a second each: a steady stream, not a flood that starves
                // the dispatching client of SQLite's one writer.
                let _ = acknowledged(port, &token, "givePraise", praise, v, &acks);
                std::thread::sleep(Duration::from_millis(20));
                i += 1;
            }
        }));
    }
    // One client (two people) drafting, approving and dispatching tasks.
    {
        let (acks, stop, dispatched) = (acks.clone(), stop.clone(), dispatched.clone());
        let (office, leader) = (office_token.clone(), leader_token.clone());
        clients.push(std::thread::spawn(move || {
            let deadline = (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339();
            let draft = "mutation($t: String!, $i: DraftTaskInput!, $c: String!) { draftTask(town: $t, input: $i, commandId: $c) { id positions } }";
            let approve = "mutation($t: String!, $c: String!) { approveTask(task: $t, commandId: $c) { positions } }";
            let dispatch = "mutation($t: String!, $c: String!) { dispatchTask(task: $t, commandId: $c) { positions } }";
            for (n, (code, category, village)) in jobs.into_iter().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let input = json!({ "t": CHENGTAN, "i": { "title": format!("宕机压测任务{n}"), "content": "测试",
                    "source": "TOWN", "category": category, "matterCode": code, "score": 5,
                    "villages": [village], "deadline": deadline } });
                let Some(task) = acknowledged(port, &office, "draftTask", draft, input, &acks)
                    .and_then(|r| r["id"].as_str().map(str::to_owned))
                else {
                    continue;
                };
                let t = json!({ "t": task });
                if acknowledged(port, &leader, "approveTask", approve, t.clone(), &acks).is_some()
                    && acknowledged(port, &leader, "dispatchTask", dispatch, t, &acks).is_some()
                {
                    dispatched.lock().expect("dispatched").push(task);
                }
            }
        }));
    }
    // A reader of a board all along.
    {
        let (stop, token, village) = (
            stop.clone(),
            token(url, &secretaries[0].person),
            villages[0].clone(),
        );
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = try_call(
                    port,
                    &token,
                    "query($v: String!) { villageBoard(village: $v) { task status } }",
                    &json!({ "v": village }),
                );
            }
        }));
    }
    // Let the work run, then SIGKILL the server in the middle of it.
    let started = Instant::now();
    while dispatched.lock().expect("dispatched").len() < 2
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = server.child.kill(); // SIGKILL
    let _ = server.child.wait();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let acks = acks.lock().expect("acks").clone();
    let dispatched = dispatched.lock().expect("dispatched").clone();
    assert!(
        acks.len() > 10 && dispatched.len() >= 2,
        "the load ran: {} acknowledged, {} dispatched",
        acks.len(),
        dispatched.len()
    );

    // Started again.
    let server = start(url);
    // The fan-out completes every acknowledged dispatch: one assignment per village.
    let store = Store::open_existing(url, Arc::new(SystemClock))
        .await
        .expect("store");
    let issued = |events: &[xingcun_store::RecordedEvent], task: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.event_type == "AssignmentIssued" && e.stream_id.contains(task))
            .map(|e| e.stream_id.clone())
            .collect()
    };
    let waiting = Instant::now();
    loop {
        let events = all_events(&store).await;
        let complete = dispatched.iter().all(|t| issued(&events, t).len() == 1);
        if complete {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the fan-out did not complete the acknowledged dispatches"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Quiet: the fan-out has done everything (including dispatches whose answer the kill
    // cut off) when the head stops moving.
    let mut head = head_of(url).await;
    loop {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let now = head_of(url).await;
        if now == head {
            break;
        }
        head = now;
    }
    // Every acknowledged command is there, whole, exactly once: sent again with its
    // command id, it is answered with the acknowledged positions and appends nothing.
    let head = head_of(url).await;
    for (command, (query, variables, acked)) in &acks {
        let field = ["givePraise", "draftTask", "approveTask", "dispatchTask"]
            .into_iter()
            .find(|f| query.contains(f))
            .expect("field");
        let token = if field == "draftTask" {
            &office_token
        } else {
            &leader_token
        };
        let again = try_call(server.port, token, query, variables).expect("answered");
        let result = &again["data"][field];
        assert_eq!(
            positions(result),
            *acked,
            "{command} sent again answers the acknowledged positions: {again}"
        );
    }
    assert_eq!(
        head_of(url).await,
        head,
        "acknowledged commands sent again appended nothing"
    );
    drop(server);
    let events = all_events(&store).await;
    for t in &dispatched {
        let all = issued(&events, t).len();
        assert_eq!(all, 1, "task {t}: one assignment, not {all}");
    }
    drop(store);

    // The chain verifies; the read models equal a fresh rebuild.
    let verify = xingcun(&["--database-url", url, "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let live = read_models(url).await;
    let rebuilt = xingcun(&["--database-url", url, "rebuild", "--all"]);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert!(
        live == read_models(url).await,
        "live read models equal a fresh rebuild"
    );
}

/// The positions of `events` subscription pushes received on `rx`, until every one of
/// `wanted` is among them or `within` has passed.
async fn positions_seen(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    wanted: &[i64],
    within: Duration,
) -> std::collections::BTreeSet<i64> {
    let mut got = std::collections::BTreeSet::new();
    let _ = tokio::time::timeout(within, async {
        while !wanted.iter().all(|p| got.contains(p)) {
            let Some(v) = rx.recv().await else { break };
            if let Some(p) = v["data"]["events"]["position"].as_i64() {
                got.insert(p);
            }
        }
    })
    .await;
    got
}

/// Every position in the log at `url`.
async fn logged_positions(url: &str) -> std::collections::BTreeSet<i64> {
    let store = Store::open_existing(url, Arc::new(SystemClock))
        .await
        .expect("store");
    all_events(&store)
        .await
        .iter()
        .map(|e| e.position as i64)
        .collect()
}

async fn all_events(store: &Store) -> Vec<xingcun_store::RecordedEvent> {
    use xingcun_store::EventLog;
    let mut out: Vec<xingcun_store::RecordedEvent> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.position);
        let page = store.read_all(after, 10_000).await.expect("read");
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Every row of every read model, table by table, in a stable order.
async fn read_models(url: &str) -> Vec<(String, Vec<Vec<xingcun_projections::sql::Arg>>)> {
    let store = Store::open_existing(url, Arc::new(SystemClock))
        .await
        .expect("store");
    let runtime = xingcun_projections::Runtime::open(store, xingcun_projections::all())
        .await
        .expect("read models");
    // What a killed runner left, resumed from its checkpoints to the head.
    runtime.catch_up().await.expect("catch up");
    let mut out = Vec::new();
    for p in runtime.projections() {
        for table in p.tables() {
            let sql = format!(
                "select * from {} order by 1, 2, 3, 4",
                runtime.db().qualified(table.name)
            );
            out.push((
                table.name.to_owned(),
                runtime.db().fetch(&sql, &[]).await.expect("rows"),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_sigkill_on_sqlite() {
    acknowledged_work_survives_sigkill(fresh_sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_sigkill_on_postgres() {
    let Some(db) = fresh_postgres().await else {
        return;
    };
    acknowledged_work_survives_sigkill(db).await;
}

/// Two servers on one PostgreSQL, a town leader writing through both at once and a
/// subscriber on each: every acknowledged command is in the log exactly once, positions
/// have no gaps, and each server's subscribers see the other server's appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_lose_and_double_nothing() {
    let Some(db) = fresh_postgres().await else {
        return;
    };
    simulate(&db);
    let url = db.url();
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let village = secretaries[0].scope.clone();
    let servers = [start(url), start(url)];
    let leader = token(url, &leaders[0].person);
    let secretary = token(url, &secretaries[0].person);
    let from = head_of(url).await;
    let subscription = format!(
        "subscription {{ events(region: \"{village}\", after: {from}) {{ position eventType }} }}"
    );
    let mut seen = Vec::new();
    for s in &servers {
        seen.push(subscribe(s.port, &secretary, &subscription).await);
    }
    let acks: Arc<Acknowledged> = Arc::default();
    let writers: Vec<_> = servers
        .iter()
        .map(|s| {
            let (port, acks, leader, village) =
                (s.port, acks.clone(), leader.clone(), village.clone());
            std::thread::spawn(move || {
                let praise = "mutation($v: String!, $c: String!) { givePraise(village: $v, points: 1, reason: \"两台服务器\", commandId: $c) { positions duplicate } }";
                for _ in 0..40 {
                    acknowledged(port, &leader, "givePraise", praise, json!({ "v": village }), &acks)
                        .expect("acknowledged");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let acks = acks.lock().expect("acks").clone();
    assert_eq!(acks.len(), 80);
    let mut acked: Vec<i64> = acks.values().flat_map(|(_, _, p)| p.clone()).collect();
    acked.sort_unstable();
    let before = acked.len();
    acked.dedup();
    assert_eq!(acked.len(), before, "no position acknowledged twice");
    // Gap-free: the log from `from` holds exactly the positions it was given.
    let store = Store::open_existing(url, Arc::new(SystemClock))
        .await
        .expect("store");
    let events = all_events(&store).await;
    let appended: Vec<i64> = events
        .iter()
        .filter(|e| e.position > from)
        .map(|e| e.position as i64)
        .collect();
    assert_eq!(
        appended,
        ((from as i64 + 1)..=(from as i64 + appended.len() as i64)).collect::<Vec<_>>(),
        "positions without gaps"
    );
    assert!(acked.iter().all(|p| appended.contains(p)));
    // Each server's subscriber sees every acknowledged event, from both servers.
    for (i, rx) in seen.iter_mut().enumerate() {
        let got = positions_seen(rx, &acked, Duration::from_secs(20)).await;
        assert!(
            acked.iter().all(|p| got.contains(p)),
            "server {i}'s subscriber saw {} of {} events",
            got.len(),
            acked.len()
        );
    }
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary directory, on a free
/// port), so it can be stopped and started without disturbing other tests. Stopped and
/// removed when dropped.
struct PrivatePostgres {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// `None` when this machine has no PostgreSQL server binaries.
    fn create() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())?;
        let dir = std::env::temp_dir().join(format!("xingcun-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let pg = PrivatePostgres {
            dir,
            bin,
            port: free_port(),
        };
        if as_root() {
            // initdb refuses root: the cluster belongs to the postgres user.
            assert!(
                Command::new("chown")
                    .args(["postgres:postgres", &pg.dir.display().to_string()])
                    .status()
                    .expect("chown")
                    .success()
            );
        }
        let data = pg.dir.join("data").display().to_string();
        assert!(
            pg.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres"]),
            "initdb"
        );
        pg.start();
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let tool = self.bin.join(tool).display().to_string();
        let mut command = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &tool]);
            c
        } else {
            Command::new(&tool)
        };
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn start(&self) {
        let data = self.dir.join("data").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        assert!(
            self.run(
                "pg_ctl",
                &["-D", &data, "-o", &options, "-w", "-t", "60", "start"]
            ),
            "pg_ctl start"
        );
    }

    /// Stop at once (`immediate`: no checkpoint, as a crash or a power cut).
    fn stop(&self) {
        let data = self.dir.join("data").display().to_string();
        assert!(
            self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]),
            "pg_ctl stop"
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop_quietly();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl PrivatePostgres {
    fn stop_quietly(&self) {
        let data = self.dir.join("data").display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn readyz(port: u16) -> u16 {
    std::panic::catch_unwind(|| {
        http(
            port,
            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .0
    })
    .unwrap_or(0)
}

/// PostgreSQL stopped (as by a crash) under a steady stream of mutations and a
/// subscriber, then started again: while it is down `/readyz` answers 503 and clients get
/// `UNAVAILABLE` promptly (not a hang, not a panic); once it is back the server recovers by
/// itself, the subscription goes on from where it was, and every acknowledged mutation is
/// in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_loses_nothing_acknowledged() {
    let Some(pg) = PrivatePostgres::create() else {
        assert!(
            std::env::var("XINGCUN_REQUIRE_PG").as_deref() != Ok("1"),
            "XINGCUN_REQUIRE_PG=1 but no PostgreSQL server binaries under /usr/lib/postgresql"
        );
        eprintln!("note: no PostgreSQL server binaries, skipping the restart test");
        return;
    };
    let url = pg.url();
    simulate_into(&url);
    let leaders = people(&url, "town_leader", CHENGTAN).await;
    let secretaries = people(&url, "village_secretary", CHENGTAN).await;
    let village = secretaries[0].scope.clone();
    let mut server = start(&url);
    let port = server.port;
    let leader = token(&url, &leaders[0].person);
    let secretary = token(&url, &secretaries[0].person);
    let from = head_of(&url).await;
    let mut seen = subscribe(
        port,
        &secretary,
        &format!("subscription {{ events(region: \"{village}\", after: {from}) {{ position }} }}"),
    )
    .await;

    // A steady writer: every answer is an acknowledgement or UNAVAILABLE, and quick.
    let acks: Arc<Acknowledged> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<Vec<(String, Duration)>>> = Arc::default();
    let writer = {
        let (acks, stop, outcomes, leader, village) = (
            acks.clone(),
            stop.clone(),
            outcomes.clone(),
            leader.clone(),
            village.clone(),
        );
        std::thread::spawn(move || {
            let praise = "mutation($v: String!, $c: String!) { givePraise(village: $v, points: 1, reason: \"数据库重启\", commandId: $c) { positions duplicate } }";
            while !stop.load(Ordering::Relaxed) {
                let command = uuid::Uuid::new_v4().to_string();
                let variables = json!({ "v": village, "c": command });
                let asked = Instant::now();
                let answer = try_call(port, &leader, praise, &variables);
                let outcome = match &answer {
                    Some(a) if !a["data"]["givePraise"].is_null() => {
                        acks.lock().expect("acks").insert(
                            command,
                            (
                                praise.to_owned(),
                                variables,
                                positions(&a["data"]["givePraise"]),
                            ),
                        );
                        "ok".to_owned()
                    }
                    Some(a) => a["errors"][0]["extensions"]["code"]
                        .as_str()
                        .unwrap_or("no code")
                        .to_owned(),
                    None => "no answer".to_owned(),
                };
                outcomes
                    .lock()
                    .expect("outcomes")
                    .push((outcome, asked.elapsed()));
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    pg.stop();
    // Down: not ready, and the writer is told UNAVAILABLE.
    let down = Instant::now();
    while readyz(port) != 503 {
        assert!(
            down.elapsed() < Duration::from_secs(20),
            "/readyz still ready 20 s after PostgreSQL stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    while !outcomes
        .lock()
        .expect("outcomes")
        .iter()
        .any(|(o, _)| o == "UNAVAILABLE")
    {
        assert!(
            down.elapsed() < Duration::from_secs(30),
            "no UNAVAILABLE while PostgreSQL is down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    pg.start();
    // Back: ready again and writing again, by itself.
    let back = Instant::now();
    let acked_before = acks.lock().expect("acks").len();
    while readyz(port) != 200 || acks.lock().expect("acks").len() < acked_before + 5 {
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "the server did not recover within 60 s of PostgreSQL's return"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = back.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "the server is still running"
    );
    let outcomes = outcomes.lock().expect("outcomes").clone();
    let unavailable: Vec<&Duration> = outcomes
        .iter()
        .filter(|(o, _)| o == "UNAVAILABLE")
        .map(|(_, t)| t)
        .collect();
    eprintln!(
        "outage: {} answers, {} UNAVAILABLE (slowest {:?}), ready and writing again {:?} after PostgreSQL started",
        outcomes.len(),
        unavailable.len(),
        unavailable.iter().max(),
        recovered,
    );
    for (outcome, took) in &outcomes {
        assert!(
            outcome == "ok" || outcome == "UNAVAILABLE",
            "every answer is an acknowledgement or UNAVAILABLE: {outcome}"
        );
        assert!(
            *took < REQUEST_BOUND,
            "an answer took {took:?}, past the request timeout"
        );
    }

    // Nothing acknowledged is lost, and the subscriber saw all of it, across the outage.
    let acks = acks.lock().expect("acks").clone();
    let logged = logged_positions(&url).await;
    let acked: Vec<i64> = acks.values().flat_map(|(_, _, p)| p.clone()).collect();
    assert!(
        acked.iter().all(|p| logged.contains(p)),
        "acknowledged, then lost"
    );
    let got = positions_seen(&mut seen, &acked, Duration::from_secs(30)).await;
    assert!(
        acked.iter().all(|p| got.contains(p)),
        "the subscriber saw {} of {} acknowledged events across the outage",
        got.len(),
        acked.len()
    );
    let _ = server.child.kill();
    drop(pg);
}

/// Longer than the server's request timeout (30 s) would mean a request hung past it.
const REQUEST_BOUND: Duration = Duration::from_secs(31);

/// Each request's time and, when it failed, what it answered.
/// Each request: the field it asked for, how long it took, and its error if any.
type Timed = Mutex<Vec<(&'static str, Duration, Option<String>)>>;

/// A field of /proc/PID/status (in kB for memory), or the number of open descriptors.
fn proc_status(pid: u32, field: &str) -> u64 {
    if field == "fds" {
        return std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    }
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn subscribers_metric(port: u16) -> i64 {
    let (_, _, body) = http(
        port,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    body.lines()
        .find_map(|l| l.strip_prefix("xingcun_subscribers "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

/// A bounded soak: mixed queries, mutations and subscriptions at a fixed rate (100
/// requests/s from four clients, four subscriptions open throughout, one WebSocket opened
/// and closed every second) for `XINGCUN_SOAK_SECONDS` (20 by default, 60 in CI, 600 in
/// `bench/soak.sh`). Zero errors; the subscriptions keep up; memory, descriptors, threads
/// and subscribers do not grow. Reports p50/p99 and the server's RSS at start and end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_at_a_fixed_rate() {
    let seconds: u64 = std::env::var("XINGCUN_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let db = match fresh_postgres().await {
        Some(db) => db,
        None => fresh_sqlite(),
    };
    simulate(&db);
    let url = db.url();
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let village = secretaries[0].scope.clone();
    let server = start(url);
    let (port, pid) = (server.port, server.child.id());
    let leader = token(url, &leaders[0].person);
    let secretary = token(url, &secretaries[0].person);
    let mut subscriptions = Vec::new();
    for query in [
        format!("subscription {{ events(region: \"{village}\") {{ position }} }}"),
        format!("subscription {{ events(region: \"{CHENGTAN}\") {{ position }} }}"),
        format!("subscription {{ villageBoardChanged(village: \"{village}\") {{ task }} }}"),
        format!(
            "subscription {{ leaderboardChanged(board: VILLAGES, scope: \"{CHENGTAN}\", period: \"2026\") {{ rank }} }}"
        ),
    ] {
        subscriptions.push(subscribe(port, &secretary, &query).await);
    }
    // Warm: the first requests fill caches and pools; measure from here.
    for _ in 0..50 {
        let _ = try_call(port, &secretary, "{ me { name } }", &json!({}));
    }
    let start_rss = proc_status(pid, "VmRSS:");
    let start_fds = proc_status(pid, "fds");
    let start_threads = proc_status(pid, "Threads:");

    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let mixes: Vec<(String, &str, Value, &str)> = vec![
        (
            secretary.clone(),
            "query($v: String!) { villageBoard(village: $v, first: 20) { task status } }",
            json!({ "v": village }),
            "villageBoard",
        ),
        (
            secretary.clone(),
            "query($t: String!) { leaderboard(board: VILLAGES, scope: $t, period: \"2026\", first: 20) { rank } }",
            json!({ "t": CHENGTAN }),
            "leaderboard",
        ),
        (
            leader.clone(),
            "query($t: String!) { townDashboard(town: $t) { town } }",
            json!({ "t": CHENGTAN }),
            "townDashboard",
        ),
        (
            leader.clone(),
            "mutation($v: String!, $c: String!) { givePraise(village: $v, points: 1, reason: \"持续压测\", commandId: $c) { positions } }",
            json!({ "v": village }),
            "givePraise",
        ),
    ];
    let results: Arc<Timed> = Arc::default();
    let workers: Vec<_> = mixes
        .into_iter()
        .map(|(token, query, variables, field)| {
            let results = results.clone();
            std::thread::spawn(move || {
                let period = Duration::from_millis(40);
                let mut next = Instant::now();
                while Instant::now() < stop_at {
                    let mut variables = variables.clone();
                    if field == "givePraise" {
                        variables["c"] = json!(uuid::Uuid::new_v4().to_string());
                    }
                    let asked = Instant::now();
                    let answer = try_call(port, &token, query, &variables);
                    let error = match answer {
                        Some(a) if a.get("errors").is_none() && !a["data"][field].is_null() => None,
                        Some(a) => Some(a.to_string()),
                        None => Some("no answer".into()),
                    };
                    results
                        .lock()
                        .expect("results")
                        .push((field, asked.elapsed(), error));
                    next += period;
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    // Connection churn: a WebSocket opened, initialised and closed every second.
    while Instant::now() < stop_at {
        let _ = closed_with(port, &secretary, Duration::from_millis(300)).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    for w in workers {
        w.join().expect("worker");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let end_rss = proc_status(pid, "VmRSS:");
    let end_fds = proc_status(pid, "fds");
    let end_threads = proc_status(pid, "Threads:");
    let open = subscribers_metric(port);

    let results = results.lock().expect("results").clone();
    let errors: Vec<&String> = results.iter().filter_map(|(_, _, e)| e.as_ref()).collect();
    let mut latencies: Vec<Duration> = results.iter().map(|(_, t, _)| *t).collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    // The subscriptions kept up: each praise reached the village's event feed.
    let praised = results
        .iter()
        .filter(|(field, _, error)| *field == "givePraise" && error.is_none())
        .count();
    let mut delivered = 0;
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_millis(500), subscriptions[0].recv()).await
    {
        delivered += 1;
    }
    eprintln!(
        "soak: {seconds} s, {} requests ({:.0}/s), {} errors, p50 {:?}, p99 {:?}; RSS {} -> {} KiB, descriptors {start_fds} -> {end_fds}, threads {start_threads} -> {end_threads}, subscribers {open}; the village's feed delivered {delivered} events",
        results.len(),
        results.len() as f64 / seconds as f64,
        errors.len(),
        pct(0.5),
        pct(0.99),
        start_rss,
        end_rss,
    );
    assert!(
        errors.is_empty(),
        "{} errors, first: {}",
        errors.len(),
        errors[0]
    );
    assert_eq!(
        open, 4,
        "the four subscriptions, and no churned connection left open"
    );
    assert!(
        delivered >= praised,
        "the village's feed delivered {delivered} events for {praised} praises"
    );
    assert!(
        end_fds <= start_fds + 8,
        "descriptors grew: {start_fds} -> {end_fds}"
    );
    assert!(
        end_threads <= start_threads + 2,
        "threads grew: {start_threads} -> {end_threads}"
    );
    assert!(
        end_rss < start_rss * 2 + 32 * 1024,
        "memory grew: {start_rss} -> {end_rss} KiB"
    );
    drop(subscriptions);
    let closing = Instant::now();
    while subscribers_metric(port) != 0 {
        assert!(
            closing.elapsed() < Duration::from_secs(10),
            "closed subscriptions still counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A small disk of the test's own (tmpfs, which needs root), so it can fill up; unmounted
/// and removed when dropped.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    /// `None` where mounting is not allowed (not root, or a container without the right).
    fn mount(kib: u64) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("xingcun-disk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            Some(SmallDisk { dir })
        } else {
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }

    /// Give the disk room again (as an administrator freeing space would).
    fn grow(&self, kib: u64) {
        assert!(
            Command::new("mount")
                .args(["-o", &format!("remount,size={kib}k")])
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success()),
            "remount"
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a pool of this test may still be closing a file on it.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SQLite on a disk that fills up under a stream of mutations: writes are refused with
/// `STORAGE_FULL` (nothing else, no panic), reads go on, writes work again once space is
/// freed without a restart, and after a SIGKILL the log verifies, holds every acknowledged
/// mutation, and its read models resume to equal a fresh rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_corrupts_nothing() {
    let db = fresh_sqlite();
    simulate(&db);
    let source = db.sqlite_path().expect("path").to_path_buf();
    let read = xingcun_projections::sql::read_file_beside(&source);
    // Build the read models once, on the roomy disk.
    drop(start(db.url()));
    let files: Vec<std::path::PathBuf> = [&source, &read]
        .into_iter()
        .flat_map(|f| {
            ["", "-wal"].map(|suffix| std::path::PathBuf::from(format!("{}{suffix}", f.display())))
        })
        .filter(|f| f.exists())
        .collect();
    let used: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let Some(disk) = SmallDisk::mount(used / 1024 + 3 * 1024) else {
        assert!(
            !as_root(),
            "running as root, yet a tmpfs could not be mounted for the full-disk test"
        );
        eprintln!("note: cannot mount a small disk (not root), skipping the full-disk test");
        return;
    };
    for f in &files {
        std::fs::copy(f, disk.dir.join(f.file_name().expect("name"))).expect("copy");
    }
    let url = format!(
        "sqlite://{}",
        disk.dir.join(source.file_name().expect("name")).display()
    );
    let leaders = people(&url, "town_leader", CHENGTAN).await;
    let secretaries = people(&url, "village_secretary", CHENGTAN).await;
    let village = secretaries[0].scope.clone();
    let leader = token(&url, &leaders[0].person);
    let secretary = token(&url, &secretaries[0].person);
    let mut server = start(&url);
    let port = server.port;
    let praise = "mutation($v: String!, $c: String!) { givePraise(village: $v, points: 1, reason: \"磁盘写满\", commandId: $c) { positions } }";
    let acks: Acknowledged = Mutex::default();
    let mut refusals = BTreeMap::<String, usize>::new();
    let mut full_in_a_row = 0;
    for _ in 0..20_000 {
        let command = uuid::Uuid::new_v4().to_string();
        let variables = json!({ "v": village, "c": command });
        let answer = try_call(port, &leader, praise, &variables).expect("the server answers");
        if answer["data"]["givePraise"].is_null() {
            let code = answer["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("no code")
                .to_owned();
            *refusals.entry(code.clone()).or_default() += 1;
            if code == "STORAGE_FULL" {
                full_in_a_row += 1;
                assert!(
                    answer["errors"][0]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("存储空间已满")),
                    "{answer}"
                );
                if full_in_a_row >= 10 {
                    break;
                }
            }
        } else {
            full_in_a_row = 0;
            acks.lock().expect("acks").insert(
                command,
                (
                    praise.to_owned(),
                    variables,
                    positions(&answer["data"]["givePraise"]),
                ),
            );
        }
    }
    eprintln!(
        "full disk: {} acknowledged, refusals {refusals:?}",
        acks.lock().expect("acks").len()
    );
    assert!(full_in_a_row >= 10, "the disk never filled: {refusals:?}");
    assert_eq!(
        refusals.keys().collect::<Vec<_>>(),
        vec!["STORAGE_FULL"],
        "a full disk is said as such, nothing else"
    );
    // Reads go on while the disk is full.
    let reader = Client {
        port,
        token: Some(secretary),
    };
    reader.ok(
        "query($v: String!) { villageBoard(village: $v) { task } }",
        json!({ "v": village }),
    );
    // Space freed: writes work again, without a restart.
    disk.grow(256 * 1024);
    let again = try_call(
        port,
        &leader,
        praise,
        &json!({ "v": village, "c": uuid::Uuid::new_v4().to_string() }),
    )
    .expect("answer");
    assert!(!again["data"]["givePraise"].is_null(), "{again}");
    let _ = server.child.kill(); // SIGKILL
    let _ = server.child.wait();

    let verify = xingcun(&["--database-url", &url, "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let logged = logged_positions(&url).await;
    let acks = acks.lock().expect("acks").clone();
    assert!(
        acks.values()
            .flat_map(|(_, _, p)| p)
            .all(|p| logged.contains(p)),
        "acknowledged, then lost"
    );
    let live = read_models(&url).await;
    let rebuilt = xingcun(&["--database-url", &url, "rebuild", "--all"]);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert!(
        live == read_models(&url).await,
        "resumed read models equal a fresh rebuild"
    );
    drop(disk);
}

/// A server on a read-only copy (`?mode=ro`, an auditor's copy) answers reads and refuses
/// every write with `READ_ONLY`, changing nothing; an export carries no token nor its hash.
#[tokio::test]
async fn a_read_only_copy_refuses_writes_and_exports_carry_no_secret() {
    let db = fresh_sqlite();
    simulate(&db);
    let url = db.url();
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let leader = token(url, &leaders[0].person);
    drop(start(url)); // the read models, built once
    let path = db.sqlite_path().expect("path");
    let before = std::fs::read(path).expect("bytes");
    let read_only = format!("{url}?mode=ro");
    let server = start(&read_only);
    let client = Client {
        port: server.port,
        token: Some(leader.clone()),
    };
    client.ok(
        "query($v: String!) { villageBoard(village: $v) { task } }",
        json!({ "v": secretaries[0].scope }),
    );
    let refused = client.call(
        "mutation($v: String!) { givePraise(village: $v, points: 1, reason: \"只读副本\") { positions } }",
        json!({ "v": secretaries[0].scope }),
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "READ_ONLY",
        "{refused}"
    );
    drop(server);
    assert!(
        std::fs::read(path).expect("bytes") == before,
        "the read-only server wrote nothing"
    );
    // No token, nor its hash, in an export of the log.
    let export = xingcun(&["--database-url", url, "export", "-"]);
    assert!(export.status.success());
    let exported = String::from_utf8_lossy(&export.stdout);
    assert!(exported.lines().count() > 100);
    assert!(!exported.contains(&leader), "the token is in the export");
    assert!(
        !exported.contains(&xingcun_store::tokens::token_hash(&leader)),
        "the token's hash is in the export"
    );
    assert!(
        !exported.contains("xc_"),
        "something token-shaped is in the export"
    );
}
