//! Per-town task settings (镇街任务配置): rules a town may change, kept as data with
//! defaults, validated when set.
//!
//! Today: the timeliness factors (时效系数) that turn a task's score into points on
//! acceptance. Default: on time 100 %, late 50 % ([`TimelinessPolicy::default`]).
//!
//! # Cross-stream rule
//!
//! One [`TaskSettings`] stream per town: `tasksettings-{town}`. The caller reads the policy
//! in force ([`TaskSettings::timeliness`], the default if the town never set one) and passes
//! it in `DispatchTask`; the task records it in `TaskDispatched` and every village's
//! assignment carries it. So the rules a village was given at dispatch are the rules it is
//! scored by: a later change applies to later dispatches only.

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::people::{PersonId, Role};
use crate::region::{RegionId, RegionLevel};

/// 时效系数: the share of a task's score awarded when accepted, in percent.
/// On-time is 1..=100 %, late is 0..=on-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawTimeliness", into = "RawTimeliness")]
pub struct TimelinessPolicy {
    on_time_percent: u16,
    late_percent: u16,
}

#[derive(Serialize, Deserialize)]
struct RawTimeliness {
    on_time_percent: i64,
    late_percent: i64,
}

/// Timeliness factors that do not make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTimeliness {
    #[error("按时完成系数必须在1%到100%之间")]
    OnTimeOutOfRange,
    #[error("逾期完成系数必须在0%到100%之间")]
    LateOutOfRange,
    #[error("逾期完成系数不能高于按时完成系数")]
    LateAboveOnTime,
}

impl TimelinessPolicy {
    pub fn new(on_time_percent: i64, late_percent: i64) -> Result<Self, InvalidTimeliness> {
        let on_time = u16::try_from(on_time_percent)
            .ok()
            .filter(|p| (1..=100).contains(p))
            .ok_or(InvalidTimeliness::OnTimeOutOfRange)?;
        let late = u16::try_from(late_percent)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or(InvalidTimeliness::LateOutOfRange)?;
        if late > on_time {
            return Err(InvalidTimeliness::LateAboveOnTime);
        }
        Ok(TimelinessPolicy {
            on_time_percent: on_time,
            late_percent: late,
        })
    }

    pub fn on_time_percent(&self) -> u16 {
        self.on_time_percent
    }

    pub fn late_percent(&self) -> u16 {
        self.late_percent
    }

    /// The factor, in percent, for work submitted on time or late.
    pub fn factor_percent(&self, on_time: bool) -> u16 {
        if on_time {
            self.on_time_percent
        } else {
            self.late_percent
        }
    }
}

impl Default for TimelinessPolicy {
    /// On time 100 %, late 50 %.
    fn default() -> Self {
        TimelinessPolicy {
            on_time_percent: 100,
            late_percent: 50,
        }
    }
}

impl TryFrom<RawTimeliness> for TimelinessPolicy {
    type Error = InvalidTimeliness;
    fn try_from(raw: RawTimeliness) -> Result<Self, Self::Error> {
        TimelinessPolicy::new(raw.on_time_percent, raw.late_percent)
    }
}

impl From<TimelinessPolicy> for RawTimeliness {
    fn from(p: TimelinessPolicy) -> Self {
        RawTimeliness {
            on_time_percent: i64::from(p.on_time_percent),
            late_percent: i64::from(p.late_percent),
        }
    }
}

/// A town's task settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSettings {
    town: Option<RegionId>,
    timeliness: TimelinessPolicy,
}

impl TaskSettings {
    /// The policy in force: the town's, or the default.
    pub fn timeliness(&self) -> TimelinessPolicy {
        self.timeliness
    }
}

/// Commands on a town's [`TaskSettings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsCommand {
    /// Set the timeliness factors, in percent.
    SetTimeliness {
        town: RegionId,
        on_time_percent: i64,
        late_percent: i64,
    },
}

/// Facts about a town's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum SettingsEvent {
    TimelinessPolicyChanged {
        town: RegionId,
        policy: TimelinessPolicy,
        previous: TimelinessPolicy,
        changed_by: PersonId,
    },
}

impl DomainEvent for SettingsEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SettingsEvent::TimelinessPolicyChanged { .. } => "TimelinessPolicyChanged",
        }
    }

    fn regions(&self) -> Vec<RegionId> {
        match self {
            SettingsEvent::TimelinessPolicyChanged { town, .. } => vec![town.clone()],
        }
    }
}

/// Why a settings command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("只有本镇街党委书记或系统管理员可以修改任务配置")]
    Forbidden,
    #[error("{region} 不是乡镇(街道)")]
    NotATown { region: RegionId },
    #[error("本配置属于 {expected},不是 {given}")]
    WrongTown { expected: RegionId, given: RegionId },
    #[error("{0}")]
    InvalidTimeliness(InvalidTimeliness),
    #[error("新配置与现行配置相同")]
    Unchanged,
}

impl Rejection for SettingsError {
    fn code(&self) -> &'static str {
        match self {
            SettingsError::Forbidden => "FORBIDDEN",
            SettingsError::NotATown { .. }
            | SettingsError::WrongTown { .. }
            | SettingsError::InvalidTimeliness(_)
            | SettingsError::Unchanged => "INVALID_INPUT",
        }
    }
}

impl Aggregate for TaskSettings {
    const CATEGORY: &'static str = "tasksettings";
    type Command = SettingsCommand;
    type Event = SettingsEvent;
    type Error = SettingsError;

    fn decide(
        &self,
        command: SettingsCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<SettingsEvent>, SettingsError> {
        let SettingsCommand::SetTimeliness {
            town,
            on_time_percent,
            late_percent,
        } = command;
        if town.level() != RegionLevel::Town {
            return Err(SettingsError::NotATown { region: town });
        }
        if let Some(expected) = &self.town
            && expected != &town
        {
            return Err(SettingsError::WrongTown {
                expected: expected.clone(),
                given: town,
            });
        }
        let allowed = ctx.actor.administers(&town)
            || (matches!(ctx.actor.role, Role::PartyCommitteeSecretary) && ctx.actor.scope == town);
        if !allowed {
            return Err(SettingsError::Forbidden);
        }
        let policy = TimelinessPolicy::new(on_time_percent, late_percent)
            .map_err(SettingsError::InvalidTimeliness)?;
        if policy == self.timeliness {
            return Err(SettingsError::Unchanged);
        }
        Ok(vec![SettingsEvent::TimelinessPolicyChanged {
            town,
            policy,
            previous: self.timeliness,
            changed_by: ctx.actor.id.clone(),
        }])
    }

    fn evolve(&mut self, event: &SettingsEvent) {
        match event {
            SettingsEvent::TimelinessPolicyChanged { town, policy, .. } => {
                self.town = Some(town.clone());
                self.timeliness = *policy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::testing::*;

    fn now() -> DateTime<Utc> {
        at("2025-03-01T09:00:00+08:00")
    }

    fn set(on_time: i64, late: i64) -> SettingsCommand {
        SettingsCommand::SetTimeliness {
            town: fengqiao(),
            on_time_percent: on_time,
            late_percent: late,
        }
    }

    #[test]
    fn the_default_is_full_points_on_time_and_half_late() {
        let settings = TaskSettings::default();
        assert_eq!(settings.timeliness().factor_percent(true), 100);
        assert_eq!(settings.timeliness().factor_percent(false), 50);
    }

    #[test]
    fn the_party_secretary_sets_the_town_factors() {
        let events =
            when::<TaskSettings>(&[], &party_secretary(), now(), set(100, 60)).expect("set");
        let state = TaskSettings::replay(&events);
        assert_eq!(
            state.timeliness(),
            TimelinessPolicy::new(100, 60).expect("valid")
        );
        assert_round_trip(&events[0]);
        assert!(when::<TaskSettings>(&[], &admin(&zhuji()), now(), set(90, 0)).is_ok());
    }

    #[test]
    fn refusals() {
        let given =
            when::<TaskSettings>(&[], &party_secretary(), now(), set(100, 60)).expect("set");
        let cases: Vec<(crate::people::Actor, SettingsCommand, SettingsError)> = vec![
            (town_staff(), set(100, 60), SettingsError::Forbidden),
            (zongzhi_leader(), set(100, 60), SettingsError::Forbidden),
            (
                party_secretary(),
                set(0, 0),
                SettingsError::InvalidTimeliness(InvalidTimeliness::OnTimeOutOfRange),
            ),
            (
                party_secretary(),
                set(120, 50),
                SettingsError::InvalidTimeliness(InvalidTimeliness::OnTimeOutOfRange),
            ),
            (
                party_secretary(),
                set(100, -1),
                SettingsError::InvalidTimeliness(InvalidTimeliness::LateOutOfRange),
            ),
            (
                party_secretary(),
                set(60, 80),
                SettingsError::InvalidTimeliness(InvalidTimeliness::LateAboveOnTime),
            ),
            (party_secretary(), set(100, 60), SettingsError::Unchanged),
            (
                Actor::system(),
                SettingsCommand::SetTimeliness {
                    town: fengyuan(),
                    on_time_percent: 100,
                    late_percent: 50,
                },
                SettingsError::NotATown { region: fengyuan() },
            ),
            (
                Actor::system(),
                SettingsCommand::SetTimeliness {
                    town: region("330602108000"),
                    on_time_percent: 100,
                    late_percent: 50,
                },
                SettingsError::WrongTown {
                    expected: fengqiao(),
                    given: region("330602108000"),
                },
            ),
        ];
        for (actor, cmd, expected) in cases {
            assert_eq!(
                when::<TaskSettings>(&given, &actor, now(), cmd.clone()),
                Err(expected),
                "{cmd:?}"
            );
        }
    }

    use crate::people::Actor;

    #[test]
    fn factors_at_the_edges_of_their_ranges() {
        for (on_time, late) in [(1, 0), (100, 0), (100, 100), (60, 60)] {
            assert!(
                TimelinessPolicy::new(on_time, late).is_ok(),
                "{on_time}/{late}"
            );
        }
        assert_eq!(
            TimelinessPolicy::new(60, 61),
            Err(InvalidTimeliness::LateAboveOnTime)
        );
        assert_eq!(
            TimelinessPolicy::new(100, 101),
            Err(InvalidTimeliness::LateOutOfRange)
        );
    }

    #[test]
    fn invalid_factors_do_not_deserialise() {
        let bad = serde_json::json!({ "on_time_percent": 50, "late_percent": 80 });
        assert!(serde_json::from_value::<TimelinessPolicy>(bad).is_err());
    }

    proptest! {
        #[test]
        fn replay_is_deterministic_and_events_round_trip(steps in prop::collection::vec((-10i64..130, -10i64..130), 0..20)) {
            let actor = party_secretary();
            let mut state = TaskSettings::default();
            let mut history = Vec::new();
            for (on_time, late) in steps {
                if let Ok(events) = state.decide(set(on_time, late), &CommandContext { actor: &actor, now: now() }) {
                    for event in &events {
                        state.evolve(event);
                        assert_round_trip(event);
                    }
                    history.extend(events);
                }
            }
            prop_assert_eq!(TaskSettings::replay(&history), state);
        }
    }
}
