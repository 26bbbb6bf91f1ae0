//! Tamper evidence: every event's hash covers its canonical content and its predecessor's
//! hash, forming one chain over the global log.
//!
//! The hash is computed over a canonical form, not over the bytes a backend stores:
//! PostgreSQL `jsonb` reorders keys and drops whitespace, SQLite keeps text as written. The
//! canonical form is RFC 8785 (JCS) style: object keys sorted by their UTF-16 code units,
//! no insignificant whitespace, strings escaped as JSON, numbers in serde_json's shortest
//! round-trip form (identical to JCS for the integers and strings our events carry). So a log
//! exported from SQLite verifies identically after import into PostgreSQL.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::EventMetadata;

/// The predecessor hash of the first event in the log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Append the canonical JSON form of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json escapes exactly what JSON requires ('"', '\\', control characters).
    out.push_str(&Value::String(s.to_owned()).to_string());
}

/// The canonical form of a whole value.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// Timestamps are recorded, stored and hashed at microsecond precision (PostgreSQL's).
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(t)
}

/// RFC 3339 with microseconds and `Z`, as hashed and as stored on SQLite.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The content of one event that the chain covers.
///
/// The global position is deliberately not hashed: order is what the chain itself proves
/// (each event names its predecessor's hash), and positions are checked for contiguity by
/// `verify`. That lets `verify` tell an inserted event from an altered one.
pub struct HashInput<'a> {
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub payload: &'a Value,
    pub metadata: &'a EventMetadata,
    pub recorded_at: &'a DateTime<Utc>,
}

/// `sha256(prev_hash || '\n' || canonical(content))`, lowercase hex.
pub fn chain_hash(prev_hash: &str, input: &HashInput<'_>) -> String {
    let metadata = serde_json::to_value(input.metadata).unwrap_or(Value::Null);
    let mut text = String::with_capacity(256);
    text.push_str(prev_hash);
    text.push('\n');
    text.push_str("{\"event_id\":\"");
    text.push_str(&input.event_id.to_string());
    text.push_str("\",\"event_type\":");
    write_string(input.event_type, &mut text);
    text.push_str(",\"metadata\":");
    write_canonical(&metadata, &mut text);
    text.push_str(",\"payload\":");
    write_canonical(input.payload, &mut text);
    text.push_str(",\"recorded_at\":\"");
    text.push_str(&format_time(input.recorded_at));
    text.push_str("\",\"schema_version\":");
    text.push_str(&input.schema_version.to_string());
    text.push_str(",\"stream_id\":");
    write_string(input.stream_id, &mut text);
    text.push_str(",\"stream_version\":");
    text.push_str(&input.stream_version.to_string());
    text.push('}');
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_ignores_key_order_and_whitespace() {
        let a: Value = serde_json::from_str(r#"{ "b": [1, {"y": "两", "x": null}], "a": true }"#)
            .expect("json");
        let b: Value =
            serde_json::from_str(r#"{"a":true,"b":[1,{"x":null,"y":"两"}]}"#).expect("json");
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"a":true,"b":[1,{"x":null,"y":"两"}]}"#);
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 (surrogates D83D..) sorts before U+FF61 in UTF-16, after it in UTF-8.
        let v = json!({"\u{ff61}": 1, "\u{1f600}": 2});
        assert_eq!(canonical(&v), "{\"\u{1f600}\":2,\"\u{ff61}\":1}");
    }

    #[test]
    fn hash_changes_with_any_field_and_with_the_predecessor() {
        let payload = json!({"title": "清理垃圾"});
        let meta = EventMetadata {
            actor: "a".into(),
            ..Default::default()
        };
        let at = truncate_to_micros(Utc::now());
        let input = |version, payload| HashInput {
            stream_id: "task-1",
            stream_version: version,
            event_id: Uuid::nil(),
            event_type: "TaskDrafted",
            schema_version: 1,
            payload,
            metadata: &meta,
            recorded_at: &at,
        };
        let h = chain_hash(GENESIS_HASH, &input(1, &payload));
        assert_eq!(h.len(), 64);
        assert_ne!(h, chain_hash(GENESIS_HASH, &input(2, &payload)));
        assert_ne!(h, chain_hash(&h, &input(1, &payload)));
        assert_ne!(
            h,
            chain_hash(GENESIS_HASH, &input(1, &json!({"title": "清理垃圾 "})))
        );
    }
}
