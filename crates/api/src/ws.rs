//! GraphQL subscriptions over WebSocket at `/graphql`.
//!
//! - Protocols: `graphql-transport-ws` (what the `graphql-ws` client library speaks) and
//!   the legacy `graphql-ws` (subscriptions-transport-ws), chosen by the client's
//!   `Sec-WebSocket-Protocol`; a request naming neither is refused (`400`).
//! - The caller is the token in the `connection_init` payload (`{"Authorization": "Bearer
//!   xc_…"}`, `{"authorization": …}` or `{"token": "xc_…"}`), or else the upgrade request's
//!   `Authorization` header. Without a valid one the connection is closed (4403
//!   Forbidden, per graphql-transport-ws).
//! - The token is checked again every [`RECHECK`]: revoked, expired, or its person gone
//!   from their post, the connection is closed with 4401 and the reason.
//! - A connection without a successful `connection_init` after [`INIT_TIMEOUT`] is closed
//!   with 4408; the server pings every [`PING`], and a client silent (not even a pong) for
//!   [`SILENCE_LIMIT`] is closed as gone.
//! - When the server shuts down, every connection is closed with 1001 (going away).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GqlWebSocket, WebSocketProtocols as Protocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use crate::AppState;
use crate::auth;

/// How often an open connection's token is checked again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// How often the server pings an open connection (WebSocket ping frames).
pub const PING: Duration = Duration::from_secs(30);
/// A connection that has not completed `connection_init` by then is closed with 4408, as
/// graphql-transport-ws prescribes (so no one holds sockets open without a token).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that has sent nothing, not even a pong, for this long is gone: closed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(75);

/// The close code graphql-transport-ws prescribes where async-graphql uses a generic one:
/// a message that is not a valid protocol message is 4400 (Bad request), a refused
/// `connection_init` 4403 (Forbidden), a `subscribe` before the connection was acknowledged
/// 4401 (Unauthorized). async-graphql closes the first two with 1002 and the last with
/// 1011; clients such as `graphql-ws` decide on the code whether to retry.
fn close_code(protocol: Protocols, code: u16, reason: String, init_refused: bool) -> (u16, String) {
    match (protocol, code) {
        (Protocols::GraphQLWS, 1002) if init_refused => (4403, reason),
        (Protocols::GraphQLWS, 1002) => (4400, reason),
        (Protocols::GraphQLWS, 1011) => (4401, "Unauthorized".into()),
        _ => (code, reason),
    }
}

/// The token a `connection_init` payload carries.
fn token_in(payload: &serde_json::Value) -> Option<String> {
    let raw = ["Authorization", "authorization", "token"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))?;
    Some(auth::bearer(raw).unwrap_or(raw).trim().to_owned())
}

pub fn upgrade(state: AppState, upgrade: WebSocketUpgrade, headers: &HeaderMap) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|p| p.to_str().ok())
        .and_then(|p| {
            p.split(',')
                .find_map(|p| Protocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must name graphql-transport-ws or graphql-ws",
        )
            .into_response();
    };
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer)
        .map(str::to_owned);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_socket(state, socket, protocol, header_token))
}

async fn serve_socket(
    state: AppState,
    socket: WebSocket,
    protocol: Protocols,
    header_token: Option<String>,
) {
    let (mut sink, stream) = socket.split();
    let opened = std::time::Instant::now();
    // When the client last sent anything (a pong to our ping included).
    let heard = Arc::new(Mutex::new(opened));
    let heard_in = heard.clone();
    let input = stream
        .inspect(move |m| {
            if m.is_ok() {
                *heard_in
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = std::time::Instant::now();
            }
        })
        .take_while(|m| std::future::ready(matches!(m, Ok(m) if !matches!(m, Message::Close(_)))))
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            })
        });
    let token: Arc<Mutex<Option<String>>> = Arc::default();
    let init_token = token.clone();
    let init_state = state.clone();
    let refused = Arc::new(AtomicBool::new(false));
    let init_refused = refused.clone();
    let gql = GqlWebSocket::new(state.schema.clone(), input, protocol).on_connection_init(
        move |payload| async move {
            let caller = async {
                let Some(t) = token_in(&payload).or(header_token) else {
                    return Err(async_graphql::Error::new(
                        "请先登录:connection_init 中须带访问令牌",
                    ));
                };
                let caller = init_state
                    .api
                    .caller(&t)
                    .await
                    .map_err(|e| async_graphql::Error::new(e.message))?;
                *init_token
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t);
                Ok(caller)
            }
            .await
            .inspect_err(|_| init_refused.store(true, Ordering::Relaxed))?;
            let mut data = Data::default();
            data.insert(caller);
            Ok(data)
        },
    );
    // No `keepalive_timeout`: it closes a connection whose client has said nothing for a
    // while, and the `graphql-ws` client library sends nothing by default between its
    // subscribe and its complete, so a quiet dashboard was cut off after two minutes
    // (found by the ten-minute soak). The server pings instead, at the WebSocket level:
    // browsers and clients answer without any code of theirs, and proxies see traffic.
    let mut gql = std::pin::pin!(gql);
    state.api.metrics.subscriber(1);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    let mut ping = tokio::time::interval(PING);
    ping.tick().await;
    loop {
        tokio::select! {
            message = gql.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let (code, reason) =
                        close_code(protocol, code, reason, refused.load(Ordering::Relaxed));
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                None => break,
            },
            _ = state.api.cancel.cancelled() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                break;
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = recheck.tick() => {
                let current = token.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                if current.is_none() && opened.elapsed() > INIT_TIMEOUT {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 4408, reason: "Connection initialisation timeout".into() }))).await;
                    break;
                }
                let silent = heard.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed();
                if silent > SILENCE_LIMIT {
                    // Gone without closing (a sleeping laptop, a dropped NAT entry).
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "no answer to pings".into() }))).await;
                    break;
                }
                if let Some(t) = current {
                    match auth::resolve(&state.api.store, &state.api.db, &t, state.api.now()).await {
                        Err(e) if e.code == "UNAUTHENTICATED" => {
                            let reason = e.detail.unwrap_or_else(|| "token no longer valid".into());
                            let _ = sink.send(Message::Close(Some(CloseFrame { code: 4401, reason: reason.into() }))).await;
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    state.api.metrics.subscriber(-1);
}
