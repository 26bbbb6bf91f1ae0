//! Mutations: each a domain command through the store's executor.
//!
//! The API gathers what a command needs from other streams (the town's villages, the
//! 事项清单 in force, the villages' ledgers for the 多头派单 check, the town's settings and
//! rules) and hands it to the domain, which decides. A refusal is a GraphQL error with the
//! domain's code and Chinese message. Every mutation takes an optional `commandId` (a UUID
//! the client chooses): sending the same command again with it appends nothing and answers
//! the first result, so a client may retry after a lost response.
//!
//! A dispatch reaches the villages through the fan-out process manager
//! ([`crate::fanout`]), not in the request.

use async_graphql::{Context, Enum, InputObject, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;
use xingcun_domain::assignment::Assignee;
use xingcun_domain::bidding::{BidScores, Criterion, Eligibility, ScoreSheet};
use xingcun_domain::procedure::{
    EvidenceKind, Households, MeetingBody, MeetingRecord, Money, PublicityRecord, StepEvidence,
    SuggestionRecord, Votes,
};
use xingcun_domain::ranking::{PraiseId, PraiseRules, PraiseTarget};
use xingcun_domain::task::{CommitteeOutcome, DraftInput, Targets};
use xingcun_domain::{
    Aggregate, Assignment, AssignmentCommand, AssignmentId, BiddingRules, CatalogueSnapshot,
    EvidenceRef, GridId, Jurisdiction, Listing, ListingCommand, ListingId, MatterCatalogue,
    OrganizationCommand, PersonId, Praise, PraiseCommand, Procedure, ProcedureCommand, ProcedureId,
    RegionId, Task, TaskCommand, TaskId, TaskSettings, TaskSource, Text, TownProcedureRules,
    VillageKind, VillageTaskLedger,
};
use xingcun_store::{CommandMeta, EventLog, Executed};

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::query::{api, caller, region, town, village};
use crate::types::CommandResult;

/// Every mutation: the work of towns and villages, and configuration.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(WorkMutation, ConfigurationMutation);

/// The work of towns and villages: tasks, procedures, 揭榜, praise, places and people.
#[derive(Default)]
pub struct WorkMutation;

/// A file of evidence: its SHA-256 (64 hex digits) and its name.
#[derive(InputObject, Clone)]
pub struct EvidenceInput {
    pub sha256: String,
    pub name: String,
}

fn evidence(input: &EvidenceInput) -> Result<EvidenceRef, ApiError> {
    EvidenceRef::new(&input.sha256, &input.name).map_err(|e| ApiError::invalid(e.to_string()))
}

fn evidences(inputs: &[EvidenceInput]) -> Result<Vec<EvidenceRef>, ApiError> {
    inputs.iter().map(evidence).collect()
}

/// The kind of a piece of procedure evidence.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum StepEvidenceKind {
    /// 会议记录.
    Minutes,
    /// 签到表.
    SignInSheet,
    /// 现场照片.
    Photo,
    /// 公示照片.
    NoticePhoto,
    /// 征求意见记录.
    SuggestionRecord,
    /// 其他材料.
    Other,
}

/// A piece of evidence of a procedure step.
#[derive(InputObject, Clone)]
pub struct StepEvidenceInput {
    pub kind: StepEvidenceKind,
    pub file: EvidenceInput,
}

fn step_evidence(inputs: &[StepEvidenceInput]) -> Result<Vec<StepEvidence>, ApiError> {
    inputs
        .iter()
        .map(|e| {
            Ok(StepEvidence {
                kind: match e.kind {
                    StepEvidenceKind::Minutes => EvidenceKind::Minutes,
                    StepEvidenceKind::SignInSheet => EvidenceKind::SignInSheet,
                    StepEvidenceKind::Photo => EvidenceKind::Photo,
                    StepEvidenceKind::NoticePhoto => EvidenceKind::NoticePhoto,
                    StepEvidenceKind::SuggestionRecord => EvidenceKind::SuggestionRecord,
                    StepEvidenceKind::Other => EvidenceKind::Other,
                },
                file: evidence(&e.file)?,
            })
        })
        .collect()
}

fn text(raw: &str, what: &str) -> Result<Text, ApiError> {
    Text::parse(raw).map_err(|e| ApiError::invalid(format!("{what}:{e}")))
}

fn time(raw: &str, what: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid(format!(
                "{what} 须为 RFC 3339 时间,如 2025-03-01T17:00:00+08:00"
            ))
        })
}

fn uuid(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid(format!("{what}编号无效")))
}

/// The id of a thing a command creates: derived from the command id when the client gave
/// one (a re-sent command names the same thing), else new.
fn new_id(command_id: &Option<String>, kind: &[u8]) -> Result<Uuid, ApiError> {
    Ok(match command_id {
        Some(c) => Uuid::new_v5(&uuid(c, "命令")?, kind),
        None => Uuid::new_v4(),
    })
}

fn person(raw: &str) -> Result<PersonId, ApiError> {
    PersonId::parse(raw).map_err(|_| ApiError::invalid("人员编号无效"))
}

fn count(raw: i32, what: &str) -> Result<u32, ApiError> {
    u32::try_from(raw).map_err(|_| ApiError::invalid(format!("{what}不能为负数")))
}

/// Where a task comes from.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TaskSourceInput {
    /// 上级任务.
    UpperLevel,
    /// 镇级任务.
    Town,
    /// 重大任务 (needs the party committee's collective decision).
    Major,
}

/// A task as the town's office drafts it.
#[derive(InputObject, Clone)]
pub struct DraftTaskInput {
    pub title: String,
    pub content: String,
    pub source: TaskSourceInput,
    /// The duty area (条线), e.g. 民政.
    pub category: String,
    /// 过筛码: the code of the 事项清单 item; missing or unlisted codes are refused.
    pub matter_code: Option<String>,
    /// 分值, 1..=100.
    pub score: i32,
    /// The villages addressed; empty or absent means every village of the town.
    pub villages: Option<Vec<String>>,
    /// RFC 3339.
    pub deadline: String,
}

/// A meeting of a procedure (五议).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MeetingBodyInput {
    /// 村两委会议.
    Committee,
    /// 党员大会 (needs `proposalSentAt`).
    PartyMembers,
    /// 村民代表会议.
    VillagerRepresentatives,
    /// 村民会议 (needs `announcedAt`).
    Villagers,
}

#[derive(InputObject, Clone)]
pub struct MeetingInput {
    pub step_no: i32,
    pub body: MeetingBodyInput,
    pub held_at: String,
    pub proposal_sent_at: Option<String>,
    pub announced_at: Option<String>,
    pub households_total: Option<i32>,
    pub households_represented: Option<i32>,
    pub expected: i32,
    pub present: i32,
    pub votes_for: i32,
    pub votes_against: i32,
    pub votes_abstain: i32,
    pub evidence: Vec<StepEvidenceInput>,
}

#[derive(InputObject, Clone)]
pub struct CriterionInput {
    pub name: String,
    pub weight: i32,
}

#[derive(InputObject, Clone)]
pub struct PanelScoresInput {
    pub member: String,
    /// One score per criterion, in the listing's order.
    pub scores: Vec<i32>,
}

#[derive(InputObject, Clone)]
pub struct BidScoresInput {
    pub village: String,
    pub sheets: Vec<PanelScoresInput>,
}

/// A role a cadre is appointed to.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum RoleInput {
    TownOfficeStaff,
    TownLeader,
    PartyCommitteeSecretary,
    VillageSecretary,
    VillageCadre,
    GridLeader,
    Auditor,
    Administrator,
}

impl Api {
    /// Run `command` on `{A::CATEGORY}-{id}` as the caller.
    pub(crate) async fn run<A>(
        &self,
        ctx: &Context<'_>,
        id: &str,
        command: A::Command,
        command_id: Option<String>,
    ) -> Result<CommandResult, ApiError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let caller = caller(ctx)?;
        caller.must_write()?;
        let meta = CommandMeta {
            command_id: command_id.as_deref().map(|c| uuid(c, "命令")).transpose()?,
            ..CommandMeta::default()
        };
        let executed = self
            .executor
            .execute::<A>(id, command, &caller.actor, meta)
            .await?;
        match executed {
            Ok(done) => {
                self.metrics.appended(done.positions.len());
                Ok(self.result(id, done).await?)
            }
            Err(rejection) => {
                self.metrics
                    .rejected(xingcun_domain::Rejection::code(&rejection));
                Err(ApiError::rejected(&rejection))
            }
        }
    }

    async fn result(&self, id: &str, done: Executed) -> Result<CommandResult, ApiError> {
        let position = match done.last_position() {
            Some(p) => p,
            None => self.store.head_position().await?,
        };
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(CommandResult {
            id: id.to_owned(),
            stream_id: done.stream_id,
            stream_version: int(done.stream_version),
            positions: done.positions.into_iter().map(int).collect(),
            position: int(position),
            duplicate: done.duplicate,
        })
    }

    async fn load<A: Aggregate>(&self, id: &str) -> Result<A, ApiError> {
        Ok(self.executor.load::<A>(id).await?.0)
    }

    /// The villages registered in `town`.
    async fn town_villages(&self, town: &RegionId) -> Result<Vec<RegionId>, ApiError> {
        let jurisdiction: Jurisdiction = self.load(town.as_str()).await?;
        Ok(jurisdiction.village_ids())
    }

    /// The 事项清单 in force for `town`: its county's, else the city's.
    async fn catalogue_for(&self, town: &RegionId) -> Result<CatalogueSnapshot, ApiError> {
        let county = town.parent();
        for scope in county.iter().chain([&RegionId::shaoxing()]) {
            let catalogue: MatterCatalogue = self.load(scope.as_str()).await?;
            if let Some(snapshot) = catalogue.snapshot() {
                return Ok(snapshot);
            }
        }
        Err(ApiError::new(
            "NOT_FOUND",
            "尚未发布村级事项清单,无法过筛派单;请管理员先录入清单",
        ))
    }

    /// What is already dispatched to `villages` (their ledgers), for the 多头派单 check.
    async fn dispatched_to(
        &self,
        villages: &[RegionId],
    ) -> Result<Vec<xingcun_domain::task::DispatchedTask>, ApiError> {
        let mut out = Vec::new();
        for village in villages {
            let ledger: VillageTaskLedger = self.load(village.as_str()).await?;
            out.extend(ledger.dispatched());
        }
        Ok(out)
    }

    fn draft(&self, input: &DraftTaskInput) -> Result<(DraftInput, Vec<RegionId>), ApiError> {
        let villages = input
            .villages
            .iter()
            .flatten()
            .map(|v| village(v))
            .collect::<Result<Vec<_>, _>>()?;
        let draft = DraftInput {
            title: input.title.clone(),
            content: input.content.clone(),
            source: match input.source {
                TaskSourceInput::UpperLevel => TaskSource::UpperLevel,
                TaskSourceInput::Town => TaskSource::Town,
                TaskSourceInput::Major => TaskSource::Major,
            },
            category: input.category.clone(),
            matter_code: input.matter_code.clone(),
            score: i64::from(input.score),
            targets: if villages.is_empty() {
                Targets::WholeTown
            } else {
                Targets::Villages(villages.clone())
            },
            deadline: time(&input.deadline, "截止时间")?,
        };
        Ok((draft, villages))
    }

    async fn task_town(&self, task: &str) -> Result<(TaskId, Task, RegionId), ApiError> {
        let id = TaskId::new(uuid(task, "任务")?);
        let state: Task = self.load(&id.to_string()).await?;
        let town = state
            .record()
            .map(|r| r.town.clone())
            .ok_or_else(|| ApiError::not_found("该任务"))?;
        Ok((id, state, town))
    }
}

/// The caller, who must be allowed to write at all: anonymous requests are
/// `UNAUTHENTICATED` and auditors `FORBIDDEN` before any argument is looked at.
fn writer<'a>(ctx: &'a Context<'_>) -> Result<&'a crate::auth::Caller, ApiError> {
    let caller = caller(ctx)?;
    caller.must_write()?;
    Ok(caller)
}

/// Refuse a region outside the caller's scope (`FORBIDDEN`) before the domain is asked,
/// so a caller outside learns nothing about what exists there.
fn within(ctx: &Context<'_>, region: &RegionId) -> Result<(), ApiError> {
    writer(ctx)?.must_read(region)
}

fn assignment_id(task: &str, village_code: &str) -> Result<AssignmentId, ApiError> {
    Ok(AssignmentId::new(
        TaskId::new(uuid(task, "任务")?),
        village(village_code)?,
    ))
}

// GraphQL arguments are a mutation's parameters: some take many.
#[allow(clippy::too_many_arguments)]
#[Object]
impl WorkMutation {
    // -----------------------------------------------------------------------------------------
    // Tasks (派单): drafted and screened by the town's office, reviewed, dispatched.
    // -----------------------------------------------------------------------------------------

    /// 起草并过筛: draft a task for `town`; it is screened against the 事项清单 at once. A
    /// task whose code is missing, unlisted, retired or not a village duty is refused with
    /// `SCREENING_REJECTED` (and the refusal is recorded, so the statistics count it).
    async fn draft_task(
        &self,
        ctx: &Context<'_>,
        town: String,
        input: DraftTaskInput,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let town = self::town(&town)?;
        within(ctx, &town)?;
        let (draft, villages) = api.draft(&input)?;
        let town_villages = api.town_villages(&town).await?;
        let addressed = if villages.is_empty() {
            town_villages.clone()
        } else {
            villages
        };
        let task = TaskId::new(new_id(&command_id, b"task")?);
        let command = TaskCommand::DraftTask {
            task,
            town: town.clone(),
            draft,
            town_villages,
            catalogue: api.catalogue_for(&town).await?,
            dispatched: api.dispatched_to(&addressed).await?,
        };
        let result = api
            .run::<Task>(ctx, &task.to_string(), command, command_id)
            .await?;
        // The screening refusal is a fact in the log and an error to the caller.
        let state: Task = api.load(&task.to_string()).await?;
        if let Some(reason) = state.record().and_then(|r| r.screening.clone()) {
            let e = xingcun_domain::TaskError::ScreeningRejected { reason };
            return Err(ApiError::rejected(&e)
                .detail(format!(
                    "task {} recorded as rejected at position {}",
                    task, result.position
                ))
                .into());
        }
        Ok(result)
    }

    /// 修改后重新提交: revise a draft returned by the reviewing leader; screened again.
    async fn revise_task(
        &self,
        ctx: &Context<'_>,
        task: String,
        input: DraftTaskInput,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let (id, _, town) = api.task_town(&task).await?;
        let (draft, villages) = api.draft(&input)?;
        let town_villages = api.town_villages(&town).await?;
        let addressed = if villages.is_empty() {
            town_villages.clone()
        } else {
            villages
        };
        let command = TaskCommand::ReviseTask {
            draft,
            town_villages,
            catalogue: api.catalogue_for(&town).await?,
            dispatched: api.dispatched_to(&addressed).await?,
        };
        Ok(api
            .run::<Task>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 审核通过, by the leader in charge of the task's duty area. `duplicateReason`: why a
    /// task that duplicates one already dispatched (多头派单) is approved anyway.
    async fn approve_task(
        &self,
        ctx: &Context<'_>,
        task: String,
        duplicate_reason: Option<String>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let (id, state, town) = api.task_town(&task).await?;
        let addressed = match state.record().map(|r| &r.draft.villages) {
            Some(v) if !v.is_empty() => v.clone(),
            _ => api.town_villages(&town).await?,
        };
        let command = TaskCommand::ApproveTask {
            dispatched: api.dispatched_to(&addressed).await?,
            duplicate_reason,
        };
        Ok(api
            .run::<Task>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 退回: return a draft to the office with a reason.
    async fn return_task(
        &self,
        ctx: &Context<'_>,
        task: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let (id, _, _) = api.task_town(&task).await?;
        Ok(api
            .run::<Task>(
                ctx,
                &id.to_string(),
                TaskCommand::ReturnTask { reason },
                command_id,
            )
            .await?)
    }

    /// 党委集体研究: the party committee's decision on a 重大任务, with the minutes.
    async fn record_collective_decision(
        &self,
        ctx: &Context<'_>,
        task: String,
        agreed: bool,
        meeting_at: String,
        minutes: EvidenceInput,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let (id, _, _) = api.task_town(&task).await?;
        let command = TaskCommand::RecordCollectiveDecision {
            outcome: if agreed {
                CommitteeOutcome::Agreed
            } else {
                CommitteeOutcome::Rejected
            },
            meeting_at: time(&meeting_at, "会议时间")?,
            minutes: evidence(&minutes)?,
        };
        Ok(api
            .run::<Task>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 派发: dispatch an approved task. Each village's board receives it through the
    /// fan-out (the result's `position` is the dispatch; the villages' assignments follow
    /// within moments).
    async fn dispatch_task(
        &self,
        ctx: &Context<'_>,
        task: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let (id, _, town) = api.task_town(&task).await?;
        let settings: TaskSettings = api.load(town.as_str()).await?;
        let command = TaskCommand::DispatchTask {
            timeliness: settings.timeliness(),
        };
        Ok(api
            .run::<Task>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 撤回: withdraw a task with a reason. Villages whose work was already accepted keep
    /// their work and points.
    async fn withdraw_task(
        &self,
        ctx: &Context<'_>,
        task: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let (id, state, _) = api.task_town(&task).await?;
        let mut accepted_villages = Vec::new();
        if let Some(dispatch) = state.record().and_then(|r| r.dispatch.as_ref()) {
            for v in &dispatch.villages {
                let a: Assignment = api
                    .load(&AssignmentId::new(id, v.clone()).to_string())
                    .await?;
                if a.status() == Some(xingcun_domain::assignment::AssignmentStatus::Accepted) {
                    accepted_villages.push(v.clone());
                }
            }
        }
        let command = TaskCommand::WithdrawTask {
            reason,
            accepted_villages,
        };
        Ok(api
            .run::<Task>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    // -----------------------------------------------------------------------------------------
    // A village's work on a task (assignment-{task}-{village}).
    // -----------------------------------------------------------------------------------------

    /// 签收, by the village secretary.
    async fn sign_assignment(
        &self,
        ctx: &Context<'_>,
        task: String,
        village: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = assignment_id(&task, &village)?;
        within(ctx, &id.village)?;
        Ok(api(ctx)
            .run::<Assignment>(
                ctx,
                &id.to_string(),
                AssignmentCommand::SignAssignment,
                command_id,
            )
            .await?)
    }

    /// 分派: hand the work to a village cadre (`cadre`) or a grid (`grid`), one of them.
    async fn assign_work(
        &self,
        ctx: &Context<'_>,
        task: String,
        village: String,
        cadre: Option<String>,
        grid: Option<String>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = assignment_id(&task, &village)?;
        within(ctx, &id.village)?;
        let assignee = match (cadre, grid) {
            (Some(p), None) => Assignee::Cadre {
                person: person(&p)?,
            },
            (None, Some(g)) => Assignee::Grid {
                grid: GridId::parse(&g).map_err(|_| ApiError::invalid("网格编号无效"))?,
            },
            _ => return Err(ApiError::invalid("请指定承办的村干部(cadre)或网格(grid)之一").into()),
        };
        Ok(api(ctx)
            .run::<Assignment>(
                ctx,
                &id.to_string(),
                AssignmentCommand::AssignWork { assignee },
                command_id,
            )
            .await?)
    }

    /// 进度报告: percent done (0..=100) and a note.
    async fn report_progress(
        &self,
        ctx: &Context<'_>,
        task: String,
        village: String,
        percent: i32,
        note: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = assignment_id(&task, &village)?;
        within(ctx, &id.village)?;
        let command = AssignmentCommand::ReportProgress {
            percent: i64::from(percent),
            note,
        };
        Ok(api(ctx)
            .run::<Assignment>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 提交: a summary and at least one piece of evidence (佐证材料).
    async fn submit_work(
        &self,
        ctx: &Context<'_>,
        task: String,
        village: String,
        summary: String,
        evidence: Vec<EvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = assignment_id(&task, &village)?;
        within(ctx, &id.village)?;
        let command = AssignmentCommand::SubmitWork {
            summary,
            evidence: evidences(&evidence)?,
        };
        Ok(api(ctx)
            .run::<Assignment>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 验收, by the town: the village's points are awarded (score × timeliness).
    async fn accept_work(
        &self,
        ctx: &Context<'_>,
        task: String,
        village: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = assignment_id(&task, &village)?;
        within(ctx, &id.village)?;
        Ok(api(ctx)
            .run::<Assignment>(
                ctx,
                &id.to_string(),
                AssignmentCommand::AcceptWork,
                command_id,
            )
            .await?)
    }

    /// 退回整改, by the town, with a reason.
    async fn return_work(
        &self,
        ctx: &Context<'_>,
        task: String,
        village: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = assignment_id(&task, &village)?;
        within(ctx, &id.village)?;
        Ok(api(ctx)
            .run::<Assignment>(
                ctx,
                &id.to_string(),
                AssignmentCommand::ReturnForRework { reason },
                command_id,
            )
            .await?)
    }

    // -----------------------------------------------------------------------------------------
    // Procedures (五议两公开).
    // -----------------------------------------------------------------------------------------

    /// Start a decision procedure for spending `amountFen` in a village; the template
    /// follows from the amount and the town's rules in force.
    async fn start_procedure(
        &self,
        ctx: &Context<'_>,
        village: String,
        title: String,
        amount_fen: i64,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let village = self::village(&village)?;
        within(ctx, &village)?;
        let town = village
            .town()
            .ok_or_else(|| ApiError::invalid("村社编码无效"))?;
        let rules: TownProcedureRules = api.load(town.as_str()).await?;
        let amount = u64::try_from(amount_fen).map_err(|_| ApiError::invalid("金额不能为负数"))?;
        let id = ProcedureId::new(new_id(&command_id, b"procedure")?);
        let command = ProcedureCommand::StartProcedure {
            procedure_id: id,
            village,
            title: text(&title, "事项名称")?,
            amount: Money::from_fen(amount),
            rules: rules.rules().clone(),
        };
        Ok(api
            .run::<Procedure>(ctx, &id.as_uuid().to_string(), command, command_id)
            .await?)
    }

    /// Record step `stepNo` of kind 征求意见 (suggestions collected).
    async fn record_suggestions(
        &self,
        ctx: &Context<'_>,
        procedure: String,
        step_no: i32,
        collected_at: String,
        summary: String,
        evidence: Vec<StepEvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&procedure, "程序")?;
        let command = ProcedureCommand::RecordSuggestions {
            step_no: u16::try_from(step_no).map_err(|_| ApiError::invalid("步骤序号无效"))?,
            record: SuggestionRecord {
                collected_at: time(&collected_at, "征求意见时间")?,
                summary: text(&summary, "意见摘要")?,
                evidence: step_evidence(&evidence)?,
            },
        };
        Ok(api(ctx)
            .run::<Procedure>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// Record a meeting step (议) with attendance, votes and evidence. A step out of order
    /// (or a time, quorum or notice period the rules do not allow) is refused with
    /// `RULE_VIOLATION` and nothing is recorded; a step without its required evidence is
    /// returned (`STEP_RETURNED`), and the return is recorded.
    async fn record_meeting(
        &self,
        ctx: &Context<'_>,
        procedure: String,
        meeting: MeetingInput,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let id = uuid(&procedure, "程序")?;
        let body = match meeting.body {
            MeetingBodyInput::Committee => MeetingBody::Committee,
            MeetingBodyInput::VillagerRepresentatives => MeetingBody::VillagerRepresentatives,
            MeetingBodyInput::PartyMembers => MeetingBody::PartyMembers {
                proposal_sent_at: time(
                    meeting.proposal_sent_at.as_deref().ok_or_else(|| {
                        ApiError::invalid("党员大会须给出提议送达时间 proposalSentAt")
                    })?,
                    "提议送达时间",
                )?,
            },
            MeetingBodyInput::Villagers => MeetingBody::Villagers {
                announced_at: time(
                    meeting
                        .announced_at
                        .as_deref()
                        .ok_or_else(|| ApiError::invalid("村民会议须给出通知时间 announcedAt"))?,
                    "通知时间",
                )?,
                households: match (meeting.households_total, meeting.households_represented) {
                    (Some(total), Some(represented)) => Some(Households {
                        total: count(total, "户数")?,
                        represented: count(represented, "户数")?,
                    }),
                    _ => None,
                },
            },
        };
        let command = ProcedureCommand::RecordMeeting {
            step_no: u16::try_from(meeting.step_no)
                .map_err(|_| ApiError::invalid("步骤序号无效"))?,
            record: MeetingRecord {
                held_at: time(&meeting.held_at, "会议时间")?,
                body,
                expected: count(meeting.expected, "应到人数")?,
                present: count(meeting.present, "实到人数")?,
                votes: Votes {
                    in_favour: count(meeting.votes_for, "票数")?,
                    against: count(meeting.votes_against, "票数")?,
                    abstain: count(meeting.votes_abstain, "票数")?,
                },
                evidence: step_evidence(&meeting.evidence)?,
            },
        };
        let result = api
            .run::<Procedure>(ctx, &id.to_string(), command, command_id)
            .await?;
        api.step_returned(&id.to_string(), &result).await?;
        Ok(result)
    }

    /// Record that the notice of a 公开 step was posted (days: the notice period, at least
    /// the statutory floor).
    async fn post_publicity(
        &self,
        ctx: &Context<'_>,
        procedure: String,
        step_no: i32,
        posted_at: String,
        days: Option<i32>,
        evidence: Vec<StepEvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let id = uuid(&procedure, "程序")?;
        let command = ProcedureCommand::PostPublicity {
            step_no: u16::try_from(step_no).map_err(|_| ApiError::invalid("步骤序号无效"))?,
            record: PublicityRecord {
                posted_at: time(&posted_at, "公示时间")?,
                days: days.map(|d| count(d, "公示天数")).transpose()?,
                evidence: step_evidence(&evidence)?,
            },
        };
        let result = api
            .run::<Procedure>(ctx, &id.to_string(), command, command_id)
            .await?;
        api.step_returned(&id.to_string(), &result).await?;
        Ok(result)
    }

    /// Close a procedure whose last 公开 step has ended.
    async fn complete_procedure(
        &self,
        ctx: &Context<'_>,
        procedure: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&procedure, "程序")?;
        Ok(api(ctx)
            .run::<Procedure>(
                ctx,
                &id.to_string(),
                ProcedureCommand::CompleteProcedure,
                command_id,
            )
            .await?)
    }

    // -----------------------------------------------------------------------------------------
    // 揭榜: listings and bids.
    // -----------------------------------------------------------------------------------------

    /// 发榜: a town posts a listing. `villages` restricts who may bid (with `reason`);
    /// absent, every village of the town may (the default).
    async fn post_listing(
        &self,
        ctx: &Context<'_>,
        town: String,
        project: String,
        description: String,
        criteria: Vec<CriterionInput>,
        bid_deadline: String,
        villages: Option<Vec<String>>,
        reason: Option<String>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let api = api(ctx);
        let town = self::town(&town)?;
        within(ctx, &town)?;
        let id = ListingId::new(new_id(&command_id, b"listing")?);
        let eligibility = match villages {
            None => Eligibility::WholeTown,
            Some(list) => Eligibility::Villages {
                villages: list.iter().map(|v| village(v)).collect::<Result<_, _>>()?,
                reason: reason.as_deref().map(|r| text(r, "限定理由")).transpose()?,
            },
        };
        let command = ListingCommand::PostListing {
            listing_id: id,
            town,
            project: text(&project, "项目名称")?,
            description: text(&description, "项目说明")?,
            criteria: criteria
                .iter()
                .map(|c| {
                    Ok(Criterion {
                        name: text(&c.name, "评分项")?,
                        weight: count(c.weight, "权重")?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            eligibility,
            bid_deadline: time(&bid_deadline, "报名截止时间")?,
            rules: BiddingRules::default(),
        };
        Ok(api
            .run::<Listing>(ctx, &id.as_uuid().to_string(), command, command_id)
            .await?)
    }

    /// 竞榜: a village bids with a statement of its advantages and attachments.
    async fn submit_bid(
        &self,
        ctx: &Context<'_>,
        listing: String,
        village: String,
        statement: String,
        attachments: Vec<EvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let village = self::village(&village)?;
        within(ctx, &village)?;
        let command = ListingCommand::SubmitBid {
            village,
            statement: text(&statement, "竞榜陈述")?,
            attachments: evidences(&attachments)?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// Replace the village's bid before the deadline.
    async fn revise_bid(
        &self,
        ctx: &Context<'_>,
        listing: String,
        village: String,
        statement: String,
        attachments: Vec<EvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let village = self::village(&village)?;
        within(ctx, &village)?;
        let command = ListingCommand::ReviseBid {
            village,
            statement: text(&statement, "竞榜陈述")?,
            attachments: evidences(&attachments)?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// Withdraw the village's bid before the deadline.
    async fn withdraw_bid(
        &self,
        ctx: &Context<'_>,
        listing: String,
        village: String,
        reason: Option<String>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let village = self::village(&village)?;
        within(ctx, &village)?;
        let command = ListingCommand::WithdrawBid {
            village,
            reason: reason.as_deref().map(|r| text(r, "撤回理由")).transpose()?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 比选会: the panel's per-criterion scores of every standing bid, after the deadline;
    /// the winner is announced (公示) at once.
    async fn record_comparison(
        &self,
        ctx: &Context<'_>,
        listing: String,
        held_at: String,
        panel: Vec<String>,
        scores: Vec<BidScoresInput>,
        evidence: Vec<EvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let command = ListingCommand::RecordComparison {
            held_at: time(&held_at, "比选时间")?,
            panel: panel.iter().map(|p| person(p)).collect::<Result<_, _>>()?,
            scores: scores
                .iter()
                .map(|s| {
                    Ok(BidScores {
                        village: self::village(&s.village)?,
                        sheets: s
                            .sheets
                            .iter()
                            .map(|sheet| {
                                Ok(ScoreSheet {
                                    member: person(&sheet.member)?,
                                    scores: sheet
                                        .scores
                                        .iter()
                                        .map(|n| count(*n, "评分"))
                                        .collect::<Result<_, _>>()?,
                                })
                            })
                            .collect::<Result<_, ApiError>>()?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            evidence: evidences(&evidence)?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// 揭榜: award the listing to the announced winner once the 公示 period has ended.
    async fn award_listing(
        &self,
        ctx: &Context<'_>,
        listing: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        Ok(api(ctx)
            .run::<Listing>(
                ctx,
                &id.to_string(),
                ListingCommand::AwardListing,
                command_id,
            )
            .await?)
    }

    /// The winner reports a delivery milestone.
    async fn report_milestone(
        &self,
        ctx: &Context<'_>,
        listing: String,
        title: String,
        reached_at: String,
        evidence: Vec<EvidenceInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let command = ListingCommand::ReportMilestone {
            title: text(&title, "节点名称")?,
            reached_at: time(&reached_at, "完成时间")?,
            evidence: evidences(&evidence)?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// The town accepts the delivered project (验收).
    async fn accept_completion(
        &self,
        ctx: &Context<'_>,
        listing: String,
        note: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let command = ListingCommand::AcceptCompletion {
            note: text(&note, "验收意见")?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// The town withdraws a listing before the award.
    async fn cancel_listing(
        &self,
        ctx: &Context<'_>,
        listing: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&listing, "榜单")?;
        let command = ListingCommand::CancelListing {
            reason: text(&reason, "撤榜理由")?,
        };
        Ok(api(ctx)
            .run::<Listing>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    // -----------------------------------------------------------------------------------------
    // 实时表扬.
    // -----------------------------------------------------------------------------------------

    /// A town leader praises a village (or one of its cadres, with `person`) with points.
    async fn give_praise(
        &self,
        ctx: &Context<'_>,
        village: String,
        person: Option<String>,
        points: i32,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let village = self::village(&village)?;
        within(ctx, &village)?;
        let target = match person {
            Some(p) => PraiseTarget::Cadre {
                village,
                person: self::person(&p)?,
            },
            None => PraiseTarget::Village { village },
        };
        let id = new_id(&command_id, b"praise")?;
        let command = PraiseCommand::GivePraise {
            praise_id: PraiseId::new(id),
            target,
            points: count(points, "分值")?,
            reason: text(&reason, "表扬理由")?,
            rules: PraiseRules::default(),
        };
        Ok(api(ctx)
            .run::<Praise>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    /// Withdraw a praise given in error; the boards drop its points.
    async fn withdraw_praise(
        &self,
        ctx: &Context<'_>,
        praise: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = uuid(&praise, "表扬")?;
        let command = PraiseCommand::WithdrawPraise {
            reason: text(&reason, "撤回理由")?,
        };
        Ok(api(ctx)
            .run::<Praise>(ctx, &id.to_string(), command, command_id)
            .await?)
    }

    // -----------------------------------------------------------------------------------------
    // Places and people (administrators).
    // -----------------------------------------------------------------------------------------

    /// Register a county or a town (city scope administrators), under its parent.
    async fn register_region(
        &self,
        ctx: &Context<'_>,
        code: String,
        name: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = region(&code)?;
        within(ctx, &id)?;
        let command = OrganizationCommand::RegisterRegion {
            region: id.clone(),
            name,
        };
        Ok(api(ctx)
            .run::<Jurisdiction>(ctx, id.as_str(), command, command_id)
            .await?)
    }

    /// Register a village (or community) of a town.
    async fn register_village(
        &self,
        ctx: &Context<'_>,
        code: String,
        name: String,
        community: Option<bool>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let village = self::village(&code)?;
        within(ctx, &village)?;
        let town = village
            .town()
            .ok_or_else(|| ApiError::invalid("村社编码无效"))?;
        let command = OrganizationCommand::RegisterVillage {
            village,
            name,
            kind: if community.unwrap_or(false) {
                VillageKind::Community
            } else {
                VillageKind::Village
            },
        };
        Ok(api(ctx)
            .run::<Jurisdiction>(ctx, town.as_str(), command, command_id)
            .await?)
    }

    /// Appoint a person to a post over `scope` (a town for town roles, a village for
    /// village roles, any region for auditors and administrators), recorded in the
    /// jurisdiction that holds the post. `dutyAreas` for town leaders (分管领域).
    async fn appoint_cadre(
        &self,
        ctx: &Context<'_>,
        person: String,
        name: String,
        role: RoleInput,
        scope: String,
        duty_areas: Option<Vec<String>>,
        grid: Option<String>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        use xingcun_domain::Role;
        let scope = region(&scope)?;
        within(ctx, &scope)?;
        let role = match role {
            RoleInput::TownOfficeStaff => Role::TownOfficeStaff,
            RoleInput::TownLeader => Role::TownLeader {
                duty_areas: duty_areas.unwrap_or_default(),
            },
            RoleInput::PartyCommitteeSecretary => Role::PartyCommitteeSecretary,
            RoleInput::VillageSecretary => Role::VillageSecretary,
            RoleInput::VillageCadre => Role::VillageCadre,
            RoleInput::GridLeader => Role::GridLeader,
            RoleInput::Auditor => Role::Auditor,
            RoleInput::Administrator => Role::Administrator,
        };
        let jurisdiction = scope.town().unwrap_or_else(|| scope.clone());
        let command = OrganizationCommand::AppointCadre {
            person: self::person(&person)?,
            name,
            role,
            scope,
            grid: grid
                .as_deref()
                .map(|g| GridId::parse(g).map_err(|_| ApiError::invalid("网格编号无效")))
                .transpose()?,
        };
        Ok(api(ctx)
            .run::<Jurisdiction>(ctx, jurisdiction.as_str(), command, command_id)
            .await?)
    }

    /// Record that a cadre left their post (离任); their tokens stop working at once.
    async fn record_departure(
        &self,
        ctx: &Context<'_>,
        jurisdiction: String,
        person: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let id = region(&jurisdiction)?;
        within(ctx, &id)?;
        let command = OrganizationCommand::RecordDeparture {
            person: self::person(&person)?,
            reason,
        };
        Ok(api(ctx)
            .run::<Jurisdiction>(ctx, id.as_str(), command, command_id)
            .await?)
    }
}

/// Who is responsible for a matter of the 事项清单.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ResponsibleLevelInput {
    County,
    Town,
    Village,
    Grid,
}

/// What a matter is for a village.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MatterKindInput {
    /// 依法履职.
    Duty,
    /// 协助.
    Assist,
    /// 禁入.
    Barred,
}

/// A matter of the 事项清单 (village duty list).
#[derive(InputObject, Clone)]
pub struct MatterInputObject {
    pub code: String,
    pub name: String,
    pub category: String,
    pub level: ResponsibleLevelInput,
    pub kind: MatterKindInput,
    /// RFC 3339; when the item comes into force.
    pub effective_from: String,
    pub effective_to: Option<String>,
}

fn matter(input: &MatterInputObject) -> Result<xingcun_domain::catalogue::MatterInput, ApiError> {
    use xingcun_domain::catalogue::{MatterInput, MatterKind, ResponsibleLevel};
    Ok(MatterInput {
        code: input.code.clone(),
        name: input.name.clone(),
        category: input.category.clone(),
        level: match input.level {
            ResponsibleLevelInput::County => ResponsibleLevel::County,
            ResponsibleLevelInput::Town => ResponsibleLevel::Town,
            ResponsibleLevelInput::Village => ResponsibleLevel::Village,
            ResponsibleLevelInput::Grid => ResponsibleLevel::Grid,
        },
        kind: match input.kind {
            MatterKindInput::Duty => MatterKind::Duty,
            MatterKindInput::Assist => MatterKind::Assist,
            MatterKindInput::Barred => MatterKind::Barred,
        },
        effective_from: time(&input.effective_from, "生效时间")?,
        effective_to: input
            .effective_to
            .as_deref()
            .map(|t| time(t, "失效时间"))
            .transpose()?,
    })
}

/// One dimension of a 领雁指数 definition.
#[derive(InputObject, Clone)]
pub struct DimensionInput {
    /// Stable key: leadership, governance, public_reputation, or one the definition names.
    pub key: String,
    pub name: String,
    pub weight: i32,
}

/// A rater's score of one dimension, whole points 0..=100.
#[derive(InputObject, Clone)]
pub struct DimensionScoreInput {
    pub key: String,
    pub score: i32,
}

/// Configuration and reference data: the 事项清单, a town's settings, the 领雁指数.
#[derive(Default)]
pub struct ConfigurationMutation;

// GraphQL arguments are a mutation's parameters: some take many.
#[allow(clippy::too_many_arguments)]
#[Object]
impl ConfigurationMutation {
    /// 新增事项: add a matter to the 事项清单 of `catalogue` (the city, or a county).
    async fn add_matter(
        &self,
        ctx: &Context<'_>,
        catalogue: String,
        item: MatterInputObject,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let scope = region(&catalogue)?;
        within(ctx, &scope)?;
        let command = xingcun_domain::CatalogueCommand::AddMatter {
            catalogue: scope.clone(),
            item: matter(&item)?,
        };
        Ok(api(ctx)
            .run::<MatterCatalogue>(ctx, scope.as_str(), command, command_id)
            .await?)
    }

    /// 修订事项: replace a matter's fields (the code stays).
    async fn revise_matter(
        &self,
        ctx: &Context<'_>,
        catalogue: String,
        item: MatterInputObject,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let scope = region(&catalogue)?;
        within(ctx, &scope)?;
        let command = xingcun_domain::CatalogueCommand::ReviseMatter {
            catalogue: scope.clone(),
            item: matter(&item)?,
        };
        Ok(api(ctx)
            .run::<MatterCatalogue>(ctx, scope.as_str(), command, command_id)
            .await?)
    }

    /// 退出清单: take a matter out of force from now on.
    async fn retire_matter(
        &self,
        ctx: &Context<'_>,
        catalogue: String,
        code: String,
        reason: String,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let scope = region(&catalogue)?;
        within(ctx, &scope)?;
        let command = xingcun_domain::CatalogueCommand::RetireMatter {
            catalogue: scope.clone(),
            code,
            reason,
        };
        Ok(api(ctx)
            .run::<MatterCatalogue>(ctx, scope.as_str(), command, command_id)
            .await?)
    }

    /// A town's timeliness factors (percent of a task's score on time and late).
    async fn set_timeliness(
        &self,
        ctx: &Context<'_>,
        town: String,
        on_time_percent: i32,
        late_percent: i32,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let town = self::town(&town)?;
        within(ctx, &town)?;
        let command = xingcun_domain::SettingsCommand::SetTimeliness {
            town: town.clone(),
            on_time_percent: i64::from(on_time_percent),
            late_percent: i64::from(late_percent),
        };
        Ok(api(ctx)
            .run::<TaskSettings>(ctx, town.as_str(), command, command_id)
            .await?)
    }

    /// A town's procedure rules (templates, spending thresholds, step timing), as JSON in
    /// the shape the log stores them (`ProcedureRulesSet` events show it). Refused below the
    /// statutory floors (DOMAIN.md): 五议两公开 above 数额较大, notice periods, the record
    /// window.
    async fn set_procedure_rules(
        &self,
        ctx: &Context<'_>,
        town: String,
        rules: async_graphql::Json<serde_json::Value>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        let town = self::town(&town)?;
        within(ctx, &town)?;
        let rules: xingcun_domain::ProcedureRules = serde_json::from_value(rules.0)
            .map_err(|e| ApiError::invalid("决策程序规则格式不正确").detail(e.to_string()))?;
        let command = xingcun_domain::procedure::TownProcedureRulesCommand::SetProcedureRules {
            town: town.clone(),
            rules,
        };
        Ok(api(ctx)
            .run::<TownProcedureRules>(ctx, town.as_str(), command, command_id)
            .await?)
    }

    /// Publish a new version of the 领雁指数 definition for `scope` (normally the city):
    /// six dimensions with their weights. Every board re-ranks under it.
    async fn publish_index_definition(
        &self,
        ctx: &Context<'_>,
        scope: String,
        dimensions: Vec<DimensionInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        use xingcun_domain::ranking::{
            Dimension, DimensionKey, IndexDefinitionCommand, IndexDimensions,
        };
        let scope = region(&scope)?;
        within(ctx, &scope)?;
        let dimensions = dimensions
            .iter()
            .map(|d| {
                Ok(Dimension {
                    key: DimensionKey::parse(&d.key)
                        .map_err(|e| ApiError::invalid(e.to_string()))?,
                    name: d.name.clone(),
                    weight: count(d.weight, "权重")?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let dimensions =
            IndexDimensions::new(dimensions).map_err(|e| ApiError::invalid(e.to_string()))?;
        let command = IndexDefinitionCommand::PublishIndexDefinition {
            scope: scope.clone(),
            dimensions,
        };
        Ok(api(ctx)
            .run::<xingcun_domain::IndexDefinitionStream>(ctx, scope.as_str(), command, command_id)
            .await?)
    }

    /// A town rater's scores of a village secretary for a period (`2025`, `2025-Q4`,
    /// `2025-12`), under the 领雁指数 definition in force.
    async fn record_dimension_scores(
        &self,
        ctx: &Context<'_>,
        village: String,
        secretary: String,
        period: String,
        scores: Vec<DimensionScoreInput>,
        command_id: Option<String>,
    ) -> ApiResult<CommandResult> {
        writer(ctx)?;
        use xingcun_domain::ranking::{DimensionKey, DimensionScore, RatingCommand, RatingPeriod};
        let api = api(ctx);
        let village = self::village(&village)?;
        within(ctx, &village)?;
        let bad = || ApiError::invalid("考核周期应为 2025、2025-Q4 或 2025-12");
        let period = match period.split_once('-') {
            None => RatingPeriod::year(period.parse().map_err(|_| bad())?),
            Some((y, q)) if q.starts_with('Q') => RatingPeriod::quarter(
                y.parse().map_err(|_| bad())?,
                q[1..].parse().map_err(|_| bad())?,
            ),
            Some((y, m)) => {
                RatingPeriod::month(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?)
            }
        }
        .map_err(|e| ApiError::invalid(e.to_string()))?;
        let definition: xingcun_domain::IndexDefinitionStream =
            api.load(RegionId::shaoxing().as_str()).await?;
        let scores = scores
            .iter()
            .map(|s| {
                Ok(DimensionScore {
                    key: DimensionKey::parse(&s.key)
                        .map_err(|e| ApiError::invalid(e.to_string()))?,
                    score: count(s.score, "得分")?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let command = RatingCommand::RecordDimensionScores {
            village: village.clone(),
            secretary: person(&secretary)?,
            period,
            definition: definition.current(),
            scores,
        };
        Ok(api
            .run::<xingcun_domain::RatingSheet>(
                ctx,
                &format!("{village}-{period}"),
                command,
                command_id,
            )
            .await?)
    }
}

impl Api {
    /// A procedure step that the domain returned is appended as `ProcedureStepReturned`
    /// (the record keeps the attempt), then reported to the caller as `STEP_RETURNED`.
    async fn step_returned(&self, stream: &str, result: &CommandResult) -> Result<(), ApiError> {
        let Some(last) = result.positions.last() else {
            return Ok(());
        };
        let position = u64::try_from(*last).unwrap_or(0);
        let events = self.store.read_positions(&[position]).await?;
        match events.first() {
            Some(e) if e.event_type == "ProcedureStepReturned" && e.stream_id.ends_with(stream) => {
                let step = e
                    .payload
                    .get("step_name")
                    .and_then(|r| r.as_str())
                    .unwrap_or("该步骤");
                let missing: Vec<EvidenceKind> = e
                    .payload
                    .get("missing")
                    .and_then(|m| serde_json::from_value(m.clone()).ok())
                    .unwrap_or_default();
                let missing = missing
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("、");
                Err(ApiError::new(
                    "STEP_RETURNED",
                    format!("{step}缺少佐证材料({missing}),已退回,请补齐后重新录入"),
                )
                .detail(format!("recorded as returned at position {position}")))
            }
            _ => Ok(()),
        }
    }
}
