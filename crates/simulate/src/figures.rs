//! The published figures (DOMAIN.md), counted from the recorded events alone: whatever
//! produced the log, these are what an auditor would count.

use std::collections::BTreeMap;

use serde_json::Value;
use xingcun_store::RecordedEvent;

use crate::calendar::local_year;

/// Figures counted from a log. Years are calendar years in Asia/Shanghai, by the time the
/// event was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Events read.
    pub events: u64,
    /// 乡镇(街道) registered.
    pub towns: u64,
    /// 村(社区) registered.
    pub villages: u64,
    /// Town and village cadres in post at the end of the log (appointed minus departed).
    pub cadres: u64,
    /// `TaskScreeningRejected` events by year.
    pub screening_rejections_by_year: BTreeMap<i32, u64>,
    /// Tasks reaching villages (`AssignmentIssued`, one per task and village) by year.
    pub assignments_by_year: BTreeMap<i32, u64>,
    /// Tasks dispatched (`TaskDispatched`) by year.
    pub dispatches_by_year: BTreeMap<i32, u64>,
    /// 多头派单 flagged in villages' ledgers (after dispatch: the backstop).
    pub duplicate_dispatches: u64,
    /// 多头派单 flagged on the task at screening or review, before dispatch.
    pub duplicates_flagged_before_dispatch: u64,
    /// Decision procedures started (五议两公开, 四议两公开, 村务联席会议), by template id.
    pub procedures_by_template: BTreeMap<String, u64>,
    pub procedures_completed: u64,
    /// Procedures ended by a failed vote.
    pub procedures_rejected: u64,
    /// Steps returned for missing evidence.
    pub procedure_steps_returned: u64,
    pub listings_posted: u64,
    pub bids_submitted: u64,
    pub listings_awarded: u64,
    pub listings_completed: u64,
    pub praise_given: u64,
    /// 领雁指数 score sheets recorded by town raters.
    pub rater_scores: u64,
}

impl Figures {
    /// Screening rejections recorded from the start of `year` on.
    pub fn screening_rejections_since(&self, year: i32) -> u64 {
        self.screening_rejections_by_year
            .range(year..)
            .map(|(_, n)| n)
            .sum()
    }

    /// Tasks that reached villages in `year`.
    pub fn assignments_in(&self, year: i32) -> u64 {
        self.assignments_by_year.get(&year).copied().unwrap_or(0)
    }

    /// Change of the tasks reaching villages from `base` to `year`, in percent (negative: fewer).
    pub fn assignment_change_percent(&self, base: i32, year: i32) -> Option<f64> {
        let before = self.assignments_in(base);
        (before > 0).then(|| (self.assignments_in(year) as f64 / before as f64 - 1.0) * 100.0)
    }

    /// Procedures started, all templates (五议两公开 and 村务联席会议 matters).
    pub fn procedures(&self) -> u64 {
        self.procedures_by_template.values().sum()
    }
}

/// The event body: adjacently tagged events keep their fields under `payload`, internally
/// tagged ones at the top level.
fn body(payload: &Value) -> &Value {
    match payload.get("payload") {
        Some(inner) if inner.is_object() => inner,
        _ => payload,
    }
}

const CADRE_ROLES: &[&str] = &[
    "town_office_staff",
    "town_leader",
    "party_committee_secretary",
    "village_secretary",
    "village_cadre",
    "grid_leader",
];

/// Count the published figures from recorded events (in any order).
pub fn published_figures<'a>(events: impl Iterator<Item = &'a RecordedEvent>) -> Figures {
    let mut counter = FiguresCounter::default();
    for e in events {
        counter.add(e);
    }
    counter.finish()
}

/// The same count fed page by page, for logs too large to hold in memory.
#[derive(Debug, Default)]
pub struct FiguresCounter {
    f: Figures,
    cadres: i64,
}

impl FiguresCounter {
    pub fn finish(mut self) -> Figures {
        self.f.cadres = u64::try_from(self.cadres).unwrap_or(0);
        self.f
    }

    pub fn add(&mut self, e: &RecordedEvent) {
        let f = &mut self.f;
        let cadres = &mut self.cadres;
        f.events += 1;
        let year = local_year(e.recorded_at);
        let bump = |map: &mut BTreeMap<i32, u64>| *map.entry(year).or_default() += 1;
        match e.event_type.as_str() {
            "RegionRegistered"
                if body(&e.payload).get("level").and_then(Value::as_str) == Some("town") =>
            {
                f.towns += 1;
            }
            "VillageRegistered" => f.villages += 1,
            "CadreAppointed" | "CadreDeparted" => {
                let role = body(&e.payload)
                    .get("role")
                    .and_then(|r| r.get("role"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if CADRE_ROLES.contains(&role) {
                    *cadres += if e.event_type == "CadreAppointed" {
                        1
                    } else {
                        -1
                    };
                }
            }
            "TaskScreeningRejected" => bump(&mut f.screening_rejections_by_year),
            "AssignmentIssued" => bump(&mut f.assignments_by_year),
            "TaskDispatched" => bump(&mut f.dispatches_by_year),
            "DuplicateDispatchFlagged" => f.duplicate_dispatches += 1,
            "TaskDuplicateDispatchFlagged" => f.duplicates_flagged_before_dispatch += 1,
            "ProcedureStarted" => {
                let template = body(&e.payload)
                    .get("template")
                    .and_then(|t| t.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned();
                *f.procedures_by_template.entry(template).or_default() += 1;
            }
            "ProcedureCompleted" => f.procedures_completed += 1,
            "ProcedureRejected" => f.procedures_rejected += 1,
            "ProcedureStepReturned" => f.procedure_steps_returned += 1,
            "ListingPosted" => f.listings_posted += 1,
            "BidSubmitted" => f.bids_submitted += 1,
            "ListingAwarded" => f.listings_awarded += 1,
            "CompletionAccepted" => f.listings_completed += 1,
            "PraiseGiven" => f.praise_given += 1,
            "DimensionScoresRecorded" => f.rater_scores += 1,
            _ => {}
        }
    }
}
