//! Queries: every read model, read inside the caller's scope.
//!
//! Each query reads SQL tables kept by the projections; only `villageAsOf` folds the log
//! (the auditor's replay through the domain's own rules). Every query that reads a read
//! model takes `minPosition` (a mutation's `position`): it waits, at most
//! [`MIN_POSITION_WAIT`], until that read model has applied the log up to there, so a
//! client reads its own writes.

use std::time::Duration;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Object};
use chrono::{DateTime, NaiveDate, Utc};
use xingcun_domain::RegionId;
use xingcun_projections::audit_trail::AsOf;
use xingcun_projections::{
    audit_trail, bid_board, catalogue, directory, leaderboard, procedure_register, screening_stats,
    town_dashboard, village_board,
};
use xingcun_store::EventLog;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use crate::{Api, MAX_PAGE};

/// How long a query waits for `minPosition` before answering `UNAVAILABLE`.
pub const MIN_POSITION_WAIT: Duration = Duration::from_secs(5);

pub struct Query;

/// The caller, or `UNAUTHENTICATED`.
pub(crate) fn caller<'a>(ctx: &'a Context<'_>) -> Result<&'a Caller, ApiError> {
    ctx.data_opt::<Caller>()
        .ok_or_else(ApiError::unauthenticated)
}

pub(crate) fn api<'a>(ctx: &'a Context<'_>) -> &'a Api {
    ctx.data_unchecked::<Api>()
}

/// A region code from a client, or `INVALID_INPUT`.
pub(crate) fn region(code: &str) -> Result<RegionId, ApiError> {
    RegionId::parse(code)
        .map_err(|_| ApiError::invalid(format!("地区编码 {code:?} 无效:应为12位统计用区划代码")))
}

pub(crate) fn village(code: &str) -> Result<RegionId, ApiError> {
    let id = region(code)?;
    if id.level() != xingcun_domain::RegionLevel::Village {
        return Err(ApiError::invalid(format!("{code} 不是村社编码")));
    }
    Ok(id)
}

pub(crate) fn town(code: &str) -> Result<RegionId, ApiError> {
    let id = region(code)?;
    if id.level() != xingcun_domain::RegionLevel::Town {
        return Err(ApiError::invalid(format!("{code} 不是镇街编码")));
    }
    Ok(id)
}

fn page_size(first: Option<i32>, default: i32) -> Result<i64, ApiError> {
    let n = first.unwrap_or(default);
    if !(1..=MAX_PAGE).contains(&n) {
        return Err(ApiError::invalid(format!("每页条数须在1至{MAX_PAGE}之间")));
    }
    Ok(i64::from(n))
}

fn month(raw: &str) -> Result<String, ApiError> {
    NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d")
        .map(|d| d.format("%Y-%m").to_string())
        .map_err(|_| ApiError::invalid(format!("月份 {raw:?} 格式应为 YYYY-MM")))
}

fn date(raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(format!("日期 {raw:?} 格式应为 YYYY-MM-DD")))
}

/// Wait until projection `name` has applied the log up to `min` (if given).
pub(crate) async fn reached(api: &Api, name: &str, min: Option<i64>) -> Result<(), ApiError> {
    let Some(min) = min else { return Ok(()) };
    let min = u64::try_from(min).map_err(|_| ApiError::invalid("minPosition 不能为负数"))?;
    let deadline = tokio::time::Instant::now() + MIN_POSITION_WAIT;
    let mut head = api.store.watch_head();
    let mut applied = api.runtime.watch_applied();
    loop {
        applied.borrow_and_update();
        if api.runtime.served_position(name).await?.unwrap_or(0) >= min {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(
                ApiError::new("UNAVAILABLE", "数据尚未更新到您刚才的操作,请稍后刷新")
                    .detail(format!("{name} did not reach position {min} within 5 s")),
            );
        }
        // Wake when a runner of this process commits, on the next append, or poll (a
        // runner in another server process does not signal here).
        let _ = tokio::time::timeout(Duration::from_millis(20), async {
            tokio::select! {
                _ = applied.changed() => {}
                _ = head.changed() => {}
            }
        })
        .await;
    }
}

#[Object]
impl Query {
    /// The caller: person, role and scope.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Me> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        let role = serde_json::to_value(&caller.actor.role).unwrap_or_default();
        let duty_areas = match &caller.actor.role {
            xingcun_domain::Role::TownLeader { duty_areas } => duty_areas.clone(),
            _ => Vec::new(),
        };
        let scope_name = directory::region(&api.db, caller.actor.scope.as_str())
            .await
            .map_err(ApiError::from)?
            .map(|r| r.name);
        Ok(Me {
            person: caller.actor.id.to_string(),
            name: caller.name.clone(),
            role: role["role"].as_str().unwrap_or_default().to_owned(),
            role_title: caller.actor.role.title().to_owned(),
            duty_areas,
            scope: caller.actor.scope.to_string(),
            scope_name,
            can_write: caller.must_write().is_ok(),
        })
    }

    /// A region by code (inside the caller's scope, or one of the regions above it).
    async fn region(&self, ctx: &Context<'_>, code: String) -> ApiResult<Option<Region>> {
        let caller = caller(ctx)?;
        let id = region(&code)?;
        caller.must_see(&id)?;
        Ok(directory::region(&api(ctx).db, &code)
            .await
            .map_err(ApiError::from)?
            .map(Region::from))
    }

    /// The regions directly under `parent` (a county's towns, a town's villages).
    async fn regions(&self, ctx: &Context<'_>, parent: String) -> ApiResult<Vec<Region>> {
        let caller = caller(ctx)?;
        let id = region(&parent)?;
        caller.must_see(&id)?;
        let rows = directory::children(&api(ctx).db, &parent)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .filter(|r| RegionId::parse(&r.region).is_ok_and(|code| caller.must_see(&code).is_ok()))
            .map(Region::from)
            .collect())
    }

    /// The people in post over a region (a village's cadres and grid leaders, a town's
    /// staff and leaders): whom a village secretary may assign work to.
    async fn cadres(&self, ctx: &Context<'_>, scope: String) -> ApiResult<Vec<Cadre>> {
        let caller = caller(ctx)?;
        caller.must_read(&region(&scope)?)?;
        let people = directory::serving(&api(ctx).db, &scope)
            .await
            .map_err(ApiError::from)?;
        Ok(people
            .into_iter()
            .map(|p| {
                let role = serde_json::to_value(&p.role).unwrap_or_default();
                Cadre {
                    role: role["role"].as_str().unwrap_or_default().to_owned(),
                    role_title: p.role.title().to_owned(),
                    person: p.person,
                    name: p.name,
                    scope: p.scope,
                }
            })
            .collect())
    }

    /// 属于你的才显示: what is addressed to one village, soonest deadline first, with the
    /// overdue flag computed now.
    async fn village_board(
        &self,
        ctx: &Context<'_>,
        village: String,
        first: Option<i32>,
        min_position: Option<i64>,
    ) -> ApiResult<Vec<BoardTask>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        caller.must_read(&self::village(&village)?)?;
        let limit = page_size(first, 50)?;
        reached(api, "village_board", min_position).await?;
        let rows = village_board::board(&api.db, &village, api.now(), limit)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(BoardTask::from).collect())
    }

    /// 镇街派单看板: a town's tasks with each village's progress, grouped by office and by
    /// leader in charge, and the duplicates flagged (多头派单).
    async fn town_dashboard(
        &self,
        ctx: &Context<'_>,
        town: String,
        min_position: Option<i64>,
    ) -> ApiResult<TownDashboard> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        caller.must_read(&self::town(&town)?)?;
        reached(api, "town_dashboard", min_position).await?;
        town_dashboard_of(api, &town).await.map_err(Into::into)
    }

    /// 过筛统计 of a town, a county or the city, months `fromMonth`..=`toMonth` (YYYY-MM).
    async fn screening_statistics(
        &self,
        ctx: &Context<'_>,
        scope: String,
        from_month: String,
        to_month: String,
        min_position: Option<i64>,
    ) -> ApiResult<ScreeningStatistics> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        let id = region(&scope)?;
        caller.must_read(&id)?;
        let (from, to) = (month(&from_month)?, month(&to_month)?);
        reached(api, "screening_stats", min_position).await?;
        let code = (id != RegionId::shaoxing()).then_some(scope.as_str());
        let rejections = screening_stats::rejections(&api.db, code, &from, &to)
            .await
            .map_err(ApiError::from)?;
        let reached = screening_stats::villages_reached(&api.db, code, &from, &to)
            .await
            .map_err(ApiError::from)?;
        Ok(ScreeningStatistics {
            scope,
            rejected_total: rejections.iter().map(|r| r.rejected).sum(),
            rejections: rejections.into_iter().map(RejectionCount::from).collect(),
            reached_by_month: reached
                .into_iter()
                .map(|(month, assignments)| MonthCount { month, assignments })
                .collect(),
        })
    }

    /// The change, in percent, of the tasks reaching villages from `baselineYear` to
    /// `year` (negative: fewer). Null when the baseline year has none.
    async fn task_reduction_percent(
        &self,
        ctx: &Context<'_>,
        scope: String,
        baseline_year: i32,
        year: i32,
    ) -> ApiResult<Option<f64>> {
        let caller = caller(ctx)?;
        let id = region(&scope)?;
        caller.must_read(&id)?;
        let code = (id != RegionId::shaoxing()).then_some(scope.as_str());
        Ok(
            screening_stats::reduction_percent(&api(ctx).db, code, baseline_year, year)
                .await
                .map_err(ApiError::from)?,
        )
    }

    /// 决策程序台账: a village's procedures, each step with votes, attendance, evidence and
    /// returns.
    async fn procedure_register(
        &self,
        ctx: &Context<'_>,
        village: String,
        min_position: Option<i64>,
    ) -> ApiResult<Vec<ProcedureEntry>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        caller.must_read(&self::village(&village)?)?;
        reached(api, "procedure_register", min_position).await?;
        let rows = procedure_register::register(&api.db, &village)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ProcedureEntry::from).collect())
    }

    /// Compliant completions of 五议两公开 in a scope between two dates (YYYY-MM-DD,
    /// inclusive, Asia/Shanghai).
    async fn compliant_procedures(
        &self,
        ctx: &Context<'_>,
        scope: String,
        from: String,
        to: String,
    ) -> ApiResult<i64> {
        let caller = caller(ctx)?;
        let id = region(&scope)?;
        caller.must_read(&id)?;
        let code = (id != RegionId::shaoxing()).then_some(scope.as_str());
        Ok(procedure_register::compliant_completions(
            &api(ctx).db,
            code,
            date(&from)?,
            date(&to)?,
            None,
        )
        .await
        .map_err(ApiError::from)?)
    }

    /// 揭榜: a town's listings.
    async fn listings(
        &self,
        ctx: &Context<'_>,
        town: String,
        min_position: Option<i64>,
    ) -> ApiResult<Vec<Listing>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        caller.must_read(&self::town(&town)?)?;
        reached(api, "bid_board", min_position).await?;
        let rows = bid_board::listings(&api.db, &town)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Listing::from).collect())
    }

    /// The listings a village may still bid on now.
    async fn open_listings(&self, ctx: &Context<'_>, village: String) -> ApiResult<Vec<Listing>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        let id = self::village(&village)?;
        caller.must_read(&id)?;
        let town = id.town().ok_or_else(|| ApiError::invalid("村社编码无效"))?;
        let rows = bid_board::open_for_village(&api.db, town.as_str(), &village, api.now())
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Listing::from).collect())
    }

    /// One listing with its bids (revisions, withdrawals), panel scores, winner and
    /// milestones. Visible to the town's staff and every village of the town.
    async fn listing(
        &self,
        ctx: &Context<'_>,
        id: String,
        min_position: Option<i64>,
    ) -> ApiResult<Option<ListingDetail>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        uuid::Uuid::parse_str(&id).map_err(|_| ApiError::invalid("榜单编号无效"))?;
        reached(api, "bid_board", min_position).await?;
        let Some(detail) = bid_board::listing(&api.db, &id)
            .await
            .map_err(ApiError::from)?
        else {
            return Ok(None);
        };
        // The town's listings are for the town and every village of it.
        caller.must_see(&region(&detail.listing.town)?)?;
        Ok(Some(detail.into()))
    }

    /// 无感留痕: every event that concerns a village (or town), in log order with its hashes,
    /// as a Relay connection whose cursors are log positions.
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        region: String,
        after: Option<String>,
        first: Option<i32>,
        min_position: Option<i64>,
    ) -> ApiResult<Connection<String, TrailEvent, EmptyFields, EmptyFields>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        caller.must_read(&self::region(&region)?)?;
        let limit = page_size(first, 100)?;
        let after_position = match after.as_deref() {
            None => 0,
            Some(cursor) => cursor
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| ApiError::invalid("游标无效"))?,
        };
        reached(api, "audit_trail", min_position).await?;
        let mut rows = audit_trail::trail(&api.store, &api.db, &region, after_position, limit + 1)
            .await
            .map_err(ApiError::from)?;
        let has_next = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let wants_payload = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("payload")
            .exists();
        let mut connection = Connection::new(after_position > 0, has_next);
        connection.edges.extend(rows.into_iter().map(|e| {
            let payload = wants_payload.then(|| async_graphql::Json(e.payload.clone()));
            Edge::new(
                e.position.to_string(),
                TrailEvent {
                    payload,
                    ..TrailEvent::from(e)
                },
            )
        }));
        Ok(connection)
    }

    /// A village as it stood at a log position or at a time (RFC 3339), folded from the
    /// log through the domain's own rules: what the auditor sees is what the rules saw.
    async fn village_as_of(
        &self,
        ctx: &Context<'_>,
        village: String,
        position: Option<i64>,
        time: Option<String>,
    ) -> ApiResult<VillageAsOf> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        caller.must_read(&self::village(&village)?)?;
        let as_of = match (position, time) {
            (Some(p), None) => AsOf::Position(
                u64::try_from(p).map_err(|_| ApiError::invalid("position 不能为负数"))?,
            ),
            (None, Some(t)) => AsOf::Time(
                DateTime::parse_from_rfc3339(&t)
                    .map_err(|_| {
                        ApiError::invalid("time 须为 RFC 3339 时间,如 2025-03-01T00:00:00+08:00")
                    })?
                    .with_timezone(&Utc),
            ),
            _ => return Err(ApiError::invalid("请给出 position 或 time 其中之一").into()),
        };
        let state = audit_trail::village_as_of(&api.store, &api.db, &village, as_of)
            .await
            .map_err(ApiError::from)?;
        Ok(state.into())
    }

    /// 亮榜争先: 兴村治社榜 (`VILLAGES`) or 先锋干部榜 (`CADRES`) of a town, county or the
    /// city, for a period (`2025-03`, `2025-Q1`, `2025`, Asia/Shanghai), on points or on the
    /// 领雁指数 (the definition in force, or `indexVersion`; a new version re-ranks history).
    /// Boards are for everyone they concern: a caller sees the boards of their own scope
    /// and of every region above it (a village secretary sees their town's, county's and
    /// the city's), and those of regions inside their scope.
    #[allow(clippy::too_many_arguments)]
    async fn leaderboard(
        &self,
        ctx: &Context<'_>,
        board: Board,
        scope: String,
        period: String,
        measure: Option<Measure>,
        index_version: Option<i32>,
        first: Option<i32>,
        min_position: Option<i64>,
    ) -> ApiResult<Vec<LeaderboardRow>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        let query = leaderboard_query(
            caller,
            board,
            &scope,
            &period,
            measure,
            index_version,
            first,
        )?;
        reached(api, "leaderboard", min_position).await?;
        let rows = leaderboard::leaderboard(&api.db, &query)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(LeaderboardRow::from).collect())
    }

    /// 事项清单 of the city (default) or a county: the items as they stand and every change,
    /// version by version. Open to every signed-in cadre: it is the list tasks are screened
    /// against.
    async fn catalogue(
        &self,
        ctx: &Context<'_>,
        scope: Option<String>,
        min_position: Option<i64>,
    ) -> ApiResult<CatalogueList> {
        caller(ctx)?;
        let api = api(ctx);
        let scope = scope.unwrap_or_else(|| RegionId::shaoxing().to_string());
        region(&scope)?;
        reached(api, "catalogue", min_position).await?;
        let items = catalogue::items(&api.db, &scope)
            .await
            .map_err(ApiError::from)?;
        let changes = catalogue::versions(&api.db, &scope)
            .await
            .map_err(ApiError::from)?;
        Ok(CatalogueList {
            version: changes.last().map_or(0, |c| c.version),
            scope,
            items: items
                .into_iter()
                .map(|i| CatalogueItem {
                    code: i.code,
                    name: i.name,
                    category: i.category,
                    level: i.level,
                    kind: i.kind,
                    effective_from: i.effective_from,
                    effective_to: i.effective_to,
                    version: i.version,
                })
                .collect(),
            changes: changes
                .into_iter()
                .map(|c| CatalogueChange {
                    version: c.version,
                    change: c.change,
                    code: c.code,
                    reason: c.reason,
                    changed_by: c.changed_by,
                    recorded_at: c.recorded_at,
                    position: c.position,
                })
                .collect(),
        })
    }

    /// 验链: recompute the hash chain of the whole log, for auditors (and administrators).
    /// One verification runs at a time; its result is kept until the log grows, so asking
    /// again costs nothing.
    async fn verify_chain(&self, ctx: &Context<'_>) -> ApiResult<ChainVerification> {
        let caller = caller(ctx)?;
        if !matches!(
            caller.actor.role,
            xingcun_domain::Role::Auditor | xingcun_domain::Role::Administrator
        ) {
            return Err(ApiError::forbidden("只有审计督查人员和系统管理员可以验链").into());
        }
        let api = api(ctx);
        let mut cached = api.verified.lock().await;
        let head = api.store.head_position().await.map_err(ApiError::from)?;
        if let Some(done) = cached.as_ref()
            && done.head_position == i64::try_from(head).unwrap_or(i64::MAX)
        {
            return Ok(done.clone());
        }
        let report = xingcun_store::verify(&api.store)
            .await
            .map_err(ApiError::from)?;
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let done = ChainVerification {
            intact: report.is_intact(),
            events: int(report.events),
            head_position: int(report.head_position),
            head_hash: report.head_hash.clone(),
            broken_at: report.first_problem.as_ref().map(|p| int(p.position())),
            problem: report.first_problem.as_ref().map(ToString::to_string),
            verified_at: xingcun_store::hash::format_time(&api.now()),
        };
        *cached = Some(done.clone());
        Ok(done)
    }

    /// Each read model's version, position, lag and state.
    async fn projection_status(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProjectionStatus>> {
        caller(ctx)?;
        let rows = api(ctx).runtime.status().await.map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|s| ProjectionStatus {
                name: s.name,
                version: s.version,
                active_build: s.active_build,
                position: i64::try_from(s.position).unwrap_or(i64::MAX),
                head: i64::try_from(s.head).unwrap_or(i64::MAX),
                lag_events: i64::try_from(s.lag_events).unwrap_or(i64::MAX),
                lag_seconds: s.lag_seconds,
                state: s.state,
                error: s.error,
            })
            .collect())
    }
}

pub(crate) async fn town_dashboard_of(api: &Api, town: &str) -> Result<TownDashboard, ApiError> {
    let now = api.now();
    Ok(TownDashboard {
        town: town.to_owned(),
        tasks: town_dashboard::tasks(&api.db, town, now)
            .await?
            .into_iter()
            .map(DashboardTask::from)
            .collect(),
        by_office: town_dashboard::by_office(&api.db, town, now)
            .await?
            .into_iter()
            .map(DashboardGroup::from)
            .collect(),
        by_leader: town_dashboard::by_leader(&api.db, town, now)
            .await?
            .into_iter()
            .map(DashboardGroup::from)
            .collect(),
        duplicates: town_dashboard::duplicates(&api.db, town)
            .await?
            .into_iter()
            .map(DuplicateFlag::from)
            .collect(),
    })
}

/// A board query the caller may make.
pub(crate) fn leaderboard_query(
    caller: &Caller,
    board: Board,
    scope: &str,
    period: &str,
    measure: Option<Measure>,
    index_version: Option<i32>,
    first: Option<i32>,
) -> Result<leaderboard::LeaderboardQuery, ApiError> {
    let id = region(scope)?;
    caller.must_see(&id)?;
    let period: leaderboard::Period = period
        .parse()
        .map_err(|e: leaderboard::InvalidPeriod| ApiError::invalid(e.to_string()))?;
    let version = index_version
        .map(|v| u32::try_from(v).map_err(|_| ApiError::invalid("indexVersion 不能为负数")))
        .transpose()?;
    Ok(leaderboard::LeaderboardQuery {
        board: match board {
            Board::Villages => leaderboard::Board::Villages,
            Board::Cadres => leaderboard::Board::Cadres,
        },
        scope: id,
        period,
        measure: match measure.unwrap_or(Measure::Points) {
            Measure::Points => leaderboard::Measure::Points,
            Measure::Index => leaderboard::Measure::Index { version },
        },
        limit: Some(u32::try_from(page_size(first, 50)?).unwrap_or(50)),
    })
}
