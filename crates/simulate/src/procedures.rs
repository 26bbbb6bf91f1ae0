//! Villages' decision procedures (五议两公开, 四议两公开, 村务联席会议): started for a spending
//! decision, recorded step by step with evidence; some steps are returned for missing
//! evidence and recorded again, a few records come too late and are refused (no 后补), a few
//! votes fail.

use chrono::{DateTime, Duration, Utc};
use xingcun_domain::procedure::{
    EvidenceKind, MeetingBody, MeetingRecord, Money, Procedure, ProcedureCommand, ProcedureId,
    PublicityRecord, StepEvidence, StepKind, StepTiming, SuggestionRecord, Votes,
};
use xingcun_store::EventLog;

use crate::SimError;
use crate::calendar::{after_work, plus_days, plus_hours, plus_minutes, work_time};
use crate::engine::{Action, Engine, evidence, text};
use crate::names::PROJECTS;

/// Procedures per village per year (about 1,260 for the city over three years).
pub(crate) const PROCEDURES_PER_VILLAGE_YEAR: f64 = 0.2;

#[derive(Debug, Clone)]
pub(crate) struct ProcSim {
    pub id: ProcedureId,
    pub village: usize,
    pub steps: Vec<StepKind>,
    /// Index of the next step to record.
    pub next: usize,
    /// When the last passed step passed (a 公开: when its period ends).
    pub last_pass: DateTime<Utc>,
    /// The step whose vote fails, if any.
    pub fail_at: Option<usize>,
    /// A step returned for missing evidence, to be recorded again with this claimed time.
    pub resubmit: Option<DateTime<Utc>>,
    pub late_tried: bool,
    pub done: bool,
    /// The 公开 period snapshotted when the procedure started.
    pub publicity_days: u32,
    pub retries: u8,
}

fn evidence_for(
    rng: &mut crate::rng::Rng,
    kind: StepKind,
    omit: bool,
) -> Result<Vec<StepEvidence>, SimError> {
    let mut files = Vec::new();
    for (i, k) in kind.required_evidence().iter().enumerate() {
        if omit && i + 1 == kind.required_evidence().len() {
            continue;
        }
        let name = match k {
            EvidenceKind::Minutes => "会议记录.pdf",
            EvidenceKind::SignInSheet => "签到表.jpg",
            EvidenceKind::NoticePhoto => "公示照片.jpg",
            EvidenceKind::SuggestionRecord => "征求意见记录.pdf",
            EvidenceKind::Photo => "现场照片.jpg",
            EvidenceKind::Other => "其他材料.pdf",
        };
        files.push(StepEvidence {
            kind: *k,
            file: evidence(rng, name)?,
        });
    }
    // Now and then a photo of the meeting too, where the step does not require one already.
    if !omit
        && kind != StepKind::Publicity
        && rng.chance(0.3)
        && !kind.required_evidence().contains(&EvidenceKind::Photo)
    {
        files.push(StepEvidence {
            kind: EvidenceKind::Photo,
            file: evidence(rng, "会议现场照片.jpg")?,
        });
    }
    Ok(files)
}

/// Votes that carry (or fail) a motion of `body` with `expected` members and `present`.
fn votes(
    rng: &mut crate::rng::Rng,
    body: &MeetingBody,
    expected: u32,
    present: u32,
    fail: bool,
) -> Votes {
    let base = match body {
        MeetingBody::Committee | MeetingBody::PartyMembers { .. } => expected,
        _ => present,
    };
    if fail {
        let in_favour = base / 2;
        let rest = present.saturating_sub(in_favour);
        let abstain = rest.min(rng.range_u32(0, 2));
        return Votes {
            in_favour,
            against: rest - abstain,
            abstain,
        };
    }
    let spare = present.saturating_sub(base / 2 + 1);
    let against = rng.range_u32(0, (spare / 6).min(5));
    let abstain = rng.range_u32(0, ((spare - against) / 6).min(3));
    Votes {
        in_favour: present - against - abstain,
        against,
        abstain,
    }
}

impl<L: EventLog> Engine<'_, L> {
    pub(crate) async fn start_procedure(
        &mut self,
        at: DateTime<Utc>,
        village: usize,
    ) -> Result<(), SimError> {
        let v = &self.world.villages[village];
        let actor = if self.rng.chance(0.8) {
            v.secretary_actor()
        } else {
            v.cadre_actor(self.rng.index(v.cadres.len().max(1)))
        };
        let Some(actor) = actor else {
            return Ok(());
        };
        let rules = self.world.towns[v.town].procedure_rules.clone();
        let (large, huge) = (
            rules.thresholds().large().fen() / 100,
            rules.thresholds().huge().fen() / 100,
        );
        let r = self.rng.unit();
        let yuan = if r < 0.03 {
            large * u64::from(self.rng.range_u32(30, 90)) / 100
        } else if r < 0.6 {
            large + (huge - large) * u64::from(self.rng.range_u32(0, 95)) / 100
        } else {
            huge + huge * u64::from(self.rng.range_u32(0, 300)) / 100
        };
        let yuan = (yuan / 1000).max(1) * 1000;
        let amount = Money::from_yuan(yuan);
        let project = self.rng.pick(PROJECTS).copied().unwrap_or("村道硬化提升");
        let title = text(&format!("{project}(预算{:.1}万元)", yuan as f64 / 10_000.0))?;
        let id = ProcedureId::new(self.rng.uuid());
        let publicity_days = rules.timing().publicity_days();
        let steps: Vec<StepKind> = rules
            .template_for(amount)
            .map(|t| t.steps().iter().map(|s| s.kind).collect())
            .unwrap_or_default();
        let command = ProcedureCommand::StartProcedure {
            procedure_id: id,
            village: v.code.clone(),
            title,
            amount,
            rules,
        };
        let stream = id.to_string();
        let corr = Some(*id.as_uuid());
        if self
            .exec::<Procedure>(&stream, at, command, &actor, corr)
            .await?
            .is_none()
        {
            return Ok(());
        }
        let votes_at: Vec<usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, k)| !matches!(k, StepKind::Suggestions | StepKind::Publicity))
            .map(|(i, _)| i)
            .collect();
        let fail_at = if self.rng.chance(0.035) {
            // Mostly the later votes fail (党员大会, 村民代表会议); the joint meeting's only one.
            votes_at.last().copied().filter(|_| !votes_at.is_empty())
        } else {
            None
        };
        let p = self.procedures.len();
        self.procedures.push(ProcSim {
            id,
            village,
            steps,
            next: 0,
            last_pass: self.now,
            fail_at,
            resubmit: None,
            late_tried: false,
            done: false,
            publicity_days,
            retries: 0,
        });
        let next = after_work(&mut self.rng, self.now, 2, 8);
        self.schedule(next, Action::ProcedureStep { p });
        Ok(())
    }

    pub(crate) async fn procedure_step(
        &mut self,
        at: DateTime<Utc>,
        p: usize,
    ) -> Result<(), SimError> {
        if self.procedures[p].done {
            return Ok(());
        }
        let vi = self.procedures[p].village;
        let v = self.world.villages[vi].clone();
        let actor = if self.rng.chance(0.7) {
            v.secretary_actor()
        } else {
            v.cadre_actor(self.rng.index(v.cadres.len().max(1)))
        };
        let Some(actor) = actor else {
            return Ok(());
        };
        let proc = self.procedures[p].clone();
        let stream = proc.id.to_string();
        let corr = Some(*proc.id.as_uuid());
        if proc.next >= proc.steps.len() {
            let done = self
                .exec::<Procedure>(
                    &stream,
                    at,
                    ProcedureCommand::CompleteProcedure,
                    &actor,
                    corr,
                )
                .await?;
            if done.is_some() {
                self.procedures[p].done = true;
            }
            return Ok(());
        }
        let kind = proc.steps[proc.next];
        let step_no = u16::try_from(proc.next + 1).unwrap_or(u16::MAX);
        let earliest = plus_minutes(proc.last_pass, 1);
        // A ledger made up after the fact (后补) is refused: the meeting is held again.
        if !proc.late_tried
            && proc.resubmit.is_none()
            && kind != StepKind::Publicity
            && at - proc.last_pass > Duration::days(6)
            && self.rng.chance(0.025)
        {
            self.procedures[p].late_tried = true;
            let claimed = plus_hours(at, -(96 + self.rng.range(0, 20)));
            let command = self.step_command(&v, kind, step_no, claimed, false, false)?;
            self.exec::<Procedure>(&stream, at, command, &actor, corr)
                .await?;
            let next = after_work(&mut self.rng, self.now, 2, 5);
            self.schedule(next, Action::ProcedureStep { p });
            return Ok(());
        }
        let (claimed, omit) = match proc.resubmit {
            Some(claimed) => (claimed, false),
            None => {
                let back = if kind == StepKind::Publicity {
                    self.rng.range(0, 20)
                } else {
                    self.rng.range(1, 30)
                };
                let claimed = plus_hours(at, -back).max(earliest).min(at);
                (claimed, self.rng.chance(0.07))
            }
        };
        let fail = proc.fail_at == Some(proc.next);
        let command = self.step_command(&v, kind, step_no, claimed, omit, fail)?;
        if self
            .exec::<Procedure>(&stream, at, command, &actor, corr)
            .await?
            .is_none()
        {
            // Refused (a record the rules do not accept): try again another day, then give up.
            let state = &mut self.procedures[p];
            state.resubmit = None;
            state.retries += 1;
            if state.retries > 2 {
                state.done = true;
            } else {
                let next = after_work(&mut self.rng, self.now, 1, 4);
                self.schedule(next, Action::ProcedureStep { p });
            }
            return Ok(());
        }
        if omit {
            // Returned for missing evidence: recorded again the same day, complete.
            self.procedures[p].resubmit = Some(claimed);
            let next = plus_hours(self.now, self.rng.range(1, 4));
            self.schedule(next, Action::ProcedureStep { p });
            return Ok(());
        }
        self.procedures[p].resubmit = None;
        if fail {
            self.procedures[p].done = true;
            return Ok(());
        }
        let state = &mut self.procedures[p];
        state.next += 1;
        if kind == StepKind::Publicity {
            // Calendar days in Shanghai: a posting ends at 24:00 of its last day.
            state.last_pass = StepTiming::publicity_ends_at(claimed, state.publicity_days);
        } else {
            state.last_pass = claimed;
        }
        if state.next >= state.steps.len() && kind != StepKind::Publicity {
            // The last step was a meeting: the procedure completed with it.
            state.done = true;
            return Ok(());
        }
        let last_pass = state.last_pass;
        let following = state.steps.get(state.next).copied();
        let next = match (kind, following) {
            // Between the resolution's publicity and the result's: the project is carried out.
            (StepKind::Publicity, Some(StepKind::Publicity)) => {
                let t = plus_days(last_pass, self.rng.range(20, 90));
                work_time(
                    &mut self.rng,
                    crate::calendar::next_workday(crate::calendar::local_date(t)),
                )
            }
            (StepKind::Publicity, _) => after_work(&mut self.rng, last_pass, 0, 3),
            (_, Some(StepKind::PartyMembersMeeting)) => after_work(&mut self.rng, self.now, 4, 9),
            _ => after_work(&mut self.rng, self.now, 1, 6),
        };
        self.schedule(next.max(last_pass), Action::ProcedureStep { p });
        Ok(())
    }

    fn step_command(
        &mut self,
        v: &crate::world::Village,
        kind: StepKind,
        step_no: u16,
        claimed: DateTime<Utc>,
        omit: bool,
        fail: bool,
    ) -> Result<ProcedureCommand, SimError> {
        let evidence = evidence_for(&mut self.rng, kind, omit)?;
        Ok(match kind {
            StepKind::Suggestions => ProcedureCommand::RecordSuggestions {
                step_no,
                record: SuggestionRecord {
                    collected_at: claimed,
                    summary: text(&format!(
                        "共收集党员群众意见建议{}条,主要集中在资金使用和施工安排",
                        self.rng.range(6, 40)
                    ))?,
                    evidence,
                },
            },
            StepKind::Publicity => ProcedureCommand::PostPublicity {
                step_no,
                record: PublicityRecord {
                    posted_at: claimed,
                    days: None,
                    evidence,
                },
            },
            StepKind::CommitteeMeeting => {
                let expected = v.committee_size() + if step_no > 2 { 3 } else { 0 };
                let present = expected - self.rng.range_u32(0, 1);
                let body = MeetingBody::Committee;
                let votes = votes(&mut self.rng, &body, expected, present, fail);
                ProcedureCommand::RecordMeeting {
                    step_no,
                    record: MeetingRecord {
                        held_at: claimed,
                        body,
                        expected,
                        present,
                        votes,
                        evidence,
                    },
                }
            }
            StepKind::PartyMembersMeeting => {
                let expected = v.party_members;
                let quorum = expected * 2 / 3 + 1;
                let present = (quorum + self.rng.range_u32(0, expected - quorum)).min(expected);
                let body = MeetingBody::PartyMembers {
                    proposal_sent_at: plus_hours(claimed, -(72 + self.rng.range(2, 48))),
                };
                let votes = votes(&mut self.rng, &body, expected, present, fail);
                ProcedureCommand::RecordMeeting {
                    step_no,
                    record: MeetingRecord {
                        held_at: claimed,
                        body,
                        expected,
                        present,
                        votes,
                        evidence,
                    },
                }
            }
            StepKind::VillagerResolution => {
                let (body, expected, present) = if self.rng.chance(0.85) {
                    let e = v.representatives;
                    let quorum = (e * 2).div_ceil(3);
                    (
                        MeetingBody::VillagerRepresentatives,
                        e,
                        (quorum + self.rng.range_u32(0, e - quorum)).min(e),
                    )
                } else {
                    let e = v.adults;
                    let quorum = e / 2 + 1;
                    (
                        MeetingBody::Villagers {
                            announced_at: plus_hours(claimed, -(240 + self.rng.range(2, 72))),
                            households: None,
                        },
                        e,
                        (quorum + self.rng.range_u32(0, e / 3)).min(e),
                    )
                };
                let votes = votes(&mut self.rng, &body, expected, present, fail);
                ProcedureCommand::RecordMeeting {
                    step_no,
                    record: MeetingRecord {
                        held_at: claimed,
                        body,
                        expected,
                        present,
                        votes,
                        evidence,
                    },
                }
            }
        })
    }

    /// Procedures started in one town on one working day.
    pub(crate) fn plan_procedures(&mut self, date: chrono::NaiveDate, town: usize, boost: f64) {
        let villages = self.world.towns[town].villages.clone();
        let mean = PROCEDURES_PER_VILLAGE_YEAR / 245.0 * boost * 1.03;
        for v in villages {
            if self.rng.chance(mean) {
                let at = work_time(&mut self.rng, date);
                self.schedule(at, Action::StartProcedure { village: v });
            }
        }
    }
}
