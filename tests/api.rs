//! The GraphQL API end to end: the real `xingcun serve` process, real HTTP, real
//! WebSocket (graphql-transport-ws), on SQLite and on PostgreSQL.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xingcun_store::testing::{TestDatabase, fresh_postgres, fresh_sqlite};
use xingcun_store::{Store, SystemClock};

#[path = "api/faults.rs"]
mod faults;
#[path = "api/hostile.rs"]
mod hostile;
mod server;

use server::*;

const EVIDENCE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test]
async fn graphql_over_http_follows_the_specification() {
    let db = fresh_sqlite();
    simulate(&db);
    let secretary = people(db.url(), "village_secretary", CHENGTAN).await;
    let token = token(db.url(), &secretary[0].person);
    let server = start(db.url());
    let port = server.port;
    let auth = format!("Bearer {token}");
    let me = r#"{"query":"{ me { name } }"}"#;

    // application/json by default, graphql-response+json when accepted.
    let (status, head, body) = post_raw(
        port,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        me,
    );
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let (status, head, _) = post_raw(
        port,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/graphql-response+json"),
            ("Authorization", &auth),
        ],
        me,
    );
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/graphql-response+json"),
        "{head}"
    );
    // A validation error: 400 without data for graphql-response+json, 200 for json.
    let bad = r#"{"query":"{ nothing }"}"#;
    let (status, _, body) = post_raw(
        port,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/graphql-response+json"),
        ],
        bad,
    );
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    let (status, _, _) = post_raw(port, &[("Content-Type", "application/json")], bad);
    assert_eq!(status, 200);
    // Not JSON, not a request, wrong media types.
    let (status, _, _) = post_raw(port, &[("Content-Type", "application/json")], "{oops");
    assert_eq!(status, 400);
    let (status, _, _) = post_raw(port, &[("Content-Type", "text/plain")], me);
    assert_eq!(status, 415);
    let (status, _, _) = post_raw(
        port,
        &[("Content-Type", "application/json"), ("Accept", "text/xml")],
        me,
    );
    assert_eq!(status, 406);
    // GET: queries only.
    let (status, _, body) = http(
        port,
        &format!(
            "GET /graphql?query=%7B%20me%20%7B%20name%20%7D%20%7D HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&secretary[0].name), "{body}");
    let (status, head, _) = http(
        port,
        "GET /graphql?query=mutation%20%7B%20x%20%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert!(head.contains("allow: post"), "{head}");
    // GraphiQL from the binary, nothing from outside.
    let (status, _, page) = http(
        port,
        "GET /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(page.contains("/graphiql/graphiql.min.js") && !page.contains("https://"));
    let (status, head, _) = http(
        port,
        "GET /graphiql/graphiql.min.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    // Anonymous: UNAUTHENTICATED; a bad token: 401; too many: 429.
    let anonymous = Client { port, token: None };
    assert_eq!(
        anonymous.code("{ me { name } }", json!({})),
        "UNAUTHENTICATED"
    );
    let wrong = format!("Bearer xc_{}", "0".repeat(64));
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (status, head, _) = post_raw(
            port,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &wrong),
            ],
            me,
        );
        if status == 401 {
            assert!(head.contains("www-authenticate: bearer"), "{head}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(statuses[11], 429, "{statuses:?}");
    // Health, readiness, metrics.
    let (status, _, metrics) = http(
        port,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(
        metrics.contains("xingcun_graphql_requests_total")
            && metrics.contains("xingcun_projection_lag_events{projection=\"village_board\"}")
            && metrics.contains("xingcun_log_group_commits_total{path=\"planned_ahead\"}"),
        "{metrics}"
    );
}

/// A graphql-transport-ws WebSocket to the server, nothing sent yet.
type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_ws(port: u16) -> Ws {
    let mut request = format!("ws://127.0.0.1:{port}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connect")
        .0
}

/// A graphql-transport-ws connection with `connection_init` sent (not yet acknowledged).
async fn connect_ws(port: u16, token: &str) -> Ws {
    let mut ws = open_ws(port).await;
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})
            .to_string(),
    ))
    .await
    .expect("init");
    ws
}

/// The code the server closes `ws` with, reading (and checking each text message with
/// `each`) until it does; `None` if it does not within `within`.
async fn close_of(ws: &mut Ws, within: Duration, each: impl Fn(&str)) -> Option<u16> {
    tokio::time::timeout(within, async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = &m {
                each(t);
            }
            if let Message::Close(frame) = m {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// Run a subscription over graphql-transport-ws; returns a channel of its `next` payloads.
async fn subscribe(
    port: u16,
    token: &str,
    query: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let mut ws = connect_ws(port, token).await;
    let ack = ws.next().await.expect("ack").expect("ack");
    assert!(
        ack.to_text().expect("text").contains("connection_ack"),
        "{ack}"
    );
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {"query": query}}).to_string(),
    ))
    .await
    .expect("subscribe");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // Dropping the receiver closes the connection (with a close frame).
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => {
                    let _ = ws.close(None).await;
                    break;
                }
                message = ws.next() => {
                    let Some(Ok(message)) = message else { break };
                    if let Ok(v) = serde_json::from_str::<Value>(message.to_text().unwrap_or(""))
                        && v["type"] == "next"
                    {
                        let _ = tx.send(v["payload"].clone());
                    }
                }
            }
        }
    });
    rx
}

async fn stories(db: TestDatabase) {
    simulate(&db);
    let url = db.url();
    let staff = people(url, "town_office_staff", CHENGTAN).await;
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let auditors = people(url, "auditor", "330600000000").await;
    assert!(secretaries.len() >= 2, "two villages' secretaries");
    // 澄潭街道's rules as the simulated town set them, with 五议两公开 as its full
    // procedure (a simulated town may have chosen 四议两公开).
    let mut rules = {
        use xingcun_store::EventLog;
        let store = Store::open_existing(url, Arc::new(SystemClock))
            .await
            .expect("store");
        let events = store
            .read_category("procedure_rules", 0, 1_000)
            .await
            .expect("read");
        events
            .iter()
            .rev()
            .find(|e| e.event_type == "ProcedureRulesSet" && e.payload["town"] == CHENGTAN)
            .expect("澄潭街道 set its rules")
            .payload["rules"]
            .clone()
    };
    rules["full_template"] = json!("wuyi-liang-gongkai");
    // The server runs on a clock the test moves forward: 公示 lasts days.
    let clock = TestClock::new();
    let server = start_with(url, &[clock.env()]);
    let port = server.port;
    let client = |person: &str| Client {
        port,
        token: Some(token(url, person)),
    };
    let admin = client("system");
    // Village A is 棠村, the village of the record's 揭榜 story.
    let regions = admin.ok(
        "query($t: String!) { regions(parent: $t) { code name } }",
        json!({ "t": CHENGTAN }),
    );
    let tangcun = regions["regions"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "棠村"))
        .and_then(|r| r["code"].as_str())
        .expect("棠村 in 澄潭街道")
        .to_owned();
    let mut secretaries = secretaries;
    secretaries.sort_by_key(|s| s.scope != tangcun);
    assert_eq!(secretaries[0].scope, tangcun, "棠村 has a secretary");
    let (village_a, village_b) = (secretaries[0].scope.clone(), secretaries[1].scope.clone());
    let office = client(&staff[0].person);
    let a = client(&secretaries[0].person);
    let b = client(&secretaries[1].person);
    let auditor = client(&auditors[0].person);

    // A listed village duty in a duty area a leader reviews, from the 事项清单.
    let list = office.ok(
        "{ catalogue { version items { code category level kind effectiveTo } } }",
        json!({}),
    );
    assert!(
        list["catalogue"]["version"].as_i64().unwrap_or(0) > 0,
        "{list}"
    );
    let (leader, item) = leaders
        .iter()
        .find_map(|l| {
            let xingcun_domain::Role::TownLeader { duty_areas } = &l.role else {
                return None;
            };
            list["catalogue"]["items"]
                .as_array()?
                .iter()
                .find(|i| {
                    i["kind"] == "duty"
                        && i["level"] == "village"
                        && i["effectiveTo"].is_null()
                        && duty_areas.iter().any(|d| i["category"] == d.as_str())
                })
                .map(|i| {
                    (
                        l.clone(),
                        (
                            i["code"].as_str().unwrap_or_default().to_owned(),
                            i["category"].as_str().unwrap_or_default().to_owned(),
                        ),
                    )
                })
        })
        .expect("a leader with a listed duty in their area");
    let leader = client(&leader.person);
    // Only administrators change the list.
    assert_eq!(
        a.code(
            "mutation { addMatter(catalogue: \"330600000000\", item: {code: \"ZZ-9\", name: \"某事项\", category: \"民政\", level: VILLAGE, kind: DUTY, effectiveFrom: \"2026-01-01T00:00:00Z\"}) { position } }",
            json!({})
        ),
        "FORBIDDEN"
    );
    // Another town, another county, one village, its secretary: the scope boundary.
    let other_town = "330681001000";
    let other_village = "330681001201";
    admin.ok(
        "mutation($c: String!) { registerRegion(code: $c, name: \"浣东街道\") { position } }",
        json!({ "c": other_town }),
    );
    admin.ok(
        "mutation($c: String!) { registerVillage(code: $c, name: \"陶朱村\") { position } }",
        json!({ "c": other_village }),
    );
    let appointed = admin.ok(
        "mutation($s: String!) { appointCadre(person: \"e2e-outsider\", name: \"外村书记\", role: VILLAGE_SECRETARY, scope: $s) { position } }",
        json!({ "s": other_village }),
    );
    let _ = appointed;
    let outsider = Client {
        port,
        token: Some({
            // The token command reads the directory: wait until it knows the appointment.
            let started = Instant::now();
            loop {
                let out = xingcun(&[
                    "--database-url",
                    url,
                    "token",
                    "create",
                    "--person",
                    "e2e-outsider",
                ]);
                if out.status.success() {
                    break String::from_utf8_lossy(&out.stdout).trim().to_owned();
                }
                assert!(started.elapsed() < Duration::from_secs(20));
                std::thread::sleep(Duration::from_millis(100));
            }
        }),
    };
    let board = "query($v: String!) { villageBoard(village: $v, first: 200) { task status title pointsHundredths } }";
    assert_eq!(outsider.code(board, json!({ "v": village_a })), "FORBIDDEN");
    assert_eq!(a.code(board, json!({ "v": village_b })), "FORBIDDEN");
    assert_eq!(
        outsider.code(
            "query($t: String!) { townDashboard(town: $t) { town } }",
            json!({ "t": CHENGTAN })
        ),
        "FORBIDDEN"
    );
    outsider.ok(board, json!({ "v": other_village }));

    // A task with an unlisted code is refused by screening, and counted.
    let month = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .format("%Y-%m")
        .to_string();
    let stats = "query($s: String!, $m: String!) { screeningStatistics(scope: $s, fromMonth: $m, toMonth: $m) { rejectedTotal } }";
    let before = office.ok(stats, json!({ "s": CHENGTAN, "m": month }))["screeningStatistics"]
        ["rejectedTotal"]
        .as_i64()
        .expect("count");
    let deadline = (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    let draft = "mutation($t: String!, $i: DraftTaskInput!) { draftTask(town: $t, input: $i) { id position } }";
    let unlisted = json!({ "t": CHENGTAN, "i": {
        "title": "上报各类台账", "content": "各村上报台账", "source": "TOWN", "category": item.1,
        "matterCode": "ZZ-NOT-LISTED", "score": 10, "villages": [village_a, village_b], "deadline": deadline } });
    assert_eq!(office.code(draft, unlisted), "SCREENING_REJECTED");
    office.until(stats, json!({ "s": CHENGTAN, "m": month }), |d| {
        d["screeningStatistics"]["rejectedTotal"].as_i64() == Some(before + 1)
    });

    // A listed task: drafted, approved, dispatched, reaching both villages.
    let listed = json!({ "t": CHENGTAN, "i": {
        "title": "端到端测试任务", "content": "按清单办理", "source": "TOWN", "category": item.1,
        "matterCode": item.0, "score": 10, "villages": [village_a, village_b], "deadline": deadline } });
    let task = office.ok(draft, listed)["draftTask"]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    leader.ok(
        "mutation($t: String!) { approveTask(task: $t) { position } }",
        json!({ "t": task }),
    );
    // The village secretary listens to their board before the dispatch.
    let mut changes = subscribe(
        port,
        a.token.as_deref().expect("token"),
        &format!(
            "subscription {{ villageBoardChanged(village: \"{village_a}\") {{ task status }} }}"
        ),
    )
    .await;
    leader.ok(
        "mutation($t: String!) { dispatchTask(task: $t) { position } }",
        json!({ "t": task }),
    );
    let on_board = |v: &Value, status: &str| {
        v["villageBoard"].as_array().is_some_and(|rows| {
            rows.iter()
                .any(|r| r["task"] == task.as_str() && r["status"] == status)
        })
    };
    a.until(board, json!({ "v": village_a }), |d| on_board(d, "issued"));
    b.until(board, json!({ "v": village_b }), |d| on_board(d, "issued"));
    let pushed = tokio::time::timeout(Duration::from_secs(10), changes.recv())
        .await
        .expect("a board change pushed")
        .expect("payload");
    assert_eq!(
        pushed["data"]["villageBoardChanged"][0]["task"], task,
        "{pushed}"
    );

    // The other village cannot act on this one's work; this one signs, reports, submits.
    let sign =
        "mutation($t: String!, $v: String!) { signAssignment(task: $t, village: $v) { position } }";
    assert_eq!(
        b.code(sign, json!({ "t": task, "v": village_a })),
        "FORBIDDEN"
    );
    let signed = a.ok(sign, json!({ "t": task, "v": village_a }))["signAssignment"]["position"]
        .as_i64()
        .expect("position");
    // Read your writes: the board has the signature at once.
    let read = a.ok(
        "query($v: String!, $p: Int) { villageBoard(village: $v, minPosition: $p) { task status } }",
        json!({ "v": village_a, "p": signed }),
    );
    assert!(
        on_board(&read, "signed") || on_board(&read, "in_progress"),
        "{read}"
    );
    let pushed = tokio::time::timeout(Duration::from_secs(10), changes.recv())
        .await
        .expect("the signature pushed")
        .expect("payload");
    assert_eq!(pushed["data"]["villageBoardChanged"][0]["task"], task);
    a.ok(
        "mutation($t: String!, $v: String!) { reportProgress(task: $t, village: $v, percent: 50, note: \"过半\") { position } }",
        json!({ "t": task, "v": village_a }),
    );
    a.ok(
        "mutation($t: String!, $v: String!, $e: String!) { submitWork(task: $t, village: $v, summary: \"已完成\", evidence: [{sha256: $e, name: \"照片.jpg\"}]) { position } }",
        json!({ "t": task, "v": village_a, "e": EVIDENCE }),
    );
    // Auditors read, never write.
    assert_eq!(
        auditor.code(
            "mutation($t: String!, $v: String!) { acceptWork(task: $t, village: $v) { position } }",
            json!({ "t": task, "v": village_a })
        ),
        "FORBIDDEN"
    );
    let accepted = office.ok(
        "mutation($t: String!, $v: String!) { acceptWork(task: $t, village: $v) { position } }",
        json!({ "t": task, "v": village_a }),
    )["acceptWork"]["position"]
        .as_i64()
        .expect("position");
    let read = a.ok(
        "query($v: String!, $p: Int) { villageBoard(village: $v, minPosition: $p, first: 200) { task status pointsHundredths } }",
        json!({ "v": village_a, "p": accepted }),
    );
    let row = read["villageBoard"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["task"] == task.as_str()))
        .expect("row")
        .clone();
    assert_eq!(row["status"], "accepted", "{row}");
    assert!(row["pointsHundredths"].as_i64().unwrap_or(0) > 0, "{row}");

    // The town's board (兴村治社榜) this month moves with the praise, live.
    let mut ranks = subscribe(
        port,
        a.token.as_deref().expect("token"),
        &format!("subscription {{ leaderboardChanged(board: VILLAGES, scope: \"{CHENGTAN}\", period: \"{month}\") {{ rank subject points {{ praise total }} }} }}"),
    )
    .await;
    // The leader withdraws the task: village B's work is withdrawn (through the fan-out),
    // village A's accepted work stands.
    leader.ok(
        "mutation($t: String!) { withdrawTask(task: $t, reason: \"任务调整\") { position } }",
        json!({ "t": task }),
    );
    b.until(board, json!({ "v": village_b }), |d| {
        on_board(d, "withdrawn")
    });
    let read = a.ok(board, json!({ "v": village_a }));
    assert!(on_board(&read, "accepted"), "{read}");
    // A re-sent command (same commandId) appends nothing.
    let praise = "mutation($v: String!) { givePraise(village: $v, points: 3, reason: \"按时完成\", commandId: \"7d2f58c2-0c0a-4f57-9c8d-7a1e2b3c4d5e\") { positions duplicate } }";
    let first = leader.ok(praise, json!({ "v": village_a }));
    let again = leader.ok(praise, json!({ "v": village_a }));
    assert_eq!(
        first["givePraise"]["positions"],
        again["givePraise"]["positions"]
    );
    assert_eq!(again["givePraise"]["duplicate"], true);
    let praised = first["givePraise"]["positions"][0]
        .as_i64()
        .expect("position");
    let standing = a.ok(
        "query($s: String!, $m: String!, $p: Int) { leaderboard(board: VILLAGES, scope: $s, period: $m, minPosition: $p) { rank subject points { praise total } } }",
        json!({ "s": CHENGTAN, "m": month, "p": praised }),
    );
    let row = standing["leaderboard"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["subject"] == village_a.as_str()))
        .unwrap_or_else(|| panic!("{village_a} on the board: {standing}"))
        .clone();
    assert_eq!(
        row["points"]["praise"], 300,
        "3 points in hundredths: {row}"
    );
    let pushed = tokio::time::timeout(Duration::from_secs(10), ranks.recv())
        .await
        .expect("a rank change pushed")
        .expect("payload");
    assert!(
        pushed["data"]["leaderboardChanged"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["subject"] == village_a.as_str())),
        "{pushed}"
    );
    // A new 领雁指数 definition re-ranks history at once.
    let index = "query($s: String!) { leaderboard(board: VILLAGES, scope: $s, period: \"2024\", measure: INDEX) { subject index { definitionVersion value } } }";
    let before = a.ok(index, json!({ "s": CHENGTAN }));
    assert!(
        before["leaderboard"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
            && before["leaderboard"][0]["index"]["definitionVersion"] == 0,
        "{before}"
    );
    let weights = json!([
        {"key": "leadership", "name": "领导能力", "weight": 5},
        {"key": "governance", "name": "治理能力", "weight": 1},
        {"key": "public_reputation", "name": "群众口碑", "weight": 1},
        {"key": "development", "name": "发展实绩", "weight": 1},
        {"key": "responsibility", "name": "担当作为", "weight": 1},
        {"key": "integrity", "name": "廉洁自律", "weight": 1}
    ]);
    let publish = "mutation($d: [DimensionInput!]!) { publishIndexDefinition(scope: \"330600000000\", dimensions: $d) { position } }";
    assert_eq!(a.code(publish, json!({ "d": weights })), "FORBIDDEN");
    let published =
        admin.ok(publish, json!({ "d": weights }))["publishIndexDefinition"]["position"]
            .as_i64()
            .expect("position");
    let after = a.ok(
        "query($s: String!, $p: Int) { leaderboard(board: VILLAGES, scope: $s, period: \"2024\", measure: INDEX, minPosition: $p) { subject index { definitionVersion value } } }",
        json!({ "s": CHENGTAN, "p": published }),
    );
    assert_eq!(
        after["leaderboard"][0]["index"]["definitionVersion"], 1,
        "{after}"
    );
    // A village secretary sees the boards above them, not another county's.
    assert_eq!(
        a.code(
            "query($m: String!) { leaderboard(board: CADRES, scope: \"330681000000\", period: $m) { rank } }",
            json!({ "m": month })
        ),
        "FORBIDDEN"
    );

    admin.ok(
        "mutation($t: String!, $r: JSON!) { setProcedureRules(town: $t, rules: $r) { position } }",
        json!({ "t": CHENGTAN, "r": rules }),
    );
    // 五议两公开, all seven steps, for 100万 yuan (数额巨大: the full procedure). A step out of
    // order is refused and nothing is recorded; a meeting without its minutes is returned,
    // and the return is on the record; both are then done right.
    let started = a.ok(
        "mutation($v: String!) { startProcedure(village: $v, title: \"村道硬化及路灯改造\", amountFen: 100000000) { id } }",
        json!({ "v": village_a }),
    );
    let procedure = started["startProcedure"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let file = |kind: &str, name: &str| json!({ "kind": kind, "file": { "sha256": format!("{:064x}", name.len() * 7919 + kind.len()), "name": name } });
    let minutes = || file("MINUTES", "会议记录.pdf");
    let sign_in = || file("SIGN_IN_SHEET", "签到表.jpg");
    let at = |hours_ago: i64| (clock.now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
    let meeting = |step: i32, body: &str, held: String, evidence: Value, extra: Value| {
        let mut m = json!({
            "stepNo": step, "body": body, "heldAt": held,
            "expected": 9, "present": 9, "votesFor": 9, "votesAgainst": 0, "votesAbstain": 0,
            "evidence": evidence });
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        json!({ "p": procedure, "m": m })
    };
    let record = "mutation($p: String!, $m: MeetingInput!) { recordMeeting(procedure: $p, meeting: $m) { position } }";
    let suggestions = "mutation($p: String!, $at: String!, $e: [StepEvidenceInput!]!) { recordSuggestions(procedure: $p, stepNo: 1, collectedAt: $at, summary: \"共收集党员群众建议12条\", evidence: $e) { position } }";
    let publicity = "mutation($p: String!, $n: Int!, $at: String!, $e: [StepEvidenceInput!]!) { postPublicity(procedure: $p, stepNo: $n, postedAt: $at, evidence: $e) { position } }";
    // Step 5 before step 1: refused, nothing recorded.
    assert_eq!(
        a.code(
            record,
            meeting(5, "VILLAGER_REPRESENTATIVES", at(1), json!([]), json!({}))
        ),
        "RULE_VIOLATION"
    );
    // 1. 党员群众建议.
    a.ok(
        suggestions,
        json!({ "p": procedure, "at": at(6), "e": [file("SUGGESTION_RECORD", "征求意见记录.pdf")] }),
    );
    // 2. 村党组织提议, first without its minutes: returned, with the missing file named.
    let returned = a.call(
        record,
        meeting(2, "COMMITTEE", at(5), json!([sign_in()]), json!({})),
    );
    assert_eq!(
        returned["errors"][0]["extensions"]["code"], "STEP_RETURNED",
        "{returned}"
    );
    assert!(
        returned["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("会议记录")),
        "{returned}"
    );
    a.ok(
        record,
        meeting(
            2,
            "COMMITTEE",
            at(5),
            json!([minutes(), sign_in()]),
            json!({}),
        ),
    );
    // 3. 村务联席会议商议; the proposal then goes to the party members.
    a.ok(
        record,
        meeting(
            3,
            "COMMITTEE",
            at(4),
            json!([minutes(), sign_in()]),
            json!({}),
        ),
    );
    let proposal_sent = at(3);
    // 4. 党员大会, five days later (the proposal at least three days before): 2/3 present,
    // more than half of all members for.
    clock.advance(chrono::Duration::days(5));
    a.ok(
        record,
        meeting(
            4,
            "PARTY_MEMBERS",
            at(3),
            json!([minutes(), sign_in()]),
            json!({ "proposalSentAt": proposal_sent, "expected": 30, "present": 24, "votesFor": 20, "votesAgainst": 2, "votesAbstain": 2 }),
        ),
    );
    // 5. 村民代表会议决议, with a photo of the meeting.
    a.ok(
        record,
        meeting(
            5,
            "VILLAGER_REPRESENTATIVES",
            at(2),
            json!([minutes(), sign_in(), file("PHOTO", "会议现场照片.jpg")]),
            json!({ "expected": 45, "present": 40, "votesFor": 36, "votesAgainst": 2, "votesAbstain": 2 }),
        ),
    );
    // 6. 决议公开 (7 days), 7. 实施结果公开 after it, then closed once that one has ended.
    let notice = || json!([file("NOTICE_PHOTO", "公示照片.jpg")]);
    a.ok(
        publicity,
        json!({ "p": procedure, "n": 6, "at": at(1), "e": notice() }),
    );
    assert_eq!(
        a.code(
            publicity,
            json!({ "p": procedure, "n": 7, "at": at(0), "e": notice() })
        ),
        "RULE_VIOLATION",
        "the results cannot be posted while the resolution's notice is still up"
    );
    clock.advance(chrono::Duration::days(9));
    a.ok(
        publicity,
        json!({ "p": procedure, "n": 7, "at": at(1), "e": notice() }),
    );
    clock.advance(chrono::Duration::days(9));
    let done = a.ok(
        "mutation($p: String!) { completeProcedure(procedure: $p) { position } }",
        json!({ "p": procedure }),
    )["completeProcedure"]["position"]
        .as_i64()
        .expect("position");
    let register = a.ok(
        "query($v: String!, $p: Int) { procedureRegister(village: $v, minPosition: $p) { procedure templateName status steps { stepNo } returns { stepNo missing } } }",
        json!({ "v": village_a, "p": done }),
    );
    let entry = register["procedureRegister"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["procedure"] == procedure.as_str()))
        .expect("the procedure in the register")
        .clone();
    assert_eq!(entry["steps"].as_array().map(Vec::len), Some(7), "{entry}");
    assert_eq!(entry["status"], "completed", "{entry}");
    assert!(
        entry["templateName"]
            .as_str()
            .is_some_and(|t| t.contains("五议两公开")),
        "{entry}"
    );
    assert_eq!(
        entry["returns"][0]["stepNo"], 2,
        "the return of step 2 stays on the record: {entry}"
    );

    // 揭榜: 澄潭街道 posts 建设儿童照护驿站; both villages bid, 棠村 wins.
    let listing = office.ok(
        "mutation($t: String!, $d: String!) { postListing(town: $t, project: \"建设儿童照护驿站\", description: \"在村内建设儿童照护驿站\", criteria: [{name: \"场地条件\", weight: 60}, {name: \"运营方案\", weight: 40}], bidDeadline: $d) { id } }",
        json!({ "t": CHENGTAN, "d": (clock.now() + chrono::Duration::days(3)).to_rfc3339() }),
    )["postListing"]["id"]
        .as_str()
        .expect("listing")
        .to_owned();
    let bid = "mutation($l: String!, $v: String!) { submitBid(listing: $l, village: $v, statement: \"本村场地充足\", attachments: []) { position } }";
    a.ok(bid, json!({ "l": listing, "v": village_a }));
    let last = b.ok(bid, json!({ "l": listing, "v": village_b }))["submitBid"]["position"]
        .as_i64()
        .expect("position");
    assert_eq!(
        outsider.code(bid, json!({ "l": listing, "v": village_a })),
        "FORBIDDEN"
    );
    let detail = office.ok(
        "query($l: String!, $p: Int) { listing(id: $l, minPosition: $p) { listing { project stage } bids { village status } } }",
        json!({ "l": listing, "p": last }),
    );
    assert_eq!(
        detail["listing"]["bids"].as_array().map(Vec::len),
        Some(2),
        "{detail}"
    );
    // 比选会 after the deadline: 棠村 scores higher; the winner is announced (公示), then
    // awarded once the notice period has ended.
    let comparison = "mutation($l: String!, $at: String!, $s: [BidScoresInput!]!) { recordComparison(listing: $l, heldAt: $at, panel: [\"张评委\", \"李评委\"], scores: $s, evidence: [{sha256: \"aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11\", name: \"评审记录.pdf\"}]) { position } }";
    let scores = json!([
        { "village": village_a, "sheets": [{ "member": "张评委", "scores": [92, 88] }, { "member": "李评委", "scores": [90, 85] }] },
        { "village": village_b, "sheets": [{ "member": "张评委", "scores": [80, 82] }, { "member": "李评委", "scores": [78, 80] }] },
    ]);
    assert_eq!(
        office.code(
            comparison,
            json!({ "l": listing, "at": at(0), "s": scores })
        ),
        "RULE_VIOLATION",
        "no comparison before the bid deadline"
    );
    clock.advance(chrono::Duration::days(4));
    let compared = office.ok(
        comparison,
        json!({ "l": listing, "at": at(1), "s": scores }),
    )["recordComparison"]["position"]
        .as_i64()
        .expect("position");
    let award = "mutation($l: String!) { awardListing(listing: $l) { position } }";
    assert_eq!(
        office.code(award, json!({ "l": listing })),
        "RULE_VIOLATION",
        "no award during the 公示"
    );
    let notice = office.ok(
        "query($l: String!, $p: Int) { listing(id: $l, minPosition: $p) { listing { noticeEndsAt } } }",
        json!({ "l": listing, "p": compared }),
    );
    let ends = notice["listing"]["listing"]["noticeEndsAt"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("the 公示 ends at a time")
        .with_timezone(&chrono::Utc);
    clock.advance(ends - clock.now() + chrono::Duration::hours(1));
    let awarded = office.ok(award, json!({ "l": listing }))["awardListing"]["position"]
        .as_i64()
        .expect("position");
    let detail = office.ok(
        "query($l: String!, $p: Int) { listing(id: $l, minPosition: $p) { listing { stage winner awardedAt } } }",
        json!({ "l": listing, "p": awarded }),
    );
    assert_eq!(
        detail["listing"]["listing"]["winner"],
        tangcun.as_str(),
        "{detail}"
    );
    assert!(
        detail["listing"]["listing"]["awardedAt"].is_string(),
        "{detail}"
    );

    // The auditor replays village A: its trail in log order with hashes, and as of a
    // past position.
    let trail = auditor.ok(
        "query($v: String!) { auditTrail(region: $v, first: 5) { edges { cursor node { position eventType hash prevHash payload } } pageInfo { hasNextPage } } }",
        json!({ "v": village_a }),
    );
    let edges = trail["auditTrail"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert_eq!(edges.len(), 5);
    assert_eq!(trail["auditTrail"]["pageInfo"]["hasNextPage"], true);
    let positions: Vec<i64> = edges
        .iter()
        .map(|e| e["node"]["position"].as_i64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(
        edges.iter().all(|e| e["node"]["payload"].is_object()),
        "each event with its content: {trail}"
    );
    let past = auditor.ok(
        "query($v: String!, $p: Int!) { villageAsOf(village: $v, position: $p) { position tasks { task status } } }",
        json!({ "v": village_a, "p": signed - 1 }),
    );
    let tasks = past["villageAsOf"]["tasks"].as_array().expect("tasks");
    assert!(
        tasks
            .iter()
            .any(|t| t["task"] == task.as_str() && t["status"] != "accepted"),
        "as of before the signature, the task is not accepted: {past}"
    );
    assert_eq!(
        auditor.code(board, json!({ "v": "330624004" })),
        "INVALID_INPUT"
    );
}

#[tokio::test]
async fn the_seed_stories_on_sqlite() {
    stories(fresh_sqlite()).await;
}

#[tokio::test]
async fn the_seed_stories_on_postgres() {
    let Some(db) = fresh_postgres().await else {
        return;
    };
    stories(db).await;
}

#[test]
fn schema_graphql_is_what_the_server_serves() {
    let out = xingcun(&["schema"]);
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    let kept = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql");
    assert!(
        printed == kept,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn legacy_subscriptions_work_and_shutdown_closes_with_1001() {
    let db = fresh_sqlite();
    simulate(&db);
    let secretary = people(db.url(), "village_secretary", CHENGTAN).await;
    let token = token(db.url(), &secretary[0].person);
    let mut server = start(db.url());
    let port = server.port;
    // subscriptions-transport-ws (Sec-WebSocket-Protocol: graphql-ws): init, start, data.
    let mut request = format!("ws://127.0.0.1:{port}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-ws".parse().expect("header"),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-ws")
    );
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}})
            .to_string(),
    ))
    .await
    .expect("init");
    let ack = ws.next().await.expect("ack").expect("ack");
    assert!(
        ack.to_text().expect("text").contains("connection_ack"),
        "{ack}"
    );
    ws.send(Message::text(
        json!({"id": "1", "type": "start", "payload": {"query": format!("subscription {{ events(region: \"{}\", after: 0) {{ position eventType }} }}", secretary[0].scope)}})
            .to_string(),
    ))
    .await
    .expect("start");
    // From position 0: the village's history replays first.
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = ws.next().await.expect("message").expect("message");
            let v: Value = serde_json::from_str(m.to_text().unwrap_or("{}")).unwrap_or_default();
            if v["type"] == "data" {
                return v;
            }
        }
    })
    .await
    .expect("data");
    assert!(
        first["payload"]["data"]["events"]["position"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "{first}"
    );
    // SIGTERM: the server closes the connection with 1001 and exits 0.
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("close frame");
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn hostile_input_is_refused_and_changes_nothing() {
    let db = fresh_sqlite();
    simulate(&db);
    let secretary = people(db.url(), "village_secretary", CHENGTAN).await;
    let token = token(db.url(), &secretary[0].person);
    let server = start(db.url());
    let port = server.port;
    let client = Client {
        port,
        token: Some(token.clone()),
    };
    let head = || {
        let out = xingcun(&["--database-url", db.url(), "verify"]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = head();
    let auth = format!("Bearer {token}");
    let village = secretary[0].scope.as_str();
    let huge = "村".repeat(200_000);
    let hostile = [
        json!({ "t": "00000000-0000-0000-0000-000000000000", "v": village, "p": 50, "n": huge }),
        json!({ "t": "'; drop table events; --", "v": village, "p": 50, "n": "x" }),
        json!({ "t": "00000000-0000-0000-0000-000000000000", "v": "330624004202\u{0}", "p": 50, "n": "x" }),
        json!({ "t": "00000000-0000-0000-0000-000000000000", "v": village, "p": 2147483647, "n": "\u{0}" }),
        json!({ "t": "00000000-0000-0000-0000-000000000000", "v": village, "p": -1, "n": "x" }),
    ];
    for variables in hostile {
        let v = client.call(
            "mutation($t: String!, $v: String!, $p: Int!, $n: String!) { reportProgress(task: $t, village: $v, percent: $p, note: $n) { position } }",
            variables,
        );
        let code = v["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
        assert!(
            matches!(
                code,
                "INVALID_INPUT" | "NOT_FOUND" | "FORBIDDEN" | "GRAPHQL_VALIDATION_FAILED"
            ),
            "{v}"
        );
        let text = v.to_string();
        assert!(
            !text.contains("sqlx") && !text.contains("/src/") && !text.contains("SQL"),
            "{text}"
        );
    }
    // Raw bodies: malformed JSON, invalid UTF-8, deep nesting, a body over the limit.
    let deep = format!(
        "{{\"query\":\"{}\"}}",
        "{ me ".repeat(500) + &"}".repeat(500)
    );
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"query\": ".to_vec(),
        vec![b'{', 0xff, 0xfe, b'}'],
        deep.into_bytes(),
        format!("{{\"query\":\"{}\"}}", "a".repeat(2 * 1024 * 1024)).into_bytes(),
        b"[1,2,3]".to_vec(),
    ];
    for body in bodies {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("head");
        let _ = stream.write_all(&body);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        let status: u16 = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            (200..500).contains(&status) && status != 0,
            "answered, not crashed: {answer}"
        );
        if status == 200 {
            assert!(answer.contains("\"errors\""), "{answer}");
        }
    }
    // Still up, and the log unchanged.
    client.ok("{ me { name } }", json!({}));
    assert_eq!(head(), before);
}

#[tokio::test]
async fn an_edit_behind_the_stores_back_shows_in_the_auditors_chain() {
    let db = fresh_sqlite();
    simulate(&db);
    let auditors = people(db.url(), "auditor", "330600000000").await;
    let token = token(db.url(), &auditors[0].person);
    // A superuser drops the append-only trigger and rewrites one event's payload.
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(db.url())
            .await
            .expect("open");
        sqlx::query("drop trigger events_no_update")
            .execute(&mut conn)
            .await
            .expect("drop trigger");
        sqlx::query("update events set payload = replace(payload, '棠村', '糖村') where position = (select min(position) from events where payload like '%棠村%')")
            .execute(&mut conn)
            .await
            .expect("edit");
    }
    let server = start(db.url());
    let auditor = Client {
        port: server.port,
        token: Some(token),
    };
    let chain = auditor.ok("{ verifyChain { intact brokenAt problem } }", json!({}));
    assert_eq!(chain["verifyChain"]["intact"], false, "{chain}");
    assert!(
        chain["verifyChain"]["brokenAt"].as_i64().unwrap_or(0) > 0,
        "{chain}"
    );
}

async fn head_of(url: &str) -> u64 {
    use xingcun_store::EventLog;
    Store::open_existing(url, Arc::new(SystemClock))
        .await
        .expect("store")
        .head_position()
        .await
        .expect("head")
}

/// Set the fan-out's checkpoint (the server stopped), as a crash before it moved would.
async fn rewind_fanout(db: &TestDatabase, to: i64) {
    use sqlx::Connection;
    let read = xingcun_projections::sql::read_file_beside(db.sqlite_path().expect("path"));
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", read.display()))
        .await
        .expect("read db");
    sqlx::query("update fanout_checkpoint set position = ?")
        .bind(to)
        .execute(&mut conn)
        .await
        .expect("rewind");
}

#[tokio::test]
async fn the_fan_out_completes_after_a_crash_and_never_doubles() {
    let db = fresh_sqlite();
    simulate(&db);
    let url = db.url();
    let staff = people(url, "town_office_staff", CHENGTAN).await;
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    // Over a simulated history (which fanned out itself) the fan-out appends nothing.
    let simulated = head_of(url).await;
    let mut server = start(url);
    let port = server.port;
    let office = Client {
        port,
        token: Some(token(url, &staff[0].person)),
    };
    let list = office.ok(
        "{ catalogue { items { code category level kind effectiveTo } } }",
        json!({}),
    );
    let (leader, code, category) = leaders
        .iter()
        .find_map(|l| {
            let xingcun_domain::Role::TownLeader { duty_areas } = &l.role else {
                return None;
            };
            list["catalogue"]["items"].as_array()?.iter().find_map(|i| {
                (i["kind"] == "duty"
                    && i["level"] == "village"
                    && i["effectiveTo"].is_null()
                    && duty_areas.iter().any(|d| i["category"] == d.as_str()))
                .then(|| {
                    (
                        l.person.clone(),
                        i["code"].as_str().unwrap_or_default().to_owned(),
                        i["category"].as_str().unwrap_or_default().to_owned(),
                    )
                })
            })
        })
        .expect("a listed duty");
    let leader = Client {
        port,
        token: Some(token(url, &leader)),
    };
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        head_of(url).await,
        simulated,
        "the fan-out re-did simulated work"
    );

    // A dispatch to every village of the town, then SIGKILL as soon as it is acknowledged.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    let task = office.ok(
        "mutation($t: String!, $i: DraftTaskInput!) { draftTask(town: $t, input: $i) { id } }",
        json!({ "t": CHENGTAN, "i": { "title": "宕机测试任务", "content": "测试", "source": "TOWN",
            "category": category, "matterCode": code, "score": 5, "deadline": deadline } }),
    )["draftTask"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    leader.ok(
        "mutation($t: String!) { approveTask(task: $t) { position } }",
        json!({ "t": task }),
    );
    let dispatched = leader.ok(
        "mutation($t: String!) { dispatchTask(task: $t) { position } }",
        json!({ "t": task }),
    )["dispatchTask"]["position"]
        .as_i64()
        .expect("position");
    let _ = server.child.kill();
    let _ = server.child.wait();
    // Whatever the fan-out had done, it starts again from before the dispatch.
    rewind_fanout(&db, dispatched - 1).await;
    let server = start(url);
    let secretary = Client {
        port: server.port,
        token: Some(token(url, &secretaries[0].person)),
    };
    secretary.until(
        "query($v: String!) { villageBoard(village: $v, first: 200) { task } }",
        json!({ "v": secretaries[0].scope }),
        |d| {
            d["villageBoard"]
                .as_array()
                .is_some_and(|rows| rows.iter().any(|r| r["task"] == task.as_str()))
        },
    );
    drop(server);
    // Every village has exactly one assignment and one ledger entry for the task.
    let store = Store::open_existing(url, Arc::new(SystemClock))
        .await
        .expect("store");
    use xingcun_store::EventLog;
    let events = store
        .read_all(dispatched as u64, 10_000)
        .await
        .expect("read");
    let issued = events
        .iter()
        .filter(|e| e.event_type == "AssignmentIssued" && e.stream_id.contains(&task))
        .count();
    let registered = events
        .iter()
        .filter(|e| e.event_type == "TaskReceived" && e.payload.to_string().contains(&task))
        .count();
    assert_eq!(issued, 4, "one assignment per village of the town");
    assert_eq!(registered, 4, "one ledger entry per village");
}

#[tokio::test]
async fn procedure_rules_below_the_statutory_floor_are_refused() {
    let db = fresh_sqlite();
    simulate(&db);
    let store = Store::open_existing(db.url(), Arc::new(SystemClock))
        .await
        .expect("store");
    use xingcun_store::EventLog;
    let events = store
        .read_category("procedure_rules", 0, 100)
        .await
        .expect("read");
    let set = events
        .iter()
        .find(|e| e.event_type == "ProcedureRulesSet")
        .expect("the simulated town set its rules");
    let rules = set.payload["rules"].clone();
    drop(store);
    let server = start(db.url());
    let admin = Client {
        port: server.port,
        token: Some(token(db.url(), "system")),
    };
    let mutation =
        "mutation($r: JSON!) { setProcedureRules(town: \"330624004000\", rules: $r) { position } }";
    let mut lighter = rules.clone();
    lighter["timing"]["villagers_meeting_notice_days"] = json!(5);
    let v = admin.call(mutation, json!({ "r": lighter }));
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "RULE_VIOLATION",
        "{v}"
    );
    let v = admin.call(mutation, json!({ "r": { "templates": "nonsense" } }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "INVALID_INPUT", "{v}");
    let mut longer = rules;
    longer["timing"]["villagers_meeting_notice_days"] = json!(12);
    admin.ok(mutation, json!({ "r": longer }));
}

/// How an operation meets a caller from outside its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Names a region: FORBIDDEN to a caller whose scope does not cover it.
    Scoped,
    /// Open to every signed-in person (the 事项清单, read models' status, the caller).
    SignedIn,
    /// Names a thing by id: the caller outside it gets FORBIDDEN or NOT_FOUND.
    ById,
    /// Only some roles (auditors and administrators).
    Role,
}

/// Every query and mutation of the schema with its rule. An operation added to the schema
/// without a rule here fails `the_authorization_matrix`.
const RULES: &[(&str, Rule)] = &[
    ("me", Rule::SignedIn),
    ("region", Rule::Scoped),
    ("regions", Rule::Scoped),
    ("cadres", Rule::Scoped),
    ("catalogue", Rule::SignedIn),
    ("villageBoard", Rule::Scoped),
    ("townDashboard", Rule::Scoped),
    ("screeningStatistics", Rule::Scoped),
    ("taskReductionPercent", Rule::Scoped),
    ("procedureRegister", Rule::Scoped),
    ("compliantProcedures", Rule::Scoped),
    ("listings", Rule::Scoped),
    ("openListings", Rule::Scoped),
    ("listing", Rule::ById),
    ("auditTrail", Rule::Scoped),
    ("villageAsOf", Rule::Scoped),
    ("leaderboard", Rule::Scoped),
    ("verifyChain", Rule::Role),
    ("projectionStatus", Rule::SignedIn),
    ("draftTask", Rule::Scoped),
    ("reviseTask", Rule::ById),
    ("approveTask", Rule::ById),
    ("returnTask", Rule::ById),
    ("recordCollectiveDecision", Rule::ById),
    ("dispatchTask", Rule::ById),
    ("withdrawTask", Rule::ById),
    ("signAssignment", Rule::Scoped),
    ("assignWork", Rule::Scoped),
    ("reportProgress", Rule::Scoped),
    ("submitWork", Rule::Scoped),
    ("acceptWork", Rule::Scoped),
    ("returnWork", Rule::Scoped),
    ("startProcedure", Rule::Scoped),
    ("recordSuggestions", Rule::ById),
    ("recordMeeting", Rule::ById),
    ("postPublicity", Rule::ById),
    ("completeProcedure", Rule::ById),
    ("postListing", Rule::Scoped),
    ("submitBid", Rule::Scoped),
    ("reviseBid", Rule::Scoped),
    ("withdrawBid", Rule::Scoped),
    ("recordComparison", Rule::ById),
    ("awardListing", Rule::ById),
    ("reportMilestone", Rule::ById),
    ("acceptCompletion", Rule::ById),
    ("cancelListing", Rule::ById),
    ("givePraise", Rule::Scoped),
    ("withdrawPraise", Rule::ById),
    ("registerRegion", Rule::Scoped),
    ("registerVillage", Rule::Scoped),
    ("appointCadre", Rule::Scoped),
    ("recordDeparture", Rule::Scoped),
    ("addMatter", Rule::Scoped),
    ("reviseMatter", Rule::Scoped),
    ("retireMatter", Rule::Scoped),
    ("setTimeliness", Rule::Scoped),
    ("setProcedureRules", Rule::Scoped),
    ("publishIndexDefinition", Rule::Scoped),
    ("recordDimensionScores", Rule::Scoped),
];

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

/// A GraphQL type reference's printed form and its innermost named type.
fn type_of(t: &Value) -> (String, String, bool) {
    match t["kind"].as_str() {
        Some("NON_NULL") => {
            let (inner, named, _) = type_of(&t["ofType"]);
            (format!("{inner}!"), named, true)
        }
        Some("LIST") => {
            let (inner, named, _) = type_of(&t["ofType"]);
            (format!("[{inner}]"), named, false)
        }
        _ => {
            let name = t["name"].as_str().unwrap_or_default().to_owned();
            (name.clone(), name, false)
        }
    }
}

/// A value for an argument, by its name (regions outside the caller's town and county,
/// ids that name nothing) and type.
fn value_for(name: &str, t: &Value, types: &Value) -> Value {
    match t["kind"].as_str() {
        Some("NON_NULL") => return value_for(name, &t["ofType"], types),
        Some("LIST") => return json!([value_for(name, &t["ofType"], types)]),
        _ => {}
    }
    let named = t["name"].as_str().unwrap_or_default();
    let ty = types
        .as_array()
        .and_then(|all| all.iter().find(|x| x["name"] == named))
        .cloned()
        .unwrap_or_default();
    match ty["kind"].as_str() {
        Some("ENUM") => return ty["enumValues"][0]["name"].clone(),
        Some("INPUT_OBJECT") => {
            let mut object = serde_json::Map::new();
            for f in ty["inputFields"].as_array().into_iter().flatten() {
                if f["type"]["kind"] == "NON_NULL" {
                    let field = f["name"].as_str().unwrap_or_default();
                    object.insert(field.to_owned(), value_for(field, &f["type"], types));
                }
            }
            return Value::Object(object);
        }
        _ => {}
    }
    match (named, name) {
        ("Int", _) => json!(1),
        ("Float", _) => json!(1.0),
        ("Boolean", _) => json!(true),
        ("JSON", _) => json!({}),
        (_, "village") => json!("330681001201"),
        (_, "town" | "scope" | "region" | "parent" | "code" | "catalogue" | "jurisdiction") => {
            json!("330681001000")
        }
        (_, "task" | "listing" | "procedure" | "praise" | "id" | "commandId") => {
            json!("6a1f6c2e-3d4b-4e5f-8a9b-0c1d2e3f4a5b")
        }
        (_, "period") => json!("2025"),
        (_, "fromMonth" | "toMonth") => json!("2025-01"),
        (_, "from" | "to") => json!("2025-01-01"),
        (_, "sha256") => json!("a".repeat(64)),
        (_, n)
            if n.ends_with("At")
                || n == "deadline"
                || n == "time"
                || n.starts_with("effective") =>
        {
            json!("2025-01-01T00:00:00+08:00")
        }
        _ => json!("x"),
    }
}

#[tokio::test]
async fn the_authorization_matrix() {
    let db = fresh_sqlite();
    simulate(&db);
    let auditor = people(db.url(), "auditor", "330600000000").await;
    let server = start(db.url());
    let port = server.port;
    let anonymous = Client { port, token: None };
    let audit = Client {
        port,
        token: Some(token(db.url(), &auditor[0].person)),
    };
    // One person in post for every role held inside 新昌县 (澄潭街道's county): the
    // arguments below name regions of 诸暨市, outside all of their scopes.
    let mut outsiders = Vec::new();
    for role in [
        "village_secretary",
        "village_cadre",
        "grid_leader",
        "town_office_staff",
        "town_leader",
        "party_committee_secretary",
        "auditor",
        "administrator",
    ] {
        if let Some(p) = people(db.url(), role, "330624000000").await.first() {
            outsiders.push((
                role,
                Client {
                    port,
                    token: Some(token(db.url(), &p.person)),
                },
            ));
        }
    }
    let held: Vec<&str> = outsiders.iter().map(|(r, _)| *r).collect();
    for role in ["village_secretary", "town_office_staff", "town_leader"] {
        assert!(held.contains(&role), "no {role} in 新昌县: {held:?}");
    }
    let schema = anonymous.call(
        &format!(
            "{{ __schema {{ queryType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} }} }} \
             mutationType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} }} }} \
             types {{ name kind enumValues {{ name }} inputFields {{ name type {{ {TYPE_REF} }} }} }} }} }}"
        ),
        json!({}),
    );
    let types = schema["data"]["__schema"]["types"].clone();
    let mut seen = Vec::new();
    for (kind, root) in [("query", "queryType"), ("mutation", "mutationType")] {
        for field in schema["data"]["__schema"][root]["fields"]
            .as_array()
            .expect("fields")
        {
            let name = field["name"].as_str().expect("name");
            seen.push(name.to_owned());
            let rule = RULES
                .iter()
                .find(|(op, _)| *op == name)
                .map(|(_, r)| *r)
                .unwrap_or_else(|| panic!("{name} has no rule in RULES: add one"));
            // Required arguments, and the region-naming ones even when optional.
            let mut params = Vec::new();
            let mut args = Vec::new();
            let mut variables = serde_json::Map::new();
            for arg in field["args"].as_array().into_iter().flatten() {
                let arg_name = arg["name"].as_str().expect("arg");
                let (printed, _, required) = type_of(&arg["type"]);
                if !required && !matches!(arg_name, "scope" | "region") {
                    continue;
                }
                params.push(format!("${arg_name}: {printed}"));
                args.push(format!("{arg_name}: ${arg_name}"));
                variables.insert(
                    arg_name.to_owned(),
                    value_for(arg_name, &arg["type"], &types),
                );
            }
            if name == "registerVillage" {
                variables.insert("code".into(), json!("330681001201"));
            }
            let call = if args.is_empty() {
                name.to_owned()
            } else {
                format!("{name}({})", args.join(", "))
            };
            let op = format!(
                "{kind}{} {{ {call} {{ __typename }} }}",
                if params.is_empty() {
                    String::new()
                } else {
                    format!("({})", params.join(", "))
                }
            );
            // Scalars have no selection.
            let op = if matches!(name, "taskReductionPercent" | "compliantProcedures") {
                op.replace(" { __typename }", "")
            } else {
                op
            };
            let variables = Value::Object(variables);
            let code = |client: &Client| {
                let v = client.call(&op, variables.clone());
                v["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("allowed: {v}"))
            };
            assert_eq!(code(&anonymous), "UNAUTHENTICATED", "{op} anonymous");
            if kind == "mutation" {
                assert_eq!(code(&audit), "FORBIDDEN", "{op} auditor");
            }
            for (role, client) in &outsiders {
                let outside = code(client);
                match rule {
                    Rule::Scoped => {
                        assert_eq!(outside, "FORBIDDEN", "{op} by a {role} outside their scope")
                    }
                    Rule::ById => assert!(
                        matches!(outside.as_str(), "FORBIDDEN" | "NOT_FOUND")
                            || outside.contains("\"listing\":null"),
                        "{op} by a {role} outside: {outside}"
                    ),
                    Rule::Role if matches!(*role, "auditor" | "administrator") => {}
                    Rule::Role => assert_eq!(outside, "FORBIDDEN", "{op} by a {role}"),
                    Rule::SignedIn => {
                        assert!(
                            outside.starts_with("allowed"),
                            "{op} by a {role}: {outside}"
                        )
                    }
                }
            }
        }
    }
    for (op, _) in RULES {
        assert!(
            seen.iter().any(|s| s == op),
            "RULES names {op}, which the schema no longer has"
        );
    }
}

/// The close code of a graphql-transport-ws connection, once the server closes it.
async fn closed_with(port: u16, token: &str, within: Duration) -> Option<u16> {
    close_of(&mut connect_ws(port, token).await, within, |_| {}).await
}

#[tokio::test]
async fn tokens_end_when_revoked_expired_or_their_holder_leaves() {
    let db = fresh_sqlite();
    simulate(&db);
    let url = db.url();
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let clock = TestClock::new();
    let server = start_with(url, &[clock.env()]);
    let port = server.port;
    let me = "{ me { name } }";
    let client = |token: &str| Client {
        port,
        token: Some(token.to_owned()),
    };
    // The status and body of `me` with a token.
    let asked = |token: &str| {
        let (status, _, body) = post_raw(
            port,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &format!("Bearer {token}")),
            ],
            &json!({ "query": "{ me { name } }" }).to_string(),
        );
        (status, body)
    };

    // Revoked: refused on the next request after at most the caller cache's second, and an
    // open subscription is closed with 4401.
    let (revoked, id) = token_with_id(url, &secretaries[0].person, "30");
    let (watching, watching_id) = token_with_id(url, &secretaries[0].person, "30");
    client(&revoked).ok(me, json!({}));
    let socket =
        tokio::spawn(async move { closed_with(port, &watching, Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in [&id, &watching_id] {
        assert!(
            xingcun(&["--database-url", url, "token", "revoke", id])
                .status
                .success()
        );
    }
    let revoked_at = Instant::now();
    while asked(&revoked).0 != 401 {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "a revoked token still works after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(socket.await.expect("socket"), Some(4401));
    let (status, body) = asked(&revoked);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("吊销"), "{body}");

    // Expired: a one-day token is refused once the server's clock has passed its end.
    let (short, _) = token_with_id(url, &secretaries[1].person, "1");
    client(&short).ok(me, json!({}));
    clock.advance(chrono::Duration::days(2));
    let (status, body) = asked(&short);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("过期"), "{body}");

    // 离任: the holder's departure ends the token without touching it.
    let (leaving, _) = token_with_id(url, &secretaries[1].person, "30");
    client(&leaving).ok(me, json!({}));
    let admin = client(&token(url, "system"));
    admin.ok(
        "mutation($j: String!, $p: String!) { recordDeparture(jurisdiction: $j, person: $p, reason: \"换届离任\") { position } }",
        json!({ "j": CHENGTAN, "p": secretaries[1].person }),
    );
    let left_at = Instant::now();
    while asked(&leaving).0 != 401 {
        assert!(
            left_at.elapsed() < Duration::from_secs(10),
            "a departed cadre's token still works after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
