//! 亮榜争先 — the leaderboards: 兴村治社榜 (villages) and 先锋干部榜 (cadres), by town, county
//! or city, by month, quarter or year (Asia/Shanghai), on points (工分) or on the 领雁指数.
//!
//! **Facts, not ranks.** The tables hold additive facts per (board, subject, village,
//! period): the points by source and the counts behind them. Ranks are computed when a
//! board is asked for (`rank() over (order by total_points desc)` for points; in Rust for the
//! index, below), so an event moves a rank as soon as the runner has applied it (the live
//! runner follows the log's head) and nothing is ever re-ranked by writing.
//!
//! **Periods.** Every fact is counted in its month (`2025-03`), quarter (`2025-Q1`) and year
//! (`2025`), from the event's business time (accepted, completed, awarded, given) as a date
//! in Asia/Shanghai ([`xingcun_domain::calendar::local_date`]): a praise given at 01:00 on
//! 1 April in Shanghai (17:00 UTC on 31 March) counts in April and Q2.
//!
//! # Points (工分), in hundredths of a point
//!
//! | source | village (兴村治社榜) | cadre (先锋干部榜) |
//! |---|---|---|
//! | task accepted (`AssignmentAccepted`) | the points the town awarded: score × the timeliness factor fixed at dispatch (default 100 % on time, 50 % late) | the same points to who did the work: the cadre it was assigned to; for a grid, its grid leader in office at acceptance; unassigned, the secretary who signed it |
//! | compliant procedure completed (`ProcedureCompleted`) | [`PROCEDURE_POINTS`] | the same to the cadre who started it |
//! | listing won (`ListingAwarded`, 揭榜) | [`LISTING_WON_POINTS`] | the same to the cadre who submitted the winning bid |
//! | listing delivered (`CompletionAccepted`) | [`LISTING_DELIVERED_POINTS`] | likewise |
//! | praise (实时表扬, `PraiseGiven`) | its points, whether it names the village or one of its cadres | its points, when it names the cadre |
//!
//! A village's points are its whole record, its cadres' included; a cadre's points are what
//! they did. A task returned for rework (`AssignmentReturned`) earns nothing and is counted
//! (`task_returns`, village rows only: the return does not name the assignee). A praise
//! withdrawn (`PraiseWithdrawn`) is taken out of the periods it was given in, as if never
//! given (the domain: "boards drop its points on replay"). A procedure completes only if
//! every step complied ([`crate::procedure_register`]), so completed means compliant.
//! The fixed points of procedures and listings are this read model's: changing them is a
//! new version of it, rebuilt from the log.
//!
//! A board lists the subjects with something on record in the period (a task accepted or
//! returned, a procedure, a listing or a praise still standing); ties share a rank.
//!
//! # 领雁指数
//!
//! The index of a village secretary, per village and period, is the domain's
//! [`xingcun_domain::lingyan_index`]: the weighted mean of six dimension scores
//! (hundredths, 0..=10000) under a version of the index definition. It is computed in Rust
//! from the stored facts each time a board is asked for (a few thousand villages at most),
//! so it is exactly the domain's, rounding included. Each dimension's score comes from:
//!
//! | dimension | source |
//! |---|---|
//! | 治理能力 `governance` | the record: tasks accepted on time ÷ (tasks accepted + returns for rework) in the period; without any acceptance or return in the period, the raters' scores |
//! | 发展实绩 `development` | the record: the village's procedure and listing points (compliant procedures completed, listings won and delivered) ÷ the best village's of the period over the whole record; while no village has any, the raters' scores |
//! | 领导能力, 群众口碑, 担当作为, 廉洁自律, and any dimension a definition names | the town raters' scores (`DimensionScoresRecorded`) |
//!
//! Raters' scores for a period are the mean of every rater's score on every rating sheet
//! for that period or a period within it (the year: its quarters' and months' sheets too),
//! per dimension; a dimension no such sheet scores takes the sheets of the closest period
//! around it (a month: its quarter's, else its year's; a quarter: its year's). Sums and
//! counts are stored, so the mean is exact, rounded half up like the domain's
//! [`xingcun_domain::ranking::average_scores`]. A dimension with no score counts 0 and is
//! listed as missing, as the domain says.
//!
//! Decisions: where the record measures a dimension it wins over the raters (their scores
//! for it are kept, not blended in); 发展实绩 is relative (the best village of the period
//! scores 100), since a village completes a procedure or two a year and no absolute scale
//! would tell villages apart; the governance measure counts a return against the village
//! in the period it was returned, an acceptance in the period it was accepted.
//!
//! **Weights.** Every published version of the definition is kept; a board is scored under
//! the version in force (the latest) of the most specific scope's definition that covers
//! the board (normally 绍兴市), or under a version the query names (0: the default, equal
//! weights). Nothing about the weights is stored with the facts, so publishing new weights
//! re-ranks the whole history at once, and the old ranking can still be asked for.
//!
//! The index boards list the villages with something on record or rated in the period; on
//! the cadre board each village's secretary: the one its rating sheets name, else the
//! secretary in office now (a village with neither is left off).
//!
//! # Tables
//!
//! - `leaderboard_points`: the facts, one row per (board `village`|`cadre`, subject,
//!   village, period), with the village's town, county and city for the scope of a board;
//!   a cadre on record in two villages has a row in each;
//! - `leaderboard_praise`: each praise in each of its periods, with the cadre it named,
//!   so a withdrawal (which names neither) finds the rows it takes its points from;
//! - `leaderboard_ratings`: raters' score sums and counts per (village, sheet period,
//!   dimension), with the secretary rated;
//! - `leaderboard_index_versions`: every published definition (scope, version, weights);
//! - `leaderboard_subjects`: names of regions and people, each person's post (role, scope,
//!   grid) and whether still in office, for names on the boards, a grid's leader and a
//!   village's secretary;
//! - `leaderboard_leads`: who started each procedure and who submitted each village's bid
//!   (the last submission, after a withdrawal), so completion and award credit them.
//!
//! Queries are in `board.rs` ([`leaderboard`], [`standing`], [`index_definitions`]), the
//! index in `index.rs`, the periods in `period.rs`.

use chrono::{DateTime, Utc};
use xingcun_domain::ranking::{IndexDefinitionEvent, PraiseEvent, PraiseTarget, RatingEvent};
use xingcun_domain::{
    Assignee, AssignmentEvent, ListingEvent, OrganizationEvent, ProcedureEvent, RegionId, Role,
};
use xingcun_store::RecordedEvent;

use crate::runtime::{BatchState, Lookup, Projection, Table, decode, t};
use crate::sql::{Arg, Stmt};

mod board;
mod index;
mod leads;
mod period;

use leads::Leads;

pub use board::{
    Board, LeaderboardQuery, LeaderboardRow, Measure, PointsBreakdown, index_definitions,
    leaderboard, standing,
};
pub use index::{DefinitionVersion, DimensionSource, DimensionValue, IndexValue};
pub use period::{InvalidPeriod, Period, PeriodKind};

/// Points for a compliant procedure completed (10 points, in hundredths): as much as a task
/// of score 10 accepted on time.
pub const PROCEDURE_POINTS: i64 = 1_000;
/// Points for a listing won (揭榜), in hundredths.
pub const LISTING_WON_POINTS: i64 = 1_000;
/// Points for a listing delivered (completion accepted), in hundredths.
pub const LISTING_DELIVERED_POINTS: i64 = 2_000;

pub struct Leaderboard;

const TABLES: &[Table] = &[
    Table {
        name: "leaderboard_points",
        columns: "(board text not null, subject text not null, village text not null, period text not null, \
                  town text not null, county text not null, city text not null, task_points bigint not null, \
                  procedure_points bigint not null, listing_points bigint not null, praise_points bigint not null, \
                  total_points bigint not null, tasks_accepted bigint not null, tasks_on_time bigint not null, \
                  task_returns bigint not null, procedures_completed bigint not null, listings_won bigint not null, \
                  listings_delivered bigint not null, praises bigint not null, position bigint not null, \
                  primary key (board, subject, village, period))",
        // A county's or the city's board reads the period's rows of this index's prefix.
        indexes: &["(board, period, town)"],
        lookups: &[],
    },
    Table {
        name: "leaderboard_praise",
        columns: "(praise text not null, period text not null, village text not null, person text, \
                  points bigint not null, given_at text not null, withdrawn_at text, \
                  primary key (praise, period))",
        indexes: &[],
        lookups: &[],
    },
    Table {
        name: "leaderboard_ratings",
        columns: "(village text not null, period text not null, dimension text not null, town text not null, \
                  county text not null, city text not null, year bigint not null, secretary text not null, \
                  score_sum bigint not null, raters bigint not null, position bigint not null, \
                  primary key (village, period, dimension))",
        indexes: &["(year, town)"],
        lookups: &[],
    },
    Table {
        name: "leaderboard_index_versions",
        columns: "(scope text not null, version bigint not null, dimensions text not null, \
                  published_at text not null, position bigint not null, primary key (scope, version))",
        indexes: &[],
        lookups: &[],
    },
    Table {
        name: "leaderboard_subjects",
        columns: "(kind text not null, id text not null, name text not null, scope text not null, role text, \
                  grid text, active bigint not null, position bigint not null, primary key (kind, id))",
        indexes: &["(role, scope)"],
        // `ADD_TO_GRID_LEADER` finds a grid's leader by it while the build is written.
        lookups: &["(grid, active)"],
    },
    Table {
        name: "leaderboard_leads",
        columns: "(kind text not null, key text not null, person text not null, village text not null, \
                  position bigint not null, primary key (kind, key))",
        indexes: &[],
        lookups: &[],
    },
];

/// The columns of `leaderboard_points`, in the order every insert gives them.
macro_rules! point_columns {
    () => {
        "board, subject, village, period, town, county, city, task_points, procedure_points, \
         listing_points, praise_points, total_points, tasks_accepted, tasks_on_time, task_returns, \
         procedures_completed, listings_won, listings_delivered, praises, position"
    };
}

/// Adds a fact to the row it belongs to.
macro_rules! add_to_row {
    () => {
        " on conflict (board, subject, village, period) do update set \
         task_points = x.task_points + excluded.task_points, \
         procedure_points = x.procedure_points + excluded.procedure_points, \
         listing_points = x.listing_points + excluded.listing_points, \
         praise_points = x.praise_points + excluded.praise_points, \
         total_points = x.total_points + excluded.total_points, \
         tasks_accepted = x.tasks_accepted + excluded.tasks_accepted, \
         tasks_on_time = x.tasks_on_time + excluded.tasks_on_time, \
         task_returns = x.task_returns + excluded.task_returns, \
         procedures_completed = x.procedures_completed + excluded.procedures_completed, \
         listings_won = x.listings_won + excluded.listings_won, \
         listings_delivered = x.listings_delivered + excluded.listings_delivered, \
         praises = x.praises + excluded.praises, position = excluded.position"
    };
}

/// The values of a fact after board and subject, its period taken from `per`: `$1` is the
/// village, `$2..=$17` the rest of [`Fact::values`].
macro_rules! fact_values {
    () => {
        "$1, per.period, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17"
    };
}

/// The fact's three periods (month, quarter, year), `$18..=$20` unless said otherwise.
macro_rules! periods {
    ($a:literal, $b:literal, $c:literal) => {
        concat!(
            "(select ",
            $a,
            " as period union all select ",
            $b,
            " union all select ",
            $c,
            ") per"
        )
    };
}

/// A fact for a subject the event names, in one period (one row, so that a batch's
/// facts go to `leaderboard_points` many rows to a statement): `$1` the board, `$2` the
/// subject, `$3` the village, `$4` the period, `$5..=$20` the rest of [`Fact::values`].
const ADD: &str = concat!(
    "insert into {leaderboard_points} as x (",
    point_columns!(),
    ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20)",
    add_to_row!()
);
/// A fact for the cadre who led a procedure or a bid (`leaderboard_leads`): [`Fact::values`],
/// the periods, then `$21` the kind and `$22` the key. Nothing when nobody is on record.
const ADD_TO_LEAD: &str = concat!(
    "insert into {leaderboard_points} as x (",
    point_columns!(),
    ") select 'cadre', l.person, ",
    fact_values!(),
    " from {leaderboard_leads} l cross join ",
    periods!("$18", "$19", "$20"),
    " where l.kind = $21 and l.key = $22",
    add_to_row!()
);
/// A fact for a grid's leader in office: [`Fact::values`], then `$18` the grid, `$19` who
/// gets it when the grid has no leader (the secretary who signed), then the periods. Only
/// people have a grid; the lookup names no `kind` so that SQLite takes the grid's index,
/// not the primary key's (a scan of every person).
const ADD_TO_GRID_LEADER: &str = concat!(
    "insert into {leaderboard_points} as x (",
    point_columns!(),
    ") select 'cadre', g.person, ",
    fact_values!(),
    " from (select coalesce((select min(s.id) from {leaderboard_subjects} s where s.grid = $18 \
     and s.active = 1), $19) as person) g cross join ",
    periods!("$20", "$21", "$22"),
    " where g.person is not null",
    add_to_row!()
);

const PRAISE: &str = "insert into {leaderboard_praise} (praise, period, village, person, points, given_at) \
     values ($1, $2, $3, $4, $5, $6) on conflict (praise, period) do nothing";
const PRAISE_WITHDRAWN_VILLAGE: &str = "update {leaderboard_points} set praise_points = praise_points - $1, \
     total_points = total_points - $1, praises = praises - 1, position = $2 \
     where board = 'village' and subject = $3 and village = $3 and period in \
     (select g.period from {leaderboard_praise} g where g.praise = $4 and g.withdrawn_at is null)";
const PRAISE_WITHDRAWN_CADRE: &str = "update {leaderboard_points} set praise_points = praise_points - $1, \
     total_points = total_points - $1, praises = praises - 1, position = $2 \
     where board = 'cadre' and village = $3 \
     and subject in (select g.person from {leaderboard_praise} g where g.praise = $4) and period in \
     (select g.period from {leaderboard_praise} g where g.praise = $4 and g.withdrawn_at is null)";
const PRAISE_MARKED_WITHDRAWN: &str =
    "update {leaderboard_praise} set withdrawn_at = $1 where praise = $2";

/// One rater's score on one dimension: a row by key, so that a batch's sheets go to
/// `leaderboard_ratings` many rows to a statement.
const RATING: &str = "insert into {leaderboard_ratings} as x (village, period, dimension, town, county, city, year, \
     secretary, score_sum, raters, position) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10) \
     on conflict (village, period, dimension) do update set score_sum = x.score_sum + excluded.score_sum, \
     raters = x.raters + excluded.raters, secretary = excluded.secretary, position = excluded.position";
const DEFINITION: &str = "insert into {leaderboard_index_versions} (scope, version, dimensions, published_at, position) \
     values ($1, $2, $3, $4, $5) on conflict (scope, version) do nothing";
const SUBJECT: &str = "insert into {leaderboard_subjects} as x (kind, id, name, scope, role, grid, active, position) \
     values ($1, $2, $3, $4, $5, $6, 1, $7) on conflict (kind, id) do update set name = excluded.name, \
     scope = excluded.scope, role = excluded.role, grid = excluded.grid, active = 1, position = excluded.position";
const DEPARTED: &str = "update {leaderboard_subjects} set active = 0, position = $1 \
     where kind = 'person' and id = $2 and scope = $3";
const LEAD: &str = "insert into {leaderboard_leads} as x (kind, key, person, village, position) \
     values ($1, $2, $3, $4, $5) on conflict (kind, key) do update set person = excluded.person, \
     position = excluded.position";

/// Town, county and city of a village (the code encodes them).
struct Places {
    village: String,
    town: String,
    county: String,
    city: String,
}

impl Places {
    fn of(village: &RegionId) -> Self {
        let up = |r: &RegionId| r.parent().unwrap_or_else(|| r.clone());
        let town = up(village);
        let county = up(&town);
        let city = up(&county);
        Places {
            village: village.to_string(),
            town: town.to_string(),
            county: county.to_string(),
            city: city.to_string(),
        }
    }
}

/// One fact to add, in hundredths of a point and counts.
#[derive(Debug, Default, Clone, Copy)]
struct Fact {
    task_points: i64,
    procedure_points: i64,
    listing_points: i64,
    praise_points: i64,
    tasks_accepted: i64,
    tasks_on_time: i64,
    task_returns: i64,
    procedures_completed: i64,
    listings_won: i64,
    listings_delivered: i64,
    praises: i64,
}

impl Fact {
    /// village, town, county, city, the points by source and total, the counts, the
    /// position.
    fn values(&self, places: &Places, at: i64) -> Vec<Arg> {
        let total =
            self.task_points + self.procedure_points + self.listing_points + self.praise_points;
        vec![
            t(places.village.as_str()),
            t(places.town.as_str()),
            t(places.county.as_str()),
            t(places.city.as_str()),
            self.task_points.into(),
            self.procedure_points.into(),
            self.listing_points.into(),
            self.praise_points.into(),
            total.into(),
            self.tasks_accepted.into(),
            self.tasks_on_time.into(),
            self.task_returns.into(),
            self.procedures_completed.into(),
            self.listings_won.into(),
            self.listings_delivered.into(),
            self.praises.into(),
            at.into(),
        ]
    }
}

/// Who on the cadre board gets a fact.
enum Credit<'a> {
    Nobody,
    Person(String),
    /// The cadre on record in `leaderboard_leads` (kind, key).
    Lead(&'static str, String),
    /// A grid's leader in office, else the one named.
    GridLeader(String, Option<&'a str>),
}

/// The statements adding `fact` to the village's rows and to the cadre's (if any) in the
/// month, quarter and year of `when`: one statement per board.
#[allow(clippy::too_many_arguments)]
fn add(
    out: &mut Vec<Stmt>,
    village: &RegionId,
    when: DateTime<Utc>,
    fact: Fact,
    cadre: Credit<'_>,
    at: i64,
    state: Option<&Leads>,
) {
    // With the batch's leads read first, the cadre is known here and the fact goes to
    // rows by key; without, the statement looks the cadre up itself.
    let cadre = match (cadre, state) {
        (Credit::Lead(kind, key), Some(state)) => state
            .leads
            .get(&(kind.to_owned(), key))
            .map_or(Credit::Nobody, |person| Credit::Person(person.clone())),
        (Credit::GridLeader(grid, fallback), Some(state)) => state
            .grid_leader(&grid)
            .or(fallback)
            .map_or(Credit::Nobody, |person| Credit::Person(person.to_owned())),
        (cadre, _) => cadre,
    };
    let places = Places::of(village);
    let values = fact.values(&places, at);
    let periods: Vec<Arg> = Period::of(when).iter().map(|p| t(p.to_string())).collect();
    let direct = |out: &mut Vec<Stmt>, board: &str, subject: &str| {
        for period in &periods {
            let mut args = vec![t(board), t(subject), values[0].clone(), period.clone()];
            args.extend(values[1..].iter().cloned());
            out.push(Stmt::new(ADD, args));
        }
    };
    direct(out, "village", &places.village);
    let mut args = values.clone();
    let sql = match &cadre {
        Credit::Nobody => return,
        Credit::Person(person) => return direct(out, "cadre", person),
        Credit::Lead(kind, key) => {
            args.extend(periods);
            args.extend([t(*kind), t(key.as_str())]);
            ADD_TO_LEAD
        }
        Credit::GridLeader(grid, fallback) => {
            args.extend([t(grid.as_str()), Arg::OptText(fallback.map(str::to_owned))]);
            args.extend(periods);
            ADD_TO_GRID_LEADER
        }
    };
    out.push(Stmt::new(sql, args));
}

fn time(t: &DateTime<Utc>) -> Arg {
    Arg::Text(xingcun_store::hash::format_time(t))
}

fn bid_key(listing: &dyn std::fmt::Display, village: &RegionId) -> String {
    format!("{listing}:{village}")
}

fn role_name(role: &Role) -> &'static str {
    match role {
        Role::TownOfficeStaff => "town_office_staff",
        Role::TownLeader { .. } => "town_leader",
        Role::PartyCommitteeSecretary => "party_committee_secretary",
        Role::VillageSecretary => "village_secretary",
        Role::VillageCadre => "village_cadre",
        Role::GridLeader => "grid_leader",
        Role::Auditor => "auditor",
        Role::Administrator => "administrator",
    }
}

impl Leaderboard {
    fn assignment(
        event: &RecordedEvent,
        state: Option<&mut Leads>,
        out: &mut Vec<Stmt>,
    ) -> Result<(), String> {
        let at = event.position as i64;
        match decode::<AssignmentEvent>(event)? {
            AssignmentEvent::AssignmentAccepted {
                village,
                on_time,
                points,
                signed_by,
                assignee,
                accepted_at,
                ..
            } => {
                let fact = Fact {
                    task_points: i64::try_from(points.hundredths()).unwrap_or(i64::MAX),
                    tasks_accepted: 1,
                    tasks_on_time: i64::from(on_time),
                    ..Fact::default()
                };
                let signer = signed_by.as_ref().map(|p| p.as_str());
                let cadre = match &assignee {
                    Some(Assignee::Cadre { person }) => Credit::Person(person.to_string()),
                    Some(Assignee::Grid { grid }) => Credit::GridLeader(grid.to_string(), signer),
                    None => signer.map_or(Credit::Nobody, |p| Credit::Person(p.to_owned())),
                };
                add(
                    out,
                    &village,
                    accepted_at,
                    fact,
                    cadre,
                    at,
                    state.as_deref(),
                );
            }
            AssignmentEvent::AssignmentReturned {
                village,
                returned_at,
                ..
            } => {
                let fact = Fact {
                    task_returns: 1,
                    ..Fact::default()
                };
                add(out, &village, returned_at, fact, Credit::Nobody, at, None);
            }
            _ => {}
        }
        Ok(())
    }

    fn procedure(
        event: &RecordedEvent,
        state: Option<&mut Leads>,
        out: &mut Vec<Stmt>,
    ) -> Result<(), String> {
        let at = event.position as i64;
        match decode::<ProcedureEvent>(event)? {
            ProcedureEvent::ProcedureStarted {
                procedure_id,
                village,
                started_by,
                ..
            } => {
                if let Some(state) = state {
                    state.lead(
                        "procedure",
                        procedure_id.to_string(),
                        started_by.to_string(),
                    );
                }
                out.push(Stmt::new(
                    LEAD,
                    vec![
                        t("procedure"),
                        t(procedure_id.to_string()),
                        t(started_by.to_string()),
                        t(village.to_string()),
                        at.into(),
                    ],
                ));
            }
            ProcedureEvent::ProcedureCompleted {
                procedure_id,
                village,
                completed_at,
                ..
            } => {
                let fact = Fact {
                    procedure_points: PROCEDURE_POINTS,
                    procedures_completed: 1,
                    ..Fact::default()
                };
                let lead = Credit::Lead("procedure", procedure_id.to_string());
                add(
                    out,
                    &village,
                    completed_at,
                    fact,
                    lead,
                    at,
                    state.as_deref(),
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn listing(
        event: &RecordedEvent,
        state: Option<&mut Leads>,
        out: &mut Vec<Stmt>,
    ) -> Result<(), String> {
        let at = event.position as i64;
        match decode::<ListingEvent>(event)? {
            // Who submitted a village's bid (the last submission, after a withdrawal) led it.
            ListingEvent::BidSubmitted {
                listing_id,
                village,
                submitted_by,
                ..
            } => {
                if let Some(state) = state {
                    state.lead(
                        "bid",
                        bid_key(&listing_id, &village),
                        submitted_by.to_string(),
                    );
                }
                out.push(Stmt::new(
                    LEAD,
                    vec![
                        t("bid"),
                        t(bid_key(&listing_id, &village)),
                        t(submitted_by.to_string()),
                        t(village.to_string()),
                        at.into(),
                    ],
                ));
            }
            ListingEvent::ListingAwarded {
                listing_id,
                winner,
                awarded_at,
                ..
            } => {
                let fact = Fact {
                    listing_points: LISTING_WON_POINTS,
                    listings_won: 1,
                    ..Fact::default()
                };
                let lead = Credit::Lead("bid", bid_key(&listing_id, &winner));
                add(out, &winner, awarded_at, fact, lead, at, state.as_deref());
            }
            ListingEvent::CompletionAccepted {
                listing_id,
                village,
                accepted_at,
                ..
            } => {
                let fact = Fact {
                    listing_points: LISTING_DELIVERED_POINTS,
                    listings_delivered: 1,
                    ..Fact::default()
                };
                let lead = Credit::Lead("bid", bid_key(&listing_id, &village));
                add(out, &village, accepted_at, fact, lead, at, state.as_deref());
            }
            _ => {}
        }
        Ok(())
    }

    fn praise(event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        // The praise's id is its stream's (`praise-{id}`).
        let praise = event
            .stream_id
            .strip_prefix("praise-")
            .unwrap_or(&event.stream_id);
        match decode::<PraiseEvent>(event)? {
            PraiseEvent::PraiseGiven {
                village,
                target,
                points,
                given_at,
                ..
            } => {
                let person = match &target {
                    PraiseTarget::Cadre { person, .. } => Some(person.to_string()),
                    PraiseTarget::Village { .. } => None,
                };
                let fact = Fact {
                    praise_points: i64::from(points) * 100,
                    praises: 1,
                    ..Fact::default()
                };
                for period in Period::of(given_at) {
                    out.push(Stmt::new(
                        PRAISE,
                        vec![
                            t(praise),
                            t(period.to_string()),
                            t(village.to_string()),
                            person.clone().into(),
                            (i64::from(points) * 100).into(),
                            time(&given_at),
                        ],
                    ));
                }
                let cadre = person.map_or(Credit::Nobody, Credit::Person);
                add(out, &village, given_at, fact, cadre, at, None);
            }
            PraiseEvent::PraiseWithdrawn {
                village,
                points,
                withdrawn_at,
                ..
            } => {
                let args = || {
                    vec![
                        (i64::from(points) * 100).into(),
                        at.into(),
                        t(village.to_string()),
                        t(praise),
                    ]
                };
                out.push(Stmt::new(PRAISE_WITHDRAWN_VILLAGE, args()));
                out.push(Stmt::new(PRAISE_WITHDRAWN_CADRE, args()));
                out.push(Stmt::new(
                    PRAISE_MARKED_WITHDRAWN,
                    vec![time(&withdrawn_at), t(praise)],
                ));
            }
        }
        Ok(())
    }

    fn rating(event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        let RatingEvent::DimensionScoresRecorded {
            village,
            secretary,
            period,
            scores,
            ..
        } = decode::<RatingEvent>(event)?;
        let period: Period = period
            .to_string()
            .parse()
            .map_err(|e: InvalidPeriod| e.to_string())?;
        let places = Places::of(&village);
        for score in &scores {
            out.push(Stmt::new(
                RATING,
                vec![
                    t(places.village.as_str()),
                    t(period.to_string()),
                    t(score.key.to_string()),
                    t(places.town.as_str()),
                    t(places.county.as_str()),
                    t(places.city.as_str()),
                    i64::from(period.year_number()).into(),
                    t(secretary.to_string()),
                    i64::from(score.score).into(),
                    at.into(),
                ],
            ));
        }
        Ok(())
    }

    fn definition(event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let IndexDefinitionEvent::IndexDefinitionPublished {
            scope,
            version,
            dimensions,
            published_at,
            ..
        } = decode::<IndexDefinitionEvent>(event)?;
        let dimensions = serde_json::to_string(&dimensions).map_err(|e| e.to_string())?;
        out.push(Stmt::new(
            DEFINITION,
            vec![
                t(scope.to_string()),
                i64::from(version).into(),
                t(dimensions),
                time(&published_at),
                (event.position as i64).into(),
            ],
        ));
        Ok(())
    }

    fn organization(
        event: &RecordedEvent,
        state: Option<&mut Leads>,
        out: &mut Vec<Stmt>,
    ) -> Result<(), String> {
        let at = event.position as i64;
        let region = |id: &RegionId, name: String, scope: String| {
            Stmt::new(
                SUBJECT,
                vec![
                    t("region"),
                    t(id.to_string()),
                    t(name),
                    t(scope),
                    Arg::OptText(None),
                    Arg::OptText(None),
                    at.into(),
                ],
            )
        };
        match decode::<OrganizationEvent>(event)? {
            OrganizationEvent::RegionRegistered {
                region: id,
                name,
                parent,
                ..
            } => {
                let scope = parent.as_ref().unwrap_or(&id).to_string();
                out.push(region(&id, name.to_string(), scope));
            }
            OrganizationEvent::VillageRegistered {
                town,
                village,
                name,
                ..
            } => out.push(region(&village, name.to_string(), town.to_string())),
            OrganizationEvent::CadreAppointed {
                person,
                name,
                role,
                scope,
                grid,
                ..
            } => {
                if let Some(state) = state {
                    state.appointed(
                        person.as_str(),
                        grid.as_ref().map(|g| g.to_string()),
                        scope.to_string(),
                    );
                }
                out.push(Stmt::new(
                    SUBJECT,
                    vec![
                        t("person"),
                        t(person.to_string()),
                        t(name.to_string()),
                        t(scope.to_string()),
                        t(role_name(&role)),
                        grid.map(|g| g.to_string()).into(),
                        at.into(),
                    ],
                ));
            }
            OrganizationEvent::CadreDeparted { person, scope, .. } => {
                if let Some(state) = state {
                    state.departed(person.as_str(), &scope.to_string());
                }
                out.push(Stmt::new(
                    DEPARTED,
                    vec![at.into(), t(person.to_string()), t(scope.to_string())],
                ));
            }
            OrganizationEvent::GridRegistered { .. } => {}
        }
        Ok(())
    }
}

impl Projection for Leaderboard {
    fn name(&self) -> &'static str {
        "leaderboard"
    }
    fn version(&self) -> u32 {
        // 2: the grid index of `leaderboard_subjects` is made with the table, the others
        // when a build is served. 3: credits to leads and grid leaders resolved once per
        // batch (`leads.rs`), the facts and the raters' scores written by key.
        3
    }
    fn categories(&self) -> &'static [&'static str] {
        &[
            "assignment",
            "procedure",
            "listing",
            "praise",
            "lingyan_rating",
            "lingyan_index",
            "region",
        ]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        self.apply_with(event, None, out)
    }

    /// The leads and the grids' people the batch's credits need (`Leads`).
    fn lookups(&self, events: &[RecordedEvent]) -> Vec<Lookup> {
        Leads::lookups(events)
    }

    fn batch_state(&self, rows: Vec<Vec<Vec<Option<String>>>>) -> Option<BatchState> {
        Some(Box::new(Leads::from_rows(rows)))
    }

    fn apply_with(
        &self,
        event: &RecordedEvent,
        state: Option<&mut BatchState>,
        out: &mut Vec<Stmt>,
    ) -> Result<(), String> {
        let state = state.and_then(|s| s.downcast_mut::<Leads>());
        match event.stream_id.split_once('-').map(|(c, _)| c) {
            Some("assignment") => Self::assignment(event, state, out),
            Some("procedure") => Self::procedure(event, state, out),
            Some("listing") => Self::listing(event, state, out),
            Some("praise") => Self::praise(event, out),
            Some("lingyan_rating") => Self::rating(event, out),
            Some("lingyan_index") => Self::definition(event, out),
            Some("region") => Self::organization(event, state, out),
            _ => Ok(()),
        }
    }
}
