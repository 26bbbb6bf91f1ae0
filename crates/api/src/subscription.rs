//! Subscriptions, over WebSocket (graphql-transport-ws, and the legacy
//! subscriptions-transport-ws).
//!
//! - `events(region, after)`: every event that concerns a region inside the caller's scope,
//!   from a position: a client that reconnects with the last position it saw misses nothing
//!   and sees nothing twice. For auditors and dashboards' live feeds.
//! - `villageBoardChanged(village)`: the board rows that changed, once the board has
//!   applied the event that changed them.
//! - `townDashboardChanged(town)`: the town's dashboard, after each change.
//!
//! All end when the server shuts down (the WebSocket is then closed with code 1001).

use std::sync::{Arc, Mutex};

use async_graphql::{Context, Json, SimpleObject, Subscription};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use xingcun_domain::RegionId;
use xingcun_projections::{leaderboard, village_board};
use xingcun_store::{EventLog, RecordedEvent};

use crate::Api;
use crate::error::ApiError;
use crate::query::{
    api, caller, leaderboard_query, reached, region, town, town_dashboard_of, village,
};
use crate::types::{Board, BoardTask, LeaderboardRow, Measure, TownDashboard};

pub struct Subscription;

/// An event of the log as it was appended.
#[derive(SimpleObject, Clone)]
pub struct LogEvent {
    pub position: i64,
    pub stream_id: String,
    pub event_type: String,
    pub actor: String,
    pub recorded_at: String,
    pub prev_hash: String,
    pub hash: String,
    /// The regions the event concerns.
    pub regions: Vec<String>,
    /// The event's content, as stored.
    pub payload: Json<serde_json::Value>,
}

impl From<RecordedEvent> for LogEvent {
    fn from(e: RecordedEvent) -> Self {
        LogEvent {
            position: i64::try_from(e.position).unwrap_or(i64::MAX),
            stream_id: e.stream_id,
            event_type: e.event_type,
            actor: e.metadata.actor,
            recorded_at: xingcun_store::hash::format_time(&e.recorded_at),
            prev_hash: e.prev_hash,
            hash: e.hash,
            regions: e.metadata.regions,
            payload: Json(e.payload.into_value()),
        }
    }
}

/// Whether `event` concerns `region` (or a region inside it).
fn concerns(event: &RecordedEvent, region: &RegionId) -> bool {
    event
        .metadata
        .regions
        .iter()
        .any(|r| RegionId::parse(r).is_ok_and(|r| region.contains(&r)))
}

/// The log's events after `after` that concern `region`. The store's subscription waits
/// out a database outage by itself and goes on from where it was.
fn events_of(api: &Api, region: RegionId, after: u64) -> impl Stream<Item = RecordedEvent> + use<> {
    let cancel = api.cancel.child_token();
    xingcun_store::subscribe(api.store.clone(), after, cancel).filter_map(move |e| {
        let keep = match e {
            Ok(e) if concerns(&e, &region) => Some(e),
            Ok(_) => None,
            Err(err) => {
                tracing::error!(error = %err, "subscription ended");
                None
            }
        };
        std::future::ready(keep)
    })
}

#[Subscription]
impl Subscription {
    /// Every event concerning `region` (a village, a town, a county), in log order, after
    /// position `after` (default: from now on).
    async fn events(
        &self,
        ctx: &Context<'_>,
        region: String,
        after: Option<i64>,
    ) -> async_graphql::Result<BoxStream<'static, LogEvent>> {
        let caller = caller(ctx)?;
        let api = api(ctx);
        let id = self::region(&region)?;
        caller.must_read(&id)?;
        let after = match after {
            Some(p) => u64::try_from(p).map_err(|_| ApiError::invalid("after 不能为负数"))?,
            None => api.store.head_position().await.map_err(ApiError::from)?,
        };
        Ok(events_of(api, id, after).map(LogEvent::from).boxed())
    }

    /// The rows of a village's board that changed, each time the board changes.
    async fn village_board_changed(
        &self,
        ctx: &Context<'_>,
        village: String,
    ) -> async_graphql::Result<BoxStream<'static, Vec<BoardTask>>> {
        let caller = caller(ctx)?;
        let api = api(ctx).clone();
        let id = self::village(&village)?;
        caller.must_read(&id)?;
        let head = api.store.head_position().await.map_err(ApiError::from)?;
        // The last position whose rows were pushed: it moves only when the board was read,
        // so rows changed while the read models were out of reach are pushed with the
        // next change instead of being skipped.
        let seen = Arc::new(std::sync::atomic::AtomicI64::new(
            i64::try_from(head).unwrap_or(i64::MAX),
        ));
        let changes = events_of(&api, id, head);
        Ok(changes
            .then(move |event| {
                let (api, village, seen) = (api.clone(), village.clone(), seen.clone());
                async move {
                    let since = seen.load(std::sync::atomic::Ordering::Relaxed);
                    let position = i64::try_from(event.position).unwrap_or(i64::MAX);
                    let rows = async {
                        reached(&api, "village_board", Some(position)).await?;
                        village_board::board(&api.db, &village, api.now(), crate::MAX_PAGE.into())
                            .await
                            .map_err(ApiError::from)
                    }
                    .await;
                    match rows {
                        Ok(rows) => {
                            seen.fetch_max(position, std::sync::atomic::Ordering::Relaxed);
                            rows.into_iter()
                                .filter(|r| r.position > since)
                                .map(BoardTask::from)
                                .collect::<Vec<_>>()
                        }
                        Err(e) => {
                            tracing::warn!(code = e.code, "board subscription could not read");
                            Vec::new()
                        }
                    }
                }
            })
            .filter(|rows| std::future::ready(!rows.is_empty()))
            .boxed())
    }

    /// A leaderboard, each time its ranking changes (who is on it, in which rank, or their
    /// points or index): the first page, as `leaderboard` answers it.
    #[allow(clippy::too_many_arguments)]
    async fn leaderboard_changed(
        &self,
        ctx: &Context<'_>,
        board: Board,
        scope: String,
        period: String,
        measure: Option<Measure>,
        index_version: Option<i32>,
        first: Option<i32>,
    ) -> async_graphql::Result<BoxStream<'static, Vec<LeaderboardRow>>> {
        let caller = caller(ctx)?;
        let api = api(ctx).clone();
        let query = leaderboard_query(
            caller,
            board,
            &scope,
            &period,
            measure,
            index_version,
            first,
        )?;
        let head = api.store.head_position().await.map_err(ApiError::from)?;
        // The last ranking sent: a change that leaves it as it was sends nothing.
        let last: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
        Ok(events_of(&api, query.scope.clone(), head)
            .then(move |event| {
                let api = api.clone();
                let query = query.clone();
                async move {
                    let position = i64::try_from(event.position).unwrap_or(i64::MAX);
                    reached(&api, "leaderboard", Some(position)).await.ok()?;
                    leaderboard::leaderboard(&api.db, &query).await.ok()
                }
            })
            .filter_map(move |rows| {
                let changed = rows.and_then(|rows| {
                    let key: Vec<String> = rows
                        .iter()
                        .map(|r| format!("{}#{}#{:?}#{:?}", r.subject, r.rank, r.points, r.index))
                        .collect();
                    let mut last = last
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    (last.as_ref() != Some(&key)).then(|| {
                        *last = Some(key);
                        rows
                    })
                });
                std::future::ready(changed)
            })
            .map(|rows| rows.into_iter().map(LeaderboardRow::from).collect())
            .boxed())
    }

    /// A town's dispatch dashboard, each time something in the town changes.
    async fn town_dashboard_changed(
        &self,
        ctx: &Context<'_>,
        town: String,
    ) -> async_graphql::Result<BoxStream<'static, TownDashboard>> {
        let caller = caller(ctx)?;
        let api = api(ctx).clone();
        let id = self::town(&town)?;
        caller.must_read(&id)?;
        let head = api.store.head_position().await.map_err(ApiError::from)?;
        Ok(events_of(&api, id, head)
            .filter_map(move |event| {
                let api = api.clone();
                let town = town.clone();
                async move {
                    let position = i64::try_from(event.position).unwrap_or(i64::MAX);
                    reached(&api, "town_dashboard", Some(position)).await.ok()?;
                    town_dashboard_of(&api, &town).await.ok()
                }
            })
            .boxed())
    }
}
