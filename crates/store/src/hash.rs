//! Tamper evidence: every event's hash covers its canonical content and its predecessor's
//! hash, forming one chain over the global log.
//!
//! The hash is computed over a canonical form, not over the bytes a backend stores:
//! PostgreSQL `jsonb` reorders keys and drops whitespace, SQLite keeps text as written. The
//! canonical form is RFC 8785 (JCS): object keys sorted by their UTF-16 code units, no
//! insignificant whitespace, strings escaped as JSON, and every number written as
//! ECMAScript's `Number.prototype.toString` writes the IEEE 754 double it denotes
//! ([`write_number`]). That last rule matters because PostgreSQL's `jsonb` keeps numbers as
//! `numeric` and gives them back in its own spelling (`-0.0` as `0.0`, `1e16` as
//! `10000000000000000`, `1E30` as thirty-one digits): each spelling denotes the same double,
//! so each hashes the same. So a log exported from SQLite verifies identically after import
//! into PostgreSQL. Integers beyond ±(2^53 − 1), which a double cannot hold exactly, are
//! refused at append (see `limits`), so no two distinct stored integers share a hash.

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
        Value::Number(n) => write_number(n, out),
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

/// The largest integer a double holds exactly, and so the largest the log accepts.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JSON number as RFC 8785 writes it: the double it denotes, in ECMAScript's spelling.
/// Integers a double holds exactly are written as they are (the common case, no float
/// formatting on the hot path).
pub fn write_number(n: &serde_json::Number, out: &mut String) {
    use std::fmt::Write as _;
    if let Some(i) = n.as_u64().filter(|i| *i <= MAX_SAFE_INTEGER) {
        let _ = write!(out, "{i}");
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
        let _ = write!(out, "{i}");
    } else if let Some(x) = n.as_f64() {
        write_double(x, out);
    } else {
        out.push_str(&n.to_string());
    }
}

/// ECMAScript `Number::toString(x)` (ECMA-262 §6.1.6.1.20) for a finite double: the
/// shortest digits that round-trip, an exact tie going to the even digit (as Ryu, which
/// `serde_json` formats floats with, chooses them; Rust's own `{:e}` breaks ties upward),
/// laid out as plain digits when the decimal exponent is in -6..21 and in exponent form
/// (`1e+21`, `5e-324`) otherwise; `-0` is `0`.
pub fn write_double(x: f64, out: &mut String) {
    let Some(number) = serde_json::Number::from_f64(x).filter(|_| x != 0.0) else {
        // -0 is 0; JSON holds no NaN or infinity (serde_json never yields them).
        out.push('0');
        return;
    };
    if x < 0.0 {
        out.push('-');
    }
    // Ryu's spelling (`1e16`, `1.5e-7`, `0.001`, `123.0`) to digits and decimal point.
    let spelled = number.to_string();
    let spelled = spelled.trim_start_matches('-');
    let (mantissa, exponent) = spelled.split_once(['e', 'E']).unwrap_or((spelled, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut point = int.len() as i64 + exponent.parse::<i64>().unwrap_or(0);
    let all = format!("{int}{frac}");
    let trimmed = all.trim_start_matches('0');
    point -= (all.len() - trimmed.len()) as i64;
    let digits = trimmed.trim_end_matches('0');
    let k = digits.len() as i64;
    // x = 0.d1d2…dk × 10^n
    let n = point;
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        let e = n - 1;
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&e.unsigned_abs().to_string());
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

    /// RFC 8785 appendix B: IEEE 754 bit patterns and their canonical spelling.
    #[test]
    fn numbers_follow_rfc_8785_appendix_b() {
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, expected) in cases {
            let mut out = String::new();
            write_double(f64::from_bits(*bits), &mut out);
            assert_eq!(&out, expected, "bits {bits:016x}");
        }
    }

    /// RFC 8785 §3.2.2.3's example array, and the spellings PostgreSQL's jsonb gives back.
    #[test]
    fn number_spellings_of_one_double_hash_alike() {
        let parse = |s: &str| serde_json::from_str::<Value>(s).expect("json");
        assert_eq!(
            canonical(&parse(
                "[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]"
            )),
            "[333333333.3333333,1e+30,4.5,0.002,1e-27]"
        );
        for (written, read_back) in [
            ("-0.0", "0.0"),
            ("1e16", "10000000000000000"),
            ("1E30", "1000000000000000000000000000000"),
            ("4.50", "4.5"),
            ("1.0", "1"),
            ("2e-3", "0.002"),
        ] {
            assert_eq!(
                canonical(&parse(written)),
                canonical(&parse(read_back)),
                "{written} against {read_back}"
            );
        }
        assert_eq!(canonical(&parse("9007199254740991")), "9007199254740991");
        assert_eq!(canonical(&parse("-9007199254740991")), "-9007199254740991");
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
