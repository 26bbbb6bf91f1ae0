//! Inputs of the leaderboards (亮榜争先): real-time praise (实时表扬), raters' scores for the
//! 领雁指数 dimensions, and the versioned index definition, all as events so that boards can
//! be replayed when the weights change; plus the pure function computing a village
//! secretary's 领雁指数.
//!
//! Three aggregates:
//! - [`IndexDefinitionStream`] (`lingyan_index-{scope}`): the definition, one version per event;
//! - [`Praise`] (`praise-{id}`): one praise, given and possibly withdrawn;
//! - [`RatingSheet`] (`lingyan_rating-{village}-{period}`): the raters' dimension scores for
//!   one village secretary in one period; each rater records once per sheet.
//!
//! Decisions made here:
//! - Exactly six dimensions; 领导能力, 治理能力, 群众口碑 are always among them (DOMAIN.md),
//!   the other three are named by the definition (default 发展实绩, 担当作为, 廉洁自律).
//! - Weights are non-negative integers with a positive total; the index is the weighted mean
//!   `Σ wᵢ·sᵢ / Σ wᵢ`, so only the ratios matter. A dimension without a score counts as 0 and
//!   is listed in [`IndexScore::missing`]; scores for dimensions the definition no longer has
//!   are ignored and listed in [`IndexScore::ignored`], so old history replays under new
//!   definitions.
//! - Scores are whole points 0..=100 per rater; averages and the index are kept in hundredths
//!   (`centi`, 0..=10000), rounded half up, so replay is exact and deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::people::{Actor, PersonId, Role};
use crate::region::{RegionId, RegionLevel};
use crate::text::Text;

// ---------------------------------------------------------------------------------------------
// The index definition (领雁指数)
// ---------------------------------------------------------------------------------------------

/// Stable key of a dimension, e.g. `leadership`: 1..=32 of `[a-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DimensionKey(String);

impl DimensionKey {
    /// 领导能力.
    pub const LEADERSHIP: &'static str = "leadership";
    /// 治理能力.
    pub const GOVERNANCE: &'static str = "governance";
    /// 群众口碑.
    pub const REPUTATION: &'static str = "public_reputation";
    /// 发展实绩.
    pub const DEVELOPMENT: &'static str = "development";
    /// 担当作为.
    pub const RESPONSIBILITY: &'static str = "responsibility";
    /// 廉洁自律.
    pub const INTEGRITY: &'static str = "integrity";
    /// The three dimensions every definition has.
    pub const CORE: [&'static str; 3] = [Self::LEADERSHIP, Self::GOVERNANCE, Self::REPUTATION];

    pub fn parse(raw: &str) -> Result<Self, IndexDefinitionError> {
        let key = raw.trim();
        let ok = !key.is_empty()
            && key.len() <= 32
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(DimensionKey(key.to_owned()))
        } else {
            Err(IndexDefinitionError::BadKey(raw.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DimensionKey {
    type Error = IndexDefinitionError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        DimensionKey::parse(&raw)
    }
}

impl From<DimensionKey> for String {
    fn from(k: DimensionKey) -> String {
        k.0
    }
}

impl fmt::Display for DimensionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One dimension of the index: key, the name cadres read, weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    pub key: DimensionKey,
    pub name: String,
    pub weight: u32,
}

/// The six weighted dimensions of the 领雁指数. Cannot hold an invalid set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Dimension>", into = "Vec<Dimension>")]
pub struct IndexDimensions(Vec<Dimension>);

/// An index definition that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexDefinitionError {
    #[error("维度编号 {0:?} 无效:只能使用小写字母、数字、下划线")]
    BadKey(String),
    #[error("领雁指数必须正好有6个维度,现有{0}个")]
    WrongDimensionCount(usize),
    #[error("缺少必备维度 {0}(领导能力、治理能力、群众口碑)")]
    MissingCoreDimension(&'static str),
    #[error("维度 {0} 重复")]
    DuplicateDimension(DimensionKey),
    #[error("维度 {0} 的名称不能为空,最多20个字")]
    BadName(DimensionKey),
    #[error("维度 {0} 的权重过大(最多1000)")]
    WeightTooLarge(DimensionKey),
    #[error("各维度权重之和必须大于零")]
    NonPositiveTotalWeight,
}

impl Rejection for IndexDefinitionError {
    fn code(&self) -> &'static str {
        "INVALID_INPUT"
    }
}

impl IndexDimensions {
    pub const COUNT: usize = 6;
    pub const MAX_WEIGHT: u32 = 1000;

    pub fn new(dimensions: Vec<Dimension>) -> Result<Self, IndexDefinitionError> {
        if dimensions.len() != Self::COUNT {
            return Err(IndexDefinitionError::WrongDimensionCount(dimensions.len()));
        }
        let mut keys = BTreeSet::new();
        let mut clean = Vec::with_capacity(Self::COUNT);
        for d in dimensions {
            if !keys.insert(d.key.clone()) {
                return Err(IndexDefinitionError::DuplicateDimension(d.key));
            }
            let name = d.name.trim();
            if name.is_empty() || name.chars().count() > 20 {
                return Err(IndexDefinitionError::BadName(d.key));
            }
            if d.weight > Self::MAX_WEIGHT {
                return Err(IndexDefinitionError::WeightTooLarge(d.key));
            }
            clean.push(Dimension {
                key: d.key,
                name: name.to_owned(),
                weight: d.weight,
            });
        }
        for core in DimensionKey::CORE {
            if !clean.iter().any(|d| d.key.as_str() == core) {
                return Err(IndexDefinitionError::MissingCoreDimension(core));
            }
        }
        if clean.iter().all(|d| d.weight == 0) {
            return Err(IndexDefinitionError::NonPositiveTotalWeight);
        }
        Ok(IndexDimensions(clean))
    }

    pub fn dimensions(&self) -> &[Dimension] {
        &self.0
    }
    pub fn total_weight(&self) -> u64 {
        self.0.iter().map(|d| u64::from(d.weight)).sum()
    }
    pub fn contains(&self, key: &DimensionKey) -> bool {
        self.0.iter().any(|d| &d.key == key)
    }
}

impl Default for IndexDimensions {
    /// 领导能力, 治理能力, 群众口碑, 发展实绩, 担当作为, 廉洁自律, equal weights.
    fn default() -> Self {
        let d = |key: &str, name: &str| Dimension {
            key: DimensionKey(key.to_owned()),
            name: name.to_owned(),
            weight: 1,
        };
        IndexDimensions(vec![
            d(DimensionKey::LEADERSHIP, "领导能力"),
            d(DimensionKey::GOVERNANCE, "治理能力"),
            d(DimensionKey::REPUTATION, "群众口碑"),
            d(DimensionKey::DEVELOPMENT, "发展实绩"),
            d(DimensionKey::RESPONSIBILITY, "担当作为"),
            d(DimensionKey::INTEGRITY, "廉洁自律"),
        ])
    }
}

impl TryFrom<Vec<Dimension>> for IndexDimensions {
    type Error = IndexDefinitionError;
    fn try_from(d: Vec<Dimension>) -> Result<Self, Self::Error> {
        IndexDimensions::new(d)
    }
}

impl From<IndexDimensions> for Vec<Dimension> {
    fn from(d: IndexDimensions) -> Self {
        d.0
    }
}

/// One version of the index definition. The default (version 0, equal weights) applies
/// before any version was published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDefinition {
    /// 1, 2, …; version 0 is the built-in default before any was published.
    pub version: u32,
    pub dimensions: IndexDimensions,
}

/// A 领雁指数 as computed from dimension scores under one definition version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexScore {
    pub definition_version: u32,
    /// 0..=10000 (hundredths of a point).
    pub value_centi: u32,
    /// Dimensions of the definition without a score (counted as 0).
    pub missing: Vec<DimensionKey>,
    /// Scores for dimensions the definition does not have (not counted).
    pub ignored: Vec<DimensionKey>,
}

/// Scores that cannot enter the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("维度 {key} 的得分 {centi} 超出0至100分")]
    ScoreOutOfRange { key: DimensionKey, centi: u32 },
}

impl Rejection for IndexError {
    fn code(&self) -> &'static str {
        "INVALID_INPUT"
    }
}

fn div_round(num: u64, den: u64) -> u64 {
    if den == 0 {
        0
    } else {
        (2 * num + den) / (2 * den)
    }
}

/// The 领雁指数 of a village secretary: the weighted mean of the dimension scores (hundredths
/// of a point, 0..=10000) under `definition`.
pub fn lingyan_index(
    definition: &IndexDefinition,
    scores_centi: &BTreeMap<DimensionKey, u32>,
) -> Result<IndexScore, IndexError> {
    if let Some((key, centi)) = scores_centi.iter().find(|(_, c)| **c > 10_000) {
        return Err(IndexError::ScoreOutOfRange {
            key: key.clone(),
            centi: *centi,
        });
    }
    let dims = definition.dimensions.dimensions();
    let mut num = 0u64;
    let mut missing = Vec::new();
    for d in dims {
        match scores_centi.get(&d.key) {
            Some(score) => num += u64::from(d.weight) * u64::from(*score),
            None => missing.push(d.key.clone()),
        }
    }
    let ignored = scores_centi
        .keys()
        .filter(|k| !definition.dimensions.contains(k))
        .cloned()
        .collect();
    let value = div_round(num, definition.dimensions.total_weight());
    Ok(IndexScore {
        definition_version: definition.version,
        value_centi: u32::try_from(value).unwrap_or(10_000).min(10_000),
        missing,
        ignored,
    })
}

/// Per dimension, the mean of the raters' whole-point scores, in hundredths, rounded half up.
pub fn average_scores<'a>(
    sheets: impl IntoIterator<Item = &'a [DimensionScore]>,
) -> BTreeMap<DimensionKey, u32> {
    let mut sums: BTreeMap<DimensionKey, (u64, u64)> = BTreeMap::new();
    for sheet in sheets {
        for s in sheet {
            let entry = sums.entry(s.key.clone()).or_insert((0, 0));
            entry.0 += u64::from(s.score) * 100;
            entry.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(k, (sum, n))| (k, u32::try_from(div_round(sum, n)).unwrap_or(u32::MAX)))
        .collect()
}

/// Commands of the index definition stream.
#[derive(Debug, Clone)]
pub enum IndexDefinitionCommand {
    /// Publish a new version of the 领雁指数 definition for `scope` (normally 绍兴市).
    PublishIndexDefinition {
        scope: RegionId,
        dimensions: IndexDimensions,
    },
}

/// Facts of the index definition stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum IndexDefinitionEvent {
    IndexDefinitionPublished {
        scope: RegionId,
        version: u32,
        dimensions: IndexDimensions,
        published_by: PersonId,
        published_at: DateTime<Utc>,
    },
}

impl DomainEvent for IndexDefinitionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            IndexDefinitionEvent::IndexDefinitionPublished { .. } => "IndexDefinitionPublished",
        }
    }
    fn regions(&self) -> Vec<RegionId> {
        match self {
            IndexDefinitionEvent::IndexDefinitionPublished { scope, .. } => vec![scope.clone()],
        }
    }
}

/// Why a definition could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexDefinitionStreamError {
    #[error("无权操作:只有系统管理员可以修改领雁指数的定义")]
    Forbidden,
    #[error("该指数定义属于 {0},不能改为其他范围")]
    WrongScope(RegionId),
    #[error("与当前版本完全相同,无需发布新版本")]
    Unchanged,
}

impl Rejection for IndexDefinitionStreamError {
    fn code(&self) -> &'static str {
        match self {
            IndexDefinitionStreamError::Forbidden => "FORBIDDEN",
            IndexDefinitionStreamError::WrongScope(_) => "INVALID_INPUT",
            IndexDefinitionStreamError::Unchanged => "CONFLICT",
        }
    }
}

/// The 领雁指数 definition of one scope, all versions (stream `lingyan_index-{scope}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexDefinitionStream {
    scope: Option<RegionId>,
    versions: Vec<IndexDefinition>,
}

impl IndexDefinitionStream {
    /// The definition in force: the latest version, or the default (version 0).
    pub fn current(&self) -> IndexDefinition {
        self.versions.last().cloned().unwrap_or_default()
    }
    /// A given version (0 = the default).
    pub fn version(&self, version: u32) -> Option<IndexDefinition> {
        if version == 0 {
            return Some(IndexDefinition::default());
        }
        self.versions.iter().find(|d| d.version == version).cloned()
    }
}

impl Aggregate for IndexDefinitionStream {
    const CATEGORY: &'static str = "lingyan_index";
    type Command = IndexDefinitionCommand;
    type Event = IndexDefinitionEvent;
    type Error = IndexDefinitionStreamError;

    fn decide(
        &self,
        command: IndexDefinitionCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<IndexDefinitionEvent>, IndexDefinitionStreamError> {
        let IndexDefinitionCommand::PublishIndexDefinition { scope, dimensions } = command;
        if *ctx.actor.role() != Role::Administrator || !ctx.actor.covers(&scope) {
            return Err(IndexDefinitionStreamError::Forbidden);
        }
        if let Some(own) = &self.scope
            && own != &scope
        {
            return Err(IndexDefinitionStreamError::WrongScope(own.clone()));
        }
        let current = self.current();
        if current.dimensions == dimensions {
            return Err(IndexDefinitionStreamError::Unchanged);
        }
        Ok(vec![IndexDefinitionEvent::IndexDefinitionPublished {
            scope,
            version: current.version.saturating_add(1),
            dimensions,
            published_by: ctx.actor.id.clone(),
            published_at: ctx.now,
        }])
    }

    fn evolve(&mut self, event: &IndexDefinitionEvent) {
        let IndexDefinitionEvent::IndexDefinitionPublished {
            scope,
            version,
            dimensions,
            ..
        } = event;
        self.scope = Some(scope.clone());
        self.versions.push(IndexDefinition {
            version: *version,
            dimensions: dimensions.clone(),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Praise (实时表扬)
// ---------------------------------------------------------------------------------------------

/// Id of one praise; its stream is `praise-{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PraiseId(Uuid);

impl PraiseId {
    pub const fn new(id: Uuid) -> Self {
        PraiseId(id)
    }
}

/// Praise configuration: the most points one praise may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PraiseRulesData", into = "PraiseRulesData")]
pub struct PraiseRules {
    max_points: u32,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct PraiseRulesData {
    max_points: u32,
}

/// Praise configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PraiseRulesError {
    #[error("单次表扬分值上限设置为{0},应在1至100之间")]
    BadMaxPoints(u32),
}

impl Rejection for PraiseRulesError {
    fn code(&self) -> &'static str {
        "INVALID_INPUT"
    }
}

impl PraiseRules {
    pub fn new(max_points: u32) -> Result<Self, PraiseRulesError> {
        if max_points == 0 || max_points > 100 {
            return Err(PraiseRulesError::BadMaxPoints(max_points));
        }
        Ok(PraiseRules { max_points })
    }
    pub fn max_points(&self) -> u32 {
        self.max_points
    }
}

impl Default for PraiseRules {
    /// At most 10 points per praise.
    fn default() -> Self {
        PraiseRules { max_points: 10 }
    }
}

impl TryFrom<PraiseRulesData> for PraiseRules {
    type Error = PraiseRulesError;
    fn try_from(d: PraiseRulesData) -> Result<Self, Self::Error> {
        PraiseRules::new(d.max_points)
    }
}

impl From<PraiseRules> for PraiseRulesData {
    fn from(r: PraiseRules) -> Self {
        PraiseRulesData {
            max_points: r.max_points,
        }
    }
}

/// Who is praised: a village (兴村治社榜) or one of its cadres (先锋干部榜).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum PraiseTarget {
    Village { village: RegionId },
    Cadre { village: RegionId, person: PersonId },
}

impl PraiseTarget {
    pub fn village(&self) -> &RegionId {
        match self {
            PraiseTarget::Village { village } | PraiseTarget::Cadre { village, .. } => village,
        }
    }
}

/// Commands of a [`Praise`].
#[derive(Debug, Clone)]
pub enum PraiseCommand {
    /// A town leader praises a village or a cadre, with points.
    GivePraise {
        praise_id: PraiseId,
        target: PraiseTarget,
        points: u32,
        reason: Text,
        rules: PraiseRules,
    },
    /// The praise is withdrawn (e.g. given in error); boards drop its points on replay.
    WithdrawPraise { reason: Text },
}

/// Facts of a praise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PraiseEvent {
    PraiseGiven {
        praise_id: PraiseId,
        village: RegionId,
        town: RegionId,
        target: PraiseTarget,
        points: u32,
        reason: Text,
        given_by: PersonId,
        given_at: DateTime<Utc>,
    },
    PraiseWithdrawn {
        praise_id: PraiseId,
        village: RegionId,
        town: RegionId,
        points: u32,
        reason: Text,
        withdrawn_by: PersonId,
        withdrawn_at: DateTime<Utc>,
    },
}

impl DomainEvent for PraiseEvent {
    fn event_type(&self) -> &'static str {
        match self {
            PraiseEvent::PraiseGiven { .. } => "PraiseGiven",
            PraiseEvent::PraiseWithdrawn { .. } => "PraiseWithdrawn",
        }
    }
    fn regions(&self) -> Vec<RegionId> {
        match self {
            PraiseEvent::PraiseGiven { village, town, .. }
            | PraiseEvent::PraiseWithdrawn { village, town, .. } => {
                vec![village.clone(), town.clone()]
            }
        }
    }
}

/// Why a praise command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PraiseError {
    #[error("无权操作:只有本镇领导可以表扬本镇的村和村干部")]
    Forbidden,
    #[error("{0} 不是村(社区)区划代码")]
    NotAVillage(RegionId),
    #[error("表扬分值必须在1至{max}分之间")]
    PointsOutOfRange { max: u32 },
    #[error("该表扬已经记录")]
    AlreadyGiven,
    #[error("该表扬不存在")]
    NotFound,
    #[error("该表扬已经撤回")]
    AlreadyWithdrawn,
}

impl Rejection for PraiseError {
    fn code(&self) -> &'static str {
        match self {
            PraiseError::Forbidden => "FORBIDDEN",
            PraiseError::NotAVillage(_) | PraiseError::PointsOutOfRange { .. } => "INVALID_INPUT",
            PraiseError::AlreadyGiven | PraiseError::AlreadyWithdrawn => "CONFLICT",
            PraiseError::NotFound => "NOT_FOUND",
        }
    }
}

/// A given praise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenPraise {
    pub id: PraiseId,
    pub target: PraiseTarget,
    pub town: RegionId,
    pub points: u32,
    pub given_by: PersonId,
    pub withdrawn: bool,
}

/// One praise (实时表扬), stream `praise-{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Praise {
    given: Option<GivenPraise>,
}

impl Praise {
    pub fn given(&self) -> Option<&GivenPraise> {
        self.given.as_ref()
    }
}

fn town_leader_for(actor: &Actor, village: &RegionId) -> bool {
    matches!(
        actor.role(),
        Role::TownLeader { .. } | Role::PartyCommitteeSecretary
    ) && actor.covers(village)
}

impl Aggregate for Praise {
    const CATEGORY: &'static str = "praise";
    type Command = PraiseCommand;
    type Event = PraiseEvent;
    type Error = PraiseError;

    fn decide(
        &self,
        command: PraiseCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<PraiseEvent>, PraiseError> {
        match command {
            PraiseCommand::GivePraise {
                praise_id,
                target,
                points,
                reason,
                rules,
            } => {
                let village = target.village().clone();
                let Some(town) = village
                    .town()
                    .filter(|_| village.level() == RegionLevel::Village)
                else {
                    return Err(PraiseError::NotAVillage(village));
                };
                if !town_leader_for(ctx.actor, &village) {
                    return Err(PraiseError::Forbidden);
                }
                if self.given.is_some() {
                    return Err(PraiseError::AlreadyGiven);
                }
                if points == 0 || points > rules.max_points() {
                    return Err(PraiseError::PointsOutOfRange {
                        max: rules.max_points(),
                    });
                }
                Ok(vec![PraiseEvent::PraiseGiven {
                    praise_id,
                    village,
                    town,
                    target,
                    points,
                    reason,
                    given_by: ctx.actor.id.clone(),
                    given_at: ctx.now,
                }])
            }
            PraiseCommand::WithdrawPraise { reason } => {
                let p = self.given.as_ref().ok_or(PraiseError::NotFound)?;
                let giver = ctx.actor.id == p.given_by;
                let secretary = *ctx.actor.role() == Role::PartyCommitteeSecretary;
                if !town_leader_for(ctx.actor, p.target.village()) || !(giver || secretary) {
                    return Err(PraiseError::Forbidden);
                }
                if p.withdrawn {
                    return Err(PraiseError::AlreadyWithdrawn);
                }
                Ok(vec![PraiseEvent::PraiseWithdrawn {
                    praise_id: p.id,
                    village: p.target.village().clone(),
                    town: p.town.clone(),
                    points: p.points,
                    reason,
                    withdrawn_by: ctx.actor.id.clone(),
                    withdrawn_at: ctx.now,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &PraiseEvent) {
        match event {
            PraiseEvent::PraiseGiven {
                praise_id,
                town,
                target,
                points,
                given_by,
                ..
            } => {
                self.given = Some(GivenPraise {
                    id: *praise_id,
                    target: target.clone(),
                    town: town.clone(),
                    points: *points,
                    given_by: given_by.clone(),
                    withdrawn: false,
                });
            }
            PraiseEvent::PraiseWithdrawn { .. } => {
                if let Some(p) = self.given.as_mut() {
                    p.withdrawn = true;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rating sheets (领雁指数 scores by town raters)
// ---------------------------------------------------------------------------------------------

/// A rating period in Asia/Shanghai: a month, a quarter or a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "PeriodData", into = "PeriodData")]
pub struct RatingPeriod(PeriodData);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "period", rename_all = "snake_case")]
enum PeriodData {
    Month { year: i32, month: u32 },
    Quarter { year: i32, quarter: u32 },
    Year { year: i32 },
}

/// A period that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("考核周期无效(年份2000至2100,月份1至12,季度1至4)")]
pub struct InvalidPeriod;

impl RatingPeriod {
    fn check(d: PeriodData) -> Result<Self, InvalidPeriod> {
        let (year, ok) = match d {
            PeriodData::Month { year, month } => (year, (1..=12).contains(&month)),
            PeriodData::Quarter { year, quarter } => (year, (1..=4).contains(&quarter)),
            PeriodData::Year { year } => (year, true),
        };
        if ok && (2000..=2100).contains(&year) {
            Ok(RatingPeriod(d))
        } else {
            Err(InvalidPeriod)
        }
    }
    pub fn month(year: i32, month: u32) -> Result<Self, InvalidPeriod> {
        Self::check(PeriodData::Month { year, month })
    }
    pub fn quarter(year: i32, quarter: u32) -> Result<Self, InvalidPeriod> {
        Self::check(PeriodData::Quarter { year, quarter })
    }
    pub fn year(year: i32) -> Result<Self, InvalidPeriod> {
        Self::check(PeriodData::Year { year })
    }

    /// When the period starts, midnight Asia/Shanghai ([`crate::calendar`]).
    pub fn starts_at(&self) -> DateTime<Utc> {
        let (year, month) = match self.0 {
            PeriodData::Month { year, month } => (year, month),
            PeriodData::Quarter { year, quarter } => (year, (quarter - 1) * 3 + 1),
            PeriodData::Year { year } => (year, 1),
        };
        NaiveDate::from_ymd_opt(year, month, 1)
            .map_or(DateTime::<Utc>::MIN_UTC, crate::calendar::start_of_day)
    }
}

impl TryFrom<PeriodData> for RatingPeriod {
    type Error = InvalidPeriod;
    fn try_from(d: PeriodData) -> Result<Self, Self::Error> {
        RatingPeriod::check(d)
    }
}

impl From<RatingPeriod> for PeriodData {
    fn from(p: RatingPeriod) -> Self {
        p.0
    }
}

impl fmt::Display for RatingPeriod {
    /// `2025-03`, `2025-Q1`, `2025`: usable in stream names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PeriodData::Month { year, month } => write!(f, "{year}-{month:02}"),
            PeriodData::Quarter { year, quarter } => write!(f, "{year}-Q{quarter}"),
            PeriodData::Year { year } => write!(f, "{year}"),
        }
    }
}

/// One rater's score for one dimension, whole points 0..=100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionScore {
    pub key: DimensionKey,
    pub score: u32,
}

/// Commands of a [`RatingSheet`].
#[derive(Debug, Clone)]
pub enum RatingCommand {
    /// A town rater scores a village secretary on some or all dimensions of `definition`
    /// (the definition in force; the executor loads it).
    RecordDimensionScores {
        village: RegionId,
        secretary: PersonId,
        period: RatingPeriod,
        definition: IndexDefinition,
        scores: Vec<DimensionScore>,
    },
}

/// Facts of a rating sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum RatingEvent {
    DimensionScoresRecorded {
        village: RegionId,
        town: RegionId,
        secretary: PersonId,
        period: RatingPeriod,
        definition_version: u32,
        rater: PersonId,
        scores: Vec<DimensionScore>,
        recorded_at: DateTime<Utc>,
    },
}

impl DomainEvent for RatingEvent {
    fn event_type(&self) -> &'static str {
        match self {
            RatingEvent::DimensionScoresRecorded { .. } => "DimensionScoresRecorded",
        }
    }
    fn regions(&self) -> Vec<RegionId> {
        match self {
            RatingEvent::DimensionScoresRecorded { village, town, .. } => {
                vec![village.clone(), town.clone()]
            }
        }
    }
}

/// Why scores could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("无权操作:只有本镇领导可以为本镇村社书记评分")]
    Forbidden,
    #[error("{0} 不是村(社区)区划代码")]
    NotAVillage(RegionId),
    #[error("评分表属于其他村、其他书记或其他周期")]
    WrongSheet,
    #[error("考核周期尚未开始,不能评分")]
    PeriodNotStarted,
    #[error("至少需要为一个维度评分")]
    NoScores,
    #[error("当前指数定义中没有维度 {0}")]
    UnknownDimension(DimensionKey),
    #[error("维度 {0} 重复评分")]
    DuplicateDimension(DimensionKey),
    #[error("评分 {0} 超出0至100分")]
    ScoreOutOfRange(u32),
    #[error("您已在本周期为该书记评过分")]
    AlreadyRated,
}

impl Rejection for RatingError {
    fn code(&self) -> &'static str {
        match self {
            RatingError::Forbidden => "FORBIDDEN",
            RatingError::AlreadyRated => "CONFLICT",
            RatingError::PeriodNotStarted => "RULE_VIOLATION",
            RatingError::NotAVillage(_)
            | RatingError::WrongSheet
            | RatingError::NoScores
            | RatingError::UnknownDimension(_)
            | RatingError::DuplicateDimension(_)
            | RatingError::ScoreOutOfRange(_) => "INVALID_INPUT",
        }
    }
}

/// Who and what a sheet rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetSubject {
    pub village: RegionId,
    pub secretary: PersonId,
    pub period: RatingPeriod,
}

/// The raters' scores for one village secretary in one period
/// (stream `lingyan_rating-{village}-{period}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RatingSheet {
    subject: Option<SheetSubject>,
    ratings: BTreeMap<PersonId, Vec<DimensionScore>>,
}

impl RatingSheet {
    pub fn subject(&self) -> Option<&SheetSubject> {
        self.subject.as_ref()
    }
    /// Per dimension, the mean of all raters' scores in hundredths.
    pub fn averages(&self) -> BTreeMap<DimensionKey, u32> {
        average_scores(self.ratings.values().map(Vec::as_slice))
    }
    /// The 领雁指数 of this sheet under `definition` (any version: replay under new weights).
    pub fn index(&self, definition: &IndexDefinition) -> Result<IndexScore, IndexError> {
        lingyan_index(definition, &self.averages())
    }
}

impl Aggregate for RatingSheet {
    const CATEGORY: &'static str = "lingyan_rating";
    type Command = RatingCommand;
    type Event = RatingEvent;
    type Error = RatingError;

    fn decide(
        &self,
        command: RatingCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<RatingEvent>, RatingError> {
        let RatingCommand::RecordDimensionScores {
            village,
            secretary,
            period,
            definition,
            scores,
        } = command;
        let Some(town) = village
            .town()
            .filter(|_| village.level() == RegionLevel::Village)
        else {
            return Err(RatingError::NotAVillage(village));
        };
        if !town_leader_for(ctx.actor, &village) {
            return Err(RatingError::Forbidden);
        }
        if let Some(s) = &self.subject
            && (s.village != village || s.secretary != secretary || s.period != period)
        {
            return Err(RatingError::WrongSheet);
        }
        if ctx.now < period.starts_at() {
            return Err(RatingError::PeriodNotStarted);
        }
        if scores.is_empty() {
            return Err(RatingError::NoScores);
        }
        let mut seen = BTreeSet::new();
        for s in &scores {
            if !definition.dimensions.contains(&s.key) {
                return Err(RatingError::UnknownDimension(s.key.clone()));
            }
            if !seen.insert(&s.key) {
                return Err(RatingError::DuplicateDimension(s.key.clone()));
            }
            if s.score > 100 {
                return Err(RatingError::ScoreOutOfRange(s.score));
            }
        }
        if self.ratings.contains_key(&ctx.actor.id) {
            return Err(RatingError::AlreadyRated);
        }
        Ok(vec![RatingEvent::DimensionScoresRecorded {
            village,
            town,
            secretary,
            period,
            definition_version: definition.version,
            rater: ctx.actor.id.clone(),
            scores,
            recorded_at: ctx.now,
        }])
    }

    fn evolve(&mut self, event: &RatingEvent) {
        let RatingEvent::DimensionScoresRecorded {
            village,
            secretary,
            period,
            rater,
            scores,
            ..
        } = event;
        if self.subject.is_none() {
            self.subject = Some(SheetSubject {
                village: village.clone(),
                secretary: secretary.clone(),
                period: *period,
            });
        }
        self.ratings.insert(rater.clone(), scores.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    // 诸暨市枫桥镇 枫源村 (codes illustrative below the town).
    fn region(code: &str) -> RegionId {
        RegionId::parse(code).unwrap()
    }
    fn town() -> RegionId {
        region("330681109000")
    }
    fn fengyuan() -> RegionId {
        region("330681109201")
    }
    fn actor(id: &str, role: Role, scope: RegionId) -> Actor {
        Actor {
            id: PersonId::parse(id).unwrap(),
            role,
            scope,
        }
    }
    fn leader(id: &str) -> Actor {
        actor(
            id,
            Role::TownLeader {
                duty_areas: vec!["党建".into()],
            },
            town(),
        )
    }
    fn party_secretary() -> Actor {
        actor("fq-party-secretary", Role::PartyCommitteeSecretary, town())
    }
    fn village_secretary() -> Actor {
        actor("fy-secretary", Role::VillageSecretary, fengyuan())
    }
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 4, 10, 2, 0, 0).unwrap()
    }
    fn ctx(actor: &Actor) -> CommandContext<'_> {
        CommandContext { actor, now: now() }
    }
    fn key(k: &str) -> DimensionKey {
        DimensionKey::parse(k).unwrap()
    }
    fn dims(weights: [u32; 6]) -> IndexDimensions {
        let mut d: Vec<Dimension> = IndexDimensions::default().dimensions().to_vec();
        for (dim, w) in d.iter_mut().zip(weights) {
            dim.weight = w;
        }
        IndexDimensions::new(d).unwrap()
    }
    fn all_scores(centi: [u32; 6]) -> BTreeMap<DimensionKey, u32> {
        IndexDimensions::default()
            .dimensions()
            .iter()
            .zip(centi)
            .map(|(d, c)| (d.key.clone(), c))
            .collect()
    }

    // --- the definition -----------------------------------------------------------------------

    #[test]
    fn the_default_definition_has_six_equal_dimensions_with_the_core_three() {
        let d = IndexDimensions::default();
        assert_eq!(d.dimensions().len(), 6);
        assert!(d.dimensions().iter().all(|x| x.weight == 1));
        let names: Vec<&str> = d.dimensions().iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "领导能力",
                "治理能力",
                "群众口碑",
                "发展实绩",
                "担当作为",
                "廉洁自律"
            ]
        );
        assert_eq!(IndexDimensions::new(d.dimensions().to_vec()), Ok(d));
    }

    #[test]
    fn unusable_definitions_are_refused() {
        let base = || IndexDimensions::default().dimensions().to_vec();
        let mut five = base();
        five.pop();
        assert_eq!(
            IndexDimensions::new(five),
            Err(IndexDefinitionError::WrongDimensionCount(5))
        );
        let mut no_core = base();
        no_core[2].key = key("innovation");
        assert_eq!(
            IndexDimensions::new(no_core),
            Err(IndexDefinitionError::MissingCoreDimension(
                DimensionKey::REPUTATION
            ))
        );
        let mut twice = base();
        twice[5].key = key(DimensionKey::DEVELOPMENT);
        assert!(matches!(
            IndexDimensions::new(twice),
            Err(IndexDefinitionError::DuplicateDimension(_))
        ));
        let mut blank = base();
        blank[4].name = " ".into();
        assert!(matches!(
            IndexDimensions::new(blank),
            Err(IndexDefinitionError::BadName(_))
        ));
        let mut heavy = base();
        heavy[0].weight = 1001;
        assert!(matches!(
            IndexDimensions::new(heavy),
            Err(IndexDefinitionError::WeightTooLarge(_))
        ));
        let zero: Vec<Dimension> = base()
            .into_iter()
            .map(|d| Dimension { weight: 0, ..d })
            .collect();
        assert_eq!(
            IndexDimensions::new(zero),
            Err(IndexDefinitionError::NonPositiveTotalWeight)
        );
        assert!(matches!(
            DimensionKey::parse("领导"),
            Err(IndexDefinitionError::BadKey(_))
        ));
        let json = serde_json::to_value(IndexDimensions::default()).unwrap();
        let mut bad = json.clone();
        bad[0]["weight"] = serde_json::json!(5000);
        assert!(serde_json::from_value::<IndexDimensions>(bad).is_err());
        assert_eq!(
            serde_json::from_value::<IndexDimensions>(json).unwrap(),
            IndexDimensions::default()
        );
    }

    #[test]
    fn administrators_publish_versioned_definitions() {
        let admin = Actor::system();
        let publish = |dimensions| IndexDefinitionCommand::PublishIndexDefinition {
            scope: RegionId::shaoxing(),
            dimensions,
        };
        let mut stream = IndexDefinitionStream::default();
        assert_eq!(stream.current(), IndexDefinition::default());
        assert_eq!(
            stream.decide(publish(IndexDimensions::default()), &ctx(&admin)),
            Err(IndexDefinitionStreamError::Unchanged)
        );
        for (version, weights) in [(1, [2, 2, 2, 1, 1, 1]), (2, [1, 1, 1, 1, 1, 3])] {
            let events = stream.decide(publish(dims(weights)), &ctx(&admin)).unwrap();
            assert!(matches!(
                events.as_slice(),
                [IndexDefinitionEvent::IndexDefinitionPublished { version: v, .. }] if *v == version
            ));
            assert_eq!(events[0].event_type(), "IndexDefinitionPublished");
            assert_eq!(events[0].regions(), vec![RegionId::shaoxing()]);
            stream.evolve(&events[0]);
        }
        assert_eq!(stream.current().version, 2);
        assert_eq!(
            stream.version(1).unwrap().dimensions,
            dims([2, 2, 2, 1, 1, 1])
        );
        assert_eq!(stream.version(0), Some(IndexDefinition::default()));
        assert_eq!(stream.version(3), None);
        let err = stream
            .decide(publish(dims([1; 6])), &ctx(&party_secretary()))
            .unwrap_err();
        assert_eq!(err, IndexDefinitionStreamError::Forbidden);
        assert_eq!(err.code(), "FORBIDDEN");
        let county = IndexDefinitionCommand::PublishIndexDefinition {
            scope: region("330681000000"),
            dimensions: dims([1; 6]),
        };
        assert!(matches!(
            stream.decide(county, &ctx(&admin)),
            Err(IndexDefinitionStreamError::WrongScope(_))
        ));
    }

    // --- the index -------------------------------------------------------------------------------

    #[test]
    fn the_index_is_the_weighted_mean_of_the_dimensions() {
        let equal = IndexDefinition::default();
        let s = all_scores([9000, 8000, 7000, 6000, 8500, 9500]);
        let score = lingyan_index(&equal, &s).unwrap();
        assert_eq!(score.value_centi, 8000);
        assert!(score.missing.is_empty() && score.ignored.is_empty());
        let weighted = IndexDefinition {
            version: 3,
            dimensions: dims([3, 1, 1, 1, 1, 1]),
        };
        // (3*9000 + 8000 + 7000 + 6000 + 8500 + 9500) / 8 = 66000 / 8 = 8250.
        let score = lingyan_index(&weighted, &s).unwrap();
        assert_eq!((score.value_centi, score.definition_version), (8250, 3));
    }

    #[test]
    fn missing_dimensions_count_zero_and_foreign_ones_are_ignored() {
        let mut s = all_scores([6000; 6]);
        s.remove(&key(DimensionKey::INTEGRITY));
        s.insert(key("innovation"), 10_000);
        let score = lingyan_index(&IndexDefinition::default(), &s).unwrap();
        assert_eq!(score.value_centi, 5000);
        assert_eq!(score.missing, vec![key(DimensionKey::INTEGRITY)]);
        assert_eq!(score.ignored, vec![key("innovation")]);
        s.insert(key(DimensionKey::INTEGRITY), 10_001);
        assert!(matches!(
            lingyan_index(&IndexDefinition::default(), &s),
            Err(IndexError::ScoreOutOfRange { centi: 10_001, .. })
        ));
    }

    #[test]
    fn a_change_of_weights_reranks_the_same_history() {
        // A leads on 领导能力, B on 廉洁自律.
        let a = all_scores([9500, 8000, 8000, 8000, 8000, 7000]);
        let b = all_scores([7000, 8000, 8000, 8000, 8000, 9000]);
        let v1 = IndexDefinition {
            version: 1,
            dimensions: dims([3, 1, 1, 1, 1, 1]),
        };
        let v2 = IndexDefinition {
            version: 2,
            dimensions: dims([1, 1, 1, 1, 1, 3]),
        };
        let idx = |d: &IndexDefinition, s| lingyan_index(d, s).unwrap().value_centi;
        assert!(idx(&v1, &a) > idx(&v1, &b));
        assert!(idx(&v2, &a) < idx(&v2, &b));
    }

    #[test]
    fn raters_scores_average_in_hundredths() {
        let s = |k: &str, score| DimensionScore { key: key(k), score };
        let one = vec![
            s(DimensionKey::LEADERSHIP, 90),
            s(DimensionKey::GOVERNANCE, 80),
        ];
        let two = vec![s(DimensionKey::LEADERSHIP, 85)];
        let three = vec![s(DimensionKey::LEADERSHIP, 86)];
        let avg = average_scores([one.as_slice(), two.as_slice(), three.as_slice()]);
        // (9000 + 8500 + 8600) / 3 = 8700; governance alone 8000.
        assert_eq!(avg[&key(DimensionKey::LEADERSHIP)], 8700);
        assert_eq!(avg[&key(DimensionKey::GOVERNANCE)], 8000);
        let avg = average_scores([two.as_slice(), three.as_slice()]);
        assert_eq!(avg[&key(DimensionKey::LEADERSHIP)], 8550);
    }

    proptest! {
        #[test]
        fn the_index_lies_between_the_lowest_and_highest_dimension(
            centi in proptest::array::uniform6(0u32..=10_000),
            weights in proptest::array::uniform6(0u32..=1000),
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let def = IndexDefinition { version: 1, dimensions: dims(weights) };
            let v = lingyan_index(&def, &all_scores(centi)).unwrap().value_centi;
            let used: Vec<u32> = centi.iter().zip(weights).filter(|(_, w)| *w > 0).map(|(c, _)| *c).collect();
            prop_assert!(v >= used.iter().copied().min().unwrap_or(0));
            prop_assert!(v <= used.iter().copied().max().unwrap_or(0));
        }

        #[test]
        fn only_weight_ratios_matter_and_more_is_never_less(
            centi in proptest::array::uniform6(0u32..=9_000),
            weights in proptest::array::uniform6(1u32..=100),
            k in 2u32..=10,
            bump in 0usize..6,
        ) {
            let def = IndexDefinition { version: 1, dimensions: dims(weights) };
            let scaled = IndexDefinition { version: 2, dimensions: dims(weights.map(|w| w * k)) };
            let base = lingyan_index(&def, &all_scores(centi)).unwrap().value_centi;
            prop_assert_eq!(base, lingyan_index(&scaled, &all_scores(centi)).unwrap().value_centi);
            let mut higher = centi;
            higher[bump] += 1000;
            prop_assert!(lingyan_index(&def, &all_scores(higher)).unwrap().value_centi >= base);
        }
    }

    // --- praise ---------------------------------------------------------------------------------

    fn give(points: u32, target: PraiseTarget, rules: PraiseRules) -> PraiseCommand {
        PraiseCommand::GivePraise {
            praise_id: PraiseId::new(Uuid::from_u128(9)),
            target,
            points,
            reason: Text::parse("雨夜带队排查山塘水库隐患").unwrap(),
            rules,
        }
    }
    fn to_cadre() -> PraiseTarget {
        PraiseTarget::Cadre {
            village: fengyuan(),
            person: PersonId::parse("fy-secretary").unwrap(),
        }
    }
    fn given() -> Praise {
        let events = Praise::default()
            .decide(
                give(5, to_cadre(), PraiseRules::default()),
                &ctx(&leader("l1")),
            )
            .unwrap();
        Praise::replay(&events)
    }

    #[test]
    fn a_town_leader_praises_a_cadre_or_a_village_with_points() {
        let events = Praise::default()
            .decide(
                give(5, to_cadre(), PraiseRules::default()),
                &ctx(&leader("l1")),
            )
            .unwrap();
        let [
            PraiseEvent::PraiseGiven {
                village,
                town: t,
                points,
                ..
            },
        ] = events.as_slice()
        else {
            panic!("expected PraiseGiven");
        };
        assert_eq!((village, t, *points), (&fengyuan(), &town(), 5));
        assert_eq!(events[0].regions(), vec![fengyuan(), town()]);
        assert_eq!(events[0].event_type(), "PraiseGiven");
        let village = PraiseTarget::Village {
            village: fengyuan(),
        };
        assert!(
            Praise::default()
                .decide(
                    give(10, village, PraiseRules::default()),
                    &ctx(&party_secretary())
                )
                .is_ok()
        );
    }

    #[test]
    fn praise_is_refused_outside_role_scope_or_points() {
        let rules = PraiseRules::default();
        let other_town = actor(
            "yc-leader",
            Role::PartyCommitteeSecretary,
            region("330602108000"),
        );
        for who in [
            village_secretary(),
            other_town,
            actor("staff", Role::TownOfficeStaff, town()),
        ] {
            assert_eq!(
                Praise::default().decide(give(5, to_cadre(), rules), &ctx(&who)),
                Err(PraiseError::Forbidden)
            );
        }
        for points in [0, 11] {
            assert_eq!(
                Praise::default().decide(give(points, to_cadre(), rules), &ctx(&leader("l1"))),
                Err(PraiseError::PointsOutOfRange { max: 10 })
            );
        }
        let generous = PraiseRules::new(20).unwrap();
        assert!(
            Praise::default()
                .decide(give(15, to_cadre(), generous), &ctx(&leader("l1")))
                .is_ok()
        );
        assert_eq!(PraiseRules::new(0), Err(PraiseRulesError::BadMaxPoints(0)));
        assert_eq!(
            PraiseRules::new(101),
            Err(PraiseRulesError::BadMaxPoints(101))
        );
        let at_town = PraiseTarget::Village { village: town() };
        assert!(matches!(
            Praise::default().decide(give(5, at_town, rules), &ctx(&leader("l1"))),
            Err(PraiseError::NotAVillage(_))
        ));
        assert_eq!(
            given().decide(give(5, to_cadre(), rules), &ctx(&leader("l1"))),
            Err(PraiseError::AlreadyGiven)
        );
    }

    #[test]
    fn the_giver_or_the_party_secretary_withdraws_a_praise_once() {
        let withdraw = || PraiseCommand::WithdrawPraise {
            reason: Text::parse("表扬对象有误").unwrap(),
        };
        assert_eq!(
            Praise::default().decide(withdraw(), &ctx(&leader("l1"))),
            Err(PraiseError::NotFound)
        );
        let p = given();
        assert_eq!(
            p.decide(withdraw(), &ctx(&leader("l2"))),
            Err(PraiseError::Forbidden)
        );
        assert!(p.decide(withdraw(), &ctx(&party_secretary())).is_ok());
        let events = p.decide(withdraw(), &ctx(&leader("l1"))).unwrap();
        assert!(matches!(
            events.as_slice(),
            [PraiseEvent::PraiseWithdrawn { points: 5, .. }]
        ));
        let mut p = p;
        p.evolve(&events[0]);
        assert!(p.given().unwrap().withdrawn);
        assert_eq!(
            p.decide(withdraw(), &ctx(&leader("l1"))),
            Err(PraiseError::AlreadyWithdrawn)
        );
        assert_eq!(PraiseError::AlreadyWithdrawn.code(), "CONFLICT");
    }

    // --- rating sheets --------------------------------------------------------------------------

    fn rate(scores: Vec<DimensionScore>) -> RatingCommand {
        RatingCommand::RecordDimensionScores {
            village: fengyuan(),
            secretary: PersonId::parse("fy-secretary").unwrap(),
            period: RatingPeriod::quarter(2025, 2).unwrap(),
            definition: IndexDefinition::default(),
            scores,
        }
    }
    fn scores(pairs: &[(&str, u32)]) -> Vec<DimensionScore> {
        pairs
            .iter()
            .map(|(k, score)| DimensionScore {
                key: key(k),
                score: *score,
            })
            .collect()
    }

    #[test]
    fn raters_record_scores_once_each_and_the_sheet_yields_the_index() {
        let mut sheet = RatingSheet::default();
        for (rater, points) in [("l1", 90), ("l2", 80)] {
            let events = sheet
                .decide(
                    rate(scores(&[
                        (DimensionKey::LEADERSHIP, points),
                        (DimensionKey::REPUTATION, 70),
                    ])),
                    &ctx(&leader(rater)),
                )
                .unwrap();
            assert_eq!(events[0].event_type(), "DimensionScoresRecorded");
            assert_eq!(events[0].regions(), vec![fengyuan(), town()]);
            sheet.evolve(&events[0]);
        }
        assert_eq!(sheet.averages()[&key(DimensionKey::LEADERSHIP)], 8500);
        let index = sheet.index(&IndexDefinition::default()).unwrap();
        // (8500 + 7000) / 6 = 2583.33: four dimensions still missing count as 0.
        assert_eq!(index.value_centi, 2583);
        assert_eq!(index.missing.len(), 4);
        assert_eq!(
            sheet.decide(
                rate(scores(&[(DimensionKey::GOVERNANCE, 60)])),
                &ctx(&leader("l1"))
            ),
            Err(RatingError::AlreadyRated)
        );
    }

    #[test]
    fn boundaries_of_praise_points_rating_periods_and_scores() {
        // Praise: the maximum itself is allowed, one more is not.
        let rules = PraiseRules::default();
        assert!(
            Praise::default()
                .decide(give(10, to_cadre(), rules), &ctx(&leader("l1")))
                .is_ok()
        );
        assert!(PraiseRules::new(100).is_ok() && PraiseRules::new(1).is_ok());
        // Rating: from the first instant of the period (00:00 Shanghai on 1 April) on.
        let starts = RatingPeriod::quarter(2025, 2).unwrap().starts_at();
        let rater = leader("l1");
        let at = |now| CommandContext { actor: &rater, now };
        let full = || scores(&[(DimensionKey::LEADERSHIP, 100)]);
        assert!(
            RatingSheet::default()
                .decide(rate(full()), &at(starts))
                .is_ok()
        );
        assert_eq!(
            RatingSheet::default()
                .decide(rate(full()), &at(starts - chrono::TimeDelta::seconds(1))),
            Err(RatingError::PeriodNotStarted)
        );
        assert_eq!(
            RatingSheet::default().decide(
                rate(scores(&[(DimensionKey::LEADERSHIP, 101)])),
                &at(starts)
            ),
            Err(RatingError::ScoreOutOfRange(101))
        );
    }

    #[test]
    fn rating_is_refused_for_bad_raters_sheets_periods_and_scores() {
        let ok = || scores(&[(DimensionKey::LEADERSHIP, 90)]);
        let empty = RatingSheet::default();
        assert_eq!(
            empty.decide(rate(ok()), &ctx(&village_secretary())),
            Err(RatingError::Forbidden)
        );
        let RatingCommand::RecordDimensionScores {
            secretary,
            period,
            definition,
            ..
        } = rate(ok());
        let at_town = RatingCommand::RecordDimensionScores {
            village: town(),
            secretary: secretary.clone(),
            period,
            definition: definition.clone(),
            scores: ok(),
        };
        assert!(matches!(
            empty.decide(at_town, &ctx(&leader("l1"))),
            Err(RatingError::NotAVillage(_))
        ));
        let future = RatingCommand::RecordDimensionScores {
            village: fengyuan(),
            secretary: secretary.clone(),
            period: RatingPeriod::quarter(2025, 3).unwrap(),
            definition: definition.clone(),
            scores: ok(),
        };
        assert_eq!(
            empty.decide(future, &ctx(&leader("l1"))),
            Err(RatingError::PeriodNotStarted)
        );
        let cases = [
            (vec![], RatingError::NoScores),
            (
                scores(&[("innovation", 90)]),
                RatingError::UnknownDimension(key("innovation")),
            ),
            (
                scores(&[
                    (DimensionKey::LEADERSHIP, 90),
                    (DimensionKey::LEADERSHIP, 80),
                ]),
                RatingError::DuplicateDimension(key(DimensionKey::LEADERSHIP)),
            ),
            (
                scores(&[(DimensionKey::INTEGRITY, 101)]),
                RatingError::ScoreOutOfRange(101),
            ),
        ];
        for (s, error) in cases {
            assert_eq!(empty.decide(rate(s), &ctx(&leader("l1"))), Err(error));
        }
        let events = empty.decide(rate(ok()), &ctx(&leader("l1"))).unwrap();
        let sheet = RatingSheet::replay(&events);
        let other_period = RatingCommand::RecordDimensionScores {
            village: fengyuan(),
            secretary,
            period: RatingPeriod::quarter(2025, 1).unwrap(),
            definition,
            scores: ok(),
        };
        assert_eq!(
            sheet.decide(other_period, &ctx(&leader("l2"))),
            Err(RatingError::WrongSheet)
        );
    }

    #[test]
    fn periods_start_at_midnight_in_shanghai() {
        let q2 = RatingPeriod::quarter(2025, 2).unwrap();
        assert_eq!(
            q2.starts_at(),
            Utc.with_ymd_and_hms(2025, 3, 31, 16, 0, 0).unwrap()
        );
        assert_eq!(q2.to_string(), "2025-Q2");
        assert_eq!(RatingPeriod::month(2025, 3).unwrap().to_string(), "2025-03");
        assert_eq!(
            RatingPeriod::year(2025).unwrap().starts_at(),
            Utc.with_ymd_and_hms(2024, 12, 31, 16, 0, 0).unwrap()
        );
        assert_eq!(RatingPeriod::month(2025, 13), Err(InvalidPeriod));
        assert_eq!(RatingPeriod::quarter(2025, 0), Err(InvalidPeriod));
        assert_eq!(RatingPeriod::year(1999), Err(InvalidPeriod));
        let json = serde_json::to_string(&q2).unwrap();
        assert_eq!(json, r#"{"period":"quarter","year":2025,"quarter":2}"#);
        assert!(
            serde_json::from_str::<RatingPeriod>(r#"{"period":"month","year":2025,"month":0}"#)
                .is_err()
        );
    }

    // --- replay and serde ----------------------------------------------------------------------

    fn score_sets() -> impl Strategy<Value = Vec<(u8, Vec<(usize, u32)>)>> {
        proptest::collection::vec(
            (
                0u8..4,
                proptest::collection::vec((0usize..7, 0u32..=110), 0..8),
            ),
            0..12,
        )
    }

    proptest! {
        #[test]
        fn rating_sheets_replay_deterministically_and_round_trip(sets in score_sets()) {
            let keys: Vec<String> = IndexDimensions::default()
                .dimensions()
                .iter()
                .map(|d| d.key.to_string())
                .chain(["innovation".to_owned()])
                .collect();
            let mut sheet = RatingSheet::default();
            let mut history = Vec::new();
            for (rater, pairs) in sets {
                let who = leader(&format!("rater-{rater}"));
                let s = pairs.iter().map(|(k, score)| DimensionScore { key: key(&keys[*k]), score: *score }).collect();
                if let Ok(events) = sheet.decide(rate(s), &ctx(&who)) {
                    for e in &events {
                        sheet.evolve(e);
                    }
                    history.extend(events);
                }
            }
            prop_assert_eq!(&RatingSheet::replay(&history), &sheet);
            let decoded: Vec<RatingEvent> = history
                .iter()
                .map(|e| serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap())
                .collect();
            prop_assert_eq!(&decoded, &history);
            let raters: BTreeSet<&PersonId> = history
                .iter()
                .map(|RatingEvent::DimensionScoresRecorded { rater, .. }| rater)
                .collect();
            prop_assert_eq!(raters.len(), history.len(), "a rater recorded twice");
            let index = sheet.index(&IndexDefinition::default()).unwrap();
            prop_assert!(index.value_centi <= 10_000);
        }

        #[test]
        fn praise_and_definition_events_round_trip(
            points in 1u32..=10,
            cadre in any::<bool>(),
            weights in proptest::array::uniform6(0u32..=1000),
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0));
            let target = if cadre { to_cadre() } else { PraiseTarget::Village { village: fengyuan() } };
            let mut events = Praise::default()
                .decide(give(points, target, PraiseRules::default()), &ctx(&leader("l1")))
                .unwrap();
            let p = Praise::replay(&events);
            events.extend(
                p.decide(PraiseCommand::WithdrawPraise { reason: Text::parse("撤回").unwrap() }, &ctx(&leader("l1")))
                    .unwrap(),
            );
            for e in &events {
                let back: PraiseEvent = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
                prop_assert_eq!(&back, e);
            }
            prop_assert_eq!(Praise::replay(&events), Praise::replay(&events));
            let published = IndexDefinitionEvent::IndexDefinitionPublished {
                scope: RegionId::shaoxing(),
                version: 1,
                dimensions: dims(weights),
                published_by: PersonId::parse("system").unwrap(),
                published_at: now(),
            };
            let back: IndexDefinitionEvent =
                serde_json::from_str(&serde_json::to_string(&published).unwrap()).unwrap();
            prop_assert_eq!(&back, &published);
            prop_assert_eq!(
                IndexDefinitionStream::replay([&published]),
                IndexDefinitionStream::replay([&back])
            );
        }
    }
}
