//! 揭榜挂帅 — the bid board: a town's listings (project, criteria, bid deadline, who may
//! bid), every village's bid with its revisions and withdrawals, the panel's scores, the
//! winner, the 公示 notice period, the award (揭榜), the delivery milestones and the
//! completion. Folded from `listing-…` streams.
//!
//! Tables:
//!
//! - `listings`: one row per listing; `stage` is `bidding`, `compared`, `publicized`,
//!   `awarded`, `completed` or `cancelled`, with the winner and the times of each stage;
//! - `listing_criteria`: its criteria in order, with their weights;
//! - `listing_eligible`: the villages of a restricted listing (`eligibility = 'villages'`;
//!   a `whole_town` listing is open to every village of its town and lists none);
//! - `bids`: one row per (listing, village) as the bid stands: `submitted`, `revised` or
//!   `withdrawn`, its revision, how often it was submitted, revised and withdrawn, and after
//!   the comparison its rank and score. A village may bid again after withdrawing (the
//!   domain allows it before the deadline): the row stands again, revision 0;
//! - `bid_events`: each submission, revision and withdrawal, in log order (the history the
//!   row above is folded from);
//! - `bid_scores`: each panel member's score for each bid on each criterion;
//! - `listing_milestones`: the winner's delivery milestones.

use chrono::{DateTime, Utc};
use serde::Serialize;
use xingcun_domain::ListingEvent;
use xingcun_domain::bidding::Eligibility;
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, decode, t};
use crate::sql::{Arg, ReadDb, Stmt, int, text};

pub struct BidBoard;

const TABLES: &[Table] = &[
    Table {
        name: "listings",
        columns: "(listing text not null, town text not null, county text not null, project text not null, \
                  description text not null, eligibility text not null, eligibility_reason text, \
                  bid_deadline text not null, notice_days bigint not null, posted_by text not null, \
                  posted_at text not null, stage text not null, winner text, winner_score_centi bigint, \
                  panel text, held_at text, compared_at text, notice_starts_at text, notice_ends_at text, \
                  awarded_at text, milestones bigint not null, completed_at text, completion_note text, \
                  cancelled_at text, cancelled_reason text, position bigint not null, primary key (listing))",
        indexes: &["(town, stage)", "(county, stage)"],
        lookups: &[],
    },
    Table {
        name: "listing_criteria",
        columns: "(listing text not null, seq bigint not null, name text not null, weight bigint not null, \
                  primary key (listing, seq))",
        indexes: &[],
        lookups: &[],
    },
    Table {
        name: "listing_eligible",
        columns: "(listing text not null, village text not null, town text not null, position bigint not null, \
                  primary key (listing, village))",
        indexes: &["(village)"],
        lookups: &[],
    },
    Table {
        name: "bids",
        columns: "(listing text not null, village text not null, town text not null, status text not null, \
                  revision bigint not null, statement text not null, attachments bigint not null, \
                  submitted_at text not null, settled_at text not null, submissions bigint not null, \
                  revisions bigint not null, withdrawals bigint not null, withdrawn_at text, \
                  withdrawn_reason text, rank bigint, score_centi bigint, weighted_total bigint, \
                  position bigint not null, primary key (listing, village))",
        indexes: &["(village)"],
        lookups: &[],
    },
    Table {
        name: "bid_events",
        columns: "(listing text not null, position bigint not null, village text not null, action text not null, \
                  revision bigint, statement text, attachments bigint, reason text, at text not null, \
                  by_person text not null, primary key (listing, position))",
        indexes: &["(village)"],
        lookups: &[],
    },
    Table {
        name: "bid_scores",
        columns: "(listing text not null, village text not null, member text not null, seq bigint not null, \
                  score bigint not null, primary key (listing, village, member, seq))",
        indexes: &[],
        lookups: &[],
    },
    Table {
        name: "listing_milestones",
        columns: "(listing text not null, seq bigint not null, village text not null, title text not null, \
                  reached_at text not null, evidence bigint not null, reported_at text not null, \
                  primary key (listing, seq))",
        indexes: &[],
        lookups: &[],
    },
];

const POSTED: &str = "insert into {listings} (listing, town, county, project, description, eligibility, \
     eligibility_reason, bid_deadline, notice_days, posted_by, posted_at, stage, milestones, position) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'bidding', 0, $12) on conflict (listing) do nothing";
const CRITERION: &str = "insert into {listing_criteria} (listing, seq, name, weight) values ($1, $2, $3, $4) \
     on conflict (listing, seq) do nothing";
const ELIGIBLE: &str = "insert into {listing_eligible} (listing, village, town, position) values ($1, $2, $3, $4) \
     on conflict (listing, village) do nothing";
const SUBMITTED: &str = "insert into {bids} as x (listing, village, town, status, revision, statement, attachments, \
     submitted_at, settled_at, submissions, revisions, withdrawals, position) \
     values ($1, $2, $3, 'submitted', 0, $4, $5, $6, $6, 1, 0, 0, $7) \
     on conflict (listing, village) do update set status = 'submitted', revision = 0, \
     statement = excluded.statement, attachments = excluded.attachments, submitted_at = excluded.submitted_at, \
     settled_at = excluded.settled_at, submissions = x.submissions + 1, withdrawn_at = null, \
     withdrawn_reason = null, position = excluded.position";
const REVISED: &str = "update {bids} set status = 'revised', revision = $1, statement = $2, attachments = $3, \
     settled_at = $4, revisions = revisions + 1, position = $5 where listing = $6 and village = $7";
const WITHDRAWN: &str = "update {bids} set status = 'withdrawn', withdrawals = withdrawals + 1, withdrawn_at = $1, \
     withdrawn_reason = $2, position = $3 where listing = $4 and village = $5";
const BID_EVENT: &str = "insert into {bid_events} (listing, position, village, action, revision, statement, \
     attachments, reason, at, by_person) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     on conflict (listing, position) do nothing";
const COMPARED: &str = "update {listings} set stage = 'compared', winner = $1, panel = $2, held_at = $3, \
     compared_at = $4, position = $5 where listing = $6";
const RANKED: &str = "update {bids} set rank = $1, score_centi = $2, weighted_total = $3 \
     where listing = $4 and village = $5";
const SCORE: &str = "insert into {bid_scores} (listing, village, member, seq, score) values ($1, $2, $3, $4, $5) \
     on conflict (listing, village, member, seq) do nothing";
const PUBLICIZED: &str = "update {listings} set stage = 'publicized', winner = $1, winner_score_centi = $2, \
     notice_starts_at = $3, notice_ends_at = $4, position = $5 where listing = $6";
const AWARDED: &str =
    "update {listings} set stage = 'awarded', awarded_at = $1, position = $2 where listing = $3";
const MILESTONE: &str = "insert into {listing_milestones} (listing, seq, village, title, reached_at, evidence, \
     reported_at) values ($1, $2, $3, $4, $5, $6, $7) on conflict (listing, seq) do nothing";
const MILESTONE_COUNTED: &str =
    "update {listings} set milestones = milestones + 1, position = $1 where listing = $2";
const COMPLETED: &str = "update {listings} set stage = 'completed', completed_at = $1, completion_note = $2, \
     position = $3 where listing = $4";
const CANCELLED: &str = "update {listings} set stage = 'cancelled', cancelled_at = $1, cancelled_reason = $2, \
     position = $3 where listing = $4";

fn time(t: &DateTime<Utc>) -> Arg {
    Arg::Text(xingcun_store::hash::format_time(t))
}

fn n(v: usize) -> Arg {
    Arg::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn big(v: u64) -> Arg {
    Arg::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Projection for BidBoard {
    fn name(&self) -> &'static str {
        "bid_board"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["listing"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = event.position as i64;
        match decode::<ListingEvent>(event)? {
            ListingEvent::ListingPosted {
                listing_id,
                town,
                project,
                description,
                criteria,
                eligibility,
                bid_deadline,
                notice_days,
                posted_by,
                posted_at,
            } => {
                let id = listing_id.to_string();
                let (scope, reason, villages) = match &eligibility {
                    Eligibility::WholeTown => ("whole_town", None, &[][..]),
                    Eligibility::Villages { villages, reason } => (
                        "villages",
                        reason.as_ref().map(ToString::to_string),
                        &villages[..],
                    ),
                };
                out.push(Stmt::new(
                    POSTED,
                    vec![
                        t(id.as_str()),
                        t(town.to_string()),
                        t(town
                            .parent()
                            .map_or_else(|| town.to_string(), |c| c.to_string())),
                        t(project.to_string()),
                        t(description.to_string()),
                        t(scope),
                        reason.into(),
                        time(&bid_deadline),
                        i64::from(notice_days).into(),
                        t(posted_by.to_string()),
                        time(&posted_at),
                        at.into(),
                    ],
                ));
                for (i, c) in criteria.iter().enumerate() {
                    out.push(Stmt::new(
                        CRITERION,
                        vec![
                            t(id.as_str()),
                            n(i + 1),
                            t(c.name.to_string()),
                            i64::from(c.weight).into(),
                        ],
                    ));
                }
                for v in villages {
                    out.push(Stmt::new(
                        ELIGIBLE,
                        vec![
                            t(id.as_str()),
                            t(v.to_string()),
                            t(town.to_string()),
                            at.into(),
                        ],
                    ));
                }
            }
            ListingEvent::BidSubmitted {
                listing_id,
                town,
                village,
                statement,
                attachments,
                submitted_by,
                submitted_at,
            } => {
                let (id, v) = (listing_id.to_string(), village.to_string());
                out.push(Stmt::new(
                    SUBMITTED,
                    vec![
                        t(id.as_str()),
                        t(v.as_str()),
                        t(town.to_string()),
                        t(statement.to_string()),
                        n(attachments.len()),
                        time(&submitted_at),
                        at.into(),
                    ],
                ));
                out.push(Stmt::new(
                    BID_EVENT,
                    vec![
                        t(id),
                        at.into(),
                        t(v),
                        t("submitted"),
                        Arg::OptInt(Some(0)),
                        Some(statement.to_string()).into(),
                        Arg::OptInt(Some(i64::try_from(attachments.len()).unwrap_or(0))),
                        Arg::OptText(None),
                        time(&submitted_at),
                        t(submitted_by.to_string()),
                    ],
                ));
            }
            ListingEvent::BidRevised {
                listing_id,
                village,
                revision,
                statement,
                attachments,
                revised_by,
                revised_at,
                ..
            } => {
                let (id, v) = (listing_id.to_string(), village.to_string());
                out.push(Stmt::new(
                    REVISED,
                    vec![
                        i64::from(revision).into(),
                        t(statement.to_string()),
                        n(attachments.len()),
                        time(&revised_at),
                        at.into(),
                        t(id.as_str()),
                        t(v.as_str()),
                    ],
                ));
                out.push(Stmt::new(
                    BID_EVENT,
                    vec![
                        t(id),
                        at.into(),
                        t(v),
                        t("revised"),
                        Arg::OptInt(Some(i64::from(revision))),
                        Some(statement.to_string()).into(),
                        Arg::OptInt(Some(i64::try_from(attachments.len()).unwrap_or(0))),
                        Arg::OptText(None),
                        time(&revised_at),
                        t(revised_by.to_string()),
                    ],
                ));
            }
            ListingEvent::BidWithdrawn {
                listing_id,
                village,
                reason,
                withdrawn_by,
                withdrawn_at,
                ..
            } => {
                let (id, v) = (listing_id.to_string(), village.to_string());
                let reason = reason.map(|r| r.to_string());
                out.push(Stmt::new(
                    WITHDRAWN,
                    vec![
                        time(&withdrawn_at),
                        reason.clone().into(),
                        at.into(),
                        t(id.as_str()),
                        t(v.as_str()),
                    ],
                ));
                out.push(Stmt::new(
                    BID_EVENT,
                    vec![
                        t(id),
                        at.into(),
                        t(v),
                        t("withdrawn"),
                        Arg::OptInt(None),
                        Arg::OptText(None),
                        Arg::OptInt(None),
                        reason.into(),
                        time(&withdrawn_at),
                        t(withdrawn_by.to_string()),
                    ],
                ));
            }
            ListingEvent::ComparisonRecorded {
                listing_id,
                held_at,
                panel,
                scores,
                ranking,
                winner,
                recorded_at,
                ..
            } => {
                let id = listing_id.to_string();
                let panel: Vec<String> = panel.iter().map(ToString::to_string).collect();
                out.push(Stmt::new(
                    COMPARED,
                    vec![
                        t(winner.to_string()),
                        t(panel.join(",")),
                        time(&held_at),
                        time(&recorded_at),
                        at.into(),
                        t(id.as_str()),
                    ],
                ));
                for r in &ranking {
                    out.push(Stmt::new(
                        RANKED,
                        vec![
                            i64::from(r.rank).into(),
                            big(r.score_centi),
                            big(r.weighted_total),
                            t(id.as_str()),
                            t(r.village.to_string()),
                        ],
                    ));
                }
                for bid in &scores {
                    for sheet in &bid.sheets {
                        for (i, score) in sheet.scores.iter().enumerate() {
                            out.push(Stmt::new(
                                SCORE,
                                vec![
                                    t(id.as_str()),
                                    t(bid.village.to_string()),
                                    t(sheet.member.to_string()),
                                    n(i + 1),
                                    i64::from(*score).into(),
                                ],
                            ));
                        }
                    }
                }
            }
            ListingEvent::WinnerPublicized {
                listing_id,
                winner,
                score_centi,
                notice_starts_at,
                notice_ends_at,
                ..
            } => out.push(Stmt::new(
                PUBLICIZED,
                vec![
                    t(winner.to_string()),
                    big(score_centi),
                    time(&notice_starts_at),
                    time(&notice_ends_at),
                    at.into(),
                    t(listing_id.to_string()),
                ],
            )),
            ListingEvent::ListingAwarded {
                listing_id,
                awarded_at,
                ..
            } => out.push(Stmt::new(
                AWARDED,
                vec![time(&awarded_at), at.into(), t(listing_id.to_string())],
            )),
            ListingEvent::MilestoneReported {
                listing_id,
                village,
                seq,
                title,
                reached_at,
                evidence,
                reported_at,
                ..
            } => {
                let id = listing_id.to_string();
                out.push(Stmt::new(
                    MILESTONE,
                    vec![
                        t(id.as_str()),
                        i64::from(seq).into(),
                        t(village.to_string()),
                        t(title.to_string()),
                        time(&reached_at),
                        n(evidence.len()),
                        time(&reported_at),
                    ],
                ));
                out.push(Stmt::new(MILESTONE_COUNTED, vec![at.into(), t(id)]));
            }
            ListingEvent::CompletionAccepted {
                listing_id,
                note,
                accepted_at,
                ..
            } => out.push(Stmt::new(
                COMPLETED,
                vec![
                    time(&accepted_at),
                    t(note.to_string()),
                    at.into(),
                    t(listing_id.to_string()),
                ],
            )),
            ListingEvent::ListingCancelled {
                listing_id,
                reason,
                cancelled_at,
                ..
            } => out.push(Stmt::new(
                CANCELLED,
                vec![
                    time(&cancelled_at),
                    t(reason.to_string()),
                    at.into(),
                    t(listing_id.to_string()),
                ],
            )),
        }
        Ok(())
    }
}

/// A listing as its row stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingRow {
    pub listing: String,
    pub town: String,
    pub project: String,
    pub description: String,
    /// `whole_town` or `villages` (then see [`ListingDetail::eligible`]).
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

const LISTING_COLUMNS: &str = "l.listing, l.town, l.project, l.description, l.eligibility, l.eligibility_reason, \
     l.bid_deadline, l.notice_days, l.posted_at, l.stage, l.winner, l.winner_score_centi, l.notice_starts_at, \
     l.notice_ends_at, l.awarded_at, l.milestones, l.completed_at, l.cancelled_reason";

fn listing_row(r: &[Arg]) -> ListingRow {
    ListingRow {
        listing: text(r, 0).unwrap_or_default(),
        town: text(r, 1).unwrap_or_default(),
        project: text(r, 2).unwrap_or_default(),
        description: text(r, 3).unwrap_or_default(),
        eligibility: text(r, 4).unwrap_or_default(),
        eligibility_reason: text(r, 5),
        bid_deadline: text(r, 6).unwrap_or_default(),
        notice_days: int(r, 7).unwrap_or(0),
        posted_at: text(r, 8).unwrap_or_default(),
        stage: text(r, 9).unwrap_or_default(),
        winner: text(r, 10),
        winner_score_centi: int(r, 11),
        notice_starts_at: text(r, 12),
        notice_ends_at: text(r, 13),
        awarded_at: text(r, 14),
        milestones: int(r, 15).unwrap_or(0),
        completed_at: text(r, 16),
        cancelled_reason: text(r, 17),
    }
}

/// A town's listings, newest first.
pub async fn listings(db: &ReadDb, town: &str) -> Result<Vec<ListingRow>, StoreError> {
    let sql = format!(
        "select {LISTING_COLUMNS} from {} l where l.town = $1 order by l.posted_at desc, l.listing",
        db.qualified("listings")
    );
    let rows = db.fetch(&sql, &[town.into()]).await?;
    Ok(rows.iter().map(|r| listing_row(r)).collect())
}

/// The listings open for bids at `now` that `village` (of `town`) may bid on: bidding, the
/// deadline not passed, and open to the whole town or naming the village. Soonest deadline
/// first.
pub async fn open_for_village(
    db: &ReadDb,
    town: &str,
    village: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ListingRow>, StoreError> {
    let sql = format!(
        "select {LISTING_COLUMNS} from {} l where l.town = $1 and l.stage = 'bidding' and l.bid_deadline > $2 \
         and (l.eligibility = 'whole_town' or exists (select 1 from {} e where e.listing = l.listing \
         and e.village = $3)) order by l.bid_deadline, l.listing",
        db.qualified("listings"),
        db.qualified("listing_eligible")
    );
    let now = xingcun_store::hash::format_time(&now);
    let rows = db
        .fetch(&sql, &[town.into(), now.into(), village.into()])
        .await?;
    Ok(rows.iter().map(|r| listing_row(r)).collect())
}

/// A bid as it stands, with its history and scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BidRow {
    pub village: String,
    /// `submitted`, `revised` or `withdrawn`.
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
    /// `(action, revision, at)` in log order: `submitted`, `revised`, `withdrawn`.
    pub history: Vec<(String, Option<i64>, String)>,
    /// `(panel member, per-criterion scores in criteria order)`.
    pub scores: Vec<(String, Vec<i64>)>,
}

/// A delivery milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Milestone {
    pub seq: i64,
    pub title: String,
    pub reached_at: String,
    pub evidence: i64,
}

/// Everything about one listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingDetail {
    pub listing: ListingRow,
    /// `(name, weight)` in order.
    pub criteria: Vec<(String, i64)>,
    /// The villages of a restricted listing.
    pub eligible: Vec<String>,
    pub panel: Vec<String>,
    pub bids: Vec<BidRow>,
    pub milestones: Vec<Milestone>,
}

/// One listing with its criteria, bids (history and scores) and milestones.
pub async fn listing(db: &ReadDb, listing: &str) -> Result<Option<ListingDetail>, StoreError> {
    let q = |table: &str| db.qualified(table);
    let rows = db
        .fetch(
            &format!(
                "select {LISTING_COLUMNS}, l.panel from {} l where l.listing = $1",
                q("listings")
            ),
            &[listing.into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let args = [Arg::from(listing)];
    let criteria = db
        .fetch(
            &format!(
                "select name, weight from {} where listing = $1 order by seq",
                q("listing_criteria")
            ),
            &args,
        )
        .await?;
    let eligible = db
        .fetch(
            &format!(
                "select village from {} where listing = $1 order by village",
                q("listing_eligible")
            ),
            &args,
        )
        .await?;
    let bids = db
        .fetch(
            &format!(
                "select village, status, revision, statement, attachments, settled_at, submissions, revisions, \
                 withdrawals, withdrawn_reason, rank, score_centi from {} where listing = $1 \
                 order by coalesce(rank, 1000000), village",
                q("bids")
            ),
            &args,
        )
        .await?;
    let history = db
        .fetch(
            &format!(
                "select village, action, revision, at from {} where listing = $1 order by position",
                q("bid_events")
            ),
            &args,
        )
        .await?;
    let scores = db
        .fetch(
            &format!(
                "select village, member, score from {} where listing = $1 order by village, member, seq",
                q("bid_scores")
            ),
            &args,
        )
        .await?;
    let milestones = db
        .fetch(
            &format!(
                "select seq, title, reached_at, evidence from {} where listing = $1 order by seq",
                q("listing_milestones")
            ),
            &args,
        )
        .await?;
    let panel = text(row, 18).unwrap_or_default();
    Ok(Some(ListingDetail {
        listing: listing_row(row),
        criteria: criteria
            .iter()
            .map(|r| (text(r, 0).unwrap_or_default(), int(r, 1).unwrap_or(0)))
            .collect(),
        eligible: eligible.iter().filter_map(|r| text(r, 0)).collect(),
        panel: panel
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        bids: bids
            .iter()
            .map(|b| {
                let village = text(b, 0).unwrap_or_default();
                let of_village = |r: &&Vec<Arg>| text(r, 0).as_deref() == Some(village.as_str());
                let mut sheets: Vec<(String, Vec<i64>)> = Vec::new();
                for s in scores.iter().filter(of_village) {
                    let member = text(s, 1).unwrap_or_default();
                    let score = int(s, 2).unwrap_or(0);
                    match sheets.last_mut() {
                        Some((m, v)) if *m == member => v.push(score),
                        _ => sheets.push((member, vec![score])),
                    }
                }
                BidRow {
                    status: text(b, 1).unwrap_or_default(),
                    revision: int(b, 2).unwrap_or(0),
                    statement: text(b, 3).unwrap_or_default(),
                    attachments: int(b, 4).unwrap_or(0),
                    settled_at: text(b, 5).unwrap_or_default(),
                    submissions: int(b, 6).unwrap_or(0),
                    revisions: int(b, 7).unwrap_or(0),
                    withdrawals: int(b, 8).unwrap_or(0),
                    withdrawn_reason: text(b, 9),
                    rank: int(b, 10),
                    score_centi: int(b, 11),
                    history: history
                        .iter()
                        .filter(of_village)
                        .map(|h| {
                            (
                                text(h, 1).unwrap_or_default(),
                                int(h, 2),
                                text(h, 3).unwrap_or_default(),
                            )
                        })
                        .collect(),
                    scores: sheets,
                    village,
                }
            })
            .collect(),
        milestones: milestones
            .iter()
            .map(|m| Milestone {
                seq: int(m, 0).unwrap_or(0),
                title: text(m, 1).unwrap_or_default(),
                reached_at: text(m, 2).unwrap_or_default(),
                evidence: int(m, 3).unwrap_or(0),
            })
            .collect(),
    }))
}
