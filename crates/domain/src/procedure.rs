//! Village decision procedures (村级重大事项决策程序): 五议两公开, 四议两公开, 村务联席会议.
//!
//! A procedure is one stream (`procedure-{id}`). It is started for one village with an amount
//! of money; the town's [`ProcedureRules`] choose the template from the amount and are
//! snapshotted into [`ProcedureEvent::ProcedureStarted`], so a later change of the town's rules
//! never changes how an old procedure replays.
//!
//! Decisions made here (documented because DOMAIN.md leaves them open):
//! - **Below 数额较大 no procedure is started**: [`ProcedureError::BelowThreshold`]. Such
//!   spending goes through ordinary village finance approval; letting a hollow procedure run
//!   would also inflate the "compliant procedures completed" points of the leaderboards.
//! - Thresholds are inclusive: an amount *reaching* 数额较大 needs the 村务联席会议 template,
//!   an amount reaching 数额巨大 needs the town's full template (默认 五议两公开).
//! - **Statutory floors no setting can switch off**: the 3-day proposal notice of a 党员大会,
//!   the 10-day announcement of a 村民会议, and the full procedure above 数额巨大 (the town's
//!   full template must hold the steps of 四议两公开 in order; the template above 数额较大 a
//!   committee meeting). A town may require more, never less: [`ProcedureRules::new`] and
//!   `SetProcedureRules` refuse a lighter configuration (`RULE_VIOLATION`), and rules
//!   recorded before the floors are applied with the floors anyway ([`StepTiming`],
//!   [`ProcedureRules::template_for`]). The record window (no 后补) is at most 7 days.
//! - **Days are calendar days in Asia/Shanghai** ([`crate::calendar`], 民法典 第二百零一条):
//!   a proposal sent on 3 March at 20:00 gives three days' notice for a 党员大会 on 6 March at
//!   09:00 (`days_between(sent, held) >= 3`); a meeting held on 1 March at 20:00 may be recorded
//!   until 24:00 on 4 March (`now < period_end(held, 3)`); a 公开 posted on 1 March for 7
//!   days ends at 24:00 on 8 March (`period_end(posted, 7)`).
//! - **Evidence per step kind** ([`StepKind::required_evidence`]); a step without all of it is
//!   returned:
//!
//!   | step kind | required evidence |
//!   |---|---|
//!   | 党员群众建议 (`Suggestions`) | 征求意见记录 |
//!   | 支委会/两委/联席会议 (`CommitteeMeeting`) | 会议记录, 签到表 |
//!   | 党员大会 (`PartyMembersMeeting`) | 会议记录, 签到表 |
//!   | 村民(代表)会议 (`VillagerResolution`, the meeting of the whole village) | 会议记录, 签到表, 现场照片 |
//!   | 公开 (`Publicity`) | 公示照片 (a photo of the notice) |
//!
//!   Minutes and a sign-in sheet for every meeting; a photo for every 公开 and for the
//!   meeting of the whole village. Further files (a photo of a committee meeting) are kept.
//! - Rule breaks (steps out of order, claimed times in the future, before the previous step or
//!   recorded after the window, counts that do not add up, quorum or notice periods not met)
//!   are **refused** (`Err`): nothing is recorded. Missing evidence is **returned**
//!   ([`ProcedureEvent::ProcedureStepReturned`], `Ok`): the return itself is a fact the
//!   dashboards count ("缺少佐证的一律退回"). Refusals are checked before evidence, so a return
//!   is only ever recorded for an otherwise valid step.
//! - A step "passes" at its claimed time; a 公开 step passes when its posting period ends. The
//!   next step may neither be recorded before that moment (server time) nor claim a time
//!   before it.
//! - When the last step is a meeting, [`ProcedureEvent::ProcedureCompleted`] is appended with
//!   it; when the last step is a 公开, [`ProcedureCommand::CompleteProcedure`] closes the
//!   procedure once the posting period has ended.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
use crate::calendar;
use crate::evidence::EvidenceRef;
use crate::people::{Actor, PersonId, Role};
use crate::region::{RegionId, RegionLevel};
use crate::text::Text;

// ---------------------------------------------------------------------------------------------
// Small value types
// ---------------------------------------------------------------------------------------------

/// An amount of money in 分 (1/100 yuan): no floating point near money.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(u64);

impl Money {
    pub const fn from_fen(fen: u64) -> Self {
        Money(fen)
    }
    /// Whole yuan (元); saturates instead of overflowing.
    pub const fn from_yuan(yuan: u64) -> Self {
        Money(yuan.saturating_mul(100))
    }
    pub const fn fen(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}元", self.0 / 100, self.0 % 100)
    }
}

/// Id of one procedure; its stream is `procedure-{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProcedureId(Uuid);

impl ProcedureId {
    pub const fn new(id: Uuid) -> Self {
        ProcedureId(id)
    }
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for ProcedureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Stable id of a template, e.g. `wuyi-liang-gongkai`: 1..=64 of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TemplateId(String);

impl TemplateId {
    /// 五议两公开 (浙江).
    pub const WUYI: &'static str = "wuyi-liang-gongkai";
    /// 四议两公开 (全国).
    pub const SIYI: &'static str = "siyi-liang-gongkai";
    /// 村务联席会议.
    pub const JOINT_MEETING: &'static str = "cunwu-lianxi-huiyi";

    pub fn parse(raw: &str) -> Result<Self, ProcedureRulesError> {
        let id = raw.trim();
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(TemplateId(id.to_owned()))
        } else {
            Err(ProcedureRulesError::BadTemplateId(raw.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TemplateId {
    type Error = ProcedureRulesError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        TemplateId::parse(&raw)
    }
}

impl From<TemplateId> for String {
    fn from(id: TemplateId) -> String {
        id.0
    }
}

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Templates and town rules (configuration as data)
// ---------------------------------------------------------------------------------------------

/// What kind of step a template step is; the kind fixes what is recorded and which quorum
/// and majority apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// 党员群众建议: suggestions collected from party members and villagers; no vote.
    Suggestions,
    /// A committee meeting that passes with more than half of its members:
    /// 村党组织提议 (支委会), 两委会议商议, 村务联席会议商议.
    CommitteeMeeting,
    /// 党员大会审议: more than 2/3 of all members present, passes with more than half of ALL
    /// members; the proposal goes to members days before.
    PartyMembersMeeting,
    /// 村民(代表)会议决议: held as 村民代表会议 or 村民会议 (see [`MeetingBody`]).
    VillagerResolution,
    /// 公开 (决议公开, 实施结果公开): a notice posted for a period.
    Publicity,
}

impl StepKind {
    /// The evidence a step of this kind must carry; without it the step is returned. See the
    /// module documentation for the table.
    pub fn required_evidence(self) -> &'static [EvidenceKind] {
        match self {
            StepKind::Suggestions => &[EvidenceKind::SuggestionRecord],
            StepKind::CommitteeMeeting | StepKind::PartyMembersMeeting => {
                &[EvidenceKind::Minutes, EvidenceKind::SignInSheet]
            }
            StepKind::VillagerResolution => &[
                EvidenceKind::Minutes,
                EvidenceKind::SignInSheet,
                EvidenceKind::Photo,
            ],
            StepKind::Publicity => &[EvidenceKind::NoticePhoto],
        }
    }

    fn label(self) -> &'static str {
        match self {
            StepKind::Suggestions => "意见建议征集",
            StepKind::CommitteeMeeting => "会议商议/提议",
            StepKind::PartyMembersMeeting => "党员大会",
            StepKind::VillagerResolution => "村民(代表)会议",
            StepKind::Publicity => "公开",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One step of a template: a name cadres read and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateStep {
    pub name: String,
    pub kind: StepKind,
}

impl TemplateStep {
    fn new(name: &str, kind: StepKind) -> Self {
        TemplateStep {
            name: name.to_owned(),
            kind,
        }
    }
}

/// An ordered list of steps (程序模板). Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TemplateData", into = "TemplateData")]
pub struct ProcedureTemplate {
    id: TemplateId,
    name: String,
    steps: Vec<TemplateStep>,
}

#[derive(Serialize, Deserialize)]
struct TemplateData {
    id: TemplateId,
    name: String,
    steps: Vec<TemplateStep>,
}

impl ProcedureTemplate {
    /// At most this many steps in one template.
    pub const MAX_STEPS: usize = 20;
    const MAX_NAME_CHARS: usize = 50;

    pub fn new(
        id: TemplateId,
        name: &str,
        steps: Vec<TemplateStep>,
    ) -> Result<Self, ProcedureRulesError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_NAME_CHARS {
            return Err(ProcedureRulesError::BadName(name.to_owned()));
        }
        if steps.is_empty() {
            return Err(ProcedureRulesError::EmptyTemplate(id));
        }
        if steps.len() > Self::MAX_STEPS {
            return Err(ProcedureRulesError::TooManySteps(id));
        }
        let mut clean = Vec::with_capacity(steps.len());
        for step in steps {
            let step_name = step.name.trim();
            if step_name.is_empty() || step_name.chars().count() > Self::MAX_NAME_CHARS {
                return Err(ProcedureRulesError::BadName(step.name));
            }
            clean.push(TemplateStep::new(step_name, step.kind));
        }
        Ok(ProcedureTemplate {
            id,
            name: name.to_owned(),
            steps: clean,
        })
    }

    /// 五议两公开 (浙江): 7 steps, 5 议 + 2 公开.
    pub fn wuyi_liang_gongkai() -> Self {
        ProcedureTemplate {
            id: TemplateId(TemplateId::WUYI.into()),
            name: "五议两公开".into(),
            steps: vec![
                TemplateStep::new("党员群众建议", StepKind::Suggestions),
                TemplateStep::new("村党组织提议", StepKind::CommitteeMeeting),
                TemplateStep::new("村务联席会议商议", StepKind::CommitteeMeeting),
                TemplateStep::new("党员大会审议", StepKind::PartyMembersMeeting),
                TemplateStep::new("村民(代表)会议决议", StepKind::VillagerResolution),
                TemplateStep::new("决议公开", StepKind::Publicity),
                TemplateStep::new("实施结果公开", StepKind::Publicity),
            ],
        }
    }

    /// 四议两公开 (全国): without 党员群众建议, with 两委会议商议 as the 商议 step.
    pub fn siyi_liang_gongkai() -> Self {
        ProcedureTemplate {
            id: TemplateId(TemplateId::SIYI.into()),
            name: "四议两公开".into(),
            steps: vec![
                TemplateStep::new("村党组织提议", StepKind::CommitteeMeeting),
                TemplateStep::new("两委会议商议", StepKind::CommitteeMeeting),
                TemplateStep::new("党员大会审议", StepKind::PartyMembersMeeting),
                TemplateStep::new("村民(代表)会议决议", StepKind::VillagerResolution),
                TemplateStep::new("决议公开", StepKind::Publicity),
                TemplateStep::new("实施结果公开", StepKind::Publicity),
            ],
        }
    }

    /// 村务联席会议 alone.
    pub fn joint_meeting() -> Self {
        ProcedureTemplate {
            id: TemplateId(TemplateId::JOINT_MEETING.into()),
            name: "村务联席会议".into(),
            steps: vec![TemplateStep::new(
                "村务联席会议商议",
                StepKind::CommitteeMeeting,
            )],
        }
    }

    pub fn id(&self) -> &TemplateId {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn steps(&self) -> &[TemplateStep] {
        &self.steps
    }
}

impl TryFrom<TemplateData> for ProcedureTemplate {
    type Error = ProcedureRulesError;
    fn try_from(d: TemplateData) -> Result<Self, Self::Error> {
        ProcedureTemplate::new(d.id, &d.name, d.steps)
    }
}

impl From<ProcedureTemplate> for TemplateData {
    fn from(t: ProcedureTemplate) -> Self {
        TemplateData {
            id: t.id,
            name: t.name,
            steps: t.steps,
        }
    }
}

/// A town's money thresholds: 数额较大 < 数额巨大, both positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ThresholdData", into = "ThresholdData")]
pub struct SpendingThresholds {
    large: Money,
    huge: Money,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct ThresholdData {
    large: Money,
    huge: Money,
}

impl SpendingThresholds {
    pub fn new(large: Money, huge: Money) -> Result<Self, ProcedureRulesError> {
        if large.fen() == 0 {
            return Err(ProcedureRulesError::ZeroThreshold);
        }
        if large >= huge {
            return Err(ProcedureRulesError::ThresholdsOutOfOrder { large, huge });
        }
        Ok(SpendingThresholds { large, huge })
    }
    /// 数额较大.
    pub fn large(&self) -> Money {
        self.large
    }
    /// 数额巨大.
    pub fn huge(&self) -> Money {
        self.huge
    }
}

impl Default for SpendingThresholds {
    /// Illustrative defaults where a town set none: 5万 and 50万 yuan.
    fn default() -> Self {
        SpendingThresholds {
            large: Money::from_yuan(50_000),
            huge: Money::from_yuan(500_000),
        }
    }
}

impl TryFrom<ThresholdData> for SpendingThresholds {
    type Error = ProcedureRulesError;
    fn try_from(d: ThresholdData) -> Result<Self, Self::Error> {
        SpendingThresholds::new(d.large, d.huge)
    }
}

impl From<SpendingThresholds> for ThresholdData {
    fn from(t: SpendingThresholds) -> Self {
        ThresholdData {
            large: t.large,
            huge: t.huge,
        }
    }
}

/// Timing rules of a procedure, in calendar days ([`crate::calendar`]). Snapshotted into
/// every started procedure.
///
/// The two notice periods are statutory floors (法定最低期限): a town may require more,
/// never less. [`StepTiming::new`] refuses a shorter period, and because rules stored before
/// the floors existed still deserialize as they were recorded, the getters apply the floors
/// again: whatever a snapshot says, a 党员大会 needs [`StepTiming::PARTY_PROPOSAL_NOTICE_FLOOR`]
/// days' notice and a 村民会议 [`StepTiming::VILLAGERS_MEETING_NOTICE_FLOOR`]. Likewise the
/// record window, which is what forbids after-the-fact ledgers (后补), may be configured
/// shorter than the default but never longer than [`StepTiming::MAX_RECORD_WINDOW_DAYS`]: a
/// window of months would switch the rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TimingData", into = "TimingData")]
pub struct StepTiming {
    record_window_days: u32,
    publicity_days: u32,
    party_proposal_notice_days: u32,
    villagers_meeting_notice_days: u32,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct TimingData {
    record_window_days: u32,
    publicity_days: u32,
    party_proposal_notice_days: u32,
    villagers_meeting_notice_days: u32,
}

impl StepTiming {
    /// Upper bound for every period, so no date arithmetic can run away.
    pub const MAX_DAYS: u32 = 365;
    /// 党员大会: the proposal goes to members at least 3 days before (statutory floor).
    pub const PARTY_PROPOSAL_NOTICE_FLOOR: u32 = 3;
    /// 村民会议: announced at least 10 days before (村民委员会组织法; statutory floor).
    pub const VILLAGERS_MEETING_NOTICE_FLOOR: u32 = 10;
    /// The longest record window a town may set: beyond a week a record is a 后补.
    pub const MAX_RECORD_WINDOW_DAYS: u32 = 7;

    /// `record_window_days`: how many calendar days after a meeting (or a posting) it may
    /// still be recorded (no 后补), 1..=7; `publicity_days`: the minimum 公开 period; the two
    /// notice periods: how long before a 党员大会 the proposal goes out (at least 3 days), and
    /// before a 村民会议 it is announced (at least 10 days).
    pub fn new(
        record_window_days: u32,
        publicity_days: u32,
        party_proposal_notice_days: u32,
        villagers_meeting_notice_days: u32,
    ) -> Result<Self, ProcedureRulesError> {
        let timing = StepTiming::stored(
            record_window_days,
            publicity_days,
            party_proposal_notice_days,
            villagers_meeting_notice_days,
        )?;
        timing.check_floors()?;
        Ok(timing)
    }

    /// The structural checks only (positive periods, at most a year): how rules recorded
    /// before the floors existed are read back.
    fn stored(
        record_window_days: u32,
        publicity_days: u32,
        party_proposal_notice_days: u32,
        villagers_meeting_notice_days: u32,
    ) -> Result<Self, ProcedureRulesError> {
        for (what, days, min) in [
            ("补录时限", record_window_days, 1),
            ("公开期", publicity_days, 1),
            ("党员大会提前告知期", party_proposal_notice_days, 0),
            ("村民会议提前公告期", villagers_meeting_notice_days, 0),
        ] {
            if days < min || days > Self::MAX_DAYS {
                return Err(ProcedureRulesError::BadPeriod { what, days });
            }
        }
        Ok(StepTiming {
            record_window_days,
            publicity_days,
            party_proposal_notice_days,
            villagers_meeting_notice_days,
        })
    }

    /// Refuse a configuration that undercuts a statutory floor or switches off the record
    /// window.
    pub fn check_floors(&self) -> Result<(), ProcedureRulesError> {
        for (what, days, floor) in [
            (
                "党员大会提前告知期",
                self.party_proposal_notice_days,
                Self::PARTY_PROPOSAL_NOTICE_FLOOR,
            ),
            (
                "村民会议提前公告期",
                self.villagers_meeting_notice_days,
                Self::VILLAGERS_MEETING_NOTICE_FLOOR,
            ),
        ] {
            if days < floor {
                return Err(ProcedureRulesError::BelowStatutoryFloor { what, days, floor });
            }
        }
        if self.record_window_days > Self::MAX_RECORD_WINDOW_DAYS {
            return Err(ProcedureRulesError::RecordWindowTooLong {
                days: self.record_window_days,
                max: Self::MAX_RECORD_WINDOW_DAYS,
            });
        }
        Ok(())
    }

    /// The record window in force: as configured, never more than 7 days.
    pub fn record_window_days(&self) -> u32 {
        self.record_window_days.min(Self::MAX_RECORD_WINDOW_DAYS)
    }
    pub fn publicity_days(&self) -> u32 {
        self.publicity_days
    }
    /// The 党员大会 notice in force: as configured, never less than 3 days.
    pub fn party_proposal_notice_days(&self) -> u32 {
        self.party_proposal_notice_days
            .max(Self::PARTY_PROPOSAL_NOTICE_FLOOR)
    }
    /// The 村民会议 notice in force: as configured, never less than 10 days.
    pub fn villagers_meeting_notice_days(&self) -> u32 {
        self.villagers_meeting_notice_days
            .max(Self::VILLAGERS_MEETING_NOTICE_FLOOR)
    }
    /// When a 公开 posted at `posted_at` for `days` calendar days ends: 24:00 of its last day.
    pub fn publicity_ends_at(posted_at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        calendar::period_end(posted_at, days)
    }
}

impl Default for StepTiming {
    /// Record within 3 days, publicise for 7, proposal 3 days before a 党员大会, announce a
    /// 村民会议 10 days before.
    fn default() -> Self {
        StepTiming {
            record_window_days: 3,
            publicity_days: 7,
            party_proposal_notice_days: Self::PARTY_PROPOSAL_NOTICE_FLOOR,
            villagers_meeting_notice_days: Self::VILLAGERS_MEETING_NOTICE_FLOOR,
        }
    }
}

impl TryFrom<TimingData> for StepTiming {
    type Error = ProcedureRulesError;
    fn try_from(d: TimingData) -> Result<Self, Self::Error> {
        StepTiming::stored(
            d.record_window_days,
            d.publicity_days,
            d.party_proposal_notice_days,
            d.villagers_meeting_notice_days,
        )
    }
}

impl From<StepTiming> for TimingData {
    fn from(t: StepTiming) -> Self {
        TimingData {
            record_window_days: t.record_window_days,
            publicity_days: t.publicity_days,
            party_proposal_notice_days: t.party_proposal_notice_days,
            villagers_meeting_notice_days: t.villagers_meeting_notice_days,
        }
    }
}

/// One town's procedure rules (镇街决策程序配置): its templates, which template serves above
/// 数额较大 and which above 数额巨大, its thresholds and its timing.
///
/// The full procedure above 数额巨大 is a statutory floor, like the notice periods in
/// [`StepTiming`]: the template a town names for it must hold the steps of 四议两公开 in
/// order ([`ProcedureRules::FULL_PROCEDURE_FLOOR`]; 五议两公开 adds 党员群众建议 in front and
/// qualifies, a town may add further steps), and the template above 数额较大 must hold at
/// least one committee meeting (the 村务联席会议 itself). [`ProcedureRules::new`] refuses a
/// lighter template; rules recorded before the floors existed still deserialize, and
/// [`ProcedureRules::template_for`] then serves the default template of that tier instead
/// (五议两公开, or the 村务联席会议) whatever the town named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RulesData", into = "RulesData")]
pub struct ProcedureRules {
    templates: Vec<ProcedureTemplate>,
    joint_meeting_template: TemplateId,
    full_template: TemplateId,
    thresholds: SpendingThresholds,
    timing: StepTiming,
}

#[derive(Serialize, Deserialize)]
struct RulesData {
    templates: Vec<ProcedureTemplate>,
    joint_meeting_template: TemplateId,
    full_template: TemplateId,
    thresholds: SpendingThresholds,
    timing: StepTiming,
}

/// Whether `required` occurs in `steps` in order (not necessarily adjacent).
fn holds_in_order(steps: &[TemplateStep], required: &[StepKind]) -> bool {
    let mut kinds = steps.iter().map(|s| s.kind);
    required.iter().all(|r| kinds.any(|k| k == *r))
}

impl ProcedureRules {
    /// The steps of 四议两公开, in order: what any full procedure must hold.
    pub const FULL_PROCEDURE_FLOOR: [StepKind; 6] = [
        StepKind::CommitteeMeeting,
        StepKind::CommitteeMeeting,
        StepKind::PartyMembersMeeting,
        StepKind::VillagerResolution,
        StepKind::Publicity,
        StepKind::Publicity,
    ];
    /// What the template above 数额较大 must hold: the 村务联席会议.
    pub const JOINT_MEETING_FLOOR: [StepKind; 1] = [StepKind::CommitteeMeeting];

    /// `joint_meeting_template` serves amounts from 数额较大, `full_template` amounts from
    /// 数额巨大; both must name one of `templates`, whose ids must be unique, and neither may
    /// fall below its statutory floor; `timing` must respect its floors too.
    pub fn new(
        templates: Vec<ProcedureTemplate>,
        joint_meeting_template: TemplateId,
        full_template: TemplateId,
        thresholds: SpendingThresholds,
        timing: StepTiming,
    ) -> Result<Self, ProcedureRulesError> {
        let rules = ProcedureRules::stored(
            templates,
            joint_meeting_template,
            full_template,
            thresholds,
            timing,
        )?;
        rules.check_floors()?;
        Ok(rules)
    }

    /// The structural checks only: how rules recorded before the floors existed are read back.
    fn stored(
        templates: Vec<ProcedureTemplate>,
        joint_meeting_template: TemplateId,
        full_template: TemplateId,
        thresholds: SpendingThresholds,
        timing: StepTiming,
    ) -> Result<Self, ProcedureRulesError> {
        if templates.is_empty() {
            return Err(ProcedureRulesError::NoTemplates);
        }
        for (i, t) in templates.iter().enumerate() {
            if templates[..i].iter().any(|o| o.id == t.id) {
                return Err(ProcedureRulesError::DuplicateTemplate(t.id.clone()));
            }
        }
        for id in [&joint_meeting_template, &full_template] {
            if !templates.iter().any(|t| &t.id == id) {
                return Err(ProcedureRulesError::UnknownTemplate(id.clone()));
            }
        }
        Ok(ProcedureRules {
            templates,
            joint_meeting_template,
            full_template,
            thresholds,
            timing,
        })
    }

    /// Refuse rules whose templates or timing fall below the statutory floors.
    pub fn check_floors(&self) -> Result<(), ProcedureRulesError> {
        for (id, floor, required) in [
            (
                &self.full_template,
                &Self::FULL_PROCEDURE_FLOOR[..],
                "四议两公开的全部步骤",
            ),
            (
                &self.joint_meeting_template,
                &Self::JOINT_MEETING_FLOOR[..],
                "村务联席会议商议",
            ),
        ] {
            let meets = self
                .template(id)
                .is_some_and(|t| holds_in_order(&t.steps, floor));
            if !meets {
                return Err(ProcedureRulesError::TemplateBelowFloor {
                    template: id.clone(),
                    required,
                });
            }
        }
        self.timing.check_floors()
    }

    pub fn templates(&self) -> &[ProcedureTemplate] {
        &self.templates
    }
    pub fn thresholds(&self) -> SpendingThresholds {
        self.thresholds
    }
    pub fn timing(&self) -> StepTiming {
        self.timing
    }
    pub fn template(&self, id: &TemplateId) -> Option<&ProcedureTemplate> {
        self.templates.iter().find(|t| &t.id == id)
    }

    /// The template an amount requires, or `None` below 数额较大 (no procedure required).
    /// Amounts reaching a threshold count as above it (以上 includes the amount itself). A
    /// named template below its floor (only possible in rules recorded before the floors) is
    /// replaced by the default of its tier.
    pub fn template_for(&self, amount: Money) -> Option<ProcedureTemplate> {
        let (id, floor, fallback): (_, &[StepKind], fn() -> ProcedureTemplate) =
            if amount >= self.thresholds.huge {
                (
                    &self.full_template,
                    &Self::FULL_PROCEDURE_FLOOR,
                    ProcedureTemplate::wuyi_liang_gongkai,
                )
            } else if amount >= self.thresholds.large {
                (
                    &self.joint_meeting_template,
                    &Self::JOINT_MEETING_FLOOR,
                    ProcedureTemplate::joint_meeting,
                )
            } else {
                return None;
            };
        Some(
            self.template(id)
                .filter(|t| holds_in_order(&t.steps, floor))
                .cloned()
                .unwrap_or_else(fallback),
        )
    }
}

impl Default for ProcedureRules {
    /// The three default templates, 五议两公开 as the full procedure, default thresholds and
    /// timing.
    fn default() -> Self {
        ProcedureRules {
            templates: vec![
                ProcedureTemplate::wuyi_liang_gongkai(),
                ProcedureTemplate::siyi_liang_gongkai(),
                ProcedureTemplate::joint_meeting(),
            ],
            joint_meeting_template: TemplateId(TemplateId::JOINT_MEETING.into()),
            full_template: TemplateId(TemplateId::WUYI.into()),
            thresholds: SpendingThresholds::default(),
            timing: StepTiming::default(),
        }
    }
}

impl TryFrom<RulesData> for ProcedureRules {
    type Error = ProcedureRulesError;
    fn try_from(d: RulesData) -> Result<Self, Self::Error> {
        ProcedureRules::stored(
            d.templates,
            d.joint_meeting_template,
            d.full_template,
            d.thresholds,
            d.timing,
        )
    }
}

impl From<ProcedureRules> for RulesData {
    fn from(r: ProcedureRules) -> Self {
        RulesData {
            templates: r.templates,
            joint_meeting_template: r.joint_meeting_template,
            full_template: r.full_template,
            thresholds: r.thresholds,
            timing: r.timing,
        }
    }
}

/// Procedure configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcedureRulesError {
    #[error("模板编号 {0:?} 无效:只能使用小写字母、数字、连字符,最多64个字符")]
    BadTemplateId(String),
    #[error("名称 {0:?} 无效:不能为空,最多50个字")]
    BadName(String),
    #[error("程序模板 {0} 没有任何步骤")]
    EmptyTemplate(TemplateId),
    #[error("程序模板 {0} 步骤过多(最多20步)")]
    TooManySteps(TemplateId),
    #[error("至少需要一个程序模板")]
    NoTemplates,
    #[error("程序模板 {0} 重复")]
    DuplicateTemplate(TemplateId),
    #[error("引用了不存在的程序模板 {0}")]
    UnknownTemplate(TemplateId),
    #[error("数额较大的标准必须大于零")]
    ZeroThreshold,
    #[error("数额较大({large})必须低于数额巨大({huge})")]
    ThresholdsOutOfOrder { large: Money, huge: Money },
    #[error("{what}设置为{days}天,不在允许范围内")]
    BadPeriod { what: &'static str, days: u32 },
    #[error("{what}是法定最低期限{floor}天,不能设置为{days}天:可以更长,不能更短")]
    BelowStatutoryFloor {
        what: &'static str,
        days: u32,
        floor: u32,
    },
    #[error("补录时限不能超过{max}天(设置为{days}天),否则等于允许事后补录")]
    RecordWindowTooLong { days: u32, max: u32 },
    #[error("程序模板 {template} 缺少法定步骤:必须包含{required}")]
    TemplateBelowFloor {
        template: TemplateId,
        required: &'static str,
    },
}

impl Rejection for ProcedureRulesError {
    fn code(&self) -> &'static str {
        match self {
            ProcedureRulesError::BelowStatutoryFloor { .. }
            | ProcedureRulesError::RecordWindowTooLong { .. }
            | ProcedureRulesError::TemplateBelowFloor { .. } => "RULE_VIOLATION",
            _ => "INVALID_INPUT",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What a step records
// ---------------------------------------------------------------------------------------------

/// Kind of an evidence file (佐证材料).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
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
    /// 其他.
    Other,
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EvidenceKind::Minutes => "会议记录",
            EvidenceKind::SignInSheet => "签到表",
            EvidenceKind::Photo => "现场照片",
            EvidenceKind::NoticePhoto => "公示照片",
            EvidenceKind::SuggestionRecord => "征求意见记录",
            EvidenceKind::Other => "其他材料",
        })
    }
}

/// One evidence file with what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepEvidence {
    pub kind: EvidenceKind,
    pub file: EvidenceRef,
}

/// Votes cast at a meeting (表决).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Votes {
    /// 赞成.
    pub in_favour: u32,
    /// 反对.
    pub against: u32,
    /// 弃权.
    pub abstain: u32,
}

impl Votes {
    pub fn total(&self) -> u64 {
        u64::from(self.in_favour) + u64::from(self.against) + u64::from(self.abstain)
    }
}

/// Households represented at a 村民会议 (户代表).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Households {
    pub total: u32,
    pub represented: u32,
}

/// The body that met, which fixes quorum and majority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "body", rename_all = "snake_case")]
pub enum MeetingBody {
    /// 支委会 / 两委会议 / 村务联席会议: more than half of the members present; passes with
    /// more than half of the members.
    Committee,
    /// 党员大会: more than 2/3 of all members present; passes with more than half of ALL
    /// members (应到会党员); the proposal went to members `party_proposal_notice_days` before.
    PartyMembers { proposal_sent_at: DateTime<Utc> },
    /// 村民代表会议: at least 2/3 of representatives present; passes with more than half of
    /// those present (村民委员会组织法 第二十六条).
    VillagerRepresentatives,
    /// 村民会议: more than half of adult villagers, or at least 2/3 of households, present;
    /// passes with more than half of those present; announced
    /// `villagers_meeting_notice_days` before. `expected`/`present` count adult villagers.
    Villagers {
        announced_at: DateTime<Utc>,
        households: Option<Households>,
    },
}

impl MeetingBody {
    /// The step kind this body can record.
    pub fn step_kind(&self) -> StepKind {
        match self {
            MeetingBody::Committee => StepKind::CommitteeMeeting,
            MeetingBody::PartyMembers { .. } => StepKind::PartyMembersMeeting,
            MeetingBody::VillagerRepresentatives | MeetingBody::Villagers { .. } => {
                StepKind::VillagerResolution
            }
        }
    }

    /// Whether enough attended for the meeting to decide (法定人数).
    pub fn quorum_met(&self, expected: u32, present: u32) -> bool {
        let (e, p) = (u64::from(expected), u64::from(present));
        match self {
            MeetingBody::Committee => p * 2 > e,
            MeetingBody::PartyMembers { .. } => p * 3 > e * 2,
            MeetingBody::VillagerRepresentatives => p * 3 >= e * 2,
            MeetingBody::Villagers { households, .. } => {
                p * 2 > e
                    || households
                        .is_some_and(|h| u64::from(h.represented) * 3 >= u64::from(h.total) * 2)
            }
        }
    }

    /// Whether the votes carry the motion (表决通过).
    pub fn passes(&self, expected: u32, present: u32, votes: &Votes) -> bool {
        let yes = u64::from(votes.in_favour) * 2;
        match self {
            MeetingBody::Committee | MeetingBody::PartyMembers { .. } => yes > u64::from(expected),
            MeetingBody::VillagerRepresentatives | MeetingBody::Villagers { .. } => {
                yes > u64::from(present)
            }
        }
    }
}

/// A meeting as the village records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRecord {
    /// Claimed time the meeting was held (data, validated against server time).
    pub held_at: DateTime<Utc>,
    pub body: MeetingBody,
    /// 应到.
    pub expected: u32,
    /// 实到.
    pub present: u32,
    pub votes: Votes,
    pub evidence: Vec<StepEvidence>,
}

/// Suggestions collected (党员群众建议).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestionRecord {
    /// Claimed time the collection closed.
    pub collected_at: DateTime<Utc>,
    pub summary: Text,
    pub evidence: Vec<StepEvidence>,
}

/// A notice posted (公开).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicityRecord {
    /// Claimed time the notice went up.
    pub posted_at: DateTime<Utc>,
    /// Days posted; `None` = the town's default. Never shorter than the default.
    pub days: Option<u32>,
    pub evidence: Vec<StepEvidence>,
}

// ---------------------------------------------------------------------------------------------
// Commands, events, errors
// ---------------------------------------------------------------------------------------------

/// Commands of a [`Procedure`].
#[derive(Debug, Clone)]
pub enum ProcedureCommand {
    /// Start a procedure for spending `amount` in `village`; `rules` are the village's town
    /// rules as in force now (the executor loads them; [`ProcedureRules::default`] if none).
    StartProcedure {
        procedure_id: ProcedureId,
        village: RegionId,
        title: Text,
        amount: Money,
        rules: ProcedureRules,
    },
    /// Record step `step_no` (1-based) of kind [`StepKind::Suggestions`].
    RecordSuggestions {
        step_no: u16,
        record: SuggestionRecord,
    },
    /// Record meeting step `step_no` (1-based).
    RecordMeeting { step_no: u16, record: MeetingRecord },
    /// Record that the notice of 公开 step `step_no` (1-based) was posted.
    PostPublicity {
        step_no: u16,
        record: PublicityRecord,
    },
    /// Close a procedure whose last (公开) step has ended.
    CompleteProcedure,
}

/// The validated content of a recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordedStep {
    Suggestions(SuggestionRecord),
    Meeting(MeetingRecord),
}

/// Whether a recorded step carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Passed,
    Failed,
}

/// Facts of a procedure. Every event carries the village and its town.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProcedureEvent {
    ProcedureStarted {
        procedure_id: ProcedureId,
        village: RegionId,
        town: RegionId,
        title: Text,
        amount: Money,
        /// The template in force, snapshotted.
        template: ProcedureTemplate,
        /// The timing rules in force, snapshotted.
        timing: StepTiming,
        started_by: PersonId,
        started_at: DateTime<Utc>,
    },
    ProcedureStepRecorded {
        procedure_id: ProcedureId,
        village: RegionId,
        town: RegionId,
        step_no: u16,
        step_name: String,
        step: RecordedStep,
        outcome: StepOutcome,
        recorded_by: PersonId,
        recorded_at: DateTime<Utc>,
    },
    ProcedurePublicityPosted {
        procedure_id: ProcedureId,
        village: RegionId,
        town: RegionId,
        step_no: u16,
        step_name: String,
        posted_at: DateTime<Utc>,
        days: u32,
        ends_at: DateTime<Utc>,
        evidence: Vec<StepEvidence>,
        recorded_by: PersonId,
        recorded_at: DateTime<Utc>,
    },
    /// A step was returned for missing evidence (缺少佐证, 退回); it may be recorded again.
    ProcedureStepReturned {
        procedure_id: ProcedureId,
        village: RegionId,
        town: RegionId,
        step_no: u16,
        step_name: String,
        claimed_at: DateTime<Utc>,
        missing: Vec<EvidenceKind>,
        returned_by: PersonId,
        returned_at: DateTime<Utc>,
    },
    /// A vote failed: the procedure ends as rejected (未通过).
    ProcedureRejected {
        procedure_id: ProcedureId,
        village: RegionId,
        town: RegionId,
        step_no: u16,
        step_name: String,
        votes: Votes,
        rejected_at: DateTime<Utc>,
    },
    /// Every step passed (程序完成).
    ProcedureCompleted {
        procedure_id: ProcedureId,
        village: RegionId,
        town: RegionId,
        template_id: TemplateId,
        steps: u16,
        completed_at: DateTime<Utc>,
    },
}

impl ProcedureEvent {
    fn places(&self) -> (&RegionId, &RegionId) {
        match self {
            ProcedureEvent::ProcedureStarted { village, town, .. }
            | ProcedureEvent::ProcedureStepRecorded { village, town, .. }
            | ProcedureEvent::ProcedurePublicityPosted { village, town, .. }
            | ProcedureEvent::ProcedureStepReturned { village, town, .. }
            | ProcedureEvent::ProcedureRejected { village, town, .. }
            | ProcedureEvent::ProcedureCompleted { village, town, .. } => (village, town),
        }
    }
}

impl DomainEvent for ProcedureEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ProcedureEvent::ProcedureStarted { .. } => "ProcedureStarted",
            ProcedureEvent::ProcedureStepRecorded { .. } => "ProcedureStepRecorded",
            ProcedureEvent::ProcedurePublicityPosted { .. } => "ProcedurePublicityPosted",
            ProcedureEvent::ProcedureStepReturned { .. } => "ProcedureStepReturned",
            ProcedureEvent::ProcedureRejected { .. } => "ProcedureRejected",
            ProcedureEvent::ProcedureCompleted { .. } => "ProcedureCompleted",
        }
    }
    fn regions(&self) -> Vec<RegionId> {
        let (village, town) = self.places();
        vec![village.clone(), town.clone()]
    }
}

/// Why a procedure command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcedureError {
    #[error("无权操作:只有本村书记或村干部可以办理本村的决策程序")]
    Forbidden,
    #[error("{0} 不是村(社区)区划代码")]
    NotAVillage(RegionId),
    #[error("该决策程序尚未启动")]
    NotStarted,
    #[error("该决策程序已经启动")]
    AlreadyStarted,
    #[error("该决策程序已结束({0}),不能再办理")]
    Closed(ProcedureStatus),
    #[error("金额 {amount} 未达到本镇数额较大标准 {threshold},无需启动决策程序,按村级财务审批办理")]
    BelowThreshold { amount: Money, threshold: Money },
    #[error("本镇程序配置中找不到所需的程序模板")]
    TemplateMissing,
    #[error("应当办理第{expected}步,不能办理第{requested}步:程序必须按顺序进行")]
    StepOutOfOrder { expected: u16, requested: u16 },
    #[error("所有步骤已办理完毕")]
    NoStepsLeft,
    #[error("第{step_no}步是{expected},提交的材料不符")]
    StepKindMismatch { step_no: u16, expected: StepKind },
    #[error("上一步要到 {passes_at} 才完成(公开期未满),不能办理下一步")]
    PredecessorNotPassed { passes_at: DateTime<Utc> },
    #[error("填报的时间 {claimed} 晚于当前时间,不能预填")]
    ClaimedTimeInFuture { claimed: DateTime<Utc> },
    #[error("填报的时间 {claimed} 早于上一步完成时间 {previous}")]
    BeforePreviousStep {
        claimed: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
    #[error("会议或公开发生在 {claimed},已超过{window_days}天的录入时限,不得事后补录")]
    RecordedTooLate {
        claimed: DateTime<Utc>,
        window_days: u32,
    },
    #[error("应到人数必须大于零")]
    NoExpectedAttendees,
    #[error("实到人数 {present} 超过应到人数 {expected}")]
    PresentExceedsExpected { expected: u32, present: u32 },
    #[error("赞成、反对、弃权票合计 {cast} 超过实到人数 {present}")]
    VotesExceedPresent { present: u32, cast: u64 },
    #[error("总户数必须大于零")]
    NoHouseholds,
    #[error("到会户代表 {represented} 超过总户数 {total}")]
    RepresentedExceedsHouseholds { total: u32, represented: u32 },
    #[error("到会人数不足法定人数(应到{expected}人,实到{present}人),会议无效")]
    QuorumNotMet { expected: u32, present: u32 },
    #[error("党员大会的议题须至少提前{required_days}天告知党员")]
    ProposalNoticeTooShort { required_days: u32 },
    #[error("村民会议须至少提前{required_days}天公告")]
    AnnouncementTooShort { required_days: u32 },
    #[error("公开期不得少于{min_days}天,也不得超过365天")]
    BadPublicityPeriod { min_days: u32 },
    #[error("还有{remaining}步未办理,程序不能结束")]
    StepsRemaining { remaining: u16 },
}

impl Rejection for ProcedureError {
    fn code(&self) -> &'static str {
        use ProcedureError::*;
        match self {
            Forbidden => "FORBIDDEN",
            NotStarted => "NOT_FOUND",
            AlreadyStarted | Closed(_) | NoStepsLeft => "CONFLICT",
            NotAVillage(_)
            | StepKindMismatch { .. }
            | NoExpectedAttendees
            | PresentExceedsExpected { .. }
            | VotesExceedPresent { .. }
            | NoHouseholds
            | RepresentedExceedsHouseholds { .. }
            | BadPublicityPeriod { .. }
            | TemplateMissing => "INVALID_INPUT",
            BelowThreshold { .. }
            | StepOutOfOrder { .. }
            | PredecessorNotPassed { .. }
            | ClaimedTimeInFuture { .. }
            | BeforePreviousStep { .. }
            | RecordedTooLate { .. }
            | QuorumNotMet { .. }
            | ProposalNoticeTooShort { .. }
            | AnnouncementTooShort { .. }
            | StepsRemaining { .. } => "RULE_VIOLATION",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The aggregate
// ---------------------------------------------------------------------------------------------

/// Where a procedure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcedureStatus {
    /// 办理中.
    Open,
    /// 表决未通过.
    Rejected,
    /// 已完成.
    Completed,
}

impl fmt::Display for ProcedureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcedureStatus::Open => "办理中",
            ProcedureStatus::Rejected => "表决未通过",
            ProcedureStatus::Completed => "已完成",
        })
    }
}

/// A step that passed, and the moment it passed (a 公开 step: when its period ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedStep {
    pub step_no: u16,
    pub kind: StepKind,
    pub passes_at: DateTime<Utc>,
}

/// A started procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenProcedure {
    pub id: ProcedureId,
    pub village: RegionId,
    pub town: RegionId,
    pub template: ProcedureTemplate,
    pub timing: StepTiming,
    pub status: ProcedureStatus,
    pub passed: Vec<PassedStep>,
    pub returns: u32,
}

/// One decision procedure (决策程序), stream `procedure-{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Procedure {
    state: Option<OpenProcedure>,
}

impl Procedure {
    pub fn started(&self) -> Option<&OpenProcedure> {
        self.state.as_ref()
    }
    pub fn status(&self) -> Option<ProcedureStatus> {
        self.state.as_ref().map(|p| p.status)
    }
}

fn village_cadre_for(actor: &Actor, village: &RegionId) -> Result<(), ProcedureError> {
    let role_ok = matches!(actor.role(), Role::VillageSecretary | Role::VillageCadre);
    if role_ok && actor.covers(village) {
        Ok(())
    } else {
        Err(ProcedureError::Forbidden)
    }
}

fn missing_evidence(kind: StepKind, evidence: &[StepEvidence]) -> Vec<EvidenceKind> {
    kind.required_evidence()
        .iter()
        .copied()
        .filter(|k| !evidence.iter().any(|e| e.kind == *k))
        .collect()
}

/// What every step command shares, resolved against the state.
struct StepSlot<'p> {
    p: &'p OpenProcedure,
    step_no: u16,
    name: String,
    last: bool,
}

impl OpenProcedure {
    /// The next step to record, checked against the request; then the claimed time.
    fn slot(
        &self,
        requested: u16,
        kind: StepKind,
        claimed: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<StepSlot<'_>, ProcedureError> {
        if self.status != ProcedureStatus::Open {
            return Err(ProcedureError::Closed(self.status));
        }
        let done = self.passed.len();
        let Some(step) = self.template.steps.get(done) else {
            return Err(ProcedureError::NoStepsLeft);
        };
        let expected = u16::try_from(done + 1).unwrap_or(u16::MAX);
        if requested != expected {
            return Err(ProcedureError::StepOutOfOrder {
                expected,
                requested,
            });
        }
        if step.kind != kind {
            return Err(ProcedureError::StepKindMismatch {
                step_no: expected,
                expected: step.kind,
            });
        }
        if let Some(prev) = self.passed.last()
            && now < prev.passes_at
        {
            return Err(ProcedureError::PredecessorNotPassed {
                passes_at: prev.passes_at,
            });
        }
        if claimed > now {
            return Err(ProcedureError::ClaimedTimeInFuture { claimed });
        }
        if let Some(prev) = self.passed.last()
            && claimed < prev.passes_at
        {
            return Err(ProcedureError::BeforePreviousStep {
                claimed,
                previous: prev.passes_at,
            });
        }
        let window_days = self.timing.record_window_days();
        if now >= calendar::period_end(claimed, window_days) {
            return Err(ProcedureError::RecordedTooLate {
                claimed,
                window_days,
            });
        }
        Ok(StepSlot {
            p: self,
            step_no: expected,
            name: step.name.clone(),
            last: done + 1 == self.template.steps.len(),
        })
    }
}

impl StepSlot<'_> {
    fn returned(
        &self,
        claimed_at: DateTime<Utc>,
        missing: Vec<EvidenceKind>,
        ctx: &CommandContext<'_>,
    ) -> ProcedureEvent {
        ProcedureEvent::ProcedureStepReturned {
            procedure_id: self.p.id,
            village: self.p.village.clone(),
            town: self.p.town.clone(),
            step_no: self.step_no,
            step_name: self.name.clone(),
            claimed_at,
            missing,
            returned_by: ctx.actor.id.clone(),
            returned_at: ctx.now,
        }
    }

    fn recorded(
        &self,
        step: RecordedStep,
        outcome: StepOutcome,
        ctx: &CommandContext<'_>,
    ) -> ProcedureEvent {
        ProcedureEvent::ProcedureStepRecorded {
            procedure_id: self.p.id,
            village: self.p.village.clone(),
            town: self.p.town.clone(),
            step_no: self.step_no,
            step_name: self.name.clone(),
            step,
            outcome,
            recorded_by: ctx.actor.id.clone(),
            recorded_at: ctx.now,
        }
    }

    fn completed(&self, ctx: &CommandContext<'_>) -> ProcedureEvent {
        self.p.completed(ctx)
    }
}

impl OpenProcedure {
    fn completed(&self, ctx: &CommandContext<'_>) -> ProcedureEvent {
        ProcedureEvent::ProcedureCompleted {
            procedure_id: self.id,
            village: self.village.clone(),
            town: self.town.clone(),
            template_id: self.template.id.clone(),
            steps: u16::try_from(self.template.steps.len()).unwrap_or(u16::MAX),
            completed_at: ctx.now,
        }
    }
}

fn validate_meeting(record: &MeetingRecord, timing: StepTiming) -> Result<(), ProcedureError> {
    let (expected, present) = (record.expected, record.present);
    if expected == 0 {
        return Err(ProcedureError::NoExpectedAttendees);
    }
    if present > expected {
        return Err(ProcedureError::PresentExceedsExpected { expected, present });
    }
    if record.votes.total() > u64::from(present) {
        return Err(ProcedureError::VotesExceedPresent {
            present,
            cast: record.votes.total(),
        });
    }
    match record.body {
        MeetingBody::PartyMembers { proposal_sent_at } => {
            let days = timing.party_proposal_notice_days();
            if calendar::days_between(proposal_sent_at, record.held_at) < i64::from(days) {
                return Err(ProcedureError::ProposalNoticeTooShort {
                    required_days: days,
                });
            }
        }
        MeetingBody::Villagers {
            announced_at,
            households,
        } => {
            if let Some(h) = households {
                if h.total == 0 {
                    return Err(ProcedureError::NoHouseholds);
                }
                if h.represented > h.total {
                    return Err(ProcedureError::RepresentedExceedsHouseholds {
                        total: h.total,
                        represented: h.represented,
                    });
                }
            }
            let days = timing.villagers_meeting_notice_days();
            if calendar::days_between(announced_at, record.held_at) < i64::from(days) {
                return Err(ProcedureError::AnnouncementTooShort {
                    required_days: days,
                });
            }
        }
        MeetingBody::Committee | MeetingBody::VillagerRepresentatives => {}
    }
    if !record.body.quorum_met(expected, present) {
        return Err(ProcedureError::QuorumNotMet { expected, present });
    }
    Ok(())
}

impl Aggregate for Procedure {
    const CATEGORY: &'static str = "procedure";
    type Command = ProcedureCommand;
    type Event = ProcedureEvent;
    type Error = ProcedureError;

    fn decide(
        &self,
        command: ProcedureCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<ProcedureEvent>, ProcedureError> {
        match command {
            ProcedureCommand::StartProcedure {
                procedure_id,
                village,
                title,
                amount,
                rules,
            } => {
                if village.level() != RegionLevel::Village {
                    return Err(ProcedureError::NotAVillage(village));
                }
                village_cadre_for(ctx.actor, &village)?;
                if self.state.is_some() {
                    return Err(ProcedureError::AlreadyStarted);
                }
                let threshold = rules.thresholds().large();
                if amount < threshold {
                    return Err(ProcedureError::BelowThreshold { amount, threshold });
                }
                let template = rules
                    .template_for(amount)
                    .ok_or(ProcedureError::TemplateMissing)?;
                let town = village
                    .town()
                    .ok_or_else(|| ProcedureError::NotAVillage(village.clone()))?;
                Ok(vec![ProcedureEvent::ProcedureStarted {
                    procedure_id,
                    village,
                    town,
                    title,
                    amount,
                    template,
                    timing: rules.timing(),
                    started_by: ctx.actor.id.clone(),
                    started_at: ctx.now,
                }])
            }
            ProcedureCommand::RecordSuggestions { step_no, record } => {
                let p = self.open_for(ctx.actor)?;
                let slot = p.slot(step_no, StepKind::Suggestions, record.collected_at, ctx.now)?;
                let missing = missing_evidence(StepKind::Suggestions, &record.evidence);
                if !missing.is_empty() {
                    return Ok(vec![slot.returned(record.collected_at, missing, ctx)]);
                }
                let mut events = vec![slot.recorded(
                    RecordedStep::Suggestions(record),
                    StepOutcome::Passed,
                    ctx,
                )];
                if slot.last {
                    events.push(slot.completed(ctx));
                }
                Ok(events)
            }
            ProcedureCommand::RecordMeeting { step_no, record } => {
                let p = self.open_for(ctx.actor)?;
                let kind = record.body.step_kind();
                let slot = p.slot(step_no, kind, record.held_at, ctx.now)?;
                validate_meeting(&record, p.timing)?;
                let missing = missing_evidence(kind, &record.evidence);
                if !missing.is_empty() {
                    return Ok(vec![slot.returned(record.held_at, missing, ctx)]);
                }
                let passed = record
                    .body
                    .passes(record.expected, record.present, &record.votes);
                if passed {
                    let mut events = vec![slot.recorded(
                        RecordedStep::Meeting(record),
                        StepOutcome::Passed,
                        ctx,
                    )];
                    if slot.last {
                        events.push(slot.completed(ctx));
                    }
                    Ok(events)
                } else {
                    let votes = record.votes;
                    Ok(vec![
                        slot.recorded(RecordedStep::Meeting(record), StepOutcome::Failed, ctx),
                        ProcedureEvent::ProcedureRejected {
                            procedure_id: p.id,
                            village: p.village.clone(),
                            town: p.town.clone(),
                            step_no: slot.step_no,
                            step_name: slot.name.clone(),
                            votes,
                            rejected_at: ctx.now,
                        },
                    ])
                }
            }
            ProcedureCommand::PostPublicity { step_no, record } => {
                let p = self.open_for(ctx.actor)?;
                let slot = p.slot(step_no, StepKind::Publicity, record.posted_at, ctx.now)?;
                let min_days = p.timing.publicity_days();
                let days = record.days.unwrap_or(min_days);
                if days < min_days || days > StepTiming::MAX_DAYS {
                    return Err(ProcedureError::BadPublicityPeriod { min_days });
                }
                let missing = missing_evidence(StepKind::Publicity, &record.evidence);
                if !missing.is_empty() {
                    return Ok(vec![slot.returned(record.posted_at, missing, ctx)]);
                }
                Ok(vec![ProcedureEvent::ProcedurePublicityPosted {
                    procedure_id: p.id,
                    village: p.village.clone(),
                    town: p.town.clone(),
                    step_no: slot.step_no,
                    step_name: slot.name.clone(),
                    posted_at: record.posted_at,
                    days,
                    ends_at: StepTiming::publicity_ends_at(record.posted_at, days),
                    evidence: record.evidence,
                    recorded_by: ctx.actor.id.clone(),
                    recorded_at: ctx.now,
                }])
            }
            ProcedureCommand::CompleteProcedure => {
                let p = self.open_for(ctx.actor)?;
                if p.status != ProcedureStatus::Open {
                    return Err(ProcedureError::Closed(p.status));
                }
                let remaining = p.template.steps.len().saturating_sub(p.passed.len());
                if remaining > 0 {
                    return Err(ProcedureError::StepsRemaining {
                        remaining: u16::try_from(remaining).unwrap_or(u16::MAX),
                    });
                }
                if let Some(last) = p.passed.last()
                    && ctx.now < last.passes_at
                {
                    return Err(ProcedureError::PredecessorNotPassed {
                        passes_at: last.passes_at,
                    });
                }
                Ok(vec![p.completed(ctx)])
            }
        }
    }

    fn evolve(&mut self, event: &ProcedureEvent) {
        match event {
            ProcedureEvent::ProcedureStarted {
                procedure_id,
                village,
                town,
                template,
                timing,
                ..
            } => {
                self.state = Some(OpenProcedure {
                    id: *procedure_id,
                    village: village.clone(),
                    town: town.clone(),
                    template: template.clone(),
                    timing: *timing,
                    status: ProcedureStatus::Open,
                    passed: Vec::new(),
                    returns: 0,
                });
            }
            ProcedureEvent::ProcedureStepRecorded {
                step_no,
                step,
                outcome: StepOutcome::Passed,
                ..
            } => {
                if let Some(p) = self.state.as_mut() {
                    let (kind, passes_at) = match step {
                        RecordedStep::Suggestions(s) => (StepKind::Suggestions, s.collected_at),
                        RecordedStep::Meeting(m) => (m.body.step_kind(), m.held_at),
                    };
                    p.passed.push(PassedStep {
                        step_no: *step_no,
                        kind,
                        passes_at,
                    });
                }
            }
            ProcedureEvent::ProcedureStepRecorded {
                outcome: StepOutcome::Failed,
                ..
            } => {}
            ProcedureEvent::ProcedurePublicityPosted {
                step_no, ends_at, ..
            } => {
                if let Some(p) = self.state.as_mut() {
                    p.passed.push(PassedStep {
                        step_no: *step_no,
                        kind: StepKind::Publicity,
                        passes_at: *ends_at,
                    });
                }
            }
            ProcedureEvent::ProcedureStepReturned { .. } => {
                if let Some(p) = self.state.as_mut() {
                    p.returns = p.returns.saturating_add(1);
                }
            }
            ProcedureEvent::ProcedureRejected { .. } => {
                if let Some(p) = self.state.as_mut() {
                    p.status = ProcedureStatus::Rejected;
                }
            }
            ProcedureEvent::ProcedureCompleted { .. } => {
                if let Some(p) = self.state.as_mut() {
                    p.status = ProcedureStatus::Completed;
                }
            }
        }
    }
}

impl Procedure {
    fn open_for(&self, actor: &Actor) -> Result<&OpenProcedure, ProcedureError> {
        let p = self.state.as_ref().ok_or(ProcedureError::NotStarted)?;
        village_cadre_for(actor, &p.village)?;
        Ok(p)
    }
}

// ---------------------------------------------------------------------------------------------
// A town's rules as a stream of their own
// ---------------------------------------------------------------------------------------------

/// Commands of [`TownProcedureRules`].
#[derive(Debug, Clone)]
pub enum TownProcedureRulesCommand {
    /// Set the town's procedure rules (templates, thresholds, timing), replacing the previous.
    SetProcedureRules {
        town: RegionId,
        rules: ProcedureRules,
    },
}

/// Facts of a town's procedure rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TownProcedureRulesEvent {
    ProcedureRulesSet {
        town: RegionId,
        version: u32,
        rules: ProcedureRules,
        set_by: PersonId,
        set_at: DateTime<Utc>,
    },
}

impl DomainEvent for TownProcedureRulesEvent {
    fn event_type(&self) -> &'static str {
        match self {
            TownProcedureRulesEvent::ProcedureRulesSet { .. } => "ProcedureRulesSet",
        }
    }
    fn regions(&self) -> Vec<RegionId> {
        match self {
            TownProcedureRulesEvent::ProcedureRulesSet { town, .. } => vec![town.clone()],
        }
    }
}

/// Why a town's rules could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TownProcedureRulesError {
    #[error("无权操作:只有本镇领导或系统管理员可以设置决策程序配置")]
    Forbidden,
    #[error("{0} 不是乡镇(街道)区划代码")]
    NotATown(RegionId),
    #[error("本配置属于 {0},不能改为其他乡镇")]
    WrongTown(RegionId),
    #[error("{0}")]
    BelowFloor(ProcedureRulesError),
}

impl Rejection for TownProcedureRulesError {
    fn code(&self) -> &'static str {
        match self {
            TownProcedureRulesError::Forbidden => "FORBIDDEN",
            TownProcedureRulesError::NotATown(_) | TownProcedureRulesError::WrongTown(_) => {
                "INVALID_INPUT"
            }
            TownProcedureRulesError::BelowFloor(e) => e.code(),
        }
    }
}

/// A town's procedure rules (镇街决策程序配置), stream `procedure_rules-{town}`. Before any
/// rules are set, [`ProcedureRules::default`] applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TownProcedureRules {
    town: Option<RegionId>,
    version: u32,
    rules: ProcedureRules,
}

impl TownProcedureRules {
    /// The rules in force.
    pub fn rules(&self) -> &ProcedureRules {
        &self.rules
    }
    pub fn version(&self) -> u32 {
        self.version
    }
}

impl Aggregate for TownProcedureRules {
    const CATEGORY: &'static str = "procedure_rules";
    type Command = TownProcedureRulesCommand;
    type Event = TownProcedureRulesEvent;
    type Error = TownProcedureRulesError;

    fn decide(
        &self,
        command: TownProcedureRulesCommand,
        ctx: &CommandContext<'_>,
    ) -> Result<Vec<TownProcedureRulesEvent>, TownProcedureRulesError> {
        let TownProcedureRulesCommand::SetProcedureRules { town, rules } = command;
        if town.level() != RegionLevel::Town {
            return Err(TownProcedureRulesError::NotATown(town));
        }
        let role_ok = matches!(
            ctx.actor.role(),
            Role::TownLeader { .. } | Role::PartyCommitteeSecretary | Role::Administrator
        );
        if !role_ok || !ctx.actor.covers(&town) {
            return Err(TownProcedureRulesError::Forbidden);
        }
        if let Some(own) = &self.town
            && own != &town
        {
            return Err(TownProcedureRulesError::WrongTown(own.clone()));
        }
        // Rules arriving through serde skipped `ProcedureRules::new`: the floors again.
        rules
            .check_floors()
            .map_err(TownProcedureRulesError::BelowFloor)?;
        Ok(vec![TownProcedureRulesEvent::ProcedureRulesSet {
            town,
            version: self.version.saturating_add(1),
            rules,
            set_by: ctx.actor.id.clone(),
            set_at: ctx.now,
        }])
    }

    fn evolve(&mut self, event: &TownProcedureRulesEvent) {
        let TownProcedureRulesEvent::ProcedureRulesSet {
            town,
            version,
            rules,
            ..
        } = event;
        self.town = Some(town.clone());
        self.version = *version;
        self.rules = rules.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    // 新昌县澄潭街道 梅渚村 / 棠村; 诸暨市枫桥镇 枫源村.
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
    fn actor(id: &str, role: Role, scope: RegionId) -> Actor {
        Actor {
            id: PersonId::parse(id).unwrap(),
            role,
            scope,
        }
    }
    fn secretary() -> Actor {
        actor("meizhu-secretary", Role::VillageSecretary, meizhu())
    }
    fn cadre() -> Actor {
        actor("meizhu-cadre", Role::VillageCadre, meizhu())
    }
    /// 1 March 2025, 09:00 in Shanghai (01:00 UTC); `at(d, h)` is 09:00 + `h` hours on the
    /// `d`-th day after, local time.
    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 1, 0, 0).unwrap()
    }
    fn local(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }
    fn at(days: i64, hours: i64) -> DateTime<Utc> {
        t0() + TimeDelta::days(days) + TimeDelta::hours(hours)
    }
    fn ev(kind: EvidenceKind) -> StepEvidence {
        StepEvidence {
            kind,
            file: EvidenceRef::new(&"ab".repeat(32), &format!("{kind}.jpg")).unwrap(),
        }
    }
    fn meeting_evidence() -> Vec<StepEvidence> {
        vec![
            ev(EvidenceKind::Minutes),
            ev(EvidenceKind::SignInSheet),
            ev(EvidenceKind::Photo),
        ]
    }
    fn pid() -> ProcedureId {
        ProcedureId::new(Uuid::from_u128(42))
    }

    fn when(
        given: &[ProcedureEvent],
        command: ProcedureCommand,
        who: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<ProcedureEvent>, ProcedureError> {
        Procedure::replay(given).decide(command, &CommandContext { actor: who, now })
    }

    /// Run a command that must succeed and append its events to the history.
    fn then_ok(
        history: &mut Vec<ProcedureEvent>,
        command: ProcedureCommand,
        now: DateTime<Utc>,
    ) -> Vec<ProcedureEvent> {
        let events = when(history, command, &secretary(), now).unwrap();
        history.extend(events.clone());
        events
    }

    fn start(amount_yuan: u64) -> ProcedureCommand {
        start_with(amount_yuan, ProcedureRules::default())
    }
    fn start_with(amount_yuan: u64, rules: ProcedureRules) -> ProcedureCommand {
        ProcedureCommand::StartProcedure {
            procedure_id: pid(),
            village: meizhu(),
            title: Text::parse("村道硬化及路灯改造").unwrap(),
            amount: Money::from_yuan(amount_yuan),
            rules,
        }
    }
    fn started(amount_yuan: u64) -> Vec<ProcedureEvent> {
        let mut h = Vec::new();
        then_ok(&mut h, start(amount_yuan), t0());
        h
    }

    fn suggestions(step_no: u16, collected_at: DateTime<Utc>) -> ProcedureCommand {
        ProcedureCommand::RecordSuggestions {
            step_no,
            record: SuggestionRecord {
                collected_at,
                summary: Text::parse("收集意见建议12条").unwrap(),
                evidence: vec![ev(EvidenceKind::SuggestionRecord)],
            },
        }
    }
    fn meeting(
        step_no: u16,
        held_at: DateTime<Utc>,
        body: MeetingBody,
        expected: u32,
        present: u32,
        (in_favour, against, abstain): (u32, u32, u32),
    ) -> ProcedureCommand {
        ProcedureCommand::RecordMeeting {
            step_no,
            record: MeetingRecord {
                held_at,
                body,
                expected,
                present,
                votes: Votes {
                    in_favour,
                    against,
                    abstain,
                },
                evidence: meeting_evidence(),
            },
        }
    }
    fn committee(step_no: u16, held_at: DateTime<Utc>) -> ProcedureCommand {
        meeting(step_no, held_at, MeetingBody::Committee, 7, 7, (7, 0, 0))
    }
    fn party(held_at: DateTime<Utc>) -> MeetingBody {
        MeetingBody::PartyMembers {
            proposal_sent_at: held_at - TimeDelta::days(3),
        }
    }
    fn publicity(step_no: u16, posted_at: DateTime<Utc>) -> ProcedureCommand {
        ProcedureCommand::PostPublicity {
            step_no,
            record: PublicityRecord {
                posted_at,
                days: None,
                evidence: vec![ev(EvidenceKind::NoticePhoto)],
            },
        }
    }

    /// 五议两公开 up to and including step `upto` (1..=7), each on its own day.
    fn full_until(upto: u16) -> Vec<ProcedureEvent> {
        let mut h = started(800_000);
        let steps = [
            (suggestions(1, at(0, 1)), at(0, 2)),
            (committee(2, at(1, 0)), at(1, 1)),
            (committee(3, at(2, 0)), at(2, 1)),
            (
                meeting(4, at(3, 0), party(at(3, 0)), 30, 25, (20, 3, 2)),
                at(3, 1),
            ),
            (
                meeting(
                    5,
                    at(4, 0),
                    MeetingBody::VillagerRepresentatives,
                    30,
                    24,
                    (20, 2, 2),
                ),
                at(4, 1),
            ),
            // 决议公开 posted 6 March for 7 days: ends 24:00 on 13 March = at(12, 15).
            (publicity(6, at(5, 0)), at(5, 1)),
            (publicity(7, at(13, 0)), at(13, 1)),
        ];
        for (command, now) in steps.into_iter().take(usize::from(upto)) {
            then_ok(&mut h, command, now);
        }
        h
    }

    // --- starting -----------------------------------------------------------------------------

    #[test]
    fn amount_above_huge_threshold_starts_full_wuyi_liang_gongkai() {
        let events = when(&[], start(800_000), &secretary(), t0()).unwrap();
        let [
            ProcedureEvent::ProcedureStarted {
                template,
                town: t,
                village,
                ..
            },
        ] = events.as_slice()
        else {
            panic!("expected one ProcedureStarted, got {events:?}");
        };
        assert_eq!(template.id().as_str(), TemplateId::WUYI);
        assert_eq!(template.steps().len(), 7);
        assert_eq!(template.steps()[0].kind, StepKind::Suggestions);
        assert_eq!(
            template
                .steps()
                .iter()
                .filter(|s| s.kind == StepKind::Publicity)
                .count(),
            2
        );
        assert_eq!((t, village), (&town(), &meizhu()));
    }

    #[test]
    fn amount_between_thresholds_starts_joint_meeting_and_thresholds_are_inclusive() {
        for (yuan, expected) in [
            (50_000, TemplateId::JOINT_MEETING),
            (499_999, TemplateId::JOINT_MEETING),
            (500_000, TemplateId::WUYI),
        ] {
            let events = when(&[], start(yuan), &cadre(), t0()).unwrap();
            let Some(ProcedureEvent::ProcedureStarted { template, .. }) = events.first() else {
                panic!("not started");
            };
            assert_eq!(template.id().as_str(), expected, "{yuan} yuan");
        }
    }

    #[test]
    fn amount_below_large_threshold_is_refused() {
        let err = when(&[], start(49_999), &secretary(), t0()).unwrap_err();
        assert!(matches!(err, ProcedureError::BelowThreshold { .. }));
        assert_eq!(err.code(), "RULE_VIOLATION");
    }

    #[test]
    fn a_town_may_choose_siyi_liang_gongkai_and_its_own_thresholds() {
        let rules = ProcedureRules::new(
            vec![
                ProcedureTemplate::siyi_liang_gongkai(),
                ProcedureTemplate::joint_meeting(),
            ],
            TemplateId::parse(TemplateId::JOINT_MEETING).unwrap(),
            TemplateId::parse(TemplateId::SIYI).unwrap(),
            SpendingThresholds::new(Money::from_yuan(20_000), Money::from_yuan(300_000)).unwrap(),
            StepTiming::default(),
        )
        .unwrap();
        let events = when(&[], start_with(300_000, rules.clone()), &secretary(), t0()).unwrap();
        let Some(ProcedureEvent::ProcedureStarted { template, .. }) = events.first() else {
            panic!("not started");
        };
        assert_eq!(template.id().as_str(), TemplateId::SIYI);
        assert_eq!(template.steps().len(), 6);
        assert_eq!(template.steps()[1].name, "两委会议商议");
        assert!(when(&[], start_with(20_000, rules), &secretary(), t0()).is_ok());
    }

    #[test]
    fn only_the_villages_own_cadres_may_start() {
        let others = [
            actor("tang-secretary", Role::VillageSecretary, tangcun()),
            actor(
                "town-leader",
                Role::TownLeader {
                    duty_areas: vec!["农业农村".into()],
                },
                town(),
            ),
            actor("town-staff", Role::TownOfficeStaff, town()),
            actor("auditor", Role::Auditor, meizhu()),
            actor("grid", Role::GridLeader, meizhu()),
        ];
        for who in others {
            let err = when(&[], start(800_000), &who, t0()).unwrap_err();
            assert_eq!(err, ProcedureError::Forbidden, "{:?}", who.role);
            assert_eq!(err.code(), "FORBIDDEN");
        }
    }

    #[test]
    fn starting_for_a_town_is_invalid_and_starting_twice_conflicts() {
        let command = ProcedureCommand::StartProcedure {
            procedure_id: pid(),
            village: town(),
            title: Text::parse("x").unwrap(),
            amount: Money::from_yuan(800_000),
            rules: ProcedureRules::default(),
        };
        let err = when(&[], command, &secretary(), t0()).unwrap_err();
        assert!(matches!(err, ProcedureError::NotAVillage(_)));
        let err = when(&started(800_000), start(800_000), &secretary(), t0()).unwrap_err();
        assert_eq!(err, ProcedureError::AlreadyStarted);
    }

    #[test]
    fn steps_cannot_be_recorded_before_the_procedure_starts() {
        let err = when(&[], suggestions(1, t0()), &secretary(), t0()).unwrap_err();
        assert_eq!(err, ProcedureError::NotStarted);
        assert_eq!(err.code(), "NOT_FOUND");
        let err = when(&[], ProcedureCommand::CompleteProcedure, &secretary(), t0()).unwrap_err();
        assert_eq!(err, ProcedureError::NotStarted);
    }

    // --- the happy path --------------------------------------------------------------------------

    #[test]
    fn full_procedure_runs_all_seven_steps_and_completes_after_the_last_publicity() {
        let mut h = full_until(7);
        let state = Procedure::replay(&h);
        let p = state.started().unwrap();
        assert_eq!(p.passed.len(), 7);
        assert_eq!(p.status, ProcedureStatus::Open);
        // The last 公开, posted 14 March for 7 calendar days, ends at 24:00 on 21 March.
        let ends = local("2025-03-22T00:00:00+08:00");
        assert_eq!(ends, at(20, 15));
        let err = when(
            &h,
            ProcedureCommand::CompleteProcedure,
            &secretary(),
            ends - TimeDelta::seconds(1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::PredecessorNotPassed { passes_at: ends }
        );
        let events = then_ok(&mut h, ProcedureCommand::CompleteProcedure, ends);
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureCompleted { steps: 7, .. }]
        ));
        assert_eq!(
            Procedure::replay(&h).status(),
            Some(ProcedureStatus::Completed)
        );
        let err = when(
            &h,
            ProcedureCommand::CompleteProcedure,
            &secretary(),
            at(21, 0),
        )
        .unwrap_err();
        assert_eq!(err, ProcedureError::Closed(ProcedureStatus::Completed));
    }

    #[test]
    fn joint_meeting_alone_completes_with_its_single_passed_meeting() {
        let mut h = started(100_000);
        let events = then_ok(&mut h, committee(1, at(0, 1)), at(0, 2));
        assert!(matches!(
            events.as_slice(),
            [
                ProcedureEvent::ProcedureStepRecorded {
                    outcome: StepOutcome::Passed,
                    ..
                },
                ProcedureEvent::ProcedureCompleted { steps: 1, .. }
            ]
        ));
        let err = when(&h, committee(2, at(0, 3)), &secretary(), at(0, 4)).unwrap_err();
        assert_eq!(err, ProcedureError::Closed(ProcedureStatus::Completed));
    }

    #[test]
    fn completing_with_steps_left_is_refused() {
        let h = full_until(3);
        let err = when(
            &h,
            ProcedureCommand::CompleteProcedure,
            &secretary(),
            at(3, 0),
        )
        .unwrap_err();
        assert_eq!(err, ProcedureError::StepsRemaining { remaining: 4 });
    }

    // --- order ----------------------------------------------------------------------------------

    #[test]
    fn a_step_cannot_be_recorded_before_its_predecessor() {
        let h = started(800_000);
        let err = when(&h, committee(2, at(0, 1)), &secretary(), at(0, 2)).unwrap_err();
        assert_eq!(
            err,
            ProcedureError::StepOutOfOrder {
                expected: 1,
                requested: 2
            }
        );
        let h = full_until(1);
        let err = when(&h, suggestions(1, at(0, 3)), &secretary(), at(0, 4)).unwrap_err();
        assert_eq!(
            err,
            ProcedureError::StepOutOfOrder {
                expected: 2,
                requested: 1
            }
        );
    }

    #[test]
    fn a_record_of_the_wrong_kind_for_the_step_is_refused() {
        let h = started(800_000);
        let err = when(&h, committee(1, at(0, 1)), &secretary(), at(0, 2)).unwrap_err();
        assert_eq!(
            err,
            ProcedureError::StepKindMismatch {
                step_no: 1,
                expected: StepKind::Suggestions
            }
        );
        // Step 4 is the 党员大会: a committee meeting cannot stand in for it.
        let h = full_until(3);
        let err = when(&h, committee(4, at(3, 0)), &secretary(), at(3, 1)).unwrap_err();
        assert!(matches!(
            err,
            ProcedureError::StepKindMismatch {
                step_no: 4,
                expected: StepKind::PartyMembersMeeting
            }
        ));
    }

    #[test]
    fn all_steps_recorded_means_no_step_left() {
        let h = full_until(7);
        let err = when(&h, publicity(8, at(21, 0)), &secretary(), at(21, 1)).unwrap_err();
        assert_eq!(err, ProcedureError::NoStepsLeft);
    }

    // --- claimed times ---------------------------------------------------------------------------

    #[test]
    fn a_meeting_claimed_in_the_future_is_refused() {
        let h = full_until(1);
        let err = when(&h, committee(2, at(1, 5)), &secretary(), at(1, 4)).unwrap_err();
        assert!(matches!(err, ProcedureError::ClaimedTimeInFuture { .. }));
    }

    #[test]
    fn a_meeting_claimed_before_the_previous_step_is_refused() {
        let h = full_until(2); // step 2 held at day 1, 00:00
        let err = when(&h, committee(3, at(0, 23)), &secretary(), at(1, 2)).unwrap_err();
        assert!(matches!(err, ProcedureError::BeforePreviousStep { .. }));
    }

    #[test]
    fn recording_after_the_window_is_backdating_and_refused() {
        let h = full_until(1);
        // Default window: 3 calendar days. A meeting held on 1 March at 20:00 may be recorded
        // until the end of 4 March (75 hours later), not in the first second of 5 March.
        let held = local("2025-03-01T20:00:00+08:00");
        let last = local("2025-03-04T23:59:59+08:00");
        assert!(when(&h, committee(2, held), &secretary(), last).is_ok());
        let err = when(
            &h,
            committee(2, held),
            &secretary(),
            last + TimeDelta::seconds(1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::RecordedTooLate {
                claimed: held,
                window_days: 3
            }
        );
        // Held one second before midnight on 1 March: the same last day, whatever the hour.
        let late_evening = local("2025-03-01T23:59:59+08:00");
        assert!(when(&h, committee(2, late_evening), &secretary(), last).is_ok());
        // Held in the first second of 2 March: one day more.
        let next_day = local("2025-03-02T00:00:00+08:00");
        assert!(
            when(
                &h,
                committee(2, next_day),
                &secretary(),
                last + TimeDelta::seconds(1)
            )
            .is_ok()
        );
    }

    #[test]
    fn the_record_window_is_configurable() {
        let rules = ProcedureRules::new(
            ProcedureRules::default().templates().to_vec(),
            TemplateId::parse(TemplateId::JOINT_MEETING).unwrap(),
            TemplateId::parse(TemplateId::WUYI).unwrap(),
            SpendingThresholds::default(),
            StepTiming::new(1, 7, 3, 10).unwrap(),
        )
        .unwrap();
        let mut h = Vec::new();
        then_ok(&mut h, start_with(100_000, rules), t0());
        let err = when(&h, committee(1, at(0, 0)), &secretary(), at(2, 0)).unwrap_err();
        assert!(matches!(
            err,
            ProcedureError::RecordedTooLate { window_days: 1, .. }
        ));
    }

    // --- counts ---------------------------------------------------------------------------------

    #[test]
    fn counts_that_do_not_add_up_are_refused() {
        let h = full_until(1);
        let cases = [
            (0, 0, (0, 0, 0), ProcedureError::NoExpectedAttendees),
            (
                7,
                8,
                (5, 0, 0),
                ProcedureError::PresentExceedsExpected {
                    expected: 7,
                    present: 8,
                },
            ),
            (
                7,
                5,
                (4, 1, 1),
                ProcedureError::VotesExceedPresent {
                    present: 5,
                    cast: 6,
                },
            ),
        ];
        for (expected, present, votes, error) in cases {
            let command = meeting(
                2,
                at(1, 0),
                MeetingBody::Committee,
                expected,
                present,
                votes,
            );
            assert_eq!(
                when(&h, command, &secretary(), at(1, 1)).unwrap_err(),
                error
            );
        }
    }

    // --- quorum and majority ----------------------------------------------------------------------

    #[test]
    fn committee_needs_more_than_half_present() {
        let h = full_until(1);
        let command = meeting(2, at(1, 0), MeetingBody::Committee, 7, 3, (3, 0, 0));
        let err = when(&h, command, &secretary(), at(1, 1)).unwrap_err();
        assert_eq!(
            err,
            ProcedureError::QuorumNotMet {
                expected: 7,
                present: 3
            }
        );
        let command = meeting(2, at(1, 0), MeetingBody::Committee, 7, 4, (4, 0, 0));
        assert!(when(&h, command, &secretary(), at(1, 1)).is_ok());
    }

    #[test]
    fn committee_passes_only_with_more_than_half_of_its_members() {
        let h = full_until(1);
        // 4 of 7 present, 3 in favour: a majority of those present, not of the members.
        let command = meeting(2, at(1, 0), MeetingBody::Committee, 7, 4, (3, 1, 0));
        let events = when(&h, command, &secretary(), at(1, 1)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [
                ProcedureEvent::ProcedureStepRecorded {
                    outcome: StepOutcome::Failed,
                    step_no: 2,
                    ..
                },
                ProcedureEvent::ProcedureRejected { step_no: 2, .. }
            ]
        ));
        let mut h = h;
        h.extend(events);
        assert_eq!(
            Procedure::replay(&h).status(),
            Some(ProcedureStatus::Rejected)
        );
        let err = when(&h, committee(2, at(1, 2)), &secretary(), at(1, 3)).unwrap_err();
        assert_eq!(err, ProcedureError::Closed(ProcedureStatus::Rejected));
    }

    #[test]
    fn party_members_meeting_needs_more_than_two_thirds_present() {
        let h = full_until(3);
        let held = at(3, 0);
        let command = meeting(4, held, party(held), 30, 20, (20, 0, 0));
        let err = when(&h, command, &secretary(), at(3, 1)).unwrap_err();
        assert!(matches!(err, ProcedureError::QuorumNotMet { .. }));
        let command = meeting(4, held, party(held), 30, 21, (16, 0, 0));
        assert!(when(&h, command, &secretary(), at(3, 1)).is_ok());
    }

    #[test]
    fn party_members_meeting_passes_only_with_more_than_half_of_all_members() {
        let h = full_until(3);
        let held = at(3, 0);
        // 15 of 21 present is a majority of those present but not of the 30 members.
        let command = meeting(4, held, party(held), 30, 21, (15, 6, 0));
        let events = when(&h, command, &secretary(), at(3, 1)).unwrap();
        assert!(matches!(
            events.last(),
            Some(ProcedureEvent::ProcedureRejected { step_no: 4, .. })
        ));
    }

    #[test]
    fn party_members_proposal_must_go_out_three_days_before() {
        let h = full_until(3);
        let held = at(3, 0);
        let body = MeetingBody::PartyMembers {
            proposal_sent_at: held - TimeDelta::days(2),
        };
        let err = when(
            &h,
            meeting(4, held, body, 30, 25, (20, 0, 0)),
            &secretary(),
            at(3, 1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::ProposalNoticeTooShort { required_days: 3 }
        );
    }

    #[test]
    fn representatives_meeting_needs_two_thirds_present_and_a_majority_of_those_present() {
        let h = full_until(4);
        let reps = MeetingBody::VillagerRepresentatives;
        let err = when(
            &h,
            meeting(5, at(4, 0), reps, 30, 19, (19, 0, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap_err();
        assert!(matches!(err, ProcedureError::QuorumNotMet { .. }));
        // Exactly 2/3 is enough (三分之二以上); 11 of 20 present carries it.
        let events = when(
            &h,
            meeting(5, at(4, 0), reps, 30, 20, (11, 9, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureStepRecorded {
                outcome: StepOutcome::Passed,
                ..
            }]
        ));
        // 10 of 20 is not more than half.
        let events = when(
            &h,
            meeting(5, at(4, 0), reps, 30, 20, (10, 10, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap();
        assert!(matches!(
            events.last(),
            Some(ProcedureEvent::ProcedureRejected { .. })
        ));
    }

    #[test]
    fn villagers_meeting_quorum_by_adults_or_households() {
        let h = full_until(4);
        let held = at(4, 0);
        let body = |households| MeetingBody::Villagers {
            announced_at: held - TimeDelta::days(10),
            households,
        };
        let err = when(
            &h,
            meeting(5, held, body(None), 1000, 500, (400, 0, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap_err();
        assert!(matches!(err, ProcedureError::QuorumNotMet { .. }));
        assert!(
            when(
                &h,
                meeting(5, held, body(None), 1000, 501, (300, 0, 0)),
                &secretary(),
                at(4, 1)
            )
            .is_ok()
        );
        let two_thirds = Some(Households {
            total: 300,
            represented: 200,
        });
        let events = when(
            &h,
            meeting(5, held, body(two_thirds), 1000, 400, (201, 100, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureStepRecorded {
                outcome: StepOutcome::Passed,
                ..
            }]
        ));
        let bad = [
            (
                Some(Households {
                    total: 0,
                    represented: 0,
                }),
                ProcedureError::NoHouseholds,
            ),
            (
                Some(Households {
                    total: 300,
                    represented: 301,
                }),
                ProcedureError::RepresentedExceedsHouseholds {
                    total: 300,
                    represented: 301,
                },
            ),
        ];
        for (households, error) in bad {
            let err = when(
                &h,
                meeting(5, held, body(households), 1000, 600, (400, 0, 0)),
                &secretary(),
                at(4, 1),
            )
            .unwrap_err();
            assert_eq!(err, error);
        }
    }

    #[test]
    fn villagers_meeting_must_be_announced_ten_days_before() {
        let h = full_until(4);
        let held = at(4, 0);
        let body = MeetingBody::Villagers {
            announced_at: held - TimeDelta::days(9),
            households: None,
        };
        let err = when(
            &h,
            meeting(5, held, body, 1000, 600, (400, 0, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::AnnouncementTooShort { required_days: 10 }
        );
    }

    // --- evidence ---------------------------------------------------------------------------------

    #[test]
    fn missing_evidence_returns_the_step_as_an_event_and_it_can_be_recorded_again() {
        let mut h = full_until(1);
        let ProcedureCommand::RecordMeeting { mut record, .. } = committee(2, at(1, 0)) else {
            unreachable!()
        };
        record.evidence = vec![ev(EvidenceKind::Minutes), ev(EvidenceKind::Photo)];
        let events = then_ok(
            &mut h,
            ProcedureCommand::RecordMeeting { step_no: 2, record },
            at(1, 1),
        );
        let [
            ProcedureEvent::ProcedureStepReturned {
                missing,
                step_no: 2,
                ..
            },
        ] = events.as_slice()
        else {
            panic!("expected a return, got {events:?}");
        };
        assert_eq!(missing, &vec![EvidenceKind::SignInSheet]);
        let state = Procedure::replay(&h);
        let p = state.started().unwrap();
        assert_eq!((p.passed.len(), p.returns), (1, 1));
        then_ok(&mut h, committee(2, at(1, 0)), at(1, 2));
        assert_eq!(Procedure::replay(&h).started().unwrap().passed.len(), 2);
    }

    #[test]
    fn suggestions_without_a_record_of_them_are_returned() {
        let h = started(800_000);
        let command = ProcedureCommand::RecordSuggestions {
            step_no: 1,
            record: SuggestionRecord {
                collected_at: at(0, 1),
                summary: Text::parse("意见").unwrap(),
                evidence: vec![ev(EvidenceKind::Photo)],
            },
        };
        let events = when(&h, command, &secretary(), at(0, 2)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureStepReturned { .. }]
        ));
    }

    #[test]
    fn a_rule_break_is_refused_even_when_evidence_is_missing_too() {
        let h = full_until(1);
        let command = ProcedureCommand::RecordMeeting {
            step_no: 2,
            record: MeetingRecord {
                held_at: at(1, 0),
                body: MeetingBody::Committee,
                expected: 7,
                present: 2,
                votes: Votes::default(),
                evidence: vec![],
            },
        };
        let err = when(&h, command, &secretary(), at(1, 1)).unwrap_err();
        assert!(matches!(err, ProcedureError::QuorumNotMet { .. }));
    }

    // --- publicity --------------------------------------------------------------------------------

    #[test]
    fn publicity_without_a_notice_photo_is_returned() {
        let h = full_until(5);
        let command = ProcedureCommand::PostPublicity {
            step_no: 6,
            record: PublicityRecord {
                posted_at: at(5, 0),
                days: None,
                evidence: vec![ev(EvidenceKind::Photo)],
            },
        };
        let events = when(&h, command, &secretary(), at(5, 1)).unwrap();
        let [ProcedureEvent::ProcedureStepReturned { missing, .. }] = events.as_slice() else {
            panic!("expected a return");
        };
        assert_eq!(missing, &vec![EvidenceKind::NoticePhoto]);
    }

    #[test]
    fn publicity_runs_for_the_default_period_or_longer_never_shorter() {
        let h = full_until(5);
        let events = when(&h, publicity(6, at(5, 0)), &secretary(), at(5, 1)).unwrap();
        let [ProcedureEvent::ProcedurePublicityPosted { days, ends_at, .. }] = events.as_slice()
        else {
            panic!("expected a posting");
        };
        // Posted 6 March, 7 calendar days: ends at 24:00 on 13 March.
        assert_eq!((*days, *ends_at), (7, local("2025-03-14T00:00:00+08:00")));
        for bad in [6, 366] {
            let command = ProcedureCommand::PostPublicity {
                step_no: 6,
                record: PublicityRecord {
                    posted_at: at(5, 0),
                    days: Some(bad),
                    evidence: vec![ev(EvidenceKind::NoticePhoto)],
                },
            };
            let err = when(&h, command, &secretary(), at(5, 1)).unwrap_err();
            assert_eq!(err, ProcedureError::BadPublicityPeriod { min_days: 7 });
        }
        for good in [10, StepTiming::MAX_DAYS] {
            let command = ProcedureCommand::PostPublicity {
                step_no: 6,
                record: PublicityRecord {
                    posted_at: at(5, 0),
                    days: Some(good),
                    evidence: vec![ev(EvidenceKind::NoticePhoto)],
                },
            };
            assert!(when(&h, command, &secretary(), at(5, 1)).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_step_after_a_publicity_waits_until_the_posting_period_ended() {
        let h = full_until(6); // 决议公开 posted 6 March, ends 24:00 on 13 March
        let ends = local("2025-03-14T00:00:00+08:00");
        let err = when(&h, publicity(7, at(11, 0)), &secretary(), at(11, 1)).unwrap_err();
        assert_eq!(
            err,
            ProcedureError::PredecessorNotPassed { passes_at: ends }
        );
        let err = when(
            &h,
            publicity(7, ends - TimeDelta::seconds(2)),
            &secretary(),
            ends - TimeDelta::seconds(1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::PredecessorNotPassed { passes_at: ends }
        );
        // After the period, a claim before its end is still refused.
        let err = when(
            &h,
            publicity(7, ends - TimeDelta::seconds(1)),
            &secretary(),
            at(13, 1),
        )
        .unwrap_err();
        assert!(matches!(err, ProcedureError::BeforePreviousStep { .. }));
        assert!(when(&h, publicity(7, ends), &secretary(), ends).is_ok());
    }

    #[test]
    fn another_villages_cadre_cannot_record_steps() {
        let h = full_until(1);
        let tang = actor("tang-secretary", Role::VillageSecretary, tangcun());
        let err = when(&h, committee(2, at(1, 0)), &tang, at(1, 1)).unwrap_err();
        assert_eq!(err, ProcedureError::Forbidden);
        let leader = actor("town-leader", Role::PartyCommitteeSecretary, town());
        let err = when(&h, ProcedureCommand::CompleteProcedure, &leader, at(1, 1)).unwrap_err();
        assert_eq!(err, ProcedureError::Forbidden);
    }

    // --- events and errors --------------------------------------------------------------------------

    #[test]
    fn event_types_are_variant_names_and_events_name_village_and_town() {
        let mut h = full_until(7);
        then_ok(&mut h, ProcedureCommand::CompleteProcedure, at(21, 0));
        let mut rejected = full_until(1);
        rejected.extend(
            when(
                &rejected,
                meeting(2, at(1, 0), MeetingBody::Committee, 7, 7, (1, 6, 0)),
                &secretary(),
                at(1, 1),
            )
            .unwrap(),
        );
        let mut returned = started(100_000);
        returned.extend(
            when(
                &returned,
                ProcedureCommand::RecordMeeting {
                    step_no: 1,
                    record: MeetingRecord {
                        held_at: at(0, 0),
                        body: MeetingBody::Committee,
                        expected: 5,
                        present: 5,
                        votes: Votes::default(),
                        evidence: vec![],
                    },
                },
                &secretary(),
                at(0, 1),
            )
            .unwrap(),
        );
        let mut seen = std::collections::BTreeSet::new();
        for e in h.iter().chain(&rejected).chain(&returned) {
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json["type"], e.event_type());
            assert_eq!(e.regions(), vec![meizhu(), town()]);
            assert_eq!(e.schema_version(), 1);
            seen.insert(e.event_type());
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            vec![
                "ProcedureCompleted",
                "ProcedurePublicityPosted",
                "ProcedureRejected",
                "ProcedureStarted",
                "ProcedureStepRecorded",
                "ProcedureStepReturned"
            ]
        );
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(ProcedureError::AlreadyStarted.code(), "CONFLICT");
        assert_eq!(ProcedureError::NoExpectedAttendees.code(), "INVALID_INPUT");
        assert_eq!(
            ProcedureError::QuorumNotMet {
                expected: 1,
                present: 0
            }
            .code(),
            "RULE_VIOLATION"
        );
        assert!(ProcedureError::Forbidden.to_string().contains("无权"));
    }

    // --- configuration -----------------------------------------------------------------------------

    #[test]
    fn rules_refuse_unusable_configuration() {
        let id = |s: &str| TemplateId::parse(s).unwrap();
        assert!(matches!(
            TemplateId::parse("五议"),
            Err(ProcedureRulesError::BadTemplateId(_))
        ));
        assert!(matches!(
            ProcedureTemplate::new(id("empty"), "空模板", vec![]),
            Err(ProcedureRulesError::EmptyTemplate(_))
        ));
        assert!(matches!(
            ProcedureTemplate::new(
                id("blank"),
                "模板",
                vec![TemplateStep::new("  ", StepKind::Publicity)]
            ),
            Err(ProcedureRulesError::BadName(_))
        ));
        assert!(matches!(
            ProcedureTemplate::new(
                id("long"),
                "模板",
                vec![TemplateStep::new("公开", StepKind::Publicity); 21]
            ),
            Err(ProcedureRulesError::TooManySteps(_))
        ));
        let defaults = || ProcedureRules::default().templates().to_vec();
        let build = |templates, joint: &str, full: &str| {
            ProcedureRules::new(
                templates,
                id(joint),
                id(full),
                SpendingThresholds::default(),
                StepTiming::default(),
            )
        };
        assert_eq!(
            build(vec![], TemplateId::JOINT_MEETING, TemplateId::WUYI),
            Err(ProcedureRulesError::NoTemplates)
        );
        let mut twice = defaults();
        twice.push(ProcedureTemplate::joint_meeting());
        assert!(matches!(
            build(twice, TemplateId::JOINT_MEETING, TemplateId::WUYI),
            Err(ProcedureRulesError::DuplicateTemplate(_))
        ));
        assert!(matches!(
            build(defaults(), "nope", TemplateId::WUYI),
            Err(ProcedureRulesError::UnknownTemplate(_))
        ));
        assert!(matches!(
            SpendingThresholds::new(Money::from_yuan(500_000), Money::from_yuan(50_000)),
            Err(ProcedureRulesError::ThresholdsOutOfOrder { .. })
        ));
        assert!(matches!(
            SpendingThresholds::new(Money::from_yuan(5), Money::from_yuan(5)),
            Err(ProcedureRulesError::ThresholdsOutOfOrder { .. })
        ));
        assert_eq!(
            SpendingThresholds::new(Money::from_fen(0), Money::from_yuan(5)),
            Err(ProcedureRulesError::ZeroThreshold)
        );
        for bad in [
            StepTiming::new(0, 7, 3, 10),
            StepTiming::new(3, 0, 3, 10),
            StepTiming::new(3, 7, 366, 10),
        ] {
            assert!(matches!(bad, Err(ProcedureRulesError::BadPeriod { .. })));
        }
        assert!(StepTiming::new(3, 7, 3, 10).is_ok());
    }

    #[test]
    fn rules_round_trip_through_json_and_invalid_json_rules_are_refused() {
        let rules = ProcedureRules::default();
        let json = serde_json::to_value(&rules).unwrap();
        assert_eq!(json["thresholds"]["large"], 5_000_000);
        let back: ProcedureRules = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, rules);
        let mut bad = json;
        bad["thresholds"]["huge"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ProcedureRules>(bad).is_err());
    }

    // --- a town's rules stream ----------------------------------------------------------------------

    #[test]
    fn town_leaders_set_versioned_rules_for_their_own_town_only() {
        let leader = actor("chengtan-leader", Role::PartyCommitteeSecretary, town());
        let ctx = CommandContext {
            actor: &leader,
            now: t0(),
        };
        let set = |town| TownProcedureRulesCommand::SetProcedureRules {
            town,
            rules: ProcedureRules::default(),
        };
        let mut state = TownProcedureRules::default();
        for version in 1..=2 {
            let events = state.decide(set(town()), &ctx).unwrap();
            assert!(matches!(
                events.as_slice(),
                [TownProcedureRulesEvent::ProcedureRulesSet { version: v, .. }] if *v == version
            ));
            assert_eq!(events[0].event_type(), "ProcedureRulesSet");
            assert_eq!(events[0].regions(), vec![town()]);
            state.evolve(&events[0]);
        }
        assert_eq!(state.version(), 2);
        assert_eq!(state.rules(), &ProcedureRules::default());

        let err = state.decide(set(meizhu()), &ctx).unwrap_err();
        assert!(matches!(err, TownProcedureRulesError::NotATown(_)));
        let admin = Actor::system();
        let other_town = region("330681109000");
        let err = state
            .decide(
                set(other_town),
                &CommandContext {
                    actor: &admin,
                    now: t0(),
                },
            )
            .unwrap_err();
        assert!(matches!(err, TownProcedureRulesError::WrongTown(_)));
        let err = state
            .decide(
                set(town()),
                &CommandContext {
                    actor: &secretary(),
                    now: t0(),
                },
            )
            .unwrap_err();
        assert_eq!(err, TownProcedureRulesError::Forbidden);
        assert_eq!(err.code(), "FORBIDDEN");
        let fengqiao_leader = actor("fq", Role::PartyCommitteeSecretary, region("330681109000"));
        let err = TownProcedureRules::default()
            .decide(
                set(town()),
                &CommandContext {
                    actor: &fengqiao_leader,
                    now: t0(),
                },
            )
            .unwrap_err();
        assert_eq!(err, TownProcedureRulesError::Forbidden);
    }

    // --- statutory floors ----------------------------------------------------------------------------

    /// Rules as a town could have stored them before the floors existed (serde skips the
    /// floor checks so old events replay): notices of 0 days, the joint meeting as the full
    /// procedure.
    fn legacy_rules(full: &str, party_days: u32, villagers_days: u32) -> ProcedureRules {
        let mut json = serde_json::to_value(ProcedureRules::default()).unwrap();
        json["full_template"] = serde_json::json!(full);
        json["timing"]["party_proposal_notice_days"] = serde_json::json!(party_days);
        json["timing"]["villagers_meeting_notice_days"] = serde_json::json!(villagers_days);
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn notice_periods_below_the_law_cannot_be_configured() {
        for (timing, what) in [
            (StepTiming::new(3, 7, 0, 10), "党员大会提前告知期"),
            (StepTiming::new(3, 7, 2, 10), "党员大会提前告知期"),
            (StepTiming::new(3, 7, 3, 0), "村民会议提前公告期"),
            (StepTiming::new(3, 7, 3, 9), "村民会议提前公告期"),
        ] {
            let err = timing.unwrap_err();
            assert!(
                matches!(err, ProcedureRulesError::BelowStatutoryFloor { what: w, .. } if w == what),
                "{err:?}"
            );
            assert_eq!(err.code(), "RULE_VIOLATION");
        }
        // A town may require more.
        let longer = StepTiming::new(2, 10, 5, 15).unwrap();
        assert_eq!(
            (
                longer.party_proposal_notice_days(),
                longer.villagers_meeting_notice_days()
            ),
            (5, 15)
        );
        // The record window may be shortened, never stretched past a week (后补).
        assert!(StepTiming::new(7, 7, 3, 10).is_ok());
        assert_eq!(
            StepTiming::new(8, 7, 3, 10),
            Err(ProcedureRulesError::RecordWindowTooLong { days: 8, max: 7 })
        );
    }

    #[test]
    fn stored_rules_below_the_floors_still_replay_and_the_floors_apply_anyway() {
        let rules = legacy_rules(TemplateId::JOINT_MEETING, 0, 0);
        assert_eq!(rules.timing().party_proposal_notice_days(), 3);
        assert_eq!(rules.timing().villagers_meeting_notice_days(), 10);
        let mut json = serde_json::to_value(StepTiming::default()).unwrap();
        json["record_window_days"] = serde_json::json!(30);
        let stretched: StepTiming = serde_json::from_value(json).unwrap();
        assert_eq!(stretched.record_window_days(), 7);
        // Above 数额巨大 the full procedure applies, not the single joint meeting the town named.
        let mut h = Vec::new();
        let events = then_ok(&mut h, start_with(800_000, rules.clone()), t0());
        let [ProcedureEvent::ProcedureStarted { template, .. }] = events.as_slice() else {
            panic!("not started: {events:?}");
        };
        assert_eq!(template.id().as_str(), TemplateId::WUYI);
        // One committee meeting does not complete an 800,000-yuan matter.
        let err = when(&h, committee(1, at(0, 1)), &secretary(), at(0, 2)).unwrap_err();
        assert_eq!(
            err,
            ProcedureError::StepKindMismatch {
                step_no: 1,
                expected: StepKind::Suggestions
            }
        );
        // A 村民会议 announced the day it is held does not pass, whatever the town set.
        let mut h = full_until(4);
        h[0] = match h[0].clone() {
            ProcedureEvent::ProcedureStarted {
                procedure_id,
                village,
                town,
                title,
                amount,
                template,
                started_by,
                started_at,
                ..
            } => ProcedureEvent::ProcedureStarted {
                procedure_id,
                village,
                town,
                title,
                amount,
                template,
                timing: rules.timing(),
                started_by,
                started_at,
            },
            other => other,
        };
        let held = at(4, 0);
        let same_day = MeetingBody::Villagers {
            announced_at: held - TimeDelta::hours(2),
            households: None,
        };
        let err = when(
            &h,
            meeting(5, held, same_day, 1000, 600, (400, 0, 0)),
            &secretary(),
            at(4, 1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::AnnouncementTooShort { required_days: 10 }
        );
    }

    #[test]
    fn the_party_meeting_floor_holds_for_stored_rules_too() {
        let rules = legacy_rules(TemplateId::WUYI, 0, 0);
        let mut h = Vec::new();
        then_ok(&mut h, start_with(800_000, rules), t0());
        for (command, now) in [
            (suggestions(1, at(0, 1)), at(0, 2)),
            (committee(2, at(1, 0)), at(1, 1)),
            (committee(3, at(2, 0)), at(2, 1)),
        ] {
            then_ok(&mut h, command, now);
        }
        let held = at(3, 0);
        let body = MeetingBody::PartyMembers {
            proposal_sent_at: held - TimeDelta::hours(1),
        };
        let err = when(
            &h,
            meeting(4, held, body, 30, 25, (20, 0, 0)),
            &secretary(),
            at(3, 1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::ProposalNoticeTooShort { required_days: 3 }
        );
    }

    #[test]
    fn a_town_cannot_name_a_lighter_template_as_its_full_procedure() {
        let id = |s: &str| TemplateId::parse(s).unwrap();
        let build = |templates: Vec<ProcedureTemplate>, joint: &str, full: &str| {
            ProcedureRules::new(
                templates,
                id(joint),
                id(full),
                SpendingThresholds::default(),
                StepTiming::default(),
            )
        };
        let err = build(
            ProcedureRules::default().templates().to_vec(),
            TemplateId::JOINT_MEETING,
            TemplateId::JOINT_MEETING,
        )
        .unwrap_err();
        assert!(matches!(
            &err,
            ProcedureRulesError::TemplateBelowFloor { template, .. }
                if template.as_str() == TemplateId::JOINT_MEETING
        ));
        assert_eq!(err.code(), "RULE_VIOLATION");
        // Without the 党员大会, or with the steps out of order: not a full procedure.
        let mut steps = ProcedureTemplate::siyi_liang_gongkai().steps().to_vec();
        steps.remove(2);
        let short = ProcedureTemplate::new(id("short"), "三议两公开", steps).unwrap();
        let mut steps = ProcedureTemplate::siyi_liang_gongkai().steps().to_vec();
        steps.swap(2, 3);
        let swapped = ProcedureTemplate::new(id("swapped"), "倒序", steps).unwrap();
        let publicity_only = ProcedureTemplate::new(
            id("notice"),
            "仅公开",
            vec![TemplateStep::new("公开", StepKind::Publicity)],
        )
        .unwrap();
        for (template, joint, full) in [
            (short, TemplateId::JOINT_MEETING, "short"),
            (swapped, TemplateId::JOINT_MEETING, "swapped"),
            (publicity_only, "notice", TemplateId::WUYI),
        ] {
            let mut templates = ProcedureRules::default().templates().to_vec();
            templates.push(template);
            assert!(
                matches!(
                    build(templates, joint, full),
                    Err(ProcedureRulesError::TemplateBelowFloor { .. })
                ),
                "{full}"
            );
        }
        // More than the law asks is allowed: 五议两公开 with a further 公开.
        let mut steps = ProcedureTemplate::wuyi_liang_gongkai().steps().to_vec();
        steps.push(TemplateStep::new("审计结果公开", StepKind::Publicity));
        let more = ProcedureTemplate::new(id("wuyi-plus"), "五议三公开", steps).unwrap();
        let mut templates = ProcedureRules::default().templates().to_vec();
        templates.push(more);
        let rules = build(templates, TemplateId::WUYI, "wuyi-plus").unwrap();
        assert_eq!(
            rules
                .template_for(Money::from_yuan(500_000))
                .unwrap()
                .steps()
                .len(),
            8
        );
        // Setting lighter rules that arrived through serde is refused too.
        let leader = actor("chengtan-leader", Role::PartyCommitteeSecretary, town());
        let err = TownProcedureRules::default()
            .decide(
                TownProcedureRulesCommand::SetProcedureRules {
                    town: town(),
                    rules: legacy_rules(TemplateId::JOINT_MEETING, 3, 10),
                },
                &CommandContext {
                    actor: &leader,
                    now: t0(),
                },
            )
            .unwrap_err();
        assert!(matches!(
            err,
            TownProcedureRulesError::BelowFloor(ProcedureRulesError::TemplateBelowFloor { .. })
        ));
        assert_eq!(err.code(), "RULE_VIOLATION");
        let err = TownProcedureRules::default()
            .decide(
                TownProcedureRulesCommand::SetProcedureRules {
                    town: town(),
                    rules: legacy_rules(TemplateId::WUYI, 0, 10),
                },
                &CommandContext {
                    actor: &leader,
                    now: t0(),
                },
            )
            .unwrap_err();
        assert!(matches!(
            err,
            TownProcedureRulesError::BelowFloor(ProcedureRulesError::BelowStatutoryFloor { .. })
        ));
    }

    // --- calendar days -------------------------------------------------------------------------------

    #[test]
    fn three_days_notice_counts_calendar_days_in_shanghai() {
        // Steps 1..3 on 1..3 March; the 党员大会 on 6 March at 09:00.
        let h = full_until(3);
        let held = local("2025-03-06T09:00:00+08:00");
        let now = held + TimeDelta::hours(1);
        let party = |sent: &str| {
            meeting(
                4,
                held,
                MeetingBody::PartyMembers {
                    proposal_sent_at: local(sent),
                },
                30,
                25,
                (20, 0, 0),
            )
        };
        // Sent on 3 March at 20:00 (61 hours before): three days' notice.
        assert!(when(&h, party("2025-03-03T20:00:00+08:00"), &secretary(), now).is_ok());
        assert!(when(&h, party("2025-03-03T23:59:59+08:00"), &secretary(), now).is_ok());
        // Sent in the first second of 4 March: two days.
        assert_eq!(
            when(&h, party("2025-03-04T00:00:00+08:00"), &secretary(), now).unwrap_err(),
            ProcedureError::ProposalNoticeTooShort { required_days: 3 }
        );
    }

    #[test]
    fn ten_days_announcement_counts_calendar_days_in_shanghai() {
        let h = full_until(4); // the 党员大会 on 4 March
        let held = local("2025-03-14T09:00:00+08:00");
        let now = held + TimeDelta::hours(1);
        let villagers = |announced: &str| {
            meeting(
                5,
                held,
                MeetingBody::Villagers {
                    announced_at: local(announced),
                    households: None,
                },
                1000,
                600,
                (400, 0, 0),
            )
        };
        assert!(
            when(
                &h,
                villagers("2025-03-04T23:59:59+08:00"),
                &secretary(),
                now
            )
            .is_ok()
        );
        assert_eq!(
            when(
                &h,
                villagers("2025-03-05T00:00:00+08:00"),
                &secretary(),
                now
            )
            .unwrap_err(),
            ProcedureError::AnnouncementTooShort { required_days: 10 }
        );
    }

    // --- evidence per step kind ------------------------------------------------------------------------

    #[test]
    fn the_meeting_of_the_whole_village_needs_a_photo_and_every_meeting_minutes_and_sign_in() {
        let without_photo = vec![ev(EvidenceKind::Minutes), ev(EvidenceKind::SignInSheet)];
        let with_files = |command: ProcedureCommand, files: Vec<StepEvidence>| match command {
            ProcedureCommand::RecordMeeting {
                step_no,
                mut record,
            } => {
                record.evidence = files;
                ProcedureCommand::RecordMeeting { step_no, record }
            }
            other => other,
        };
        // Committee meetings and the 党员大会: minutes and sign-in sheet suffice.
        let h = full_until(1);
        let events = when(
            &h,
            with_files(committee(2, at(1, 0)), without_photo.clone()),
            &secretary(),
            at(1, 1),
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureStepRecorded { .. }]
        ));
        let h = full_until(3);
        let events = when(
            &h,
            with_files(
                meeting(4, at(3, 0), party(at(3, 0)), 30, 25, (20, 3, 2)),
                without_photo.clone(),
            ),
            &secretary(),
            at(3, 1),
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureStepRecorded { .. }]
        ));
        // 村民(代表)会议 without a photo: returned, for both bodies.
        let h = full_until(4);
        let bodies = [
            MeetingBody::VillagerRepresentatives,
            MeetingBody::Villagers {
                announced_at: at(4, 0) - TimeDelta::days(10),
                households: None,
            },
        ];
        for body in bodies {
            let command = with_files(
                meeting(5, at(4, 0), body, 30, 24, (20, 2, 2)),
                without_photo.clone(),
            );
            let events = when(&h, command, &secretary(), at(4, 1)).unwrap();
            let [ProcedureEvent::ProcedureStepReturned { missing, .. }] = events.as_slice() else {
                panic!("expected a return, got {events:?}");
            };
            assert_eq!(missing, &vec![EvidenceKind::Photo]);
        }
        // Any meeting without its sign-in sheet is returned.
        for kind in [
            StepKind::CommitteeMeeting,
            StepKind::PartyMembersMeeting,
            StepKind::VillagerResolution,
        ] {
            assert!(kind.required_evidence().contains(&EvidenceKind::Minutes));
            assert!(
                kind.required_evidence()
                    .contains(&EvidenceKind::SignInSheet)
            );
        }
        assert_eq!(
            StepKind::Publicity.required_evidence(),
            &[EvidenceKind::NoticePhoto]
        );
    }

    // --- boundaries of quorum and majority with an even membership -----------------------------------

    #[test]
    fn committee_quorum_and_majority_at_exactly_half_of_an_even_membership() {
        let h = full_until(1);
        // 4 of 8 present is half, not more than half.
        let err = when(
            &h,
            meeting(2, at(1, 0), MeetingBody::Committee, 8, 4, (4, 0, 0)),
            &secretary(),
            at(1, 1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProcedureError::QuorumNotMet {
                expected: 8,
                present: 4
            }
        );
        // 4 of 8 members in favour is half: fails; 5 carries it.
        let events = when(
            &h,
            meeting(2, at(1, 0), MeetingBody::Committee, 8, 8, (4, 4, 0)),
            &secretary(),
            at(1, 1),
        )
        .unwrap();
        assert!(matches!(
            events.last(),
            Some(ProcedureEvent::ProcedureRejected { .. })
        ));
        let events = when(
            &h,
            meeting(2, at(1, 0), MeetingBody::Committee, 8, 5, (5, 0, 0)),
            &secretary(),
            at(1, 1),
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProcedureEvent::ProcedureStepRecorded {
                outcome: StepOutcome::Passed,
                ..
            }]
        ));
    }

    #[test]
    fn a_step_claimed_now_or_at_the_previous_steps_moment_is_accepted() {
        let h = full_until(1); // step 1 collected at at(0, 1)
        assert!(when(&h, committee(2, at(0, 1)), &secretary(), at(0, 1)).is_ok());
        let err = when(
            &h,
            committee(2, at(0, 1) - TimeDelta::seconds(1)),
            &secretary(),
            at(0, 2),
        )
        .unwrap_err();
        assert!(matches!(err, ProcedureError::BeforePreviousStep { .. }));
        let err = when(
            &h,
            committee(2, at(0, 2) + TimeDelta::seconds(1)),
            &secretary(),
            at(0, 2),
        )
        .unwrap_err();
        assert!(matches!(err, ProcedureError::ClaimedTimeInFuture { .. }));
    }

    // --- properties -----------------------------------------------------------------------------------

    #[derive(Debug, Clone)]
    enum Op {
        Suggest {
            step: Option<u16>,
            back_hours: i64,
            evidence: bool,
        },
        Meet {
            step: Option<u16>,
            /// `None`: the body the step needs; `Some(n)`: body `n % 4`, fitting or not.
            body: Option<u8>,
            expected: u32,
            /// Percentages of `expected` present and of `present` in favour.
            present_pct: u32,
            in_favour_pct: u32,
            against_abstain: (u32, u32),
            back_hours: i64,
            notice_days: i64,
            households: Option<(u32, u32)>,
            evidence: u8,
        },
        Publicize {
            step: Option<u16>,
            back_hours: i64,
            days: Option<u32>,
            photo: bool,
        },
        Complete,
        Wait(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let step = prop_oneof![3 => Just(None), 1 => (0u16..9).prop_map(Some)];
        prop_oneof![
            2 => (step.clone(), -6i64..90, proptest::bool::weighted(0.8)).prop_map(|(step, back_hours, evidence)| {
                Op::Suggest {
                    step,
                    back_hours,
                    evidence,
                }
            }),
            6 => (
                step.clone(),
                (
                    prop_oneof![3 => Just(None), 1 => (0u8..4).prop_map(Some)],
                    0u32..40,
                    prop_oneof![6 => 75u32..=100, 1 => 0u32..=110],
                ),
                (
                    prop_oneof![12 => 75u32..=100, 1 => 0u32..75],
                    0u32..3,
                    0u32..3,
                ),
                (-6i64..90, prop_oneof![3 => 10i64..14, 1 => 0i64..10]),
                proptest::option::of((0u32..10, 0u32..12)),
                prop_oneof![3 => Just(3u8), 1 => 0u8..4],
            )
                .prop_map(
                    |(
                        step,
                        (body, expected, present_pct),
                        (in_favour_pct, against, abstain),
                        (back_hours, notice_days),
                        households,
                        evidence,
                    )| {
                        Op::Meet {
                            step,
                            body,
                            expected,
                            present_pct,
                            in_favour_pct,
                            against_abstain: (against, abstain),
                            back_hours,
                            notice_days,
                            households,
                            evidence,
                        }
                    }
                ),
            3 => (step, -6i64..90, proptest::option::of(5u32..10), proptest::bool::weighted(0.8)).prop_map(
                |(step, back_hours, days, photo)| Op::Publicize {
                    step,
                    back_hours,
                    days,
                    photo,
                }
            ),
            1 => Just(Op::Complete),
            2 => (0i64..200).prop_map(Op::Wait),
        ]
    }

    /// Drive a procedure with arbitrary operations; return every event appended and the
    /// state folded along the way.
    fn drive(amount_yuan: u64, ops: &[Op]) -> (Vec<ProcedureEvent>, Procedure) {
        let mut now = t0();
        let mut history = Vec::new();
        let mut state = Procedure::default();
        let ctx_actor = secretary();
        let apply = |state: &mut Procedure, history: &mut Vec<ProcedureEvent>, command, now| {
            if let Ok(events) = state.decide(
                command,
                &CommandContext {
                    actor: &ctx_actor,
                    now,
                },
            ) {
                for e in &events {
                    state.evolve(e);
                }
                history.extend(events);
            }
        };
        apply(&mut state, &mut history, start(amount_yuan), now);
        for op in ops {
            let next = state
                .started()
                .map_or(1, |p| u16::try_from(p.passed.len() + 1).unwrap());
            let claimed = |back: i64| now - TimeDelta::hours(back);
            let command = match op.clone() {
                Op::Wait(hours) => {
                    now += TimeDelta::hours(hours);
                    continue;
                }
                Op::Complete => ProcedureCommand::CompleteProcedure,
                Op::Suggest {
                    step,
                    back_hours,
                    evidence,
                } => ProcedureCommand::RecordSuggestions {
                    step_no: step.unwrap_or(next),
                    record: SuggestionRecord {
                        collected_at: claimed(back_hours),
                        summary: Text::parse("意见").unwrap(),
                        evidence: if evidence {
                            vec![ev(EvidenceKind::SuggestionRecord)]
                        } else {
                            vec![]
                        },
                    },
                },
                Op::Meet {
                    step,
                    body,
                    expected,
                    present_pct,
                    in_favour_pct,
                    against_abstain: (against, abstain),
                    back_hours,
                    notice_days,
                    households,
                    evidence,
                } => {
                    let held_at = claimed(back_hours);
                    let notice = held_at - TimeDelta::days(notice_days);
                    let present = expected * present_pct / 100;
                    let votes = (present * in_favour_pct / 100, against, abstain);
                    let fitting = state
                        .started()
                        .and_then(|p| p.template.steps().get(p.passed.len()))
                        .map(|s| match s.kind {
                            StepKind::PartyMembersMeeting => 1,
                            StepKind::VillagerResolution => 2 + u8::from(households.is_some()),
                            _ => 0,
                        });
                    let body = match body.or(fitting).unwrap_or(0) % 4 {
                        0 => MeetingBody::Committee,
                        1 => MeetingBody::PartyMembers {
                            proposal_sent_at: notice,
                        },
                        2 => MeetingBody::VillagerRepresentatives,
                        _ => MeetingBody::Villagers {
                            announced_at: notice,
                            households: households
                                .map(|(represented, total)| Households { total, represented }),
                        },
                    };
                    let mut files = vec![ev(EvidenceKind::Photo)];
                    if evidence & 1 == 1 {
                        files.push(ev(EvidenceKind::Minutes));
                    }
                    if evidence & 2 == 2 || evidence == 0 {
                        files.push(ev(EvidenceKind::SignInSheet));
                    }
                    if evidence == 0 {
                        files.push(ev(EvidenceKind::Minutes));
                    }
                    ProcedureCommand::RecordMeeting {
                        step_no: step.unwrap_or(next),
                        record: MeetingRecord {
                            held_at,
                            body,
                            expected,
                            present,
                            votes: Votes {
                                in_favour: votes.0,
                                against: votes.1,
                                abstain: votes.2,
                            },
                            evidence: files,
                        },
                    }
                }
                Op::Publicize {
                    step,
                    back_hours,
                    days,
                    photo,
                } => ProcedureCommand::PostPublicity {
                    step_no: step.unwrap_or(next),
                    record: PublicityRecord {
                        posted_at: claimed(back_hours),
                        days,
                        evidence: if photo {
                            vec![ev(EvidenceKind::NoticePhoto)]
                        } else {
                            vec![]
                        },
                    },
                },
            };
            apply(&mut state, &mut history, command, now);
        }
        (history, state)
    }

    /// An independent reading of DOMAIN.md's quorum and majority rules.
    fn lawful(body: &MeetingBody, expected: u32, present: u32, votes: &Votes) -> (bool, bool) {
        let (e, p, y) = (
            f64::from(expected),
            f64::from(present),
            f64::from(votes.in_favour),
        );
        match body {
            MeetingBody::Committee => (p > e / 2.0, y > e / 2.0),
            MeetingBody::PartyMembers { .. } => (p > e * 2.0 / 3.0, y > e / 2.0),
            MeetingBody::VillagerRepresentatives => (p >= e * 2.0 / 3.0, y > p / 2.0),
            MeetingBody::Villagers { households, .. } => (
                p > e / 2.0
                    || households.is_some_and(|h| {
                        f64::from(h.represented) >= f64::from(h.total) * 2.0 / 3.0
                    }),
                y > p / 2.0,
            ),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_sequence_of_commands_breaks_order_quorum_or_timing(
            amount in prop_oneof![Just(60_000u64), Just(900_000u64)],
            ops in proptest::collection::vec(op(), 0..100),
        ) {
            let (history, _) = drive(amount, &ops);
            let Some(ProcedureEvent::ProcedureStarted { template, timing, .. }) = history.first()
            else {
                return Err(TestCaseError::fail("procedure did not start"));
            };
            let mut passed: Vec<DateTime<Utc>> = Vec::new();
            let mut closed = false;
            for e in &history[1..] {
                prop_assert!(!closed, "event after the procedure closed: {:?}", e);
                match e {
                    ProcedureEvent::ProcedureStepRecorded { step_no, step, outcome, recorded_at, .. } => {
                        prop_assert_eq!(usize::from(*step_no), passed.len() + 1);
                        let kind = template.steps()[passed.len()].kind;
                        let claimed = match step {
                            RecordedStep::Suggestions(s) => {
                                prop_assert_eq!(kind, StepKind::Suggestions);
                                s.collected_at
                            }
                            RecordedStep::Meeting(m) => {
                                prop_assert_eq!(kind, m.body.step_kind());
                                prop_assert!(m.present <= m.expected);
                                prop_assert!(m.votes.total() <= u64::from(m.present));
                                let (quorum, majority) =
                                    lawful(&m.body, m.expected, m.present, &m.votes);
                                prop_assert!(quorum, "vote recorded without quorum: {:?}", m);
                                prop_assert_eq!(majority, *outcome == StepOutcome::Passed);
                                m.held_at
                            }
                        };
                        prop_assert!(claimed <= *recorded_at);
                        prop_assert!(
                            *recorded_at < calendar::period_end(claimed, timing.record_window_days())
                        );
                        if let RecordedStep::Meeting(m) = step {
                            match m.body {
                                MeetingBody::PartyMembers { proposal_sent_at } => prop_assert!(
                                    calendar::days_between(proposal_sent_at, m.held_at) >= 3
                                ),
                                MeetingBody::Villagers { announced_at, .. } => prop_assert!(
                                    calendar::days_between(announced_at, m.held_at) >= 10
                                ),
                                _ => {}
                            }
                            for required in m.body.step_kind().required_evidence() {
                                prop_assert!(m.evidence.iter().any(|e| e.kind == *required));
                            }
                        }
                        if let Some(prev) = passed.last() {
                            prop_assert!(claimed >= *prev && *recorded_at >= *prev);
                        }
                        if *outcome == StepOutcome::Passed {
                            passed.push(claimed);
                        }
                    }
                    ProcedureEvent::ProcedurePublicityPosted { step_no, posted_at, ends_at, recorded_at, .. } => {
                        prop_assert_eq!(usize::from(*step_no), passed.len() + 1);
                        prop_assert_eq!(template.steps()[passed.len()].kind, StepKind::Publicity);
                        prop_assert!(posted_at <= recorded_at);
                        if let Some(prev) = passed.last() {
                            prop_assert!(posted_at >= prev && recorded_at >= prev);
                        }
                        passed.push(*ends_at);
                    }
                    ProcedureEvent::ProcedureRejected { .. } => closed = true,
                    ProcedureEvent::ProcedureCompleted { completed_at, .. } => {
                        prop_assert_eq!(passed.len(), template.steps().len());
                        prop_assert!(passed.last().is_some_and(|p| p <= completed_at));
                        closed = true;
                    }
                    ProcedureEvent::ProcedureStepReturned { missing, .. } => {
                        prop_assert!(!missing.is_empty());
                    }
                    ProcedureEvent::ProcedureStarted { .. } => {
                        prop_assert!(false, "started twice");
                    }
                }
            }
        }

        #[test]
        fn replay_is_deterministic_and_events_round_trip(
            amount in prop_oneof![Just(60_000u64), Just(900_000u64)],
            ops in proptest::collection::vec(op(), 0..100),
        ) {
            let (history, folded) = drive(amount, &ops);
            prop_assert_eq!(&Procedure::replay(&history), &folded);
            prop_assert_eq!(Procedure::replay(&history), Procedure::replay(&history));
            let mut decoded = Vec::new();
            for e in &history {
                let json = serde_json::to_string(e).unwrap();
                let back: ProcedureEvent = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(&back, e);
                decoded.push(back);
            }
            prop_assert_eq!(Procedure::replay(&decoded), folded);
        }
    }

    #[test]
    fn the_property_driver_reaches_every_outcome() {
        // Guards the properties above against a driver that never gets past step one.
        let ops = vec![
            Op::Suggest {
                step: None,
                back_hours: 1,
                evidence: true,
            },
            Op::Wait(5),
            Op::Meet {
                step: None,
                body: None,
                expected: 5,
                present_pct: 100,
                in_favour_pct: 100,
                against_abstain: (0, 0),
                back_hours: 1,
                notice_days: 0,
                households: None,
                evidence: 3,
            },
            Op::Wait(5),
            Op::Meet {
                step: None,
                body: Some(0),
                expected: 5,
                present_pct: 100,
                in_favour_pct: 20,
                against_abstain: (4, 0),
                back_hours: 1,
                notice_days: 0,
                households: None,
                evidence: 3,
            },
        ];
        let (history, state) = drive(900_000, &ops);
        assert_eq!(history.len(), 5);
        assert_eq!(state.status(), Some(ProcedureStatus::Rejected));
    }
}
