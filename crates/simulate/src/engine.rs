//! The scheduler: a queue of future actions ordered by (time, sequence), worked through one
//! at a time. Before each command the store's [`ManualClock`] is set to the action's time, so
//! the log's recorded times follow the simulated calendar, and commands are issued strictly
//! one after another: the same seed gives the same log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use xingcun_domain::ranking::IndexDefinition;
use xingcun_domain::{Actor, Aggregate, Rejection};
use xingcun_store::{CommandMeta, EventLog, Executor, ManualClock, Pipeline, Submitted};

use crate::SimError;
use crate::bidding::ListingSim;
use crate::catalogue::CatalogueState;
use crate::procedures::ProcSim;
use crate::rng::Rng;
use crate::tasks::{AssignSim, TaskSim};
use crate::world::World;

/// Something that happens at a moment of the simulated calendar.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    // catalogue and configuration
    PruneCatalogue,
    ReviseCatalogue,
    PublishIndexDefinition,
    SetTownRules {
        town: usize,
    },
    // tasks
    Draft {
        town: usize,
        scripted: Option<ScriptedDraft>,
    },
    Review {
        task: usize,
    },
    Revise {
        task: usize,
    },
    Decide {
        task: usize,
    },
    Dispatch {
        task: usize,
    },
    Withdraw {
        task: usize,
        reason: String,
    },
    Sign {
        a: usize,
    },
    AssignWork {
        a: usize,
    },
    Progress {
        a: usize,
    },
    Submit {
        a: usize,
    },
    Check {
        a: usize,
    },
    // procedures
    StartProcedure {
        village: usize,
    },
    ProcedureStep {
        p: usize,
    },
    // bidding
    PostListing {
        town: usize,
        scripted: bool,
    },
    Bid {
        l: usize,
        village: usize,
    },
    ReviseBid {
        l: usize,
        village: usize,
    },
    WithdrawBid {
        l: usize,
        village: usize,
    },
    LateBid {
        l: usize,
        village: usize,
    },
    Compare {
        l: usize,
    },
    Award {
        l: usize,
    },
    Milestone {
        l: usize,
    },
    AcceptListing {
        l: usize,
    },
    // ranking inputs and people
    Praise {
        town: usize,
    },
    WithdrawPraise {
        praise: Uuid,
        giver: Actor,
    },
    Rate {
        village: usize,
        year: i32,
        rater: usize,
    },
    Turnover {
        town: usize,
    },
}

/// A task the history always contains (the examples from the record).
#[derive(Debug, Clone)]
pub(crate) struct ScriptedDraft {
    pub title: &'static str,
    pub content: &'static str,
    pub code: String,
    pub category: String,
    pub village: usize,
}

/// Appends the simulator keeps in flight: its commands are decided against the states it
/// keeps in memory and committed by the store in groups (see [`Pipeline`]).
const PIPELINE_WINDOW: usize = 2048;

pub(crate) struct Engine<'a, L: EventLog> {
    ex: Pipeline<L>,
    clock: &'a ManualClock,
    pub rng: Rng,
    pub now: DateTime<Utc>,
    pub end: DateTime<Utc>,
    queue: BTreeMap<(DateTime<Utc>, u64), Action>,
    seq: u64,
    pub commands: u64,
    pub events: u64,
    pub refused: BTreeMap<String, u64>,
    pub refused_by_stream: BTreeMap<String, u64>,
    pub refusal_examples: BTreeMap<String, String>,
    pub world: World,
    pub cat: CatalogueState,
    pub tasks: Vec<TaskSim>,
    pub assignments: Vec<AssignSim>,
    pub procedures: Vec<ProcSim>,
    pub listings: Vec<ListingSim>,
    pub index_definition: IndexDefinition,
    /// Used person ids (ids are drawn at random and must not repeat).
    pub person_ids: std::collections::BTreeSet<String>,
    /// Cadres report progress every working day (see [`crate::SimConfig::daily_progress`]).
    pub daily_progress: bool,
}

impl<'a, L: EventLog> Engine<'a, L> {
    pub(crate) fn new(
        ex: &'a Executor<L>,
        clock: &'a ManualClock,
        seed: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        cat: CatalogueState,
    ) -> Self {
        Engine {
            ex: ex.pipeline(PIPELINE_WINDOW),
            clock,
            rng: Rng::new(seed),
            now: start,
            end,
            queue: BTreeMap::new(),
            seq: 0,
            commands: 0,
            events: 0,
            refused: BTreeMap::new(),
            refused_by_stream: BTreeMap::new(),
            refusal_examples: BTreeMap::new(),
            world: World::default(),
            cat,
            tasks: Vec::new(),
            assignments: Vec::new(),
            procedures: Vec::new(),
            listings: Vec::new(),
            index_definition: IndexDefinition::default(),
            person_ids: std::collections::BTreeSet::new(),
            daily_progress: false,
        }
    }

    /// Queue `action` at `at` (never before the current moment).
    pub(crate) fn schedule(&mut self, at: DateTime<Utc>, action: Action) {
        let at = at.max(self.now);
        if at >= self.end {
            return;
        }
        self.seq += 1;
        self.queue.insert((at, self.seq), action);
    }

    /// The next action due before `until`, removed from the queue.
    pub(crate) fn next_due(&mut self, until: DateTime<Utc>) -> Option<(DateTime<Utc>, Action)> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 >= until {
            return None;
        }
        let ((at, _), action) = entry.remove_entry();
        Some((at, action))
    }

    /// Issue one command at `at` (the clock is moved there first). `Ok(None)` when the
    /// domain refused it: the refusal is counted by its code.
    pub(crate) async fn exec<A>(
        &mut self,
        id: &str,
        at: DateTime<Utc>,
        command: A::Command,
        actor: &Actor,
        correlation: Option<Uuid>,
    ) -> Result<Option<Submitted>, SimError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let at = at.max(self.now);
        self.now = at;
        self.clock.set(at);
        let meta = CommandMeta {
            command_id: Some(self.rng.uuid()),
            correlation_id: correlation,
            causation_id: None,
        };
        self.commands += 1;
        match self.ex.submit::<A>(id, command, actor, meta).await {
            Ok(Ok(done)) => {
                self.events += done.events as u64;
                Ok(Some(done))
            }
            Ok(Err(rejection)) => {
                let code = rejection.code();
                *self.refused.entry(code.to_owned()).or_default() += 1;
                let key = format!("{}:{code}", A::CATEGORY);
                *self.refused_by_stream.entry(key.clone()).or_default() += 1;
                self.refusal_examples
                    .entry(key)
                    .or_insert_with(|| rejection.to_string());
                Ok(None)
            }
            Err(source) => Err(SimError::Execute {
                stream: format!("{}-{id}", A::CATEGORY),
                source,
            }),
        }
    }

    /// Wait until everything issued so far is stored.
    pub(crate) async fn flush(&mut self) -> Result<(), SimError> {
        self.ex.flush().await.map_err(|source| SimError::Execute {
            stream: "(in flight)".into(),
            source,
        })
    }

    /// A stream's state with everything issued so far applied, to refresh the simulator's
    /// own copy.
    pub(crate) async fn load<A: Aggregate + Clone>(&mut self, id: &str) -> Result<A, SimError> {
        self.ex
            .load::<A>(id)
            .await
            .map(|(state, _)| state)
            .map_err(|source| SimError::Execute {
                stream: format!("{}-{id}", A::CATEGORY),
                source,
            })
    }

    /// A fresh person id (`p` and 12 hex digits), never used before in this run.
    pub(crate) fn person_id(&mut self) -> Result<xingcun_domain::PersonId, SimError> {
        loop {
            let raw = format!("p{:012x}", self.rng.next_u64() & 0xffff_ffff_ffff);
            if self.person_ids.insert(raw.clone()) {
                return xingcun_domain::PersonId::parse(raw)
                    .map_err(|e| SimError::Generator(e.to_string()));
            }
        }
    }

    pub(crate) async fn run(&mut self, at: DateTime<Utc>, action: Action) -> Result<(), SimError> {
        match action {
            Action::PruneCatalogue => self.prune_catalogue(at).await,
            Action::ReviseCatalogue => self.revise_catalogue(at).await,
            Action::PublishIndexDefinition => self.publish_index_definition(at).await,
            Action::SetTownRules { town } => self.set_town_rules(at, town).await,
            Action::Draft { town, scripted } => self.draft(at, town, scripted).await,
            Action::Review { task } => self.review(at, task).await,
            Action::Revise { task } => self.revise(at, task).await,
            Action::Decide { task } => self.decide(at, task).await,
            Action::Dispatch { task } => self.dispatch(at, task).await,
            Action::Withdraw { task, reason } => self.withdraw(at, task, reason).await,
            Action::Sign { a } => self.sign(at, a).await,
            Action::AssignWork { a } => self.assign_work(at, a).await,
            Action::Progress { a } => self.progress(at, a).await,
            Action::Submit { a } => self.submit(at, a).await,
            Action::Check { a } => self.check(at, a).await,
            Action::StartProcedure { village } => self.start_procedure(at, village).await,
            Action::ProcedureStep { p } => self.procedure_step(at, p).await,
            Action::PostListing { town, scripted } => self.post_listing(at, town, scripted).await,
            Action::Bid { l, village } => self.bid(at, l, village).await,
            Action::ReviseBid { l, village } => self.revise_bid(at, l, village).await,
            Action::WithdrawBid { l, village } => self.withdraw_bid(at, l, village).await,
            Action::LateBid { l, village } => self.late_bid(at, l, village).await,
            Action::Compare { l } => self.compare(at, l).await,
            Action::Award { l } => self.award(at, l).await,
            Action::Milestone { l } => self.milestone(at, l).await,
            Action::AcceptListing { l } => self.accept_listing(at, l).await,
            Action::Praise { town } => self.praise(at, town).await,
            Action::WithdrawPraise { praise, giver } => {
                self.withdraw_praise(at, praise, giver).await
            }
            Action::Rate {
                village,
                year,
                rater,
            } => self.rate(at, village, year, rater).await,
            Action::Turnover { town } => {
                self.turnover(at, town).await?;
                self.plan_turnover(self.now, town);
                Ok(())
            }
        }
    }
}

/// Text that the generator built: always valid, but checked like any input.
pub(crate) fn text(raw: &str) -> Result<xingcun_domain::Text, SimError> {
    xingcun_domain::Text::parse(raw).map_err(|e| SimError::Generator(format!("{raw:?}: {e}")))
}

/// An evidence reference with a random hash.
pub(crate) fn evidence(rng: &mut Rng, name: &str) -> Result<xingcun_domain::EvidenceRef, SimError> {
    xingcun_domain::EvidenceRef::new(&rng.sha256_hex(), name)
        .map_err(|e| SimError::Generator(format!("{name:?}: {e}")))
}
