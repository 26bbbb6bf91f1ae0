//! Places and people (辖区与干部): the tree 市 → 县/市/区 → 乡镇/街道 → 村/社区 → 网格, and the
//! cadres appointed over it.
//!
//! # Streams
//!
//! One [`Jurisdiction`] stream per city, county or town: `region-{code}`. A town's stream
//! also holds its villages, their grids and every appointment over the town or one of its
//! villages, so the rules that span them (a village is registered once, a grid belongs to a
//! registered village, a village has one 村社书记 at a time, a person holds one post) are
//! checked inside one consistency boundary. A town has a few dozen villages and a few
//! hundred cadres; they are registered and appointed rarely, so one stream per town does not
//! contend. Villages are not streams of their own here: registering one is a change to its
//! town.
//!
//! # Cross-stream rules
//!
//! - A county or town is registered by an administrator whose scope covers the region
//!   above it (the enclosing scope). The parent's own registration is *not* checked (it
//!   lives in another stream); the reference import registers the tree top-down.
//! - The caller (API, simulator) builds the town's village list for task commands from
//!   [`Jurisdiction::village_ids`], and the authenticated [`Actor`] from
//!   [`Jurisdiction::actor_for`]: the aggregates that take them trust the caller for that.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::catalogue::{Category, InvalidCategory};
use crate::people::{Actor, PersonId, Role};
use crate::region::{GridId, RegionId, RegionLevel};
use crate::text::{InvalidText, Text};

/// 村 or 社区.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VillageKind {
    /// 行政村.
    Village,
    /// 城市社区.
    Community,
}

/// A registered village or community of a town.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VillageRecord {
    pub name: Text,
    pub kind: VillageKind,
}

/// A cadre's post: who holds it, in what role, over which region (and grid, for 网格长).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub name: Text,
    pub role: Role,
    pub scope: RegionId,
    pub grid: Option<GridId>,
    pub since: DateTime<Utc>,
}

/// A city, county or town (辖区) with what lies registered under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jurisdiction {
    region: Option<RegionId>,
    name: Option<Text>,
    villages: BTreeMap<RegionId, VillageRecord>,
    grids: BTreeMap<GridId, Text>,
    cadres: BTreeMap<PersonId, Appointment>,
}

impl Jurisdiction {
    /// The registered region of this stream, if any.
    pub fn region(&self) -> Option<&RegionId> {
        self.region.as_ref()
    }

    pub fn name(&self) -> Option<&Text> {
        self.name.as_ref()
    }

    /// The town's villages and communities, in code order: what task commands need as the
    /// town's village list.
    pub fn village_ids(&self) -> Vec<RegionId> {
        self.villages.keys().cloned().collect()
    }

    pub fn village(&self, village: &RegionId) -> Option<&VillageRecord> {
        self.villages.get(village)
    }

    /// The grids registered for one village.
    pub fn grids_of<'a>(&'a self, village: &'a RegionId) -> impl Iterator<Item = &'a GridId> + 'a {
        self.grids.keys().filter(move |g| g.village() == village)
    }

    /// The current post of a person, if they hold one here.
    pub fn appointment(&self, person: &PersonId) -> Option<&Appointment> {
        self.cadres.get(person)
    }

    /// The actor a person acts as, from their current post.
    pub fn actor_for(&self, person: &PersonId) -> Option<Actor> {
        self.cadres.get(person).map(|post| Actor {
            id: person.clone(),
            role: post.role.clone(),
            scope: post.scope.clone(),
        })
    }

    fn registered(&self) -> Result<&RegionId, OrganizationError> {
        self.region.as_ref().ok_or(OrganizationError::NotRegistered)
    }

    fn registered_town(&self) -> Result<&RegionId, OrganizationError> {
        let region = self.registered()?;
        if region.level() != RegionLevel::Town {
            return Err(OrganizationError::NotATown {
                region: region.clone(),
            });
        }
        Ok(region)
    }
}

/// Commands on a [`Jurisdiction`].
#[derive(Debug, Clone, PartialEq)]
pub enum OrganizationCommand {
    /// Register a city, county or town (by an administrator of the enclosing scope).
    RegisterRegion { region: RegionId, name: String },
    /// Register a village or community of this town.
    RegisterVillage {
        village: RegionId,
        name: String,
        kind: VillageKind,
    },
    /// Register a grid (网格) of a registered village of this town.
    RegisterGrid { grid: GridId, name: String },
    /// Appoint a cadre to a post over this region or one of its villages.
    AppointCadre {
        person: PersonId,
        name: String,
        role: Role,
        scope: RegionId,
        grid: Option<GridId>,
    },
    /// Record that a cadre left their post (离任).
    RecordDeparture { person: PersonId, reason: String },
}

/// Facts about places and people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum OrganizationEvent {
    RegionRegistered {
        region: RegionId,
        level: RegionLevel,
        name: Text,
        parent: Option<RegionId>,
        registered_by: PersonId,
    },
    VillageRegistered {
        town: RegionId,
        village: RegionId,
        name: Text,
        kind: VillageKind,
        registered_by: PersonId,
    },
    GridRegistered {
        town: RegionId,
        village: RegionId,
        grid: GridId,
        name: Text,
        registered_by: PersonId,
    },
    CadreAppointed {
        jurisdiction: RegionId,
        person: PersonId,
        name: Text,
        role: Role,
        scope: RegionId,
        grid: Option<GridId>,
        appointed_by: PersonId,
        appointed_at: DateTime<Utc>,
    },
    CadreDeparted {
        jurisdiction: RegionId,
        person: PersonId,
        role: Role,
        scope: RegionId,
        reason: Text,
        recorded_by: PersonId,
        departed_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> &'static str {
        match self {
            OrganizationEvent::RegionRegistered { .. } => "RegionRegistered",
            OrganizationEvent::VillageRegistered { .. } => "VillageRegistered",
            OrganizationEvent::GridRegistered { .. } => "GridRegistered",
            OrganizationEvent::CadreAppointed { .. } => "CadreAppointed",
            OrganizationEvent::CadreDeparted { .. } => "CadreDeparted",
        }
    }

    fn regions(&self) -> Vec<RegionId> {
        match self {
            OrganizationEvent::RegionRegistered { region, .. } => vec![region.clone()],
            OrganizationEvent::VillageRegistered { town, village, .. }
            | OrganizationEvent::GridRegistered { town, village, .. } => {
                vec![village.clone(), town.clone()]
            }
            OrganizationEvent::CadreAppointed {
                jurisdiction,
                scope,
                ..
            }
            | OrganizationEvent::CadreDeparted {
                jurisdiction,
                scope,
                ..
            } => {
                let mut regions = vec![scope.clone()];
                if jurisdiction != scope {
                    regions.push(jurisdiction.clone());
                }
                regions
            }
        }
    }
}

/// Why a command on places and people was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganizationError {
    #[error("名称无效:{0}")]
    InvalidName(InvalidText),
    #[error("离任原因无效:{0}")]
    InvalidReason(InvalidText),
    #[error("分管领域无效:{0}")]
    InvalidDutyArea(InvalidCategory),
    #[error("镇街分管领导至少要分管一个领域")]
    MissingDutyAreas,
    #[error("只有所在上级辖区的系统管理员可以进行此操作")]
    NotAdministrator,
    #[error("{region} 不是市、县(市、区)或乡镇(街道),不能单独登记为辖区")]
    NotAJurisdiction { region: RegionId },
    #[error("{region} 已经登记过")]
    AlreadyRegistered { region: RegionId },
    #[error("本辖区尚未登记")]
    NotRegistered,
    #[error("{region} 不是乡镇(街道),不能在其下登记村社或网格")]
    NotATown { region: RegionId },
    #[error("{region} 不是村(社区)代码")]
    NotAVillage { region: RegionId },
    #[error("村社 {village} 不属于本乡镇(街道)")]
    VillageOutsideTown { village: RegionId },
    #[error("村社 {village} 已经登记过")]
    VillageAlreadyRegistered { village: RegionId },
    #[error("村社 {village} 尚未登记")]
    UnknownVillage { village: RegionId },
    #[error("网格 {grid} 已经登记过")]
    GridAlreadyRegistered { grid: GridId },
    #[error("网格 {grid} 尚未登记")]
    UnknownGrid { grid: GridId },
    #[error("任职范围 {scope} 不在本辖区内")]
    ScopeOutsideJurisdiction { scope: RegionId },
    #[error("“{role}”不能任职于 {scope} 这一级")]
    RoleDoesNotFitScope { role: &'static str, scope: RegionId },
    #[error("网格长必须指定所负责的网格")]
    GridRequired,
    #[error("只有网格长才指定网格")]
    GridNotAllowed,
    #[error("网格 {grid} 不属于任职村社")]
    GridOutsideScope { grid: GridId },
    #[error("{person} 已在本辖区任职,请先办理离任")]
    AlreadyAppointed { person: PersonId },
    #[error("{scope} 的“{role}”一职已由 {holder} 担任")]
    PostOccupied {
        role: &'static str,
        scope: RegionId,
        holder: PersonId,
    },
    #[error("{person} 在本辖区没有任职")]
    UnknownCadre { person: PersonId },
}

impl Rejection for OrganizationError {
    fn code(&self) -> &'static str {
        use OrganizationError::*;
        match self {
            InvalidName(_)
            | InvalidReason(_)
            | InvalidDutyArea(_)
            | MissingDutyAreas
            | NotAJurisdiction { .. }
            | NotAVillage { .. }
            | VillageOutsideTown { .. }
            | ScopeOutsideJurisdiction { .. }
            | RoleDoesNotFitScope { .. }
            | GridRequired
            | GridNotAllowed
            | GridOutsideScope { .. } => "INVALID_INPUT",
            NotAdministrator => "FORBIDDEN",
            NotRegistered | UnknownVillage { .. } | UnknownGrid { .. } | UnknownCadre { .. } => {
                "NOT_FOUND"
            }
            AlreadyRegistered { .. }
            | VillageAlreadyRegistered { .. }
            | GridAlreadyRegistered { .. }
            | AlreadyAppointed { .. }
            | PostOccupied { .. } => "CONFLICT",
            NotATown { .. } => "RULE_VIOLATION",
        }
    }
}

/// Posts of which a region has one holder at a time.
fn is_single_post(role: &Role) -> bool {
    matches!(role, Role::PartyCommitteeSecretary | Role::VillageSecretary)
}

/// A town leader's duty areas, trimmed, checked and without repeats.
fn normalise_role(role: Role) -> Result<Role, OrganizationError> {
    match role {
        Role::TownLeader { duty_areas } => {
            let mut areas: Vec<String> = Vec::new();
            for raw in duty_areas {
                let area = Category::parse(&raw).map_err(OrganizationError::InvalidDutyArea)?;
                if !areas.iter().any(|a| a == area.as_str()) {
                    areas.push(area.as_str().to_owned());
                }
            }
            if areas.is_empty() {
                return Err(OrganizationError::MissingDutyAreas);
            }
            Ok(Role::TownLeader { duty_areas: areas })
        }
        other => Ok(other),
    }
}

impl Jurisdiction {
    fn register_region(
        &self,
        region: RegionId,
        name: String,
        actor: &Actor,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let level = region.level();
        if !matches!(
            level,
            RegionLevel::City | RegionLevel::County | RegionLevel::Town
        ) {
            return Err(OrganizationError::NotAJurisdiction { region });
        }
        let parent = region.parent();
        // The enclosing scope: the region above, or the city itself for the city.
        let enclosing = match (level, &parent) {
            (RegionLevel::City, _) | (_, None) => &region,
            (_, Some(parent)) => parent,
        };
        if !actor.administers(enclosing) {
            return Err(OrganizationError::NotAdministrator);
        }
        let name = Text::parse(&name).map_err(OrganizationError::InvalidName)?;
        if self.region.is_some() {
            return Err(OrganizationError::AlreadyRegistered { region });
        }
        Ok(vec![OrganizationEvent::RegionRegistered {
            region,
            level,
            name,
            parent,
            registered_by: actor.id.clone(),
        }])
    }

    fn register_village(
        &self,
        village: RegionId,
        name: String,
        kind: VillageKind,
        actor: &Actor,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let town = self.registered_town()?;
        if !actor.administers(town) {
            return Err(OrganizationError::NotAdministrator);
        }
        if village.level() != RegionLevel::Village {
            return Err(OrganizationError::NotAVillage { region: village });
        }
        if village.town().as_ref() != Some(town) {
            return Err(OrganizationError::VillageOutsideTown { village });
        }
        let name = Text::parse(&name).map_err(OrganizationError::InvalidName)?;
        if self.villages.contains_key(&village) {
            return Err(OrganizationError::VillageAlreadyRegistered { village });
        }
        Ok(vec![OrganizationEvent::VillageRegistered {
            town: town.clone(),
            village,
            name,
            kind,
            registered_by: actor.id.clone(),
        }])
    }

    fn register_grid(
        &self,
        grid: GridId,
        name: String,
        actor: &Actor,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let town = self.registered_town()?;
        let village = grid.village().clone();
        if !actor.administers(&village) {
            return Err(OrganizationError::NotAdministrator);
        }
        if village.town().as_ref() != Some(town) {
            return Err(OrganizationError::VillageOutsideTown { village });
        }
        if !self.villages.contains_key(&village) {
            return Err(OrganizationError::UnknownVillage { village });
        }
        let name = Text::parse(&name).map_err(OrganizationError::InvalidName)?;
        if self.grids.contains_key(&grid) {
            return Err(OrganizationError::GridAlreadyRegistered { grid });
        }
        Ok(vec![OrganizationEvent::GridRegistered {
            town: town.clone(),
            village,
            grid,
            name,
            registered_by: actor.id.clone(),
        }])
    }

    fn appoint(
        &self,
        command: AppointCadre,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let AppointCadre {
            person,
            name,
            role,
            scope,
            grid,
        } = command;
        let jurisdiction = self.registered()?;
        if !jurisdiction.contains(&scope) {
            return Err(OrganizationError::ScopeOutsideJurisdiction { scope });
        }
        if !ctx.actor.administers(&scope) {
            return Err(OrganizationError::NotAdministrator);
        }
        // A village scope must be a registered village of this town; anything else must be
        // this jurisdiction itself (a sub-jurisdiction keeps its own stream).
        if scope.level() == RegionLevel::Village {
            if jurisdiction.level() != RegionLevel::Town {
                return Err(OrganizationError::ScopeOutsideJurisdiction { scope });
            }
            if !self.villages.contains_key(&scope) {
                return Err(OrganizationError::UnknownVillage { village: scope });
            }
        } else if &scope != jurisdiction {
            return Err(OrganizationError::ScopeOutsideJurisdiction { scope });
        }
        if let Some(level) = role.acts_at()
            && level != scope.level()
        {
            return Err(OrganizationError::RoleDoesNotFitScope {
                role: role.title(),
                scope,
            });
        }
        match (&role, &grid) {
            (Role::GridLeader, None) => return Err(OrganizationError::GridRequired),
            (Role::GridLeader, Some(grid)) => {
                if grid.village() != &scope {
                    return Err(OrganizationError::GridOutsideScope { grid: grid.clone() });
                }
                if !self.grids.contains_key(grid) {
                    return Err(OrganizationError::UnknownGrid { grid: grid.clone() });
                }
            }
            (_, Some(_)) => return Err(OrganizationError::GridNotAllowed),
            (_, None) => {}
        }
        let role = normalise_role(role)?;
        let name = Text::parse(&name).map_err(OrganizationError::InvalidName)?;
        if self.cadres.contains_key(&person) {
            return Err(OrganizationError::AlreadyAppointed { person });
        }
        if is_single_post(&role)
            && let Some((holder, _)) = self
                .cadres
                .iter()
                .find(|(_, post)| post.role == role && post.scope == scope)
        {
            return Err(OrganizationError::PostOccupied {
                role: role.title(),
                scope,
                holder: holder.clone(),
            });
        }
        Ok(vec![OrganizationEvent::CadreAppointed {
            jurisdiction: jurisdiction.clone(),
            person,
            name,
            role,
            scope,
            grid,
            appointed_by: ctx.actor.id.clone(),
            appointed_at: ctx.now,
        }])
    }

    fn record_departure(
        &self,
        person: PersonId,
        reason: String,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let jurisdiction = self.registered()?;
        let post = self
            .cadres
            .get(&person)
            .ok_or_else(|| OrganizationError::UnknownCadre {
                person: person.clone(),
            })?;
        if !ctx.actor.administers(&post.scope) {
            return Err(OrganizationError::NotAdministrator);
        }
        let reason = Text::parse(&reason).map_err(OrganizationError::InvalidReason)?;
        Ok(vec![OrganizationEvent::CadreDeparted {
            jurisdiction: jurisdiction.clone(),
            person,
            role: post.role.clone(),
            scope: post.scope.clone(),
            reason,
            recorded_by: ctx.actor.id.clone(),
            departed_at: ctx.now,
        }])
    }
}

struct AppointCadre {
    person: PersonId,
    name: String,
    role: Role,
    scope: RegionId,
    grid: Option<GridId>,
}

impl Aggregate for Jurisdiction {
    const CATEGORY: &'static str = "region";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;

    fn decide(
        &self,
        command: OrganizationCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        match command {
            OrganizationCommand::RegisterRegion { region, name } => {
                self.register_region(region, name, ctx.actor)
            }
            OrganizationCommand::RegisterVillage {
                village,
                name,
                kind,
            } => self.register_village(village, name, kind, ctx.actor),
            OrganizationCommand::RegisterGrid { grid, name } => {
                self.register_grid(grid, name, ctx.actor)
            }
            OrganizationCommand::AppointCadre {
                person,
                name,
                role,
                scope,
                grid,
            } => self.appoint(
                AppointCadre {
                    person,
                    name,
                    role,
                    scope,
                    grid,
                },
                ctx,
            ),
            OrganizationCommand::RecordDeparture { person, reason } => {
                self.record_departure(person, reason, ctx)
            }
        }
    }

    fn evolve(&mut self, event: &OrganizationEvent) {
        match event {
            OrganizationEvent::RegionRegistered { region, name, .. } => {
                self.region = Some(region.clone());
                self.name = Some(name.clone());
            }
            OrganizationEvent::VillageRegistered {
                village,
                name,
                kind,
                ..
            } => {
                self.villages.insert(
                    village.clone(),
                    VillageRecord {
                        name: name.clone(),
                        kind: *kind,
                    },
                );
            }
            OrganizationEvent::GridRegistered { grid, name, .. } => {
                self.grids.insert(grid.clone(), name.clone());
            }
            OrganizationEvent::CadreAppointed {
                person,
                name,
                role,
                scope,
                grid,
                appointed_at,
                ..
            } => {
                self.cadres.insert(
                    person.clone(),
                    Appointment {
                        name: name.clone(),
                        role: role.clone(),
                        scope: scope.clone(),
                        grid: grid.clone(),
                        since: *appointed_at,
                    },
                );
            }
            OrganizationEvent::CadreDeparted { person, .. } => {
                self.cadres.remove(person);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::*;

    fn now() -> DateTime<Utc> {
        at("2025-03-01T09:00:00+08:00")
    }

    fn grid1() -> GridId {
        GridId::new(fengyuan(), 1).expect("grid")
    }

    fn town_registered() -> Vec<OrganizationEvent> {
        vec![OrganizationEvent::RegionRegistered {
            region: fengqiao(),
            level: RegionLevel::Town,
            name: Text::parse("枫桥镇").expect("name"),
            parent: Some(zhuji()),
            registered_by: person("admin"),
        }]
    }

    fn with_village() -> Vec<OrganizationEvent> {
        then_history::<Jurisdiction>(
            &town_registered(),
            &admin(&fengqiao()),
            now(),
            OrganizationCommand::RegisterVillage {
                village: fengyuan(),
                name: "枫源村".into(),
                kind: VillageKind::Village,
            },
        )
    }

    fn with_grid() -> Vec<OrganizationEvent> {
        then_history::<Jurisdiction>(
            &with_village(),
            &admin(&fengqiao()),
            now(),
            OrganizationCommand::RegisterGrid {
                grid: grid1(),
                name: "第一网格".into(),
            },
        )
    }

    fn appoint(
        person_id: &str,
        role: Role,
        scope: RegionId,
        grid: Option<GridId>,
    ) -> OrganizationCommand {
        OrganizationCommand::AppointCadre {
            person: person(person_id),
            name: "张三".into(),
            role,
            scope,
            grid,
        }
    }

    fn when_org(
        given: &[OrganizationEvent],
        actor: &Actor,
        cmd: OrganizationCommand,
    ) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        when::<Jurisdiction>(given, actor, now(), cmd)
    }

    #[test]
    fn a_county_administrator_registers_a_town() {
        let events = when_org(
            &[],
            &admin(&zhuji()),
            OrganizationCommand::RegisterRegion {
                region: fengqiao(),
                name: " 枫桥镇 ".into(),
            },
        )
        .expect("registered");
        assert_eq!(events, town_registered());
        let state = Jurisdiction::replay(&events);
        assert_eq!(state.region(), Some(&fengqiao()));
    }

    #[test]
    fn the_city_is_registered_by_a_city_administrator() {
        let events = when_org(
            &[],
            &Actor::system(),
            OrganizationCommand::RegisterRegion {
                region: RegionId::shaoxing(),
                name: "绍兴市".into(),
            },
        )
        .expect("registered");
        assert!(matches!(
            &events[..],
            [OrganizationEvent::RegionRegistered {
                level: RegionLevel::City,
                ..
            }]
        ));
    }

    #[test]
    fn registering_a_town_needs_an_administrator_of_the_enclosing_scope() {
        let cmd = || OrganizationCommand::RegisterRegion {
            region: fengqiao(),
            name: "枫桥镇".into(),
        };
        // The town's own administrator does not enclose it; another county's does not either.
        for actor in [
            admin(&fengqiao()),
            admin(&region("330602000000")),
            town_staff(),
        ] {
            assert_eq!(
                when_org(&[], &actor, cmd()),
                Err(OrganizationError::NotAdministrator)
            );
        }
    }

    #[test]
    fn villages_are_not_registered_as_jurisdictions() {
        let err = when_org(
            &[],
            &Actor::system(),
            OrganizationCommand::RegisterRegion {
                region: fengyuan(),
                name: "枫源村".into(),
            },
        );
        assert!(matches!(
            err,
            Err(OrganizationError::NotAJurisdiction { .. })
        ));
    }

    #[test]
    fn a_region_is_registered_once_and_with_a_name() {
        let again = when_org(
            &town_registered(),
            &admin(&zhuji()),
            OrganizationCommand::RegisterRegion {
                region: fengqiao(),
                name: "枫桥镇".into(),
            },
        );
        assert!(matches!(
            again,
            Err(OrganizationError::AlreadyRegistered { .. })
        ));
        let unnamed = when_org(
            &[],
            &admin(&zhuji()),
            OrganizationCommand::RegisterRegion {
                region: fengqiao(),
                name: "  ".into(),
            },
        );
        assert_eq!(
            unnamed,
            Err(OrganizationError::InvalidName(InvalidText::Empty))
        );
    }

    #[test]
    fn a_town_administrator_registers_its_villages() {
        let history = with_village();
        let state = Jurisdiction::replay(&history);
        assert_eq!(state.village_ids(), vec![fengyuan()]);
        assert_eq!(
            history.last().map(DomainEvent::regions),
            Some(vec![fengyuan(), fengqiao()])
        );
    }

    #[test]
    fn village_registration_refusals() {
        let register = |village: RegionId| OrganizationCommand::RegisterVillage {
            village,
            name: "某村".into(),
            kind: VillageKind::Village,
        };
        assert_eq!(
            when_org(&[], &admin(&fengqiao()), register(fengyuan())),
            Err(OrganizationError::NotRegistered)
        );
        assert_eq!(
            when_org(
                &town_registered(),
                &admin(&fengyuan()),
                register(fengyuan())
            ),
            Err(OrganizationError::NotAdministrator)
        );
        assert!(matches!(
            when_org(
                &town_registered(),
                &admin(&fengqiao()),
                register(fengqiao())
            ),
            Err(OrganizationError::NotAVillage { .. })
        ));
        assert!(matches!(
            when_org(&town_registered(), &Actor::system(), register(jinxi())),
            Err(OrganizationError::VillageOutsideTown { .. })
        ));
        assert!(matches!(
            when_org(&with_village(), &admin(&fengqiao()), register(fengyuan())),
            Err(OrganizationError::VillageAlreadyRegistered { .. })
        ));
        let county = vec![OrganizationEvent::RegionRegistered {
            region: zhuji(),
            level: RegionLevel::County,
            name: Text::parse("诸暨市").expect("name"),
            parent: Some(RegionId::shaoxing()),
            registered_by: person("admin"),
        }];
        assert!(matches!(
            when_org(&county, &Actor::system(), register(fengyuan())),
            Err(OrganizationError::NotATown { .. })
        ));
    }

    #[test]
    fn grids_belong_to_registered_villages() {
        let state = Jurisdiction::replay(&with_grid());
        let village = fengyuan();
        assert_eq!(
            state.grids_of(&village).cloned().collect::<Vec<_>>(),
            vec![grid1()]
        );
        let register = |grid: GridId| OrganizationCommand::RegisterGrid {
            grid,
            name: "网格".into(),
        };
        assert!(matches!(
            when_org(&town_registered(), &admin(&fengqiao()), register(grid1())),
            Err(OrganizationError::UnknownVillage { .. })
        ));
        assert!(matches!(
            when_org(&with_grid(), &admin(&fengqiao()), register(grid1())),
            Err(OrganizationError::GridAlreadyRegistered { .. })
        ));
        let other = GridId::new(jinxi(), 1).expect("grid");
        assert!(matches!(
            when_org(&with_grid(), &Actor::system(), register(other)),
            Err(OrganizationError::VillageOutsideTown { .. })
        ));
        let other_village_admin = admin(&village_b());
        assert_eq!(
            when_org(
                &with_grid(),
                &other_village_admin,
                register(GridId::new(fengyuan(), 2).expect("grid"))
            ),
            Err(OrganizationError::NotAdministrator)
        );
    }

    #[test]
    fn cadres_are_appointed_and_act_as_their_post() {
        let history = then_history::<Jurisdiction>(
            &with_grid(),
            &admin(&fengqiao()),
            now(),
            appoint("grid-1", Role::GridLeader, fengyuan(), Some(grid1())),
        );
        let history = then_history::<Jurisdiction>(
            &history,
            &admin(&fengqiao()),
            now(),
            appoint(
                "leader-chen",
                Role::TownLeader {
                    duty_areas: vec![" 综治 ".into(), "综治".into()],
                },
                fengqiao(),
                None,
            ),
        );
        let state = Jurisdiction::replay(&history);
        let leader = state.actor_for(&person("leader-chen")).expect("appointed");
        assert_eq!(
            leader.role,
            Role::TownLeader {
                duty_areas: vec!["综治".into()]
            }
        );
        assert!(leader.leads("综治"));
        assert_eq!(
            state.appointment(&person("grid-1")).map(|a| a.since),
            Some(now())
        );
    }

    #[test]
    fn appointment_refusals() {
        let given = with_grid();
        let town_admin = admin(&fengqiao());
        let cases: Vec<(Actor, OrganizationCommand, Expect<OrganizationError>)> = vec![
            (
                admin(&village_b()),
                appoint("p", Role::VillageCadre, fengyuan(), None),
                |e| matches!(e, OrganizationError::NotAdministrator),
            ),
            (
                town_admin.clone(),
                appoint("p", Role::VillageCadre, jinxi(), None),
                |e| matches!(e, OrganizationError::ScopeOutsideJurisdiction { .. }),
            ),
            (
                town_admin.clone(),
                appoint("p", Role::VillageCadre, village_b(), None),
                |e| matches!(e, OrganizationError::UnknownVillage { .. }),
            ),
            (
                town_admin.clone(),
                appoint("p", Role::VillageSecretary, fengqiao(), None),
                |e| matches!(e, OrganizationError::RoleDoesNotFitScope { .. }),
            ),
            (
                town_admin.clone(),
                appoint("p", Role::TownOfficeStaff, fengyuan(), None),
                |e| matches!(e, OrganizationError::RoleDoesNotFitScope { .. }),
            ),
            (
                town_admin.clone(),
                appoint("p", Role::GridLeader, fengyuan(), None),
                |e| matches!(e, OrganizationError::GridRequired),
            ),
            (
                town_admin.clone(),
                appoint("p", Role::VillageCadre, fengyuan(), Some(grid1())),
                |e| matches!(e, OrganizationError::GridNotAllowed),
            ),
            (
                town_admin.clone(),
                appoint(
                    "p",
                    Role::GridLeader,
                    fengyuan(),
                    Some(GridId::new(fengyuan(), 9).expect("grid")),
                ),
                |e| matches!(e, OrganizationError::UnknownGrid { .. }),
            ),
            (
                town_admin.clone(),
                appoint(
                    "p",
                    Role::GridLeader,
                    fengyuan(),
                    Some(GridId::new(village_b(), 1).expect("grid")),
                ),
                |e| matches!(e, OrganizationError::GridOutsideScope { .. }),
            ),
            (
                town_admin.clone(),
                appoint(
                    "p",
                    Role::TownLeader { duty_areas: vec![] },
                    fengqiao(),
                    None,
                ),
                |e| matches!(e, OrganizationError::MissingDutyAreas),
            ),
            (
                town_admin.clone(),
                appoint(
                    "p",
                    Role::TownLeader {
                        duty_areas: vec![" ".into()],
                    },
                    fengqiao(),
                    None,
                ),
                |e| matches!(e, OrganizationError::InvalidDutyArea(_)),
            ),
            (
                town_admin.clone(),
                OrganizationCommand::AppointCadre {
                    person: person("p"),
                    name: "".into(),
                    role: Role::VillageCadre,
                    scope: fengyuan(),
                    grid: None,
                },
                |e| matches!(e, OrganizationError::InvalidName(_)),
            ),
        ];
        for (actor, cmd, expected) in cases {
            let err = when_org(&given, &actor, cmd.clone()).expect_err("refused");
            assert!(expected(&err), "{cmd:?} -> {err:?}");
        }
        assert_eq!(
            when_org(
                &[],
                &town_admin,
                appoint("p", Role::VillageCadre, fengyuan(), None)
            ),
            Err(OrganizationError::NotRegistered)
        );
    }

    #[test]
    fn one_post_per_person_and_one_secretary_per_village() {
        let given = then_history::<Jurisdiction>(
            &with_village(),
            &admin(&fengqiao()),
            now(),
            appoint("sec-1", Role::VillageSecretary, fengyuan(), None),
        );
        assert!(matches!(
            when_org(
                &given,
                &admin(&fengqiao()),
                appoint("sec-1", Role::VillageCadre, fengyuan(), None)
            ),
            Err(OrganizationError::AlreadyAppointed { .. })
        ));
        assert!(matches!(
            when_org(
                &given,
                &admin(&fengqiao()),
                appoint("sec-2", Role::VillageSecretary, fengyuan(), None)
            ),
            Err(OrganizationError::PostOccupied { .. })
        ));
        // After the departure the post is free again.
        let given = then_history::<Jurisdiction>(
            &given,
            &admin(&fengqiao()),
            now(),
            OrganizationCommand::RecordDeparture {
                person: person("sec-1"),
                reason: "调任".into(),
            },
        );
        assert!(
            when_org(
                &given,
                &admin(&fengqiao()),
                appoint("sec-2", Role::VillageSecretary, fengyuan(), None)
            )
            .is_ok()
        );
        assert_eq!(
            Jurisdiction::replay(&given).actor_for(&person("sec-1")),
            None
        );
    }

    #[test]
    fn departure_refusals() {
        let given = then_history::<Jurisdiction>(
            &with_village(),
            &admin(&fengqiao()),
            now(),
            appoint("sec-1", Role::VillageSecretary, fengyuan(), None),
        );
        let leave = |who: &str, reason: &str| OrganizationCommand::RecordDeparture {
            person: person(who),
            reason: reason.into(),
        };
        assert!(matches!(
            when_org(&given, &admin(&fengqiao()), leave("nobody", "调任")),
            Err(OrganizationError::UnknownCadre { .. })
        ));
        assert_eq!(
            when_org(
                &given,
                &village_secretary(&fengyuan()),
                leave("sec-1", "调任")
            ),
            Err(OrganizationError::NotAdministrator)
        );
        assert!(matches!(
            when_org(&given, &admin(&fengqiao()), leave("sec-1", "")),
            Err(OrganizationError::InvalidReason(_))
        ));
        assert_eq!(
            when_org(&[], &admin(&fengqiao()), leave("sec-1", "调任")),
            Err(OrganizationError::NotRegistered)
        );
    }

    #[test]
    fn every_event_type_round_trips() {
        let history = then_history::<Jurisdiction>(
            &with_grid(),
            &admin(&fengqiao()),
            now(),
            appoint("cadre-1", Role::VillageCadre, fengyuan(), None),
        );
        let history = then_history::<Jurisdiction>(
            &history,
            &admin(&fengqiao()),
            now(),
            OrganizationCommand::RecordDeparture {
                person: person("cadre-1"),
                reason: "辞职".into(),
            },
        );
        let types: Vec<&str> = history.iter().map(DomainEvent::event_type).collect();
        assert_eq!(
            types,
            [
                "RegionRegistered",
                "VillageRegistered",
                "GridRegistered",
                "CadreAppointed",
                "CadreDeparted"
            ]
        );
        history.iter().for_each(assert_round_trip);
    }

    #[test]
    fn every_code_is_stable() {
        assert_eq!(OrganizationError::NotAdministrator.code(), "FORBIDDEN");
        assert_eq!(OrganizationError::NotRegistered.code(), "NOT_FOUND");
        assert_eq!(
            OrganizationError::AlreadyRegistered { region: fengqiao() }.code(),
            "CONFLICT"
        );
        assert_eq!(OrganizationError::GridRequired.code(), "INVALID_INPUT");
    }

    /// A random walk of commands by a few actors over the 枫桥镇 stream.
    fn arb_commands() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
        prop::collection::vec((0u8..6, 0u8..4, 0u8..3), 0..30)
    }

    fn command_from(kind: u8, who: u8, which: u8) -> OrganizationCommand {
        let village = [fengyuan(), village_b(), jinxi()][usize::from(which)].clone();
        let person_id = format!("p{who}");
        match kind {
            0 => OrganizationCommand::RegisterRegion {
                region: fengqiao(),
                name: "枫桥镇".into(),
            },
            1 => OrganizationCommand::RegisterVillage {
                village,
                name: "村".into(),
                kind: VillageKind::Village,
            },
            2 => OrganizationCommand::RegisterGrid {
                grid: GridId::new(village, u16::from(who) + 1).expect("grid"),
                name: "网格".into(),
            },
            3 => appoint(&person_id, Role::VillageSecretary, village, None),
            4 => appoint(
                &person_id,
                Role::TownLeader {
                    duty_areas: vec!["综治".into()],
                },
                fengqiao(),
                None,
            ),
            _ => OrganizationCommand::RecordDeparture {
                person: person(&person_id),
                reason: "调任".into(),
            },
        }
    }

    proptest! {
        #[test]
        fn replay_is_deterministic_and_events_round_trip(steps in arb_commands()) {
            let mut state = Jurisdiction::default();
            let mut history = Vec::new();
            let actor = admin(&zhuji());
            for (kind, who, which) in steps {
                if let Ok(events) = state.decide(command_from(kind, who, which), &CommandContext { actor: &actor, now: now() }) {
                    for event in &events {
                        state.evolve(event);
                        assert_round_trip(event);
                    }
                    history.extend(events);
                }
            }
            prop_assert_eq!(Jurisdiction::replay(&history), state.clone());
            prop_assert_eq!(Jurisdiction::replay(&history), Jurisdiction::replay(&history));
        }
    }
}
