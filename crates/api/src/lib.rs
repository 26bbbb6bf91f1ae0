//! xingcun-api: the HTTP face of xingcun — GraphQL on axum.
//!
//! - `POST /graphql`: queries and mutations, per the GraphQL-over-HTTP specification
//!   (`application/json` and `application/graphql-response+json`, see [`http`]);
//! - `GET /graphql`: queries in the URL; GraphiQL for a browser; WebSocket subscriptions
//!   (graphql-transport-ws and the legacy subscriptions-transport-ws, see [`ws`]);
//! - `/healthz` (the process is up), `/readyz` (database reachable, read models serving),
//!   `/metrics` (Prometheus);
//! - `/`: the web cockpit (驾驶舱), a page of ES modules served from the binary, with its
//!   files under `/app/…` (see [`cockpit`]).
//!
//! The router is built by [`app`], shared by `main` and the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::Schema;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use xingcun_projections::{ReadDb, Runtime};
use xingcun_store::{EventLog, Executor, Store};

pub mod auth;
pub mod cockpit;
pub mod error;
pub mod fanout;
pub mod http;
pub mod metrics;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;
pub mod ws;

pub use error::ApiError;

/// The largest page a query returns (`first`).
pub const MAX_PAGE: i32 = 200;
/// Query depth and complexity limits: deep enough for every query of the schema,
/// shallow enough that a hostile query cannot fan out.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 2_000;
/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// The longest a request may run before it is answered `UNAVAILABLE`.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The schema of the API.
pub type ApiSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// What resolvers reach: the log, the read models, the command executor.
#[derive(Clone)]
pub struct Api {
    pub store: Store,
    pub db: ReadDb,
    pub runtime: Arc<Runtime>,
    pub executor: Executor<Store>,
    pub metrics: Arc<metrics::Metrics>,
    /// Cancelled when the server shuts down: subscriptions end.
    pub cancel: CancellationToken,
    /// The last chain verification (`verifyChain`), one at a time.
    pub verified: Arc<tokio::sync::Mutex<Option<types::ChainVerification>>>,
    /// Callers resolved in the last second (see [`auth::CallerCache`]).
    pub callers: Arc<auth::CallerCache>,
}

impl Api {
    /// Over a store and its read models. `cancel` ends subscriptions at shutdown.
    pub fn new(runtime: Arc<Runtime>, cancel: CancellationToken) -> Self {
        let store = runtime.store().clone();
        Api {
            executor: Executor::new(store.clone()).with_state_cache(10_000),
            db: runtime.db().clone(),
            store,
            runtime,
            metrics: Arc::default(),
            cancel,
            verified: Arc::default(),
            callers: Arc::default(),
        }
    }

    /// The caller of `token`, through the cache of recently resolved callers.
    pub async fn caller(&self, token: &str) -> Result<auth::Caller, ApiError> {
        self.callers
            .resolve(&self.store, &self.db, token, self.now())
            .await
    }

    /// The store's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.store.clock().now()
    }
}

/// The schema, without data (for `xingcun schema`).
pub fn schema_builder()
-> async_graphql::SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(
        query::Query,
        mutation::Mutation::default(),
        subscription::Subscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

/// The SDL of the API, as `schema.graphql` keeps it.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub api: Api,
    pub schema: ApiSchema,
    pub guard: Arc<http::AttemptGuard>,
    /// The tokens `serve --demo` printed, offered on the cockpit's sign-in page; `None`
    /// on a real server (`/demo-tokens` then answers an empty list).
    pub demo_tokens: Option<Arc<Vec<cockpit::DemoToken>>>,
}

impl AppState {
    pub fn new(api: Api) -> Self {
        let schema = schema_builder().data(api.clone()).finish();
        AppState {
            api,
            schema,
            guard: Arc::default(),
            demo_tokens: None,
        }
    }

    /// Offer these tokens on the sign-in page (`serve --demo` only).
    pub fn with_demo_tokens(mut self, tokens: Vec<cockpit::DemoToken>) -> Self {
        self.demo_tokens = Some(Arc::new(tokens));
        self
    }
}

/// The router with every route of the server.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(http::graphql_get).post(http::graphql_post))
        .route("/graphiql/{asset}", get(http::graphiql_asset))
        .route("/", get(cockpit::index))
        .route("/app/{asset}", get(cockpit::asset))
        .route("/demo-tokens", get(cockpit::demo_tokens))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Liveness: the process answers. Never touches the database.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Readiness: the event store answers a read and no read model is being built from zero
/// (a server whose boards are empty while they rebuild should not get traffic). 503 with
/// the reason otherwise. A read model that failed is listed under `failed` but does not
/// make the server unready: the others serve, and only an operator (a fix, a rebuild) can
/// mend it, not a restart. `read_only`: the store is a read-only copy.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let store = &state.api.store;
    let head = match store.head_position().await {
        Ok(head) => head,
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    json!({ "status": "unavailable", "backend": store.backend_name(), "reason": "event store unreachable" }),
                ),
            );
        }
    };
    let statuses = match state.api.runtime.status().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: read models unreadable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    json!({ "status": "unavailable", "backend": store.backend_name(), "reason": "read models unreachable" }),
                ),
            );
        }
    };
    let not_serving: Vec<&str> = statuses
        .iter()
        .filter(|s| s.active_build.is_none() && s.state != "failed" && head > 0)
        .map(|s| s.name.as_str())
        .collect();
    let failed: Vec<&str> = statuses
        .iter()
        .filter(|s| s.state == "failed")
        .map(|s| s.name.as_str())
        .collect();
    let body = json!({
        "status": if not_serving.is_empty() { "ready" } else { "building" },
        "backend": store.backend_name(),
        "head_position": head,
        "read_only": store.is_read_only(),
        "building": not_serving,
        "failed": failed,
    });
    if not_serving.is_empty() {
        (StatusCode::OK, axum::Json(body))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body))
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let lag = match state.api.runtime.status().await {
        Ok(statuses) => statuses
            .into_iter()
            .map(|s| (s.name, s.lag_events, s.lag_seconds))
            .collect(),
        Err(_) => Vec::new(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state
            .api
            .metrics
            .render(&lag, state.api.store.group_commits()),
    )
}

/// Serve `app` on `listen` until `shutdown` completes; then stop taking connections, end
/// the subscriptions (`cancel`), finish the requests in flight.
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, backend = state.api.store.backend_name(), "xingcun serving");
    let token = cancel.clone();
    let metrics = state.api.metrics.clone();
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        token.cancel();
    })
    .await?;
    // Upgraded WebSocket connections are not the HTTP server's to wait for: give each the
    // moment it needs to send its close frame (1001), so no client sees a reset instead.
    let closing = std::time::Instant::now();
    while metrics.subscribers() > 0 && closing.elapsed() < SHUTDOWN_GRACE {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The longest a shutting-down server waits for its WebSocket connections to close.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
