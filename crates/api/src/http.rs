//! GraphQL over HTTP, as the GraphQL-over-HTTP specification says.
//!
//! - `POST /graphql` with `Content-Type: application/json`; anything else is `415`.
//! - The response's media type follows `Accept`: `application/graphql-response+json` when
//!   the client accepts it, else `application/json` (also when `Accept` is absent or
//!   `*/*`); a client that accepts neither gets `406`.
//! - A body that is not JSON, or JSON that is not a GraphQL request, is `400`.
//! - With `application/json`, every well-formed request is answered `200`, errors in the
//!   body. With `application/graphql-response+json`, a request that fails before
//!   execution (parse or validation errors) is `400` without `data`; once executed, `200`.
//! - `GET /graphql?query=…` runs queries only: a mutation by GET is `405` (`Allow: POST`).
//!   A browser's GET without a query gets GraphiQL; a WebSocket upgrade, subscriptions.
//! - A token that is unknown, expired or revoked is `401` (`WWW-Authenticate: Bearer`);
//!   no token at all reaches the schema, where everything but the public routes answers
//!   `UNAUTHENTICATED`. More than [`MAX_FAILED_ATTEMPTS`] bad tokens from one address in
//!   [`ATTEMPT_WINDOW`] are answered `429` until the window passes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_graphql::http::parse_query_string;
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError, Value};
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response as HttpResponse};

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::{AppState, REQUEST_TIMEOUT};

pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// Bad tokens tolerated per client address per window.
pub const MAX_FAILED_ATTEMPTS: u32 = 10;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);

/// Failed token attempts per client address.
#[derive(Default)]
pub struct AttemptGuard {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AttemptGuard {
    fn blocked(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&ip)
            .is_some_and(|(n, since)| *n >= MAX_FAILED_ATTEMPTS && since.elapsed() < ATTEMPT_WINDOW)
    }

    fn failed(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < ATTEMPT_WINDOW);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= ATTEMPT_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// Which media type the client wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    GraphqlResponse,
    Json,
}

fn wanted(headers: &HeaderMap) -> Option<Wanted> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return Some(Wanted::Json);
    };
    let types: Vec<String> = accept
        .split(',')
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    if types.iter().any(|t| t == GRAPHQL_RESPONSE) {
        Some(Wanted::GraphqlResponse)
    } else if types
        .iter()
        .any(|t| t == JSON || t == "*/*" || t == "application/*" || t.is_empty())
    {
        Some(Wanted::Json)
    } else {
        None
    }
}

fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn error_body(wanted: Wanted, status: StatusCode, e: ApiError) -> HttpResponse {
    let mut err = ServerError::new(e.message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", e.code);
    if let Some(d) = e.detail {
        ext.set("detail", d);
    }
    err.extensions = Some(ext);
    let body = serde_json::json!({ "errors": [err] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match wanted {
            Wanted::GraphqlResponse => GRAPHQL_RESPONSE,
            Wanted::Json => JSON,
        }),
    );
    response
}

/// The caller of an HTTP request: `Ok(None)` without a token.
async fn authenticate(
    state: &AppState,
    parts: &Parts,
) -> Result<Option<Caller>, (StatusCode, ApiError)> {
    let ip = client_ip(parts);
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    if state.guard.blocked(ip) {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            ApiError::new("TOO_MANY_ATTEMPTS", "令牌错误次数过多,请一分钟后再试"),
        ));
    }
    let token = value.to_str().ok().and_then(auth::bearer);
    let Some(token) = token else {
        state.guard.failed(ip);
        return Err((
            StatusCode::UNAUTHORIZED,
            ApiError::new("UNAUTHENTICATED", "Authorization 头格式应为 Bearer <令牌>"),
        ));
    };
    match state.api.caller(token).await {
        Ok(caller) => Ok(Some(caller)),
        Err(e) if e.code == "UNAUTHENTICATED" => {
            state.guard.failed(ip);
            Err((StatusCode::UNAUTHORIZED, e))
        }
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, e)),
    }
}

/// Give every error a code: the schema's own errors (parse, validation, argument coercion)
/// get `GRAPHQL_VALIDATION_FAILED`, a resolver's error without one `INVALID_INPUT`.
fn with_codes(mut response: Response) -> Response {
    for e in &mut response.errors {
        let has_code = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if !has_code {
            let code = if e.path.is_empty() {
                "GRAPHQL_VALIDATION_FAILED"
            } else {
                "INVALID_INPUT"
            };
            e.extensions
                .get_or_insert_with(ErrorExtensionValues::default)
                .set("code", code);
        }
    }
    response
}

/// Whether the response is a request error: it failed before execution.
fn request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

async fn execute(
    state: &AppState,
    caller: Option<Caller>,
    request: Request,
    wanted: Wanted,
) -> HttpResponse {
    let operation = request.operation_name.clone();
    let started = Instant::now();
    let request = match caller {
        Some(c) => request.data(c),
        None => request,
    };
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, state.schema.execute(request)).await
    {
        Ok(r) => with_codes(r),
        Err(_) => {
            return error_body(
                wanted,
                StatusCode::SERVICE_UNAVAILABLE,
                ApiError::new("UNAVAILABLE", "请求超时,请稍后重试"),
            );
        }
    };
    state.api.metrics.request(
        operation.as_deref(),
        response.errors.is_empty(),
        started.elapsed(),
    );
    let (status, body) = if wanted == Wanted::GraphqlResponse && request_error(&response) {
        (
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "errors": response.errors }).to_string(),
        )
    } else {
        (
            StatusCode::OK,
            serde_json::to_string(&response).unwrap_or_else(|_| "{}".into()),
        )
    };
    let mut http = (status, body).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match wanted {
            Wanted::GraphqlResponse => GRAPHQL_RESPONSE,
            Wanted::Json => JSON,
        }),
    );
    http
}

/// `POST /graphql`.
pub async fn graphql_post(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> HttpResponse {
    let (parts, body) = request.into_parts();
    let Some(wanted) = wanted(&parts.headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            format!("accept {GRAPHQL_RESPONSE} or {JSON}"),
        )
            .into_response();
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if content_type.as_deref() != Some(JSON) {
        return error_body(
            wanted,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::invalid("请求体须为 JSON(Content-Type: application/json)"),
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, crate::MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_body(
                wanted,
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::invalid("请求体过大(最多1 MiB)"),
            );
        }
    };
    let request: Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(_) => {
            return error_body(
                wanted,
                StatusCode::BAD_REQUEST,
                ApiError::invalid("请求体不是有效的 GraphQL 请求(JSON 中须有 query 字符串)"),
            );
        }
    };
    let caller = match authenticate(&state, &parts).await {
        Ok(c) => c,
        Err((status, e)) => return unauthorized(wanted, status, e),
    };
    execute(&state, caller, request, wanted).await
}

fn unauthorized(wanted: Wanted, status: StatusCode, e: ApiError) -> HttpResponse {
    let mut response = error_body(wanted, status, e);
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// `GET /graphql`: WebSocket, GraphiQL, or a query in the URL.
pub async fn graphql_get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: axum::extract::Request,
) -> HttpResponse {
    let (mut parts, _) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => crate::ws::upgrade(state, upgrade, &parts.headers),
            Err(rejection) => rejection.into_response(),
        };
    }
    let query = query.unwrap_or_default();
    let html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if query.is_empty() && html {
        return graphiql().into_response();
    }
    let Some(wanted) = wanted(&parts.headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            format!("accept {GRAPHQL_RESPONSE} or {JSON}"),
        )
            .into_response();
    };
    let request = match parse_query_string(&query) {
        Ok(r) => r,
        Err(_) => {
            return error_body(
                wanted,
                StatusCode::BAD_REQUEST,
                ApiError::invalid("URL 中须有 query 参数(GraphQL 查询)"),
            );
        }
    };
    if is_mutation(&request) {
        let mut response = error_body(
            wanted,
            StatusCode::METHOD_NOT_ALLOWED,
            ApiError::invalid("修改操作须用 POST 提交")
                .detail("mutations are not allowed over GET"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let caller = match authenticate(&state, &parts).await {
        Ok(c) => c,
        Err((status, e)) => return unauthorized(wanted, status, e),
    };
    execute(&state, caller, request, wanted).await
}

/// Whether the operation a GET request would run is a mutation or a subscription.
fn is_mutation(request: &Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false; // the schema reports the syntax error
    };
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let ops: Vec<OperationType> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op.node.ty],
        DocumentOperations::Multiple(map) => match &request.operation_name {
            Some(name) => map
                .get(name.as_str())
                .map(|op| vec![op.node.ty])
                .unwrap_or_default(),
            None => map.values().map(|op| op.node.ty).collect(),
        },
    };
    ops.iter().any(|t| *t != OperationType::Query)
}

const GRAPHIQL_HTML: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>兴村 GraphQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.min.css">
<style>body{margin:0;height:100vh}#graphiql{height:100vh}</style>
</head>
<body>
<div id="graphiql">正在加载 GraphiQL…</div>
<script src="/graphiql/react.production.min.js"></script>
<script src="/graphiql/react-dom.production.min.js"></script>
<script src="/graphiql/graphiql.min.js"></script>
<script>
  const url = new URL('/graphql', location.href);
  const ws = url.href.replace(/^http/, 'ws');
  const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: ws });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultHeaders: '{\n  "Authorization": "Bearer 在此填入令牌"\n}',
      defaultQuery: '# 兴村 GraphQL。先在下方 Headers 填入令牌(xingcun token create),再运行:\n{\n  me { name roleTitle scope scopeName }\n}\n',
    }),
  );
</script>
</body>
</html>
"#;

fn graphiql() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        GRAPHIQL_HTML,
    )
}

/// GraphiQL's files, from the binary (gzipped, see `crates/api/assets/graphiql`).
pub async fn graphiql_asset(Path(asset): Path<String>) -> HttpResponse {
    let (bytes, content_type): (&'static [u8], &str) = match asset.as_str() {
        "graphiql.min.js" => (
            include_bytes!("../assets/graphiql/graphiql.min.js.gz"),
            "text/javascript",
        ),
        "graphiql.min.css" => (
            include_bytes!("../assets/graphiql/graphiql.min.css.gz"),
            "text/css",
        ),
        "react.production.min.js" => (
            include_bytes!("../assets/graphiql/react.production.min.js.gz"),
            "text/javascript",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../assets/graphiql/react-dom.production.min.js.gz"),
            "text/javascript",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_ENCODING, "gzip"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        Body::from(bytes),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn content_negotiation() {
        assert_eq!(wanted(&HeaderMap::new()), Some(Wanted::Json));
        assert_eq!(wanted(&accept("*/*")), Some(Wanted::Json));
        assert_eq!(
            wanted(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Wanted::GraphqlResponse)
        );
        assert_eq!(wanted(&accept("application/json")), Some(Wanted::Json));
        assert_eq!(wanted(&accept("text/xml")), None);
    }

    #[test]
    fn mutations_are_recognised_in_get_requests() {
        assert!(is_mutation(&Request::new("mutation { x }")));
        assert!(is_mutation(&Request::new("subscription { x }")));
        assert!(!is_mutation(&Request::new("{ me { name } }")));
        assert!(is_mutation(
            &Request::new("query A { me { name } } mutation B { x }").operation_name("B")
        ));
        assert!(!is_mutation(
            &Request::new("query A { me { name } } mutation B { x }").operation_name("A")
        ));
    }
}
