//! The GraphQL shapes of the read models. The projections crate knows nothing of GraphQL;
//! these mirror its rows field for field (times as RFC 3339 strings in UTC, money in fen,
//! scores in hundredths where the field name says `Centi` or `Hundredths`).

use async_graphql::{Enum, SimpleObject};
use xingcun_projections::{
    audit_trail, bid_board, directory, procedure_register, screening_stats, town_dashboard,
    village_board,
};

/// One task on a village's board (属于你的才显示).
#[derive(SimpleObject, Clone)]
pub struct BoardTask {
    pub task: String,
    pub village: String,
    pub town: String,
    pub title: String,
    pub category: String,
    pub matter_code: String,
    pub score: i64,
    pub deadline: String,
    pub dispatched_at: String,
    /// issued, signed, assigned, in_progress, submitted, accepted, returned, withdrawn.
    pub status: String,
    pub signed_by: Option<String>,
    pub assignee: Option<String>,
    pub progress_percent: Option<i64>,
    pub progress_note: Option<String>,
    pub on_time: Option<bool>,
    pub points_hundredths: Option<i64>,
    pub returns: i64,
    pub last_return_reason: Option<String>,
    /// 逾期: past the deadline now, neither accepted nor withdrawn.
    pub overdue: bool,
    pub position: i64,
}

impl From<village_board::BoardRow> for BoardTask {
    fn from(r: village_board::BoardRow) -> Self {
        BoardTask {
            task: r.task,
            village: r.village,
            town: r.town,
            title: r.title,
            category: r.category,
            matter_code: r.matter_code,
            score: r.score,
            deadline: r.deadline,
            dispatched_at: r.dispatched_at,
            status: r.status,
            signed_by: r.signed_by,
            assignee: r.assignee,
            progress_percent: r.progress_percent,
            progress_note: r.progress_note,
            on_time: r.on_time,
            points_hundredths: r.points_hundredths,
            returns: r.returns,
            last_return_reason: r.last_return_reason,
            overdue: r.overdue,
            position: r.position,
        }
    }
}

/// Villages of a task by the stage their work is at.
#[derive(SimpleObject, Clone, Copy)]
pub struct VillageCounts {
    pub issued: i64,
    pub signed: i64,
    pub in_progress: i64,
    pub submitted: i64,
    pub accepted: i64,
    pub returned: i64,
    pub withdrawn: i64,
}

impl From<town_dashboard::VillageCounts> for VillageCounts {
    fn from(c: town_dashboard::VillageCounts) -> Self {
        VillageCounts {
            issued: c.issued,
            signed: c.signed,
            in_progress: c.in_progress,
            submitted: c.submitted,
            accepted: c.accepted,
            returned: c.returned,
            withdrawn: c.withdrawn,
        }
    }
}

/// One task of a town's dispatch dashboard (镇街派单看板).
#[derive(SimpleObject, Clone)]
pub struct DashboardTask {
    pub task: String,
    pub town: String,
    pub title: String,
    pub category: String,
    pub source: String,
    pub leader: Option<String>,
    pub status: String,
    pub review_returns: i64,
    pub dispatched_at: Option<String>,
    pub deadline: String,
    pub villages: VillageCounts,
    pub returns: i64,
    pub overdue: i64,
    /// Villages where this task duplicates another (多头派单).
    pub duplicates: i64,
}

impl From<town_dashboard::DashboardTask> for DashboardTask {
    fn from(t: town_dashboard::DashboardTask) -> Self {
        DashboardTask {
            task: t.task,
            town: t.town,
            title: t.title,
            category: t.category,
            source: t.source,
            leader: t.leader,
            status: t.status,
            review_returns: t.review_returns,
            dispatched_at: t.dispatched_at,
            deadline: t.deadline,
            villages: t.villages.into(),
            returns: t.returns,
            overdue: t.overdue,
            duplicates: t.duplicates,
        }
    }
}

/// Tasks of a town grouped by office (duty area) or by leader in charge.
#[derive(SimpleObject, Clone)]
pub struct DashboardGroup {
    pub key: String,
    pub tasks: i64,
    pub dispatched: i64,
    pub villages: VillageCounts,
    pub returns: i64,
    pub overdue: i64,
}

impl From<town_dashboard::DashboardGroup> for DashboardGroup {
    fn from(g: town_dashboard::DashboardGroup) -> Self {
        DashboardGroup {
            key: g.key,
            tasks: g.tasks,
            dispatched: g.dispatched,
            villages: g.villages.into(),
            returns: g.returns,
            overdue: g.overdue,
        }
    }
}

/// A duplicate dispatch flagged (多头派单).
#[derive(SimpleObject, Clone)]
pub struct DuplicateFlag {
    pub task: String,
    pub village: String,
    pub duplicate_of: String,
    pub stage: String,
    pub matter_code: String,
    pub flagged_at: String,
    pub task_status: Option<String>,
}

impl From<town_dashboard::DuplicateFlag> for DuplicateFlag {
    fn from(d: town_dashboard::DuplicateFlag) -> Self {
        DuplicateFlag {
            task: d.task,
            village: d.village,
            duplicate_of: d.duplicate_of,
            stage: d.stage,
            matter_code: d.matter_code,
            flagged_at: d.flagged_at,
            task_status: d.task_status,
        }
    }
}

/// A town's dispatch dashboard.
#[derive(SimpleObject, Clone)]
pub struct TownDashboard {
    pub town: String,
    pub tasks: Vec<DashboardTask>,
    pub by_office: Vec<DashboardGroup>,
    pub by_leader: Vec<DashboardGroup>,
    pub duplicates: Vec<DuplicateFlag>,
}

/// Screening rejections in one month, for one reason and duty area.
#[derive(SimpleObject, Clone)]
pub struct RejectionCount {
    pub month: String,
    pub reason: String,
    pub category: String,
    pub rejected: i64,
}

impl From<screening_stats::RejectionCount> for RejectionCount {
    fn from(r: screening_stats::RejectionCount) -> Self {
        RejectionCount {
            month: r.month,
            reason: r.reason,
            category: r.category,
            rejected: r.rejected,
        }
    }
}

/// Tasks that reached villages in one month.
#[derive(SimpleObject, Clone)]
pub struct MonthCount {
    pub month: String,
    pub assignments: i64,
}

/// Screening statistics of a scope over a period.
#[derive(SimpleObject, Clone)]
pub struct ScreeningStatistics {
    /// The town, county or city code.
    pub scope: String,
    pub rejections: Vec<RejectionCount>,
    pub rejected_total: i64,
    pub reached_by_month: Vec<MonthCount>,
}

/// A file of evidence (佐证材料), named by its SHA-256.
#[derive(SimpleObject, Clone)]
pub struct Evidence {
    pub kind: String,
    pub sha256: String,
    pub name: String,
}

/// One step of a procedure.
#[derive(SimpleObject, Clone)]
pub struct ProcedureStep {
    pub step_no: i64,
    pub name: String,
    pub kind: String,
    pub state: String,
    pub body: Option<String>,
    pub claimed_at: Option<String>,
    pub expected: Option<i64>,
    pub present: Option<i64>,
    pub votes_for: Option<i64>,
    pub votes_against: Option<i64>,
    pub votes_abstain: Option<i64>,
    pub publicity_days: Option<i64>,
    pub publicity_ends_at: Option<String>,
    pub returns: i64,
    pub recorded_at: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// A step returned (out of order, without its minutes …).
#[derive(SimpleObject, Clone)]
pub struct StepReturn {
    pub position: i64,
    pub step_no: i64,
    pub step_name: String,
    pub claimed_at: String,
    pub missing: String,
    pub reason: String,
    pub returned_at: String,
}

/// A procedure of the register (决策程序台账).
#[derive(SimpleObject, Clone)]
pub struct ProcedureEntry {
    pub procedure: String,
    pub village: String,
    pub town: String,
    pub title: String,
    pub amount_fen: i64,
    pub template_id: String,
    pub template_name: String,
    pub status: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub rejected_step: Option<i64>,
    pub steps: Vec<ProcedureStep>,
    pub returns: Vec<StepReturn>,
}

impl From<procedure_register::ProcedureEntry> for ProcedureEntry {
    fn from(p: procedure_register::ProcedureEntry) -> Self {
        ProcedureEntry {
            procedure: p.procedure,
            village: p.village,
            town: p.town,
            title: p.title,
            amount_fen: p.amount_fen,
            template_id: p.template_id,
            template_name: p.template_name,
            status: p.status,
            started_at: p.started_at,
            ended_at: p.ended_at,
            rejected_step: p.rejected_step,
            steps: p
                .steps
                .into_iter()
                .map(|s| ProcedureStep {
                    step_no: s.step_no,
                    name: s.name,
                    kind: s.kind,
                    state: s.state,
                    body: s.body,
                    claimed_at: s.claimed_at,
                    expected: s.expected,
                    present: s.present,
                    votes_for: s.votes_for,
                    votes_against: s.votes_against,
                    votes_abstain: s.votes_abstain,
                    publicity_days: s.publicity_days,
                    publicity_ends_at: s.publicity_ends_at,
                    returns: s.returns,
                    recorded_at: s.recorded_at,
                    evidence: s
                        .evidence
                        .into_iter()
                        .map(|e| Evidence {
                            kind: e.kind,
                            sha256: e.sha256,
                            name: e.name,
                        })
                        .collect(),
                })
                .collect(),
            returns: p
                .returns
                .into_iter()
                .map(|r| StepReturn {
                    position: r.position,
                    step_no: r.step_no,
                    step_name: r.step_name,
                    claimed_at: r.claimed_at,
                    missing: r.missing,
                    reason: r.reason,
                    returned_at: r.returned_at,
                })
                .collect(),
        }
    }
}

/// A listing (榜单) of the bid board.
#[derive(SimpleObject, Clone)]
pub struct Listing {
    pub listing: String,
    pub town: String,
    pub project: String,
    pub description: String,
    pub eligibility: String,
    pub eligibility_reason: Option<String>,
    pub bid_deadline: String,
    pub notice_days: i64,
    pub posted_at: String,
    pub stage: String,
    pub winner: Option<String>,
    pub winner_score_centi: Option<i64>,
    pub notice_starts_at: Option<String>,
    pub notice_ends_at: Option<String>,
    pub awarded_at: Option<String>,
    pub milestones: i64,
    pub completed_at: Option<String>,
    pub cancelled_reason: Option<String>,
}

impl From<bid_board::ListingRow> for Listing {
    fn from(l: bid_board::ListingRow) -> Self {
        Listing {
            listing: l.listing,
            town: l.town,
            project: l.project,
            description: l.description,
            eligibility: l.eligibility,
            eligibility_reason: l.eligibility_reason,
            bid_deadline: l.bid_deadline,
            notice_days: l.notice_days,
            posted_at: l.posted_at,
            stage: l.stage,
            winner: l.winner,
            winner_score_centi: l.winner_score_centi,
            notice_starts_at: l.notice_starts_at,
            notice_ends_at: l.notice_ends_at,
            awarded_at: l.awarded_at,
            milestones: l.milestones,
            completed_at: l.completed_at,
            cancelled_reason: l.cancelled_reason,
        }
    }
}

/// One version of a bid (submitted or revised) or its withdrawal.
#[derive(SimpleObject, Clone)]
pub struct BidVersion {
    pub action: String,
    pub revision: Option<i64>,
    pub at: String,
}

/// One panel member's scores of a bid, per criterion in the listing's order.
#[derive(SimpleObject, Clone)]
pub struct PanelScores {
    pub member: String,
    pub scores: Vec<i64>,
}

/// A village's bid.
#[derive(SimpleObject, Clone)]
pub struct Bid {
    pub village: String,
    pub status: String,
    pub revision: i64,
    pub statement: String,
    pub attachments: i64,
    pub settled_at: String,
    pub submissions: i64,
    pub revisions: i64,
    pub withdrawals: i64,
    pub withdrawn_reason: Option<String>,
    pub rank: Option<i64>,
    pub score_centi: Option<i64>,
    pub history: Vec<BidVersion>,
    pub scores: Vec<PanelScores>,
}

/// A criterion of a listing with its weight.
#[derive(SimpleObject, Clone)]
pub struct Criterion {
    pub name: String,
    pub weight: i64,
}

/// A delivery milestone.
#[derive(SimpleObject, Clone)]
pub struct Milestone {
    pub seq: i64,
    pub title: String,
    pub reached_at: String,
    pub evidence: i64,
}

/// A listing with its bids, scores and milestones.
#[derive(SimpleObject, Clone)]
pub struct ListingDetail {
    pub listing: Listing,
    pub criteria: Vec<Criterion>,
    pub eligible: Vec<String>,
    pub panel: Vec<String>,
    pub bids: Vec<Bid>,
    pub milestones: Vec<Milestone>,
}

impl From<bid_board::ListingDetail> for ListingDetail {
    fn from(d: bid_board::ListingDetail) -> Self {
        ListingDetail {
            listing: d.listing.into(),
            criteria: d
                .criteria
                .into_iter()
                .map(|(name, weight)| Criterion { name, weight })
                .collect(),
            eligible: d.eligible,
            panel: d.panel,
            bids: d
                .bids
                .into_iter()
                .map(|b| Bid {
                    village: b.village,
                    status: b.status,
                    revision: b.revision,
                    statement: b.statement,
                    attachments: b.attachments,
                    settled_at: b.settled_at,
                    submissions: b.submissions,
                    revisions: b.revisions,
                    withdrawals: b.withdrawals,
                    withdrawn_reason: b.withdrawn_reason,
                    rank: b.rank,
                    score_centi: b.score_centi,
                    history: b
                        .history
                        .into_iter()
                        .map(|(action, revision, at)| BidVersion {
                            action,
                            revision,
                            at,
                        })
                        .collect(),
                    scores: b
                        .scores
                        .into_iter()
                        .map(|(member, scores)| PanelScores { member, scores })
                        .collect(),
                })
                .collect(),
            milestones: d
                .milestones
                .into_iter()
                .map(|m| Milestone {
                    seq: m.seq,
                    title: m.title,
                    reached_at: m.reached_at,
                    evidence: m.evidence,
                })
                .collect(),
        }
    }
}

/// One event of a village's audit trail (无感留痕), with its place in the chain.
#[derive(SimpleObject, Clone)]
pub struct TrailEvent {
    pub position: i64,
    pub stream_id: String,
    pub event_type: String,
    pub actor: String,
    pub recorded_at: String,
    pub prev_hash: String,
    pub hash: String,
    /// The event's content (read with the page's events, in one read, and sent only when
    /// asked for).
    pub payload: Option<async_graphql::Json<serde_json::Value>>,
}

impl From<audit_trail::TrailEntry> for TrailEvent {
    fn from(e: audit_trail::TrailEntry) -> Self {
        TrailEvent {
            position: e.position,
            stream_id: e.stream_id,
            event_type: e.event_type,
            actor: e.actor,
            recorded_at: e.recorded_at,
            prev_hash: e.prev_hash,
            hash: e.hash,
            payload: None,
        }
    }
}

/// A task as it stood at the moment asked.
#[derive(SimpleObject, Clone)]
pub struct TaskAsOf {
    pub task: String,
    pub title: String,
    pub deadline: String,
    pub status: String,
    pub overdue: bool,
    pub progress_percent: i32,
    pub rework_count: i32,
    pub points_hundredths: Option<i64>,
}

/// A village's state at a past moment, folded through the domain's own rules.
#[derive(SimpleObject, Clone)]
pub struct VillageAsOf {
    pub village: String,
    pub position: i64,
    pub recorded_at: Option<String>,
    pub events: i64,
    pub tasks_in_ledger: i64,
    pub tasks: Vec<TaskAsOf>,
}

impl From<audit_trail::VillageAsOf> for VillageAsOf {
    fn from(v: audit_trail::VillageAsOf) -> Self {
        VillageAsOf {
            village: v.village,
            position: i64::try_from(v.position).unwrap_or(i64::MAX),
            recorded_at: v.recorded_at,
            events: i64::try_from(v.events).unwrap_or(i64::MAX),
            tasks_in_ledger: i64::try_from(v.tasks_in_ledger).unwrap_or(i64::MAX),
            tasks: v
                .tasks
                .into_iter()
                .map(|t| TaskAsOf {
                    task: t.task,
                    title: t.title,
                    deadline: t.deadline,
                    status: t.status,
                    overdue: t.overdue,
                    progress_percent: i32::from(t.progress_percent),
                    rework_count: i32::try_from(t.rework_count).unwrap_or(i32::MAX),
                    points_hundredths: t.points_hundredths.and_then(|p| i64::try_from(p).ok()),
                })
                .collect(),
        }
    }
}

/// A region of the directory.
#[derive(SimpleObject, Clone)]
pub struct Region {
    pub code: String,
    pub level: String,
    pub name: String,
    pub parent: Option<String>,
}

impl From<directory::Region> for Region {
    fn from(r: directory::Region) -> Self {
        Region {
            code: r.region,
            level: r.level,
            name: r.name,
            parent: r.parent,
        }
    }
}

/// Where a read model stands.
#[derive(SimpleObject, Clone)]
pub struct ProjectionStatus {
    pub name: String,
    pub version: i64,
    pub active_build: Option<i64>,
    pub position: i64,
    pub head: i64,
    pub lag_events: i64,
    pub lag_seconds: i64,
    /// live, catching_up, rebuilding or failed.
    pub state: String,
    pub error: Option<String>,
}

/// The caller.
#[derive(SimpleObject, Clone)]
pub struct Me {
    pub person: String,
    pub name: String,
    /// The role's stable key (village_secretary, town_leader, auditor …).
    pub role: String,
    /// The role in Chinese (村社书记 …).
    pub role_title: String,
    pub duty_areas: Vec<String>,
    /// The region the person acts for.
    pub scope: String,
    pub scope_name: Option<String>,
    /// Whether the caller may change anything (auditors may not).
    pub can_write: bool,
}

/// A page of the audit trail.
#[derive(SimpleObject, Clone)]
pub struct TrailPage {
    pub events: Vec<TrailEvent>,
    /// Pass as `after` for the next page; null when this page is the last.
    pub next_after: Option<i64>,
}

/// What a mutation did to the log: the stream, its version after the command, the global
/// positions appended (pass the last one as `minPosition` to read your own write), and
/// whether it was a re-send of a command already done (nothing new appended).
#[derive(SimpleObject, Clone)]
pub struct CommandResult {
    /// The id of the thing acted on (task, assignment, procedure, listing, praise …).
    pub id: String,
    pub stream_id: String,
    pub stream_version: i64,
    pub positions: Vec<i64>,
    /// The last position appended, or the log's head when nothing was appended.
    pub position: i64,
    pub duplicate: bool,
}

/// Which leaderboard.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Board {
    /// 兴村治社榜.
    Villages,
    /// 先锋干部榜.
    Cadres,
}

/// What a board ranks on.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Measure {
    /// 工分.
    Points,
    /// 领雁指数 (under the definition in force, or `indexVersion`).
    Index,
}

/// Points by source (hundredths of a point) and the counts behind them.
#[derive(SimpleObject, Clone)]
pub struct PointsBreakdown {
    pub tasks: i64,
    pub procedures: i64,
    pub listings: i64,
    pub praise: i64,
    pub total: i64,
    pub tasks_accepted: i64,
    pub tasks_on_time: i64,
    pub task_returns: i64,
    pub procedures_completed: i64,
    pub listings_won: i64,
    pub listings_delivered: i64,
    pub praises: i64,
}

/// One dimension of a 领雁指数 with its score and where the score came from.
#[derive(SimpleObject, Clone)]
pub struct IndexDimension {
    pub key: String,
    pub name: String,
    pub weight: i64,
    /// 0..=10000 (hundredths); null when missing (counted as 0).
    pub score: Option<i64>,
    /// `tasks` (治理能力 from the record), `development` (发展实绩 from the record),
    /// `raters` (town raters' scores) or `missing`.
    pub source: String,
    /// The figures behind the score (counts, raters, periods).
    pub source_detail: async_graphql::Json<serde_json::Value>,
}

/// A 领雁指数.
#[derive(SimpleObject, Clone)]
pub struct IndexValue {
    pub definition_version: i64,
    /// 0..=10000 (hundredths of a point).
    pub value: i64,
    pub dimensions: Vec<IndexDimension>,
    pub ignored: Vec<String>,
}

/// One row of a leaderboard.
#[derive(SimpleObject, Clone)]
pub struct LeaderboardRow {
    /// Ties share a rank (1, 1, 3).
    pub rank: i64,
    /// The village code (兴村治社榜) or the cadre's person id (先锋干部榜).
    pub subject: String,
    pub name: Option<String>,
    pub village: String,
    pub village_name: Option<String>,
    pub town: String,
    pub county: String,
    pub points: Option<PointsBreakdown>,
    pub index: Option<IndexValue>,
}

impl From<xingcun_projections::leaderboard::LeaderboardRow> for LeaderboardRow {
    fn from(r: xingcun_projections::leaderboard::LeaderboardRow) -> Self {
        LeaderboardRow {
            rank: r.rank,
            subject: r.subject,
            name: r.name,
            village: r.village,
            village_name: r.village_name,
            town: r.town,
            county: r.county,
            points: r.points.map(|p| PointsBreakdown {
                tasks: p.tasks,
                procedures: p.procedures,
                listings: p.listings,
                praise: p.praise,
                total: p.total,
                tasks_accepted: p.tasks_accepted,
                tasks_on_time: p.tasks_on_time,
                task_returns: p.task_returns,
                procedures_completed: p.procedures_completed,
                listings_won: p.listings_won,
                listings_delivered: p.listings_delivered,
                praises: p.praises,
            }),
            index: r.index.map(|i| IndexValue {
                definition_version: i64::from(i.definition_version),
                value: i64::from(i.value),
                dimensions: i
                    .dimensions
                    .into_iter()
                    .map(|d| {
                        let detail = serde_json::to_value(&d.source).unwrap_or_default();
                        IndexDimension {
                            key: d.key,
                            name: d.name,
                            weight: i64::from(d.weight),
                            score: d.score.map(i64::from),
                            source: detail["source"].as_str().unwrap_or("missing").to_owned(),
                            source_detail: async_graphql::Json(detail),
                        }
                    })
                    .collect(),
                ignored: i.ignored,
            }),
        }
    }
}

/// An item of the 事项清单.
#[derive(SimpleObject, Clone)]
pub struct CatalogueItem {
    pub code: String,
    pub name: String,
    pub category: String,
    /// county, town, village or grid.
    pub level: String,
    /// duty (依法履职), assist (协助) or barred (禁入).
    pub kind: String,
    pub effective_from: String,
    pub effective_to: Option<String>,
    /// The catalogue version that last changed it.
    pub version: i64,
}

/// One version of a catalogue: what changed.
#[derive(SimpleObject, Clone)]
pub struct CatalogueChange {
    pub version: i64,
    /// added, revised or retired.
    pub change: String,
    pub code: String,
    pub reason: Option<String>,
    pub changed_by: String,
    pub recorded_at: String,
    pub position: i64,
}

/// A 事项清单 (of the city or a county) with its versions.
#[derive(SimpleObject, Clone)]
pub struct CatalogueList {
    pub scope: String,
    /// The latest version (0: empty).
    pub version: i64,
    pub items: Vec<CatalogueItem>,
    pub changes: Vec<CatalogueChange>,
}

/// The hash chain of the whole log, recomputed (what `xingcun verify` does).
#[derive(SimpleObject, Clone)]
pub struct ChainVerification {
    /// No event altered, deleted or inserted.
    pub intact: bool,
    pub events: i64,
    pub head_position: i64,
    /// The hash of the last event: keep it on record and compare it next time.
    pub head_hash: String,
    /// The first position found altered, deleted or inserted.
    pub broken_at: Option<i64>,
    /// What was found there.
    pub problem: Option<String>,
    pub verified_at: String,
}

/// A person in post.
#[derive(SimpleObject, Clone)]
pub struct Cadre {
    pub person: String,
    pub name: String,
    /// The role's stable key (village_secretary, village_cadre, grid_leader …).
    pub role: String,
    /// The role in Chinese.
    pub role_title: String,
    pub scope: String,
}
