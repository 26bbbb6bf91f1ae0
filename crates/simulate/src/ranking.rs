//! Inputs of the leaderboards: real-time praise from town leaders (a few given in error and
//! withdrawn, the odd one above the town's cap refused), the yearly 领雁指数 scores town
//! raters give each village secretary, and a new version of the index definition's weights.

use chrono::{DateTime, Datelike, Utc};
use xingcun_domain::ranking::{
    Dimension, DimensionKey, DimensionScore, IndexDefinitionCommand, IndexDimensions,
    PraiseCommand, PraiseId, PraiseRules, PraiseTarget, RatingCommand, RatingPeriod,
};
use xingcun_domain::{IndexDefinitionStream, Praise, RatingSheet, Role};
use xingcun_store::EventLog;

use crate::SimError;
use crate::calendar::{add_workdays, after_work, local_date, work_time};
use crate::engine::{Action, Engine, text};
use crate::names::PRAISE_REASONS;

/// Praise per town per month.
pub(crate) const PRAISE_PER_TOWN_MONTH: f64 = 2.0;

impl<L: EventLog> Engine<'_, L> {
    pub(crate) async fn praise(&mut self, at: DateTime<Utc>, town: usize) -> Result<(), SimError> {
        let t = &self.world.towns[town];
        let giver = if self.rng.chance(0.2) {
            t.party_secretary_actor()
        } else {
            t.leader_actor(self.rng.index(t.leaders.len()))
        };
        let Some(giver) = giver else {
            return Ok(());
        };
        let Some(&vi) = self.rng.pick(&t.villages) else {
            return Ok(());
        };
        let v = &self.world.villages[vi];
        let target = if self.rng.chance(0.4) {
            let people: Vec<_> = v
                .secretary
                .iter()
                .chain(v.cadres.iter())
                .map(|p| p.id.clone())
                .collect();
            match self.rng.pick(&people) {
                Some(person) => PraiseTarget::Cadre {
                    village: v.code.clone(),
                    person: person.clone(),
                },
                None => PraiseTarget::Village {
                    village: v.code.clone(),
                },
            }
        } else {
            PraiseTarget::Village {
                village: v.code.clone(),
            }
        };
        let rules = PraiseRules::default();
        let reason = text(
            self.rng
                .pick(PRAISE_REASONS)
                .copied()
                .unwrap_or("工作表现突出"),
        )?;
        let id = self.rng.uuid();
        let stream = id.to_string();
        let mut t = at;
        // Now and then a leader tries more points than the town allows: refused, then corrected.
        if self.rng.chance(0.02) {
            let command = PraiseCommand::GivePraise {
                praise_id: PraiseId::new(id),
                target: target.clone(),
                points: rules.max_points() + 5,
                reason: reason.clone(),
                rules,
            };
            self.exec::<Praise>(&stream, t, command, &giver, None)
                .await?;
            t = crate::calendar::plus_minutes(t, self.rng.range(1, 5));
        }
        let points = self.rng.range_u32(1, rules.max_points());
        let command = PraiseCommand::GivePraise {
            praise_id: PraiseId::new(id),
            target,
            points,
            reason,
            rules,
        };
        if self
            .exec::<Praise>(&stream, t, command, &giver, None)
            .await?
            .is_some()
            && self.rng.chance(0.01)
        {
            let later = after_work(&mut self.rng, self.now, 0, 3);
            self.schedule(later, Action::WithdrawPraise { praise: id, giver });
        }
        Ok(())
    }

    /// A praise given in error is withdrawn by the leader who gave it.
    pub(crate) async fn withdraw_praise(
        &mut self,
        at: DateTime<Utc>,
        praise: uuid::Uuid,
        giver: xingcun_domain::Actor,
    ) -> Result<(), SimError> {
        let command = PraiseCommand::WithdrawPraise {
            reason: text("表扬对象录入有误,撤回")?,
        };
        self.exec::<Praise>(&praise.to_string(), at, command, &giver, None)
            .await?;
        Ok(())
    }

    /// One rater scores one village secretary for the year.
    pub(crate) async fn rate(
        &mut self,
        at: DateTime<Utc>,
        village: usize,
        year: i32,
        rater: usize,
    ) -> Result<(), SimError> {
        let v = &self.world.villages[village];
        let Some(secretary) = v.secretary.as_ref().map(|p| p.id.clone()) else {
            return Ok(());
        };
        let t = &self.world.towns[v.town];
        let actor = if rater == 0 {
            t.party_secretary_actor()
        } else {
            t.leader_actor(rater - 1)
        };
        let Some(actor) = actor else {
            return Ok(());
        };
        let period = RatingPeriod::year(year).map_err(|e| SimError::Generator(e.to_string()))?;
        // Each village has its own level; raters differ a little around it.
        let base = 70 + (village as u32 * 7919 + year as u32) % 20;
        let scores = self
            .index_definition
            .dimensions
            .dimensions()
            .iter()
            .map(|d| DimensionScore {
                key: d.key.clone(),
                score: (base + self.rng.range_u32(0, 12)).min(100) - 4,
            })
            .collect();
        let command = RatingCommand::RecordDimensionScores {
            village: v.code.clone(),
            secretary,
            period,
            definition: self.index_definition.clone(),
            scores,
        };
        let stream = format!("{}-{period}", v.code);
        self.exec::<RatingSheet>(&stream, at, command, &actor, None)
            .await?;
        Ok(())
    }

    /// Queue the year's ratings: every village secretary by the party secretary and two
    /// leaders, over the second half of December.
    pub(crate) fn plan_ratings(&mut self, date: chrono::NaiveDate) {
        let year = date.year();
        for village in 0..self.world.villages.len() {
            let town = self.world.villages[village].town;
            let leaders = self.world.towns[town].leaders.len();
            let mut raters = vec![0usize];
            for i in self.rng.sample(leaders, 2) {
                raters.push(i + 1);
            }
            for rater in raters {
                let day = add_workdays(date, self.rng.range_u32(0, 7));
                let at = work_time(&mut self.rng, day);
                if local_date(at).year() == year {
                    self.schedule(
                        at,
                        Action::Rate {
                            village,
                            year,
                            rater,
                        },
                    );
                }
            }
        }
    }

    /// The city publishes new weights for the 领雁指数: 群众口碑 and 廉洁自律 count double.
    pub(crate) async fn publish_index_definition(
        &mut self,
        at: DateTime<Utc>,
    ) -> Result<(), SimError> {
        let Some(city) = self.world.city.clone() else {
            return Ok(());
        };
        let Some(admin) = self
            .world
            .city_admin
            .as_ref()
            .map(|p| p.actor(Role::Administrator, &city))
        else {
            return Ok(());
        };
        let dim = |key: &str, name: &str, weight: u32| -> Result<Dimension, SimError> {
            Ok(Dimension {
                key: DimensionKey::parse(key).map_err(|e| SimError::Generator(e.to_string()))?,
                name: name.to_owned(),
                weight,
            })
        };
        let dimensions = IndexDimensions::new(vec![
            dim(DimensionKey::LEADERSHIP, "领导能力", 1)?,
            dim(DimensionKey::GOVERNANCE, "治理能力", 1)?,
            dim(DimensionKey::REPUTATION, "群众口碑", 2)?,
            dim(DimensionKey::DEVELOPMENT, "发展实绩", 1)?,
            dim(DimensionKey::RESPONSIBILITY, "担当作为", 1)?,
            dim(DimensionKey::INTEGRITY, "廉洁自律", 2)?,
        ])
        .map_err(|e| SimError::Generator(e.to_string()))?;
        let command = IndexDefinitionCommand::PublishIndexDefinition {
            scope: city.clone(),
            dimensions,
        };
        if self
            .exec::<IndexDefinitionStream>(city.as_str(), at, command, &admin, None)
            .await?
            .is_some()
        {
            let state = self.load::<IndexDefinitionStream>(city.as_str()).await?;
            self.index_definition = state.current();
        }
        Ok(())
    }

    /// Praise a town gives on one working day.
    pub(crate) fn plan_praise(&mut self, date: chrono::NaiveDate, town: usize) {
        for _ in 0..self.rng.count(PRAISE_PER_TOWN_MONTH / 20.4) {
            let at = work_time(&mut self.rng, date);
            self.schedule(at, Action::Praise { town });
        }
    }
}
