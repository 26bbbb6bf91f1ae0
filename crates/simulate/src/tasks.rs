//! Tasks from towns to villages: drafted and screened against the list, reviewed (some
//! returned), major ones decided by the party committee, dispatched, then each village's
//! ledger and assignment: signed, assigned, reported, submitted with evidence, accepted
//! (some late, some after rework), a few withdrawn.
//!
//! The shape of the years: 2023 is the baseline before screening had teeth (the list was
//! broad and towns pushed many whole-town tasks down); from 2024 the pruned list rejects
//! what towns still draft out of habit, and towns merge work, so fewer tasks reach villages.

use chrono::{DateTime, Datelike, Utc};
use xingcun_domain::catalogue::ResponsibleLevel;
use xingcun_domain::task::{
    CommitteeOutcome, DispatchedTask, DraftInput, Targets, TaskPeriod, TaskWithdrawal,
};
use xingcun_domain::{
    Assignee, Assignment, AssignmentCommand, AssignmentId, Task, TaskCommand, TaskId, TaskSource,
    VillageTaskLedger,
};
use xingcun_store::EventLog;

use crate::SimError;
use crate::calendar::{
    after_work, at_local, local_date, midnight, next_workday, plus_days, plus_hours, plus_minutes,
    work_time,
};
use crate::engine::{Action, Engine, ScriptedDraft, evidence, text};
use crate::matters::CATEGORIES;
use crate::names::{
    PROGRESS_NOTES, RETURN_REASONS, REWORK_REASONS, SUBMIT_SUMMARIES, WITHDRAW_REASONS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskStage {
    AwaitingReview,
    Returned,
    Approved,
    Dispatched,
    Closed,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskSim {
    pub id: TaskId,
    pub town: usize,
    pub title: String,
    pub content: String,
    pub source: TaskSource,
    pub category: String,
    pub code: Option<String>,
    pub score: i64,
    /// Village indices addressed (empty for a whole-town task).
    pub villages: Vec<usize>,
    pub whole_town: bool,
    pub deadline: DateTime<Utc>,
    pub drafted_at: DateTime<Utc>,
    pub returns: u32,
    pub stage: TaskStage,
    pub assignments: Vec<usize>,
    pub withdrawal_planned: bool,
    /// When the task was dispatched (its period runs from then to the deadline).
    pub dispatched_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssignStage {
    Issued,
    InProgress,
    Submitted,
    Accepted,
    Withdrawn,
}

#[derive(Debug, Clone)]
pub(crate) struct AssignSim {
    pub task: usize,
    pub village: usize,
    pub stage: AssignStage,
    pub assignee: Option<Assignee>,
    pub reworks: u32,
    /// When the work was handed out and when the village plans to submit it.
    pub planned: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// How towns behaved in a given month.
pub(crate) struct Phase {
    /// Drafts per average town per month.
    pub drafts_per_month: f64,
    pub whole_town: f64,
    pub many: f64,
    /// A draft carries a code the pruning took away (habit, or an office pushing down).
    pub pruned_code: f64,
    pub unknown_code: f64,
    pub missing_code: f64,
    pub returned: f64,
    pub late: f64,
    pub rework: f64,
    pub duplicate: f64,
    pub withdrawn: f64,
}

/// Months since 2024-01 (negative before), as a fraction of the two years after it.
fn maturity(at: DateTime<Utc>) -> Option<f64> {
    let d = local_date(at);
    let months = (d.year() - 2024) * 12 + d.month0() as i32;
    (months >= 0).then(|| (f64::from(months) / 23.0).min(1.0))
}

pub(crate) fn phase(at: DateTime<Utc>) -> Phase {
    match maturity(at) {
        None => Phase {
            drafts_per_month: 4.6,
            whole_town: 0.17,
            many: 0.33,
            pruned_code: 0.0,
            unknown_code: 0.015,
            missing_code: 0.012,
            returned: 0.15,
            late: 0.18,
            rework: 0.12,
            duplicate: 0.02,
            withdrawn: 0.012,
        },
        Some(x) => Phase {
            drafts_per_month: 4.3 - 0.6 * x,
            whole_town: 0.14 - 0.02 * x,
            many: 0.33,
            pruned_code: 0.28 - 0.19 * x,
            unknown_code: 0.012,
            missing_code: 0.008,
            returned: 0.10,
            late: 0.12 - 0.04 * x,
            rework: 0.10,
            duplicate: 0.015,
            withdrawn: 0.01,
        },
    }
}

/// Work nobody listed: what a town office drafts with a made-up or missing code.
const UNLISTED_WORK: &[&str] = &[
    "配合开展企业用工情况调查",
    "清理沿线积存垃圾",
    "协助开展房屋征收入户",
    "报送各类创建台账",
    "组织人员参加上级会议",
    "协助完成招商引资任务",
];

impl TaskSim {
    fn input(&self, villages: &[crate::world::Village]) -> DraftInput {
        DraftInput {
            title: self.title.clone(),
            content: self.content.clone(),
            source: self.source,
            category: self.category.clone(),
            matter_code: self.code.clone(),
            score: self.score,
            targets: if self.whole_town {
                Targets::WholeTown
            } else {
                Targets::Villages(
                    self.villages
                        .iter()
                        .map(|&v| villages[v].code.clone())
                        .collect(),
                )
            },
            deadline: self.deadline,
        }
    }
}

impl<L: EventLog> Engine<'_, L> {
    fn task_input(&self, task: usize) -> DraftInput {
        let t = &self.tasks[task];
        t.input(&self.world.villages)
    }

    /// The village indices a task addresses.
    fn targets(&self, task: usize) -> Vec<usize> {
        let t = &self.tasks[task];
        if t.whole_town {
            self.world.towns[t.town].villages.clone()
        } else {
            t.villages.clone()
        }
    }

    /// What is already dispatched, for the same matter, to the villages `task` addresses:
    /// what the town reads from those villages' ledgers before screening and review (多头派单).
    fn dispatched_for(&self, task: usize) -> Vec<DispatchedTask> {
        let t = &self.tasks[task];
        let Some(code) = t
            .code
            .as_deref()
            .and_then(|c| xingcun_domain::MatterCode::parse(c).ok())
        else {
            return Vec::new();
        };
        let targets = self.targets(task);
        let horizon = plus_days(self.now, -120);
        let mut found = Vec::new();
        for (i, other) in self.tasks.iter().enumerate().rev() {
            if other.drafted_at < horizon {
                break;
            }
            let Some(from) = other.dispatched_at else {
                continue;
            };
            if i == task
                || other.town != t.town
                || other.stage != TaskStage::Dispatched
                || other.code.as_deref() != Some(code.as_str())
                || other.deadline <= self.now
            {
                continue;
            }
            for v in self.targets(i) {
                if targets.contains(&v) {
                    found.push(DispatchedTask {
                        village: self.world.villages[v].code.clone(),
                        task: other.id,
                        matter_code: code.clone(),
                        period: TaskPeriod {
                            from,
                            to: other.deadline,
                        },
                    });
                }
            }
        }
        found
    }

    /// Whether the draft passes screening now (the same pure check the task applies).
    fn passes_screening(&self, code: Option<&str>) -> bool {
        let code = code.and_then(|c| xingcun_domain::MatterCode::parse(c).ok());
        self.cat
            .snapshot
            .screen(code.as_ref(), ResponsibleLevel::Village, self.now)
            .is_ok()
    }

    pub(crate) async fn draft(
        &mut self,
        at: DateTime<Utc>,
        town: usize,
        scripted: Option<ScriptedDraft>,
    ) -> Result<(), SimError> {
        let p = phase(at);
        let staff_count = self.world.towns[town].staff.len();
        let staff_index = self.rng.index(staff_count);
        let Some(staff) = self.world.towns[town].staff_actor(staff_index) else {
            return Ok(());
        };
        let n = self.world.towns[town].villages.len();
        let random_category = |rng: &mut crate::rng::Rng| {
            let (abbr, name) = *rng.pick(CATEGORIES).unwrap_or(&("ZZ", "综治"));
            (abbr, name.to_owned())
        };
        let mut villages: Vec<usize> = Vec::new();
        let mut whole_town = false;
        let (code, category, name) = if let Some(s) = &scripted {
            villages.push(s.village);
            let name = s.title.to_owned();
            (Some(s.code.clone()), s.category.clone(), name)
        } else {
            let r = self.rng.unit();
            if r < p.missing_code {
                let (_, cat) = random_category(&mut self.rng);
                let name = self
                    .rng
                    .pick(UNLISTED_WORK)
                    .copied()
                    .unwrap_or("报送台账")
                    .to_owned();
                (None, cat, name)
            } else if r < p.missing_code + p.unknown_code {
                let (abbr, cat) = random_category(&mut self.rng);
                let k = self.rng.index(100);
                let name = self
                    .rng
                    .pick(UNLISTED_WORK)
                    .copied()
                    .unwrap_or("报送台账")
                    .to_owned();
                (Some(self.cat.unknown_code(abbr, k)), cat, name)
            } else if self.cat.pruned_done
                && r < p.missing_code + p.unknown_code + p.pruned_code
                && !self.cat.pruned.is_empty()
            {
                let (code, cat) = self.rng.pick(&self.cat.pruned).cloned().unwrap_or_default();
                let name = self.cat.name_of(&code).unwrap_or_default();
                (Some(code), cat, name)
            } else {
                let (code, cat) = self.rng.pick(&self.cat.valid).cloned().unwrap_or_default();
                let name = self.cat.name_of(&code).unwrap_or_default();
                (Some(code), cat, name)
            }
        };
        // 多头派单: now and then the same matter again to the same villages, from another line.
        let mut copy_of: Option<usize> = None;
        if scripted.is_none() && self.rng.chance(p.duplicate) {
            copy_of = self
                .tasks
                .iter()
                .rposition(|t| {
                    t.town == town
                        && t.stage == TaskStage::Dispatched
                        && t.deadline > plus_days(at, 10)
                })
                .filter(|&i| self.tasks.len() - i < 200);
        }
        let (code, category, name) = match copy_of {
            Some(i) => {
                let t = &self.tasks[i];
                villages = t.villages.clone();
                whole_town = t.whole_town;
                let name = t
                    .code
                    .as_deref()
                    .and_then(|c| self.cat.name_of(c))
                    .unwrap_or_default();
                (t.code.clone(), t.category.clone(), name)
            }
            None => (code, category, name),
        };
        let source = if scripted.is_some() {
            TaskSource::Town
        } else {
            let r = self.rng.unit();
            if r < 0.06 {
                TaskSource::Major
            } else if r < 0.56 {
                TaskSource::UpperLevel
            } else {
                TaskSource::Town
            }
        };
        if scripted.is_none() && copy_of.is_none() {
            let r = self.rng.unit();
            let whole_share = if source == TaskSource::Major {
                p.whole_town * 2.5
            } else {
                p.whole_town
            };
            if r < whole_share || n == 1 {
                whole_town = true;
            } else if r < whole_share + p.many && n >= 3 {
                let k = self.rng.range(2, (n as i64 - 1).min(6)) as usize;
                villages = self
                    .rng
                    .sample(n, k)
                    .into_iter()
                    .map(|i| self.world.towns[town].villages[i])
                    .collect();
            } else {
                let i = self.rng.index(n);
                villages.push(self.world.towns[town].villages[i]);
            }
        }
        let d = local_date(at);
        let name = if name.is_empty() {
            "村社日常工作".to_owned()
        } else {
            name
        };
        let title = match &scripted {
            Some(s) => s.title.to_owned(),
            None => format!("{name}({}年{}月)", d.year(), d.month()),
        };
        let content = match &scripted {
            Some(s) => s.content.to_owned(),
            None => format!(
                "请各相关村(社区)按照要求做好“{name}”工作,于截止时间前提交完成情况和佐证材料。"
            ),
        };
        let score = match source {
            TaskSource::Major => self.rng.range(20, 50),
            _ => self.rng.range(3, 25),
        };
        let deadline = at_local(
            next_workday(d + chrono::Days::new(self.rng.range(10, 40) as u64)),
            17,
            30,
            0,
        );
        let id = TaskId::new(self.rng.uuid());
        let index = self.tasks.len();
        self.tasks.push(TaskSim {
            id,
            town,
            title,
            content,
            source,
            category: category.clone(),
            code: code.clone(),
            score,
            villages,
            whole_town,
            deadline,
            drafted_at: at,
            returns: 0,
            stage: TaskStage::AwaitingReview,
            assignments: Vec::new(),
            withdrawal_planned: false,
            dispatched_at: None,
        });
        // Now and then the office picks the wrong category: refused, corrected, resent.
        let mut t = at;
        if self.rng.chance(0.01) && self.passes_screening(code.as_deref()) {
            let mut input = self.task_input(index);
            let (_, wrong) = random_category(&mut self.rng);
            if wrong != category {
                input.category = wrong;
                self.draft_command(index, t, input, &staff).await?;
                t = plus_minutes(t, self.rng.range(2, 10));
            }
        }
        let input = self.task_input(index);
        if self.draft_command(index, t, input, &staff).await?.is_none() {
            self.tasks[index].stage = TaskStage::Closed;
            return Ok(());
        }
        let passes = self.passes_screening(code.as_deref());
        self.tasks[index].drafted_at = self.now;
        if passes {
            let next = after_work(&mut self.rng, self.now, 0, 2);
            self.schedule(next, Action::Review { task: index });
        } else {
            self.tasks[index].stage = TaskStage::Closed;
        }
        Ok(())
    }

    async fn draft_command(
        &mut self,
        task: usize,
        at: DateTime<Utc>,
        input: DraftInput,
        staff: &xingcun_domain::Actor,
    ) -> Result<Option<xingcun_store::Submitted>, SimError> {
        let t = &self.tasks[task];
        let town = &self.world.towns[t.town];
        let command = TaskCommand::DraftTask {
            task: t.id,
            town: town.code.clone(),
            draft: input,
            town_villages: town.village_ids.clone(),
            catalogue: self.cat.snapshot.clone(),
            dispatched: self.dispatched_for(task),
        };
        let id = t.id.to_string();
        let corr = Some(t.id.as_uuid());
        self.exec::<Task>(&id, at, command, staff, corr).await
    }

    pub(crate) async fn review(&mut self, at: DateTime<Utc>, task: usize) -> Result<(), SimError> {
        let t = &self.tasks[task];
        if t.stage != TaskStage::AwaitingReview {
            return Ok(());
        }
        let Some(leader) = self.world.towns[t.town].leader_for(&t.category) else {
            return Ok(());
        };
        let (id, corr) = (t.id.to_string(), Some(t.id.as_uuid()));
        let returns = t.returns;
        let major = t.source == TaskSource::Major;
        let dispatched = self.dispatched_for(task);
        if !dispatched.is_empty() {
            // 多头派单 flagged at screening: the leader merges it into the task already
            // dispatched (withdrawn before it reaches any village).
            return self
                .withdraw(at, task, "与已派发任务重复(多头派单),合并办理".to_owned())
                .await;
        }
        if returns < 2 && self.rng.chance(phase(at).returned) {
            let reason = self
                .rng
                .pick(RETURN_REASONS)
                .copied()
                .unwrap_or("请修改")
                .to_owned();
            let command = TaskCommand::ReturnTask { reason };
            if self
                .exec::<Task>(&id, at, command, &leader, corr)
                .await?
                .is_some()
            {
                self.tasks[task].stage = TaskStage::Returned;
                self.tasks[task].returns += 1;
                let next = after_work(&mut self.rng, self.now, 0, 2);
                self.schedule(next, Action::Revise { task });
            }
            return Ok(());
        }
        let approve = TaskCommand::ApproveTask {
            dispatched,
            duplicate_reason: None,
        };
        if self
            .exec::<Task>(&id, at, approve, &leader, corr)
            .await?
            .is_some()
        {
            self.tasks[task].stage = TaskStage::Approved;
            let next = if major {
                let next = after_work(&mut self.rng, self.now, 1, 4);
                (next, Action::Decide { task })
            } else {
                let next = after_work(&mut self.rng, self.now, 0, 1);
                (next, Action::Dispatch { task })
            };
            self.schedule(next.0, next.1);
        }
        Ok(())
    }

    pub(crate) async fn revise(&mut self, at: DateTime<Utc>, task: usize) -> Result<(), SimError> {
        if self.tasks[task].stage != TaskStage::Returned {
            return Ok(());
        }
        let town = self.tasks[task].town;
        let i = self.rng.index(self.world.towns[town].staff.len());
        let Some(staff) = self.world.towns[town].staff_actor(i) else {
            return Ok(());
        };
        // The revision answers the return: a later deadline, a better-founded score.
        if self.tasks[task].deadline < plus_days(at, 8) {
            let d = local_date(at) + chrono::Days::new(self.rng.range(10, 20) as u64);
            self.tasks[task].deadline = at_local(next_workday(d), 17, 30, 0);
        }
        self.tasks[task].score = (self.tasks[task].score - self.rng.range(0, 3)).max(2);
        let input = self.task_input(task);
        let t = &self.tasks[task];
        let command = TaskCommand::ReviseTask {
            draft: input,
            town_villages: self.world.towns[town].village_ids.clone(),
            catalogue: self.cat.snapshot.clone(),
            dispatched: self.dispatched_for(task),
        };
        let (id, corr) = (t.id.to_string(), Some(t.id.as_uuid()));
        let code = t.code.clone();
        if self
            .exec::<Task>(&id, at, command, &staff, corr)
            .await?
            .is_none()
        {
            self.tasks[task].stage = TaskStage::Closed;
            return Ok(());
        }
        if self.passes_screening(code.as_deref()) {
            self.tasks[task].stage = TaskStage::AwaitingReview;
            let next = after_work(&mut self.rng, self.now, 0, 2);
            self.schedule(next, Action::Review { task });
        } else {
            self.tasks[task].stage = TaskStage::Closed;
        }
        Ok(())
    }

    pub(crate) async fn decide(&mut self, at: DateTime<Utc>, task: usize) -> Result<(), SimError> {
        let t = &self.tasks[task];
        if t.stage != TaskStage::Approved {
            return Ok(());
        }
        let Some(secretary) = self.world.towns[t.town].party_secretary_actor() else {
            return Ok(());
        };
        let (id, corr, drafted_at) = (t.id.to_string(), Some(t.id.as_uuid()), t.drafted_at);
        let meeting_at = plus_hours(at, -self.rng.range(1, 4)).max(drafted_at);
        let agreed = self.rng.chance(0.92);
        let command = TaskCommand::RecordCollectiveDecision {
            outcome: if agreed {
                CommitteeOutcome::Agreed
            } else {
                CommitteeOutcome::Rejected
            },
            meeting_at,
            minutes: evidence(&mut self.rng, "镇党委会议纪要.pdf")?,
        };
        if self
            .exec::<Task>(&id, at, command, &secretary, corr)
            .await?
            .is_some()
        {
            if agreed {
                let next = after_work(&mut self.rng, self.now, 0, 1);
                self.schedule(next, Action::Dispatch { task });
            } else {
                self.tasks[task].stage = TaskStage::Closed;
            }
        }
        Ok(())
    }

    pub(crate) async fn dispatch(
        &mut self,
        at: DateTime<Utc>,
        task: usize,
    ) -> Result<(), SimError> {
        let t = &self.tasks[task];
        if t.stage != TaskStage::Approved {
            return Ok(());
        }
        let town = t.town;
        let Some(leader) = self.world.towns[town].leader_for(&t.category) else {
            return Ok(());
        };
        let (id, uuid) = (t.id.to_string(), t.id.as_uuid());
        let command = TaskCommand::DispatchTask {
            timeliness: self.world.towns[town].timeliness,
        };
        if self
            .exec::<Task>(&id, at, command, &leader, Some(uuid))
            .await?
            .is_none()
        {
            self.tasks[task].stage = TaskStage::Closed;
            return Ok(());
        }
        self.tasks[task].stage = TaskStage::Dispatched;
        self.tasks[task].dispatched_at = Some(self.now);
        let state = self.load::<Task>(&id).await?;
        let Some(dispatch) = state.record().and_then(|r| r.dispatch.clone()) else {
            return Err(SimError::Unexpected(format!(
                "task {id} dispatched without a dispatch record"
            )));
        };
        let at = self.now;
        let mut duplicate = false;
        let ledger = dispatch.ledger_commands();
        let issues = dispatch.assignment_commands();
        for ((village, ledger_command), (assignment, issue)) in ledger.into_iter().zip(issues) {
            if let Some(done) = self
                .exec::<VillageTaskLedger>(
                    village.as_str(),
                    at,
                    ledger_command,
                    &leader,
                    Some(uuid),
                )
                .await?
            {
                duplicate |= done.events > 1;
            }
            let stream = assignment.to_string();
            if self
                .exec::<Assignment>(&stream, at, issue, &leader, Some(uuid))
                .await?
                .is_some()
            {
                let Some(vi) = self.world.towns[town]
                    .villages
                    .iter()
                    .copied()
                    .find(|&v| self.world.villages[v].code == village)
                else {
                    continue;
                };
                let a = self.assignments.len();
                self.assignments.push(AssignSim {
                    task,
                    village: vi,
                    stage: AssignStage::Issued,
                    assignee: None,
                    reworks: 0,
                    planned: None,
                });
                self.tasks[task].assignments.push(a);
                let next = after_work(&mut self.rng, at, 0, 2);
                self.schedule(next, Action::Sign { a });
            }
        }
        if duplicate {
            // 多头派单 flagged: the town merges by withdrawing the later task.
            self.tasks[task].withdrawal_planned = true;
            let next = after_work(&mut self.rng, at, 1, 3);
            self.schedule(
                next,
                Action::Withdraw {
                    task,
                    reason: "与已派发任务重复(多头派单),合并办理".to_owned(),
                },
            );
        } else if self.rng.chance(phase(at).withdrawn) {
            self.tasks[task].withdrawal_planned = true;
            let span = (self.tasks[task].deadline - at).num_hours().max(24);
            let when = plus_hours(at, self.rng.range(4, span));
            let when = work_time(&mut self.rng, next_workday(local_date(when)));
            let reason = self
                .rng
                .pick(WITHDRAW_REASONS)
                .copied()
                .unwrap_or("任务取消")
                .to_owned();
            self.schedule(when, Action::Withdraw { task, reason });
        }
        Ok(())
    }

    pub(crate) async fn withdraw(
        &mut self,
        at: DateTime<Utc>,
        task: usize,
        reason: String,
    ) -> Result<(), SimError> {
        let t = &self.tasks[task];
        if matches!(t.stage, TaskStage::Closed) {
            return Ok(());
        }
        let town = t.town;
        let Some(leader) = self.world.towns[town].leader_for(&t.category) else {
            return Ok(());
        };
        let (id, uuid) = (t.id.to_string(), t.id.as_uuid());
        let was_dispatched = t.stage == TaskStage::Dispatched;
        // Villages whose work was accepted keep it: the withdrawal leaves them out.
        let accepted: Vec<xingcun_domain::RegionId> = t
            .assignments
            .iter()
            .filter(|&&a| self.assignments[a].stage == AssignStage::Accepted)
            .map(|&a| {
                self.world.villages[self.assignments[a].village]
                    .code
                    .clone()
            })
            .collect();
        let command = TaskCommand::WithdrawTask {
            reason: reason.clone(),
            accepted_villages: accepted.clone(),
        };
        if self
            .exec::<Task>(&id, at, command, &leader, Some(uuid))
            .await?
            .is_none()
        {
            return Ok(());
        }
        self.tasks[task].stage = TaskStage::Closed;
        let targets: Vec<xingcun_domain::RegionId> = if self.tasks[task].whole_town {
            self.world.towns[town].village_ids.clone()
        } else {
            self.tasks[task]
                .villages
                .iter()
                .map(|&v| self.world.villages[v].code.clone())
                .collect()
        };
        let (kept, villages) = targets
            .into_iter()
            .partition(|v| was_dispatched && accepted.contains(v));
        let withdrawal = TaskWithdrawal {
            task: self.tasks[task].id,
            town: self.world.towns[town].code.clone(),
            villages,
            kept,
            was_dispatched,
            reason: text(&reason)?,
            withdrawn_by: leader.id.clone(),
            withdrawn_at: self.now,
        };
        let at = self.now;
        let mut refused = Vec::new();
        for (assignment, command) in withdrawal.assignment_commands() {
            let stream = assignment.to_string();
            let done = self
                .exec::<Assignment>(&stream, at, command, &leader, Some(uuid))
                .await?;
            if done.is_none() {
                // Accepted meanwhile: acceptance stands, the ledger entry too.
                refused.push(assignment.village.clone());
            }
            if done.is_some() {
                let mine = self.tasks[task].assignments.clone();
                if let Some(a) = mine.into_iter().find(|&a| {
                    self.world.villages[self.assignments[a].village].code == assignment.village
                }) {
                    self.assignments[a].stage = AssignStage::Withdrawn;
                }
            }
        }
        for (village, command) in withdrawal.ledger_commands() {
            if refused.contains(&village) {
                continue;
            }
            self.exec::<VillageTaskLedger>(village.as_str(), at, command, &leader, Some(uuid))
                .await?;
        }
        Ok(())
    }

    fn assignment_stream(&self, a: usize) -> (String, uuid::Uuid) {
        let s = &self.assignments[a];
        let t = &self.tasks[s.task];
        let id = AssignmentId::new(t.id, self.world.villages[s.village].code.clone());
        (id.to_string(), t.id.as_uuid())
    }

    fn assignee_actor(&self, a: usize) -> Option<xingcun_domain::Actor> {
        let s = &self.assignments[a];
        let v = &self.world.villages[s.village];
        match &s.assignee {
            Some(Assignee::Cadre { person }) => v.actor_of(person),
            Some(Assignee::Grid { grid }) => v.grid_actor(grid),
            None => v.secretary_actor(),
        }
    }

    pub(crate) async fn sign(&mut self, at: DateTime<Utc>, a: usize) -> Result<(), SimError> {
        if self.assignments[a].stage != AssignStage::Issued {
            return Ok(());
        }
        let vi = self.assignments[a].village;
        let Some(secretary) = self.world.villages[vi].secretary_actor() else {
            return Ok(());
        };
        let (stream, uuid) = self.assignment_stream(a);
        let done = self
            .exec::<Assignment>(
                &stream,
                at,
                AssignmentCommand::SignAssignment,
                &secretary,
                Some(uuid),
            )
            .await?;
        if done.is_none() {
            return Ok(());
        }
        self.assignments[a].stage = AssignStage::InProgress;
        let next = plus_minutes(self.now, self.rng.range(3, 30));
        self.schedule(next, Action::AssignWork { a });
        Ok(())
    }

    /// 分派: the secretary hands the work to a cadre or a grid.
    pub(crate) async fn assign_work(
        &mut self,
        at: DateTime<Utc>,
        a: usize,
    ) -> Result<(), SimError> {
        if self.assignments[a].stage != AssignStage::InProgress
            || self.assignments[a].assignee.is_some()
        {
            return Ok(());
        }
        let vi = self.assignments[a].village;
        let Some(secretary) = self.world.villages[vi].secretary_actor() else {
            self.plan_submission(a);
            return Ok(());
        };
        let (stream, uuid) = self.assignment_stream(a);
        let v = &self.world.villages[vi];
        let assignee = if !v.grids.is_empty() && (v.cadres.is_empty() || self.rng.chance(0.4)) {
            let g = self.rng.index(v.grids.len());
            Assignee::Grid {
                grid: v.grids[g].id.clone(),
            }
        } else if let Some(p) = v.cadres.get(self.rng.index(v.cadres.len().max(1))) {
            Assignee::Cadre {
                person: p.id.clone(),
            }
        } else {
            Assignee::Cadre {
                person: secretary.id.clone(),
            }
        };
        let command = AssignmentCommand::AssignWork {
            assignee: assignee.clone(),
        };
        if self
            .exec::<Assignment>(&stream, at, command, &secretary, Some(uuid))
            .await?
            .is_some()
        {
            self.assignments[a].assignee = Some(assignee);
        }
        self.plan_submission(a);
        Ok(())
    }

    fn plan_submission(&mut self, a: usize) {
        let task = self.assignments[a].task;
        let deadline = self.tasks[task].deadline;
        let now = self.now;
        let p = phase(now);
        let submit_at = if deadline <= now || self.rng.chance(p.late) {
            let base = deadline.max(now);
            after_work(&mut self.rng, base, 1, 8)
        } else {
            let span = (deadline - now).num_minutes().max(60);
            let f = 0.3 + 0.65 * self.rng.unit();
            let target = now + chrono::Duration::minutes((span as f64 * f) as i64);
            let t = work_time(&mut self.rng, next_workday(local_date(target)));
            if t <= now {
                after_work(&mut self.rng, now, 0, 1)
            } else {
                t
            }
        };
        self.assignments[a].planned = Some((now, submit_at));
        if self.daily_progress {
            // 进度日报: a report every working day until the work is submitted.
            let mut day = local_date(now) + chrono::Days::new(1);
            loop {
                day = next_workday(day);
                let t = work_time(&mut self.rng, day);
                if t >= submit_at {
                    break;
                }
                self.schedule(t, Action::Progress { a });
                day = day + chrono::Days::new(1);
            }
        } else if self.rng.chance(0.4) {
            let span = (submit_at - now).num_minutes().max(2);
            let mid = now + chrono::Duration::minutes(span / 2);
            let t = work_time(&mut self.rng, next_workday(local_date(mid)));
            if t > now && t < submit_at {
                self.schedule(t, Action::Progress { a });
            }
        }
        self.schedule(submit_at, Action::Submit { a });
    }

    pub(crate) async fn progress(&mut self, at: DateTime<Utc>, a: usize) -> Result<(), SimError> {
        if self.assignments[a].stage != AssignStage::InProgress {
            return Ok(());
        }
        let Some(actor) = self.assignee_actor(a) else {
            return Ok(());
        };
        let (stream, uuid) = self.assignment_stream(a);
        let percent = match self.assignments[a].planned {
            Some((from, to)) if self.daily_progress => {
                let span = (to - from).num_minutes().max(1);
                ((at - from).num_minutes() * 100 / span).clamp(1, 99)
            }
            _ => self.rng.range(30, 80),
        };
        let command = AssignmentCommand::ReportProgress {
            percent,
            note: self
                .rng
                .pick(PROGRESS_NOTES)
                .copied()
                .unwrap_or("推进中")
                .to_owned(),
        };
        self.exec::<Assignment>(&stream, at, command, &actor, Some(uuid))
            .await?;
        Ok(())
    }

    pub(crate) async fn submit(&mut self, at: DateTime<Utc>, a: usize) -> Result<(), SimError> {
        if self.assignments[a].stage != AssignStage::InProgress {
            return Ok(());
        }
        let Some(actor) = self.assignee_actor(a) else {
            return Ok(());
        };
        let (stream, uuid) = self.assignment_stream(a);
        let mut files = vec![evidence(&mut self.rng, "现场照片.jpg")?];
        if self.rng.chance(0.6) {
            files.push(evidence(&mut self.rng, "工作台账.xlsx")?);
        }
        if self.rng.chance(0.2) {
            files.push(evidence(&mut self.rng, "签到表.pdf")?);
        }
        let command = AssignmentCommand::SubmitWork {
            summary: self
                .rng
                .pick(SUBMIT_SUMMARIES)
                .copied()
                .unwrap_or("已完成")
                .to_owned(),
            evidence: files,
        };
        if self
            .exec::<Assignment>(&stream, at, command, &actor, Some(uuid))
            .await?
            .is_some()
        {
            self.assignments[a].stage = AssignStage::Submitted;
            let next = after_work(&mut self.rng, self.now, 0, 3);
            self.schedule(next, Action::Check { a });
        }
        Ok(())
    }

    pub(crate) async fn check(&mut self, at: DateTime<Utc>, a: usize) -> Result<(), SimError> {
        if self.assignments[a].stage != AssignStage::Submitted {
            return Ok(());
        }
        let task = self.assignments[a].task;
        let town = &self.world.towns[self.tasks[task].town];
        let reviewer = if self.rng.chance(0.7) {
            town.staff_actor(self.rng.index(town.staff.len()))
        } else {
            town.leader_for(&self.tasks[task].category)
        };
        let Some(reviewer) = reviewer else {
            return Ok(());
        };
        let (stream, uuid) = self.assignment_stream(a);
        if self.assignments[a].reworks < 2 && self.rng.chance(phase(at).rework) {
            let reason = self
                .rng
                .pick(REWORK_REASONS)
                .copied()
                .unwrap_or("请整改")
                .to_owned();
            let command = AssignmentCommand::ReturnForRework { reason };
            if self
                .exec::<Assignment>(&stream, at, command, &reviewer, Some(uuid))
                .await?
                .is_some()
            {
                self.assignments[a].stage = AssignStage::InProgress;
                self.assignments[a].reworks += 1;
                let next = after_work(&mut self.rng, self.now, 1, 5);
                self.schedule(next, Action::Submit { a });
            }
            return Ok(());
        }
        if self
            .exec::<Assignment>(
                &stream,
                at,
                AssignmentCommand::AcceptWork,
                &reviewer,
                Some(uuid),
            )
            .await?
            .is_some()
        {
            self.assignments[a].stage = AssignStage::Accepted;
        }
        Ok(())
    }

    /// Drafts of one town for one working day.
    pub(crate) fn plan_drafts(&mut self, date: chrono::NaiveDate, town: usize) {
        let p = phase(midnight(date));
        let mean = p.drafts_per_month / 20.4 * self.world.towns[town].activity;
        for _ in 0..self.rng.count(mean) {
            let at = work_time(&mut self.rng, date);
            self.schedule(
                at,
                Action::Draft {
                    town,
                    scripted: None,
                },
            );
        }
    }
}
