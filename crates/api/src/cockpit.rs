//! The web cockpit (驾驶舱): the page `xingcun serve` answers at `/`, a client of the
//! server's own GraphQL API.
//!
//! - `GET /`: the page (`web/index.html`).
//! - `GET /app/{asset}`: its ES modules and style sheet (`web/*.js`, `web/style.css`),
//!   compiled into the binary, and Apache ECharts (gzipped, `crates/api/assets/echarts`).
//! - `GET /demo-tokens`: under `serve --demo` only, the demo's tokens, so the sign-in page
//!   can offer them; an empty list on a real server.
//!
//! Everything is served from the binary: no CDN, no external font or script (a government
//! intranet has none). The page's `Content-Security-Policy` says so to the browser too:
//! scripts, styles, images and connections from this origin only.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;

/// A token printed by `serve --demo`, offered on the sign-in page.
#[derive(Debug, Clone, Serialize)]
pub struct DemoToken {
    /// The role in Chinese (村社书记 …).
    pub title: String,
    pub name: String,
    pub person: String,
    pub scope: String,
    pub token: String,
}

/// Scripts, styles, fonts, images and connections from this origin only (ECharts sets
/// inline styles on what it draws, hence `'unsafe-inline'` for styles alone).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /`.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("../../../web/index.html"),
    )
        .into_response()
}

/// The page's own files, by name.
fn web_file(name: &str) -> Option<(&'static str, &'static str)> {
    const JS: &str = "text/javascript; charset=utf-8";
    Some(match name {
        "app.js" => (include_str!("../../../web/app.js"), JS),
        "graphql.js" => (include_str!("../../../web/graphql.js"), JS),
        "operations.js" => (include_str!("../../../web/operations.js"), JS),
        "ui.js" => (include_str!("../../../web/ui.js"), JS),
        "sign-in.js" => (include_str!("../../../web/sign-in.js"), JS),
        "town-cockpit.js" => (include_str!("../../../web/town-cockpit.js"), JS),
        "village-board.js" => (include_str!("../../../web/village-board.js"), JS),
        "audit.js" => (include_str!("../../../web/audit.js"), JS),
        "style.css" => (
            include_str!("../../../web/style.css"),
            "text/css; charset=utf-8",
        ),
        _ => return None,
    })
}

/// `GET /app/{asset}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    if name == "echarts.min.js" {
        return (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CONTENT_ENCODING, "gzip"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            Body::from(include_bytes!("../assets/echarts/echarts.min.js.gz").as_slice()),
        )
            .into_response();
    }
    match web_file(&name) {
        Some((text, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            text,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /demo-tokens`: the demo's tokens under `serve --demo`, else an empty list (not a
/// `404`, which a browser would log as an error on every sign-in page).
pub async fn demo_tokens(State(state): State<AppState>) -> Response {
    let tokens = state.demo_tokens.as_deref().cloned().unwrap_or_default();
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(tokens)).into_response()
}

/// The GraphQL operations of the page (`web/operations.js`): every template literal, by
/// its export name. For the test that validates them against the schema.
pub fn operations() -> Vec<(String, String)> {
    let source = include_str!("../../../web/operations.js");
    let mut out = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("export const ") else {
            continue;
        };
        let Some((name, first)) = rest.split_once(" = `") else {
            continue;
        };
        let mut body = String::from(first);
        while !body.contains('`') {
            let Some(next) = lines.next() else { break };
            body.push('\n');
            body.push_str(next);
        }
        let end = body.find('`').unwrap_or(body.len());
        out.push((name.to_owned(), body[..end].to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use async_graphql::{Request, Variables};

    #[test]
    fn every_file_the_page_loads_is_served() {
        let index = include_str!("../../../web/index.html");
        assert!(!index.contains("http://") && !index.contains("https://"));
        for name in ["app.js", "style.css"] {
            assert!(index.contains(&format!("/app/{name}")), "{name}");
            assert!(web_file(name).is_some(), "{name}");
        }
        // Every module an ES module imports is one the server has.
        for (_, (text, _)) in [
            "app.js",
            "graphql.js",
            "ui.js",
            "sign-in.js",
            "town-cockpit.js",
            "village-board.js",
            "audit.js",
        ]
        .iter()
        .map(|n| (n, web_file(n).expect("served")))
        {
            for import in text.split(" from './").skip(1) {
                let file = import.split('\'').next().unwrap_or_default();
                assert!(
                    web_file(file).is_some(),
                    "imports {file}, which is not served"
                );
            }
            assert!(!text.contains("https://") && !text.contains("http://"));
        }
    }

    /// Every operation of `web/operations.js` parses and validates against the schema:
    /// executed without a caller, the only errors are the resolvers' `UNAUTHENTICATED`
    /// (which come after validation), never a validation failure.
    #[tokio::test]
    async fn every_operation_of_the_page_validates_against_the_schema() {
        let schema = crate::schema_builder().finish();
        let ops = operations();
        assert!(ops.len() >= 20, "found {} operations", ops.len());
        for (name, query) in ops {
            assert!(
                !query.contains("${"),
                "{name}: no interpolation in operations"
            );
            let doc = parse_query(&query).unwrap_or_else(|e| panic!("{name}: {e}"));
            let vars = dummy_variables(&doc, &schema);
            let request = Request::new(query.clone()).variables(vars);
            let response = if query.trim_start().starts_with("subscription") {
                use futures_util::StreamExt;
                schema
                    .execute_stream(request)
                    .next()
                    .await
                    .unwrap_or_else(|| panic!("{name}: the subscription answers"))
            } else {
                schema.execute(request).await
            };
            for e in &response.errors {
                assert!(
                    !e.path.is_empty(),
                    "{name} does not validate against the schema: {}",
                    e.message
                );
            }
            assert!(
                !response.errors.is_empty(),
                "{name}: an anonymous request should reach a resolver and be refused"
            );
        }
    }

    /// A value of each declared variable's type, so that validation sees a complete
    /// request: strings, numbers, booleans, enums (the schema's first value), lists empty.
    fn dummy_variables(
        doc: &async_graphql::parser::types::ExecutableDocument,
        schema: &crate::ApiSchema,
    ) -> Variables {
        use async_graphql::parser::types::{BaseType, DocumentOperations};
        let sdl = schema.sdl();
        let mut vars = serde_json::Map::new();
        let ops: Vec<_> = match &doc.operations {
            DocumentOperations::Single(op) => vec![op],
            DocumentOperations::Multiple(map) => map.values().collect(),
        };
        for op in ops {
            for var in &op.node.variable_definitions {
                let ty = &var.node.var_type.node;
                let value = match &ty.base {
                    BaseType::List(_) => serde_json::json!([]),
                    BaseType::Named(n) => match n.as_str() {
                        "String" | "ID" => serde_json::json!("330624004202"),
                        "Int" => serde_json::json!(1),
                        "Float" => serde_json::json!(1.0),
                        "Boolean" => serde_json::json!(true),
                        other => {
                            let first =
                                sdl.split(&format!("enum {other} {{"))
                                    .nth(1)
                                    .and_then(|body| {
                                        body.lines()
                                            .map(str::trim)
                                            .find(|l| {
                                                !l.is_empty()
                                                    && l.chars()
                                                        .all(|c| c.is_ascii_uppercase() || c == '_')
                                            })
                                            .map(str::to_owned)
                                    });
                            match first {
                                Some(v) => serde_json::json!(v),
                                None => panic!("no dummy for variable type {other}"),
                            }
                        }
                    },
                };
                vars.insert(var.node.name.node.to_string(), value);
            }
        }
        Variables::from_json(serde_json::Value::Object(vars))
    }
}
