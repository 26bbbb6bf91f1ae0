//! Places and people: the reference import at the start of the history (regions, villages,
//! grids, about 20,000 cadres for the whole city) and the turnover of cadres after it.

use chrono::{DateTime, Utc};
use xingcun_domain::procedure::Money;
use xingcun_domain::procedure::{
    ProcedureRules, ProcedureTemplate, SpendingThresholds, StepTiming, TemplateId,
    TownProcedureRules, TownProcedureRulesCommand,
};
use xingcun_domain::{
    Actor, GridId, Jurisdiction, OrganizationCommand, RegionId, Role, SettingsCommand,
    TaskSettings, TimelinessPolicy, VillageKind,
};
use xingcun_store::EventLog;

use crate::SimError;
use crate::calendar::{after_work, plus_minutes};
use crate::engine::{Action, Engine};
use crate::geo::Geography;
use crate::matters::DUTY_AREAS;
use crate::names;
use crate::world::{County, Grid, Leader, Person, Town, Village};

fn region(code: &str) -> Result<RegionId, SimError> {
    RegionId::parse(code).map_err(|e| SimError::ReferenceData(e.to_string()))
}

/// Average number of villages and communities per town in Shaoxing (2,119 / 103).
const AVERAGE_TOWN: f64 = 2_119.0 / 103.0;

impl<L: EventLog> Engine<'_, L> {
    async fn appoint(
        &mut self,
        at: DateTime<Utc>,
        jurisdiction: &RegionId,
        role: Role,
        scope: &RegionId,
        grid: Option<GridId>,
    ) -> Result<Option<Person>, SimError> {
        let person = Person {
            id: self.person_id()?,
            name: names::person(&mut self.rng),
        };
        let command = OrganizationCommand::AppointCadre {
            person: person.id.clone(),
            name: person.name.clone(),
            role,
            scope: scope.clone(),
            grid,
        };
        let actor = self.org_admin(jurisdiction);
        let done = self
            .exec::<Jurisdiction>(jurisdiction.as_str(), at, command, &actor, None)
            .await?;
        Ok(done.map(|_| person))
    }

    /// Who records appointments: the county's administrator (组织部) once appointed, the
    /// system during the reference import.
    fn org_admin(&self, jurisdiction: &RegionId) -> Actor {
        let county = jurisdiction.parent().and_then(|p| {
            if p.level() == xingcun_domain::RegionLevel::County {
                Some(p)
            } else {
                None
            }
        });
        county
            .and_then(|c| self.world.counties.iter().find(|k| k.code == c))
            .and_then(|k| {
                k.admin
                    .as_ref()
                    .map(|p| p.actor(Role::Administrator, &k.code))
            })
            .unwrap_or_else(Actor::system)
    }

    /// Register the places of the preset and appoint their cadres, all on the first day.
    pub(crate) async fn setup(
        &mut self,
        geo: &Geography,
        start: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, SimError> {
        let system = Actor::system();
        let mut t = start;
        let step = |t: DateTime<Utc>| t + chrono::Duration::milliseconds(20);
        let city = region(&geo.city_code)?;
        t = step(t);
        self.exec::<Jurisdiction>(
            city.as_str(),
            t,
            OrganizationCommand::RegisterRegion {
                region: city.clone(),
                name: geo.city_name.clone(),
            },
            &system,
            None,
        )
        .await?;
        self.world.city = Some(city.clone());
        t = step(t);
        self.world.city_admin = self
            .appoint(t, &city, Role::Administrator, &city, None)
            .await?;
        t = step(t);
        self.appoint(t, &city, Role::Auditor, &city, None).await?;
        for county in &geo.counties {
            let code = region(&county.code)?;
            t = step(t);
            self.exec::<Jurisdiction>(
                code.as_str(),
                t,
                OrganizationCommand::RegisterRegion {
                    region: code.clone(),
                    name: county.name.clone(),
                },
                &system,
                None,
            )
            .await?;
            self.world.counties.push(County {
                code: code.clone(),
                admin: None,
            });
        }
        for k in 0..self.world.counties.len() {
            let code = self.world.counties[k].code.clone();
            t = step(t);
            let admin = self
                .appoint(t, &code, Role::Administrator, &code, None)
                .await?;
            self.world.counties[k].admin = admin;
        }
        for spec in &geo.towns {
            let code = region(&spec.code)?;
            if !self
                .world
                .counties
                .iter()
                .any(|c| c.code.as_str() == spec.county)
            {
                return Err(SimError::ReferenceData(format!(
                    "no county for {}",
                    spec.code
                )));
            }
            t = step(t);
            self.exec::<Jurisdiction>(
                code.as_str(),
                t,
                OrganizationCommand::RegisterRegion {
                    region: code.clone(),
                    name: spec.name.clone(),
                },
                &system,
                None,
            )
            .await?;
            let town_index = self.world.towns.len();
            let mut villages = Vec::new();
            let mut village_ids = Vec::new();
            for v in &spec.villages {
                let vcode = region(&v.code)?;
                t = step(t);
                self.exec::<Jurisdiction>(
                    code.as_str(),
                    t,
                    OrganizationCommand::RegisterVillage {
                        village: vcode.clone(),
                        name: v.name.clone(),
                        kind: if v.community {
                            VillageKind::Community
                        } else {
                            VillageKind::Village
                        },
                    },
                    &system,
                    None,
                )
                .await?;
                let grids = self.rng.range(2, 5) as u16;
                let mut grid_list = Vec::new();
                for n in 1..=grids {
                    let grid = GridId::new(vcode.clone(), n)
                        .map_err(|e| SimError::Generator(e.to_string()))?;
                    t = step(t);
                    self.exec::<Jurisdiction>(
                        code.as_str(),
                        t,
                        OrganizationCommand::RegisterGrid {
                            grid: grid.clone(),
                            name: names::grid_name(n),
                        },
                        &system,
                        None,
                    )
                    .await?;
                    grid_list.push(Grid {
                        id: grid,
                        leader: None,
                    });
                }
                let size = self.rng.range(300, 1500) as u32;
                let party = (size / 18 + self.rng.range(5, 30) as u32).max(15);
                villages.push(self.world.villages.len());
                village_ids.push(vcode.clone());
                self.world.villages.push(Village {
                    code: vcode,
                    name: v.name.clone(),
                    town: town_index,
                    secretary: None,
                    cadres: Vec::new(),
                    grids: grid_list,
                    party_members: party,
                    representatives: (size / 25).clamp(25, 70),
                    adults: size * 2,
                });
            }
            let n = villages.len() as f64;
            self.world.towns.push(Town {
                code: code.clone(),
                name: spec.name.clone(),
                villages,
                village_ids,
                party_secretary: None,
                leaders: Vec::new(),
                staff: Vec::new(),
                activity: 0.5 + 0.5 * n / AVERAGE_TOWN,
                timeliness: TimelinessPolicy::default(),
                procedure_rules: ProcedureRules::default(),
            });
            // The town's people.
            t = step(t);
            let secretary = self
                .appoint(t, &code, Role::PartyCommitteeSecretary, &code, None)
                .await?;
            self.world.towns[town_index].party_secretary = secretary;
            for areas in DUTY_AREAS {
                let duty_areas: Vec<String> = areas.iter().map(|a| (*a).to_owned()).collect();
                t = step(t);
                let role = Role::TownLeader {
                    duty_areas: duty_areas.clone(),
                };
                if let Some(person) = self.appoint(t, &code, role, &code, None).await? {
                    self.world.towns[town_index]
                        .leaders
                        .push(Leader { person, duty_areas });
                }
            }
            for _ in 0..self.rng.range(10, 16) {
                t = step(t);
                if let Some(p) = self
                    .appoint(t, &code, Role::TownOfficeStaff, &code, None)
                    .await?
                {
                    self.world.towns[town_index].staff.push(p);
                }
            }
            let village_indices = self.world.towns[town_index].villages.clone();
            for vi in village_indices {
                let vcode = self.world.villages[vi].code.clone();
                t = step(t);
                let sec = self
                    .appoint(t, &code, Role::VillageSecretary, &vcode, None)
                    .await?;
                self.world.villages[vi].secretary = sec;
                for _ in 0..self.rng.range(3, 6) {
                    t = step(t);
                    if let Some(p) = self
                        .appoint(t, &code, Role::VillageCadre, &vcode, None)
                        .await?
                    {
                        self.world.villages[vi].cadres.push(p);
                    }
                }
                for g in 0..self.world.villages[vi].grids.len() {
                    let grid = self.world.villages[vi].grids[g].id.clone();
                    t = step(t);
                    let leader = self
                        .appoint(t, &code, Role::GridLeader, &vcode, Some(grid))
                        .await?;
                    self.world.villages[vi].grids[g].leader = leader;
                }
            }
        }
        Ok(t)
    }

    /// A cadre leaves and a successor is appointed to the same post (换届, 调任, 退休).
    pub(crate) async fn turnover(
        &mut self,
        at: DateTime<Utc>,
        town: usize,
    ) -> Result<(), SimError> {
        let code = self.world.towns[town].code.clone();
        let reasons = ["工作调动", "退休", "个人原因辞职", "换届离任"];
        let reason = self
            .rng
            .pick(&reasons)
            .copied()
            .unwrap_or("工作调动")
            .to_owned();
        let roll = self.rng.unit();
        let villages = self.world.towns[town].villages.clone();
        // Which post: mostly village posts, sometimes town staff or a leader.
        enum Post {
            Staff(usize),
            Leader(usize),
            Secretary(usize),
            Cadre(usize, usize),
            GridLeader(usize, usize),
        }
        let post = if roll < 0.15 && !self.world.towns[town].staff.is_empty() {
            Post::Staff(self.rng.index(self.world.towns[town].staff.len()))
        } else if roll < 0.22 && !self.world.towns[town].leaders.is_empty() {
            Post::Leader(self.rng.index(self.world.towns[town].leaders.len()))
        } else {
            let Some(&vi) = self.rng.pick(&villages) else {
                return Ok(());
            };
            let v = &self.world.villages[vi];
            let r = self.rng.unit();
            if r < 0.15 {
                Post::Secretary(vi)
            } else if r < 0.6 && !v.cadres.is_empty() {
                Post::Cadre(vi, self.rng.index(v.cadres.len()))
            } else if !v.grids.is_empty() {
                Post::GridLeader(vi, self.rng.index(v.grids.len()))
            } else {
                Post::Secretary(vi)
            }
        };
        let (leaving, role, scope, grid) = match &post {
            Post::Staff(i) => (
                self.world.towns[town].staff.get(*i).map(|p| p.id.clone()),
                Role::TownOfficeStaff,
                code.clone(),
                None,
            ),
            Post::Leader(i) => {
                let l = &self.world.towns[town].leaders[*i];
                (
                    Some(l.person.id.clone()),
                    Role::TownLeader {
                        duty_areas: l.duty_areas.clone(),
                    },
                    code.clone(),
                    None,
                )
            }
            Post::Secretary(vi) => {
                let v = &self.world.villages[*vi];
                (
                    v.secretary.as_ref().map(|p| p.id.clone()),
                    Role::VillageSecretary,
                    v.code.clone(),
                    None,
                )
            }
            Post::Cadre(vi, i) => {
                let v = &self.world.villages[*vi];
                (
                    v.cadres.get(*i).map(|p| p.id.clone()),
                    Role::VillageCadre,
                    v.code.clone(),
                    None,
                )
            }
            Post::GridLeader(vi, g) => {
                let v = &self.world.villages[*vi];
                (
                    v.grids[*g].leader.as_ref().map(|p| p.id.clone()),
                    Role::GridLeader,
                    v.code.clone(),
                    Some(v.grids[*g].id.clone()),
                )
            }
        };
        let actor = self.org_admin(&code);
        if let Some(person) = leaving {
            let done = self
                .exec::<Jurisdiction>(
                    code.as_str(),
                    at,
                    OrganizationCommand::RecordDeparture { person, reason },
                    &actor,
                    None,
                )
                .await?;
            if done.is_none() {
                return Ok(());
            }
        }
        let t = plus_minutes(at, self.rng.range(1, 5));
        let successor = self.appoint(t, &code, role, &scope, grid).await?;
        match post {
            Post::Staff(i) => {
                if let Some(p) = successor {
                    self.world.towns[town].staff[i] = p;
                } else {
                    self.world.towns[town].staff.remove(i);
                }
            }
            Post::Leader(i) => {
                if let Some(p) = successor {
                    self.world.towns[town].leaders[i].person = p;
                }
            }
            Post::Secretary(vi) => self.world.villages[vi].secretary = successor,
            Post::Cadre(vi, i) => {
                if let Some(p) = successor {
                    self.world.villages[vi].cadres[i] = p;
                } else {
                    self.world.villages[vi].cadres.remove(i);
                }
            }
            Post::GridLeader(vi, g) => self.world.villages[vi].grids[g].leader = successor,
        }
        Ok(())
    }

    /// A town adopts its own rules: timeliness factors (任务配置) and procedure thresholds
    /// or templates (决策程序配置).
    pub(crate) async fn set_town_rules(
        &mut self,
        at: DateTime<Utc>,
        town: usize,
    ) -> Result<(), SimError> {
        let code = self.world.towns[town].code.clone();
        let Some(secretary) = self.world.towns[town].party_secretary_actor() else {
            return Ok(());
        };
        if self.rng.chance(0.6) {
            let (on_time, late) = *self
                .rng
                .pick(&[(100i64, 60i64), (100, 40), (100, 30), (90, 50)])
                .unwrap_or(&(100, 60));
            let command = SettingsCommand::SetTimeliness {
                town: code.clone(),
                on_time_percent: on_time,
                late_percent: late,
            };
            if self
                .exec::<TaskSettings>(code.as_str(), at, command, &secretary, None)
                .await?
                .is_some()
            {
                let settings = self.load::<TaskSettings>(code.as_str()).await?;
                self.world.towns[town].timeliness = settings.timeliness();
            }
        }
        let t = plus_minutes(at, self.rng.range(1, 5));
        let (large, huge) = *self
            .rng
            .pick(&[
                (30_000u64, 300_000u64),
                (50_000, 300_000),
                (80_000, 500_000),
                (50_000, 1_000_000),
            ])
            .unwrap_or(&(50_000, 500_000));
        let full = if self.rng.chance(0.3) {
            TemplateId::SIYI
        } else {
            TemplateId::WUYI
        };
        let rules = town_procedure_rules(large, huge, full)
            .map_err(|e| SimError::Generator(e.to_string()))?;
        let command = TownProcedureRulesCommand::SetProcedureRules {
            town: code.clone(),
            rules,
        };
        if self
            .exec::<TownProcedureRules>(code.as_str(), t, command, &secretary, None)
            .await?
            .is_some()
        {
            let state = self.load::<TownProcedureRules>(code.as_str()).await?;
            self.world.towns[town].procedure_rules = state.rules().clone();
        }
        Ok(())
    }

    /// Queue the next turnover of a town: about 6 % of its people a year.
    pub(crate) fn plan_turnover(&mut self, after: DateTime<Utc>, town: usize) {
        let t = &self.world.towns[town];
        let people: usize = t.staff.len()
            + t.leaders.len()
            + t.villages
                .iter()
                .map(|&v| {
                    1 + self.world.villages[v].cadres.len() + self.world.villages[v].grids.len()
                })
                .sum::<usize>();
        let per_year = (people as f64 * 0.06).max(0.5);
        let gap_days = (245.0 / per_year).max(1.0);
        let days = (gap_days * (0.5 + self.rng.unit())) as u32;
        let at = after_work(&mut self.rng, after, days, days);
        self.schedule(at, Action::Turnover { town });
    }
}

/// A town's own procedure rules: its thresholds (yuan) and its full template.
fn town_procedure_rules(
    large: u64,
    huge: u64,
    full: &str,
) -> Result<ProcedureRules, xingcun_domain::procedure::ProcedureRulesError> {
    ProcedureRules::new(
        vec![
            ProcedureTemplate::wuyi_liang_gongkai(),
            ProcedureTemplate::siyi_liang_gongkai(),
            ProcedureTemplate::joint_meeting(),
        ],
        TemplateId::parse(TemplateId::JOINT_MEETING)?,
        TemplateId::parse(full)?,
        SpendingThresholds::new(Money::from_yuan(large), Money::from_yuan(huge))?,
        StepTiming::new(3, 7, 3, 10)?,
    )
}
