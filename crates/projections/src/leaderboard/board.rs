//! The boards as they are asked for: facts read, ranks computed at query time.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use xingcun_domain::ranking::IndexDimensions;
use xingcun_domain::{IndexDefinition, RegionId, RegionLevel};
use xingcun_store::StoreError;

use super::index::{DefinitionVersion, IndexValue, Rated, VillageRecord, definition_for, index_of};
use super::period::Period;
use crate::sql::{ReadDb, int, text};

/// A row with something on record: a task accepted or returned, a procedure, a listing, a
/// praise still standing (a row whose only praise was withdrawn is not on the boards).
const ACTIVE: &str = "tasks_accepted + task_returns + procedures_completed + listings_won \
     + listings_delivered + praises > 0";

/// 兴村治社榜 or 先锋干部榜.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Board {
    /// 兴村治社榜: villages.
    Villages,
    /// 先锋干部榜: cadres.
    Cadres,
}

impl Board {
    fn key(self) -> &'static str {
        match self {
            Board::Villages => "village",
            Board::Cadres => "cadre",
        }
    }
}

/// What a board ranks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "measure", rename_all = "snake_case")]
pub enum Measure {
    /// 工分.
    Points,
    /// 领雁指数, under the version in force (`None`) or the one named (0: the default).
    Index { version: Option<u32> },
}

/// A board to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardQuery {
    pub board: Board,
    /// A city, county, town or village (a village: its own standing).
    pub scope: RegionId,
    pub period: Period,
    pub measure: Measure,
    /// The first `limit` rows (by rank), or all.
    pub limit: Option<u32>,
}

/// Points by source, in hundredths of a point, and the counts behind them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PointsBreakdown {
    pub tasks: i64,
    pub procedures: i64,
    pub listings: i64,
    pub praise: i64,
    pub total: i64,
    pub tasks_accepted: i64,
    pub tasks_on_time: i64,
    /// Returns for rework (village rows only).
    pub task_returns: i64,
    pub procedures_completed: i64,
    pub listings_won: i64,
    pub listings_delivered: i64,
    /// Praise standing (given and not withdrawn).
    pub praises: i64,
}

/// One row of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderboardRow {
    /// 1 for the first; ties share a rank (1, 1, 3).
    pub rank: i64,
    /// The village code, or the cadre's person id.
    pub subject: String,
    pub name: Option<String>,
    pub village: String,
    pub village_name: Option<String>,
    pub town: String,
    pub county: String,
    /// On a points board.
    pub points: Option<PointsBreakdown>,
    /// On an index board.
    pub index: Option<IndexValue>,
}

/// The column a scope is matched on.
fn scope_column(scope: &RegionId) -> Result<&'static str, StoreError> {
    match scope.level() {
        RegionLevel::Village => Ok("village"),
        RegionLevel::Town => Ok("town"),
        RegionLevel::County => Ok("county"),
        RegionLevel::City => Ok("city"),
        RegionLevel::Province => Err(StoreError::InvalidInput(format!(
            "排行范围 {scope} 应为市、县(市、区)、乡镇(街道)或村(社区)"
        ))),
    }
}

/// The significant prefix of a region code (`3306` for the city), for `like`.
fn code_prefix(scope: &RegionId) -> String {
    let len = match scope.level() {
        RegionLevel::Province => 2,
        RegionLevel::City => 4,
        RegionLevel::County => 6,
        RegionLevel::Town => 9,
        RegionLevel::Village => 12,
    };
    scope.as_str()[..len].to_owned()
}

/// A board: its rows by rank (ties share a rank, then by subject), the first `limit`.
pub async fn leaderboard(
    db: &ReadDb,
    query: &LeaderboardQuery,
) -> Result<Vec<LeaderboardRow>, StoreError> {
    match query.measure {
        Measure::Points => points_board(db, query).await,
        Measure::Index { version } => index_board(db, query, version).await,
    }
}

/// One subject's row on a board (its rank in the scope, its points or its index with every
/// dimension and its source), if it is on it. On the village board the subject is the
/// village's code; on the cadre board the person's id (a cadre on record in two villages of
/// the scope has a row for each: the first by rank).
pub async fn standing(
    db: &ReadDb,
    query: &LeaderboardQuery,
    subject: &str,
) -> Result<Option<LeaderboardRow>, StoreError> {
    let all = LeaderboardQuery {
        limit: None,
        ..query.clone()
    };
    Ok(leaderboard(db, &all)
        .await?
        .into_iter()
        .find(|r| r.subject == subject))
}

async fn points_board(
    db: &ReadDb,
    query: &LeaderboardQuery,
) -> Result<Vec<LeaderboardRow>, StoreError> {
    let column = scope_column(&query.scope)?;
    let sql = format!(
        "select p.subject, p.village, p.town, p.county, p.task_points, p.procedure_points, \
         p.listing_points, p.praise_points, p.total_points, p.tasks_accepted, p.tasks_on_time, \
         p.task_returns, p.procedures_completed, p.listings_won, p.listings_delivered, p.praises, \
         cast(rank() over (order by p.total_points desc) as bigint) as standing, n.name, v.name \
         from {points} p \
         left join {subjects} n on n.kind = $1 and n.id = p.subject \
         left join {subjects} v on v.kind = 'region' and v.id = p.village \
         where p.board = $2 and p.period = $3 and p.{column} = $4 \
         and {ACTIVE} \
         order by standing, p.subject, p.village limit $5",
        points = db.qualified("leaderboard_points"),
        subjects = db.qualified("leaderboard_subjects"),
    );
    let kind = match query.board {
        Board::Villages => "region",
        Board::Cadres => "person",
    };
    let limit = query.limit.map_or(i64::MAX, i64::from);
    let rows = db
        .fetch(
            &sql,
            &[
                kind.into(),
                query.board.key().into(),
                query.period.to_string().into(),
                query.scope.to_string().into(),
                limit.into(),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let n = |i| int(r, i).unwrap_or(0);
            LeaderboardRow {
                rank: n(16),
                subject: text(r, 0).unwrap_or_default(),
                name: text(r, 17),
                village: text(r, 1).unwrap_or_default(),
                village_name: text(r, 18),
                town: text(r, 2).unwrap_or_default(),
                county: text(r, 3).unwrap_or_default(),
                points: Some(PointsBreakdown {
                    tasks: n(4),
                    procedures: n(5),
                    listings: n(6),
                    praise: n(7),
                    total: n(8),
                    tasks_accepted: n(9),
                    tasks_on_time: n(10),
                    task_returns: n(11),
                    procedures_completed: n(12),
                    listings_won: n(13),
                    listings_delivered: n(14),
                    praises: n(15),
                }),
                index: None,
            }
        })
        .collect())
}

/// Every published version of the index definition, by scope and version.
pub async fn index_definitions(db: &ReadDb) -> Result<Vec<DefinitionVersion>, StoreError> {
    let sql = format!(
        "select scope, version, dimensions, published_at from {} order by scope, version",
        db.qualified("leaderboard_index_versions")
    );
    db.fetch(&sql, &[])
        .await?
        .iter()
        .map(|r| {
            // Written by `apply` from a valid definition: a row that does not decode is a
            // damaged read database.
            let corrupt = |e: Box<dyn std::error::Error + Send + Sync>| {
                StoreError::Database(sqlx::Error::Decode(e))
            };
            let version = u32::try_from(int(r, 1).unwrap_or(0)).map_err(|e| corrupt(e.into()))?;
            let dimensions: IndexDimensions = serde_json::from_str(&text(r, 2).unwrap_or_default())
                .map_err(|e| corrupt(e.into()))?;
            Ok(DefinitionVersion {
                scope: text(r, 0).unwrap_or_default(),
                version,
                published_at: text(r, 3).unwrap_or_default(),
                definition: IndexDefinition {
                    version,
                    dimensions,
                },
            })
        })
        .collect()
}

async fn index_board(
    db: &ReadDb,
    query: &LeaderboardQuery,
    version: Option<u32>,
) -> Result<Vec<LeaderboardRow>, StoreError> {
    let column = scope_column(&query.scope)?;
    let period = query.period;
    let definition = definition_for(&index_definitions(db).await?, &query.scope, version)?;
    let points = db.qualified("leaderboard_points");
    let key = period.to_string();

    // Where each village stands: the record of the period …
    let facts = db
        .fetch(
            &format!(
                "select village, town, county, tasks_accepted, tasks_on_time, task_returns, \
                 procedure_points + listing_points, procedures_completed, listings_won, listings_delivered \
                 from {points} where board = 'village' and period = $1 and {column} = $2 and {ACTIVE}"
            ),
            &[key.as_str().into(), query.scope.to_string().into()],
        )
        .await?;
    // … against the best development of any village of the record in the period …
    let best = db
        .fetch(
            &format!(
                "select cast(coalesce(max(procedure_points + listing_points), 0) as bigint) \
                 from {points} where board = 'village' and period = $1"
            ),
            &[key.as_str().into()],
        )
        .await?
        .first()
        .and_then(|r| int(r, 0))
        .unwrap_or(0);
    // … and the raters' scores of the period's year.
    let ratings = db
        .fetch(
            &format!(
                "select village, town, county, period, dimension, secretary, score_sum, raters \
                 from {} where year = $1 and {column} = $2",
                db.qualified("leaderboard_ratings")
            ),
            &[
                i64::from(period.year_number()).into(),
                query.scope.to_string().into(),
            ],
        )
        .await?;
    let names = db
        .fetch(
            &format!(
                "select kind, id, name, scope, active from {} where (kind = 'region' and id like $1) \
                 or (kind = 'person' and role = 'village_secretary' and scope like $1)",
                db.qualified("leaderboard_subjects")
            ),
            &[format!("{}%", code_prefix(&query.scope)).into()],
        )
        .await?;

    // village -> (town, county)
    let mut places: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut records: BTreeMap<String, VillageRecord> = BTreeMap::new();
    for r in &facts {
        let village = text(r, 0).unwrap_or_default();
        let n = |i| int(r, i).unwrap_or(0);
        places.insert(
            village.clone(),
            (
                text(r, 1).unwrap_or_default(),
                text(r, 2).unwrap_or_default(),
            ),
        );
        records.insert(
            village,
            VillageRecord {
                accepted: n(3),
                on_time: n(4),
                returns: n(5),
                development_points: n(6),
                procedures_completed: n(7),
                listings_won: n(8),
                listings_delivered: n(9),
            },
        );
    }
    let mut rated: BTreeMap<String, Vec<Rated>> = BTreeMap::new();
    for r in &ratings {
        let Some(sheet) = text(r, 3).and_then(|p| p.parse::<Period>().ok()) else {
            continue;
        };
        if !(period.contains(&sheet) || sheet.contains(&period)) {
            continue;
        }
        let village = text(r, 0).unwrap_or_default();
        places.entry(village.clone()).or_insert_with(|| {
            (
                text(r, 1).unwrap_or_default(),
                text(r, 2).unwrap_or_default(),
            )
        });
        rated.entry(village).or_default().push(Rated {
            period: sheet,
            dimension: text(r, 4).unwrap_or_default(),
            secretary: text(r, 5).unwrap_or_default(),
            score_sum: int(r, 6).unwrap_or(0),
            raters: int(r, 7).unwrap_or(0),
        });
    }
    let mut region_names: BTreeMap<String, String> = BTreeMap::new();
    let mut person_names: BTreeMap<String, String> = BTreeMap::new();
    // village -> the secretaries in office, by id.
    let mut in_office: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &names {
        let id = text(r, 1).unwrap_or_default();
        let name = text(r, 2).unwrap_or_default();
        if text(r, 0).as_deref() == Some("region") {
            region_names.insert(id, name);
        } else {
            if int(r, 4) == Some(1) {
                in_office
                    .entry(text(r, 3).unwrap_or_default())
                    .or_default()
                    .insert(id.clone());
            }
            person_names.insert(id, name);
        }
    }

    let mut rows = Vec::new();
    for (village, (town, county)) in &places {
        let sheets: Vec<&Rated> = rated
            .get(village)
            .map_or_else(Vec::new, |v| v.iter().collect());
        let subject = match query.board {
            Board::Villages => Some(village.clone()),
            // The secretary the period's sheets name (else those of a period within or
            // around it), else the one in office now.
            Board::Cadres => sheets
                .iter()
                .filter(|r| r.period == period)
                .chain(sheets.iter())
                .map(|r| r.secretary.clone())
                .next()
                .or_else(|| {
                    in_office
                        .get(village)
                        .and_then(|s| s.iter().next().cloned())
                }),
        };
        let Some(subject) = subject else { continue };
        let index = index_of(&definition, &period, records.get(village), best, &sheets)?;
        rows.push(LeaderboardRow {
            rank: 0,
            name: match query.board {
                Board::Villages => region_names.get(village).cloned(),
                Board::Cadres => person_names.get(&subject).cloned(),
            },
            subject,
            village: village.clone(),
            village_name: region_names.get(village).cloned(),
            town: town.clone(),
            county: county.clone(),
            points: None,
            index: Some(index),
        });
    }
    let value = |r: &LeaderboardRow| r.index.as_ref().map_or(0, |i| i.value);
    rows.sort_by(|a, b| {
        value(b)
            .cmp(&value(a))
            .then_with(|| a.subject.cmp(&b.subject))
            .then_with(|| a.village.cmp(&b.village))
    });
    let mut previous = None;
    let mut rank = 0;
    for (i, row) in rows.iter_mut().enumerate() {
        if previous != Some(value(row)) {
            rank = i as i64 + 1;
            previous = Some(value(row));
        }
        row.rank = rank;
    }
    if let Some(limit) = query.limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(rows)
}
