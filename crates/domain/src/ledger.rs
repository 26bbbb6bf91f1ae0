//! A village's task ledger (村社任务台账): every task dispatched to the village, and the
//! duplicate check (多头派单) across them.
//!
//! # Why a stream per village
//!
//! "The same matter dispatched to the same village for an overlapping period is flagged
//! for merging" spans tasks, and each task is its own stream. The store appends to exactly
//! one stream per command with optimistic concurrency, so the rule is serialised through
//! one stream per village, `village-{code}` ([`VillageTaskLedger`]): two dispatches of the
//! same matter to the same village both append here, the second one sees the first, and if
//! they race, one of them retries on the version conflict and then sees the other. Towns
//! never contend with each other here, and a village receives a few tasks a day.
//!
//! # What the caller does
//!
//! After `TaskDispatched` the caller issues `RegisterDispatch` for each village
//! ([`crate::task::TaskDispatch::ledger_commands`]); after a withdrawal of a dispatched task,
//! `ReleaseDispatch` ([`crate::task::TaskWithdrawal::ledger_commands`]), so a withdrawn
//! (e.g. merged) task no longer counts. Registering the same task again with the same
//! details appends nothing, so the fan-out is safe to retry.
//!
//! # The backstop of the check before dispatch
//!
//! Duplicates are caught before dispatch, at screening and review ([`crate::task`]), from
//! what the caller read here ([`VillageTaskLedger::dispatched`]). Two tasks reviewed at the
//! same moment both pass that check; this stream serialises them, so the second one is
//! still flagged here.
//!
//! # Flag, not refusal
//!
//! The dispatch has already happened (the town leader decided it), so a duplicate is
//! recorded as `DuplicateDispatchFlagged`, naming the earlier tasks, next to `TaskReceived`:
//! the town dashboard shows it for merging (the town then withdraws one), and the city
//! statistics count it. Refusing here would leave the task stream and the ledger
//! disagreeing about a fact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::catalogue::MatterCode;
use crate::people::{Actor, PersonId, Role};
use crate::region::{RegionId, RegionLevel};
use crate::task::{DispatchedTask, TaskId, TaskPeriod};
use crate::text::{InvalidText, Text};

/// One task in a village's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub town: RegionId,
    pub title: Text,
    pub matter_code: MatterCode,
    pub period: TaskPeriod,
    /// Released (withdrawn): no longer counts for duplicates.
    pub released: bool,
}

/// The tasks dispatched to one village, folded from `village-{code}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VillageTaskLedger {
    village: Option<RegionId>,
    entries: BTreeMap<TaskId, LedgerEntry>,
}

impl VillageTaskLedger {
    pub fn entry(&self, task: &TaskId) -> Option<&LedgerEntry> {
        self.entries.get(task)
    }

    /// Tasks still counting (not released), in id order.
    pub fn active(&self) -> impl Iterator<Item = (&TaskId, &LedgerEntry)> {
        self.entries.iter().filter(|(_, e)| !e.released)
    }

    /// What is dispatched to the village and still counts, as the task's duplicate check
    /// before dispatch needs it ([`crate::task::TaskCommand::ApproveTask`]).
    pub fn dispatched(&self) -> Vec<DispatchedTask> {
        let Some(village) = &self.village else {
            return Vec::new();
        };
        self.active()
            .map(|(task, e)| DispatchedTask {
                village: village.clone(),
                task: *task,
                matter_code: e.matter_code.clone(),
                period: e.period,
            })
            .collect()
    }

    /// Active tasks of the same matter whose period overlaps `period`, except `task`.
    pub fn duplicates_of(
        &self,
        task: &TaskId,
        matter_code: &MatterCode,
        period: &TaskPeriod,
    ) -> Vec<TaskId> {
        self.active()
            .filter(|(id, e)| {
                *id != task && &e.matter_code == matter_code && e.period.overlaps(period)
            })
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Commands on a [`VillageTaskLedger`]. Each names the village, which must be the stream's.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerCommand {
    /// Record a task dispatched to the village; flags duplicates.
    RegisterDispatch {
        village: RegionId,
        task: TaskId,
        town: RegionId,
        title: Text,
        matter_code: MatterCode,
        period: TaskPeriod,
    },
    /// Stop counting a withdrawn task.
    ReleaseDispatch {
        village: RegionId,
        task: TaskId,
        reason: String,
    },
}

/// Facts in a village's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum LedgerEvent {
    TaskReceived {
        village: RegionId,
        town: RegionId,
        task: TaskId,
        title: Text,
        matter_code: MatterCode,
        period: TaskPeriod,
    },
    /// 多头派单: the same matter reached the village again for an overlapping period.
    DuplicateDispatchFlagged {
        village: RegionId,
        town: RegionId,
        task: TaskId,
        matter_code: MatterCode,
        period: TaskPeriod,
        duplicate_of: Vec<TaskId>,
    },
    DispatchReleased {
        village: RegionId,
        town: RegionId,
        task: TaskId,
        reason: Text,
        released_by: PersonId,
    },
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> &'static str {
        match self {
            LedgerEvent::TaskReceived { .. } => "TaskReceived",
            LedgerEvent::DuplicateDispatchFlagged { .. } => "DuplicateDispatchFlagged",
            LedgerEvent::DispatchReleased { .. } => "DispatchReleased",
        }
    }

    fn regions(&self) -> Vec<RegionId> {
        match self {
            LedgerEvent::TaskReceived { village, town, .. }
            | LedgerEvent::DuplicateDispatchFlagged { village, town, .. }
            | LedgerEvent::DispatchReleased { village, town, .. } => {
                vec![village.clone(), town.clone()]
            }
        }
    }
}

/// Why a ledger command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("只有本镇街干部可以登记派发")]
    NotTownCadre,
    #[error("{region} 不是村(社区)")]
    NotAVillage { region: RegionId },
    #[error("本台账属于 {expected},不是 {given}")]
    WrongVillage { expected: RegionId, given: RegionId },
    #[error("村社 {village} 不属于 {town}")]
    VillageOutsideTown { village: RegionId, town: RegionId },
    #[error("任务期限无效:截止时间必须晚于派发时间")]
    EmptyPeriod,
    #[error("任务 {task} 已以不同内容登记")]
    ConflictingRegistration { task: TaskId },
    #[error("任务 {task} 未派发到本村社")]
    UnknownTask { task: TaskId },
    #[error("任务 {task} 已经撤销登记")]
    AlreadyReleased { task: TaskId },
    #[error("原因无效:{0}")]
    InvalidReason(InvalidText),
}

impl Rejection for LedgerError {
    fn code(&self) -> &'static str {
        match self {
            LedgerError::NotTownCadre => "FORBIDDEN",
            LedgerError::NotAVillage { .. }
            | LedgerError::WrongVillage { .. }
            | LedgerError::VillageOutsideTown { .. }
            | LedgerError::EmptyPeriod
            | LedgerError::InvalidReason(_) => "INVALID_INPUT",
            LedgerError::ConflictingRegistration { .. } | LedgerError::AlreadyReleased { .. } => {
                "CONFLICT"
            }
            LedgerError::UnknownTask { .. } => "NOT_FOUND",
        }
    }
}

fn may_register(actor: &Actor, village: &RegionId) -> bool {
    let town_role = matches!(
        actor.role,
        Role::TownOfficeStaff | Role::TownLeader { .. } | Role::PartyCommitteeSecretary
    );
    (town_role && actor.covers(village)) || actor.administers(village)
}

impl VillageTaskLedger {
    fn check_village(&self, village: &RegionId, actor: &Actor) -> Result<(), LedgerError> {
        if village.level() != RegionLevel::Village {
            return Err(LedgerError::NotAVillage {
                region: village.clone(),
            });
        }
        if let Some(expected) = &self.village
            && expected != village
        {
            return Err(LedgerError::WrongVillage {
                expected: expected.clone(),
                given: village.clone(),
            });
        }
        if !may_register(actor, village) {
            return Err(LedgerError::NotTownCadre);
        }
        Ok(())
    }
}

impl Aggregate for VillageTaskLedger {
    const CATEGORY: &'static str = "village";
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = LedgerError;

    fn decide(
        &self,
        command: LedgerCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<LedgerEvent>, LedgerError> {
        match command {
            LedgerCommand::RegisterDispatch {
                village,
                task,
                town,
                title,
                matter_code,
                period,
            } => {
                self.check_village(&village, ctx.actor)?;
                if village.town().as_ref() != Some(&town) {
                    return Err(LedgerError::VillageOutsideTown { village, town });
                }
                if period.to <= period.from {
                    return Err(LedgerError::EmptyPeriod);
                }
                if let Some(existing) = self.entries.get(&task) {
                    let same = existing.town == town
                        && existing.title == title
                        && existing.matter_code == matter_code
                        && existing.period == period;
                    return if same {
                        Ok(Vec::new())
                    } else {
                        Err(LedgerError::ConflictingRegistration { task })
                    };
                }
                let duplicate_of = self.duplicates_of(&task, &matter_code, &period);
                let mut events = vec![LedgerEvent::TaskReceived {
                    village: village.clone(),
                    town: town.clone(),
                    task,
                    title,
                    matter_code: matter_code.clone(),
                    period,
                }];
                if !duplicate_of.is_empty() {
                    events.push(LedgerEvent::DuplicateDispatchFlagged {
                        village,
                        town,
                        task,
                        matter_code,
                        period,
                        duplicate_of,
                    });
                }
                Ok(events)
            }
            LedgerCommand::ReleaseDispatch {
                village,
                task,
                reason,
            } => {
                self.check_village(&village, ctx.actor)?;
                let entry = self
                    .entries
                    .get(&task)
                    .ok_or(LedgerError::UnknownTask { task })?;
                if entry.released {
                    return Err(LedgerError::AlreadyReleased { task });
                }
                let reason = Text::parse(&reason).map_err(LedgerError::InvalidReason)?;
                Ok(vec![LedgerEvent::DispatchReleased {
                    village,
                    town: entry.town.clone(),
                    task,
                    reason,
                    released_by: ctx.actor.id.clone(),
                }])
            }
        }
    }

    fn evolve(&mut self, event: &LedgerEvent) {
        match event {
            LedgerEvent::TaskReceived {
                village,
                town,
                task,
                title,
                matter_code,
                period,
            } => {
                self.village = Some(village.clone());
                self.entries.insert(
                    *task,
                    LedgerEntry {
                        town: town.clone(),
                        title: title.clone(),
                        matter_code: matter_code.clone(),
                        period: *period,
                        released: false,
                    },
                );
            }
            LedgerEvent::DuplicateDispatchFlagged { .. } => {}
            LedgerEvent::DispatchReleased { task, .. } => {
                if let Some(entry) = self.entries.get_mut(task) {
                    entry.released = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::testing::*;

    fn now() -> DateTime<Utc> {
        at("2025-03-01T09:00:00+08:00")
    }

    fn task(n: u128) -> TaskId {
        TaskId::new(Uuid::from_u128(n))
    }

    fn period(from_day: i64, to_day: i64) -> TaskPeriod {
        TaskPeriod {
            from: now() + Duration::days(from_day),
            to: now() + Duration::days(to_day),
        }
    }

    fn register(n: u128, code: &str, period: TaskPeriod) -> LedgerCommand {
        LedgerCommand::RegisterDispatch {
            village: fengyuan(),
            task: task(n),
            town: fengqiao(),
            title: Text::parse("入户走访").expect("title"),
            matter_code: MatterCode::parse(code).expect("code"),
            period,
        }
    }

    fn when_l(given: &[LedgerEvent], cmd: LedgerCommand) -> Result<Vec<LedgerEvent>, LedgerError> {
        when::<VillageTaskLedger>(given, &zongzhi_leader(), now(), cmd)
    }

    fn first() -> Vec<LedgerEvent> {
        then_history::<VillageTaskLedger>(
            &[],
            &zongzhi_leader(),
            now(),
            register(1, "ZZ-001", period(0, 10)),
        )
    }

    #[test]
    fn a_first_dispatch_is_received_without_a_flag() {
        let events = first();
        assert!(matches!(&events[..], [LedgerEvent::TaskReceived { .. }]));
        assert_eq!(events[0].regions(), vec![fengyuan(), fengqiao()]);
    }

    #[test]
    fn the_same_matter_in_an_overlapping_period_is_flagged_for_merging() {
        let events = when_l(&first(), register(2, "ZZ-001", period(5, 15))).expect("received");
        match &events[..] {
            [
                LedgerEvent::TaskReceived { .. },
                LedgerEvent::DuplicateDispatchFlagged { duplicate_of, .. },
            ] => {
                assert_eq!(duplicate_of, &vec![task(1)]);
                events.iter().for_each(assert_round_trip);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn other_matters_later_periods_and_released_tasks_are_not_duplicates() {
        for cmd in [
            register(2, "ZZ-002", period(0, 10)),
            register(2, "ZZ-001", period(10, 20)),
        ] {
            let events = when_l(&first(), cmd).expect("received");
            assert_eq!(events.len(), 1, "{events:?}");
        }
        let released = then_history::<VillageTaskLedger>(
            &first(),
            &zongzhi_leader(),
            now(),
            LedgerCommand::ReleaseDispatch {
                village: fengyuan(),
                task: task(1),
                reason: "撤回合并".into(),
            },
        );
        released.iter().for_each(assert_round_trip);
        assert_eq!(
            when_l(&released, register(2, "ZZ-001", period(0, 10))).map(|e| e.len()),
            Ok(1)
        );
    }

    #[test]
    fn the_ledger_lists_what_still_counts_for_the_check_before_dispatch() {
        assert!(VillageTaskLedger::default().dispatched().is_empty());
        let two = then_history::<VillageTaskLedger>(
            &first(),
            &zongzhi_leader(),
            now(),
            register(2, "ZZ-002", period(0, 5)),
        );
        let listed = VillageTaskLedger::replay(&two).dispatched();
        assert_eq!(
            listed.iter().map(|d| d.task).collect::<Vec<_>>(),
            vec![task(1), task(2)]
        );
        assert!(listed.iter().all(|d| d.village == fengyuan()));
        assert_eq!(listed[0].period, period(0, 10));
        let released = then_history::<VillageTaskLedger>(
            &two,
            &zongzhi_leader(),
            now(),
            LedgerCommand::ReleaseDispatch {
                village: fengyuan(),
                task: task(1),
                reason: "撤回合并".into(),
            },
        );
        let listed = VillageTaskLedger::replay(&released).dispatched();
        assert_eq!(
            listed.iter().map(|d| d.task).collect::<Vec<_>>(),
            vec![task(2)]
        );
    }

    #[test]
    fn registering_again_is_idempotent_but_not_with_other_details() {
        assert_eq!(
            when_l(&first(), register(1, "ZZ-001", period(0, 10))),
            Ok(vec![])
        );
        assert!(matches!(
            when_l(&first(), register(1, "ZZ-002", period(0, 10))),
            Err(LedgerError::ConflictingRegistration { .. })
        ));
    }

    #[test]
    fn refusals() {
        let other_village = LedgerCommand::RegisterDispatch {
            village: village_b(),
            task: task(3),
            town: fengqiao(),
            title: Text::parse("x").expect("title"),
            matter_code: MatterCode::parse("ZZ-001").expect("code"),
            period: period(0, 1),
        };
        assert!(matches!(
            when_l(&first(), other_village),
            Err(LedgerError::WrongVillage { .. })
        ));
        assert_eq!(
            when::<VillageTaskLedger>(
                &[],
                &village_secretary(&fengyuan()),
                now(),
                register(1, "ZZ-001", period(0, 1))
            ),
            Err(LedgerError::NotTownCadre)
        );
        assert_eq!(
            when_l(&[], register(1, "ZZ-001", period(1, 1))),
            Err(LedgerError::EmptyPeriod)
        );
        let mut cmd = register(1, "ZZ-001", period(0, 1));
        if let LedgerCommand::RegisterDispatch { town, .. } = &mut cmd {
            *town = region("330602108000");
        }
        assert!(matches!(
            when_l(&[], cmd),
            Err(LedgerError::VillageOutsideTown { .. })
        ));
        let mut cmd = register(1, "ZZ-001", period(0, 1));
        if let LedgerCommand::RegisterDispatch { village, .. } = &mut cmd {
            *village = fengqiao();
        }
        assert!(matches!(
            when_l(&[], cmd),
            Err(LedgerError::NotAVillage { .. })
        ));
        let release = |n: u128, reason: &str| LedgerCommand::ReleaseDispatch {
            village: fengyuan(),
            task: task(n),
            reason: reason.into(),
        };
        assert!(matches!(
            when_l(&first(), release(9, "x")),
            Err(LedgerError::UnknownTask { .. })
        ));
        assert!(matches!(
            when_l(&first(), release(1, "")),
            Err(LedgerError::InvalidReason(_))
        ));
        let released = then_history::<VillageTaskLedger>(
            &first(),
            &zongzhi_leader(),
            now(),
            release(1, "撤回"),
        );
        assert!(matches!(
            when_l(&released, release(1, "撤回")),
            Err(LedgerError::AlreadyReleased { .. })
        ));
    }

    proptest! {
        #[test]
        fn replay_is_deterministic_and_events_round_trip(
            steps in prop::collection::vec((0u8..4, 0u128..5, 0u8..2, 0i64..20, 1i64..10), 0..30)
        ) {
            let actor = zongzhi_leader();
            let mut state = VillageTaskLedger::default();
            let mut history = Vec::new();
            for (kind, n, code, from, len) in steps {
                let cmd = if kind == 0 {
                    LedgerCommand::ReleaseDispatch { village: fengyuan(), task: task(n), reason: "撤回".into() }
                } else {
                    register(n, ["ZZ-001", "ZZ-002"][usize::from(code)], period(from, from + len))
                };
                if let Ok(events) = state.decide(cmd, &CommandContext { actor: &actor, now: now() }) {
                    for event in &events {
                        state.evolve(event);
                        assert_round_trip(event);
                    }
                    history.extend(events);
                }
            }
            // Every flag names only earlier, overlapping tasks of the same matter.
            for event in &history {
                if let LedgerEvent::DuplicateDispatchFlagged { duplicate_of, task, .. } = event {
                    prop_assert!(!duplicate_of.is_empty() && !duplicate_of.contains(task));
                }
            }
            prop_assert_eq!(VillageTaskLedger::replay(&history), state.clone());
            prop_assert_eq!(VillageTaskLedger::replay(&history), VillageTaskLedger::replay(&history));
        }
    }
}
