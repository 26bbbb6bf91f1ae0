//! xingcun-simulate: a seeded, reproducible history of Shaoxing's towns and villages.
//!
//! The history is made of real domain commands issued through the store's [`Executor`], one
//! after another, never of raw events: every rule of the domain runs, and what it refuses is
//! counted, not hidden. The store's clock is the [`ManualClock`] the caller built the store
//! with; the simulator moves it through the simulated working days (Asia/Shanghai), so the
//! recorded times spread over the years. Every id (tasks, procedures, listings, people,
//! command ids, evidence hashes) is drawn from one seeded generator, so the same
//! [`SimConfig`] on an empty log gives a byte-identical log.
//!
//! What the history holds:
//! - the city, its counties and towns, 2,119 villages and communities with their grids, and
//!   about 20,000 cadres, with some turnover over the years;
//! - the city's matter catalogue (事项清单): broad in 2023, pruned on 2024-01-01 (items
//!   retired, barred, moved up to the towns), revised every quarter;
//! - each town's tasks month by month: drafted and screened (rejections are facts), reviewed
//!   (some returned), major ones decided by the party committee, dispatched to one, several or
//!   all villages, registered in each village's ledger (多头派单 flagged, then merged by
//!   withdrawal), signed, assigned, reported, submitted with evidence, accepted (some late,
//!   some after rework); 2023 is the baseline, from 2024 fewer tasks reach the villages;
//! - decision procedures (五议两公开, 四议两公开, 村务联席会议) with returns for missing
//!   evidence, refused after-the-fact records and a few failed votes; towns' own rules;
//! - listings (揭榜) with bids, comparison scores, winners and deliveries;
//! - praise from town leaders and the yearly 领雁指数 scores of every village secretary,
//!   and a new version of the index weights in 2025.
//!
//! [`published_figures`] counts the figures DOMAIN.md publishes from the recorded events.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use xingcun_store::{EventLog, ExecuteError, Executor, ManualClock, StoreError};

mod bidding;
mod calendar;
mod catalogue;
mod engine;
mod figures;
mod geo;
mod matters;
mod names;
mod org;
mod procedures;
mod ranking;
mod rng;
mod tasks;
mod world;

pub use figures::{Figures, FiguresCounter, published_figures};

use crate::calendar::{at_local, is_workday, midnight, next_workday, work_time};
use crate::engine::{Action, Engine, ScriptedDraft};

/// How much of Shaoxing to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// One town (澄潭街道) with a few villages, rarer activities compressed: for tests.
    Village,
    /// One town: 新昌县澄潭街道 with 梅渚村 and 棠村.
    Town,
    /// One county: 诸暨市 (枫桥镇 with 枫源村, 安华镇 with 丰江周村).
    County,
    /// All of Shaoxing: 6 counties, 103 towns, 2,119 villages and communities.
    City,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Village => "village",
            Preset::Town => "town",
            Preset::County => "county",
            Preset::City => "city",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A preset name that is not `village`, `town`, `county` or `city`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preset {0:?}: expected village, town, county or city")]
pub struct UnknownPreset(pub String);

impl FromStr for Preset {
    type Err = UnknownPreset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "village" => Ok(Preset::Village),
            "town" => Ok(Preset::Town),
            "county" => Ok(Preset::County),
            "city" => Ok(Preset::City),
            _ => Err(UnknownPreset(s.to_owned())),
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    pub preset: Preset,
    /// Years of history from `start`.
    pub years: u32,
    pub seed: u64,
    /// First day of the history (default 2023-01-01).
    pub start: NaiveDate,
    /// Every cadre with work in hand reports progress each working day (进度日报) instead
    /// of now and then. Not Shaoxing's published shape (the reform was meant to spare
    /// villages exactly this): a load generator that multiplies the assignment streams'
    /// events for the scale benchmark. Tasks, screenings and procedures come from the same
    /// rates, but the generator's draws shift, so it is a different history of the same
    /// shape, not the default one with more reports.
    pub daily_progress: bool,
}

impl SimConfig {
    /// The default history of a preset: three years from 2023-01-01, seed 1.
    pub fn new(preset: Preset) -> Self {
        SimConfig {
            preset,
            years: 3,
            seed: 1,
            start: default_start(),
            daily_progress: false,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::new(Preset::City)
    }
}

fn default_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// Reported after every simulated day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub simulated_day: NaiveDate,
    pub days_done: u32,
    pub days_total: u32,
    pub commands: u64,
    pub events: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSummary {
    pub preset: Preset,
    pub seed: u64,
    pub start: NaiveDate,
    /// The day after the last simulated day.
    pub end: NaiveDate,
    pub days: u32,
    /// Commands issued (accepted or refused).
    pub commands: u64,
    /// Events appended.
    pub events: u64,
    /// Commands the domain refused, by stable code (`CONFLICT`, `RULE_VIOLATION` …).
    pub refused: BTreeMap<String, u64>,
    /// The same, by stream category and code (`assignment:CONFLICT`).
    pub refused_by_stream: BTreeMap<String, u64>,
    /// The first refusal's message (what a cadre read) for each stream category and code.
    pub refusal_examples: BTreeMap<String, String>,
    pub towns: usize,
    pub villages: usize,
    pub tasks_drafted: usize,
    pub assignments_issued: usize,
    pub procedures_started: usize,
    pub listings_posted: usize,
}

impl SimSummary {
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// Why a simulation stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("a simulation needs at least one year")]
    NoYears,
    #[error("the event log is not empty (head at position {head}): simulate into a fresh database")]
    LogNotEmpty { head: u64 },
    #[error("reference data: {0}")]
    ReferenceData(String),
    #[error("generated input was invalid: {0}")]
    Generator(String),
    #[error("the log disagrees with the simulator: {0}")]
    Unexpected(String),
    #[error("command on {stream} failed: {source}")]
    Execute {
        stream: String,
        #[source]
        source: ExecuteError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Folded stream states the simulator's executor keeps (a town's jurisdiction, villages'
/// ledgers, assignments in progress).
const STATE_CACHE: usize = 65_536;

/// The date on which the pruned list takes effect.
fn pruning_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// Run the history of `config` into the (empty) log behind `executor`, whose store was built
/// with `clock`. `progress` is called after every simulated day. Refused commands are part
/// of the history (counted in the summary); a failure of the store ends the run with
/// [`SimError::Execute`] or [`SimError::Store`].
pub async fn simulate<L: EventLog>(
    executor: &Executor<L>,
    clock: &ManualClock,
    config: &SimConfig,
    mut progress: impl FnMut(&Progress),
) -> Result<SimSummary, SimError> {
    if config.years == 0 {
        return Err(SimError::NoYears);
    }
    let head = executor.log().head_position().await?;
    if head != 0 {
        return Err(SimError::LogNotEmpty { head });
    }
    // The simulator is the only writer for the whole run and keeps coming back to the same
    // streams (a town's jurisdiction, a village's ledger, an assignment): its own executor
    // keeps their folded states instead of re-reading them for every command.
    let executor = &executor.clone().with_state_cache(STATE_CACHE);
    let mut geo = geo::Geography::shaoxing()?;
    match config.preset {
        Preset::City => {}
        Preset::County => geo.keep_county("330681000000"),
        Preset::Town => geo.keep_town("330624004000", None),
        Preset::Village => geo.keep_town("330624004000", Some(4)),
    }
    let start = config.start;
    let end = start
        .checked_add_months(chrono::Months::new(12 * config.years))
        .ok_or_else(|| SimError::Generator("the history ends beyond the calendar".into()))?;
    let days_total = u32::try_from((end - start).num_days()).unwrap_or(u32::MAX);
    let city = xingcun_domain::RegionId::parse(&geo.city_code)
        .map_err(|e| SimError::ReferenceData(e.to_string()))?;
    let mut engine = Engine::new(
        executor,
        clock,
        config.seed,
        midnight(start),
        midnight(end),
        catalogue::CatalogueState::new(city),
    );
    engine.daily_progress = config.daily_progress;

    // Day one: the reference import and the broad list.
    let t = engine.setup(&geo, midnight(start)).await?;
    let t = engine
        .create_catalogue(calendar::plus_minutes(t, 1), midnight(start))
        .await?;
    plan_history(&mut engine, start, t);

    let boost = if config.preset == Preset::Village {
        6.0
    } else {
        1.0
    };
    for day in 0..days_total {
        let date = start + chrono::Days::new(u64::from(day));
        plan_day(&mut engine, date, boost);
        let until = midnight(date + chrono::Days::new(1));
        while let Some((at, action)) = engine.next_due(until) {
            engine.run(at, action).await?;
        }
        progress(&Progress {
            simulated_day: date,
            days_done: day + 1,
            days_total,
            commands: engine.commands,
            events: engine.events,
        });
    }
    engine.flush().await?;
    Ok(SimSummary {
        preset: config.preset,
        seed: config.seed,
        start,
        end,
        days: days_total,
        commands: engine.commands,
        events: engine.events,
        refused: engine.refused.clone(),
        refused_by_stream: engine.refused_by_stream.clone(),
        refusal_examples: engine.refusal_examples.clone(),
        towns: engine.world.towns.len(),
        villages: engine.world.villages.len(),
        tasks_drafted: engine.tasks.len(),
        assignments_issued: engine.assignments.len(),
        procedures_started: engine.procedures.len(),
        listings_posted: engine.listings.len(),
    })
}

/// What happens once or on its own rhythm: the pruning, the quarterly revisions, the new
/// index weights, towns adopting their own rules, turnover, the examples from the record.
fn plan_history<L: EventLog>(
    e: &mut Engine<'_, L>,
    start: NaiveDate,
    setup_done: chrono::DateTime<chrono::Utc>,
) {
    let prune = midnight(pruning_day()).max(calendar::plus_minutes(setup_done, 5));
    e.schedule(prune, Action::PruneCatalogue);
    let first_revision = work_time(&mut e.rng, next_workday(start + chrono::Days::new(85)));
    e.schedule(first_revision, Action::ReviseCatalogue);
    if let Some(d) = NaiveDate::from_ymd_opt(2025, 1, 6) {
        e.schedule(at_local(d, 10, 0, 0), Action::PublishIndexDefinition);
    }
    let rules_from = pruning_day().max(start);
    for town in 0..e.world.towns.len() {
        if e.rng.chance(0.25) || (e.world.towns.len() == 1 && town == 0) {
            let d = next_workday(rules_from + chrono::Days::new(e.rng.range(20, 100) as u64));
            let at = work_time(&mut e.rng, d);
            e.schedule(at, Action::SetTownRules { town });
        }
        e.plan_turnover(setup_done, town);
    }
    // 富盛镇: a waste-clearing task for 金溪村 is not on the list; the town's own team takes it.
    let jinxi = e.world.villages.iter().position(|v| v.name == "金溪村");
    let (jinxi_code, jinxi_category) = e
        .cat
        .code_of("河道沿线及公共区域垃圾清运")
        .unwrap_or_default();
    if let (Some(village), Some(d)) = (jinxi, NaiveDate::from_ymd_opt(2024, 4, 9)) {
        let town = e.world.villages[village].town;
        e.schedule(
            at_local(d, 10, 12, 0),
            Action::Draft {
                town,
                scripted: Some(ScriptedDraft {
                    title: "清理金溪村沿线积存垃圾",
                    content: "请金溪村组织人员清理村道及河道沿线积存垃圾,于截止前提交清理前后照片。",
                    code: jinxi_code,
                    category: jinxi_category,
                    village,
                }),
            },
        );
    }
    // 澄潭街道 posts “建设儿童照护驿站”; 棠村 wins and builds it within a week.
    let chengtan = e.world.towns.iter().position(|t| t.name == "澄潭街道");
    if let (Some(town), Some(d)) = (chengtan, NaiveDate::from_ymd_opt(2023, 11, 6))
        && e.world.villages.iter().any(|v| v.name == "棠村")
    {
        e.schedule(
            at_local(d, 9, 30, 0),
            Action::PostListing {
                town,
                scripted: true,
            },
        );
    }
}

fn plan_day<L: EventLog>(e: &mut Engine<'_, L>, date: NaiveDate, boost: f64) {
    if !is_workday(date) {
        return;
    }
    for town in 0..e.world.towns.len() {
        e.plan_drafts(date, town);
        e.plan_procedures(date, town, boost);
        e.plan_listings(date, town, boost / 3.0);
        e.plan_praise(date, town);
    }
    if let Some(dec15) = NaiveDate::from_ymd_opt(date.year(), 12, 15)
        && date == next_workday(dec15)
    {
        e.plan_ratings(date);
    }
}
