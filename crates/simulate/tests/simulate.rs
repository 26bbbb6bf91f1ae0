//! The simulator on a fresh SQLite store: it runs, it is deterministic, its log verifies,
//! and `published_figures` counts what the log holds; on PostgreSQL it writes the same log.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use xingcun_simulate::{Preset, SimConfig, SimSummary, published_figures, simulate};
use xingcun_store::testing::{TestDatabase, fresh_postgres, fresh_sqlite};
use xingcun_store::{EventLog, Executor, ManualClock, RecordedEvent, Store, verify};

/// A village run that spans the pruning of 2024-01-01.
fn village_config(seed: u64) -> SimConfig {
    SimConfig {
        preset: Preset::Village,
        years: 1,
        seed,
        start: NaiveDate::from_ymd_opt(2023, 7, 1).expect("date"),
        daily_progress: false,
    }
}

/// A run on a fresh SQLite file; the last element deletes it when dropped: keep it.
async fn run(config: &SimConfig) -> (Store, SimSummary, TestDatabase) {
    let db = fresh_sqlite();
    let (store, summary) = run_on(db.url(), config).await;
    (store, summary, db)
}

async fn run_on(url: &str, config: &SimConfig) -> (Store, SimSummary) {
    let clock = ManualClock::new(chrono::DateTime::UNIX_EPOCH);
    let store = Store::connect(url, Arc::new(clock.clone()))
        .await
        .expect("store");
    let executor = Executor::new(store.clone()).with_state_cache(100_000);
    let mut days = 0;
    let summary = simulate(&executor, &clock, config, |p| days = p.days_done)
        .await
        .expect("simulation runs");
    assert_eq!(days, summary.days);
    (store, summary)
}

async fn all_events(store: &Store) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &RecordedEvent| e.position);
        let page = store.read_all_raw(after, 10_000).await.expect("read");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

fn log_hash(events: &[RecordedEvent]) -> String {
    let mut h = Sha256::new();
    for e in events {
        h.update(e.hash.as_bytes());
        h.update(serde_json::to_vec(e).expect("json"));
    }
    format!("{:x}", h.finalize())
}

#[tokio::test]
async fn village_history_is_deterministic_verifies_and_counts() {
    let config = village_config(7);
    let (store, summary, _db1) = run(&config).await;
    let events = all_events(&store).await;
    assert_eq!(events.len() as u64, summary.events);
    assert!(summary.commands > 300, "{summary:?}");
    assert!(summary.events > 300, "{summary:?}");
    let report = verify(&store).await.expect("verify runs");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, summary.events);

    // Recorded times follow the simulated calendar.
    let first = events.first().expect("events").recorded_at;
    let last = events.last().expect("events").recorded_at;
    assert!(first.date_naive() <= NaiveDate::from_ymd_opt(2023, 7, 1).expect("date"));
    assert!(last.date_naive() >= NaiveDate::from_ymd_opt(2024, 5, 1).expect("date"));
    assert!(
        events
            .windows(2)
            .all(|w| w[0].recorded_at <= w[1].recorded_at)
    );

    // Same seed, same log, byte for byte.
    let (again, summary_again, _db2) = run(&config).await;
    assert_eq!(summary, summary_again);
    assert_eq!(log_hash(&events), log_hash(&all_events(&again).await));

    // Another seed, another history.
    let (other, _, _db3) = run(&village_config(8)).await;
    assert_ne!(log_hash(&events), log_hash(&all_events(&other).await));

    // The figures, counted independently from the event types.
    let figures = published_figures(events.iter());
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &events {
        *by_type.entry(e.event_type.as_str()).or_default() += 1;
    }
    let count = |t: &str| by_type.get(t).copied().unwrap_or(0);
    assert_eq!(figures.events, events.len() as u64);
    assert_eq!(figures.towns, 1);
    assert_eq!(figures.villages, 4);
    assert_eq!(figures.villages, count("VillageRegistered"));
    assert_eq!(
        figures.screening_rejections_by_year.values().sum::<u64>(),
        count("TaskScreeningRejected")
    );
    assert_eq!(
        figures.assignments_by_year.values().sum::<u64>(),
        count("AssignmentIssued")
    );
    assert_eq!(figures.procedures(), count("ProcedureStarted"));
    assert_eq!(figures.procedures_completed, count("ProcedureCompleted"));
    assert_eq!(figures.listings_posted, count("ListingPosted"));
    assert_eq!(figures.praise_given, count("PraiseGiven"));
    assert_eq!(figures.rater_scores, count("DimensionScoresRecorded"));
    // Every kind of history shows up in a year of one small town.
    assert!(figures.screening_rejections_since(2024) > 0, "{figures:?}");
    assert!(figures.assignments_in(2023) > 0 && figures.assignments_in(2024) > 0);
    assert!(figures.procedures() > 0, "{figures:?}");
    assert!(figures.listings_awarded > 0, "{figures:?}");
    assert!(figures.rater_scores > 0, "{figures:?}");
    assert!(figures.cadres > 30, "{figures:?}");
    let rejections_2024: u64 = events
        .iter()
        .filter(|e| e.event_type == "TaskScreeningRejected")
        .filter(|e| {
            e.recorded_at
                >= chrono::DateTime::parse_from_rfc3339("2023-12-31T16:00:00Z").expect("time")
        })
        .count() as u64;
    assert_eq!(figures.screening_rejections_since(2024), rejections_2024);
    // 棠村 won the childcare station (the example from the record).
    let tangcun_won = events
        .iter()
        .any(|e| e.event_type == "ListingAwarded" && e.payload["winner"] == "330624004202");
    assert!(tangcun_won);
}

/// The backend does not change the history: the same seed on PostgreSQL writes the log it
/// writes on SQLite, event for event and hash for hash.
#[tokio::test]
async fn postgres_gets_the_same_history() {
    let Some(pg_db) = fresh_postgres().await else {
        return;
    };
    let url = pg_db.url().to_owned();
    let config = village_config(7);
    let (sqlite, _, _db4) = run(&config).await;
    let (postgres, _) = run_on(&url, &config).await;
    let expected = all_events(&sqlite).await;
    let got = all_events(&postgres).await;
    assert_eq!(got.len(), expected.len());
    assert_eq!(log_hash(&got), log_hash(&expected));
}

/// 进度日报: with daily reports, assignments in progress report far more often (over four
/// times the reports of the occasional history), their percentages only going up; the log
/// still verifies.
#[tokio::test]
async fn daily_progress_multiplies_the_reports() {
    let (occasional_store, occasional, _db5) = run(&village_config(7)).await;
    let occasional_reports = all_events(&occasional_store)
        .await
        .iter()
        .filter(|e| e.event_type == "AssignmentProgressReported")
        .count();
    let daily_config = SimConfig {
        daily_progress: true,
        ..village_config(7)
    };
    let (store, daily, _db6) = run(&daily_config).await;
    assert!(verify(&store).await.expect("verify").is_intact());
    let events = all_events(&store).await;
    let mut reports: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in &events {
        if e.event_type == "AssignmentProgressReported" {
            let percent = e.payload["payload"]["percent"].as_u64().expect("percent");
            reports
                .entry(e.stream_id.as_str())
                .or_default()
                .push(percent);
        }
    }
    let total: usize = reports.values().map(Vec::len).sum();
    assert!(
        daily.events * 2 > occasional.events * 3,
        "daily {} against occasional {} events",
        daily.events,
        occasional.events
    );
    assert!(
        total > occasional_reports * 4,
        "{total} daily reports against {occasional_reports} occasional ones"
    );
    for (stream, percents) in &reports {
        assert!(
            percents.windows(2).all(|w| w[0] <= w[1]),
            "{stream}: {percents:?}"
        );
    }
}

#[tokio::test]
async fn presets_parse_and_an_empty_history_is_refused() {
    assert_eq!("city".parse::<Preset>().expect("preset"), Preset::City);
    assert_eq!(
        "Village".parse::<Preset>().expect("preset"),
        Preset::Village
    );
    assert!("province".parse::<Preset>().is_err());
    let clock = ManualClock::new(chrono::DateTime::UNIX_EPOCH);
    let db = fresh_sqlite();
    let store = Store::connect(db.url(), Arc::new(clock.clone()))
        .await
        .expect("store");
    let executor = Executor::new(store);
    let config = SimConfig {
        years: 0,
        ..village_config(1)
    };
    assert!(simulate(&executor, &clock, &config, |_| {}).await.is_err());
}

/// The default city history (three years from 2023-01-01): the published figures.
/// Long (minutes in release): `cargo test --release -p xingcun-simulate -- --ignored`.
#[tokio::test]
#[ignore = "simulates all of Shaoxing for three years"]
async fn city_history_matches_the_published_figures() {
    let config = SimConfig::new(Preset::City);
    let started = std::time::Instant::now();
    let (store, summary, _db7) = run(&config).await;
    let events = all_events(&store).await;
    let figures = published_figures(events.iter());
    eprintln!(
        "{summary:#?}\n{figures:#?}\nwall time {:?}",
        started.elapsed()
    );
    assert_eq!(figures.towns, 103);
    assert_eq!(figures.villages, 2_119);
    assert!(figures.cadres >= 20_000, "{}", figures.cadres);
    let rejected = figures.screening_rejections_since(2024);
    assert!(
        (1_700..=2_300).contains(&rejected),
        "rejected since 2024: {rejected}"
    );
    let change = figures
        .assignment_change_percent(2023, 2025)
        .expect("2023 has assignments");
    assert!(
        change < -30.0,
        "tasks reaching villages 2025 vs 2023: {change:.1} %"
    );
    assert!(
        (1_000..=1_500).contains(&figures.procedures()),
        "procedures: {}",
        figures.procedures()
    );
    let report = verify(&store).await.expect("verify runs");
    assert!(report.is_intact(), "{report:?}");
}
