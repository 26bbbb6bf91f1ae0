//! Tasks from the town to its villages (任务): draft → screen → review → (collective
//! decision) → dispatch, or withdraw.
//!
//! # Streams
//!
//! One [`Task`] stream per task: `task-{uuid}`. It holds the town's side only: the draft,
//! screening, review, the party committee's decision, dispatch and withdrawal. Each
//! village's work on a dispatched task (签收, assignment, progress, submission, acceptance)
//! is its own stream `assignment-{task}-{village}` ([`crate::assignment`]): a task sent to
//! the whole town reaches 20 or more villages that sign and report at the same moment, and
//! the store appends to one stream per command with optimistic concurrency, so one shared
//! stream would make every village retry against every other for no rule they share. Rules
//! that do span the villages (the duplicate check, 多头派单) are per village too, in
//! `village-{code}` ([`crate::ledger`]).
//!
//! # Screening (过筛) is decided at drafting, and a rejection is a fact
//!
//! `DraftTask` carries the [`CatalogueSnapshot`] the caller read. Invalid input (an empty
//! title, a zero score, a past deadline, a village outside the town, a malformed code) is
//! refused and nothing is appended. Valid input is screened: if it passes, the decision is
//! `[TaskDrafted]`; if not, it is `[TaskScreeningRejected]` *alone*, which carries the whole
//! draft and the catalogue version, so dashboards count rejections by town, category and
//! source and a village's audit trail shows what was kept from it, without a `TaskDrafted`
//! that was never a live task. The stream then refuses every further command with
//! [`TaskError::ScreeningRejected`] (code `SCREENING_REJECTED`). A missing code is a
//! screening rejection (counted); a malformed code is an input error (a typo, not a policy
//! fact). After screening passes, the task's category must be the matter's category, so a
//! task cannot choose its reviewer.
//!
//! # After dispatch: what the caller does (cross-stream)
//!
//! The store appends to exactly one stream per command, so `TaskDispatched` does not open
//! the villages' streams itself. The caller (API, simulator) follows it with, for each
//! village, [`TaskDispatch::ledger_commands`] on `village-{code}` (the duplicate check,
//! serialised per village) and [`TaskDispatch::assignment_commands`] on
//! `assignment-{task}-{village}`. Both are idempotent under retry (a repeated registration
//! appends nothing; a repeated issue is refused as `CONFLICT`), so a caller that crashed
//! half-way re-runs the whole fan-out. Likewise `TaskWithdrawn` is followed by
//! [`TaskWithdrawal::assignment_commands`] and [`TaskWithdrawal::ledger_commands`].
//!
//! # Duplicates (多头派单) are caught before dispatch
//!
//! The task cannot read the villages' ledgers (no IO), so the caller passes what it knows is
//! already dispatched to the villages addressed ([`DispatchedTask`], read from each village's
//! ledger with [`crate::ledger::VillageTaskLedger::dispatched`]) in `DraftTask`, `ReviseTask`
//! and `ApproveTask`. A dispatched task of the same matter whose period overlaps the draft's
//! (from now to its deadline) in one of its villages is a duplicate:
//!
//! - at screening, `TaskDrafted` / `TaskRevised` is followed by
//!   `TaskDuplicateDispatchFlagged`, naming each village and the earlier task;
//! - at review, `ApproveTask` checks again (an earlier task may have been dispatched since).
//!   While duplicates stand, approving is not an approval: the review records
//!   `TaskDuplicateDispatchFlagged` (if these duplicates were not flagged yet) and the task
//!   stays awaiting review; asking again is refused as [`TaskError::DuplicateDispatch`]
//!   (`CONFLICT`).
//!
//! The reviewing leader then **merges** (`WithdrawTask`, the reason naming the earlier task:
//! nothing reaches the villages), **refuses** (`ReturnTask`: the office may revise it, e.g.
//! leave out the villages already served, and it is screened again), or **proceeds
//! knowingly** (`ApproveTask` with a `duplicate_reason`, recorded with the duplicates in
//! `TaskApproved`). The village ledger's own check at dispatch stays as the serialised
//! backstop (two tasks reviewed at the same moment both pass here, the second is flagged
//! there).
//!
//! # Withdrawal after some villages' work was accepted
//!
//! `WithdrawTask` carries the villages whose work the town has already accepted (the caller
//! reads their assignments). The withdrawal applies to the other villages only:
//! [`TaskWithdrawal::villages`] are the villages released (their assignments withdrawn, their
//! ledger entries released) and [`TaskWithdrawal::kept`] the villages whose accepted work and
//! points stand. When every village's work was accepted there is nothing to withdraw
//! ([`TaskError::AllWorkAccepted`]). A village accepted after the caller read refuses its
//! `WithdrawAssignment` (`AlreadyAccepted`, the serialised backstop); the caller then skips
//! that village's ledger release.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::assignment::{AssignmentCommand, AssignmentId, AssignmentNotice};
use crate::catalogue::{
    CatalogueSnapshot, Category, InvalidCategory, InvalidMatterCode, MatterCode, MatterItem,
    ResponsibleLevel, ScreeningReason,
};
use crate::evidence::EvidenceRef;
use crate::ledger::LedgerCommand;
use crate::people::{Actor, PersonId, Role};
use crate::region::{RegionId, RegionLevel};
use crate::settings::TimelinessPolicy;
use crate::text::{InvalidText, Text};

/// Id of a task: a UUID chosen by the caller (so a retried command is recognisable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(Uuid);

impl TaskId {
    pub fn new(id: Uuid) -> Self {
        TaskId(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// 任务来源.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskSource {
    /// 上级任务: from a county or city office, merged into the town's list.
    UpperLevel,
    /// 镇级任务: the town's own.
    Town,
    /// 重大任务: needs a collective decision of the town party committee before dispatch.
    Major,
}

/// 分值: a task's difficulty score, 1..=100 points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Score(u16);

/// A score outside 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("分值必须是1到100之间的整数,不能是 {0}")]
pub struct InvalidScore(pub i64);

impl Score {
    pub const MAX: u16 = 100;

    pub fn new(raw: i64) -> Result<Self, InvalidScore> {
        u16::try_from(raw)
            .ok()
            .filter(|s| (1..=Self::MAX).contains(s))
            .map(Score)
            .ok_or(InvalidScore(raw))
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// Points for this score at a timeliness factor in percent: score × factor.
    pub fn points_at(self, factor_percent: u16) -> Points {
        Points(u64::from(self.0) * u64::from(factor_percent))
    }
}

impl TryFrom<i64> for Score {
    type Error = InvalidScore;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        Score::new(raw)
    }
}

impl From<Score> for i64 {
    fn from(s: Score) -> i64 {
        i64::from(s.0)
    }
}

/// 工分 awarded, in hundredths of a point, so score × percent is exact: a 15-point task
/// accepted late at 50 % gives `Points(750)`, i.e. 7.50.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Points(u64);

impl Points {
    pub fn from_hundredths(hundredths: u64) -> Self {
        Points(hundredths)
    }

    pub fn hundredths(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// The period a dispatched task occupies a village: from dispatch to deadline. Two tasks
/// of the same matter to one village with overlapping periods are duplicates (多头派单).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskPeriod {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl TaskPeriod {
    /// Whether the half-open periods `[from, to)` share any instant.
    pub fn overlaps(&self, other: &TaskPeriod) -> bool {
        self.from < other.to && other.from < self.to
    }
}

/// A task the caller knows is already dispatched to a village: the data the duplicate check
/// (多头派单) needs from the village's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchedTask {
    pub village: RegionId,
    pub task: TaskId,
    pub matter_code: MatterCode,
    pub period: TaskPeriod,
}

/// One village in which a task would duplicate a task already dispatched (多头派单).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DuplicateDispatch {
    pub village: RegionId,
    /// The task already dispatched to the village for the same matter.
    pub duplicate_of: TaskId,
    /// Its period.
    pub period: TaskPeriod,
}

/// The duplicates of a draft among `dispatched`: same matter, same village, overlapping the
/// period the draft would occupy if dispatched now (from `now` to its deadline).
fn duplicates_of(
    task: TaskId,
    draft: &TaskDraft,
    dispatched: &[DispatchedTask],
    now: DateTime<Utc>,
) -> Vec<DuplicateDispatch> {
    let Some(code) = &draft.matter_code else {
        return Vec::new();
    };
    let period = TaskPeriod {
        from: now,
        to: draft.deadline,
    };
    let found: BTreeSet<DuplicateDispatch> = dispatched
        .iter()
        .filter(|d| {
            d.task != task
                && &d.matter_code == code
                && draft.villages.contains(&d.village)
                && d.period.overlaps(&period)
        })
        .map(|d| DuplicateDispatch {
            village: d.village.clone(),
            duplicate_of: d.task,
            period: d.period,
        })
        .collect();
    found.into_iter().collect()
}

/// `TaskDuplicateDispatchFlagged` for the duplicates of a draft, unless there are none or
/// exactly these were flagged already.
fn duplicate_flag(
    task: TaskId,
    town: &RegionId,
    draft: &TaskDraft,
    dispatched: &[DispatchedTask],
    already_flagged: &[DuplicateDispatch],
    now: DateTime<Utc>,
) -> Option<TaskEvent> {
    let duplicates = duplicates_of(task, draft, dispatched, now);
    let matter_code = draft.matter_code.clone()?;
    (!duplicates.is_empty() && duplicates != already_flagged).then(|| {
        TaskEvent::TaskDuplicateDispatchFlagged {
            task,
            town: town.clone(),
            matter_code,
            duplicates,
            flagged_at: now,
        }
    })
}

/// The villages a draft addresses, as the drafter chose them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "villages", rename_all = "snake_case")]
pub enum Targets {
    /// Some villages of the town.
    Villages(Vec<RegionId>),
    /// Every village of the town (the command carries the town's village list).
    WholeTown,
}

/// A draft as the command carries it, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftInput {
    pub title: String,
    pub content: String,
    pub source: TaskSource,
    pub category: String,
    /// 过筛码; `None` or blank is screened as missing.
    pub matter_code: Option<String>,
    pub score: i64,
    pub targets: Targets,
    pub deadline: DateTime<Utc>,
}

/// A validated draft, as events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDraft {
    pub title: Text,
    pub content: Text,
    pub source: TaskSource,
    pub category: Category,
    pub matter_code: Option<MatterCode>,
    pub score: Score,
    /// The villages addressed, resolved (a whole-town task lists every village).
    pub villages: Vec<RegionId>,
    pub whole_town: bool,
    pub deadline: DateTime<Utc>,
}

/// The party committee's collective decision on a 重大任务 (党委集体研究).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitteeOutcome {
    Agreed,
    Rejected,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// 待审核.
    AwaitingReview,
    /// 退回修改.
    Returned,
    /// 审核通过, not yet dispatched.
    Approved,
    /// 已派发.
    Dispatched,
    /// 过筛未通过 (final).
    ScreeningRejected,
    /// 党委会议否决 (final).
    CommitteeRejected,
    /// 已撤回 (final).
    Withdrawn,
}

impl TaskStatus {
    pub fn title(self) -> &'static str {
        match self {
            TaskStatus::AwaitingReview => "待审核",
            TaskStatus::Returned => "已退回修改",
            TaskStatus::Approved => "已审核通过",
            TaskStatus::Dispatched => "已派发",
            TaskStatus::ScreeningRejected => "过筛未通过",
            TaskStatus::CommitteeRejected => "党委会议否决",
            TaskStatus::Withdrawn => "已撤回",
        }
    }
}

/// The payload of `TaskDispatched`: everything a village's assignment and ledger need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDispatch {
    pub task: TaskId,
    pub town: RegionId,
    pub title: Text,
    pub category: Category,
    pub matter_code: MatterCode,
    pub score: Score,
    pub villages: Vec<RegionId>,
    pub deadline: DateTime<Utc>,
    pub period: TaskPeriod,
    pub timeliness: TimelinessPolicy,
    pub dispatched_by: PersonId,
    pub dispatched_at: DateTime<Utc>,
}

impl TaskDispatch {
    /// The notice one village receives.
    pub fn notice_for(&self, village: &RegionId) -> AssignmentNotice {
        AssignmentNotice {
            task: self.task,
            town: self.town.clone(),
            village: village.clone(),
            title: self.title.clone(),
            category: self.category.clone(),
            matter_code: self.matter_code.clone(),
            score: self.score,
            deadline: self.deadline,
            period: self.period,
            timeliness: self.timeliness,
            dispatched_at: self.dispatched_at,
        }
    }

    /// `IssueAssignment` for each village's stream `assignment-{task}-{village}`.
    pub fn assignment_commands(&self) -> Vec<(AssignmentId, AssignmentCommand)> {
        self.villages
            .iter()
            .map(|village| {
                (
                    AssignmentId::new(self.task, village.clone()),
                    AssignmentCommand::IssueAssignment {
                        notice: self.notice_for(village),
                    },
                )
            })
            .collect()
    }

    /// `RegisterDispatch` for each village's ledger stream `village-{code}`.
    pub fn ledger_commands(&self) -> Vec<(RegionId, LedgerCommand)> {
        self.villages
            .iter()
            .map(|village| {
                (
                    village.clone(),
                    LedgerCommand::RegisterDispatch {
                        village: village.clone(),
                        task: self.task,
                        town: self.town.clone(),
                        title: self.title.clone(),
                        matter_code: self.matter_code.clone(),
                        period: self.period,
                    },
                )
            })
            .collect()
    }
}

/// The payload of `TaskWithdrawn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskWithdrawal {
    pub task: TaskId,
    pub town: RegionId,
    /// The villages the withdrawal applies to: released from the task.
    pub villages: Vec<RegionId>,
    /// The villages whose work was already accepted: their work and points stand. Empty in
    /// withdrawals recorded before this field existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<RegionId>,
    /// Whether the task had reached the villages (then their streams must follow).
    pub was_dispatched: bool,
    pub reason: Text,
    pub withdrawn_by: PersonId,
    pub withdrawn_at: DateTime<Utc>,
}

impl TaskWithdrawal {
    /// `WithdrawAssignment` for each village's stream, if the task had been dispatched.
    pub fn assignment_commands(&self) -> Vec<(AssignmentId, AssignmentCommand)> {
        if !self.was_dispatched {
            return Vec::new();
        }
        self.villages
            .iter()
            .map(|village| {
                (
                    AssignmentId::new(self.task, village.clone()),
                    AssignmentCommand::WithdrawAssignment {
                        reason: self.reason.to_string(),
                    },
                )
            })
            .collect()
    }

    /// `ReleaseDispatch` for each village's ledger, if the task had been dispatched.
    pub fn ledger_commands(&self) -> Vec<(RegionId, LedgerCommand)> {
        if !self.was_dispatched {
            return Vec::new();
        }
        self.villages
            .iter()
            .map(|village| {
                (
                    village.clone(),
                    LedgerCommand::ReleaseDispatch {
                        village: village.clone(),
                        task: self.task,
                        reason: self.reason.to_string(),
                    },
                )
            })
            .collect()
    }
}

/// Commands on a [`Task`].
#[derive(Debug, Clone, PartialEq)]
pub enum TaskCommand {
    /// 起草: draft and screen a task. `town_villages` is the town's registered village list;
    /// `catalogue` the snapshot of the county's (or city's) 事项清单 now.
    /// `dispatched`: what is already dispatched to the villages addressed (their ledgers), for
    /// the duplicate check.
    DraftTask {
        task: TaskId,
        town: RegionId,
        draft: DraftInput,
        town_villages: Vec<RegionId>,
        catalogue: CatalogueSnapshot,
        dispatched: Vec<DispatchedTask>,
    },
    /// 修改后重新提交: revise a returned draft; screened again.
    ReviseTask {
        draft: DraftInput,
        town_villages: Vec<RegionId>,
        catalogue: CatalogueSnapshot,
        dispatched: Vec<DispatchedTask>,
    },
    /// 审核通过. `dispatched` as in `DraftTask`; `duplicate_reason`: why the leader approves
    /// a task that duplicates one already dispatched (see the module documentation).
    ApproveTask {
        dispatched: Vec<DispatchedTask>,
        duplicate_reason: Option<String>,
    },
    /// 退回: return the draft to the office with a reason.
    ReturnTask { reason: String },
    /// 党委集体研究: record the town party committee's decision on a 重大任务.
    RecordCollectiveDecision {
        outcome: CommitteeOutcome,
        meeting_at: DateTime<Utc>,
        minutes: EvidenceRef,
    },
    /// 派发: `timeliness` is the town's policy in force ([`crate::settings::TaskSettings`]).
    DispatchTask { timeliness: TimelinessPolicy },
    /// 撤回, with a reason. `accepted_villages`: the villages whose work the town has already
    /// accepted (their assignments); the withdrawal leaves them out.
    WithdrawTask {
        reason: String,
        accepted_villages: Vec<RegionId>,
    },
}

/// Facts about a task. `TaskDispatched` and `TaskWithdrawn` wrap named payloads the
/// caller fans out from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum TaskEvent {
    TaskDrafted {
        task: TaskId,
        town: RegionId,
        draft: TaskDraft,
        catalogue_version: u64,
        /// The catalogue item as screened.
        matter: MatterItem,
        drafted_by: PersonId,
        drafted_at: DateTime<Utc>,
    },
    TaskScreeningRejected {
        task: TaskId,
        town: RegionId,
        draft: TaskDraft,
        reason: ScreeningReason,
        catalogue_version: u64,
        drafted_by: PersonId,
        rejected_at: DateTime<Utc>,
    },
    TaskRevised {
        task: TaskId,
        town: RegionId,
        draft: TaskDraft,
        catalogue_version: u64,
        matter: MatterItem,
        revised_by: PersonId,
        revised_at: DateTime<Utc>,
    },
    TaskApproved {
        task: TaskId,
        town: RegionId,
        villages: Vec<RegionId>,
        category: Category,
        approved_by: PersonId,
        approved_at: DateTime<Utc>,
        /// Duplicates the leader approved knowingly, and why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        duplicates: Vec<DuplicateDispatch>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duplicate_reason: Option<Text>,
    },
    /// 多头派单 caught before dispatch: the task would reach these villages for the same
    /// matter and an overlapping period as the tasks named.
    TaskDuplicateDispatchFlagged {
        task: TaskId,
        town: RegionId,
        matter_code: MatterCode,
        duplicates: Vec<DuplicateDispatch>,
        flagged_at: DateTime<Utc>,
    },
    TaskReturned {
        task: TaskId,
        town: RegionId,
        villages: Vec<RegionId>,
        category: Category,
        reason: Text,
        returned_by: PersonId,
        returned_at: DateTime<Utc>,
    },
    TaskCollectiveDecisionRecorded {
        task: TaskId,
        town: RegionId,
        villages: Vec<RegionId>,
        outcome: CommitteeOutcome,
        meeting_at: DateTime<Utc>,
        minutes: EvidenceRef,
        recorded_by: PersonId,
        recorded_at: DateTime<Utc>,
    },
    TaskDispatched(TaskDispatch),
    TaskWithdrawn(TaskWithdrawal),
}

impl DomainEvent for TaskEvent {
    fn event_type(&self) -> &'static str {
        match self {
            TaskEvent::TaskDrafted { .. } => "TaskDrafted",
            TaskEvent::TaskScreeningRejected { .. } => "TaskScreeningRejected",
            TaskEvent::TaskRevised { .. } => "TaskRevised",
            TaskEvent::TaskApproved { .. } => "TaskApproved",
            TaskEvent::TaskDuplicateDispatchFlagged { .. } => "TaskDuplicateDispatchFlagged",
            TaskEvent::TaskReturned { .. } => "TaskReturned",
            TaskEvent::TaskCollectiveDecisionRecorded { .. } => "TaskCollectiveDecisionRecorded",
            TaskEvent::TaskDispatched(_) => "TaskDispatched",
            TaskEvent::TaskWithdrawn(_) => "TaskWithdrawn",
        }
    }

    /// The town and every village the task addresses.
    fn regions(&self) -> Vec<RegionId> {
        if let TaskEvent::TaskDuplicateDispatchFlagged {
            town, duplicates, ..
        } = self
        {
            let villages: BTreeSet<RegionId> =
                duplicates.iter().map(|d| d.village.clone()).collect();
            let mut regions = vec![town.clone()];
            regions.extend(villages);
            return regions;
        }
        if let TaskEvent::TaskWithdrawn(w) = self {
            let mut regions = vec![w.town.clone()];
            regions.extend(w.villages.iter().chain(&w.kept).cloned());
            return regions;
        }
        let (town, villages) = match self {
            TaskEvent::TaskDrafted { town, draft, .. }
            | TaskEvent::TaskScreeningRejected { town, draft, .. }
            | TaskEvent::TaskRevised { town, draft, .. } => (town, &draft.villages),
            TaskEvent::TaskApproved { town, villages, .. }
            | TaskEvent::TaskReturned { town, villages, .. }
            | TaskEvent::TaskCollectiveDecisionRecorded { town, villages, .. } => (town, villages),
            TaskEvent::TaskDispatched(d) => (&d.town, &d.villages),
            TaskEvent::TaskWithdrawn(w) => (&w.town, &w.villages),
            TaskEvent::TaskDuplicateDispatchFlagged { town, .. } => (town, &Vec::new()),
        };
        let mut regions = vec![town.clone()];
        regions.extend(villages.iter().cloned());
        regions
    }
}

/// Why a task command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("任务标题无效:{0}")]
    InvalidTitle(InvalidText),
    #[error("任务内容无效:{0}")]
    InvalidContent(InvalidText),
    #[error("{0}")]
    InvalidCategory(InvalidCategory),
    #[error("{0}")]
    InvalidMatterCode(InvalidMatterCode),
    #[error("{0}")]
    InvalidScore(InvalidScore),
    #[error("原因无效:{0}")]
    InvalidReason(InvalidText),
    #[error("截止时间 {deadline} 已经过去")]
    DeadlineInPast { deadline: DateTime<Utc> },
    #[error("任务没有指定派发的村社")]
    NoTargets,
    #[error("村社 {village} 重复指定")]
    DuplicateTarget { village: RegionId },
    #[error("村社 {village} 不是本镇街已登记的村社")]
    UnknownVillage { village: RegionId },
    #[error("{region} 不是乡镇(街道)")]
    NotATown { region: RegionId },
    #[error("事项清单 {catalogue} 不适用于 {town}")]
    WrongCatalogue { catalogue: RegionId, town: RegionId },
    #[error("任务类别“{given}”与清单事项的类别“{expected}”不一致")]
    CategoryMismatch { given: Category, expected: Category },
    #[error("会议时间不能晚于现在")]
    MeetingInFuture,
    #[error("会议时间不能早于任务起草时间")]
    MeetingBeforeDraft,
    #[error("只有本镇街工作人员可以起草或修改任务")]
    NotTownOfficeStaff,
    #[error("只有分管“{category}”的镇街领导可以审核、派发或撤回此任务")]
    NotLeaderInCharge { category: Category },
    #[error("只有本镇街党委书记可以记录党委集体研究决定")]
    NotPartyCommitteeSecretary,
    #[error("任务不存在")]
    TaskNotFound,
    #[error("任务已经存在")]
    TaskAlreadyExists,
    #[error("任务未通过过筛:{reason}")]
    ScreeningRejected { reason: ScreeningReason },
    #[error("任务当前状态为“{}”,不能进行此操作", .status.title())]
    WrongStatus { status: TaskStatus },
    #[error("只有重大任务需要党委集体研究")]
    NotMajorTask,
    #[error("党委集体研究决定已经记录")]
    DecisionAlreadyRecorded,
    #[error("重大任务须经镇街党委集体研究同意后才能派发")]
    CollectiveDecisionRequired,
    #[error(
        "该任务与已派发到相同村社的同一事项任务重复(多头派单):请撤回合并、退回修改,或说明理由后审核通过"
    )]
    DuplicateDispatch { duplicates: Vec<DuplicateDispatch> },
    #[error("所有村社的任务都已验收,无可撤回:已验收的工作和工分保留")]
    AllWorkAccepted,
}

impl Rejection for TaskError {
    fn code(&self) -> &'static str {
        use TaskError::*;
        match self {
            InvalidTitle(_)
            | InvalidContent(_)
            | InvalidCategory(_)
            | InvalidMatterCode(_)
            | InvalidScore(_)
            | InvalidReason(_)
            | DeadlineInPast { .. }
            | NoTargets
            | DuplicateTarget { .. }
            | NotATown { .. }
            | WrongCatalogue { .. }
            | CategoryMismatch { .. }
            | MeetingInFuture
            | MeetingBeforeDraft => "INVALID_INPUT",
            UnknownVillage { .. } | TaskNotFound => "NOT_FOUND",
            NotTownOfficeStaff | NotLeaderInCharge { .. } | NotPartyCommitteeSecretary => {
                "FORBIDDEN"
            }
            TaskAlreadyExists
            | WrongStatus { .. }
            | DecisionAlreadyRecorded
            | DuplicateDispatch { .. }
            | AllWorkAccepted => "CONFLICT",
            ScreeningRejected { .. } => "SCREENING_REJECTED",
            NotMajorTask | CollectiveDecisionRequired => "RULE_VIOLATION",
        }
    }
}

/// What a task stream knows once it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub town: RegionId,
    pub draft: TaskDraft,
    pub status: TaskStatus,
    pub drafted_at: DateTime<Utc>,
    pub screening: Option<ScreeningReason>,
    pub committee: Option<CommitteeOutcome>,
    pub dispatch: Option<TaskDispatch>,
    /// Duplicates flagged (多头派单) since the draft was last screened.
    pub duplicates: Vec<DuplicateDispatch>,
}

/// A task, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    record: Option<TaskRecord>,
}

impl Task {
    pub fn record(&self) -> Option<&TaskRecord> {
        self.record.as_ref()
    }

    pub fn status(&self) -> Option<TaskStatus> {
        self.record.as_ref().map(|r| r.status)
    }

    /// A live task: exists and was not rejected by screening.
    fn live(&self) -> Result<&TaskRecord, TaskError> {
        let record = self.record.as_ref().ok_or(TaskError::TaskNotFound)?;
        if let Some(reason) = &record.screening {
            return Err(TaskError::ScreeningRejected {
                reason: reason.clone(),
            });
        }
        Ok(record)
    }

    fn expect_status(record: &TaskRecord, expected: TaskStatus) -> Result<(), TaskError> {
        if record.status != expected {
            return Err(TaskError::WrongStatus {
                status: record.status,
            });
        }
        Ok(())
    }
}

fn is_town_staff(actor: &Actor, town: &RegionId) -> bool {
    matches!(actor.role, Role::TownOfficeStaff) && actor.covers(town)
}

fn leads(actor: &Actor, town: &RegionId, category: &Category) -> bool {
    actor.covers(town) && actor.leads(category.as_str())
}

fn is_party_secretary(actor: &Actor, town: &RegionId) -> bool {
    matches!(actor.role, Role::PartyCommitteeSecretary) && actor.covers(town)
}

/// Validate a draft's fields into a [`TaskDraft`] (not yet screened).
fn parse_draft(
    input: DraftInput,
    town: &RegionId,
    town_villages: &[RegionId],
    now: DateTime<Utc>,
) -> Result<TaskDraft, TaskError> {
    let title = Text::parse(&input.title).map_err(TaskError::InvalidTitle)?;
    let content = Text::parse(&input.content).map_err(TaskError::InvalidContent)?;
    let category = Category::parse(&input.category).map_err(TaskError::InvalidCategory)?;
    let matter_code = match input.matter_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(MatterCode::parse(raw).map_err(TaskError::InvalidMatterCode)?),
    };
    let score = Score::new(input.score).map_err(TaskError::InvalidScore)?;
    if input.deadline <= now {
        return Err(TaskError::DeadlineInPast {
            deadline: input.deadline,
        });
    }
    if let Some(stranger) = town_villages
        .iter()
        .find(|v| v.level() != RegionLevel::Village || v.town().as_ref() != Some(town))
    {
        return Err(TaskError::UnknownVillage {
            village: stranger.clone(),
        });
    }
    let (villages, whole_town) = match input.targets {
        Targets::WholeTown => {
            let all: BTreeSet<RegionId> = town_villages.iter().cloned().collect();
            (all.into_iter().collect::<Vec<_>>(), true)
        }
        Targets::Villages(chosen) => {
            let mut seen = BTreeSet::new();
            for village in &chosen {
                if !town_villages.contains(village) {
                    return Err(TaskError::UnknownVillage {
                        village: village.clone(),
                    });
                }
                if !seen.insert(village.clone()) {
                    return Err(TaskError::DuplicateTarget {
                        village: village.clone(),
                    });
                }
            }
            (chosen, false)
        }
    };
    if villages.is_empty() {
        return Err(TaskError::NoTargets);
    }
    Ok(TaskDraft {
        title,
        content,
        source: input.source,
        category,
        matter_code,
        score,
        villages,
        whole_town,
        deadline: input.deadline,
    })
}

/// The outcome of screening a valid draft.
enum Screened {
    Passed {
        draft: TaskDraft,
        matter: MatterItem,
        catalogue_version: u64,
    },
    Rejected {
        draft: TaskDraft,
        reason: ScreeningReason,
        catalogue_version: u64,
    },
}

fn screen_draft(
    input: DraftInput,
    town: &RegionId,
    town_villages: &[RegionId],
    catalogue: &CatalogueSnapshot,
    now: DateTime<Utc>,
) -> Result<Screened, TaskError> {
    if !catalogue.region.contains(town) {
        return Err(TaskError::WrongCatalogue {
            catalogue: catalogue.region.clone(),
            town: town.clone(),
        });
    }
    let draft = parse_draft(input, town, town_villages, now)?;
    let catalogue_version = catalogue.version;
    match catalogue.screen(draft.matter_code.as_ref(), ResponsibleLevel::Village, now) {
        Err(reason) => Ok(Screened::Rejected {
            draft,
            reason,
            catalogue_version,
        }),
        Ok(item) => {
            if item.category != draft.category {
                return Err(TaskError::CategoryMismatch {
                    given: draft.category,
                    expected: item.category.clone(),
                });
            }
            Ok(Screened::Passed {
                draft,
                matter: item.clone(),
                catalogue_version,
            })
        }
    }
}

impl Task {
    #[allow(clippy::too_many_arguments)]
    fn draft(
        &self,
        task: TaskId,
        town: RegionId,
        input: DraftInput,
        town_villages: Vec<RegionId>,
        catalogue: CatalogueSnapshot,
        dispatched: Vec<DispatchedTask>,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        if self.record.is_some() {
            return Err(TaskError::TaskAlreadyExists);
        }
        if town.level() != RegionLevel::Town {
            return Err(TaskError::NotATown { region: town });
        }
        if !is_town_staff(ctx.actor, &town) {
            return Err(TaskError::NotTownOfficeStaff);
        }
        let drafted_by = ctx.actor.id.clone();
        let mut flag = None;
        let mut events = vec![
            match screen_draft(input, &town, &town_villages, &catalogue, ctx.now)? {
                Screened::Passed {
                    draft,
                    matter,
                    catalogue_version,
                } => {
                    flag = duplicate_flag(task, &town, &draft, &dispatched, &[], ctx.now);
                    TaskEvent::TaskDrafted {
                        task,
                        town,
                        draft,
                        catalogue_version,
                        matter,
                        drafted_by,
                        drafted_at: ctx.now,
                    }
                }
                Screened::Rejected {
                    draft,
                    reason,
                    catalogue_version,
                } => TaskEvent::TaskScreeningRejected {
                    task,
                    town,
                    draft,
                    reason,
                    catalogue_version,
                    drafted_by,
                    rejected_at: ctx.now,
                },
            },
        ];
        events.extend(flag);
        Ok(events)
    }

    fn revise(
        &self,
        input: DraftInput,
        town_villages: Vec<RegionId>,
        catalogue: CatalogueSnapshot,
        dispatched: Vec<DispatchedTask>,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let record = self.live()?;
        if !is_town_staff(ctx.actor, &record.town) {
            return Err(TaskError::NotTownOfficeStaff);
        }
        Task::expect_status(record, TaskStatus::Returned)?;
        let (task, town, by) = (record.id, record.town.clone(), ctx.actor.id.clone());
        let mut flag = None;
        let mut events = vec![
            match screen_draft(input, &town, &town_villages, &catalogue, ctx.now)? {
                Screened::Passed {
                    draft,
                    matter,
                    catalogue_version,
                } => {
                    flag = duplicate_flag(task, &town, &draft, &dispatched, &[], ctx.now);
                    TaskEvent::TaskRevised {
                        task,
                        town,
                        draft,
                        catalogue_version,
                        matter,
                        revised_by: by,
                        revised_at: ctx.now,
                    }
                }
                Screened::Rejected {
                    draft,
                    reason,
                    catalogue_version,
                } => TaskEvent::TaskScreeningRejected {
                    task,
                    town,
                    draft,
                    reason,
                    catalogue_version,
                    drafted_by: by,
                    rejected_at: ctx.now,
                },
            },
        ];
        events.extend(flag);
        Ok(events)
    }

    fn approve(
        &self,
        dispatched: Vec<DispatchedTask>,
        duplicate_reason: Option<String>,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let record = self.live()?;
        let category = record.draft.category.clone();
        if !leads(ctx.actor, &record.town, &category) {
            return Err(TaskError::NotLeaderInCharge { category });
        }
        Task::expect_status(record, TaskStatus::AwaitingReview)?;
        let duplicates = duplicates_of(record.id, &record.draft, &dispatched, ctx.now);
        let flag = duplicate_flag(
            record.id,
            &record.town,
            &record.draft,
            &dispatched,
            &record.duplicates,
            ctx.now,
        );
        let duplicate_reason = match duplicate_reason {
            Some(reason) if !duplicates.is_empty() => {
                Some(Text::parse(&reason).map_err(TaskError::InvalidReason)?)
            }
            _ => None,
        };
        if !duplicates.is_empty() && duplicate_reason.is_none() {
            // Not an approval: the flag is recorded (once per set of duplicates) and the
            // leader decides (merge, return, or approve with a reason).
            return match flag {
                Some(flag) => Ok(vec![flag]),
                None => Err(TaskError::DuplicateDispatch { duplicates }),
            };
        }
        let mut events: Vec<TaskEvent> = flag.into_iter().collect();
        events.push(TaskEvent::TaskApproved {
            task: record.id,
            town: record.town.clone(),
            villages: record.draft.villages.clone(),
            category,
            approved_by: ctx.actor.id.clone(),
            approved_at: ctx.now,
            duplicates,
            duplicate_reason,
        });
        Ok(events)
    }

    fn return_task(
        &self,
        reason: String,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let record = self.live()?;
        let category = record.draft.category.clone();
        if !leads(ctx.actor, &record.town, &category) {
            return Err(TaskError::NotLeaderInCharge { category });
        }
        Task::expect_status(record, TaskStatus::AwaitingReview)?;
        let (task, town, villages, by) = (
            record.id,
            record.town.clone(),
            record.draft.villages.clone(),
            ctx.actor.id.clone(),
        );
        Ok(vec![TaskEvent::TaskReturned {
            task,
            town,
            villages,
            category,
            reason: Text::parse(&reason).map_err(TaskError::InvalidReason)?,
            returned_by: by,
            returned_at: ctx.now,
        }])
    }

    fn record_decision(
        &self,
        outcome: CommitteeOutcome,
        meeting_at: DateTime<Utc>,
        minutes: EvidenceRef,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let record = self.live()?;
        if !is_party_secretary(ctx.actor, &record.town) {
            return Err(TaskError::NotPartyCommitteeSecretary);
        }
        if record.draft.source != TaskSource::Major {
            return Err(TaskError::NotMajorTask);
        }
        if record.committee.is_some() {
            return Err(TaskError::DecisionAlreadyRecorded);
        }
        Task::expect_status(record, TaskStatus::Approved)?;
        if meeting_at > ctx.now {
            return Err(TaskError::MeetingInFuture);
        }
        if meeting_at < record.drafted_at {
            return Err(TaskError::MeetingBeforeDraft);
        }
        Ok(vec![TaskEvent::TaskCollectiveDecisionRecorded {
            task: record.id,
            town: record.town.clone(),
            villages: record.draft.villages.clone(),
            outcome,
            meeting_at,
            minutes,
            recorded_by: ctx.actor.id.clone(),
            recorded_at: ctx.now,
        }])
    }

    fn dispatch(
        &self,
        timeliness: TimelinessPolicy,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let record = self.live()?;
        let category = record.draft.category.clone();
        if !leads(ctx.actor, &record.town, &category) {
            return Err(TaskError::NotLeaderInCharge { category });
        }
        Task::expect_status(record, TaskStatus::Approved)?;
        if record.draft.source == TaskSource::Major
            && record.committee != Some(CommitteeOutcome::Agreed)
        {
            return Err(TaskError::CollectiveDecisionRequired);
        }
        let deadline = record.draft.deadline;
        if deadline <= ctx.now {
            return Err(TaskError::DeadlineInPast { deadline });
        }
        // Screening passed, so the code is present; a record without one is never approved.
        let matter_code = record
            .draft
            .matter_code
            .clone()
            .ok_or(TaskError::ScreeningRejected {
                reason: ScreeningReason::MissingCode,
            })?;
        Ok(vec![TaskEvent::TaskDispatched(TaskDispatch {
            task: record.id,
            town: record.town.clone(),
            title: record.draft.title.clone(),
            category,
            matter_code,
            score: record.draft.score,
            villages: record.draft.villages.clone(),
            deadline,
            period: TaskPeriod {
                from: ctx.now,
                to: deadline,
            },
            timeliness,
            dispatched_by: ctx.actor.id.clone(),
            dispatched_at: ctx.now,
        })])
    }

    fn withdraw(
        &self,
        reason: String,
        accepted_villages: Vec<RegionId>,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        let record = self.live()?;
        let category = record.draft.category.clone();
        if !leads(ctx.actor, &record.town, &category)
            && !is_party_secretary(ctx.actor, &record.town)
        {
            return Err(TaskError::NotLeaderInCharge { category });
        }
        if matches!(
            record.status,
            TaskStatus::CommitteeRejected | TaskStatus::Withdrawn
        ) {
            return Err(TaskError::WrongStatus {
                status: record.status,
            });
        }
        let reason = Text::parse(&reason).map_err(TaskError::InvalidReason)?;
        if let Some(stranger) = accepted_villages
            .iter()
            .find(|v| !record.draft.villages.contains(v))
        {
            return Err(TaskError::UnknownVillage {
                village: stranger.clone(),
            });
        }
        let was_dispatched = record.status == TaskStatus::Dispatched;
        // Work is accepted only after dispatch; before it, every village is released.
        let (kept, villages): (Vec<RegionId>, Vec<RegionId>) = record
            .draft
            .villages
            .iter()
            .cloned()
            .partition(|v| was_dispatched && accepted_villages.contains(v));
        if villages.is_empty() {
            return Err(TaskError::AllWorkAccepted);
        }
        Ok(vec![TaskEvent::TaskWithdrawn(TaskWithdrawal {
            task: record.id,
            town: record.town.clone(),
            villages,
            kept,
            was_dispatched,
            reason,
            withdrawn_by: ctx.actor.id.clone(),
            withdrawn_at: ctx.now,
        })])
    }
}

impl Aggregate for Task {
    const CATEGORY: &'static str = "task";
    type Command = TaskCommand;
    type Event = TaskEvent;
    type Error = TaskError;

    fn decide(
        &self,
        command: TaskCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        match command {
            TaskCommand::DraftTask {
                task,
                town,
                draft,
                town_villages,
                catalogue,
                dispatched,
            } => self.draft(task, town, draft, town_villages, catalogue, dispatched, ctx),
            TaskCommand::ReviseTask {
                draft,
                town_villages,
                catalogue,
                dispatched,
            } => self.revise(draft, town_villages, catalogue, dispatched, ctx),
            TaskCommand::ApproveTask {
                dispatched,
                duplicate_reason,
            } => self.approve(dispatched, duplicate_reason, ctx),
            TaskCommand::ReturnTask { reason } => self.return_task(reason, ctx),
            TaskCommand::RecordCollectiveDecision {
                outcome,
                meeting_at,
                minutes,
            } => self.record_decision(outcome, meeting_at, minutes, ctx),
            TaskCommand::DispatchTask { timeliness } => self.dispatch(timeliness, ctx),
            TaskCommand::WithdrawTask {
                reason,
                accepted_villages,
            } => self.withdraw(reason, accepted_villages, ctx),
        }
    }

    fn evolve(&mut self, event: &TaskEvent) {
        match event {
            TaskEvent::TaskDrafted {
                task,
                town,
                draft,
                drafted_at,
                ..
            } => {
                self.record = Some(TaskRecord {
                    id: *task,
                    town: town.clone(),
                    draft: draft.clone(),
                    status: TaskStatus::AwaitingReview,
                    drafted_at: *drafted_at,
                    screening: None,
                    committee: None,
                    dispatch: None,
                    duplicates: Vec::new(),
                });
            }
            TaskEvent::TaskScreeningRejected {
                task,
                town,
                draft,
                reason,
                rejected_at,
                ..
            } => {
                let drafted_at = self.record.as_ref().map_or(*rejected_at, |r| r.drafted_at);
                self.record = Some(TaskRecord {
                    id: *task,
                    town: town.clone(),
                    draft: draft.clone(),
                    status: TaskStatus::ScreeningRejected,
                    drafted_at,
                    screening: Some(reason.clone()),
                    committee: None,
                    dispatch: None,
                    duplicates: Vec::new(),
                });
            }
            TaskEvent::TaskRevised { draft, .. } => {
                if let Some(record) = &mut self.record {
                    record.draft = draft.clone();
                    record.status = TaskStatus::AwaitingReview;
                    record.duplicates.clear();
                }
            }
            TaskEvent::TaskDuplicateDispatchFlagged { duplicates, .. } => {
                if let Some(record) = &mut self.record {
                    record.duplicates = duplicates.clone();
                }
            }
            TaskEvent::TaskApproved { .. } => self.set_status(TaskStatus::Approved),
            TaskEvent::TaskReturned { .. } => self.set_status(TaskStatus::Returned),
            TaskEvent::TaskCollectiveDecisionRecorded { outcome, .. } => {
                if let Some(record) = &mut self.record {
                    record.committee = Some(*outcome);
                    if *outcome == CommitteeOutcome::Rejected {
                        record.status = TaskStatus::CommitteeRejected;
                    }
                }
            }
            TaskEvent::TaskDispatched(dispatch) => {
                if let Some(record) = &mut self.record {
                    record.status = TaskStatus::Dispatched;
                    record.dispatch = Some(dispatch.clone());
                }
            }
            TaskEvent::TaskWithdrawn(_) => self.set_status(TaskStatus::Withdrawn),
        }
    }
}

impl Task {
    fn set_status(&mut self, status: TaskStatus) {
        if let Some(record) = &mut self.record {
            record.status = status;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::catalogue::tests::snapshot;
    use crate::testing::*;

    pub(crate) fn now() -> DateTime<Utc> {
        at("2025-03-01T09:00:00+08:00")
    }

    pub(crate) fn task_id() -> TaskId {
        TaskId::new(Uuid::from_u128(0x5eed))
    }

    pub(crate) fn deadline() -> DateTime<Utc> {
        now() + Duration::days(10)
    }

    pub(crate) fn town_villages() -> Vec<RegionId> {
        vec![fengyuan(), village_b()]
    }

    pub(crate) fn input(code: Option<&str>) -> DraftInput {
        DraftInput {
            title: "开展平安建设入户走访".into(),
            content: "三月底前完成全村入户走访并登记".into(),
            source: TaskSource::Town,
            category: "综治".into(),
            matter_code: code.map(str::to_owned),
            score: 15,
            targets: Targets::Villages(vec![fengyuan()]),
            deadline: deadline(),
        }
    }

    pub(crate) fn approve() -> TaskCommand {
        TaskCommand::ApproveTask {
            dispatched: vec![],
            duplicate_reason: None,
        }
    }

    fn draft_cmd(draft: DraftInput) -> TaskCommand {
        TaskCommand::DraftTask {
            task: task_id(),
            town: fengqiao(),
            draft,
            town_villages: town_villages(),
            catalogue: snapshot(),
            dispatched: vec![],
        }
    }

    fn minutes() -> EvidenceRef {
        EvidenceRef::new(&"ab".repeat(32), "党委会议纪要.pdf").expect("evidence")
    }

    fn when_task(
        given: &[TaskEvent],
        actor: &Actor,
        cmd: TaskCommand,
    ) -> Result<Vec<TaskEvent>, TaskError> {
        when::<Task>(given, actor, now(), cmd)
    }

    fn step(given: &[TaskEvent], actor: &Actor, cmd: TaskCommand) -> Vec<TaskEvent> {
        then_history::<Task>(given, actor, now(), cmd)
    }

    fn drafted_with(draft: DraftInput) -> Vec<TaskEvent> {
        step(&[], &town_staff(), draft_cmd(draft))
    }

    pub(crate) fn drafted() -> Vec<TaskEvent> {
        drafted_with(input(Some("ZZ-001")))
    }

    pub(crate) fn approved() -> Vec<TaskEvent> {
        step(&drafted(), &zongzhi_leader(), approve())
    }

    pub(crate) fn dispatched() -> Vec<TaskEvent> {
        step(
            &approved(),
            &zongzhi_leader(),
            TaskCommand::DispatchTask {
                timeliness: TimelinessPolicy::default(),
            },
        )
    }

    fn major_approved() -> Vec<TaskEvent> {
        let drafted = drafted_with(DraftInput {
            source: TaskSource::Major,
            ..input(Some("ZZ-001"))
        });
        step(&drafted, &zongzhi_leader(), approve())
    }

    fn decide_major(outcome: CommitteeOutcome) -> TaskCommand {
        TaskCommand::RecordCollectiveDecision {
            outcome,
            meeting_at: now(),
            minutes: minutes(),
        }
    }

    fn rejection_reason(events: &[TaskEvent]) -> Option<&ScreeningReason> {
        match events {
            [TaskEvent::TaskScreeningRejected { reason, .. }] => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn a_listed_village_matter_passes_screening_and_awaits_review() {
        let events = drafted();
        match &events[..] {
            [
                TaskEvent::TaskDrafted {
                    catalogue_version,
                    matter,
                    draft,
                    ..
                },
            ] => {
                assert_eq!(*catalogue_version, snapshot().version);
                assert_eq!(matter.code.as_str(), "ZZ-001");
                assert_eq!(draft.villages, vec![fengyuan()]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            Task::replay(&events).status(),
            Some(TaskStatus::AwaitingReview)
        );
        assert_eq!(events[0].regions(), vec![fengqiao(), fengyuan()]);
    }

    #[test]
    fn screening_rejections_are_appended_alone_and_record_the_catalogue_version() {
        let cases: [(Option<&str>, Expect<ScreeningReason>); 7] = [
            (None, |r| matches!(r, ScreeningReason::MissingCode)),
            (Some("  "), |r| matches!(r, ScreeningReason::MissingCode)),
            (Some("XX-404"), |r| {
                matches!(r, ScreeningReason::UnknownCode { .. })
            }),
            (Some("ZZ-006"), |r| {
                matches!(r, ScreeningReason::Retired { .. })
            }),
            (Some("ZZ-005"), |r| {
                matches!(r, ScreeningReason::NotYetEffective { .. })
            }),
            (Some("ZZ-004"), |r| {
                matches!(r, ScreeningReason::Barred { .. })
            }),
            (Some("ZZ-003"), |r| {
                matches!(r, ScreeningReason::WrongLevel { .. })
            }),
        ];
        for (code, expected) in cases {
            let events = when_task(&[], &town_staff(), draft_cmd(input(code))).expect("decided");
            let reason =
                rejection_reason(&events).unwrap_or_else(|| panic!("{code:?}: {events:?}"));
            assert!(expected(reason), "{code:?} -> {reason:?}");
            match &events[0] {
                TaskEvent::TaskScreeningRejected {
                    catalogue_version, ..
                } => {
                    assert_eq!(*catalogue_version, snapshot().version)
                }
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(
                Task::replay(&events).status(),
                Some(TaskStatus::ScreeningRejected)
            );
        }
    }

    #[test]
    fn a_rejected_task_goes_no_further() {
        let given =
            when_task(&[], &town_staff(), draft_cmd(input(Some("ZZ-004")))).expect("decided");
        let err = when_task(&given, &zongzhi_leader(), approve()).expect_err("refused");
        assert!(matches!(
            err,
            TaskError::ScreeningRejected {
                reason: ScreeningReason::Barred { .. }
            }
        ));
        assert_eq!(err.code(), "SCREENING_REJECTED");
        assert_eq!(
            when_task(&given, &town_staff(), draft_cmd(input(Some("ZZ-001")))),
            Err(TaskError::TaskAlreadyExists)
        );
    }

    #[test]
    fn a_whole_town_task_addresses_every_village() {
        let events = drafted_with(DraftInput {
            targets: Targets::WholeTown,
            ..input(Some("ZZ-002"))
        });
        let record = Task::replay(&events).record().cloned().expect("drafted");
        assert_eq!(record.draft.villages, town_villages());
        assert!(record.draft.whole_town);
    }

    #[test]
    fn drafting_refusals_append_nothing() {
        let cases: Vec<(DraftInput, Expect<TaskError>)> = vec![
            (
                DraftInput {
                    title: " ".into(),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::InvalidTitle(InvalidText::Empty)),
            ),
            (
                DraftInput {
                    content: "".into(),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::InvalidContent(_)),
            ),
            (
                DraftInput {
                    category: "".into(),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::InvalidCategory(_)),
            ),
            (input(Some("过筛")), |e| {
                matches!(e, TaskError::InvalidMatterCode(_))
            }),
            (
                DraftInput {
                    score: 0,
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::InvalidScore(_)),
            ),
            (
                DraftInput {
                    score: -5,
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::InvalidScore(_)),
            ),
            (
                DraftInput {
                    score: 101,
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::InvalidScore(_)),
            ),
            (
                DraftInput {
                    deadline: now(),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::DeadlineInPast { .. }),
            ),
            (
                DraftInput {
                    targets: Targets::Villages(vec![]),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::NoTargets),
            ),
            (
                DraftInput {
                    targets: Targets::Villages(vec![fengyuan(), fengyuan()]),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::DuplicateTarget { .. }),
            ),
            (
                DraftInput {
                    targets: Targets::Villages(vec![jinxi()]),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::UnknownVillage { .. }),
            ),
            (
                DraftInput {
                    targets: Targets::Villages(vec![region("330681109299")]),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::UnknownVillage { .. }),
            ),
            (
                DraftInput {
                    category: "城建".into(),
                    ..input(Some("ZZ-001"))
                },
                |e| matches!(e, TaskError::CategoryMismatch { .. }),
            ),
        ];
        for (draft, expected) in cases {
            let err = when_task(&[], &town_staff(), draft_cmd(draft.clone())).expect_err("refused");
            assert!(expected(&err), "{draft:?} -> {err:?}");
            assert!(
                err.code() == "INVALID_INPUT" || err.code() == "NOT_FOUND",
                "{err:?}"
            );
        }
    }

    #[test]
    fn drafting_context_refusals() {
        let cmd = |town: RegionId, town_villages: Vec<RegionId>, catalogue: CatalogueSnapshot| {
            TaskCommand::DraftTask {
                task: task_id(),
                town,
                draft: input(Some("ZZ-001")),
                town_villages,
                catalogue,
                dispatched: vec![],
            }
        };
        assert_eq!(
            when_task(&[], &zongzhi_leader(), draft_cmd(input(Some("ZZ-001")))),
            Err(TaskError::NotTownOfficeStaff)
        );
        let other_town_staff = actor("staff-x", Role::TownOfficeStaff, &region("330602108000"));
        assert_eq!(
            when_task(&[], &other_town_staff, draft_cmd(input(Some("ZZ-001")))),
            Err(TaskError::NotTownOfficeStaff)
        );
        assert!(matches!(
            when_task(
                &[],
                &town_staff(),
                cmd(fengyuan(), town_villages(), snapshot())
            ),
            Err(TaskError::NotATown { .. })
        ));
        assert!(matches!(
            when_task(
                &[],
                &town_staff(),
                cmd(fengqiao(), vec![fengyuan(), jinxi()], snapshot())
            ),
            Err(TaskError::UnknownVillage { .. })
        ));
        assert!(matches!(
            when_task(
                &[],
                &town_staff(),
                cmd(
                    fengqiao(),
                    town_villages(),
                    CatalogueSnapshot::empty(region("330602000000"))
                )
            ),
            Err(TaskError::WrongCatalogue { .. })
        ));
        assert_eq!(
            when_task(&[], &town_staff(), cmd(fengqiao(), vec![], snapshot())),
            Err(TaskError::UnknownVillage {
                village: fengyuan()
            })
        );
    }

    #[test]
    fn only_the_leader_in_charge_of_the_category_reviews() {
        for actor in [chengjian_leader(), town_staff(), party_secretary()] {
            assert!(matches!(
                when_task(&drafted(), &actor, approve()),
                Err(TaskError::NotLeaderInCharge { .. })
            ));
        }
        let other_town_leader = self::actor(
            "leader-x",
            Role::TownLeader {
                duty_areas: vec!["综治".into()],
            },
            &region("330602108000"),
        );
        assert!(matches!(
            when_task(&drafted(), &other_town_leader, approve()),
            Err(TaskError::NotLeaderInCharge { .. })
        ));
        assert_eq!(
            Task::replay(&approved()).status(),
            Some(TaskStatus::Approved)
        );
    }

    #[test]
    fn a_returned_task_is_revised_screened_again_and_reviewed_again() {
        let returned = step(
            &drafted(),
            &zongzhi_leader(),
            TaskCommand::ReturnTask {
                reason: "内容不具体".into(),
            },
        );
        assert_eq!(Task::replay(&returned).status(), Some(TaskStatus::Returned));
        assert!(matches!(
            when_task(&returned, &zongzhi_leader(), approve()),
            Err(TaskError::WrongStatus {
                status: TaskStatus::Returned
            })
        ));
        let revise = |code: &str| TaskCommand::ReviseTask {
            draft: DraftInput {
                title: "入户走访(修改)".into(),
                ..input(Some(code))
            },
            town_villages: town_villages(),
            catalogue: snapshot(),
            dispatched: vec![],
        };
        let revised = step(&returned, &town_staff(), revise("ZZ-001"));
        assert!(matches!(
            revised.last(),
            Some(TaskEvent::TaskRevised { .. })
        ));
        assert_eq!(
            Task::replay(&revised).status(),
            Some(TaskStatus::AwaitingReview)
        );
        assert!(step(&revised, &zongzhi_leader(), approve()).len() == revised.len() + 1);
        // Revised onto a barred matter: rejected by screening, the task ends there.
        let rejected = step(&returned, &town_staff(), revise("ZZ-004"));
        assert_eq!(
            Task::replay(&rejected).status(),
            Some(TaskStatus::ScreeningRejected)
        );
        // Only a returned task is revised, only by town staff.
        assert!(matches!(
            when_task(&drafted(), &town_staff(), revise("ZZ-001")),
            Err(TaskError::WrongStatus {
                status: TaskStatus::AwaitingReview
            })
        ));
        assert_eq!(
            when_task(&returned, &zongzhi_leader(), revise("ZZ-001")),
            Err(TaskError::NotTownOfficeStaff)
        );
    }

    #[test]
    fn returning_needs_a_reason() {
        assert!(matches!(
            when_task(
                &drafted(),
                &zongzhi_leader(),
                TaskCommand::ReturnTask { reason: "".into() }
            ),
            Err(TaskError::InvalidReason(_))
        ));
    }

    #[test]
    fn commands_on_a_missing_task_are_not_found() {
        for cmd in [
            approve(),
            TaskCommand::WithdrawTask {
                reason: "x".into(),
                accepted_villages: vec![],
            },
        ] {
            assert_eq!(
                when_task(&[], &zongzhi_leader(), cmd),
                Err(TaskError::TaskNotFound)
            );
        }
    }

    #[test]
    fn dispatch_sends_the_task_to_its_villages_with_the_policy_in_force() {
        let events = dispatched();
        let Some(TaskEvent::TaskDispatched(dispatch)) = events.last() else {
            panic!("not dispatched")
        };
        assert_eq!(
            dispatch.period,
            TaskPeriod {
                from: now(),
                to: deadline()
            }
        );
        assert_eq!(dispatch.timeliness, TimelinessPolicy::default());
        let assignments = dispatch.assignment_commands();
        assert_eq!(assignments.len(), 1);
        assert_eq!(
            assignments[0].0.to_string(),
            format!("{}-{}", task_id(), fengyuan())
        );
        assert_eq!(dispatch.ledger_commands()[0].0, fengyuan());
        assert_eq!(Task::replay(&events).status(), Some(TaskStatus::Dispatched));
    }

    #[test]
    fn dispatch_refusals() {
        let dispatch = || TaskCommand::DispatchTask {
            timeliness: TimelinessPolicy::default(),
        };
        assert!(matches!(
            when_task(&drafted(), &zongzhi_leader(), dispatch()),
            Err(TaskError::WrongStatus {
                status: TaskStatus::AwaitingReview
            })
        ));
        assert!(matches!(
            when_task(&approved(), &chengjian_leader(), dispatch()),
            Err(TaskError::NotLeaderInCharge { .. })
        ));
        assert!(matches!(
            when_task(&dispatched(), &zongzhi_leader(), dispatch()),
            Err(TaskError::WrongStatus {
                status: TaskStatus::Dispatched
            })
        ));
        let late = when::<Task>(
            &approved(),
            &zongzhi_leader(),
            deadline() + Duration::hours(1),
            dispatch(),
        );
        assert!(matches!(late, Err(TaskError::DeadlineInPast { .. })));
    }

    #[test]
    fn a_major_task_needs_the_party_committee_first() {
        let dispatch = || TaskCommand::DispatchTask {
            timeliness: TimelinessPolicy::default(),
        };
        assert_eq!(
            when_task(&major_approved(), &zongzhi_leader(), dispatch()),
            Err(TaskError::CollectiveDecisionRequired)
        );
        let agreed = step(
            &major_approved(),
            &party_secretary(),
            decide_major(CommitteeOutcome::Agreed),
        );
        assert!(matches!(
            when_task(&agreed, &zongzhi_leader(), dispatch()).as_deref(),
            Ok([TaskEvent::TaskDispatched(_)])
        ));
        let rejected = step(
            &major_approved(),
            &party_secretary(),
            decide_major(CommitteeOutcome::Rejected),
        );
        assert_eq!(
            Task::replay(&rejected).status(),
            Some(TaskStatus::CommitteeRejected)
        );
        assert!(matches!(
            when_task(&rejected, &zongzhi_leader(), dispatch()),
            Err(TaskError::WrongStatus {
                status: TaskStatus::CommitteeRejected
            })
        ));
    }

    #[test]
    fn collective_decision_refusals() {
        let cases: Vec<(Vec<TaskEvent>, Actor, TaskCommand, TaskError)> = vec![
            (
                major_approved(),
                zongzhi_leader(),
                decide_major(CommitteeOutcome::Agreed),
                TaskError::NotPartyCommitteeSecretary,
            ),
            (
                approved(),
                party_secretary(),
                decide_major(CommitteeOutcome::Agreed),
                TaskError::NotMajorTask,
            ),
            (
                step(
                    &major_approved(),
                    &party_secretary(),
                    decide_major(CommitteeOutcome::Agreed),
                ),
                party_secretary(),
                decide_major(CommitteeOutcome::Agreed),
                TaskError::DecisionAlreadyRecorded,
            ),
            (
                major_approved(),
                party_secretary(),
                TaskCommand::RecordCollectiveDecision {
                    outcome: CommitteeOutcome::Agreed,
                    meeting_at: now() + Duration::hours(1),
                    minutes: minutes(),
                },
                TaskError::MeetingInFuture,
            ),
            (
                major_approved(),
                party_secretary(),
                TaskCommand::RecordCollectiveDecision {
                    outcome: CommitteeOutcome::Agreed,
                    meeting_at: now() - Duration::days(30),
                    minutes: minutes(),
                },
                TaskError::MeetingBeforeDraft,
            ),
        ];
        for (given, actor, cmd, expected) in cases {
            assert_eq!(when_task(&given, &actor, cmd), Err(expected));
        }
        let awaiting_review = drafted_with(DraftInput {
            source: TaskSource::Major,
            ..input(Some("ZZ-001"))
        });
        assert!(matches!(
            when_task(
                &awaiting_review,
                &party_secretary(),
                decide_major(CommitteeOutcome::Agreed)
            ),
            Err(TaskError::WrongStatus {
                status: TaskStatus::AwaitingReview
            })
        ));
    }

    #[test]
    fn withdrawal_before_and_after_dispatch() {
        let withdraw = || TaskCommand::WithdrawTask {
            reason: "与县里任务合并".into(),
            accepted_villages: vec![],
        };
        let before = when_task(&approved(), &party_secretary(), withdraw()).expect("withdrawn");
        let Some(TaskEvent::TaskWithdrawn(w)) = before.last() else {
            panic!("not withdrawn")
        };
        assert!(
            !w.was_dispatched
                && w.assignment_commands().is_empty()
                && w.ledger_commands().is_empty()
        );
        let after = when_task(&dispatched(), &zongzhi_leader(), withdraw()).expect("withdrawn");
        let Some(TaskEvent::TaskWithdrawn(w)) = after.last() else {
            panic!("not withdrawn")
        };
        assert!(w.was_dispatched);
        assert_eq!(w.assignment_commands().len(), 1);
        assert_eq!(w.ledger_commands().len(), 1);
        let mut history = dispatched();
        history.extend(after);
        assert_eq!(Task::replay(&history).status(), Some(TaskStatus::Withdrawn));
        assert!(matches!(
            when_task(&history, &zongzhi_leader(), withdraw()),
            Err(TaskError::WrongStatus {
                status: TaskStatus::Withdrawn
            })
        ));
        assert!(matches!(
            when_task(&dispatched(), &town_staff(), withdraw()),
            Err(TaskError::NotLeaderInCharge { .. })
        ));
        assert!(matches!(
            when_task(
                &dispatched(),
                &zongzhi_leader(),
                TaskCommand::WithdrawTask {
                    reason: "".into(),
                    accepted_villages: vec![],
                }
            ),
            Err(TaskError::InvalidReason(_))
        ));
    }

    #[test]
    fn every_event_type_round_trips() {
        let returned = step(
            &drafted(),
            &zongzhi_leader(),
            TaskCommand::ReturnTask {
                reason: "补充".into(),
            },
        );
        let revised = step(
            &returned,
            &town_staff(),
            TaskCommand::ReviseTask {
                draft: input(Some("ZZ-001")),
                town_villages: town_villages(),
                catalogue: snapshot(),
                dispatched: vec![],
            },
        );
        let decided = step(
            &major_approved(),
            &party_secretary(),
            decide_major(CommitteeOutcome::Agreed),
        );
        let withdrawn = step(
            &dispatched(),
            &zongzhi_leader(),
            TaskCommand::WithdrawTask {
                reason: "合并".into(),
                accepted_villages: vec![],
            },
        );
        let rejected = when_task(&[], &town_staff(), draft_cmd(input(None))).expect("decided");
        let mut seen = BTreeSet::new();
        let flagged = when_task(
            &drafted(),
            &zongzhi_leader(),
            approve_with(vec![earlier(fengyuan(), "ZZ-001", -1, 5)], None),
        )
        .expect("flagged");
        for event in [revised, decided, withdrawn, rejected, flagged]
            .iter()
            .flatten()
        {
            assert_round_trip(event);
            seen.insert(event.event_type());
        }
        let all = [
            "TaskDrafted",
            "TaskScreeningRejected",
            "TaskRevised",
            "TaskApproved",
            "TaskReturned",
            "TaskCollectiveDecisionRecorded",
            "TaskDispatched",
            "TaskWithdrawn",
            "TaskDuplicateDispatchFlagged",
        ];
        assert_eq!(seen, all.into_iter().collect());
    }

    #[test]
    fn scores_from_one_to_a_hundred() {
        assert_eq!(Score::new(1).map(Score::get), Ok(1));
        assert_eq!(Score::new(100).map(Score::get), Ok(100));
        assert_eq!(Score::new(101), Err(InvalidScore(101)));
        assert_eq!(Score::new(0), Err(InvalidScore(0)));
    }

    #[test]
    fn points_are_exact_hundredths() {
        let score = Score::new(15).expect("score");
        assert_eq!(score.points_at(50), Points::from_hundredths(750));
        assert_eq!(score.points_at(50).to_string(), "7.50");
        assert!(serde_json::from_value::<Score>(serde_json::json!(0)).is_err());
    }

    #[test]
    fn periods_overlap_when_they_share_an_instant() {
        let p = |a: i64, b: i64| TaskPeriod {
            from: now() + Duration::days(a),
            to: now() + Duration::days(b),
        };
        assert!(p(0, 10).overlaps(&p(5, 15)));
        assert!(p(5, 15).overlaps(&p(0, 10)));
        assert!(!p(0, 10).overlaps(&p(10, 20)));
        assert!(!p(10, 20).overlaps(&p(0, 10)));
    }

    // --- 多头派单 before dispatch -----------------------------------------------------------------

    /// Task `n` already dispatched to `village` for `code`, from `from` to `to` days from now.
    fn earlier(village: RegionId, code: &str, from: i64, to: i64) -> DispatchedTask {
        DispatchedTask {
            village,
            task: TaskId::new(Uuid::from_u128(0xea41)),
            matter_code: MatterCode::parse(code).expect("code"),
            period: TaskPeriod {
                from: now() + Duration::days(from),
                to: now() + Duration::days(to),
            },
        }
    }

    fn approve_with(dispatched: Vec<DispatchedTask>, reason: Option<String>) -> TaskCommand {
        TaskCommand::ApproveTask {
            dispatched,
            duplicate_reason: reason,
        }
    }

    fn flagged_duplicates(events: &[TaskEvent]) -> Option<&Vec<DuplicateDispatch>> {
        events.iter().find_map(|e| match e {
            TaskEvent::TaskDuplicateDispatchFlagged { duplicates, .. } => Some(duplicates),
            _ => None,
        })
    }

    #[test]
    fn a_duplicate_is_flagged_at_screening_before_it_reaches_the_village() {
        let command = TaskCommand::DraftTask {
            task: task_id(),
            town: fengqiao(),
            draft: input(Some("ZZ-001")),
            town_villages: town_villages(),
            catalogue: snapshot(),
            dispatched: vec![earlier(fengyuan(), "ZZ-001", -3, 5)],
        };
        let events = when_task(&[], &town_staff(), command).expect("drafted");
        assert!(matches!(events[0], TaskEvent::TaskDrafted { .. }));
        let duplicates = flagged_duplicates(&events).expect("flagged");
        assert_eq!(
            duplicates,
            &vec![DuplicateDispatch {
                village: fengyuan(),
                duplicate_of: earlier(fengyuan(), "ZZ-001", -3, 5).task,
                period: earlier(fengyuan(), "ZZ-001", -3, 5).period,
            }]
        );
        assert_eq!(events[1].regions(), vec![fengqiao(), fengyuan()]);
        assert_round_trip(&events[1]);
        let state = Task::replay(&events);
        assert_eq!(state.status(), Some(TaskStatus::AwaitingReview));
        assert_eq!(
            state.record().map(|r| r.duplicates.len()),
            Some(1),
            "the reviewing leader sees the flag"
        );
    }

    #[test]
    fn other_matters_villages_and_ended_periods_are_not_duplicates() {
        for dispatched in [
            earlier(fengyuan(), "ZZ-002", -3, 5),
            earlier(village_b(), "ZZ-001", -3, 5),
            // Ended exactly now: [from, to) does not reach the new period.
            earlier(fengyuan(), "ZZ-001", -3, 0),
            // Starting exactly at the new deadline.
            earlier(fengyuan(), "ZZ-001", 10, 20),
        ] {
            let events = when_task(
                &drafted(),
                &zongzhi_leader(),
                approve_with(vec![dispatched.clone()], None),
            )
            .expect("approved");
            assert!(
                matches!(events.as_slice(), [TaskEvent::TaskApproved { duplicates, .. }] if duplicates.is_empty()),
                "{dispatched:?}: {events:?}"
            );
        }
        // One second more on either side overlaps.
        for mut dispatched in [
            earlier(fengyuan(), "ZZ-001", -3, 0),
            earlier(fengyuan(), "ZZ-001", 10, 20),
        ] {
            if dispatched.period.to == now() {
                dispatched.period.to += Duration::seconds(1);
            } else {
                dispatched.period.from -= Duration::seconds(1);
            }
            let events = when_task(
                &drafted(),
                &zongzhi_leader(),
                approve_with(vec![dispatched], None),
            )
            .expect("flagged");
            assert!(flagged_duplicates(&events).is_some(), "{events:?}");
        }
    }

    #[test]
    fn the_leader_merges_refuses_or_approves_a_duplicate_knowingly() {
        let dispatched = || vec![earlier(fengyuan(), "ZZ-001", -1, 5)];
        // Found at review: the review records the flag, not an approval.
        let flagged = step(
            &drafted(),
            &zongzhi_leader(),
            approve_with(dispatched(), None),
        );
        assert!(matches!(
            flagged.last(),
            Some(TaskEvent::TaskDuplicateDispatchFlagged { .. })
        ));
        assert_eq!(
            Task::replay(&flagged).status(),
            Some(TaskStatus::AwaitingReview)
        );
        // Asking again without a decision is refused; nothing more is recorded.
        let err = when_task(
            &flagged,
            &zongzhi_leader(),
            approve_with(dispatched(), None),
        )
        .expect_err("refused");
        assert!(matches!(err, TaskError::DuplicateDispatch { .. }));
        assert_eq!(err.code(), "CONFLICT");
        // Approve knowingly, with a reason: recorded with the duplicates.
        let approved = step(
            &flagged,
            &zongzhi_leader(),
            approve_with(dispatched(), Some("县里要求两条线分别报送".into())),
        );
        match approved.last() {
            Some(TaskEvent::TaskApproved {
                duplicates,
                duplicate_reason,
                ..
            }) => {
                assert_eq!(duplicates.len(), 1);
                assert_eq!(
                    duplicate_reason.as_ref().map(Text::as_str),
                    Some("县里要求两条线分别报送")
                );
            }
            other => panic!("not approved: {other:?}"),
        }
        assert!(matches!(
            when_task(
                &flagged,
                &zongzhi_leader(),
                approve_with(dispatched(), Some(" ".into()))
            ),
            Err(TaskError::InvalidReason(_))
        ));
        // Merge: withdrawn before dispatch, nothing reaches the village.
        let merged = when_task(
            &flagged,
            &zongzhi_leader(),
            TaskCommand::WithdrawTask {
                reason: "与已派发任务合并办理".into(),
                accepted_villages: vec![],
            },
        )
        .expect("withdrawn");
        let Some(TaskEvent::TaskWithdrawn(w)) = merged.last() else {
            panic!("not withdrawn")
        };
        assert!(!w.was_dispatched && w.assignment_commands().is_empty());
        // Refuse: returned to the office; a revision leaving the village out is clean.
        let returned = step(
            &flagged,
            &zongzhi_leader(),
            TaskCommand::ReturnTask {
                reason: "与已派发任务重复".into(),
            },
        );
        let revised = step(
            &returned,
            &town_staff(),
            TaskCommand::ReviseTask {
                draft: DraftInput {
                    targets: Targets::Villages(vec![village_b()]),
                    ..input(Some("ZZ-001"))
                },
                town_villages: town_villages(),
                catalogue: snapshot(),
                dispatched: dispatched(),
            },
        );
        assert!(matches!(
            revised.last(),
            Some(TaskEvent::TaskRevised { .. })
        ));
        assert!(matches!(
            when_task(
                &revised,
                &zongzhi_leader(),
                approve_with(dispatched(), None)
            )
            .as_deref(),
            Ok([TaskEvent::TaskApproved { .. }])
        ));
        // Once the earlier task is withdrawn (no longer in the ledger), approval goes through.
        assert!(matches!(
            when_task(&flagged, &zongzhi_leader(), approve()).as_deref(),
            Ok([TaskEvent::TaskApproved { .. }])
        ));
    }

    #[test]
    fn stored_events_without_the_new_fields_still_read() {
        let approved = serde_json::json!({
            "type": "TaskApproved",
            "payload": {
                "task": task_id(), "town": fengqiao(), "villages": [fengyuan()],
                "category": "综治", "approved_by": "leader-zongzhi",
                "approved_at": now(),
            }
        });
        let event: TaskEvent = serde_json::from_value(approved).expect("reads");
        assert!(matches!(
            event,
            TaskEvent::TaskApproved { duplicates, duplicate_reason: None, .. } if duplicates.is_empty()
        ));
        let withdrawn = serde_json::json!({
            "type": "TaskWithdrawn",
            "payload": {
                "task": task_id(), "town": fengqiao(), "villages": [fengyuan()],
                "was_dispatched": true, "reason": "合并", "withdrawn_by": "leader-zongzhi",
                "withdrawn_at": now(),
            }
        });
        let event: TaskEvent = serde_json::from_value(withdrawn).expect("reads");
        assert!(matches!(event, TaskEvent::TaskWithdrawn(w) if w.kept.is_empty()));
    }

    // --- withdrawal after acceptance -------------------------------------------------------------

    fn dispatched_to_two() -> Vec<TaskEvent> {
        let drafted = drafted_with(DraftInput {
            targets: Targets::Villages(vec![fengyuan(), village_b()]),
            ..input(Some("ZZ-001"))
        });
        let approved = step(&drafted, &zongzhi_leader(), approve());
        step(
            &approved,
            &zongzhi_leader(),
            TaskCommand::DispatchTask {
                timeliness: TimelinessPolicy::default(),
            },
        )
    }

    #[test]
    fn withdrawal_leaves_accepted_villages_out_and_says_which_were_released() {
        let events = when_task(
            &dispatched_to_two(),
            &zongzhi_leader(),
            TaskCommand::WithdrawTask {
                reason: "上级任务调整".into(),
                accepted_villages: vec![fengyuan()],
            },
        )
        .expect("withdrawn");
        let Some(TaskEvent::TaskWithdrawn(w)) = events.last() else {
            panic!("not withdrawn: {events:?}")
        };
        assert_eq!(
            (&w.villages, &w.kept),
            (&vec![village_b()], &vec![fengyuan()])
        );
        let released: Vec<RegionId> = w
            .assignment_commands()
            .into_iter()
            .map(|(id, _)| id.village)
            .collect();
        assert_eq!(released, vec![village_b()]);
        let ledger: Vec<RegionId> = w.ledger_commands().into_iter().map(|(v, _)| v).collect();
        assert_eq!(ledger, vec![village_b()]);
        // Both villages see it in their history.
        assert_eq!(
            events[0].regions(),
            vec![fengqiao(), village_b(), fengyuan()]
        );
        assert_round_trip(&events[0]);
        // Every village accepted: nothing to withdraw.
        let err = when_task(
            &dispatched_to_two(),
            &zongzhi_leader(),
            TaskCommand::WithdrawTask {
                reason: "上级任务调整".into(),
                accepted_villages: vec![fengyuan(), village_b()],
            },
        )
        .expect_err("refused");
        assert_eq!(err, TaskError::AllWorkAccepted);
        assert_eq!(err.code(), "CONFLICT");
        // A village the task never addressed.
        assert!(matches!(
            when_task(
                &dispatched(),
                &zongzhi_leader(),
                TaskCommand::WithdrawTask {
                    reason: "x".into(),
                    accepted_villages: vec![village_b()],
                },
            ),
            Err(TaskError::UnknownVillage { .. })
        ));
    }

    // --- boundaries --------------------------------------------------------------------------------

    #[test]
    fn deadlines_and_meeting_times_at_the_exact_moment() {
        // A deadline one second ahead may be drafted; now is already past.
        assert!(
            when_task(
                &[],
                &town_staff(),
                draft_cmd(DraftInput {
                    deadline: now() + Duration::seconds(1),
                    ..input(Some("ZZ-001"))
                })
            )
            .is_ok()
        );
        let dispatch = || TaskCommand::DispatchTask {
            timeliness: TimelinessPolicy::default(),
        };
        assert!(
            when::<Task>(
                &approved(),
                &zongzhi_leader(),
                deadline() - Duration::seconds(1),
                dispatch()
            )
            .is_ok()
        );
        assert!(matches!(
            when::<Task>(&approved(), &zongzhi_leader(), deadline(), dispatch()),
            Err(TaskError::DeadlineInPast { .. })
        ));
        for meeting_at in [now(), drafted_at()] {
            assert!(
                when_task(
                    &major_approved(),
                    &party_secretary(),
                    TaskCommand::RecordCollectiveDecision {
                        outcome: CommitteeOutcome::Agreed,
                        meeting_at,
                        minutes: minutes(),
                    }
                )
                .is_ok()
            );
        }
        assert!(
            when_task(
                &major_approved(),
                &party_secretary(),
                TaskCommand::RecordCollectiveDecision {
                    outcome: CommitteeOutcome::Agreed,
                    meeting_at: now() + Duration::seconds(1),
                    minutes: minutes(),
                }
            )
            .is_err()
        );
    }

    fn drafted_at() -> DateTime<Utc> {
        now()
    }

    /// A random walk of the task's commands by the usual actors.
    fn command_from(kind: u8, variant: u8) -> (Actor, TaskCommand) {
        let codes = ["ZZ-001", "ZZ-002", "ZZ-003", "ZZ-004", "XX-1"];
        let sources = [TaskSource::UpperLevel, TaskSource::Town, TaskSource::Major];
        let code = codes[usize::from(variant) % codes.len()];
        match kind {
            0 => {
                let draft = DraftInput {
                    source: sources[usize::from(variant) % 3],
                    ..input(Some(code))
                };
                (town_staff(), draft_cmd(draft))
            }
            1 => (
                town_staff(),
                TaskCommand::ReviseTask {
                    draft: input(Some(code)),
                    town_villages: town_villages(),
                    catalogue: snapshot(),
                    dispatched: vec![],
                },
            ),
            2 if variant % 3 == 1 => (
                zongzhi_leader(),
                approve_with(vec![earlier(fengyuan(), code, -1, 5)], None),
            ),
            2 if variant % 3 == 2 => (
                zongzhi_leader(),
                approve_with(
                    vec![earlier(fengyuan(), code, -1, 5)],
                    Some("县里要求分别报送".into()),
                ),
            ),
            2 => (zongzhi_leader(), approve()),
            3 => (
                zongzhi_leader(),
                TaskCommand::ReturnTask {
                    reason: "补充材料".into(),
                },
            ),
            4 => (
                party_secretary(),
                decide_major(if variant.is_multiple_of(2) {
                    CommitteeOutcome::Agreed
                } else {
                    CommitteeOutcome::Rejected
                }),
            ),
            5 => (
                zongzhi_leader(),
                TaskCommand::DispatchTask {
                    timeliness: TimelinessPolicy::default(),
                },
            ),
            _ => (
                zongzhi_leader(),
                TaskCommand::WithdrawTask {
                    reason: "合并".into(),
                    accepted_villages: vec![],
                },
            ),
        }
    }

    proptest! {
        #[test]
        fn replay_is_deterministic_and_events_round_trip(steps in prop::collection::vec((0u8..7, 0u8..10), 0..25)) {
            let mut state = Task::default();
            let mut history = Vec::new();
            for (kind, variant) in steps {
                let (actor, cmd) = command_from(kind, variant);
                if let Ok(events) = state.decide(cmd, &CommandContext { actor: &actor, now: now() }) {
                    for event in &events {
                        state.evolve(event);
                        assert_round_trip(event);
                    }
                    history.extend(events);
                }
            }
            prop_assert_eq!(Task::replay(&history), state.clone());
            prop_assert_eq!(Task::replay(&history), Task::replay(&history));
        }
    }
}
