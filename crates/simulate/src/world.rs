//! The simulator's own copy of the reference state it needs often: towns with their people
//! and rules, villages with their cadres and grids. It mirrors what the commands it issued
//! established; the log stays the authority.

use xingcun_domain::procedure::ProcedureRules;
use xingcun_domain::{Actor, GridId, PersonId, RegionId, Role, TimelinessPolicy};

#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub id: PersonId,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Leader {
    pub person: Person,
    pub duty_areas: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Town {
    pub code: RegionId,
    pub name: String,
    /// Indices into [`World::villages`], in code order.
    pub villages: Vec<usize>,
    /// The same villages as region ids: the list task commands carry.
    pub village_ids: Vec<RegionId>,
    pub party_secretary: Option<Person>,
    pub leaders: Vec<Leader>,
    pub staff: Vec<Person>,
    /// How busy the town is relative to an average town (by its number of villages).
    pub activity: f64,
    pub timeliness: TimelinessPolicy,
    pub procedure_rules: ProcedureRules,
}

#[derive(Debug, Clone)]
pub(crate) struct Grid {
    pub id: GridId,
    pub leader: Option<Person>,
}

#[derive(Debug, Clone)]
pub(crate) struct Village {
    pub code: RegionId,
    pub name: String,
    pub town: usize,
    pub secretary: Option<Person>,
    pub cadres: Vec<Person>,
    pub grids: Vec<Grid>,
    /// 党员 (all members: 应到会党员).
    pub party_members: u32,
    /// 村民代表.
    pub representatives: u32,
    /// Adult villagers (村民会议).
    pub adults: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct County {
    pub code: RegionId,
    pub admin: Option<Person>,
}

#[derive(Debug, Default)]
pub(crate) struct World {
    pub city: Option<RegionId>,
    pub city_admin: Option<Person>,
    pub counties: Vec<County>,
    pub towns: Vec<Town>,
    pub villages: Vec<Village>,
}

impl Person {
    pub(crate) fn actor(&self, role: Role, scope: &RegionId) -> Actor {
        Actor {
            id: self.id.clone(),
            role,
            scope: scope.clone(),
        }
    }
}

impl Town {
    pub(crate) fn leader_for(&self, category: &str) -> Option<Actor> {
        self.leaders
            .iter()
            .find(|l| l.duty_areas.iter().any(|d| d == category))
            .map(|l| {
                l.person.actor(
                    Role::TownLeader {
                        duty_areas: l.duty_areas.clone(),
                    },
                    &self.code,
                )
            })
    }

    pub(crate) fn leader_actor(&self, i: usize) -> Option<Actor> {
        self.leaders.get(i).map(|l| {
            l.person.actor(
                Role::TownLeader {
                    duty_areas: l.duty_areas.clone(),
                },
                &self.code,
            )
        })
    }

    pub(crate) fn staff_actor(&self, i: usize) -> Option<Actor> {
        self.staff
            .get(i % self.staff.len().max(1))
            .map(|p| p.actor(Role::TownOfficeStaff, &self.code))
    }

    pub(crate) fn party_secretary_actor(&self) -> Option<Actor> {
        self.party_secretary
            .as_ref()
            .map(|p| p.actor(Role::PartyCommitteeSecretary, &self.code))
    }
}

impl Village {
    pub(crate) fn secretary_actor(&self) -> Option<Actor> {
        self.secretary
            .as_ref()
            .map(|p| p.actor(Role::VillageSecretary, &self.code))
    }

    pub(crate) fn cadre_actor(&self, i: usize) -> Option<Actor> {
        match self.cadres.get(i % self.cadres.len().max(1)) {
            Some(p) => Some(p.actor(Role::VillageCadre, &self.code)),
            None => self.secretary_actor(),
        }
    }

    /// The actor for a village step: the given cadre if still in post, else the secretary.
    pub(crate) fn actor_of(&self, person: &PersonId) -> Option<Actor> {
        if let Some(p) = self.cadres.iter().find(|p| &p.id == person) {
            return Some(p.actor(Role::VillageCadre, &self.code));
        }
        for g in &self.grids {
            if let Some(p) = g.leader.as_ref().filter(|p| &p.id == person) {
                return Some(p.actor(Role::GridLeader, &self.code));
            }
        }
        self.secretary_actor()
    }

    /// The grid leader of a grid, or the secretary if the post is vacant.
    pub(crate) fn grid_actor(&self, grid: &GridId) -> Option<Actor> {
        self.grids
            .iter()
            .find(|g| &g.id == grid)
            .and_then(|g| g.leader.as_ref())
            .map(|p| p.actor(Role::GridLeader, &self.code))
            .or_else(|| self.secretary_actor())
    }

    /// Members of the village's committees: 两委 and the 联席会议.
    pub(crate) fn committee_size(&self) -> u32 {
        u32::try_from(self.cadres.len() + 1)
            .unwrap_or(5)
            .clamp(5, 9)
    }
}
