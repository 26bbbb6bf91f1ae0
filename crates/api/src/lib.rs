//! xingcun-api: the HTTP server.
//!
//! For now: `/healthz` (the process is up) and `/readyz` (the event store answers). The
//! router is built by [`app`], shared by `main` and the tests.

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use xingcun_store::{EventLog, Store};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
}

/// The router with every route of the server.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Liveness: the process answers. Never touches the database.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the event store answers a read. 503 with a reason when it does not.
/// `read_only` is true when the store was opened read-only (an auditor's copy): reads are
/// answered, writes refused.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.head_position().await {
        Ok(head) => (
            StatusCode::OK,
            Json(json!({
                "status": "ready",
                "backend": state.store.backend_name(),
                "head_position": head,
                "read_only": state.store.is_read_only(),
            })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "backend": state.store.backend_name(), "reason": "event store unreachable" }),
                ),
            )
        }
    }
}

/// Serve `app` on `listen` until `shutdown` completes; then stop taking connections, finish
/// the requests in flight, and cancel `cancel` (ends subscriptions and background tasks).
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, backend = state.store.backend_name(), "xingcun serving");
    let token = cancel.clone();
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            token.cancel();
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    use xingcun_store::testing::fresh_sqlite;
    use xingcun_store::{Store, SystemClock};

    use super::*;

    async fn get_json(app: Router, path: &str) -> (StatusCode, serde_json::Value) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, serde_json::from_slice(&body).expect("json body"))
    }

    #[tokio::test]
    async fn health_and_readiness() {
        let db = fresh_sqlite();
        let store = Store::connect(db.url(), Arc::new(SystemClock))
            .await
            .expect("store");
        let app = app(AppState { store });
        let (status, body) = get_json(app.clone(), "/healthz").await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("ok"))
        );
        let (status, body) = get_json(app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (body["backend"].as_str(), body["head_position"].as_u64()),
            (Some("sqlite"), Some(0))
        );
        assert_eq!(body["read_only"].as_bool(), Some(false));
    }
}
