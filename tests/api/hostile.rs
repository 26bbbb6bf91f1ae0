//! Hostile input to every mutation argument and to WebSocket frames (RELIABILITY.md):
//! generated from the schema, so a new mutation is covered without being named here.
//! Run with `cargo test --test api hostile::`.

use super::*;
use crate::faults::try_call;

/// Values no form would send, by the argument's scalar type.
fn hostile_values(scalar: &str) -> Vec<Value> {
    match scalar {
        "Int" => vec![json!(i32::MAX), json!(i32::MIN), json!(0), json!(-1)],
        "Float" => vec![json!(f64::MAX), json!(-0.0)],
        "Boolean" => vec![],
        "JSON" => {
            let mut deep = json!(1);
            for _ in 0..200 {
                deep = json!([deep]);
            }
            vec![
                deep,
                json!({ "templates": "村".repeat(50_000) }),
                json!("'; drop table events; --"),
            ]
        }
        _ => vec![
            json!("村".repeat(100_000)),
            json!("\u{0}"),
            json!("'; drop table events; --"),
            json!("\u{202e}\u{FFFF}😀"),
            json!(""),
            json!("../../../../etc/passwd"),
            json!("330624004202\u{0}"),
        ],
    }
}

/// The named scalar under NON_NULL and LIST wrappers, and whether it is a list.
fn scalar_of(t: &Value) -> (String, bool) {
    match t["kind"].as_str() {
        Some("NON_NULL") => scalar_of(&t["ofType"]),
        Some("LIST") => (scalar_of(&t["ofType"]).0, true),
        _ => (t["name"].as_str().unwrap_or_default().to_owned(), false),
    }
}

fn leaks(text: &str) -> bool {
    [
        "sqlx",
        "/src/",
        "SQL",
        "panicked",
        "stack backtrace",
        "constraint",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// Every argument of every mutation, one at a time, given each hostile value of its type
/// by the city's administrator (so scope lets it through to the deepest checks): each
/// answer is a clear refusal with a code (never `INTERNAL`, never a hang or a crash, never
/// a SQL message or a source path) or, where the value is merely odd text, an ordinary
/// success. Then the server is still up and the chain still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_argument_survives_hostile_values() {
    let db = fresh_sqlite();
    simulate(&db);
    let server = start(db.url());
    let port = server.port;
    let admin = token(db.url(), "system");
    let anonymous = Client { port, token: None };
    let schema = anonymous.call(
        &format!(
            "{{ __schema {{ mutationType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} }} }} \
             types {{ name kind enumValues {{ name }} inputFields {{ name type {{ {TYPE_REF} }} }} }} }} }}"
        ),
        json!({}),
    );
    let types = schema["data"]["__schema"]["types"].clone();
    let (mut sent, mut refused, mut accepted) = (0, 0, 0);
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for field in schema["data"]["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("fields")
    {
        let name = field["name"].as_str().expect("name");
        let args: Vec<&Value> = field["args"].as_array().into_iter().flatten().collect();
        let params: Vec<String> = args
            .iter()
            .map(|a| {
                format!(
                    "${}: {}",
                    a["name"].as_str().unwrap_or_default(),
                    type_of(&a["type"]).0
                )
            })
            .collect();
        let call: Vec<String> = args
            .iter()
            .map(|a| {
                let n = a["name"].as_str().unwrap_or_default();
                format!("{n}: ${n}")
            })
            .collect();
        let op = format!(
            "mutation({}) {{ {name}({}) {{ __typename }} }}",
            params.join(", "),
            call.join(", ")
        );
        let base: serde_json::Map<String, Value> = args
            .iter()
            .map(|a| {
                let n = a["name"].as_str().unwrap_or_default();
                (n.to_owned(), value_for(n, &a["type"], &types))
            })
            .collect();
        for arg in &args {
            let arg_name = arg["name"].as_str().unwrap_or_default();
            let (scalar, list) = scalar_of(&arg["type"]);
            for value in hostile_values(&scalar) {
                let mut variables = base.clone();
                variables.insert(
                    arg_name.to_owned(),
                    if list { json!([value]) } else { value },
                );
                let answer = try_call(port, &admin, &op, &Value::Object(variables))
                    .unwrap_or_else(|| panic!("{name}({arg_name}): no answer"));
                sent += 1;
                let text = answer.to_string();
                assert!(!leaks(&text), "{name}({arg_name}) leaks: {text:.400}");
                if let Some(code) = answer["errors"][0]["extensions"]["code"].as_str() {
                    refused += 1;
                    *codes.entry(code.to_owned()).or_default() += 1;
                    assert!(
                        !matches!(code, "INTERNAL" | "UNAVAILABLE"),
                        "{name}({arg_name}): {text:.400}"
                    );
                } else {
                    assert!(
                        !answer["data"][name].is_null(),
                        "{name}({arg_name}): neither data nor a code: {text:.400}"
                    );
                    accepted += 1;
                }
            }
        }
    }
    eprintln!("hostile: {sent} mutations sent, {refused} refused {codes:?}, {accepted} accepted");
    assert!(sent > 500, "only {sent} hostile calls");
    Client {
        port,
        token: Some(admin),
    }
    .ok("{ me { name } }", json!({}));
    let verify = xingcun(&["--database-url", db.url(), "verify"]);
    assert!(verify.status.success());
}

/// Garbage on a WebSocket: each connection is closed (or the message refused) and the
/// server goes on serving.
#[tokio::test]
async fn hostile_websocket_frames_close_the_connection_not_the_server() {
    let db = fresh_sqlite();
    simulate(&db);
    let secretaries = people(db.url(), "village_secretary", CHENGTAN).await;
    let token = token(db.url(), &secretaries[0].person);
    let server = start(db.url());
    let port = server.port;
    let frames: Vec<Message> = vec![
        Message::text("{\"type\": "),
        Message::text("[1,2,3]"),
        Message::text(json!({"type": "subscribe", "id": 7, "payload": {}}).to_string()),
        Message::text(
            json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription { events(region: \"'; drop table events; --\") { position } }"}})
                .to_string(),
        ),
        Message::text(json!({"type": "no-such-type"}).to_string()),
        Message::binary(vec![0xff, 0xfe, 0x00, 0x01]),
        Message::text("村".repeat(1_000_000)),
    ];
    for (i, frame) in frames.into_iter().enumerate() {
        let mut ws = connect_ws(port, &token).await;
        let _ = ws.next().await; // connection_ack
        let _ = ws.send(frame).await;
        // Whatever comes back (an error message, a close), the connection does not hang
        // the server; read until it closes or goes quiet.
        let closed = close_of(&mut ws, Duration::from_secs(3), |t| {
            assert!(!leaks(t), "{t:.300}");
        })
        .await;
        // Not a protocol message at all: 4400 (Bad request), as graphql-transport-ws says.
        if i < 2 {
            assert_eq!(closed, Some(4400), "frame {i}");
        }
    }
    // A connection_init with a token that is no token: 4403 (Forbidden).
    assert_eq!(
        closed_with(port, "xc_0000", Duration::from_secs(5)).await,
        Some(4403)
    );
    // Before connection_init: the protocol says close with 4401.
    let mut ws = open_ws(port).await;
    ws.send(Message::text(
        json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription { events(region: \"330624004000\") { position } }"}}).to_string(),
    ))
    .await
    .expect("send");
    let closed = close_of(&mut ws, Duration::from_secs(5), |_| {}).await;
    assert_eq!(closed, Some(4401), "subscribe before connection_init");
    // A socket opened and left without connection_init: closed with 4408, so nobody holds
    // sockets open without a token.
    let mut idle = open_ws(port).await;
    assert_eq!(
        close_of(&mut idle, Duration::from_secs(30), |_| {}).await,
        Some(4408),
        "no connection_init"
    );
    Client {
        port,
        token: Some(token),
    }
    .ok("{ me { name } }", json!({}));
}
