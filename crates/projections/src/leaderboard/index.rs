//! The 领雁指数 of a village secretary in a period: each dimension from the record or from
//! the raters' scores (see [`super`]), weighted by a version of the index definition.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use xingcun_domain::ranking::DimensionKey;
use xingcun_domain::{IndexDefinition, RegionId, lingyan_index};
use xingcun_store::StoreError;

use super::period::Period;

/// Where a dimension's score came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DimensionSource {
    /// 治理能力 from the record: `on_time` ÷ (`accepted` + `returns`).
    Tasks {
        accepted: i64,
        on_time: i64,
        returns: i64,
    },
    /// 发展实绩 from the record: the village's procedure and listing points against the best
    /// village's of the period (hundredths of a point).
    Development {
        procedures_completed: i64,
        listings_won: i64,
        listings_delivered: i64,
        points: i64,
        best: i64,
    },
    /// The mean of `raters` scores from the rating sheets of `periods`.
    Raters { raters: i64, periods: Vec<String> },
    /// No score: counts 0.
    Missing,
}

/// One dimension of an index value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DimensionValue {
    pub key: String,
    pub name: String,
    pub weight: u32,
    /// 0..=10000 (hundredths), none when missing.
    pub score: Option<u32>,
    pub source: DimensionSource,
}

/// A 领雁指数 with its dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexValue {
    pub definition_version: u32,
    /// 0..=10000 (hundredths of a point).
    pub value: u32,
    pub dimensions: Vec<DimensionValue>,
    /// Raters' scores for dimensions this definition does not have (not counted).
    pub ignored: Vec<String>,
}

/// A published version of the index definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionVersion {
    pub scope: String,
    pub version: u32,
    pub published_at: String,
    pub definition: IndexDefinition,
}

/// The definition a board in `scope` is scored under: of the most specific scope whose
/// definition covers it, the version asked for or the latest; the default (version 0)
/// where none was published.
pub(super) fn definition_for(
    versions: &[DefinitionVersion],
    scope: &RegionId,
    version: Option<u32>,
) -> Result<IndexDefinition, StoreError> {
    let covering: Vec<&DefinitionVersion> = versions
        .iter()
        .filter(|v| RegionId::parse(&v.scope).is_ok_and(|s| s.contains(scope)))
        .collect();
    let own = covering
        .iter()
        .map(|v| v.scope.as_str())
        .max_by_key(|s| RegionId::parse(s).map(|r| r.level()).ok());
    let mine = covering.iter().filter(|v| Some(v.scope.as_str()) == own);
    match version {
        Some(0) => Ok(IndexDefinition::default()),
        None => Ok(mine
            .max_by_key(|v| v.version)
            .map_or_else(IndexDefinition::default, |v| v.definition.clone())),
        Some(n) => mine
            .clone()
            .find(|v| v.version == n)
            .map(|v| v.definition.clone())
            .ok_or_else(|| StoreError::InvalidInput(format!("领雁指数定义没有第{n}版"))),
    }
}

fn div_round(num: u64, den: u64) -> u64 {
    if den == 0 {
        0
    } else {
        (2 * num + den) / (2 * den)
    }
}

fn centi(num: i64, den: i64) -> u32 {
    let (num, den) = (num.max(0) as u64, den.max(0) as u64);
    u32::try_from(div_round(num.saturating_mul(10_000), den).min(10_000)).unwrap_or(10_000)
}

/// What the record says of one village in one period.
#[derive(Debug, Clone, Default)]
pub(super) struct VillageRecord {
    pub(super) accepted: i64,
    pub(super) on_time: i64,
    pub(super) returns: i64,
    pub(super) development_points: i64,
    pub(super) procedures_completed: i64,
    pub(super) listings_won: i64,
    pub(super) listings_delivered: i64,
}

/// One (village, sheet period, dimension) of raters' scores.
#[derive(Debug, Clone)]
pub(super) struct Rated {
    pub(super) period: Period,
    pub(super) dimension: String,
    pub(super) secretary: String,
    pub(super) score_sum: i64,
    pub(super) raters: i64,
}

/// The raters' mean per dimension for `period` (see the module documentation): the sheets
/// of the period and of the periods within it, else of the closest period around it.
pub(super) fn rater_scores(
    period: &Period,
    rated: &[&Rated],
) -> BTreeMap<String, (u32, DimensionSource)> {
    let keys: BTreeSet<&str> = rated.iter().map(|r| r.dimension.as_str()).collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let of_key = rated.iter().filter(|r| r.dimension == key);
        let within: Vec<&&Rated> = of_key
            .clone()
            .filter(|r| period.contains(&r.period))
            .collect();
        let chosen = if within.is_empty() {
            period
                .enclosing()
                .into_iter()
                .map(|p| of_key.clone().filter(|r| r.period == p).collect::<Vec<_>>())
                .find(|rows| !rows.is_empty())
                .unwrap_or_default()
        } else {
            within
        };
        let raters: i64 = chosen.iter().map(|r| r.raters).sum();
        if raters == 0 {
            continue;
        }
        let sum: i64 = chosen.iter().map(|r| r.score_sum).sum();
        // As the domain's `average_scores`: whole points × 100 over the raters, half up.
        let mean = u32::try_from(div_round(sum.max(0) as u64 * 100, raters as u64)).unwrap_or(0);
        let periods: BTreeSet<String> = chosen.iter().map(|r| r.period.to_string()).collect();
        out.insert(
            key.to_owned(),
            (
                mean,
                DimensionSource::Raters {
                    raters,
                    periods: periods.into_iter().collect(),
                },
            ),
        );
    }
    out
}

/// A village secretary's 领雁指数 for one period under `definition`.
pub(super) fn index_of(
    definition: &IndexDefinition,
    period: &Period,
    record: Option<&VillageRecord>,
    best_development: i64,
    rated: &[&Rated],
) -> Result<IndexValue, StoreError> {
    let mut raters = rater_scores(period, rated);
    let mut scores: BTreeMap<DimensionKey, u32> = BTreeMap::new();
    let mut dimensions = Vec::new();
    for d in definition.dimensions.dimensions() {
        let key = d.key.as_str();
        let from_record = match (key, record) {
            (DimensionKey::GOVERNANCE, Some(r)) if r.accepted + r.returns > 0 => Some((
                centi(r.on_time, r.accepted + r.returns),
                DimensionSource::Tasks {
                    accepted: r.accepted,
                    on_time: r.on_time,
                    returns: r.returns,
                },
            )),
            (DimensionKey::DEVELOPMENT, _) if best_development > 0 => {
                let r = record.cloned().unwrap_or_default();
                Some((
                    centi(r.development_points, best_development),
                    DimensionSource::Development {
                        procedures_completed: r.procedures_completed,
                        listings_won: r.listings_won,
                        listings_delivered: r.listings_delivered,
                        points: r.development_points,
                        best: best_development,
                    },
                ))
            }
            _ => None,
        };
        let from_raters = raters.remove(key);
        let (score, source) = match from_record.or(from_raters) {
            Some((score, source)) => {
                scores.insert(d.key.clone(), score);
                (Some(score), source)
            }
            None => (None, DimensionSource::Missing),
        };
        dimensions.push(DimensionValue {
            key: key.to_owned(),
            name: d.name.clone(),
            weight: d.weight,
            score,
            source,
        });
    }
    // Raters' scores for dimensions this definition does not have: the domain lists them.
    for (key, (score, _)) in raters {
        if let Ok(k) = DimensionKey::parse(&key) {
            scores.insert(k, score);
        }
    }
    let index = lingyan_index(definition, &scores)
        .map_err(|e| StoreError::InvalidInput(format!("领雁指数: {e}")))?;
    Ok(IndexValue {
        definition_version: index.definition_version,
        value: index.value_centi,
        dimensions,
        ignored: index.ignored.iter().map(ToString::to_string).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xingcun_domain::ranking::{Dimension, DimensionScore, IndexDimensions, average_scores};

    fn p(s: &str) -> Period {
        s.parse().expect("period")
    }

    fn rated(period: &str, dimension: &str, scores: &[u32]) -> Rated {
        Rated {
            period: p(period),
            dimension: dimension.to_owned(),
            secretary: "s".to_owned(),
            score_sum: scores.iter().map(|s| i64::from(*s)).sum(),
            raters: scores.len() as i64,
        }
    }

    #[test]
    fn raters_means_match_the_domain_and_take_the_closest_sheets() {
        // Three raters' 90, 85, 86 on one dimension: the domain's mean, to the hundredth.
        let sheets: Vec<Vec<DimensionScore>> = [90, 85, 86]
            .iter()
            .map(|s| {
                vec![DimensionScore {
                    key: DimensionKey::parse("leadership").unwrap(),
                    score: *s,
                }]
            })
            .collect();
        let domain = average_scores(sheets.iter().map(Vec::as_slice));
        let year = rated("2025", "leadership", &[90, 85, 86]);
        let q1 = rated("2025-Q1", "leadership", &[60]);
        let march = rated("2025-03", "public_reputation", &[70, 71]);
        let ours = rater_scores(&p("2025-05"), &[&year]);
        assert_eq!(
            ours["leadership"].0,
            domain[&DimensionKey::parse("leadership").unwrap()]
        );
        assert_eq!(ours["leadership"].0, 8700);
        // The year board: every sheet within the year, merged rater by rater.
        let all = rater_scores(&p("2025"), &[&year, &q1, &march]);
        assert_eq!(all["leadership"].0, 8025);
        assert_eq!(all["public_reputation"].0, 7050);
        // March: its own sheet; a dimension it lacks from Q1, else the year.
        let m = rater_scores(&p("2025-03"), &[&year, &q1, &march]);
        assert_eq!(m["leadership"].0, 6000);
        assert_eq!(
            m["leadership"].1,
            DimensionSource::Raters {
                raters: 1,
                periods: vec!["2025-Q1".into()]
            }
        );
        assert_eq!(m["public_reputation"].0, 7050);
        // April: nothing of Q2, so the year's.
        assert_eq!(
            rater_scores(&p("2025-04"), &[&year, &q1])["leadership"].0,
            8700
        );
    }

    fn definition(weights: [u32; 6], version: u32) -> IndexDefinition {
        let mut d: Vec<Dimension> = IndexDimensions::default().dimensions().to_vec();
        for (dim, w) in d.iter_mut().zip(weights) {
            dim.weight = w;
        }
        IndexDefinition {
            version,
            dimensions: IndexDimensions::new(d).unwrap(),
        }
    }

    #[test]
    fn the_index_takes_record_dimensions_from_the_record_and_the_rest_from_raters() {
        let record = VillageRecord {
            accepted: 3,
            on_time: 2,
            returns: 1,
            development_points: 1_000,
            procedures_completed: 1,
            ..VillageRecord::default()
        };
        let sheets = [
            rated("2025", "leadership", &[80]),
            rated("2025", "governance", &[100]),
            rated("2025", "innovation", &[100]),
        ];
        let refs: Vec<&Rated> = sheets.iter().collect();
        let v = index_of(
            &definition([1; 6], 2),
            &p("2025"),
            Some(&record),
            4_000,
            &refs,
        )
        .unwrap();
        let score = |k: &str| v.dimensions.iter().find(|d| d.key == k).unwrap();
        // 2 on time of 3 accepted + 1 returned: 50 %; the raters' 100 is not used.
        assert_eq!(score("governance").score, Some(5_000));
        assert!(matches!(
            score("governance").source,
            DimensionSource::Tasks { .. }
        ));
        // 10 points against the best village's 40.
        assert_eq!(score("development").score, Some(2_500));
        assert_eq!(score("leadership").score, Some(8_000));
        assert_eq!(score("integrity").source, DimensionSource::Missing);
        assert_eq!(v.ignored, vec!["innovation".to_owned()]);
        // (5000 + 2500 + 8000) / 6, half up, as the domain computes it.
        assert_eq!(v.value, 2583);
        assert_eq!(v.definition_version, 2);
        // Without tasks on record, 治理能力 is the raters'; new weights change the value.
        let v = index_of(
            &definition([0, 1, 0, 0, 0, 0], 3),
            &p("2025"),
            None,
            0,
            &refs,
        )
        .unwrap();
        assert_eq!(v.value, 10_000);
    }

    #[test]
    fn the_definition_in_force_is_the_latest_of_the_most_specific_scope() {
        let version = |scope: &str, n: u32, weight: u32| DefinitionVersion {
            scope: scope.to_owned(),
            version: n,
            published_at: String::new(),
            definition: definition([weight; 6], n),
        };
        let versions = [
            version("330600000000", 1, 1),
            version("330600000000", 2, 2),
            version("330681000000", 1, 5),
        ];
        let town = RegionId::parse("330624004000").unwrap();
        let zhuji = RegionId::parse("330681109000").unwrap();
        assert_eq!(definition_for(&versions, &town, None).unwrap().version, 2);
        assert_eq!(
            definition_for(&versions, &town, Some(1)).unwrap().version,
            1
        );
        assert_eq!(
            definition_for(&versions, &town, Some(0)).unwrap(),
            IndexDefinition::default()
        );
        assert!(definition_for(&versions, &town, Some(3)).is_err());
        let own = definition_for(&versions, &zhuji, None).unwrap();
        assert_eq!(own.dimensions, definition([5; 6], 1).dimensions);
        assert_eq!(
            definition_for(&[], &town, None).unwrap(),
            IndexDefinition::default()
        );
    }
}
