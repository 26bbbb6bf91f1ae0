//! The matter catalogue (事项清单): what villages may be asked to do, by code (过筛码).
//!
//! # Streams
//!
//! One [`MatterCatalogue`] per city or county: `catalogue-{region}`. Every change (add,
//! revise, retire) bumps the catalogue's version by one, and every event carries the new
//! version and the whole item, so a projection or an auditor rebuilds any version without
//! joins.
//!
//! # Cross-stream rule: screening
//!
//! Tasks live in their own streams. A task is screened against a [`CatalogueSnapshot`]
//! that the caller folds from this stream ([`MatterCatalogue::snapshot`]) and passes *in the
//! command*; the task records the snapshot's version in its event. A catalogue change
//! committed after the snapshot was read does not affect a draft decided on it: the
//! version in the event says which list was applied, which is what an auditor needs.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::people::PersonId;
use crate::region::{RegionId, RegionLevel};
use crate::text::{InvalidText, Text};

/// 过筛码: the code of a catalogue item, e.g. `ZJ-ZZ-012`. 2..=32 characters of ASCII
/// letters (upper-cased), digits, `-` and `.`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MatterCode(String);

/// A string that cannot be a 过筛码.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("过筛码 {0:?} 格式不正确(2到32位字母、数字、“-”或“.”)")]
pub struct InvalidMatterCode(pub String);

impl MatterCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidMatterCode> {
        let code = raw.trim().to_ascii_uppercase();
        let ok = (2..=32).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && code
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(InvalidMatterCode(raw.to_owned()));
        }
        Ok(MatterCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MatterCode {
    type Error = InvalidMatterCode;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        MatterCode::parse(&raw)
    }
}

impl From<MatterCode> for String {
    fn from(code: MatterCode) -> String {
        code.0
    }
}

impl fmt::Display for MatterCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 事项类别 / 分管领域: 党建, 综治, 民政, 农业农村, 城建 … The same word names a task's
/// category and the duty area of the town leader who reviews it. Trimmed, 1..=20
/// characters, no whitespace inside.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

/// A string that cannot be a category.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("类别 {0:?} 不正确(1到20个字,不含空白)")]
pub struct InvalidCategory(pub String);

impl Category {
    pub fn parse(raw: &str) -> Result<Self, InvalidCategory> {
        let category = raw.trim();
        let len = category.chars().count();
        if len == 0
            || len > 20
            || category
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidCategory(raw.to_owned()));
        }
        Ok(Category(category.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Category {
    type Error = InvalidCategory;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Category::parse(&raw)
    }
}

impl From<Category> for String {
    fn from(category: Category) -> String {
        category.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The level responsible for a matter (责任层级), highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponsibleLevel {
    /// 县级.
    County,
    /// 乡镇(街道).
    Town,
    /// 村(社区).
    Village,
    /// 网格.
    Grid,
}

impl ResponsibleLevel {
    /// Whether a matter of this level may be asked of a unit at `target`: the target itself
    /// or a level below it (a village is asked for grid matters, which it organises through
    /// its grids). A town matter sent to a village is the wrong level: the town does it.
    pub fn is_borne_by(self, target: ResponsibleLevel) -> bool {
        self >= target
    }

    pub fn title(self) -> &'static str {
        match self {
            ResponsibleLevel::County => "县级",
            ResponsibleLevel::Town => "乡镇(街道)",
            ResponsibleLevel::Village => "村(社区)",
            ResponsibleLevel::Grid => "网格",
        }
    }
}

/// Kind of a matter (事项类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatterKind {
    /// 依法履职: the village's own duty by law.
    Duty,
    /// 协助: the village assists a higher level.
    Assist,
    /// 禁入: may never be pushed down to villages.
    Barred,
}

/// An item of the catalogue (清单事项), as in force at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatterItem {
    pub code: MatterCode,
    pub name: Text,
    pub category: Category,
    pub level: ResponsibleLevel,
    pub kind: MatterKind,
    pub effective_from: DateTime<Utc>,
    /// End of validity (exclusive); set when the item is retired.
    pub effective_to: Option<DateTime<Utc>>,
}

impl MatterItem {
    /// Whether the item is in force at `at`.
    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.effective_from <= at && self.effective_to.is_none_or(|to| at < to)
    }
}

/// Why a task did not pass screening (过筛不通过).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScreeningReason {
    #[error("任务未填写过筛码")]
    MissingCode,
    #[error("过筛码 {code} 不在事项清单内")]
    UnknownCode { code: MatterCode },
    #[error("清单事项 {code} 自 {effective_from} 起才生效")]
    NotYetEffective {
        code: MatterCode,
        effective_from: DateTime<Utc>,
    },
    #[error("清单事项 {code} 已于 {since} 退出清单")]
    Retired {
        code: MatterCode,
        since: DateTime<Utc>,
    },
    #[error("清单事项 {code} 属于禁入事项,不得派给村社")]
    Barred { code: MatterCode },
    #[error("清单事项 {code} 的责任层级是{}, 不能派给{}", .responsible.title(), .target.title())]
    WrongLevel {
        code: MatterCode,
        responsible: ResponsibleLevel,
        target: ResponsibleLevel,
    },
}

/// The catalogue as of one version: what a task is screened against. Pure data, passed
/// in commands (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueSnapshot {
    /// The city or county whose catalogue this is.
    pub region: RegionId,
    pub version: u64,
    pub items: BTreeMap<MatterCode, MatterItem>,
}

impl CatalogueSnapshot {
    /// An empty catalogue (version 0) of a region.
    pub fn empty(region: RegionId) -> Self {
        CatalogueSnapshot {
            region,
            version: 0,
            items: BTreeMap::new(),
        }
    }

    /// 过筛: the item a task coded `code`, asked of `target`, may be based on at `at`;
    /// or why not. Checked in the order: missing, unknown, not yet effective, retired,
    /// barred, wrong level.
    pub fn screen(
        &self,
        code: Option<&MatterCode>,
        target: ResponsibleLevel,
        at: DateTime<Utc>,
    ) -> Result<&MatterItem, ScreeningReason> {
        let code = code.ok_or(ScreeningReason::MissingCode)?;
        let item = self
            .items
            .get(code)
            .ok_or_else(|| ScreeningReason::UnknownCode { code: code.clone() })?;
        if at < item.effective_from {
            return Err(ScreeningReason::NotYetEffective {
                code: code.clone(),
                effective_from: item.effective_from,
            });
        }
        if let Some(since) = item.effective_to
            && at >= since
        {
            return Err(ScreeningReason::Retired {
                code: code.clone(),
                since,
            });
        }
        if item.kind == MatterKind::Barred {
            return Err(ScreeningReason::Barred { code: code.clone() });
        }
        if !item.level.is_borne_by(target) {
            return Err(ScreeningReason::WrongLevel {
                code: code.clone(),
                responsible: item.level,
                target,
            });
        }
        Ok(item)
    }
}

/// The catalogue of one city or county, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatterCatalogue {
    region: Option<RegionId>,
    version: u64,
    items: BTreeMap<MatterCode, MatterItem>,
}

impl MatterCatalogue {
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn item(&self, code: &MatterCode) -> Option<&MatterItem> {
        self.items.get(code)
    }

    /// The snapshot tasks are screened against; `None` before the first item.
    pub fn snapshot(&self) -> Option<CatalogueSnapshot> {
        self.region.as_ref().map(|region| CatalogueSnapshot {
            region: region.clone(),
            version: self.version,
            items: self.items.clone(),
        })
    }
}

/// The fields of an item as a command carries them, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct MatterInput {
    pub code: String,
    pub name: String,
    pub category: String,
    pub level: ResponsibleLevel,
    pub kind: MatterKind,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
}

/// Commands on a [`MatterCatalogue`]. Each names the catalogue's region, which must match
/// the stream's (the first command fixes it).
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogueCommand {
    /// Add an item (新增事项).
    AddMatter {
        catalogue: RegionId,
        item: MatterInput,
    },
    /// Replace an item's fields (修订事项); the code stays.
    ReviseMatter {
        catalogue: RegionId,
        item: MatterInput,
    },
    /// Take an item out of force from now on (退出清单).
    RetireMatter {
        catalogue: RegionId,
        code: String,
        reason: String,
    },
}

/// Facts about the catalogue; each carries the version it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum CatalogueEvent {
    MatterAdded {
        catalogue: RegionId,
        version: u64,
        item: MatterItem,
        changed_by: PersonId,
    },
    MatterRevised {
        catalogue: RegionId,
        version: u64,
        item: MatterItem,
        changed_by: PersonId,
    },
    MatterRetired {
        catalogue: RegionId,
        version: u64,
        code: MatterCode,
        retired_at: DateTime<Utc>,
        reason: Text,
        changed_by: PersonId,
    },
}

impl DomainEvent for CatalogueEvent {
    fn event_type(&self) -> &'static str {
        match self {
            CatalogueEvent::MatterAdded { .. } => "MatterAdded",
            CatalogueEvent::MatterRevised { .. } => "MatterRevised",
            CatalogueEvent::MatterRetired { .. } => "MatterRetired",
        }
    }

    fn regions(&self) -> Vec<RegionId> {
        match self {
            CatalogueEvent::MatterAdded { catalogue, .. }
            | CatalogueEvent::MatterRevised { catalogue, .. }
            | CatalogueEvent::MatterRetired { catalogue, .. } => vec![catalogue.clone()],
        }
    }
}

/// Why a catalogue command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("只有本级系统管理员可以维护事项清单")]
    NotAdministrator,
    #[error("事项清单只能按市或县(市、区)编制,{region} 不是")]
    NotACatalogueRegion { region: RegionId },
    #[error("本清单属于 {expected},不是 {given}")]
    WrongCatalogue { expected: RegionId, given: RegionId },
    #[error("{0}")]
    InvalidCode(InvalidMatterCode),
    #[error("事项名称无效:{0}")]
    InvalidName(InvalidText),
    #[error("{0}")]
    InvalidCategory(InvalidCategory),
    #[error("退出原因无效:{0}")]
    InvalidReason(InvalidText),
    #[error("失效时间必须晚于生效时间")]
    EffectivePeriodEmpty,
    #[error("过筛码 {code} 已在清单内")]
    DuplicateCode { code: MatterCode },
    #[error("过筛码 {code} 不在清单内")]
    UnknownCode { code: MatterCode },
    #[error("清单事项 {code} 已退出清单,不能再修订或退出")]
    AlreadyRetired { code: MatterCode },
    #[error("修订内容与现行事项相同")]
    NothingChanged,
}

impl Rejection for CatalogueError {
    fn code(&self) -> &'static str {
        use CatalogueError::*;
        match self {
            NotAdministrator => "FORBIDDEN",
            NotACatalogueRegion { .. }
            | WrongCatalogue { .. }
            | InvalidCode(_)
            | InvalidName(_)
            | InvalidCategory(_)
            | InvalidReason(_)
            | EffectivePeriodEmpty
            | NothingChanged => "INVALID_INPUT",
            DuplicateCode { .. } | AlreadyRetired { .. } => "CONFLICT",
            UnknownCode { .. } => "NOT_FOUND",
        }
    }
}

fn parse_item(input: MatterInput) -> Result<MatterItem, CatalogueError> {
    let code = MatterCode::parse(&input.code).map_err(CatalogueError::InvalidCode)?;
    let name = Text::parse(&input.name).map_err(CatalogueError::InvalidName)?;
    let category = Category::parse(&input.category).map_err(CatalogueError::InvalidCategory)?;
    if input
        .effective_to
        .is_some_and(|to| to <= input.effective_from)
    {
        return Err(CatalogueError::EffectivePeriodEmpty);
    }
    Ok(MatterItem {
        code,
        name,
        category,
        level: input.level,
        kind: input.kind,
        effective_from: input.effective_from,
        effective_to: input.effective_to,
    })
}

impl MatterCatalogue {
    /// The catalogue's region, checked against the stream's and the actor's.
    fn check_catalogue(
        &self,
        catalogue: &RegionId,
        ctx: &CommandContext<'_>,
    ) -> Result<(), CatalogueError> {
        if !matches!(catalogue.level(), RegionLevel::City | RegionLevel::County) {
            return Err(CatalogueError::NotACatalogueRegion {
                region: catalogue.clone(),
            });
        }
        if let Some(expected) = &self.region
            && expected != catalogue
        {
            return Err(CatalogueError::WrongCatalogue {
                expected: expected.clone(),
                given: catalogue.clone(),
            });
        }
        if !ctx.actor.administers(catalogue) {
            return Err(CatalogueError::NotAdministrator);
        }
        Ok(())
    }

    /// A live (not retired) item.
    fn live_item(
        &self,
        code: &MatterCode,
        now: DateTime<Utc>,
    ) -> Result<&MatterItem, CatalogueError> {
        let item = self
            .items
            .get(code)
            .ok_or_else(|| CatalogueError::UnknownCode { code: code.clone() })?;
        if item.effective_to.is_some_and(|to| to <= now) {
            return Err(CatalogueError::AlreadyRetired { code: code.clone() });
        }
        Ok(item)
    }
}

impl Aggregate for MatterCatalogue {
    const CATEGORY: &'static str = "catalogue";
    type Command = CatalogueCommand;
    type Event = CatalogueEvent;
    type Error = CatalogueError;

    fn decide(
        &self,
        command: CatalogueCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<CatalogueEvent>, CatalogueError> {
        let version = self.version + 1;
        let changed_by = ctx.actor.id.clone();
        match command {
            CatalogueCommand::AddMatter { catalogue, item } => {
                self.check_catalogue(&catalogue, ctx)?;
                let item = parse_item(item)?;
                if self.items.contains_key(&item.code) {
                    return Err(CatalogueError::DuplicateCode { code: item.code });
                }
                Ok(vec![CatalogueEvent::MatterAdded {
                    catalogue,
                    version,
                    item,
                    changed_by,
                }])
            }
            CatalogueCommand::ReviseMatter { catalogue, item } => {
                self.check_catalogue(&catalogue, ctx)?;
                let item = parse_item(item)?;
                let current = self.live_item(&item.code, ctx.now)?;
                if current == &item {
                    return Err(CatalogueError::NothingChanged);
                }
                Ok(vec![CatalogueEvent::MatterRevised {
                    catalogue,
                    version,
                    item,
                    changed_by,
                }])
            }
            CatalogueCommand::RetireMatter {
                catalogue,
                code,
                reason,
            } => {
                self.check_catalogue(&catalogue, ctx)?;
                let code = MatterCode::parse(&code).map_err(CatalogueError::InvalidCode)?;
                let reason = Text::parse(&reason).map_err(CatalogueError::InvalidReason)?;
                self.live_item(&code, ctx.now)?;
                Ok(vec![CatalogueEvent::MatterRetired {
                    catalogue,
                    version,
                    code,
                    retired_at: ctx.now,
                    reason,
                    changed_by,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &CatalogueEvent) {
        match event {
            CatalogueEvent::MatterAdded {
                catalogue,
                version,
                item,
                ..
            }
            | CatalogueEvent::MatterRevised {
                catalogue,
                version,
                item,
                ..
            } => {
                self.region = Some(catalogue.clone());
                self.version = *version;
                self.items.insert(item.code.clone(), item.clone());
            }
            CatalogueEvent::MatterRetired {
                catalogue,
                version,
                code,
                retired_at,
                ..
            } => {
                self.region = Some(catalogue.clone());
                self.version = *version;
                if let Some(item) = self.items.get_mut(code) {
                    // Retirement never extends validity: an item due to end earlier keeps
                    // its earlier end.
                    let end = item
                        .effective_to
                        .map_or(*retired_at, |to| to.min(*retired_at));
                    item.effective_to = Some(end);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::*;

    pub(crate) fn now() -> DateTime<Utc> {
        at("2025-03-01T09:00:00+08:00")
    }

    pub(crate) fn input(code: &str, level: ResponsibleLevel, kind: MatterKind) -> MatterInput {
        MatterInput {
            code: code.into(),
            name: format!("事项{code}"),
            category: "综治".into(),
            level,
            kind,
            effective_from: at("2024-01-01T00:00:00+08:00"),
            effective_to: None,
        }
    }

    /// 诸暨市's catalogue: a village duty, a grid duty, a town duty, a barred matter, a
    /// matter effective only next year, and a retired one.
    pub(crate) fn catalogue_history() -> Vec<CatalogueEvent> {
        let admin = admin(&zhuji());
        let mut history = Vec::new();
        let mut add = |item: MatterInput| {
            history = then_history::<MatterCatalogue>(
                &history,
                &admin,
                now(),
                CatalogueCommand::AddMatter {
                    catalogue: zhuji(),
                    item,
                },
            );
        };
        add(input("ZZ-001", ResponsibleLevel::Village, MatterKind::Duty));
        add(input("ZZ-002", ResponsibleLevel::Grid, MatterKind::Assist));
        add(input("ZZ-003", ResponsibleLevel::Town, MatterKind::Duty));
        add(input(
            "ZZ-004",
            ResponsibleLevel::Village,
            MatterKind::Barred,
        ));
        add(MatterInput {
            effective_from: at("2026-01-01T00:00:00+08:00"),
            ..input("ZZ-005", ResponsibleLevel::Village, MatterKind::Duty)
        });
        add(MatterInput {
            category: "城建".into(),
            ..input("CJ-001", ResponsibleLevel::Village, MatterKind::Duty)
        });
        add(input("ZZ-006", ResponsibleLevel::Village, MatterKind::Duty));
        then_history::<MatterCatalogue>(
            &history,
            &admin,
            now(),
            CatalogueCommand::RetireMatter {
                catalogue: zhuji(),
                code: "zz-006".into(),
                reason: "职责调整".into(),
            },
        )
    }

    pub(crate) fn snapshot() -> CatalogueSnapshot {
        MatterCatalogue::replay(&catalogue_history())
            .snapshot()
            .expect("opened")
    }

    fn code(raw: &str) -> MatterCode {
        MatterCode::parse(raw).expect("code")
    }

    fn when_cat(
        given: &[CatalogueEvent],
        actor: &Actor,
        cmd: CatalogueCommand,
    ) -> Result<Vec<CatalogueEvent>, CatalogueError> {
        when::<MatterCatalogue>(given, actor, now(), cmd)
    }

    use crate::people::Actor;

    #[test]
    fn every_change_bumps_the_version() {
        let history = catalogue_history();
        let versions: Vec<u64> = history
            .iter()
            .map(|e| match e {
                CatalogueEvent::MatterAdded { version, .. }
                | CatalogueEvent::MatterRevised { version, .. }
                | CatalogueEvent::MatterRetired { version, .. } => *version,
            })
            .collect();
        assert_eq!(versions, (1..=8).collect::<Vec<_>>());
        let revised = then_history::<MatterCatalogue>(
            &history,
            &admin(&zhuji()),
            now(),
            CatalogueCommand::ReviseMatter {
                catalogue: zhuji(),
                item: MatterInput {
                    name: "平安建设巡查".into(),
                    ..input("ZZ-001", ResponsibleLevel::Village, MatterKind::Duty)
                },
            },
        );
        revised.iter().for_each(assert_round_trip);
        let state = MatterCatalogue::replay(&revised);
        assert_eq!(state.version(), 9);
        assert_eq!(
            state.item(&code("ZZ-001")).map(|i| i.name.as_str()),
            Some("平安建设巡查")
        );
    }

    #[test]
    fn screening_passes_village_and_grid_matters_in_force() {
        let snapshot = snapshot();
        for c in ["ZZ-001", "ZZ-002"] {
            let item = snapshot
                .screen(Some(&code(c)), ResponsibleLevel::Village, now())
                .expect("passes");
            assert_eq!(item.code, code(c));
        }
    }

    #[test]
    fn screening_reasons() {
        let s = snapshot();
        let screen = |c: Option<&str>| {
            s.screen(c.map(code).as_ref(), ResponsibleLevel::Village, now())
                .map(|_| ())
                .expect_err("rejected")
        };
        assert_eq!(screen(None), ScreeningReason::MissingCode);
        assert!(matches!(
            screen(Some("XX-999")),
            ScreeningReason::UnknownCode { .. }
        ));
        assert!(matches!(
            screen(Some("ZZ-003")),
            ScreeningReason::WrongLevel {
                responsible: ResponsibleLevel::Town,
                ..
            }
        ));
        assert!(matches!(
            screen(Some("ZZ-004")),
            ScreeningReason::Barred { .. }
        ));
        assert!(matches!(
            screen(Some("ZZ-005")),
            ScreeningReason::NotYetEffective { .. }
        ));
        assert!(matches!(
            screen(Some("ZZ-006")),
            ScreeningReason::Retired { .. }
        ));
    }

    #[test]
    fn an_item_expires_at_its_end() {
        let mut s = snapshot();
        let end = at("2025-02-01T00:00:00+08:00");
        if let Some(item) = s.items.get_mut(&code("ZZ-001")) {
            item.effective_to = Some(end);
        }
        assert!(matches!(
            s.screen(Some(&code("ZZ-001")), ResponsibleLevel::Village, now()),
            Err(ScreeningReason::Retired { since, .. }) if since == end
        ));
    }

    #[test]
    fn catalogue_refusals() {
        let history = catalogue_history();
        let add = |item: MatterInput| CatalogueCommand::AddMatter {
            catalogue: zhuji(),
            item,
        };
        let a = admin(&zhuji());
        let cases: Vec<(Actor, CatalogueCommand, Expect<CatalogueError>)> = vec![
            (
                admin(&fengqiao()),
                add(input("N-1", ResponsibleLevel::Village, MatterKind::Duty)),
                |e| matches!(e, CatalogueError::NotAdministrator),
            ),
            (
                town_staff(),
                add(input("N-1", ResponsibleLevel::Village, MatterKind::Duty)),
                |e| matches!(e, CatalogueError::NotAdministrator),
            ),
            (
                Actor::system(),
                CatalogueCommand::AddMatter {
                    catalogue: fengqiao(),
                    item: input("N-1", ResponsibleLevel::Village, MatterKind::Duty),
                },
                |e| matches!(e, CatalogueError::NotACatalogueRegion { .. }),
            ),
            (
                Actor::system(),
                CatalogueCommand::AddMatter {
                    catalogue: region("330602000000"),
                    item: input("N-1", ResponsibleLevel::Village, MatterKind::Duty),
                },
                |e| matches!(e, CatalogueError::WrongCatalogue { .. }),
            ),
            (
                a.clone(),
                add(input("!", ResponsibleLevel::Village, MatterKind::Duty)),
                |e| matches!(e, CatalogueError::InvalidCode(_)),
            ),
            (
                a.clone(),
                add(MatterInput {
                    name: " ".into(),
                    ..input("N-1", ResponsibleLevel::Village, MatterKind::Duty)
                }),
                |e| matches!(e, CatalogueError::InvalidName(_)),
            ),
            (
                a.clone(),
                add(MatterInput {
                    category: "".into(),
                    ..input("N-1", ResponsibleLevel::Village, MatterKind::Duty)
                }),
                |e| matches!(e, CatalogueError::InvalidCategory(_)),
            ),
            (
                a.clone(),
                add(MatterInput {
                    effective_to: Some(at("2023-01-01T00:00:00Z")),
                    ..input("N-1", ResponsibleLevel::Village, MatterKind::Duty)
                }),
                |e| matches!(e, CatalogueError::EffectivePeriodEmpty),
            ),
            (
                a.clone(),
                add(input("zz-001", ResponsibleLevel::Village, MatterKind::Duty)),
                |e| matches!(e, CatalogueError::DuplicateCode { .. }),
            ),
            (
                a.clone(),
                CatalogueCommand::ReviseMatter {
                    catalogue: zhuji(),
                    item: input("N-1", ResponsibleLevel::Village, MatterKind::Duty),
                },
                |e| matches!(e, CatalogueError::UnknownCode { .. }),
            ),
            (
                a.clone(),
                CatalogueCommand::ReviseMatter {
                    catalogue: zhuji(),
                    item: input("ZZ-001", ResponsibleLevel::Village, MatterKind::Duty),
                },
                |e| matches!(e, CatalogueError::NothingChanged),
            ),
            (
                a.clone(),
                CatalogueCommand::ReviseMatter {
                    catalogue: zhuji(),
                    item: input("ZZ-006", ResponsibleLevel::Grid, MatterKind::Duty),
                },
                |e| matches!(e, CatalogueError::AlreadyRetired { .. }),
            ),
            (
                a.clone(),
                CatalogueCommand::RetireMatter {
                    catalogue: zhuji(),
                    code: "ZZ-006".into(),
                    reason: "重复".into(),
                },
                |e| matches!(e, CatalogueError::AlreadyRetired { .. }),
            ),
            (
                a.clone(),
                CatalogueCommand::RetireMatter {
                    catalogue: zhuji(),
                    code: "ZZ-001".into(),
                    reason: "".into(),
                },
                |e| matches!(e, CatalogueError::InvalidReason(_)),
            ),
            (
                a.clone(),
                CatalogueCommand::RetireMatter {
                    catalogue: zhuji(),
                    code: "NOPE-1".into(),
                    reason: "重复".into(),
                },
                |e| matches!(e, CatalogueError::UnknownCode { .. }),
            ),
        ];
        for (actor, cmd, expected) in cases {
            let err = when_cat(&history, &actor, cmd.clone()).expect_err("refused");
            assert!(expected(&err), "{cmd:?} -> {err:?}");
        }
        assert_eq!(CatalogueError::NothingChanged.code(), "INVALID_INPUT");
        assert_eq!(CatalogueError::NotAdministrator.code(), "FORBIDDEN");
    }

    #[test]
    fn an_empty_catalogue_has_no_snapshot_yet() {
        assert_eq!(MatterCatalogue::default().snapshot(), None);
        assert_eq!(CatalogueSnapshot::empty(zhuji()).version, 0);
    }

    #[test]
    fn matter_codes_and_categories_parse() {
        assert_eq!(code(" zz-001 ").as_str(), "ZZ-001");
        for bad in ["", "Z", "-ZZ", "ZZ 01", "过筛码", &"Z".repeat(33)] {
            assert!(MatterCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Category::parse(" 农业农村 ").map(|c| c.as_str().to_owned()),
            Ok("农业农村".into())
        );
        assert!(Category::parse("农业 农村").is_err());
    }

    fn arb_step() -> impl Strategy<Value = (u8, u8, u8, u8, i64)> {
        (0u8..3, 0u8..5, 0u8..4, 0u8..3, 0i64..3)
    }

    fn command_from(
        kind: u8,
        which: u8,
        level: u8,
        matter_kind: u8,
        shift: i64,
    ) -> CatalogueCommand {
        let level = [
            ResponsibleLevel::County,
            ResponsibleLevel::Town,
            ResponsibleLevel::Village,
            ResponsibleLevel::Grid,
        ][usize::from(level)];
        let matter_kind =
            [MatterKind::Duty, MatterKind::Assist, MatterKind::Barred][usize::from(matter_kind)];
        let mut item = input(&format!("P-{which}"), level, matter_kind);
        item.effective_from += chrono::Duration::days(shift * 100);
        match kind {
            0 => CatalogueCommand::AddMatter {
                catalogue: zhuji(),
                item,
            },
            1 => CatalogueCommand::ReviseMatter {
                catalogue: zhuji(),
                item,
            },
            _ => CatalogueCommand::RetireMatter {
                catalogue: zhuji(),
                code: item.code,
                reason: "调整".into(),
            },
        }
    }

    proptest! {
        #[test]
        fn replay_is_deterministic_and_events_round_trip(steps in prop::collection::vec(arb_step(), 0..40)) {
            let actor = admin(&zhuji());
            let mut state = MatterCatalogue::default();
            let mut history = Vec::new();
            for (kind, which, level, matter_kind, shift) in steps {
                let cmd = command_from(kind, which, level, matter_kind, shift);
                if let Ok(events) = state.decide(cmd, &CommandContext { actor: &actor, now: now() }) {
                    for event in &events {
                        state.evolve(event);
                        assert_round_trip(event);
                    }
                    history.extend(events);
                }
            }
            prop_assert_eq!(state.version(), history.len() as u64);
            prop_assert_eq!(MatterCatalogue::replay(&history), state.clone());
            if let Some(snapshot) = state.snapshot() {
                let json = serde_json::to_string(&snapshot).expect("serialises");
                let back: CatalogueSnapshot = serde_json::from_str(&json).expect("deserialises");
                prop_assert_eq!(back, snapshot);
            }
        }
    }
}
