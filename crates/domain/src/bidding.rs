//! Bidding for town projects (揭榜挂帅): one stream per listing (`listing-{id}`).
//!
//! The town posts a listing (榜单); eligible villages bid before the deadline and may revise
//! or withdraw until then; after the deadline the town records a comparison meeting (比选会)
//! whose panel scores every bid on every criterion; the winner is computed, announced (公示)
//! and, once the notice period ended, awarded (揭榜); the winner reports delivery milestones
//! until the town accepts completion.
//!
//! Decisions made here:
//! - **Criterion weights are whole percentages that must sum to exactly 100**; nothing is
//!   normalised behind the town's back, so the published weights are the weights used.
//! - Scores are whole points 0..=100 per panel member, per criterion, per bid; every member
//!   scores every bid on every criterion. A bid's weighted total is
//!   `Σ_members Σ_criteria weight × score`; its published score (out of 100, in hundredths) is
//!   that total divided by the panel size. Comparing the exact totals avoids any rounding.
//! - **Tie-break**, in order: (1) the higher weighted total; (2) the higher summed score on
//!   the criteria taken from the heaviest weight down (equal weights in listing order);
//!   (3) the earlier final submission (submission or last revision: who settled first);
//!   (4) the lower village code, so the result is always deterministic.
//! - The comparison must carry evidence (评审记录); without it it is refused.
//! - The 公示 period starts when the comparison is recorded (server time) and counts calendar
//!   days in Asia/Shanghai ([`crate::calendar::period_end`]): a comparison recorded on
//!   13 May with 5 days of 公示 can be awarded from 24:00 on 18 May.
//! - **Open by default**: every village of the posting town may bid
//!   ([`Eligibility::WholeTown`], the default); a restricted list carries its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::evidence::EvidenceRef;
use crate::people::{Actor, PersonId, Role};
use crate::region::{RegionId, RegionLevel};
use crate::text::Text;

/// Id of one listing; its stream is `listing-{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ListingId(Uuid);

impl ListingId {
    pub const fn new(id: Uuid) -> Self {
        ListingId(id)
    }
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for ListingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A town's bidding configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RulesData", into = "RulesData")]
pub struct BiddingRules {
    notice_days: u32,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct RulesData {
    notice_days: u32,
}

/// Bidding configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BiddingRulesError {
    #[error("公示期设置为{0}天,应在1至60天之间")]
    BadNoticePeriod(u32),
}

impl Rejection for BiddingRulesError {
    fn code(&self) -> &'static str {
        "INVALID_INPUT"
    }
}

impl BiddingRules {
    pub const MAX_NOTICE_DAYS: u32 = 60;

    /// `notice_days`: the 公示 period before the award, 1..=60 days.
    pub fn new(notice_days: u32) -> Result<Self, BiddingRulesError> {
        if notice_days == 0 || notice_days > Self::MAX_NOTICE_DAYS {
            return Err(BiddingRulesError::BadNoticePeriod(notice_days));
        }
        Ok(BiddingRules { notice_days })
    }
    pub fn notice_days(&self) -> u32 {
        self.notice_days
    }
}

impl Default for BiddingRules {
    /// 公示 for 5 days.
    fn default() -> Self {
        BiddingRules { notice_days: 5 }
    }
}

impl TryFrom<RulesData> for BiddingRules {
    type Error = BiddingRulesError;
    fn try_from(d: RulesData) -> Result<Self, Self::Error> {
        BiddingRules::new(d.notice_days)
    }
}

impl From<BiddingRules> for RulesData {
    fn from(r: BiddingRules) -> Self {
        RulesData {
            notice_days: r.notice_days,
        }
    }
}

/// A criterion of comparison (评选标准) and its weight in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: Text,
    pub weight: u32,
}

/// Which villages may bid. 揭榜 is open competition (各村社自述优势自由竞榜): by default
/// ([`Eligibility::default`]) every village of the posting town may bid; a restricted list is
/// the exception and must say why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Eligibility {
    /// Every village of the town: the default.
    #[default]
    WholeTown,
    /// Only the villages named (sorted, without duplicates once posted), for the reason
    /// given (e.g. the project's site lies along one river). Posting refuses a list without a
    /// reason; `None` only in listings recorded before reasons were required.
    Villages {
        villages: Vec<RegionId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Text>,
    },
}

/// One panel member's scores for one bid, in the listing's criteria order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreSheet {
    pub member: PersonId,
    pub scores: Vec<u32>,
}

/// All panel members' scores for one village's bid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidScores {
    pub village: RegionId,
    pub sheets: Vec<ScoreSheet>,
}

/// A bid's place in the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedBid {
    /// 1 = winner.
    pub rank: u32,
    pub village: RegionId,
    /// `Σ_members Σ_criteria weight × score`.
    pub weighted_total: u64,
    /// Score out of 100 in hundredths (8650 = 86.50), rounded half up.
    pub score_centi: u64,
    /// Per criterion, the sum of the panel's scores.
    pub criterion_totals: Vec<u64>,
    /// When the bid was last submitted or revised.
    pub settled_at: DateTime<Utc>,
}

/// Scored bids, ranked by the documented tie-break. `bids` holds, per village, the time its
/// bid was settled and its panel scores (already checked to be complete and in range).
pub fn rank_bids(
    criteria: &[Criterion],
    bids: &[(RegionId, DateTime<Utc>, &BidScores)],
) -> Vec<RankedBid> {
    let mut order: Vec<usize> = (0..criteria.len()).collect();
    order.sort_by(|&a, &b| criteria[b].weight.cmp(&criteria[a].weight).then(a.cmp(&b)));
    let mut ranked: Vec<RankedBid> = bids
        .iter()
        .map(|(village, settled_at, scores)| {
            let mut criterion_totals = vec![0u64; criteria.len()];
            let mut weighted_total = 0u64;
            for sheet in &scores.sheets {
                for (i, (criterion, score)) in criteria.iter().zip(&sheet.scores).enumerate() {
                    criterion_totals[i] += u64::from(*score);
                    weighted_total += u64::from(criterion.weight) * u64::from(*score);
                }
            }
            let panel = u64::try_from(scores.sheets.len())
                .unwrap_or(u64::MAX)
                .max(1);
            RankedBid {
                rank: 0,
                village: village.clone(),
                weighted_total,
                score_centi: (2 * weighted_total + panel) / (2 * panel),
                criterion_totals,
                settled_at: *settled_at,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.weighted_total
            .cmp(&a.weighted_total)
            .then_with(|| {
                let key = |r: &RankedBid| -> Vec<u64> {
                    order.iter().map(|&i| r.criterion_totals[i]).collect()
                };
                key(b).cmp(&key(a))
            })
            .then(a.settled_at.cmp(&b.settled_at))
            .then_with(|| a.village.cmp(&b.village))
    });
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    ranked
}

/// Commands of a [`Listing`].
#[derive(Debug, Clone)]
pub enum ListingCommand {
    /// 发榜: the town posts the listing; `rules` are the town's bidding rules in force.
    PostListing {
        listing_id: ListingId,
        town: RegionId,
        project: Text,
        description: Text,
        criteria: Vec<Criterion>,
        eligibility: Eligibility,
        bid_deadline: DateTime<Utc>,
        rules: BiddingRules,
    },
    /// A village bids (报名/竞榜) with a statement of its advantages and attachments.
    SubmitBid {
        village: RegionId,
        statement: Text,
        attachments: Vec<EvidenceRef>,
    },
    /// Replace the village's bid before the deadline.
    ReviseBid {
        village: RegionId,
        statement: Text,
        attachments: Vec<EvidenceRef>,
    },
    /// Withdraw the village's bid before the deadline.
    WithdrawBid {
        village: RegionId,
        reason: Option<Text>,
    },
    /// 比选会: the panel's scores for every standing bid, after the deadline.
    RecordComparison {
        held_at: DateTime<Utc>,
        panel: Vec<PersonId>,
        scores: Vec<BidScores>,
        evidence: Vec<EvidenceRef>,
    },
    /// 揭榜: award the listing to the announced winner after the 公示 period.
    AwardListing,
    /// The winner reports a delivery milestone (进度节点).
    ReportMilestone {
        title: Text,
        reached_at: DateTime<Utc>,
        evidence: Vec<EvidenceRef>,
    },
    /// The town accepts the delivered project (验收).
    AcceptCompletion { note: Text },
    /// The town withdraws the listing before the award.
    CancelListing { reason: Text },
}

/// Facts of a listing. Each carries the town and the villages it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ListingEvent {
    ListingPosted {
        listing_id: ListingId,
        town: RegionId,
        project: Text,
        description: Text,
        criteria: Vec<Criterion>,
        eligibility: Eligibility,
        bid_deadline: DateTime<Utc>,
        notice_days: u32,
        posted_by: PersonId,
        posted_at: DateTime<Utc>,
    },
    BidSubmitted {
        listing_id: ListingId,
        town: RegionId,
        village: RegionId,
        statement: Text,
        attachments: Vec<EvidenceRef>,
        submitted_by: PersonId,
        submitted_at: DateTime<Utc>,
    },
    BidRevised {
        listing_id: ListingId,
        town: RegionId,
        village: RegionId,
        revision: u32,
        statement: Text,
        attachments: Vec<EvidenceRef>,
        revised_by: PersonId,
        revised_at: DateTime<Utc>,
    },
    BidWithdrawn {
        listing_id: ListingId,
        town: RegionId,
        village: RegionId,
        reason: Option<Text>,
        withdrawn_by: PersonId,
        withdrawn_at: DateTime<Utc>,
    },
    ComparisonRecorded {
        listing_id: ListingId,
        town: RegionId,
        held_at: DateTime<Utc>,
        panel: Vec<PersonId>,
        scores: Vec<BidScores>,
        ranking: Vec<RankedBid>,
        winner: RegionId,
        evidence: Vec<EvidenceRef>,
        recorded_by: PersonId,
        recorded_at: DateTime<Utc>,
    },
    /// 公示: the winner is announced for the notice period.
    WinnerPublicized {
        listing_id: ListingId,
        town: RegionId,
        winner: RegionId,
        score_centi: u64,
        notice_starts_at: DateTime<Utc>,
        notice_ends_at: DateTime<Utc>,
    },
    /// 揭榜.
    ListingAwarded {
        listing_id: ListingId,
        town: RegionId,
        winner: RegionId,
        awarded_by: PersonId,
        awarded_at: DateTime<Utc>,
    },
    MilestoneReported {
        listing_id: ListingId,
        town: RegionId,
        village: RegionId,
        seq: u32,
        title: Text,
        reached_at: DateTime<Utc>,
        evidence: Vec<EvidenceRef>,
        reported_by: PersonId,
        reported_at: DateTime<Utc>,
    },
    CompletionAccepted {
        listing_id: ListingId,
        town: RegionId,
        village: RegionId,
        milestones: u32,
        note: Text,
        accepted_by: PersonId,
        accepted_at: DateTime<Utc>,
    },
    ListingCancelled {
        listing_id: ListingId,
        town: RegionId,
        reason: Text,
        cancelled_by: PersonId,
        cancelled_at: DateTime<Utc>,
    },
}

impl DomainEvent for ListingEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ListingEvent::ListingPosted { .. } => "ListingPosted",
            ListingEvent::BidSubmitted { .. } => "BidSubmitted",
            ListingEvent::BidRevised { .. } => "BidRevised",
            ListingEvent::BidWithdrawn { .. } => "BidWithdrawn",
            ListingEvent::ComparisonRecorded { .. } => "ComparisonRecorded",
            ListingEvent::WinnerPublicized { .. } => "WinnerPublicized",
            ListingEvent::ListingAwarded { .. } => "ListingAwarded",
            ListingEvent::MilestoneReported { .. } => "MilestoneReported",
            ListingEvent::CompletionAccepted { .. } => "CompletionAccepted",
            ListingEvent::ListingCancelled { .. } => "ListingCancelled",
        }
    }

    /// The town, and the villages concerned: the eligible ones for a posting, the bidder for
    /// a bid, every ranked bidder for a comparison, the winner afterwards.
    fn regions(&self) -> Vec<RegionId> {
        match self {
            ListingEvent::ListingPosted {
                town, eligibility, ..
            } => {
                let mut regions = vec![town.clone()];
                if let Eligibility::Villages { villages, .. } = eligibility {
                    regions.extend(villages.iter().cloned());
                }
                regions
            }
            ListingEvent::ComparisonRecorded { town, ranking, .. } => {
                let mut regions = vec![town.clone()];
                regions.extend(ranking.iter().map(|r| r.village.clone()));
                regions
            }
            ListingEvent::BidSubmitted { town, village, .. }
            | ListingEvent::BidRevised { town, village, .. }
            | ListingEvent::BidWithdrawn { town, village, .. }
            | ListingEvent::MilestoneReported { town, village, .. }
            | ListingEvent::CompletionAccepted { town, village, .. }
            | ListingEvent::WinnerPublicized {
                town,
                winner: village,
                ..
            }
            | ListingEvent::ListingAwarded {
                town,
                winner: village,
                ..
            } => vec![town.clone(), village.clone()],
            ListingEvent::ListingCancelled { town, .. } => vec![town.clone()],
        }
    }
}

/// Where a listing stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum ListingStage {
    /// 征集中 (bids open until the deadline).
    Bidding,
    /// 已比选.
    Compared { winner: RegionId },
    /// 公示中.
    Publicized {
        winner: RegionId,
        ends_at: DateTime<Utc>,
    },
    /// 已揭榜 (delivery under way).
    Awarded {
        winner: RegionId,
        awarded_at: DateTime<Utc>,
    },
    /// 已验收.
    Completed { winner: RegionId },
    /// 已撤榜.
    Cancelled,
}

impl fmt::Display for ListingStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListingStage::Bidding => "征集中",
            ListingStage::Compared { .. } => "已比选",
            ListingStage::Publicized { .. } => "公示中",
            ListingStage::Awarded { .. } => "已揭榜",
            ListingStage::Completed { .. } => "已验收",
            ListingStage::Cancelled => "已撤榜",
        })
    }
}

/// Why a listing command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BiddingError {
    #[error("无权操作:发榜、比选、揭榜、验收由本镇人员办理,竞榜由本村书记或村干部办理")]
    Forbidden,
    #[error("只有中榜村可以报告项目进度")]
    NotTheWinner,
    #[error("{0} 不是乡镇(街道)区划代码")]
    NotATown(RegionId),
    #[error("该榜单不存在")]
    NotFound,
    #[error("该榜单已经发布")]
    AlreadyPosted,
    #[error("报名截止时间必须晚于当前时间")]
    DeadlineNotInFuture,
    #[error("至少需要一项评选标准")]
    NoCriteria,
    #[error("评选标准最多20项")]
    TooManyCriteria,
    #[error("评选标准“{0}”的权重必须大于零")]
    ZeroWeight(Text),
    #[error("评选标准的权重合计为{sum},必须正好是100")]
    WeightsDoNotSumTo100 { sum: u64 },
    #[error("评选标准“{0}”重复")]
    DuplicateCriterion(Text),
    #[error("至少需要一个可报名的村")]
    NoEligibleVillages,
    #[error("揭榜默认向本镇街所有村社开放;限定参与村社的,必须说明理由")]
    RestrictionWithoutReason,
    #[error("{0} 不是本镇的村")]
    VillageNotInTown(RegionId),
    #[error("{0} 不在本榜单的报名范围内")]
    NotEligible(RegionId),
    #[error("附件最多20个")]
    TooManyAttachments,
    #[error("报名已于 {deadline} 截止")]
    DeadlinePassed { deadline: DateTime<Utc> },
    #[error("该村已经报名,如需修改请使用修改报名")]
    BidAlreadySubmitted,
    #[error("该村没有有效的报名")]
    NoActiveBid,
    #[error("报名要到 {deadline} 才截止,截止前不能比选")]
    DeadlineNotPassed { deadline: DateTime<Utc> },
    #[error("比选会时间不能早于报名截止时间")]
    ComparisonBeforeDeadline,
    #[error("填报的时间 {0} 晚于当前时间")]
    ClaimedTimeInFuture(DateTime<Utc>),
    #[error("没有有效的报名,无法比选")]
    NoBids,
    #[error("评审组不能为空")]
    EmptyPanel,
    #[error("评审组成员 {0} 重复")]
    DuplicatePanelMember(PersonId),
    #[error("{0} 没有有效报名,不能打分")]
    ScoresForNonBid(RegionId),
    #[error("{0} 的报名缺少评分")]
    ScoresMissing(RegionId),
    #[error("{0} 的评分重复提交")]
    DuplicateScores(RegionId),
    #[error("{0} 不是评审组成员")]
    UnknownPanelMember(PersonId),
    #[error("评审组成员 {member} 没有给 {village} 打分(或重复打分)")]
    PanelMemberMissing { village: RegionId, member: PersonId },
    #[error("{village} 的评分应有{expected}项,与评选标准一致")]
    WrongNumberOfScores { village: RegionId, expected: usize },
    #[error("评分 {0} 超出0至100分")]
    ScoreOutOfRange(u32),
    #[error("缺少佐证材料")]
    MissingEvidence,
    #[error("榜单当前状态为{0},不能办理此事项")]
    WrongStage(ListingStage),
    #[error("公示期到 {ends_at} 才结束,结束前不能揭榜")]
    NoticeNotEnded { ends_at: DateTime<Utc> },
    #[error("进度节点时间不能早于揭榜时间")]
    MilestoneBeforeAward,
    #[error("还没有任何进度节点,不能验收")]
    NoMilestones,
}

impl Rejection for BiddingError {
    fn code(&self) -> &'static str {
        use BiddingError::*;
        match self {
            Forbidden | NotTheWinner => "FORBIDDEN",
            NotFound | NoActiveBid => "NOT_FOUND",
            AlreadyPosted | BidAlreadySubmitted | WrongStage(_) => "CONFLICT",
            NotATown(_)
            | NoCriteria
            | TooManyCriteria
            | ZeroWeight(_)
            | WeightsDoNotSumTo100 { .. }
            | DuplicateCriterion(_)
            | NoEligibleVillages
            | RestrictionWithoutReason
            | VillageNotInTown(_)
            | TooManyAttachments
            | EmptyPanel
            | DuplicatePanelMember(_)
            | ScoresForNonBid(_)
            | ScoresMissing(_)
            | DuplicateScores(_)
            | UnknownPanelMember(_)
            | PanelMemberMissing { .. }
            | WrongNumberOfScores { .. }
            | ScoreOutOfRange(_) => "INVALID_INPUT",
            DeadlineNotInFuture
            | NotEligible(_)
            | DeadlinePassed { .. }
            | DeadlineNotPassed { .. }
            | ComparisonBeforeDeadline
            | ClaimedTimeInFuture(_)
            | NoBids
            | MissingEvidence
            | NoticeNotEnded { .. }
            | MilestoneBeforeAward
            | NoMilestones => "RULE_VIOLATION",
        }
    }
}

/// A village's bid as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    pub statement: Text,
    pub attachments: Vec<EvidenceRef>,
    pub revision: u32,
    pub settled_at: DateTime<Utc>,
    pub withdrawn: bool,
}

/// A posted listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedListing {
    pub id: ListingId,
    pub town: RegionId,
    pub project: Text,
    pub criteria: Vec<Criterion>,
    pub eligibility: Eligibility,
    pub bid_deadline: DateTime<Utc>,
    pub notice_days: u32,
    pub bids: BTreeMap<RegionId, Bid>,
    pub stage: ListingStage,
    pub milestones: u32,
}

impl PostedListing {
    /// Bids not withdrawn, by village.
    pub fn standing_bids(&self) -> impl Iterator<Item = (&RegionId, &Bid)> {
        self.bids.iter().filter(|(_, b)| !b.withdrawn)
    }
}

/// A listing (榜单), stream `listing-{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    posted: Option<PostedListing>,
}

impl Listing {
    pub fn posted(&self) -> Option<&PostedListing> {
        self.posted.as_ref()
    }
}

const MAX_CRITERIA: usize = 20;
const MAX_ATTACHMENTS: usize = 20;

fn town_staff_for(actor: &Actor, town: &RegionId) -> Result<(), BiddingError> {
    let role_ok = matches!(
        actor.role(),
        Role::TownOfficeStaff | Role::TownLeader { .. } | Role::PartyCommitteeSecretary
    );
    if role_ok && actor.covers(town) {
        Ok(())
    } else {
        Err(BiddingError::Forbidden)
    }
}

fn village_cadre_for(actor: &Actor, village: &RegionId) -> Result<(), BiddingError> {
    let role_ok = matches!(actor.role(), Role::VillageSecretary | Role::VillageCadre);
    if role_ok && actor.covers(village) {
        Ok(())
    } else {
        Err(BiddingError::Forbidden)
    }
}

fn check_criteria(criteria: &[Criterion]) -> Result<(), BiddingError> {
    if criteria.is_empty() {
        return Err(BiddingError::NoCriteria);
    }
    if criteria.len() > MAX_CRITERIA {
        return Err(BiddingError::TooManyCriteria);
    }
    let mut names = BTreeSet::new();
    for c in criteria {
        if c.weight == 0 {
            return Err(BiddingError::ZeroWeight(c.name.clone()));
        }
        if !names.insert(c.name.as_str()) {
            return Err(BiddingError::DuplicateCriterion(c.name.clone()));
        }
    }
    let sum: u64 = criteria.iter().map(|c| u64::from(c.weight)).sum();
    if sum != 100 {
        return Err(BiddingError::WeightsDoNotSumTo100 { sum });
    }
    Ok(())
}

fn check_eligibility(
    town: &RegionId,
    eligibility: Eligibility,
) -> Result<Eligibility, BiddingError> {
    match eligibility {
        Eligibility::WholeTown => Ok(Eligibility::WholeTown),
        Eligibility::Villages {
            mut villages,
            reason,
        } => {
            if villages.is_empty() {
                return Err(BiddingError::NoEligibleVillages);
            }
            let Some(reason) = reason else {
                return Err(BiddingError::RestrictionWithoutReason);
            };
            if let Some(v) = villages
                .iter()
                .find(|v| v.level() != RegionLevel::Village || !town.contains(v))
            {
                return Err(BiddingError::VillageNotInTown(v.clone()));
            }
            villages.sort();
            villages.dedup();
            Ok(Eligibility::Villages {
                villages,
                reason: Some(reason),
            })
        }
    }
}

impl PostedListing {
    /// Whether the village has a bid that was not withdrawn.
    pub fn has_standing_bid(&self, village: &RegionId) -> bool {
        self.bids.get(village).is_some_and(|b| !b.withdrawn)
    }

    fn eligible(&self, village: &RegionId) -> bool {
        match &self.eligibility {
            Eligibility::WholeTown => {
                village.level() == RegionLevel::Village && self.town.contains(village)
            }
            Eligibility::Villages { villages, .. } => villages.contains(village),
        }
    }

    fn still_bidding(&self, now: DateTime<Utc>) -> Result<(), BiddingError> {
        if self.stage != ListingStage::Bidding {
            return Err(BiddingError::WrongStage(self.stage.clone()));
        }
        if now >= self.bid_deadline {
            return Err(BiddingError::DeadlinePassed {
                deadline: self.bid_deadline,
            });
        }
        Ok(())
    }

    fn check_scores(&self, panel: &[PersonId], scores: &[BidScores]) -> Result<(), BiddingError> {
        if panel.is_empty() {
            return Err(BiddingError::EmptyPanel);
        }
        let mut members = BTreeSet::new();
        for m in panel {
            if !members.insert(m) {
                return Err(BiddingError::DuplicatePanelMember(m.clone()));
            }
        }
        let mut scored = BTreeSet::new();
        for bid in scores {
            if !self.has_standing_bid(&bid.village) {
                return Err(BiddingError::ScoresForNonBid(bid.village.clone()));
            }
            if !scored.insert(&bid.village) {
                return Err(BiddingError::DuplicateScores(bid.village.clone()));
            }
            let mut sheets_by = BTreeSet::new();
            for sheet in &bid.sheets {
                if !members.contains(&sheet.member) {
                    return Err(BiddingError::UnknownPanelMember(sheet.member.clone()));
                }
                if !sheets_by.insert(&sheet.member) {
                    return Err(BiddingError::PanelMemberMissing {
                        village: bid.village.clone(),
                        member: sheet.member.clone(),
                    });
                }
                if sheet.scores.len() != self.criteria.len() {
                    return Err(BiddingError::WrongNumberOfScores {
                        village: bid.village.clone(),
                        expected: self.criteria.len(),
                    });
                }
                if let Some(bad) = sheet.scores.iter().find(|s| **s > 100) {
                    return Err(BiddingError::ScoreOutOfRange(*bad));
                }
            }
            if let Some(m) = panel.iter().find(|m| !sheets_by.contains(m)) {
                return Err(BiddingError::PanelMemberMissing {
                    village: bid.village.clone(),
                    member: m.clone(),
                });
            }
        }
        if let Some((village, _)) = self.standing_bids().find(|(v, _)| !scored.contains(v)) {
            return Err(BiddingError::ScoresMissing(village.clone()));
        }
        Ok(())
    }
}

impl Listing {
    fn get(&self) -> Result<&PostedListing, BiddingError> {
        self.posted.as_ref().ok_or(BiddingError::NotFound)
    }
}

impl Aggregate for Listing {
    const CATEGORY: &'static str = "listing";
    type Command = ListingCommand;
    type Event = ListingEvent;
    type Error = BiddingError;

    fn decide(
        &self,
        command: ListingCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<ListingEvent>, BiddingError> {
        let now = ctx.now;
        let who = ctx.actor.id.clone();
        match command {
            ListingCommand::PostListing {
                listing_id,
                town,
                project,
                description,
                criteria,
                eligibility,
                bid_deadline,
                rules,
            } => {
                if town.level() != RegionLevel::Town {
                    return Err(BiddingError::NotATown(town));
                }
                town_staff_for(ctx.actor, &town)?;
                if self.posted.is_some() {
                    return Err(BiddingError::AlreadyPosted);
                }
                if bid_deadline <= now {
                    return Err(BiddingError::DeadlineNotInFuture);
                }
                check_criteria(&criteria)?;
                let eligibility = check_eligibility(&town, eligibility)?;
                Ok(vec![ListingEvent::ListingPosted {
                    listing_id,
                    town,
                    project,
                    description,
                    criteria,
                    eligibility,
                    bid_deadline,
                    notice_days: rules.notice_days(),
                    posted_by: who,
                    posted_at: now,
                }])
            }
            ListingCommand::SubmitBid {
                village,
                statement,
                attachments,
            } => {
                let l = self.get()?;
                village_cadre_for(ctx.actor, &village)?;
                l.still_bidding(now)?;
                if !l.eligible(&village) {
                    return Err(BiddingError::NotEligible(village));
                }
                if l.has_standing_bid(&village) {
                    return Err(BiddingError::BidAlreadySubmitted);
                }
                if attachments.len() > MAX_ATTACHMENTS {
                    return Err(BiddingError::TooManyAttachments);
                }
                Ok(vec![ListingEvent::BidSubmitted {
                    listing_id: l.id,
                    town: l.town.clone(),
                    village,
                    statement,
                    attachments,
                    submitted_by: who,
                    submitted_at: now,
                }])
            }
            ListingCommand::ReviseBid {
                village,
                statement,
                attachments,
            } => {
                let l = self.get()?;
                village_cadre_for(ctx.actor, &village)?;
                l.still_bidding(now)?;
                let Some(bid) = l.bids.get(&village).filter(|b| !b.withdrawn) else {
                    return Err(BiddingError::NoActiveBid);
                };
                if attachments.len() > MAX_ATTACHMENTS {
                    return Err(BiddingError::TooManyAttachments);
                }
                Ok(vec![ListingEvent::BidRevised {
                    listing_id: l.id,
                    town: l.town.clone(),
                    village,
                    revision: bid.revision.saturating_add(1),
                    statement,
                    attachments,
                    revised_by: who,
                    revised_at: now,
                }])
            }
            ListingCommand::WithdrawBid { village, reason } => {
                let l = self.get()?;
                village_cadre_for(ctx.actor, &village)?;
                l.still_bidding(now)?;
                if !l.has_standing_bid(&village) {
                    return Err(BiddingError::NoActiveBid);
                }
                Ok(vec![ListingEvent::BidWithdrawn {
                    listing_id: l.id,
                    town: l.town.clone(),
                    village,
                    reason,
                    withdrawn_by: who,
                    withdrawn_at: now,
                }])
            }
            ListingCommand::RecordComparison {
                held_at,
                panel,
                scores,
                evidence,
            } => {
                let l = self.get()?;
                town_staff_for(ctx.actor, &l.town)?;
                if l.stage != ListingStage::Bidding {
                    return Err(BiddingError::WrongStage(l.stage.clone()));
                }
                if now < l.bid_deadline {
                    return Err(BiddingError::DeadlineNotPassed {
                        deadline: l.bid_deadline,
                    });
                }
                if held_at > now {
                    return Err(BiddingError::ClaimedTimeInFuture(held_at));
                }
                if held_at < l.bid_deadline {
                    return Err(BiddingError::ComparisonBeforeDeadline);
                }
                if l.standing_bids().next().is_none() {
                    return Err(BiddingError::NoBids);
                }
                l.check_scores(&panel, &scores)?;
                if evidence.is_empty() {
                    return Err(BiddingError::MissingEvidence);
                }
                let entries: Vec<(RegionId, DateTime<Utc>, &BidScores)> = scores
                    .iter()
                    .filter_map(|s| {
                        l.bids
                            .get(&s.village)
                            .map(|b| (s.village.clone(), b.settled_at, s))
                    })
                    .collect();
                let ranking = rank_bids(&l.criteria, &entries);
                let Some(first) = ranking.first() else {
                    return Err(BiddingError::NoBids);
                };
                let (winner, score_centi) = (first.village.clone(), first.score_centi);
                Ok(vec![
                    ListingEvent::ComparisonRecorded {
                        listing_id: l.id,
                        town: l.town.clone(),
                        held_at,
                        panel,
                        scores,
                        ranking,
                        winner: winner.clone(),
                        evidence,
                        recorded_by: who,
                        recorded_at: now,
                    },
                    ListingEvent::WinnerPublicized {
                        listing_id: l.id,
                        town: l.town.clone(),
                        winner,
                        score_centi,
                        notice_starts_at: now,
                        notice_ends_at: crate::calendar::period_end(now, l.notice_days),
                    },
                ])
            }
            ListingCommand::AwardListing => {
                let l = self.get()?;
                town_staff_for(ctx.actor, &l.town)?;
                let ListingStage::Publicized { winner, ends_at } = &l.stage else {
                    return Err(BiddingError::WrongStage(l.stage.clone()));
                };
                if now < *ends_at {
                    return Err(BiddingError::NoticeNotEnded { ends_at: *ends_at });
                }
                Ok(vec![ListingEvent::ListingAwarded {
                    listing_id: l.id,
                    town: l.town.clone(),
                    winner: winner.clone(),
                    awarded_by: who,
                    awarded_at: now,
                }])
            }
            ListingCommand::ReportMilestone {
                title,
                reached_at,
                evidence,
            } => {
                let l = self.get()?;
                let ListingStage::Awarded { winner, awarded_at } = &l.stage else {
                    return Err(BiddingError::WrongStage(l.stage.clone()));
                };
                if !matches!(
                    ctx.actor.role(),
                    Role::VillageSecretary | Role::VillageCadre
                ) {
                    return Err(BiddingError::Forbidden);
                }
                if !ctx.actor.covers(winner) {
                    return Err(BiddingError::NotTheWinner);
                }
                if reached_at > now {
                    return Err(BiddingError::ClaimedTimeInFuture(reached_at));
                }
                if reached_at < *awarded_at {
                    return Err(BiddingError::MilestoneBeforeAward);
                }
                if evidence.is_empty() {
                    return Err(BiddingError::MissingEvidence);
                }
                Ok(vec![ListingEvent::MilestoneReported {
                    listing_id: l.id,
                    town: l.town.clone(),
                    village: winner.clone(),
                    seq: l.milestones.saturating_add(1),
                    title,
                    reached_at,
                    evidence,
                    reported_by: who,
                    reported_at: now,
                }])
            }
            ListingCommand::AcceptCompletion { note } => {
                let l = self.get()?;
                town_staff_for(ctx.actor, &l.town)?;
                let ListingStage::Awarded { winner, .. } = &l.stage else {
                    return Err(BiddingError::WrongStage(l.stage.clone()));
                };
                if l.milestones == 0 {
                    return Err(BiddingError::NoMilestones);
                }
                Ok(vec![ListingEvent::CompletionAccepted {
                    listing_id: l.id,
                    town: l.town.clone(),
                    village: winner.clone(),
                    milestones: l.milestones,
                    note,
                    accepted_by: who,
                    accepted_at: now,
                }])
            }
            ListingCommand::CancelListing { reason } => {
                let l = self.get()?;
                town_staff_for(ctx.actor, &l.town)?;
                match l.stage {
                    ListingStage::Bidding
                    | ListingStage::Compared { .. }
                    | ListingStage::Publicized { .. } => {}
                    _ => return Err(BiddingError::WrongStage(l.stage.clone())),
                }
                Ok(vec![ListingEvent::ListingCancelled {
                    listing_id: l.id,
                    town: l.town.clone(),
                    reason,
                    cancelled_by: who,
                    cancelled_at: now,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &ListingEvent) {
        if let ListingEvent::ListingPosted {
            listing_id,
            town,
            project,
            criteria,
            eligibility,
            bid_deadline,
            notice_days,
            ..
        } = event
        {
            self.posted = Some(PostedListing {
                id: *listing_id,
                town: town.clone(),
                project: project.clone(),
                criteria: criteria.clone(),
                eligibility: eligibility.clone(),
                bid_deadline: *bid_deadline,
                notice_days: *notice_days,
                bids: BTreeMap::new(),
                stage: ListingStage::Bidding,
                milestones: 0,
            });
            return;
        }
        let Some(l) = self.posted.as_mut() else {
            return;
        };
        match event {
            ListingEvent::ListingPosted { .. } => {}
            ListingEvent::BidSubmitted {
                village,
                statement,
                attachments,
                submitted_at,
                ..
            } => {
                l.bids.insert(
                    village.clone(),
                    Bid {
                        statement: statement.clone(),
                        attachments: attachments.clone(),
                        revision: 0,
                        settled_at: *submitted_at,
                        withdrawn: false,
                    },
                );
            }
            ListingEvent::BidRevised {
                village,
                revision,
                statement,
                attachments,
                revised_at,
                ..
            } => {
                if let Some(bid) = l.bids.get_mut(village) {
                    bid.statement = statement.clone();
                    bid.attachments = attachments.clone();
                    bid.revision = *revision;
                    bid.settled_at = *revised_at;
                }
            }
            ListingEvent::BidWithdrawn { village, .. } => {
                if let Some(bid) = l.bids.get_mut(village) {
                    bid.withdrawn = true;
                }
            }
            ListingEvent::ComparisonRecorded { winner, .. } => {
                l.stage = ListingStage::Compared {
                    winner: winner.clone(),
                };
            }
            ListingEvent::WinnerPublicized {
                winner,
                notice_ends_at,
                ..
            } => {
                l.stage = ListingStage::Publicized {
                    winner: winner.clone(),
                    ends_at: *notice_ends_at,
                };
            }
            ListingEvent::ListingAwarded {
                winner, awarded_at, ..
            } => {
                l.stage = ListingStage::Awarded {
                    winner: winner.clone(),
                    awarded_at: *awarded_at,
                };
            }
            ListingEvent::MilestoneReported { seq, .. } => {
                l.milestones = *seq;
            }
            ListingEvent::CompletionAccepted { village, .. } => {
                l.stage = ListingStage::Completed {
                    winner: village.clone(),
                };
            }
            ListingEvent::ListingCancelled { .. } => {
                l.stage = ListingStage::Cancelled;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use chrono::TimeZone;
    use proptest::prelude::*;

    // 新昌县澄潭街道 and its villages 梅渚村, 棠村 (codes illustrative below the town).
    fn region(code: &str) -> RegionId {
        RegionId::parse(code).unwrap()
    }
    fn town() -> RegionId {
        region("330624004000")
    }
    fn meizhu() -> RegionId {
        region("330624004201")
    }
    fn tangcun() -> RegionId {
        region("330624004202")
    }
    fn third() -> RegionId {
        region("330624004203")
    }
    fn actor(id: &str, role: Role, scope: RegionId) -> Actor {
        Actor {
            id: PersonId::parse(id).unwrap(),
            role,
            scope,
        }
    }
    fn staff() -> Actor {
        actor("chengtan-staff", Role::TownOfficeStaff, town())
    }
    fn cadre_of(village: RegionId) -> Actor {
        actor(
            &format!("secretary-{}", village.as_str()),
            Role::VillageSecretary,
            village,
        )
    }
    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, 6, 8, 0, 0).unwrap()
    }
    fn at(days: i64, hours: i64) -> DateTime<Utc> {
        t0() + TimeDelta::days(days) + TimeDelta::hours(hours)
    }
    fn text(s: &str) -> Text {
        Text::parse(s).unwrap()
    }
    fn file(name: &str) -> EvidenceRef {
        EvidenceRef::new(&"cd".repeat(32), name).unwrap()
    }
    fn criteria() -> Vec<Criterion> {
        vec![
            Criterion {
                name: text("建设方案"),
                weight: 40,
            },
            Criterion {
                name: text("场地条件"),
                weight: 35,
            },
            Criterion {
                name: text("运营保障"),
                weight: 25,
            },
        ]
    }
    fn panel() -> Vec<PersonId> {
        ["judge-a", "judge-b"]
            .into_iter()
            .map(|p| PersonId::parse(p).unwrap())
            .collect()
    }

    fn when(
        given: &[ListingEvent],
        command: ListingCommand,
        who: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<ListingEvent>, BiddingError> {
        Listing::replay(given).decide(command, &CommandContext { actor: who, now })
    }
    fn then_ok(
        history: &mut Vec<ListingEvent>,
        command: ListingCommand,
        who: &Actor,
        now: DateTime<Utc>,
    ) -> Vec<ListingEvent> {
        let events = when(history, command, who, now).unwrap();
        history.extend(events.clone());
        events
    }

    fn post_with(
        criteria: Vec<Criterion>,
        eligibility: Eligibility,
        rules: BiddingRules,
    ) -> ListingCommand {
        ListingCommand::PostListing {
            listing_id: ListingId::new(Uuid::from_u128(7)),
            town: town(),
            project: text("建设儿童照护驿站"),
            description: text("在村内建设儿童照护驿站,一周内建成投用"),
            criteria,
            eligibility,
            bid_deadline: at(7, 0),
            rules,
        }
    }
    fn post() -> ListingCommand {
        post_with(criteria(), Eligibility::WholeTown, BiddingRules::default())
    }
    fn posted() -> Vec<ListingEvent> {
        let mut h = Vec::new();
        then_ok(&mut h, post(), &staff(), t0());
        h
    }
    fn submit(village: RegionId) -> ListingCommand {
        ListingCommand::SubmitBid {
            village,
            statement: text("村集体有闲置用房,妇联志愿者可常驻"),
            attachments: vec![file("场地照片.jpg")],
        }
    }
    fn with_bids() -> Vec<ListingEvent> {
        let mut h = posted();
        then_ok(&mut h, submit(meizhu()), &cadre_of(meizhu()), at(1, 0));
        then_ok(&mut h, submit(tangcun()), &cadre_of(tangcun()), at(2, 0));
        h
    }
    fn sheet(member: &str, scores: &[u32]) -> ScoreSheet {
        ScoreSheet {
            member: PersonId::parse(member).unwrap(),
            scores: scores.to_vec(),
        }
    }
    fn scores_for(village: RegionId, a: &[u32], b: &[u32]) -> BidScores {
        BidScores {
            village,
            sheets: vec![sheet("judge-a", a), sheet("judge-b", b)],
        }
    }
    fn compare(scores: Vec<BidScores>) -> ListingCommand {
        ListingCommand::RecordComparison {
            held_at: at(7, 2),
            panel: panel(),
            scores,
            evidence: vec![file("比选会记录.pdf")],
        }
    }
    /// 棠村 wins on the weighted total although 梅渚村 has the higher raw sum.
    fn standard_scores() -> Vec<BidScores> {
        vec![
            scores_for(meizhu(), &[60, 70, 100], &[60, 70, 100]),
            scores_for(tangcun(), &[90, 80, 50], &[90, 80, 50]),
        ]
    }
    fn compared() -> Vec<ListingEvent> {
        let mut h = with_bids();
        then_ok(&mut h, compare(standard_scores()), &staff(), at(7, 3));
        h
    }
    fn awarded() -> Vec<ListingEvent> {
        let mut h = compared();
        then_ok(&mut h, ListingCommand::AwardListing, &staff(), at(12, 8));
        h
    }
    fn milestone(reached_at: DateTime<Utc>) -> ListingCommand {
        ListingCommand::ReportMilestone {
            title: text("驿站装修完成"),
            reached_at,
            evidence: vec![file("驿站照片.jpg")],
        }
    }

    // --- posting -------------------------------------------------------------------------------

    #[test]
    fn the_town_posts_a_listing() {
        let events = when(&[], post(), &staff(), t0()).unwrap();
        let [ListingEvent::ListingPosted { notice_days, .. }] = events.as_slice() else {
            panic!("expected ListingPosted");
        };
        assert_eq!(*notice_days, 5);
        assert_eq!(events[0].event_type(), "ListingPosted");
        assert_eq!(events[0].regions(), vec![town()]);
        let leader = actor(
            "leader",
            Role::TownLeader {
                duty_areas: vec!["民政".into()],
            },
            town(),
        );
        assert!(when(&[], post(), &leader, t0()).is_ok());
    }

    #[test]
    fn only_the_towns_own_staff_may_post() {
        for who in [
            cadre_of(meizhu()),
            actor("fq-staff", Role::TownOfficeStaff, region("330681109000")),
            actor("auditor", Role::Auditor, town()),
        ] {
            assert_eq!(
                when(&[], post(), &who, t0()).unwrap_err(),
                BiddingError::Forbidden
            );
        }
    }

    #[test]
    fn posting_refuses_a_non_town_a_second_post_and_a_past_deadline() {
        let ListingCommand::PostListing {
            listing_id,
            project,
            description,
            criteria,
            eligibility,
            rules,
            ..
        } = post()
        else {
            unreachable!()
        };
        let for_village = ListingCommand::PostListing {
            listing_id,
            town: meizhu(),
            project: project.clone(),
            description: description.clone(),
            criteria: criteria.clone(),
            eligibility: eligibility.clone(),
            bid_deadline: at(7, 0),
            rules,
        };
        assert!(matches!(
            when(&[], for_village, &staff(), t0()).unwrap_err(),
            BiddingError::NotATown(_)
        ));
        assert_eq!(
            when(&posted(), post(), &staff(), t0()).unwrap_err(),
            BiddingError::AlreadyPosted
        );
        assert_eq!(
            when(&[], post(), &staff(), at(7, 0)).unwrap_err(),
            BiddingError::DeadlineNotInFuture
        );
    }

    #[test]
    fn criteria_must_be_distinct_positive_and_sum_to_100() {
        let c = |name: &str, weight| Criterion {
            name: text(name),
            weight,
        };
        let cases = [
            (vec![], BiddingError::NoCriteria),
            (
                vec![c("方案", 100), c("条件", 0)],
                BiddingError::ZeroWeight(text("条件")),
            ),
            (
                vec![c("方案", 50), c("条件", 40)],
                BiddingError::WeightsDoNotSumTo100 { sum: 90 },
            ),
            (
                vec![c("方案", 50), c("方案", 50)],
                BiddingError::DuplicateCriterion(text("方案")),
            ),
            (
                (0..21).map(|i| c(&format!("标准{i}"), 5)).collect(),
                BiddingError::TooManyCriteria,
            ),
        ];
        for (criteria, error) in cases {
            let command = post_with(criteria, Eligibility::WholeTown, BiddingRules::default());
            assert_eq!(when(&[], command, &staff(), t0()).unwrap_err(), error);
        }
    }

    #[test]
    fn every_village_of_the_town_may_bid_by_default_and_a_restriction_says_why() {
        assert_eq!(Eligibility::default(), Eligibility::WholeTown);
        let mut h = Vec::new();
        then_ok(
            &mut h,
            post_with(criteria(), Eligibility::default(), BiddingRules::default()),
            &staff(),
            t0(),
        );
        for village in [meizhu(), tangcun()] {
            assert!(when(&h, submit(village.clone()), &cadre_of(village), at(1, 0)).is_ok());
        }
        let unexplained = post_with(
            criteria(),
            Eligibility::Villages {
                villages: vec![tangcun()],
                reason: None,
            },
            BiddingRules::default(),
        );
        let err = when(&[], unexplained, &staff(), t0()).unwrap_err();
        assert_eq!(err, BiddingError::RestrictionWithoutReason);
        assert_eq!(err.code(), "INVALID_INPUT");
        // A listing recorded before reasons were required still reads.
        let old = serde_json::json!({ "scope": "villages", "villages": [tangcun()] });
        assert_eq!(
            serde_json::from_value::<Eligibility>(old).unwrap(),
            Eligibility::Villages {
                villages: vec![tangcun()],
                reason: None
            }
        );
    }

    #[test]
    fn eligible_villages_must_be_villages_of_the_town() {
        let command = post_with(
            criteria(),
            Eligibility::Villages {
                villages: vec![],
                reason: Some(text("沿河项目")),
            },
            BiddingRules::default(),
        );
        assert_eq!(
            when(&[], command, &staff(), t0()).unwrap_err(),
            BiddingError::NoEligibleVillages
        );
        for outside in [region("330681109201"), town()] {
            let command = post_with(
                criteria(),
                Eligibility::Villages {
                    villages: vec![meizhu(), outside.clone()],
                    reason: Some(text("项目选址限于沿河村社")),
                },
                BiddingRules::default(),
            );
            assert_eq!(
                when(&[], command, &staff(), t0()).unwrap_err(),
                BiddingError::VillageNotInTown(outside)
            );
        }
        let command = post_with(
            criteria(),
            Eligibility::Villages {
                villages: vec![tangcun(), meizhu(), tangcun()],
                reason: Some(text("项目选址限于沿河村社")),
            },
            BiddingRules::default(),
        );
        let events = when(&[], command, &staff(), t0()).unwrap();
        assert_eq!(events[0].regions(), vec![town(), meizhu(), tangcun()]);
    }

    // --- bids ----------------------------------------------------------------------------------

    #[test]
    fn an_eligible_village_bids_before_the_deadline() {
        let events = when(&posted(), submit(meizhu()), &cadre_of(meizhu()), at(1, 0)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [ListingEvent::BidSubmitted { village, .. }] if *village == meizhu()
        ));
        assert_eq!(events[0].regions(), vec![town(), meizhu()]);
    }

    #[test]
    fn bids_are_refused_when_not_posted_not_eligible_not_ones_own_or_late() {
        assert_eq!(
            when(&[], submit(meizhu()), &cadre_of(meizhu()), at(1, 0)).unwrap_err(),
            BiddingError::NotFound
        );
        let h = posted();
        assert_eq!(
            when(&h, submit(meizhu()), &cadre_of(tangcun()), at(1, 0)).unwrap_err(),
            BiddingError::Forbidden
        );
        assert_eq!(
            when(&h, submit(meizhu()), &staff(), at(1, 0)).unwrap_err(),
            BiddingError::Forbidden
        );
        assert_eq!(
            when(&h, submit(meizhu()), &cadre_of(meizhu()), at(7, 0)).unwrap_err(),
            BiddingError::DeadlinePassed { deadline: at(7, 0) }
        );
        let outsider = region("330681109201");
        assert_eq!(
            when(
                &h,
                submit(outsider.clone()),
                &cadre_of(outsider.clone()),
                at(1, 0)
            )
            .unwrap_err(),
            BiddingError::NotEligible(outsider)
        );
        let mut only = Vec::new();
        then_ok(
            &mut only,
            post_with(
                criteria(),
                Eligibility::Villages {
                    villages: vec![tangcun()],
                    reason: Some(text("项目选址限于沿河村社")),
                },
                BiddingRules::default(),
            ),
            &staff(),
            t0(),
        );
        assert_eq!(
            when(&only, submit(meizhu()), &cadre_of(meizhu()), at(1, 0)).unwrap_err(),
            BiddingError::NotEligible(meizhu())
        );
        let too_many = ListingCommand::SubmitBid {
            village: meizhu(),
            statement: text("优势"),
            attachments: vec![file("a.jpg"); 21],
        };
        assert_eq!(
            when(&h, too_many, &cadre_of(meizhu()), at(1, 0)).unwrap_err(),
            BiddingError::TooManyAttachments
        );
    }

    #[test]
    fn a_village_bids_once_then_revises() {
        let h = with_bids();
        assert_eq!(
            when(&h, submit(meizhu()), &cadre_of(meizhu()), at(3, 0)).unwrap_err(),
            BiddingError::BidAlreadySubmitted
        );
        let revise = |village| ListingCommand::ReviseBid {
            village,
            statement: text("补充:已落实运营经费"),
            attachments: vec![],
        };
        let mut h = h;
        let events = then_ok(&mut h, revise(meizhu()), &cadre_of(meizhu()), at(3, 0));
        assert!(matches!(
            events.as_slice(),
            [ListingEvent::BidRevised { revision: 1, .. }]
        ));
        let listing = Listing::replay(&h);
        let bid = &listing.posted().unwrap().bids[&meizhu()];
        assert_eq!((bid.revision, bid.settled_at), (1, at(3, 0)));
        assert_eq!(
            when(&h, revise(third()), &cadre_of(third()), at(3, 0)).unwrap_err(),
            BiddingError::NoActiveBid
        );
        assert!(matches!(
            when(&h, revise(meizhu()), &cadre_of(meizhu()), at(7, 1)).unwrap_err(),
            BiddingError::DeadlinePassed { .. }
        ));
    }

    #[test]
    fn a_village_withdraws_before_the_deadline_and_may_bid_again() {
        let mut h = with_bids();
        let withdraw = || ListingCommand::WithdrawBid {
            village: meizhu(),
            reason: Some(text("场地另有安排")),
        };
        assert!(matches!(
            when(&h, withdraw(), &cadre_of(meizhu()), at(7, 0)).unwrap_err(),
            BiddingError::DeadlinePassed { .. }
        ));
        then_ok(&mut h, withdraw(), &cadre_of(meizhu()), at(3, 0));
        assert_eq!(
            when(&h, withdraw(), &cadre_of(meizhu()), at(3, 1)).unwrap_err(),
            BiddingError::NoActiveBid
        );
        assert_eq!(
            Listing::replay(&h)
                .posted()
                .unwrap()
                .standing_bids()
                .count(),
            1
        );
        then_ok(&mut h, submit(meizhu()), &cadre_of(meizhu()), at(4, 0));
        assert_eq!(
            Listing::replay(&h)
                .posted()
                .unwrap()
                .standing_bids()
                .count(),
            2
        );
    }

    // --- comparison ------------------------------------------------------------------------------

    #[test]
    fn the_weighted_scores_choose_the_winner_and_the_notice_starts() {
        let events = when(&with_bids(), compare(standard_scores()), &staff(), at(7, 3)).unwrap();
        let [
            ListingEvent::ComparisonRecorded {
                ranking, winner, ..
            },
            ListingEvent::WinnerPublicized {
                winner: announced,
                score_centi,
                notice_starts_at,
                notice_ends_at,
                ..
            },
        ] = events.as_slice()
        else {
            panic!("expected comparison and notice, got {events:?}");
        };
        // 棠村: 0.4*90 + 0.35*80 + 0.25*50 = 76.5; 梅渚村: 24 + 24.5 + 25 = 73.5.
        assert_eq!(winner, &tangcun());
        assert_eq!(announced, &tangcun());
        assert_eq!(*score_centi, 7650);
        assert_eq!(ranking[1].score_centi, 7350);
        assert_eq!(
            ranking.iter().map(|r| r.rank).collect::<Vec<_>>(),
            vec![1, 2]
        );
        // Recorded 13 May 19:00 in Shanghai; 5 calendar days: ends 24:00 on 18 May.
        assert_eq!((*notice_starts_at, *notice_ends_at), (at(7, 3), at(12, 8)));
        assert_eq!(
            *notice_ends_at,
            crate::testing::at("2025-05-19T00:00:00+08:00")
        );
        assert_eq!(events[0].regions(), vec![town(), tangcun(), meizhu()]);
    }

    #[test]
    fn ties_break_on_the_heaviest_criterion_then_earlier_settlement_then_code() {
        let criteria = criteria();
        let a = scores_for(meizhu(), &[50, 50, 50], &[50, 50, 50]);
        let b = scores_for(tangcun(), &[55, 40, 56], &[55, 40, 56]);
        // 40*55 + 35*40 + 25*56 = 2200 + 1400 + 1400 = 5000 = 40*50 + 35*50 + 25*50.
        let ranked = rank_bids(
            &criteria,
            &[(meizhu(), at(1, 0), &a), (tangcun(), at(2, 0), &b)],
        );
        assert_eq!(ranked[0].weighted_total, ranked[1].weighted_total);
        assert_eq!(ranked[0].village, tangcun(), "higher on 建设方案 (40%)");

        let c = scores_for(tangcun(), &[50, 50, 50], &[50, 50, 50]);
        let ranked = rank_bids(
            &criteria,
            &[(meizhu(), at(3, 0), &a), (tangcun(), at(2, 0), &c)],
        );
        assert_eq!(ranked[0].village, tangcun(), "settled earlier");
        let ranked = rank_bids(
            &criteria,
            &[(tangcun(), at(2, 0), &c), (meizhu(), at(2, 0), &a)],
        );
        assert_eq!(ranked[0].village, meizhu(), "lower code");
    }

    #[test]
    fn the_bid_deadline_is_exclusive_for_bids_and_inclusive_for_the_comparison() {
        let deadline = at(7, 0);
        let h = posted();
        let just_before = deadline - TimeDelta::seconds(1);
        assert!(when(&h, submit(meizhu()), &cadre_of(meizhu()), just_before).is_ok());
        let h = with_bids();
        // Held and recorded at the deadline itself.
        let at_deadline = ListingCommand::RecordComparison {
            held_at: deadline,
            panel: panel(),
            scores: standard_scores(),
            evidence: vec![file("记录.pdf")],
        };
        assert!(when(&h, at_deadline.clone(), &staff(), deadline).is_ok());
        assert!(matches!(
            when(&h, at_deadline, &staff(), just_before).unwrap_err(),
            BiddingError::DeadlineNotPassed { .. }
        ));
        let a_second_early = ListingCommand::RecordComparison {
            held_at: just_before,
            panel: panel(),
            scores: standard_scores(),
            evidence: vec![file("记录.pdf")],
        };
        assert_eq!(
            when(&h, a_second_early, &staff(), deadline).unwrap_err(),
            BiddingError::ComparisonBeforeDeadline
        );
    }

    #[test]
    fn comparison_waits_for_the_deadline_and_refuses_claims_outside_it() {
        let h = with_bids();
        assert!(matches!(
            when(&h, compare(standard_scores()), &staff(), at(6, 0)).unwrap_err(),
            BiddingError::DeadlineNotPassed { .. }
        ));
        let early = ListingCommand::RecordComparison {
            held_at: at(6, 23),
            panel: panel(),
            scores: standard_scores(),
            evidence: vec![file("记录.pdf")],
        };
        assert_eq!(
            when(&h, early, &staff(), at(7, 3)).unwrap_err(),
            BiddingError::ComparisonBeforeDeadline
        );
        assert!(matches!(
            when(&h, compare(standard_scores()), &staff(), at(7, 1)).unwrap_err(),
            BiddingError::ClaimedTimeInFuture(_)
        ));
        assert_eq!(
            when(
                &h,
                compare(standard_scores()),
                &cadre_of(tangcun()),
                at(7, 3)
            )
            .unwrap_err(),
            BiddingError::Forbidden
        );
        assert_eq!(
            when(&posted(), compare(vec![]), &staff(), at(7, 3)).unwrap_err(),
            BiddingError::NoBids
        );
        let no_evidence = ListingCommand::RecordComparison {
            held_at: at(7, 2),
            panel: panel(),
            scores: standard_scores(),
            evidence: vec![],
        };
        assert_eq!(
            when(&h, no_evidence, &staff(), at(7, 3)).unwrap_err(),
            BiddingError::MissingEvidence
        );
        let h = compared();
        assert!(matches!(
            when(&h, compare(standard_scores()), &staff(), at(8, 0)).unwrap_err(),
            BiddingError::WrongStage(ListingStage::Publicized { .. })
        ));
    }

    #[test]
    fn every_panel_member_scores_every_standing_bid_on_every_criterion() {
        let h = with_bids();
        let judge = |s: &str| PersonId::parse(s).unwrap();
        let ok_a = scores_for(meizhu(), &[1, 2, 3], &[1, 2, 3]);
        let ok_b = scores_for(tangcun(), &[1, 2, 3], &[1, 2, 3]);
        let with =
            |panel: Vec<PersonId>, scores: Vec<BidScores>| ListingCommand::RecordComparison {
                held_at: at(7, 2),
                panel,
                scores,
                evidence: vec![file("记录.pdf")],
            };
        let cases = [
            (with(vec![], vec![]), BiddingError::EmptyPanel),
            (
                with(vec![judge("judge-a"), judge("judge-a")], vec![]),
                BiddingError::DuplicatePanelMember(judge("judge-a")),
            ),
            (
                with(panel(), vec![ok_a.clone()]),
                BiddingError::ScoresMissing(tangcun()),
            ),
            (
                with(panel(), vec![ok_a.clone(), ok_a.clone(), ok_b.clone()]),
                BiddingError::DuplicateScores(meizhu()),
            ),
            (
                with(
                    panel(),
                    vec![
                        ok_a.clone(),
                        ok_b.clone(),
                        scores_for(third(), &[1, 2, 3], &[1, 2, 3]),
                    ],
                ),
                BiddingError::ScoresForNonBid(third()),
            ),
            (
                with(
                    panel(),
                    vec![
                        ok_a.clone(),
                        BidScores {
                            village: tangcun(),
                            sheets: vec![sheet("judge-a", &[1, 2, 3])],
                        },
                    ],
                ),
                BiddingError::PanelMemberMissing {
                    village: tangcun(),
                    member: judge("judge-b"),
                },
            ),
            (
                with(
                    panel(),
                    vec![
                        ok_a.clone(),
                        BidScores {
                            village: tangcun(),
                            sheets: vec![
                                sheet("judge-a", &[1, 2, 3]),
                                sheet("judge-x", &[1, 2, 3]),
                            ],
                        },
                    ],
                ),
                BiddingError::UnknownPanelMember(judge("judge-x")),
            ),
            (
                with(
                    panel(),
                    vec![ok_a.clone(), scores_for(tangcun(), &[1, 2], &[1, 2, 3])],
                ),
                BiddingError::WrongNumberOfScores {
                    village: tangcun(),
                    expected: 3,
                },
            ),
            (
                with(
                    panel(),
                    vec![
                        ok_a.clone(),
                        scores_for(tangcun(), &[1, 2, 101], &[1, 2, 3]),
                    ],
                ),
                BiddingError::ScoreOutOfRange(101),
            ),
        ];
        for (command, error) in cases {
            assert_eq!(when(&h, command, &staff(), at(7, 3)).unwrap_err(), error);
        }
    }

    #[test]
    fn a_withdrawn_bid_is_neither_scored_nor_ranked() {
        let mut h = with_bids();
        then_ok(
            &mut h,
            ListingCommand::WithdrawBid {
                village: tangcun(),
                reason: None,
            },
            &cadre_of(tangcun()),
            at(5, 0),
        );
        assert_eq!(
            when(&h, compare(standard_scores()), &staff(), at(7, 3)).unwrap_err(),
            BiddingError::ScoresForNonBid(tangcun())
        );
        let events = when(
            &h,
            compare(vec![standard_scores()[0].clone()]),
            &staff(),
            at(7, 3),
        )
        .unwrap();
        assert!(matches!(
            events.first(),
            Some(ListingEvent::ComparisonRecorded { ranking, winner, .. })
                if ranking.len() == 1 && *winner == meizhu()
        ));
    }

    // --- award, delivery, completion ------------------------------------------------------------

    #[test]
    fn the_award_waits_for_the_end_of_the_notice_period() {
        let h = compared();
        assert_eq!(
            when(
                &h,
                ListingCommand::AwardListing,
                &staff(),
                at(12, 8) - TimeDelta::seconds(1)
            )
            .unwrap_err(),
            BiddingError::NoticeNotEnded { ends_at: at(12, 8) }
        );
        let events = when(&h, ListingCommand::AwardListing, &staff(), at(12, 8)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [ListingEvent::ListingAwarded { winner, .. }] if *winner == tangcun()
        ));
        assert!(matches!(
            when(
                &with_bids(),
                ListingCommand::AwardListing,
                &staff(),
                at(8, 0)
            )
            .unwrap_err(),
            BiddingError::WrongStage(ListingStage::Bidding)
        ));
        assert_eq!(
            when(
                &h,
                ListingCommand::AwardListing,
                &cadre_of(tangcun()),
                at(13, 0)
            )
            .unwrap_err(),
            BiddingError::Forbidden
        );
    }

    #[test]
    fn the_notice_period_is_configurable() {
        assert_eq!(
            BiddingRules::new(0),
            Err(BiddingRulesError::BadNoticePeriod(0))
        );
        assert!(BiddingRules::new(61).is_err());
        let mut h = Vec::new();
        then_ok(
            &mut h,
            post_with(
                criteria(),
                Eligibility::WholeTown,
                BiddingRules::new(3).unwrap(),
            ),
            &staff(),
            t0(),
        );
        then_ok(&mut h, submit(meizhu()), &cadre_of(meizhu()), at(1, 0));
        let events = then_ok(
            &mut h,
            compare(vec![standard_scores()[0].clone()]),
            &staff(),
            at(7, 3),
        );
        assert!(matches!(
            events.last(),
            Some(ListingEvent::WinnerPublicized { notice_ends_at, .. }) if *notice_ends_at == at(10, 8)
        ));
        let json = serde_json::to_string(&BiddingRules::default()).unwrap();
        assert_eq!(json, r#"{"notice_days":5}"#);
        assert!(serde_json::from_str::<BiddingRules>(r#"{"notice_days":0}"#).is_err());
    }

    #[test]
    fn the_winner_reports_milestones_and_the_town_accepts_completion() {
        let mut h = awarded();
        assert_eq!(
            when(
                &h,
                ListingCommand::AcceptCompletion {
                    note: text("验收")
                },
                &staff(),
                at(13, 0)
            )
            .unwrap_err(),
            BiddingError::NoMilestones
        );
        let events = then_ok(
            &mut h,
            milestone(at(14, 0)),
            &cadre_of(tangcun()),
            at(14, 1),
        );
        assert!(matches!(
            events.as_slice(),
            [ListingEvent::MilestoneReported { seq: 1, .. }]
        ));
        let events = then_ok(
            &mut h,
            ListingCommand::AcceptCompletion {
                note: text("驿站已投用,验收合格"),
            },
            &staff(),
            at(15, 0),
        );
        assert!(matches!(
            events.as_slice(),
            [ListingEvent::CompletionAccepted { milestones: 1, village, .. }] if *village == tangcun()
        ));
        assert!(matches!(
            when(&h, milestone(at(15, 0)), &cadre_of(tangcun()), at(15, 1)).unwrap_err(),
            BiddingError::WrongStage(ListingStage::Completed { .. })
        ));
    }

    #[test]
    fn milestones_only_from_the_winner_after_the_award_with_evidence() {
        let h = awarded();
        assert_eq!(
            when(&h, milestone(at(14, 0)), &cadre_of(meizhu()), at(14, 1)).unwrap_err(),
            BiddingError::NotTheWinner
        );
        assert_eq!(
            when(&h, milestone(at(14, 0)), &staff(), at(14, 1)).unwrap_err(),
            BiddingError::Forbidden
        );
        assert!(matches!(
            when(&h, milestone(at(14, 2)), &cadre_of(tangcun()), at(14, 1)).unwrap_err(),
            BiddingError::ClaimedTimeInFuture(_)
        ));
        assert_eq!(
            when(&h, milestone(at(12, 0)), &cadre_of(tangcun()), at(14, 1)).unwrap_err(),
            BiddingError::MilestoneBeforeAward
        );
        let bare = ListingCommand::ReportMilestone {
            title: text("完工"),
            reached_at: at(14, 0),
            evidence: vec![],
        };
        assert_eq!(
            when(&h, bare, &cadre_of(tangcun()), at(14, 1)).unwrap_err(),
            BiddingError::MissingEvidence
        );
        assert!(matches!(
            when(
                &compared(),
                milestone(at(8, 0)),
                &cadre_of(tangcun()),
                at(8, 1)
            )
            .unwrap_err(),
            BiddingError::WrongStage(ListingStage::Publicized { .. })
        ));
    }

    #[test]
    fn a_listing_can_be_cancelled_before_the_award_only() {
        let cancel = || ListingCommand::CancelListing {
            reason: text("项目调整"),
        };
        let mut h = with_bids();
        then_ok(&mut h, cancel(), &staff(), at(3, 0));
        assert_eq!(
            when(&h, submit(third()), &cadre_of(third()), at(3, 1)).unwrap_err(),
            BiddingError::WrongStage(ListingStage::Cancelled)
        );
        assert!(when(&compared(), cancel(), &staff(), at(8, 0)).is_ok());
        assert!(matches!(
            when(&awarded(), cancel(), &staff(), at(13, 0)).unwrap_err(),
            BiddingError::WrongStage(ListingStage::Awarded { .. })
        ));
        assert_eq!(
            when(&posted(), cancel(), &cadre_of(meizhu()), at(1, 0)).unwrap_err(),
            BiddingError::Forbidden
        );
    }

    #[test]
    fn event_types_are_variant_names_and_codes_are_stable() {
        let mut h = awarded();
        then_ok(
            &mut h,
            milestone(at(14, 0)),
            &cadre_of(tangcun()),
            at(14, 1),
        );
        then_ok(
            &mut h,
            ListingCommand::AcceptCompletion {
                note: text("合格")
            },
            &staff(),
            at(15, 0),
        );
        let mut other = with_bids();
        then_ok(
            &mut other,
            ListingCommand::ReviseBid {
                village: meizhu(),
                statement: text("修改"),
                attachments: vec![],
            },
            &cadre_of(meizhu()),
            at(3, 0),
        );
        then_ok(
            &mut other,
            ListingCommand::WithdrawBid {
                village: meizhu(),
                reason: None,
            },
            &cadre_of(meizhu()),
            at(3, 1),
        );
        then_ok(
            &mut other,
            ListingCommand::CancelListing {
                reason: text("撤榜"),
            },
            &staff(),
            at(3, 2),
        );
        let mut seen = BTreeSet::new();
        for e in h.iter().chain(&other) {
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json["type"], e.event_type());
            assert!(e.regions().contains(&town()));
            seen.insert(e.event_type());
        }
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert_eq!(BiddingError::Forbidden.code(), "FORBIDDEN");
        assert_eq!(BiddingError::NotFound.code(), "NOT_FOUND");
        assert_eq!(BiddingError::BidAlreadySubmitted.code(), "CONFLICT");
        assert_eq!(BiddingError::EmptyPanel.code(), "INVALID_INPUT");
        assert_eq!(
            BiddingError::NoticeNotEnded { ends_at: t0() }.code(),
            "RULE_VIOLATION"
        );
    }

    // --- properties -------------------------------------------------------------------------------

    #[derive(Debug, Clone)]
    enum Op {
        Submit(usize),
        Revise(usize),
        Withdraw(usize),
        Compare { seed: Vec<u32>, skip_one: bool },
        Award,
        Milestone(i64),
        Accept,
        Cancel,
        Wait(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..4).prop_map(Op::Submit),
            2 => (0usize..4).prop_map(Op::Revise),
            1 => (0usize..4).prop_map(Op::Withdraw),
            3 => (proptest::collection::vec(0u32..=100, 24), proptest::bool::weighted(0.1))
                .prop_map(|(seed, skip_one)| Op::Compare { seed, skip_one }),
            2 => Just(Op::Award),
            2 => (0i64..30).prop_map(Op::Milestone),
            1 => Just(Op::Accept),
            1 => prop_oneof![20 => Just(Op::Wait(0)), 1 => Just(Op::Cancel)],
            4 => (0i64..72).prop_map(Op::Wait),
        ]
    }

    fn villages() -> [RegionId; 4] {
        [meizhu(), tangcun(), third(), region("330624004204")]
    }

    fn drive(ops: &[Op]) -> (Vec<ListingEvent>, Listing) {
        let mut now = t0();
        let mut history = Vec::new();
        let mut state = Listing::default();
        let mut apply = |state: &mut Listing, command, who: &Actor, now| {
            if let Ok(events) = state.decide(command, &CommandContext { actor: who, now }) {
                for e in &events {
                    state.evolve(e);
                }
                history.extend(events);
            }
        };
        apply(&mut state, post(), &staff(), now);
        let vs = villages();
        for op in ops {
            match op {
                Op::Wait(hours) => now += TimeDelta::hours(*hours),
                Op::Submit(i) => apply(
                    &mut state,
                    submit(vs[*i].clone()),
                    &cadre_of(vs[*i].clone()),
                    now,
                ),
                Op::Revise(i) => apply(
                    &mut state,
                    ListingCommand::ReviseBid {
                        village: vs[*i].clone(),
                        statement: text("修改"),
                        attachments: vec![],
                    },
                    &cadre_of(vs[*i].clone()),
                    now,
                ),
                Op::Withdraw(i) => apply(
                    &mut state,
                    ListingCommand::WithdrawBid {
                        village: vs[*i].clone(),
                        reason: None,
                    },
                    &cadre_of(vs[*i].clone()),
                    now,
                ),
                Op::Compare { seed, skip_one } => {
                    let mut scores: Vec<BidScores> = state
                        .posted()
                        .map(|l| {
                            l.standing_bids()
                                .enumerate()
                                .map(|(i, (v, _))| {
                                    let s = &seed[(i * 6) % 24..(i * 6) % 24 + 6];
                                    scores_for(v.clone(), &s[..3], &s[3..])
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if *skip_one {
                        scores.pop();
                    }
                    let command = ListingCommand::RecordComparison {
                        held_at: now,
                        panel: panel(),
                        scores,
                        evidence: vec![file("记录.pdf")],
                    };
                    apply(&mut state, command, &staff(), now);
                }
                Op::Award => apply(&mut state, ListingCommand::AwardListing, &staff(), now),
                Op::Milestone(back) => {
                    let winner = match state.posted().map(|l| &l.stage) {
                        Some(ListingStage::Awarded { winner, .. }) => winner.clone(),
                        _ => meizhu(),
                    };
                    apply(
                        &mut state,
                        milestone(now - TimeDelta::hours(*back)),
                        &cadre_of(winner),
                        now,
                    );
                }
                Op::Accept => apply(
                    &mut state,
                    ListingCommand::AcceptCompletion {
                        note: text("验收")
                    },
                    &staff(),
                    now,
                ),
                Op::Cancel => apply(
                    &mut state,
                    ListingCommand::CancelListing {
                        reason: text("撤榜"),
                    },
                    &staff(),
                    now,
                ),
            }
        }
        (history, state)
    }

    proptest! {
        #[test]
        fn bids_close_at_the_deadline_and_the_best_weighted_bid_wins(
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let (history, _) = drive(&ops);
            let deadline = at(7, 0);
            let mut notice_end = None;
            let mut awarded = None;
            for e in &history {
                match e {
                    ListingEvent::BidSubmitted { submitted_at: t, .. }
                    | ListingEvent::BidRevised { revised_at: t, .. }
                    | ListingEvent::BidWithdrawn { withdrawn_at: t, .. } => {
                        prop_assert!(*t < deadline);
                    }
                    ListingEvent::ComparisonRecorded { ranking, winner, recorded_at, .. } => {
                        prop_assert!(*recorded_at >= deadline);
                        prop_assert_eq!(&ranking[0].village, winner);
                        for pair in ranking.windows(2) {
                            prop_assert!(pair[0].weighted_total >= pair[1].weighted_total);
                        }
                    }
                    ListingEvent::WinnerPublicized { notice_ends_at, .. } => {
                        notice_end = Some(*notice_ends_at);
                    }
                    ListingEvent::ListingAwarded { awarded_at, .. } => {
                        prop_assert!(notice_end.is_some_and(|end| *awarded_at >= end));
                        awarded = Some(*awarded_at);
                    }
                    ListingEvent::MilestoneReported { reached_at, .. } => {
                        prop_assert!(awarded.is_some_and(|a| *reached_at >= a));
                    }
                    ListingEvent::CompletionAccepted { milestones, .. } => {
                        prop_assert!(*milestones > 0);
                    }
                    ListingEvent::ListingPosted { .. } | ListingEvent::ListingCancelled { .. } => {}
                }
            }
        }

        #[test]
        fn listing_replay_is_deterministic_and_events_round_trip(
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let (history, folded) = drive(&ops);
            prop_assert_eq!(&Listing::replay(&history), &folded);
            let decoded: Vec<ListingEvent> = history
                .iter()
                .map(|e| serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap())
                .collect();
            prop_assert_eq!(&decoded, &history);
            prop_assert_eq!(Listing::replay(&decoded), folded);
        }
    }

    #[test]
    fn the_property_driver_reaches_completion() {
        let ops = vec![
            Op::Submit(0),
            Op::Submit(1),
            Op::Wait(24 * 7),
            Op::Compare {
                seed: (0..24).collect(),
                skip_one: false,
            },
            Op::Wait(24 * 6),
            Op::Award,
            Op::Wait(2),
            Op::Milestone(1),
            Op::Accept,
        ];
        let (history, state) = drive(&ops);
        assert_eq!(history.len(), 8);
        assert!(matches!(
            state.posted().map(|l| &l.stage),
            Some(ListingStage::Completed { .. })
        ));
    }
}
