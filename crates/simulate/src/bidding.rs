//! Bidding for town projects (揭榜挂帅): listings posted by towns, bids from villages (some
//! revised or withdrawn, the odd one too late), a comparison meeting with the panel's
//! scores, the winner publicised, the award, delivery milestones, acceptance. Includes the
//! example from the record: 澄潭街道 posts “建设儿童照护驿站”, 棠村 wins and builds it within
//! a week.

use chrono::{DateTime, Utc};
use xingcun_domain::bidding::{BidScores, Criterion, Eligibility, ListingStage, ScoreSheet};
use xingcun_domain::{BiddingRules, Listing, ListingCommand, ListingId};
use xingcun_store::EventLog;

use crate::SimError;
use crate::calendar::{
    after_work, at_local, local_date, next_workday, plus_hours, plus_minutes, work_time,
};
use crate::engine::{Action, Engine, evidence, text};
use crate::names::LISTINGS;

/// Listings per town per year.
pub(crate) const LISTINGS_PER_TOWN_YEAR: f64 = 3.0;

/// The example listing from the record.
pub(crate) const CHILDCARE_STATION: &str = "建设儿童照护驿站";

#[derive(Debug, Clone)]
pub(crate) struct ListingSim {
    pub id: ListingId,
    pub town: usize,
    pub deadline: DateTime<Utc>,
    pub criteria: usize,
    /// Villages with a standing bid.
    pub bids: Vec<usize>,
    /// A village the panel rates best (the scripted example).
    pub favoured: Option<usize>,
    pub fast: bool,
    pub winner: Option<usize>,
    pub awarded_at: Option<DateTime<Utc>>,
    pub milestones_left: u32,
    pub closed: bool,
}

const MILESTONES: &[&str] = &[
    "完成方案设计",
    "完成场地改造",
    "主体工程完工",
    "设施设备到位",
    "投入使用",
];

fn criteria(four: bool) -> Result<Vec<Criterion>, SimError> {
    let list: &[(&str, u32)] = if four {
        crate::names::LISTING_CRITERIA
    } else {
        &[
            ("建设方案可行性", 40),
            ("村集体配套投入", 30),
            ("群众参与度", 30),
        ]
    };
    list.iter()
        .map(|(name, weight)| {
            Ok(Criterion {
                name: text(name)?,
                weight: *weight,
            })
        })
        .collect()
}

impl<L: EventLog> Engine<'_, L> {
    pub(crate) async fn post_listing(
        &mut self,
        at: DateTime<Utc>,
        town: usize,
        scripted: bool,
    ) -> Result<(), SimError> {
        let t = &self.world.towns[town];
        let Some(staff) = t.staff_actor(self.rng.index(t.staff.len())) else {
            return Ok(());
        };
        let villages = t.villages.clone();
        if villages.is_empty() {
            return Ok(());
        }
        let favoured = if scripted {
            villages
                .iter()
                .copied()
                .find(|&v| self.world.villages[v].name == "棠村")
        } else {
            None
        };
        let project = if scripted {
            CHILDCARE_STATION
        } else {
            self.rng.pick(LISTINGS).copied().unwrap_or("建设共富工坊")
        };
        let four = self.rng.chance(0.5);
        // 揭榜 is open to every village by default; now and then a town restricts a listing
        // to the villages the project concerns, and says why.
        let whole = scripted || villages.len() <= 4 || self.rng.chance(0.9);
        let eligible: Vec<usize> = if whole {
            villages.clone()
        } else {
            let k = self.rng.range(4, 8.min(villages.len() as i64)) as usize;
            self.rng
                .sample(villages.len(), k)
                .into_iter()
                .map(|i| villages[i])
                .collect()
        };
        let eligibility = if whole {
            Eligibility::WholeTown
        } else {
            Eligibility::Villages {
                villages: eligible
                    .iter()
                    .map(|&v| self.world.villages[v].code.clone())
                    .collect(),
                reason: Some(text("项目选址和受益范围限于相关村社")?),
            }
        };
        let days = if scripted { 7 } else { self.rng.range(7, 14) };
        let deadline = at_local(
            next_workday(local_date(at) + chrono::Days::new(days as u64)),
            17,
            0,
            0,
        );
        let id = ListingId::new(self.rng.uuid());
        let command = ListingCommand::PostListing {
            listing_id: id,
            town: self.world.towns[town].code.clone(),
            project: text(project)?,
            description: text(&format!(
                "{}面向{}发榜,欢迎符合条件的村(社区)揭榜,按评选标准比选确定承建村。",
                self.world.towns[town].name,
                if whole {
                    "全镇(街道)各村社"
                } else {
                    "部分村社"
                }
            ))?,
            criteria: criteria(four)?,
            eligibility,
            bid_deadline: deadline,
            rules: BiddingRules::default(),
        };
        let stream = id.to_string();
        if self
            .exec::<Listing>(&stream, at, command, &staff, Some(*id.as_uuid()))
            .await?
            .is_none()
        {
            return Ok(());
        }
        let l = self.listings.len();
        self.listings.push(ListingSim {
            id,
            town,
            deadline,
            criteria: if four { 4 } else { 3 },
            bids: Vec::new(),
            favoured,
            fast: scripted,
            winner: None,
            awarded_at: None,
            milestones_left: 0,
            closed: false,
        });
        let now = self.now;
        let mut bidders: Vec<usize> = if !scripted && self.rng.chance(0.03) {
            Vec::new()
        } else {
            let k = self.rng.range(1, 5.min(eligible.len() as i64)) as usize;
            self.rng
                .sample(eligible.len(), k)
                .into_iter()
                .map(|i| eligible[i])
                .collect()
        };
        if let Some(f) = favoured
            && !bidders.contains(&f)
        {
            bidders.push(f);
        }
        let span_hours = (deadline - now).num_hours().max(4);
        for village in bidders {
            let at = plus_hours(now, self.rng.range(2, span_hours - 2));
            let at = work_time(&mut self.rng, next_workday(local_date(at)))
                .max(plus_minutes(now, 10))
                .min(plus_hours(deadline, -2));
            self.schedule(at, Action::Bid { l, village });
            if self.rng.chance(0.15) {
                let later = plus_hours(at, self.rng.range(2, 48)).min(plus_hours(deadline, -2));
                if later > at {
                    self.schedule(later, Action::ReviseBid { l, village });
                }
            } else if !scripted && self.rng.chance(0.05) {
                let later = plus_hours(at, self.rng.range(2, 48)).min(plus_hours(deadline, -2));
                if later > at {
                    self.schedule(later, Action::WithdrawBid { l, village });
                }
            }
        }
        if !scripted && self.rng.chance(0.03) {
            let late = eligible[self.rng.index(eligible.len())];
            let at = plus_hours(deadline, self.rng.range(1, 30));
            self.schedule(at, Action::LateBid { l, village: late });
        }
        let compare = after_work(&mut self.rng, deadline, 1, 3);
        self.schedule(compare, Action::Compare { l });
        Ok(())
    }

    fn bid_command(&mut self, village: usize, revise: bool) -> Result<ListingCommand, SimError> {
        let v = &self.world.villages[village];
        let statement = text(&format!(
            "{}{}:村两委班子团结有力,已落实配套资金和建设场地,群众支持度高。",
            v.name,
            if revise { "(补充说明)" } else { "" }
        ))?;
        let mut attachments = vec![evidence(&mut self.rng, "揭榜申请书.pdf")?];
        if self.rng.chance(0.5) {
            attachments.push(evidence(&mut self.rng, "建设方案.pdf")?);
        }
        let code = v.code.clone();
        Ok(if revise {
            ListingCommand::ReviseBid {
                village: code,
                statement,
                attachments,
            }
        } else {
            ListingCommand::SubmitBid {
                village: code,
                statement,
                attachments,
            }
        })
    }

    fn village_actor(&mut self, village: usize) -> Option<xingcun_domain::Actor> {
        let v = &self.world.villages[village];
        if self.rng.chance(0.75) {
            v.secretary_actor()
        } else {
            v.cadre_actor(self.rng.index(v.cadres.len().max(1)))
        }
    }

    pub(crate) async fn bid(
        &mut self,
        at: DateTime<Utc>,
        l: usize,
        village: usize,
    ) -> Result<(), SimError> {
        let Some(actor) = self.village_actor(village) else {
            return Ok(());
        };
        let command = self.bid_command(village, false)?;
        let id = self.listings[l].id;
        if self
            .exec::<Listing>(&id.to_string(), at, command, &actor, Some(*id.as_uuid()))
            .await?
            .is_some()
        {
            self.listings[l].bids.push(village);
        }
        Ok(())
    }

    pub(crate) async fn late_bid(
        &mut self,
        at: DateTime<Utc>,
        l: usize,
        village: usize,
    ) -> Result<(), SimError> {
        if self.listings[l].bids.contains(&village) {
            return Ok(());
        }
        let Some(actor) = self.village_actor(village) else {
            return Ok(());
        };
        let command = self.bid_command(village, false)?;
        let id = self.listings[l].id;
        self.exec::<Listing>(&id.to_string(), at, command, &actor, Some(*id.as_uuid()))
            .await?;
        Ok(())
    }

    pub(crate) async fn revise_bid(
        &mut self,
        at: DateTime<Utc>,
        l: usize,
        village: usize,
    ) -> Result<(), SimError> {
        if !self.listings[l].bids.contains(&village) {
            return Ok(());
        }
        let Some(actor) = self.village_actor(village) else {
            return Ok(());
        };
        let command = self.bid_command(village, true)?;
        let id = self.listings[l].id;
        self.exec::<Listing>(&id.to_string(), at, command, &actor, Some(*id.as_uuid()))
            .await?;
        Ok(())
    }

    pub(crate) async fn withdraw_bid(
        &mut self,
        at: DateTime<Utc>,
        l: usize,
        village: usize,
    ) -> Result<(), SimError> {
        if !self.listings[l].bids.contains(&village) {
            return Ok(());
        }
        let Some(actor) = self.village_actor(village) else {
            return Ok(());
        };
        let command = ListingCommand::WithdrawBid {
            village: self.world.villages[village].code.clone(),
            reason: Some(text("村级配套资金暂未落实,放弃本次揭榜")?),
        };
        let id = self.listings[l].id;
        if self
            .exec::<Listing>(&id.to_string(), at, command, &actor, Some(*id.as_uuid()))
            .await?
            .is_some()
        {
            self.listings[l].bids.retain(|&v| v != village);
        }
        Ok(())
    }

    pub(crate) async fn compare(&mut self, at: DateTime<Utc>, l: usize) -> Result<(), SimError> {
        let listing = self.listings[l].clone();
        let town = &self.world.towns[listing.town];
        let Some(staff) = town.staff_actor(self.rng.index(town.staff.len())) else {
            return Ok(());
        };
        let stream = listing.id.to_string();
        let corr = Some(*listing.id.as_uuid());
        if listing.bids.is_empty() {
            let command = ListingCommand::CancelListing {
                reason: text("报名截止时无村社报名,撤榜")?,
            };
            self.exec::<Listing>(&stream, at, command, &staff, corr)
                .await?;
            self.listings[l].closed = true;
            return Ok(());
        }
        let mut panel = Vec::new();
        if let Some(p) = &town.party_secretary {
            panel.push(p.id.clone());
        }
        let leaders = self.rng.range(2, 3) as usize;
        for i in self.rng.sample(town.leaders.len(), leaders) {
            panel.push(town.leaders[i].person.id.clone());
        }
        let mut bidders = listing.bids.clone();
        bidders.sort_unstable();
        let mut scores = Vec::new();
        for &v in &bidders {
            let favoured = listing.favoured == Some(v);
            let sheets = panel
                .iter()
                .map(|member| ScoreSheet {
                    member: member.clone(),
                    scores: (0..listing.criteria)
                        .map(|_| {
                            if favoured {
                                self.rng.range_u32(92, 100)
                            } else {
                                self.rng.range_u32(60, 90)
                            }
                        })
                        .collect(),
                })
                .collect();
            scores.push(BidScores {
                village: self.world.villages[v].code.clone(),
                sheets,
            });
        }
        let held_at = plus_hours(at, -self.rng.range(1, 3)).max(listing.deadline);
        let command = ListingCommand::RecordComparison {
            held_at,
            panel,
            scores,
            evidence: vec![evidence(&mut self.rng, "比选会评审记录.pdf")?],
        };
        if self
            .exec::<Listing>(&stream, at, command, &staff, corr)
            .await?
            .is_none()
        {
            self.listings[l].closed = true;
            return Ok(());
        }
        let state = self.load::<Listing>(&stream).await?;
        let Some(ListingStage::Publicized { winner, ends_at }) =
            state.posted().map(|p| p.stage.clone())
        else {
            return Err(SimError::Unexpected(format!(
                "listing {stream} compared without a winner"
            )));
        };
        self.listings[l].winner = bidders
            .iter()
            .copied()
            .find(|&v| self.world.villages[v].code == winner);
        let next = after_work(&mut self.rng, ends_at, 0, 2);
        self.schedule(next, Action::Award { l });
        Ok(())
    }

    pub(crate) async fn award(&mut self, at: DateTime<Utc>, l: usize) -> Result<(), SimError> {
        let listing = self.listings[l].clone();
        let town = &self.world.towns[listing.town];
        let Some(staff) = town.staff_actor(self.rng.index(town.staff.len())) else {
            return Ok(());
        };
        let stream = listing.id.to_string();
        if self
            .exec::<Listing>(
                &stream,
                at,
                ListingCommand::AwardListing,
                &staff,
                Some(*listing.id.as_uuid()),
            )
            .await?
            .is_none()
        {
            return Ok(());
        }
        let n = if listing.fast {
            2
        } else {
            self.rng.range_u32(2, 4)
        };
        self.listings[l].awarded_at = Some(self.now);
        self.listings[l].milestones_left = n;
        let next = if listing.fast {
            plus_hours(self.now, self.rng.range(48, 72))
        } else {
            after_work(&mut self.rng, self.now, 5, 20)
        };
        self.schedule(next, Action::Milestone { l });
        Ok(())
    }

    pub(crate) async fn milestone(&mut self, at: DateTime<Utc>, l: usize) -> Result<(), SimError> {
        let listing = self.listings[l].clone();
        let (Some(winner), Some(awarded_at)) = (listing.winner, listing.awarded_at) else {
            return Ok(());
        };
        let Some(actor) = self.world.villages[winner].secretary_actor() else {
            return Ok(());
        };
        let total = MILESTONES.len() as u32;
        let seq = total.saturating_sub(listing.milestones_left.min(total));
        let title = if listing.milestones_left <= 1 {
            "投入使用"
        } else {
            MILESTONES
                .get(seq as usize)
                .copied()
                .unwrap_or("完成阶段建设")
        };
        let reached_at = plus_hours(at, -self.rng.range(0, 3)).max(awarded_at);
        let command = ListingCommand::ReportMilestone {
            title: text(title)?,
            reached_at,
            evidence: vec![evidence(&mut self.rng, "进度照片.jpg")?],
        };
        let stream = listing.id.to_string();
        self.exec::<Listing>(&stream, at, command, &actor, Some(*listing.id.as_uuid()))
            .await?;
        let left = listing.milestones_left.saturating_sub(1);
        self.listings[l].milestones_left = left;
        let next = if left == 0 {
            (
                after_work(&mut self.rng, self.now, 1, 5),
                Action::AcceptListing { l },
            )
        } else if listing.fast {
            (
                plus_hours(self.now, self.rng.range(48, 72)),
                Action::Milestone { l },
            )
        } else {
            (
                after_work(&mut self.rng, self.now, 5, 25),
                Action::Milestone { l },
            )
        };
        self.schedule(next.0, next.1);
        Ok(())
    }

    pub(crate) async fn accept_listing(
        &mut self,
        at: DateTime<Utc>,
        l: usize,
    ) -> Result<(), SimError> {
        let listing = self.listings[l].clone();
        let town = &self.world.towns[listing.town];
        let Some(staff) = town.staff_actor(self.rng.index(town.staff.len())) else {
            return Ok(());
        };
        let command = ListingCommand::AcceptCompletion {
            note: text("项目已按方案建成,验收合格")?,
        };
        let stream = listing.id.to_string();
        self.exec::<Listing>(&stream, at, command, &staff, Some(*listing.id.as_uuid()))
            .await?;
        self.listings[l].closed = true;
        Ok(())
    }

    /// Listings a town posts on one working day.
    pub(crate) fn plan_listings(&mut self, date: chrono::NaiveDate, town: usize, boost: f64) {
        if self.rng.chance(LISTINGS_PER_TOWN_YEAR / 245.0 * boost) {
            let at = work_time(&mut self.rng, date);
            self.schedule(
                at,
                Action::PostListing {
                    town,
                    scripted: false,
                },
            );
        }
    }
}
