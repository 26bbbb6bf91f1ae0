//! The caller of a command: who they are, in what role, over which region (scope).
//!
//! A person acts only inside their scope (DOMAIN.md "Places and people"). Aggregates check
//! scope with [`Actor::covers`] and role with [`Actor::role`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::region::{RegionId, RegionLevel};

/// Stable id of a person (cadre, auditor, administrator). Never empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonId(String);

/// A person id that was empty, too long, or held control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid person id {0:?}: 1..=64 printable characters")]
pub struct InvalidPersonId(pub String);

impl PersonId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidPersonId> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > 64
            || trimmed.chars().any(char::is_control)
        {
            return Err(InvalidPersonId(raw));
        }
        Ok(PersonId(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonId {
    type Error = InvalidPersonId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        PersonId::parse(raw)
    }
}

impl From<PersonId> for String {
    fn from(id: PersonId) -> String {
        id.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person may do. Duty areas (分管领域: 党建, 综治, 民政 …) belong to the leader in charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// 镇街工作人员: drafts tasks.
    TownOfficeStaff,
    /// 镇街分管领导: reviews tasks in the duty areas (categories) they lead.
    TownLeader { duty_areas: Vec<String> },
    /// 镇街党委书记: records collective decisions of the town party committee.
    PartyCommitteeSecretary,
    /// 村社书记 (often also committee chair, 一肩挑).
    VillageSecretary,
    /// 村干部.
    VillageCadre,
    /// 网格长.
    GridLeader,
    /// 审计/督查: read-only over a scope.
    Auditor,
    /// 系统管理员: configuration and reference data.
    Administrator,
}

impl Role {
    /// The level of region a person in this role acts for: town roles over a town,
    /// village roles over a village. `None` for auditors and administrators, who may hold
    /// any scope.
    pub fn acts_at(&self) -> Option<RegionLevel> {
        match self {
            Role::TownOfficeStaff | Role::TownLeader { .. } | Role::PartyCommitteeSecretary => {
                Some(RegionLevel::Town)
            }
            Role::VillageSecretary | Role::VillageCadre | Role::GridLeader => {
                Some(RegionLevel::Village)
            }
            Role::Auditor | Role::Administrator => None,
        }
    }

    /// The role's Chinese name, for messages.
    pub fn title(&self) -> &'static str {
        match self {
            Role::TownOfficeStaff => "镇街工作人员",
            Role::TownLeader { .. } => "镇街分管领导",
            Role::PartyCommitteeSecretary => "镇街党委书记",
            Role::VillageSecretary => "村社书记",
            Role::VillageCadre => "村干部",
            Role::GridLeader => "网格长",
            Role::Auditor => "审计督查人员",
            Role::Administrator => "系统管理员",
        }
    }
}

/// The authenticated caller of a command: a person in a role over a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: PersonId,
    pub role: Role,
    /// The region the person acts for: a town for town staff, a village for village cadres.
    pub scope: RegionId,
}

impl Actor {
    /// The system itself (imports, the simulator's reference data, tests): an administrator
    /// over the whole city of Shaoxing.
    pub fn system() -> Self {
        Actor {
            id: PersonId("system".into()),
            role: Role::Administrator,
            scope: RegionId::shaoxing(),
        }
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Whether `region` lies inside this actor's scope (the scope itself included).
    pub fn covers(&self, region: &RegionId) -> bool {
        self.scope.contains(region)
    }

    /// Whether this actor is an administrator whose scope covers `region`.
    pub fn administers(&self, region: &RegionId) -> bool {
        matches!(self.role, Role::Administrator) && self.covers(region)
    }

    /// Whether this actor leads the named duty area (category).
    pub fn leads(&self, duty_area: &str) -> bool {
        matches!(&self.role, Role::TownLeader { duty_areas } if duty_areas.iter().any(|d| d == duty_area))
    }
}
