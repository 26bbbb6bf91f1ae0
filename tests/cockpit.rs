//! The web cockpit (驾驶舱) in a real browser: Debian's Chromium, headless, driven by
//! playwright-core (`web/tests/cockpit.mjs`) against a real `xingcun serve` over the
//! simulated village preset (澄潭街道).
//!
//! Skipped, with a note, when Chromium or `web/node_modules` is missing, unless
//! `XINGCUN_REQUIRE_BROWSER=1` (CI), which makes a missing browser a failure. Screenshots
//! of every page are kept in `target/tmp/cockpit-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xingcun_store::testing::fresh_sqlite;

mod server;

use server::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// `data` of a GraphQL call that must succeed.
fn ok(port: u16, token: &str, query: &str, variables: Value) -> Value {
    Client {
        port,
        token: Some(token.to_owned()),
    }
    .ok(query, variables)
}

/// Whether the browser and the test driver are here; `None` with the reason when not.
fn browser_missing(web: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!(
            "{CHROMIUM} not found (apt-get install chromium chromium-driver)"
        ));
    }
    if !web.join("node_modules/playwright-core").exists() {
        return Some("web/node_modules missing (cd web && npm ci)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node not found".into());
    }
    None
}

#[tokio::test]
async fn the_cockpit_in_a_real_browser() {
    let web = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web"));
    if let Some(reason) = browser_missing(&web) {
        if std::env::var("XINGCUN_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("XINGCUN_REQUIRE_BROWSER=1 but {reason}");
        }
        eprintln!("note: skipping the browser test: {reason}");
        return;
    }

    let db = fresh_sqlite();
    simulate(&db);
    let url = db.url();
    let staff = people(url, "town_office_staff", CHENGTAN).await;
    let leaders = people(url, "town_leader", CHENGTAN).await;
    let secretaries = people(url, "village_secretary", CHENGTAN).await;
    let auditors = people(url, "auditor", "330600000000").await;
    assert!(secretaries.len() >= 2, "two villages' secretaries");
    let village = secretaries[0].scope.clone();
    let other_village = secretaries[1].scope.clone();
    let server = start(url);
    let port = server.port;
    let office = token(url, &staff[0].person);
    let secretary = token(url, &secretaries[0].person);
    let auditor = token(url, &auditors[0].person);

    // A new task for both villages, dispatched now, so the board has one to sign and the
    // town's cockpit one to watch: a listed village duty in a leader's duty area.
    let list = ok(
        port,
        &office,
        "{ catalogue { items { code category level kind effectiveTo } } }",
        json!({}),
    );
    let (leader, category, code) = leaders
        .iter()
        .find_map(|l| {
            let xingcun_domain::Role::TownLeader { duty_areas } = &l.role else {
                return None;
            };
            list["catalogue"]["items"].as_array()?.iter().find_map(|i| {
                let fits = i["kind"] == "duty"
                    && i["level"] == "village"
                    && i["effectiveTo"].is_null()
                    && duty_areas.iter().any(|d| i["category"] == d.as_str());
                fits.then(|| {
                    (
                        l.person.clone(),
                        i["category"].as_str().unwrap_or_default().to_owned(),
                        i["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
            })
        })
        .expect("a leader with a listed duty in their area");
    let leader = token(url, &leader);
    let deadline = (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    let task = ok(
        port,
        &office,
        "mutation($t: String!, $i: DraftTaskInput!) { draftTask(town: $t, input: $i) { id } }",
        json!({ "t": CHENGTAN, "i": {
            "title": "浏览器测试任务", "content": "按清单办理", "source": "TOWN", "category": category,
            "matterCode": code, "score": 10, "villages": [village, other_village], "deadline": deadline } }),
    )["draftTask"]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    ok(
        port,
        &leader,
        "mutation($t: String!) { approveTask(task: $t) { position } }",
        json!({ "t": task }),
    );
    ok(
        port,
        &leader,
        "mutation($t: String!) { dispatchTask(task: $t) { position } }",
        json!({ "t": task }),
    );
    let started = Instant::now();
    loop {
        let board = ok(
            port,
            &secretary,
            "query($v: String!) { villageBoard(village: $v, first: 200) { task status } }",
            json!({ "v": village }),
        );
        let issued = board["villageBoard"].as_array().is_some_and(|rows| {
            rows.iter()
                .any(|r| r["task"] == task.as_str() && r["status"] == "issued")
        });
        if issued {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the task never reached the village"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let shots = PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/cockpit-screenshots"));
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let out = Command::new("node")
        .arg(web.join("tests/cockpit.mjs"))
        .current_dir(&web)
        .env("COCKPIT_URL", format!("http://127.0.0.1:{port}/"))
        .env("CHROMIUM", CHROMIUM)
        .env("SECRETARY_TOKEN", &secretary)
        .env("LEADER_TOKEN", &leader)
        .env("AUDITOR_TOKEN", &auditor)
        .env("VILLAGE", &village)
        .env("OTHER_VILLAGE", &other_village)
        .env("TOWN", CHENGTAN)
        .env("TASK", &task)
        .env("SCREENSHOTS", &shots)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    drop(server);
}
