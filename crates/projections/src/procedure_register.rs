//! 村级决策程序台账 — the procedure register: per village, every decision procedure
//! (五议两公开, 四议两公开, 村务联席会议) with its template, its steps in order as recorded
//! (claimed meeting time, expected and present, votes, evidence), the steps returned for
//! missing evidence (缺少佐证, 退回) and the outcome. Folded from `procedure-…` streams.
//!
//! Four tables:
//!
//! - `procedures`: one row per procedure: village, town, county, title, amount, template,
//!   status (`in_progress`, `completed`, `rejected`), steps recorded, returns, when it ended
//!   (and the local date it was completed, for [`compliant_completions`]);
//! - `procedure_steps`: one row per template step, created `pending` when the procedure
//!   starts (the template is snapshotted in `ProcedureStarted`) and filled in when recorded
//!   (`passed`, `failed`, or `posted` for a 公开), with how often it was returned first;
//! - `procedure_evidence`: the evidence of each recorded step (kind, SHA-256, name);
//! - `procedure_returns`: each return, with the step, the claimed time and the evidence
//!   missing, in the words a cadre reads.
//!
//! **Compliant completion.** The domain refuses every rule break (order, quorum, majority,
//! notice periods, claimed times, the record window) and returns every step without its
//! evidence, so a procedure reaches `ProcedureCompleted` only if every step was recorded in
//! order with its evidence, the votes carried and the 公开 periods ran. A step returned and
//! then recorded again with its evidence complies: the step counts only once it was
//! complete. A compliant completion is therefore a completed procedure, counted on the day
//! (Asia/Shanghai) it completed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use xingcun_domain::ProcedureEvent;
use xingcun_domain::calendar::local_date;
use xingcun_domain::procedure::{EvidenceKind, MeetingBody, RecordedStep, StepKind, StepOutcome};
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, decode, t};
use crate::sql::{Arg, ReadDb, Stmt, int, text};

pub struct ProcedureRegister;

const TABLES: &[Table] = &[
    Table {
        name: "procedures",
        columns: "(procedure text not null, village text not null, town text not null, county text not null, \
                  title text not null, amount_fen bigint not null, template_id text not null, \
                  template_name text not null, steps_total bigint not null, steps_recorded bigint not null, \
                  returns bigint not null, status text not null, started_by text not null, \
                  started_at text not null, ended_at text, completed_on text, rejected_step bigint, \
                  position bigint not null, primary key (procedure))",
        indexes: &[
            "(village, started_at)",
            "(town, completed_on)",
            "(county, completed_on)",
        ],
        lookups: &[],
    },
    Table {
        name: "procedure_steps",
        columns: "(procedure text not null, step_no bigint not null, village text not null, \
                  step_name text not null, kind text not null, state text not null, body text, \
                  claimed_at text, expected bigint, present bigint, votes_for bigint, votes_against bigint, \
                  votes_abstain bigint, summary text, publicity_days bigint, publicity_ends_at text, \
                  returns bigint not null, recorded_by text, recorded_at text, position bigint not null, \
                  primary key (procedure, step_no))",
        indexes: &["(village)"],
        lookups: &[],
    },
    Table {
        name: "procedure_evidence",
        columns: "(procedure text not null, step_no bigint not null, seq bigint not null, village text not null, \
                  kind text not null, sha256 text not null, name text not null, \
                  primary key (procedure, step_no, seq))",
        indexes: &["(village)"],
        lookups: &[],
    },
    Table {
        name: "procedure_returns",
        columns: "(procedure text not null, position bigint not null, village text not null, town text not null, \
                  step_no bigint not null, step_name text not null, claimed_at text not null, \
                  missing text not null, reason text not null, returned_by text not null, \
                  returned_at text not null, primary key (procedure, position))",
        indexes: &["(village)"],
        lookups: &[],
    },
];

const STARTED: &str = "insert into {procedures} (procedure, village, town, county, title, amount_fen, template_id, \
     template_name, steps_total, steps_recorded, returns, status, started_by, started_at, position) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, 'in_progress', $10, $11, $12) \
     on conflict (procedure) do nothing";
const TEMPLATE_STEP: &str = "insert into {procedure_steps} (procedure, step_no, village, step_name, kind, state, \
     returns, position) values ($1, $2, $3, $4, $5, 'pending', 0, $6) \
     on conflict (procedure, step_no) do nothing";
const STEP_RECORDED: &str = "update {procedure_steps} set state = $1, body = $2, claimed_at = $3, expected = $4, \
     present = $5, votes_for = $6, votes_against = $7, votes_abstain = $8, summary = $9, recorded_by = $10, \
     recorded_at = $11, position = $12 where procedure = $13 and step_no = $14";
const PUBLICITY_POSTED: &str = "update {procedure_steps} set state = 'posted', claimed_at = $1, \
     publicity_days = $2, publicity_ends_at = $3, recorded_by = $4, recorded_at = $5, position = $6 \
     where procedure = $7 and step_no = $8";
const STEP_COUNTED: &str = "update {procedures} set steps_recorded = steps_recorded + 1, position = $1 \
     where procedure = $2";
const EVIDENCE: &str = "insert into {procedure_evidence} (procedure, step_no, seq, village, kind, sha256, name) \
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (procedure, step_no, seq) do nothing";
const RETURN: &str = "insert into {procedure_returns} (procedure, position, village, town, step_no, step_name, \
     claimed_at, missing, reason, returned_by, returned_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     on conflict (procedure, position) do nothing";
const STEP_RETURNED: &str =
    "update {procedure_steps} set returns = returns + 1 where procedure = $1 and step_no = $2";
const PROCEDURE_RETURNED: &str =
    "update {procedures} set returns = returns + 1, position = $1 where procedure = $2";
const REJECTED: &str = "update {procedures} set status = 'rejected', ended_at = $1, rejected_step = $2, \
     position = $3 where procedure = $4";
const COMPLETED: &str = "update {procedures} set status = 'completed', ended_at = $1, completed_on = $2, \
     position = $3 where procedure = $4";

fn time(t: &DateTime<Utc>) -> Arg {
    Arg::Text(xingcun_store::hash::format_time(t))
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Suggestions => "suggestions",
        StepKind::CommitteeMeeting => "committee_meeting",
        StepKind::PartyMembersMeeting => "party_members_meeting",
        StepKind::VillagerResolution => "villager_resolution",
        StepKind::Publicity => "publicity",
    }
}

fn body_name(body: &MeetingBody) -> &'static str {
    match body {
        MeetingBody::Committee => "committee",
        MeetingBody::PartyMembers { .. } => "party_members",
        MeetingBody::VillagerRepresentatives => "villager_representatives",
        MeetingBody::Villagers { .. } => "villagers",
    }
}

fn evidence_name(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Minutes => "minutes",
        EvidenceKind::SignInSheet => "sign_in_sheet",
        EvidenceKind::Photo => "photo",
        EvidenceKind::NoticePhoto => "notice_photo",
        EvidenceKind::SuggestionRecord => "suggestion_record",
        EvidenceKind::Other => "other",
    }
}

impl Projection for ProcedureRegister {
    fn name(&self) -> &'static str {
        "procedure_register"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["procedure"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        match decode::<ProcedureEvent>(event)? {
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
            } => {
                let id = procedure_id.to_string();
                out.push(Stmt::new(
                    STARTED,
                    vec![
                        t(id.as_str()),
                        t(village.to_string()),
                        t(town.to_string()),
                        t(town
                            .parent()
                            .map_or_else(|| town.to_string(), |c| c.to_string())),
                        t(title.to_string()),
                        i64::try_from(amount.fen()).unwrap_or(i64::MAX).into(),
                        t(template.id().to_string()),
                        t(template.name()),
                        i64::try_from(template.steps().len()).unwrap_or(0).into(),
                        t(started_by.to_string()),
                        time(&started_at),
                        at.into(),
                    ],
                ));
                for (i, step) in template.steps().iter().enumerate() {
                    out.push(Stmt::new(
                        TEMPLATE_STEP,
                        vec![
                            t(id.as_str()),
                            i64::try_from(i + 1).unwrap_or(0).into(),
                            t(village.to_string()),
                            t(step.name.as_str()),
                            t(kind_name(step.kind)),
                            at.into(),
                        ],
                    ));
                }
            }
            ProcedureEvent::ProcedureStepRecorded {
                procedure_id,
                village,
                step_no,
                step,
                outcome,
                recorded_by,
                recorded_at,
                ..
            } => {
                let id = procedure_id.to_string();
                let state = match outcome {
                    StepOutcome::Passed => "passed",
                    StepOutcome::Failed => "failed",
                };
                let (body, claimed, counts, summary, evidence) = match &step {
                    RecordedStep::Suggestions(s) => (
                        None,
                        s.collected_at,
                        None,
                        Some(s.summary.to_string()),
                        &s.evidence,
                    ),
                    RecordedStep::Meeting(m) => (
                        Some(body_name(&m.body).to_owned()),
                        m.held_at,
                        Some((m.expected, m.present, m.votes)),
                        None,
                        &m.evidence,
                    ),
                };
                let n = |f: fn(&(u32, u32, xingcun_domain::procedure::Votes)) -> u32| {
                    Arg::OptInt(counts.as_ref().map(|c| i64::from(f(c))))
                };
                out.push(Stmt::new(
                    STEP_RECORDED,
                    vec![
                        t(state),
                        body.into(),
                        time(&claimed),
                        n(|c| c.0),
                        n(|c| c.1),
                        n(|c| c.2.in_favour),
                        n(|c| c.2.against),
                        n(|c| c.2.abstain),
                        summary.into(),
                        t(recorded_by.to_string()),
                        time(&recorded_at),
                        at.into(),
                        t(id.as_str()),
                        i64::from(step_no).into(),
                    ],
                ));
                push_evidence(out, &id, step_no, &village.to_string(), evidence);
                out.push(Stmt::new(STEP_COUNTED, vec![at.into(), t(id)]));
            }
            ProcedureEvent::ProcedurePublicityPosted {
                procedure_id,
                village,
                step_no,
                posted_at,
                days,
                ends_at,
                evidence,
                recorded_by,
                recorded_at,
                ..
            } => {
                let id = procedure_id.to_string();
                out.push(Stmt::new(
                    PUBLICITY_POSTED,
                    vec![
                        time(&posted_at),
                        i64::from(days).into(),
                        time(&ends_at),
                        t(recorded_by.to_string()),
                        time(&recorded_at),
                        at.into(),
                        t(id.as_str()),
                        i64::from(step_no).into(),
                    ],
                ));
                push_evidence(out, &id, step_no, &village.to_string(), &evidence);
                out.push(Stmt::new(STEP_COUNTED, vec![at.into(), t(id)]));
            }
            ProcedureEvent::ProcedureStepReturned {
                procedure_id,
                village,
                town,
                step_no,
                step_name,
                claimed_at,
                missing,
                returned_by,
                returned_at,
            } => {
                let id = procedure_id.to_string();
                let codes: Vec<&str> = missing.iter().map(|k| evidence_name(*k)).collect();
                let words: Vec<String> = missing.iter().map(ToString::to_string).collect();
                out.push(Stmt::new(
                    RETURN,
                    vec![
                        t(id.as_str()),
                        at.into(),
                        t(village.to_string()),
                        t(town.to_string()),
                        i64::from(step_no).into(),
                        t(step_name),
                        time(&claimed_at),
                        t(codes.join(",")),
                        t(format!("缺少佐证:{}", words.join("、"))),
                        t(returned_by.to_string()),
                        time(&returned_at),
                    ],
                ));
                out.push(Stmt::new(
                    STEP_RETURNED,
                    vec![t(id.as_str()), i64::from(step_no).into()],
                ));
                out.push(Stmt::new(PROCEDURE_RETURNED, vec![at.into(), t(id)]));
            }
            ProcedureEvent::ProcedureRejected {
                procedure_id,
                step_no,
                rejected_at,
                ..
            } => out.push(Stmt::new(
                REJECTED,
                vec![
                    time(&rejected_at),
                    i64::from(step_no).into(),
                    at.into(),
                    t(procedure_id.to_string()),
                ],
            )),
            ProcedureEvent::ProcedureCompleted {
                procedure_id,
                completed_at,
                ..
            } => out.push(Stmt::new(
                COMPLETED,
                vec![
                    time(&completed_at),
                    t(local_date(completed_at).to_string()),
                    at.into(),
                    t(procedure_id.to_string()),
                ],
            )),
        }
        Ok(())
    }
}

fn push_evidence(
    out: &mut Vec<Stmt>,
    procedure: &str,
    step_no: u16,
    village: &str,
    evidence: &[xingcun_domain::procedure::StepEvidence],
) {
    for (seq, e) in evidence.iter().enumerate() {
        out.push(Stmt::new(
            EVIDENCE,
            vec![
                t(procedure),
                i64::from(step_no).into(),
                i64::try_from(seq + 1).unwrap_or(0).into(),
                t(village),
                t(evidence_name(e.kind)),
                t(e.file.sha256()),
                t(e.file.name()),
            ],
        ));
    }
}

/// A piece of evidence of a recorded step (佐证材料).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `minutes`, `sign_in_sheet`, `photo`, `notice_photo`, `suggestion_record`, `other`.
    pub kind: String,
    pub sha256: String,
    pub name: String,
}

/// One step of a procedure, as its template names it and as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step_no: i64,
    pub name: String,
    /// `suggestions`, `committee_meeting`, `party_members_meeting`, `villager_resolution`,
    /// `publicity`.
    pub kind: String,
    /// `pending`, `passed`, `failed` or `posted` (a 公开).
    pub state: String,
    /// The meeting body (`committee`, `party_members`, `villager_representatives`,
    /// `villagers`) for a meeting.
    pub body: Option<String>,
    /// Claimed time: the meeting held, the suggestions collected, the notice posted.
    pub claimed_at: Option<String>,
    /// 应到, 实到.
    pub expected: Option<i64>,
    pub present: Option<i64>,
    pub votes_for: Option<i64>,
    pub votes_against: Option<i64>,
    pub votes_abstain: Option<i64>,
    pub publicity_days: Option<i64>,
    pub publicity_ends_at: Option<String>,
    /// Times it was returned for missing evidence before it was recorded.
    pub returns: i64,
    pub recorded_at: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// A step returned for missing evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReturn {
    pub position: i64,
    pub step_no: i64,
    pub step_name: String,
    pub claimed_at: String,
    /// The evidence kinds missing, comma-separated.
    pub missing: String,
    /// What the cadre read: `缺少佐证:会议记录、签到表`.
    pub reason: String,
    pub returned_at: String,
}

/// One procedure of a village's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcedureEntry {
    pub procedure: String,
    pub village: String,
    pub town: String,
    pub title: String,
    pub amount_fen: i64,
    pub template_id: String,
    pub template_name: String,
    /// `in_progress`, `completed` or `rejected`.
    pub status: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// The step whose vote failed, for a rejected procedure.
    pub rejected_step: Option<i64>,
    pub steps: Vec<Step>,
    pub returns: Vec<StepReturn>,
}

/// A village's register: every procedure, earliest started first, each with its steps in
/// order, their evidence and the returns.
pub async fn register(db: &ReadDb, village: &str) -> Result<Vec<ProcedureEntry>, StoreError> {
    let procedures = db
        .fetch(
            &format!(
                "select procedure, village, town, title, amount_fen, template_id, template_name, status, \
                 started_at, ended_at, rejected_step from {} where village = $1 order by started_at, procedure",
                db.qualified("procedures")
            ),
            &[village.into()],
        )
        .await?;
    let steps = db
        .fetch(
            &format!(
                "select procedure, step_no, step_name, kind, state, body, claimed_at, expected, present, \
                 votes_for, votes_against, votes_abstain, publicity_days, publicity_ends_at, returns, \
                 recorded_at from {} where village = $1 order by procedure, step_no",
                db.qualified("procedure_steps")
            ),
            &[village.into()],
        )
        .await?;
    let evidence = db
        .fetch(
            &format!(
                "select procedure, step_no, kind, sha256, name from {} where village = $1 \
                 order by procedure, step_no, seq",
                db.qualified("procedure_evidence")
            ),
            &[village.into()],
        )
        .await?;
    let returns = db
        .fetch(
            &format!(
                "select procedure, position, step_no, step_name, claimed_at, missing, reason, returned_at \
                 from {} where village = $1 order by procedure, position",
                db.qualified("procedure_returns")
            ),
            &[village.into()],
        )
        .await?;
    Ok(procedures
        .iter()
        .map(|p| {
            let id = text(p, 0).unwrap_or_default();
            let mine = |r: &&Vec<Arg>| text(r, 0).as_deref() == Some(id.as_str());
            ProcedureEntry {
                steps: steps
                    .iter()
                    .filter(mine)
                    .map(|s| {
                        let no = int(s, 1).unwrap_or(0);
                        Step {
                            step_no: no,
                            name: text(s, 2).unwrap_or_default(),
                            kind: text(s, 3).unwrap_or_default(),
                            state: text(s, 4).unwrap_or_default(),
                            body: text(s, 5),
                            claimed_at: text(s, 6),
                            expected: int(s, 7),
                            present: int(s, 8),
                            votes_for: int(s, 9),
                            votes_against: int(s, 10),
                            votes_abstain: int(s, 11),
                            publicity_days: int(s, 12),
                            publicity_ends_at: text(s, 13),
                            returns: int(s, 14).unwrap_or(0),
                            recorded_at: text(s, 15),
                            evidence: evidence
                                .iter()
                                .filter(mine)
                                .filter(|e| int(e, 1) == Some(no))
                                .map(|e| Evidence {
                                    kind: text(e, 2).unwrap_or_default(),
                                    sha256: text(e, 3).unwrap_or_default(),
                                    name: text(e, 4).unwrap_or_default(),
                                })
                                .collect(),
                        }
                    })
                    .collect(),
                returns: returns
                    .iter()
                    .filter(mine)
                    .map(|r| StepReturn {
                        position: int(r, 1).unwrap_or(0),
                        step_no: int(r, 2).unwrap_or(0),
                        step_name: text(r, 3).unwrap_or_default(),
                        claimed_at: text(r, 4).unwrap_or_default(),
                        missing: text(r, 5).unwrap_or_default(),
                        reason: text(r, 6).unwrap_or_default(),
                        returned_at: text(r, 7).unwrap_or_default(),
                    })
                    .collect(),
                village: text(p, 1).unwrap_or_default(),
                town: text(p, 2).unwrap_or_default(),
                title: text(p, 3).unwrap_or_default(),
                amount_fen: int(p, 4).unwrap_or(0),
                template_id: text(p, 5).unwrap_or_default(),
                template_name: text(p, 6).unwrap_or_default(),
                status: text(p, 7).unwrap_or_default(),
                started_at: text(p, 8).unwrap_or_default(),
                ended_at: text(p, 9),
                rejected_step: int(p, 10),
                procedure: id,
            }
        })
        .collect())
}

/// Compliant completions (see the module documentation) in a scope (a village, a town, a
/// county, or `None` for the city), completed from `from` to `to` inclusive (local dates,
/// Asia/Shanghai), of one template (`wuyi-liang-gongkai` …) or of all.
pub async fn compliant_completions(
    db: &ReadDb,
    scope: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    template: Option<&str>,
) -> Result<i64, StoreError> {
    let sql = format!(
        "select cast(count(*) as bigint) from {} where status = 'completed' \
         and ($1 = '' or village = $1 or town = $1 or county = $1) \
         and completed_on >= $2 and completed_on <= $3 and ($4 = '' or template_id = $4)",
        db.qualified("procedures")
    );
    let rows = db
        .fetch(
            &sql,
            &[
                scope.unwrap_or("").into(),
                from.to_string().into(),
                to.to_string().into(),
                template.unwrap_or("").into(),
            ],
        )
        .await?;
    Ok(rows.first().and_then(|r| int(r, 0)).unwrap_or(0))
}
