//! The city's matter catalogue over time: the broad list of 2023, the pruning that takes
//! effect on 2024-01-01 (items retired, barred, moved up to the town), additions and
//! revisions after it. The simulator keeps the snapshot tasks are screened against, loaded
//! from the log after every change.

use chrono::{DateTime, Utc};
use xingcun_domain::catalogue::MatterInput;
use xingcun_domain::{
    Actor, CatalogueCommand, CatalogueSnapshot, MatterCatalogue, MatterKind, RegionId,
    ResponsibleLevel, Role,
};
use xingcun_store::EventLog;

use crate::SimError;
use crate::calendar::{after_work, plus_minutes};
use crate::engine::{Action, Engine};
use crate::matters::{self, BROAD_LIST, Fate, MatterSpec, NEW_ITEMS};

pub(crate) struct CatalogueState {
    pub region: RegionId,
    pub snapshot: CatalogueSnapshot,
    /// Codes a village task may carry now, with their category.
    pub valid: Vec<(String, String)>,
    /// Codes of the 2023 list that the pruning took away (old habits), with their category.
    pub pruned: Vec<(String, String)>,
    pub pruned_done: bool,
    /// The broad list with its codes.
    broad: Vec<(String, &'static MatterSpec)>,
    next_new: usize,
    /// Per category, the last number used in codes.
    numbers: std::collections::BTreeMap<&'static str, usize>,
}

impl CatalogueState {
    pub(crate) fn new(region: RegionId) -> Self {
        let mut numbers = std::collections::BTreeMap::new();
        let mut broad = Vec::new();
        for spec in BROAD_LIST {
            let n = numbers.entry(spec.cat).or_insert(0usize);
            *n += 1;
            broad.push((matters::code(spec.cat, *n), spec));
        }
        CatalogueState {
            snapshot: CatalogueSnapshot::empty(region.clone()),
            region,
            valid: Vec::new(),
            pruned: Vec::new(),
            pruned_done: false,
            broad,
            next_new: 0,
            numbers,
        }
    }

    fn refresh(&mut self, catalogue: &MatterCatalogue, at: DateTime<Utc>) {
        if let Some(snapshot) = catalogue.snapshot() {
            self.snapshot = snapshot;
        }
        self.valid = self
            .snapshot
            .items
            .values()
            .filter(|i| {
                i.in_force(at)
                    && i.kind != MatterKind::Barred
                    && i.level.is_borne_by(ResponsibleLevel::Village)
            })
            .map(|i| (i.code.to_string(), i.category.to_string()))
            .collect();
        if self.pruned_done {
            self.pruned = self
                .broad
                .iter()
                .filter(|(_, s)| s.fate != Fate::Keep)
                .map(|(code, s)| (code.clone(), matters::category(s.cat).to_owned()))
                .collect();
        }
    }

    /// A code that is not on the list: a typo or a matter nobody listed.
    pub(crate) fn unknown_code(&self, cat: &str, n: usize) -> String {
        matters::code(cat, 900 + n % 100)
    }
}

fn input(code: &str, spec: &MatterSpec, from: DateTime<Utc>) -> MatterInput {
    MatterInput {
        code: code.to_owned(),
        name: spec.name.to_owned(),
        category: matters::category(spec.cat).to_owned(),
        level: if spec.grid {
            ResponsibleLevel::Grid
        } else {
            ResponsibleLevel::Village
        },
        kind: if spec.assist {
            MatterKind::Assist
        } else {
            MatterKind::Duty
        },
        effective_from: from,
        effective_to: None,
    }
}

impl<L: EventLog> Engine<'_, L> {
    fn catalogue_admin(&self) -> Actor {
        match &self.world.city_admin {
            Some(p) => p.actor(Role::Administrator, &self.cat.region),
            None => Actor::system(),
        }
    }

    async fn reload_catalogue(&mut self, at: DateTime<Utc>) -> Result<(), SimError> {
        let id = self.cat.region.to_string();
        let catalogue = self.load::<MatterCatalogue>(&id).await?;
        self.cat.refresh(&catalogue, at);
        Ok(())
    }

    /// The broad 2023 list, in force from the start of the history.
    pub(crate) async fn create_catalogue(
        &mut self,
        at: DateTime<Utc>,
        effective_from: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, SimError> {
        let admin = self.catalogue_admin();
        let id = self.cat.region.to_string();
        let items: Vec<MatterInput> = self
            .cat
            .broad
            .iter()
            .map(|(code, spec)| input(code, spec, effective_from))
            .collect();
        let mut t = at;
        for item in items {
            t = plus_minutes(t, 1);
            let command = CatalogueCommand::AddMatter {
                catalogue: self.cat.region.clone(),
                item,
            };
            self.exec::<MatterCatalogue>(&id, t, command, &admin, None)
                .await?;
        }
        self.reload_catalogue(t).await?;
        Ok(t)
    }

    /// 清单瘦身: from this moment the pruned items no longer pass screening.
    pub(crate) async fn prune_catalogue(&mut self, at: DateTime<Utc>) -> Result<(), SimError> {
        let admin = self.catalogue_admin();
        let region = self.cat.region.clone();
        let id = region.to_string();
        let broad = self.cat.broad.clone();
        for (code, spec) in broad {
            let command = match spec.fate {
                Fate::Keep => continue,
                Fate::Retire => CatalogueCommand::RetireMatter {
                    catalogue: region.clone(),
                    code: code.clone(),
                    reason: "清单瘦身:不再列为村(社区)事项".to_owned(),
                },
                Fate::Bar | Fate::ToTown => {
                    let Some(current) = self
                        .cat
                        .snapshot
                        .items
                        .values()
                        .find(|i| i.code.as_str() == code)
                    else {
                        continue;
                    };
                    let mut item = MatterInput {
                        code: code.clone(),
                        name: current.name.to_string(),
                        category: current.category.to_string(),
                        level: current.level,
                        kind: current.kind,
                        effective_from: current.effective_from,
                        effective_to: current.effective_to,
                    };
                    if spec.fate == Fate::Bar {
                        item.kind = MatterKind::Barred;
                    } else {
                        item.level = ResponsibleLevel::Town;
                    }
                    CatalogueCommand::ReviseMatter {
                        catalogue: region.clone(),
                        item,
                    }
                }
            };
            self.exec::<MatterCatalogue>(&id, at, command, &admin, None)
                .await?;
        }
        for _ in 0..10 {
            self.add_new_item(at, at).await?;
        }
        self.cat.pruned_done = true;
        self.reload_catalogue(at).await?;
        Ok(())
    }

    async fn add_new_item(
        &mut self,
        at: DateTime<Utc>,
        effective_from: DateTime<Utc>,
    ) -> Result<(), SimError> {
        let Some(spec) = NEW_ITEMS.get(self.cat.next_new) else {
            return Ok(());
        };
        self.cat.next_new += 1;
        let n = self.cat.numbers.entry(spec.cat).or_insert(0);
        *n += 1;
        let code = matters::code(spec.cat, *n);
        let command = CatalogueCommand::AddMatter {
            catalogue: self.cat.region.clone(),
            item: input(&code, spec, effective_from),
        };
        let admin = self.catalogue_admin();
        let id = self.cat.region.to_string();
        self.exec::<MatterCatalogue>(&id, at, command, &admin, None)
            .await?;
        Ok(())
    }

    /// A quarterly revision of the list: a few items revised, after the pruning also new
    /// items added and, from 2025, the odd item retired.
    pub(crate) async fn revise_catalogue(&mut self, at: DateTime<Utc>) -> Result<(), SimError> {
        let admin = self.catalogue_admin();
        let region = self.cat.region.clone();
        let id = region.to_string();
        let mut t = at;
        if self.cat.pruned_done {
            for _ in 0..self.rng.range(1, 2) {
                t = plus_minutes(t, self.rng.range(1, 3));
                self.add_new_item(t, t).await?;
            }
        }
        let live: Vec<_> = self
            .cat
            .snapshot
            .items
            .values()
            .filter(|i| {
                i.in_force(t)
                    && i.kind != MatterKind::Barred
                    && matches!(i.level, ResponsibleLevel::Village | ResponsibleLevel::Grid)
            })
            .cloned()
            .collect();
        let picks = self.rng.range(1, 3) as usize;
        for i in self.rng.sample(live.len(), picks) {
            let item = live[i].clone();
            let mut revised = MatterInput {
                code: item.code.to_string(),
                name: item.name.to_string(),
                category: item.category.to_string(),
                level: item.level,
                kind: item.kind,
                effective_from: item.effective_from,
                effective_to: item.effective_to,
            };
            if self.rng.chance(0.5) {
                revised.kind = match item.kind {
                    MatterKind::Duty => MatterKind::Assist,
                    _ => MatterKind::Duty,
                };
            } else {
                revised.level = match item.level {
                    ResponsibleLevel::Grid => ResponsibleLevel::Village,
                    ResponsibleLevel::Village => ResponsibleLevel::Grid,
                    other => other,
                };
            }
            t = plus_minutes(t, self.rng.range(1, 3));
            let command = CatalogueCommand::ReviseMatter {
                catalogue: region.clone(),
                item: revised,
            };
            self.exec::<MatterCatalogue>(&id, t, command, &admin, None)
                .await?;
        }
        if self.cat.pruned_done
            && crate::calendar::local_year(t) >= 2025
            && self.rng.chance(0.5)
            && let Some(item) = self.rng.pick(&live).cloned()
        {
            t = plus_minutes(t, self.rng.range(1, 3));
            let command = CatalogueCommand::RetireMatter {
                catalogue: region.clone(),
                code: item.code.to_string(),
                reason: "事项已完成阶段性任务,退出清单".to_owned(),
            };
            self.exec::<MatterCatalogue>(&id, t, command, &admin, None)
                .await?;
        }
        self.reload_catalogue(t).await?;
        let next = after_work(&mut self.rng, crate::calendar::plus_days(t, 88), 0, 2);
        self.schedule(next, Action::ReviseCatalogue);
        Ok(())
    }
}

impl CatalogueState {
    /// The code and category of a matter of the broad list, by name.
    pub(crate) fn code_of(&self, name: &str) -> Option<(String, String)> {
        self.broad
            .iter()
            .find(|(_, s)| s.name == name)
            .map(|(code, s)| (code.clone(), matters::category(s.cat).to_owned()))
    }

    /// A matter's name as the list has it now (or the broad list had it).
    pub(crate) fn name_of(&self, code: &str) -> Option<String> {
        self.snapshot
            .items
            .values()
            .find(|i| i.code.as_str() == code)
            .map(|i| i.name.to_string())
            .or_else(|| {
                self.broad
                    .iter()
                    .find(|(c, _)| c == code)
                    .map(|(_, s)| s.name.to_owned())
            })
    }
}
