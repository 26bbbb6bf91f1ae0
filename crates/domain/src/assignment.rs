//! One village's work on a dispatched task (村社任务办理): 签收 → assign to a cadre or grid →
//! progress → submit with evidence → accepted (工分) or returned for rework; withdrawn by
//! the town before acceptance.
//!
//! # Streams
//!
//! One [`Assignment`] stream per task and village: `assignment-{task}-{village}`
//! ([`AssignmentId`]). A whole-town task reaches every village at once; with one stream per
//! village, 200 villages signing in the same minute never conflict with one another (see
//! [`crate::task`]). Nothing a village does depends on another village's work.
//!
//! # Cross-stream rules
//!
//! - The stream is opened by `IssueAssignment`, which the caller builds from
//!   `TaskDispatched` ([`crate::task::TaskDispatch::assignment_commands`]): the notice
//!   carries the deadline, score and timeliness policy fixed at dispatch, so acceptance
//!   needs nothing from the task's stream.
//! - A task withdrawn by the town reaches each village whose work was not accepted as
//!   `WithdrawAssignment` ([`crate::task::TaskWithdrawal::assignment_commands`]: the
//!   withdrawal leaves accepted villages out). A village accepted in the meantime refuses it
//!   (`AlreadyAccepted`, `CONFLICT`): acceptance and its points stand, and the caller does
//!   not release that village's ledger entry.
//!
//! # Timeliness
//!
//! Work is on time when its last submission was at or before the deadline; acceptance may
//! come later without penalising the village for the town's delay. Points = score ×
//! the factor for on-time or late work from the notice's [`TimelinessPolicy`] (default
//! 100 % / 50 %). Overdue (逾期) is a query, [`Assignment::is_overdue`], not an event:
//! past the deadline and not accepted (nor withdrawn).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::catalogue::{Category, MatterCode};
use crate::evidence::EvidenceRef;
use crate::people::{Actor, PersonId, Role};
use crate::region::{GridId, RegionId};
use crate::settings::TimelinessPolicy;
use crate::task::{Points, Score, TaskId, TaskPeriod};
use crate::text::{InvalidText, Text};

/// Id of one village's assignment: the stream is `assignment-{task}-{village}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AssignmentId {
    pub task: TaskId,
    pub village: RegionId,
}

impl AssignmentId {
    pub fn new(task: TaskId, village: RegionId) -> Self {
        AssignmentId { task, village }
    }
}

impl fmt::Display for AssignmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.task, self.village)
    }
}

/// What a village receives when a task is dispatched to it (派发通知).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentNotice {
    pub task: TaskId,
    pub town: RegionId,
    pub village: RegionId,
    pub title: Text,
    pub category: Category,
    pub matter_code: MatterCode,
    pub score: Score,
    pub deadline: DateTime<Utc>,
    pub period: TaskPeriod,
    pub timeliness: TimelinessPolicy,
    pub dispatched_at: DateTime<Utc>,
}

/// Who does the work in the village (承办人).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assignee {
    /// A village cadre.
    Cadre { person: PersonId },
    /// A grid, through its grid leader.
    Grid { grid: GridId },
}

/// Where a village's work stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    /// 待签收.
    Issued,
    /// 办理中 (signed; also after a return for rework).
    InProgress,
    /// 已提交,待验收.
    Submitted,
    /// 已验收.
    Accepted,
    /// 已撤回.
    Withdrawn,
}

impl AssignmentStatus {
    pub fn title(self) -> &'static str {
        match self {
            AssignmentStatus::Issued => "待签收",
            AssignmentStatus::InProgress => "办理中",
            AssignmentStatus::Submitted => "待验收",
            AssignmentStatus::Accepted => "已验收",
            AssignmentStatus::Withdrawn => "已撤回",
        }
    }
}

/// Commands on an [`Assignment`].
#[derive(Debug, Clone, PartialEq)]
pub enum AssignmentCommand {
    /// Open the village's stream from the dispatch (issued by the caller after dispatch).
    IssueAssignment { notice: AssignmentNotice },
    /// 签收, by the village secretary.
    SignAssignment,
    /// 分派 to a cadre or a grid, by the village secretary.
    AssignWork { assignee: Assignee },
    /// 进度报告: percent done (0..=100) and a note.
    ReportProgress { percent: i64, note: String },
    /// 提交: a summary and at least one piece of evidence (佐证材料).
    SubmitWork {
        summary: String,
        evidence: Vec<EvidenceRef>,
    },
    /// 验收, by the town: points awarded.
    AcceptWork,
    /// 退回整改, with a reason.
    ReturnForRework { reason: String },
    /// 撤回, with a reason (before acceptance).
    WithdrawAssignment { reason: String },
}

/// Facts about one village's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum AssignmentEvent {
    AssignmentIssued(AssignmentNotice),
    AssignmentSigned {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        signed_by: PersonId,
        signed_at: DateTime<Utc>,
    },
    AssignmentAssigned {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        assignee: Assignee,
        assigned_by: PersonId,
        assigned_at: DateTime<Utc>,
    },
    AssignmentProgressReported {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        percent: u8,
        note: Text,
        reported_by: PersonId,
        reported_at: DateTime<Utc>,
    },
    AssignmentSubmitted {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        summary: Text,
        evidence: Vec<EvidenceRef>,
        on_time: bool,
        submitted_by: PersonId,
        submitted_at: DateTime<Utc>,
    },
    AssignmentAccepted {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        category: Category,
        matter_code: MatterCode,
        score: Score,
        on_time: bool,
        factor_percent: u16,
        points: Points,
        /// Who signed (the village secretary) and who did the work, for 先锋干部榜.
        signed_by: Option<PersonId>,
        assignee: Option<Assignee>,
        accepted_by: PersonId,
        accepted_at: DateTime<Utc>,
    },
    AssignmentReturned {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        reason: Text,
        returned_by: PersonId,
        returned_at: DateTime<Utc>,
    },
    AssignmentWithdrawn {
        task: TaskId,
        town: RegionId,
        village: RegionId,
        reason: Text,
        withdrawn_by: PersonId,
        withdrawn_at: DateTime<Utc>,
    },
}

impl DomainEvent for AssignmentEvent {
    fn event_type(&self) -> &'static str {
        match self {
            AssignmentEvent::AssignmentIssued(_) => "AssignmentIssued",
            AssignmentEvent::AssignmentSigned { .. } => "AssignmentSigned",
            AssignmentEvent::AssignmentAssigned { .. } => "AssignmentAssigned",
            AssignmentEvent::AssignmentProgressReported { .. } => "AssignmentProgressReported",
            AssignmentEvent::AssignmentSubmitted { .. } => "AssignmentSubmitted",
            AssignmentEvent::AssignmentAccepted { .. } => "AssignmentAccepted",
            AssignmentEvent::AssignmentReturned { .. } => "AssignmentReturned",
            AssignmentEvent::AssignmentWithdrawn { .. } => "AssignmentWithdrawn",
        }
    }

    /// The village, then its town.
    fn regions(&self) -> Vec<RegionId> {
        let (village, town) = match self {
            AssignmentEvent::AssignmentIssued(n) => (&n.village, &n.town),
            AssignmentEvent::AssignmentSigned { village, town, .. }
            | AssignmentEvent::AssignmentAssigned { village, town, .. }
            | AssignmentEvent::AssignmentProgressReported { village, town, .. }
            | AssignmentEvent::AssignmentSubmitted { village, town, .. }
            | AssignmentEvent::AssignmentAccepted { village, town, .. }
            | AssignmentEvent::AssignmentReturned { village, town, .. }
            | AssignmentEvent::AssignmentWithdrawn { village, town, .. } => (village, town),
        };
        vec![village.clone(), town.clone()]
    }
}

/// Why a command on a village's work was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("任务尚未派发到该村社")]
    NotIssued,
    #[error("任务已经派发到该村社")]
    AlreadyIssued,
    #[error("村社 {village} 不属于 {town}")]
    VillageOutsideTown { village: RegionId, town: RegionId },
    #[error("只有本镇街干部可以派发任务")]
    NotTownCadre,
    #[error("只有本村社书记可以签收和分派任务")]
    NotVillageSecretary,
    #[error("只有本村社干部或网格长可以办理任务")]
    NotVillageCadre,
    #[error("只有本镇街工作人员或分管“{category}”的领导可以验收或退回")]
    NotTownReviewer { category: Category },
    #[error("只有分管“{category}”的领导或党委书记可以撤回任务")]
    NotWithdrawer { category: Category },
    #[error("网格 {grid} 不属于本村社")]
    GridOutsideVillage { grid: GridId },
    #[error("进度必须在0到100之间,不能是 {0}")]
    InvalidPercent(i64),
    #[error("进度说明无效:{0}")]
    InvalidNote(InvalidText),
    #[error("办理情况说明无效:{0}")]
    InvalidSummary(InvalidText),
    #[error("原因无效:{0}")]
    InvalidReason(InvalidText),
    #[error("提交时必须附佐证材料")]
    MissingEvidence,
    #[error("任务已验收,不能撤回")]
    AlreadyAccepted,
    #[error("任务当前状态为“{}”,不能进行此操作", .status.title())]
    WrongStatus { status: AssignmentStatus },
}

impl Rejection for AssignmentError {
    fn code(&self) -> &'static str {
        use AssignmentError::*;
        match self {
            NotIssued => "NOT_FOUND",
            AlreadyIssued | AlreadyAccepted | WrongStatus { .. } => "CONFLICT",
            NotTownCadre
            | NotVillageSecretary
            | NotVillageCadre
            | NotTownReviewer { .. }
            | NotWithdrawer { .. } => "FORBIDDEN",
            VillageOutsideTown { .. }
            | GridOutsideVillage { .. }
            | InvalidPercent(_)
            | InvalidNote(_)
            | InvalidSummary(_)
            | InvalidReason(_) => "INVALID_INPUT",
            MissingEvidence => "RULE_VIOLATION",
        }
    }
}

/// What an issued assignment knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRecord {
    pub notice: AssignmentNotice,
    pub status: AssignmentStatus,
    pub signed_by: Option<PersonId>,
    pub assignee: Option<Assignee>,
    pub progress_percent: u8,
    pub last_submitted_at: Option<DateTime<Utc>>,
    pub rework_count: u32,
    pub points: Option<Points>,
}

/// One village's work on one task, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    record: Option<AssignmentRecord>,
}

fn is_village_secretary(actor: &Actor, village: &RegionId) -> bool {
    matches!(actor.role, Role::VillageSecretary) && actor.covers(village)
}

fn is_village_cadre(actor: &Actor, village: &RegionId) -> bool {
    matches!(
        actor.role,
        Role::VillageSecretary | Role::VillageCadre | Role::GridLeader
    ) && actor.covers(village)
}

fn is_town_cadre(actor: &Actor, town: &RegionId) -> bool {
    matches!(
        actor.role,
        Role::TownOfficeStaff | Role::TownLeader { .. } | Role::PartyCommitteeSecretary
    ) && actor.covers(town)
}

impl Assignment {
    pub fn record(&self) -> Option<&AssignmentRecord> {
        self.record.as_ref()
    }

    pub fn status(&self) -> Option<AssignmentStatus> {
        self.record.as_ref().map(|r| r.status)
    }

    /// 逾期: issued, past the deadline at `now`, and neither accepted nor withdrawn.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.record.as_ref().is_some_and(|r| {
            !matches!(
                r.status,
                AssignmentStatus::Accepted | AssignmentStatus::Withdrawn
            ) && now > r.notice.deadline
        })
    }

    fn issued(&self) -> Result<&AssignmentRecord, AssignmentError> {
        self.record.as_ref().ok_or(AssignmentError::NotIssued)
    }

    fn in_status(
        record: &AssignmentRecord,
        status: AssignmentStatus,
    ) -> Result<(), AssignmentError> {
        if record.status != status {
            return Err(AssignmentError::WrongStatus {
                status: record.status,
            });
        }
        Ok(())
    }

    fn issue(
        &self,
        notice: AssignmentNotice,
        actor: &Actor,
    ) -> Result<Vec<AssignmentEvent>, AssignmentError> {
        if !(is_town_cadre(actor, &notice.village) || actor.administers(&notice.village)) {
            return Err(AssignmentError::NotTownCadre);
        }
        if notice.village.town().as_ref() != Some(&notice.town) {
            return Err(AssignmentError::VillageOutsideTown {
                village: notice.village,
                town: notice.town,
            });
        }
        if self.record.is_some() {
            return Err(AssignmentError::AlreadyIssued);
        }
        Ok(vec![AssignmentEvent::AssignmentIssued(notice)])
    }

    fn village_step(
        &self,
        command: AssignmentCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<AssignmentEvent>, AssignmentError> {
        let record = self.issued()?;
        let n = &record.notice;
        let (task, town, village) = (n.task, n.town.clone(), n.village.clone());
        let by = ctx.actor.id.clone();
        let event = match command {
            AssignmentCommand::SignAssignment => {
                if !is_village_secretary(ctx.actor, &village) {
                    return Err(AssignmentError::NotVillageSecretary);
                }
                Self::in_status(record, AssignmentStatus::Issued)?;
                AssignmentEvent::AssignmentSigned {
                    task,
                    town,
                    village,
                    signed_by: by,
                    signed_at: ctx.now,
                }
            }
            AssignmentCommand::AssignWork { assignee } => {
                if !is_village_secretary(ctx.actor, &village) {
                    return Err(AssignmentError::NotVillageSecretary);
                }
                Self::in_status(record, AssignmentStatus::InProgress)?;
                if let Assignee::Grid { grid } = &assignee
                    && grid.village() != &village
                {
                    return Err(AssignmentError::GridOutsideVillage { grid: grid.clone() });
                }
                AssignmentEvent::AssignmentAssigned {
                    task,
                    town,
                    village,
                    assignee,
                    assigned_by: by,
                    assigned_at: ctx.now,
                }
            }
            AssignmentCommand::ReportProgress { percent, note } => {
                if !is_village_cadre(ctx.actor, &village) {
                    return Err(AssignmentError::NotVillageCadre);
                }
                Self::in_status(record, AssignmentStatus::InProgress)?;
                let percent = u8::try_from(percent)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or(AssignmentError::InvalidPercent(percent))?;
                let note = Text::parse(&note).map_err(AssignmentError::InvalidNote)?;
                AssignmentEvent::AssignmentProgressReported {
                    task,
                    town,
                    village,
                    percent,
                    note,
                    reported_by: by,
                    reported_at: ctx.now,
                }
            }
            AssignmentCommand::SubmitWork { summary, evidence } => {
                if !is_village_cadre(ctx.actor, &village) {
                    return Err(AssignmentError::NotVillageCadre);
                }
                Self::in_status(record, AssignmentStatus::InProgress)?;
                let summary = Text::parse(&summary).map_err(AssignmentError::InvalidSummary)?;
                if evidence.is_empty() {
                    return Err(AssignmentError::MissingEvidence);
                }
                AssignmentEvent::AssignmentSubmitted {
                    task,
                    town,
                    village,
                    summary,
                    evidence,
                    on_time: ctx.now <= n.deadline,
                    submitted_by: by,
                    submitted_at: ctx.now,
                }
            }
            AssignmentCommand::AcceptWork | AssignmentCommand::ReturnForRework { .. } => {
                let reviewer = (matches!(ctx.actor.role, Role::TownOfficeStaff)
                    && ctx.actor.covers(&town))
                    || (ctx.actor.covers(&town) && ctx.actor.leads(n.category.as_str()));
                if !reviewer {
                    return Err(AssignmentError::NotTownReviewer {
                        category: n.category.clone(),
                    });
                }
                Self::in_status(record, AssignmentStatus::Submitted)?;
                match command {
                    AssignmentCommand::ReturnForRework { reason } => {
                        AssignmentEvent::AssignmentReturned {
                            task,
                            town,
                            village,
                            reason: Text::parse(&reason).map_err(AssignmentError::InvalidReason)?,
                            returned_by: by,
                            returned_at: ctx.now,
                        }
                    }
                    _ => {
                        let on_time = record.last_submitted_at.is_some_and(|at| at <= n.deadline);
                        let factor_percent = n.timeliness.factor_percent(on_time);
                        AssignmentEvent::AssignmentAccepted {
                            task,
                            town,
                            village,
                            category: n.category.clone(),
                            matter_code: n.matter_code.clone(),
                            score: n.score,
                            on_time,
                            factor_percent,
                            points: n.score.points_at(factor_percent),
                            signed_by: record.signed_by.clone(),
                            assignee: record.assignee.clone(),
                            accepted_by: by,
                            accepted_at: ctx.now,
                        }
                    }
                }
            }
            AssignmentCommand::WithdrawAssignment { reason } => {
                let withdrawer = ctx.actor.covers(&town)
                    && (ctx.actor.leads(n.category.as_str())
                        || matches!(ctx.actor.role, Role::PartyCommitteeSecretary));
                if !withdrawer {
                    return Err(AssignmentError::NotWithdrawer {
                        category: n.category.clone(),
                    });
                }
                match record.status {
                    AssignmentStatus::Accepted => return Err(AssignmentError::AlreadyAccepted),
                    AssignmentStatus::Withdrawn => {
                        return Err(AssignmentError::WrongStatus {
                            status: record.status,
                        });
                    }
                    _ => {}
                }
                AssignmentEvent::AssignmentWithdrawn {
                    task,
                    town,
                    village,
                    reason: Text::parse(&reason).map_err(AssignmentError::InvalidReason)?,
                    withdrawn_by: by,
                    withdrawn_at: ctx.now,
                }
            }
            AssignmentCommand::IssueAssignment { .. } => {
                return Err(AssignmentError::AlreadyIssued);
            }
        };
        Ok(vec![event])
    }
}

impl Aggregate for Assignment {
    const CATEGORY: &'static str = "assignment";
    type Command = AssignmentCommand;
    type Event = AssignmentEvent;
    type Error = AssignmentError;

    fn decide(
        &self,
        command: AssignmentCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<AssignmentEvent>, AssignmentError> {
        match command {
            AssignmentCommand::IssueAssignment { notice } => self.issue(notice, ctx.actor),
            other => self.village_step(other, ctx),
        }
    }

    fn evolve(&mut self, event: &AssignmentEvent) {
        if let AssignmentEvent::AssignmentIssued(notice) = event {
            self.record = Some(AssignmentRecord {
                notice: notice.clone(),
                status: AssignmentStatus::Issued,
                signed_by: None,
                assignee: None,
                progress_percent: 0,
                last_submitted_at: None,
                rework_count: 0,
                points: None,
            });
            return;
        }
        let Some(record) = &mut self.record else {
            return;
        };
        match event {
            AssignmentEvent::AssignmentIssued(_) => {}
            AssignmentEvent::AssignmentSigned { signed_by, .. } => {
                record.status = AssignmentStatus::InProgress;
                record.signed_by = Some(signed_by.clone());
            }
            AssignmentEvent::AssignmentAssigned { assignee, .. } => {
                record.assignee = Some(assignee.clone())
            }
            AssignmentEvent::AssignmentProgressReported { percent, .. } => {
                record.progress_percent = *percent
            }
            AssignmentEvent::AssignmentSubmitted { submitted_at, .. } => {
                record.status = AssignmentStatus::Submitted;
                record.last_submitted_at = Some(*submitted_at);
            }
            AssignmentEvent::AssignmentAccepted { points, .. } => {
                record.status = AssignmentStatus::Accepted;
                record.points = Some(*points);
            }
            AssignmentEvent::AssignmentReturned { .. } => {
                record.status = AssignmentStatus::InProgress;
                record.rework_count += 1;
            }
            AssignmentEvent::AssignmentWithdrawn { .. } => {
                record.status = AssignmentStatus::Withdrawn
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::task::TaskEvent;
    use crate::task::tests::{deadline, dispatched, now};
    use crate::testing::*;

    fn notice() -> AssignmentNotice {
        match dispatched().last() {
            Some(TaskEvent::TaskDispatched(d)) => d.notice_for(&fengyuan()),
            other => panic!("not dispatched: {other:?}"),
        }
    }

    fn evidence() -> Vec<EvidenceRef> {
        vec![EvidenceRef::new(&"0f".repeat(32), "走访登记表.jpg").expect("evidence")]
    }

    fn secretary() -> Actor {
        village_secretary(&fengyuan())
    }

    fn step_at(
        given: &[AssignmentEvent],
        actor: &Actor,
        at: DateTime<Utc>,
        cmd: AssignmentCommand,
    ) -> Vec<AssignmentEvent> {
        then_history::<Assignment>(given, actor, at, cmd)
    }

    fn step(
        given: &[AssignmentEvent],
        actor: &Actor,
        cmd: AssignmentCommand,
    ) -> Vec<AssignmentEvent> {
        step_at(given, actor, now(), cmd)
    }

    fn when_a(
        given: &[AssignmentEvent],
        actor: &Actor,
        cmd: AssignmentCommand,
    ) -> Result<Vec<AssignmentEvent>, AssignmentError> {
        when::<Assignment>(given, actor, now(), cmd)
    }

    fn issued() -> Vec<AssignmentEvent> {
        step(
            &[],
            &zongzhi_leader(),
            AssignmentCommand::IssueAssignment { notice: notice() },
        )
    }

    fn signed() -> Vec<AssignmentEvent> {
        step(&issued(), &secretary(), AssignmentCommand::SignAssignment)
    }

    fn submit() -> AssignmentCommand {
        AssignmentCommand::SubmitWork {
            summary: "已走访312户".into(),
            evidence: evidence(),
        }
    }

    fn submitted_at(at: DateTime<Utc>) -> Vec<AssignmentEvent> {
        step_at(&signed(), &village_cadre(&fengyuan()), at, submit())
    }

    fn accepted_points(history: &[AssignmentEvent]) -> (bool, u16, Points) {
        match history.last() {
            Some(AssignmentEvent::AssignmentAccepted {
                on_time,
                factor_percent,
                points,
                ..
            }) => (*on_time, *factor_percent, *points),
            other => panic!("not accepted: {other:?}"),
        }
    }

    #[test]
    fn the_full_path_on_time_earns_the_whole_score() {
        let history = step(
            &signed(),
            &secretary(),
            AssignmentCommand::AssignWork {
                assignee: Assignee::Grid {
                    grid: GridId::new(fengyuan(), 1).expect("grid"),
                },
            },
        );
        let history = step(
            &history,
            &actor("grid-1", Role::GridLeader, &fengyuan()),
            AssignmentCommand::ReportProgress {
                percent: 60,
                note: "已走访六成".into(),
            },
        );
        let history = step_at(
            &history,
            &village_cadre(&fengyuan()),
            now() + Duration::days(3),
            submit(),
        );
        let history = step_at(
            &history,
            &town_staff(),
            now() + Duration::days(12),
            AssignmentCommand::AcceptWork,
        );
        assert_eq!(
            accepted_points(&history),
            (true, 100, Points::from_hundredths(1500))
        );
        let state = Assignment::replay(&history);
        assert_eq!(state.status(), Some(AssignmentStatus::Accepted));
        assert!(!state.is_overdue(deadline() + Duration::days(30)));
        assert_eq!(history[0].regions(), vec![fengyuan(), fengqiao()]);
    }

    #[test]
    fn late_work_earns_the_late_factor() {
        let history = submitted_at(deadline() + Duration::hours(1));
        let history = step(&history, &zongzhi_leader(), AssignmentCommand::AcceptWork);
        assert_eq!(
            accepted_points(&history),
            (false, 50, Points::from_hundredths(750))
        );
    }

    #[test]
    fn work_submitted_exactly_at_the_deadline_is_on_time() {
        let submitted_on = |at: DateTime<Utc>| {
            let history = submitted_at(at);
            let on_time = match history.last() {
                Some(AssignmentEvent::AssignmentSubmitted { on_time, .. }) => *on_time,
                other => panic!("not submitted: {other:?}"),
            };
            let accepted = step_at(
                &history,
                &town_staff(),
                deadline() + Duration::days(2),
                AssignmentCommand::AcceptWork,
            );
            (on_time, accepted_points(&accepted))
        };
        assert_eq!(
            submitted_on(deadline()),
            (true, (true, 100, Points::from_hundredths(1500)))
        );
        assert_eq!(
            submitted_on(deadline() + Duration::seconds(1)),
            (false, (false, 50, Points::from_hundredths(750)))
        );
    }

    #[test]
    fn rework_resubmitted_after_the_deadline_is_late() {
        let history = submitted_at(now() + Duration::days(1));
        let history = step(
            &history,
            &town_staff(),
            AssignmentCommand::ReturnForRework {
                reason: "缺少签名".into(),
            },
        );
        assert_eq!(
            Assignment::replay(&history)
                .record()
                .map(|r| r.rework_count),
            Some(1)
        );
        let history = step_at(
            &history,
            &village_cadre(&fengyuan()),
            deadline() + Duration::days(1),
            submit(),
        );
        let history = step(&history, &town_staff(), AssignmentCommand::AcceptWork);
        assert!(!accepted_points(&history).0);
    }

    #[test]
    fn every_event_type_round_trips() {
        let worked = step(
            &signed(),
            &secretary(),
            AssignmentCommand::AssignWork {
                assignee: Assignee::Cadre {
                    person: person("cadre-1"),
                },
            },
        );
        let worked = step(
            &worked,
            &secretary(),
            AssignmentCommand::ReportProgress {
                percent: 100,
                note: "完成".into(),
            },
        );
        let worked = step(&worked, &secretary(), submit());
        let worked = step(
            &worked,
            &town_staff(),
            AssignmentCommand::ReturnForRework {
                reason: "补充".into(),
            },
        );
        let worked = step(&worked, &secretary(), submit());
        let accepted = step(&worked, &town_staff(), AssignmentCommand::AcceptWork);
        let withdrawn = step(
            &issued(),
            &zongzhi_leader(),
            AssignmentCommand::WithdrawAssignment {
                reason: "合并".into(),
            },
        );
        let mut seen = std::collections::BTreeSet::new();
        for event in accepted.iter().chain(&withdrawn) {
            assert_round_trip(event);
            seen.insert(event.event_type());
        }
        assert_eq!(seen.len(), 8, "{seen:?}");
    }

    #[test]
    fn overdue_is_a_query_on_the_deadline() {
        let state = Assignment::replay(&signed());
        assert!(!state.is_overdue(deadline()));
        assert!(state.is_overdue(deadline() + Duration::seconds(1)));
        assert!(!Assignment::default().is_overdue(deadline() + Duration::days(1)));
    }

    #[test]
    fn issue_refusals() {
        assert_eq!(
            when_a(
                &[],
                &village_secretary(&fengyuan()),
                AssignmentCommand::IssueAssignment { notice: notice() }
            ),
            Err(AssignmentError::NotTownCadre)
        );
        assert_eq!(
            when_a(
                &issued(),
                &zongzhi_leader(),
                AssignmentCommand::IssueAssignment { notice: notice() }
            ),
            Err(AssignmentError::AlreadyIssued)
        );
        let stranger = AssignmentNotice {
            village: jinxi(),
            ..notice()
        };
        assert!(matches!(
            when_a(
                &[],
                &Actor::system(),
                AssignmentCommand::IssueAssignment { notice: stranger }
            ),
            Err(AssignmentError::VillageOutsideTown { .. })
        ));
        assert!(
            when_a(
                &[],
                &admin(&fengqiao()),
                AssignmentCommand::IssueAssignment { notice: notice() }
            )
            .is_ok()
        );
        assert_eq!(
            when_a(&[], &secretary(), AssignmentCommand::SignAssignment),
            Err(AssignmentError::NotIssued)
        );
    }

    #[test]
    fn village_refusals() {
        let other_secretary = village_secretary(&village_b());
        let cases: Vec<(
            Vec<AssignmentEvent>,
            Actor,
            AssignmentCommand,
            Expect<AssignmentError>,
        )> = vec![
            (
                issued(),
                other_secretary.clone(),
                AssignmentCommand::SignAssignment,
                |e| matches!(e, AssignmentError::NotVillageSecretary),
            ),
            (
                issued(),
                village_cadre(&fengyuan()),
                AssignmentCommand::SignAssignment,
                |e| matches!(e, AssignmentError::NotVillageSecretary),
            ),
            (
                signed(),
                secretary(),
                AssignmentCommand::SignAssignment,
                |e| {
                    matches!(
                        e,
                        AssignmentError::WrongStatus {
                            status: AssignmentStatus::InProgress
                        }
                    )
                },
            ),
            (
                issued(),
                secretary(),
                AssignmentCommand::AssignWork {
                    assignee: Assignee::Cadre {
                        person: person("c"),
                    },
                },
                |e| {
                    matches!(
                        e,
                        AssignmentError::WrongStatus {
                            status: AssignmentStatus::Issued
                        }
                    )
                },
            ),
            (
                signed(),
                secretary(),
                AssignmentCommand::AssignWork {
                    assignee: Assignee::Grid {
                        grid: GridId::new(village_b(), 1).expect("grid"),
                    },
                },
                |e| matches!(e, AssignmentError::GridOutsideVillage { .. }),
            ),
            (
                signed(),
                village_cadre(&fengyuan()),
                AssignmentCommand::AssignWork {
                    assignee: Assignee::Cadre {
                        person: person("c"),
                    },
                },
                |e| matches!(e, AssignmentError::NotVillageSecretary),
            ),
            (
                signed(),
                other_secretary.clone(),
                AssignmentCommand::ReportProgress {
                    percent: 10,
                    note: "x".into(),
                },
                |e| matches!(e, AssignmentError::NotVillageCadre),
            ),
            (
                signed(),
                secretary(),
                AssignmentCommand::ReportProgress {
                    percent: 101,
                    note: "x".into(),
                },
                |e| matches!(e, AssignmentError::InvalidPercent(101)),
            ),
            (
                signed(),
                secretary(),
                AssignmentCommand::ReportProgress {
                    percent: -1,
                    note: "x".into(),
                },
                |e| matches!(e, AssignmentError::InvalidPercent(-1)),
            ),
            (
                signed(),
                secretary(),
                AssignmentCommand::ReportProgress {
                    percent: 10,
                    note: "".into(),
                },
                |e| matches!(e, AssignmentError::InvalidNote(_)),
            ),
            (issued(), secretary(), submit(), |e| {
                matches!(e, AssignmentError::WrongStatus { .. })
            }),
            (
                signed(),
                secretary(),
                AssignmentCommand::SubmitWork {
                    summary: "完成".into(),
                    evidence: vec![],
                },
                |e| matches!(e, AssignmentError::MissingEvidence),
            ),
            (
                signed(),
                secretary(),
                AssignmentCommand::SubmitWork {
                    summary: " ".into(),
                    evidence: evidence(),
                },
                |e| matches!(e, AssignmentError::InvalidSummary(_)),
            ),
            (signed(), town_staff(), submit(), |e| {
                matches!(e, AssignmentError::NotVillageCadre)
            }),
        ];
        for (given, actor, cmd, expected) in cases {
            let err = when_a(&given, &actor, cmd.clone()).expect_err("refused");
            assert!(expected(&err), "{cmd:?} -> {err:?}");
        }
    }

    #[test]
    fn town_review_refusals() {
        let submitted = submitted_at(now());
        assert!(matches!(
            when_a(
                &submitted,
                &chengjian_leader(),
                AssignmentCommand::AcceptWork
            ),
            Err(AssignmentError::NotTownReviewer { .. })
        ));
        assert!(matches!(
            when_a(&submitted, &secretary(), AssignmentCommand::AcceptWork),
            Err(AssignmentError::NotTownReviewer { .. })
        ));
        assert!(matches!(
            when_a(&signed(), &town_staff(), AssignmentCommand::AcceptWork),
            Err(AssignmentError::WrongStatus {
                status: AssignmentStatus::InProgress
            })
        ));
        assert!(matches!(
            when_a(
                &submitted,
                &town_staff(),
                AssignmentCommand::ReturnForRework { reason: "".into() }
            ),
            Err(AssignmentError::InvalidReason(_))
        ));
    }

    #[test]
    fn withdrawal_before_acceptance_only() {
        let withdraw = || AssignmentCommand::WithdrawAssignment {
            reason: "任务合并".into(),
        };
        let withdrawn = step(&signed(), &party_secretary(), withdraw());
        assert_eq!(
            Assignment::replay(&withdrawn).status(),
            Some(AssignmentStatus::Withdrawn)
        );
        assert!(!Assignment::replay(&withdrawn).is_overdue(deadline() + Duration::days(1)));
        assert!(matches!(
            when_a(&withdrawn, &secretary(), submit()),
            Err(AssignmentError::WrongStatus {
                status: AssignmentStatus::Withdrawn
            })
        ));
        assert!(matches!(
            when_a(&withdrawn, &zongzhi_leader(), withdraw()),
            Err(AssignmentError::WrongStatus {
                status: AssignmentStatus::Withdrawn
            })
        ));
        let accepted = step(
            &submitted_at(now()),
            &town_staff(),
            AssignmentCommand::AcceptWork,
        );
        assert_eq!(
            when_a(&accepted, &zongzhi_leader(), withdraw()),
            Err(AssignmentError::AlreadyAccepted)
        );
        assert!(matches!(
            when_a(&signed(), &town_staff(), withdraw()),
            Err(AssignmentError::NotWithdrawer { .. })
        ));
        assert!(matches!(
            when_a(
                &signed(),
                &zongzhi_leader(),
                AssignmentCommand::WithdrawAssignment { reason: "".into() }
            ),
            Err(AssignmentError::InvalidReason(_))
        ));
    }

    fn command_from(kind: u8) -> (Actor, AssignmentCommand) {
        match kind {
            0 => (
                zongzhi_leader(),
                AssignmentCommand::IssueAssignment { notice: notice() },
            ),
            1 => (secretary(), AssignmentCommand::SignAssignment),
            2 => (
                secretary(),
                AssignmentCommand::AssignWork {
                    assignee: Assignee::Cadre {
                        person: person("cadre-1"),
                    },
                },
            ),
            3 => (
                village_cadre(&fengyuan()),
                AssignmentCommand::ReportProgress {
                    percent: 50,
                    note: "过半".into(),
                },
            ),
            4 => (village_cadre(&fengyuan()), submit()),
            5 => (town_staff(), AssignmentCommand::AcceptWork),
            6 => (
                town_staff(),
                AssignmentCommand::ReturnForRework {
                    reason: "补充".into(),
                },
            ),
            _ => (
                zongzhi_leader(),
                AssignmentCommand::WithdrawAssignment {
                    reason: "合并".into(),
                },
            ),
        }
    }

    proptest! {
        #[test]
        fn replay_is_deterministic_and_events_round_trip(steps in prop::collection::vec((0u8..8, 0i64..20), 0..30)) {
            let mut state = Assignment::default();
            let mut history = Vec::new();
            for (kind, day) in steps {
                let (actor, cmd) = command_from(kind);
                let at = now() + Duration::days(day);
                if let Ok(events) = state.decide(cmd, &CommandContext { actor: &actor, now: at }) {
                    for event in &events {
                        state.evolve(event);
                        assert_round_trip(event);
                    }
                    history.extend(events);
                }
            }
            prop_assert_eq!(Assignment::replay(&history), state.clone());
            prop_assert_eq!(Assignment::replay(&history), Assignment::replay(&history));
        }
    }
}
