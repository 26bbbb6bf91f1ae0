//! What the log refuses, and why. Checked before an append reaches the writer (so before
//! the log lock is taken) and, line by line, before an import writes anything: the same
//! rules on both backends, so whatever one backend stores the other can store too.
//!
//! | what | limit | why |
//! |---|---|---|
//! | event type | 1..=100 characters of `[A-Za-z][A-Za-z0-9_.]*` | names in code (`TaskDispatched`); no newline, no bidirectional control, nothing a log line or a terminal could be fooled by |
//! | schema version | at least 1 | versions count from 1 |
//! | payload nesting | at most [`MAX_DEPTH`] levels of arrays and objects | readers decode with a bounded recursion depth; one deeper event would stop every reader of the log |
//! | payload size | at most [`MAX_PAYLOAD_BYTES`] as canonical JSON | an event is a fact, not a file: documents are referenced by hash |
//! | one append | at most [`MAX_APPEND_EVENTS`] events and [`MAX_APPEND_BYTES`] of payload | bounds how long one append holds the log lock |
//! | integers | exactly one IEEE double: all within ±(2^53 − 1), beyond only those a double holds (10^16 yes, 10^16 + 1 no) | RFC 8785 hashes every number as a double; another integer would lose digits, and two different values would share a hash |
//! | NUL (U+0000) | nowhere: payload strings and keys, event type, actor, regions | PostgreSQL cannot store it; a log must move between backends unchanged |
//! | actor | 1..=128 characters, no control characters | a person id or `system` |
//! | regions | at most [`MAX_REGIONS`], each 1..=32 characters of `[A-Za-z0-9_.:-]` | region codes (`330624004202`) |
//!
//! Non-finite numbers cannot occur: JSON has none and `serde_json` never yields them.

use serde_json::Value;

use crate::error::StoreError;
use crate::hash;
use crate::model::EventMetadata;

/// Deepest nesting of arrays and objects in a payload (the payload itself is level 1).
pub const MAX_DEPTH: usize = 32;
/// Largest payload, in bytes of its canonical JSON.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Most events in one append.
pub const MAX_APPEND_EVENTS: usize = 10_000;
/// Most payload bytes (canonical JSON) in one append.
pub const MAX_APPEND_BYTES: usize = 16 * 1024 * 1024;
/// Longest event type name.
pub const MAX_EVENT_TYPE_LEN: usize = 100;
/// Longest actor id.
pub const MAX_ACTOR_LEN: usize = 128;
/// Most regions one event may name.
pub const MAX_REGIONS: usize = 4_096;
/// Longest region code.
pub const MAX_REGION_LEN: usize = 32;

fn invalid(reason: String) -> StoreError {
    StoreError::InvalidInput(reason)
}

/// Check an event type against the documented alphabet.
pub fn check_event_type(event_type: &str) -> Result<(), StoreError> {
    let mut chars = event_type.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !well_formed || event_type.len() > MAX_EVENT_TYPE_LEN {
        return Err(invalid(format!(
            "invalid event type {:?}: 1 to {MAX_EVENT_TYPE_LEN} characters of [A-Za-z][A-Za-z0-9_.]*",
            event_type
                .chars()
                .take(MAX_EVENT_TYPE_LEN + 1)
                .collect::<String>()
        )));
    }
    Ok(())
}

/// Check one event (type, schema version, payload); returns the payload's canonical size.
pub fn check_event(
    event_type: &str,
    schema_version: u32,
    payload: &Value,
) -> Result<usize, StoreError> {
    check_event_type(event_type)?;
    if schema_version == 0 {
        return Err(invalid(format!(
            "event {event_type}: schema versions start at 1"
        )));
    }
    check_payload(payload).map_err(|why| invalid(format!("event {event_type}: {why}")))
}

/// Walk a payload without recursion: depth, NULs, integer range, canonical size.
pub fn check_payload(payload: &Value) -> Result<usize, String> {
    let mut size = 0usize;
    let mut stack: Vec<(&Value, usize)> = vec![(payload, 1)];
    let mut scratch = String::new();
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Null => size += 4,
            Value::Bool(b) => size += if *b { 4 } else { 5 },
            Value::Number(n) => {
                if !double_holds(n) {
                    return Err(format!(
                        "the integer {n} has more digits than a double holds, and the log hashes numbers as doubles"
                    ));
                }
                scratch.clear();
                hash::write_number(n, &mut scratch);
                size += scratch.len();
            }
            Value::String(s) => size += string_size(s)?,
            Value::Array(items) => {
                if depth > MAX_DEPTH {
                    return Err(format!("payload nested deeper than {MAX_DEPTH} levels"));
                }
                size += 2 + items.len().saturating_sub(1);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Object(map) => {
                if depth > MAX_DEPTH {
                    return Err(format!("payload nested deeper than {MAX_DEPTH} levels"));
                }
                size += 2 + map.len().saturating_sub(1);
                for (key, item) in map {
                    size += string_size(key)? + 1;
                    stack.push((item, depth + 1));
                }
            }
        }
        if size > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "payload larger than {MAX_PAYLOAD_BYTES} bytes of canonical JSON"
            ));
        }
    }
    Ok(size)
}

/// Whether a number is one IEEE double exactly: every float is; an integer is when it
/// lies within ±(2^53 − 1), or beyond when it happens to be a double (10^16 is, 10^16 + 1
/// is not). So PostgreSQL's spelling of an accepted float (`1e16` read back as
/// `10000000000000000`) is accepted again on import, and no two accepted integers share
/// a hash.
fn double_holds(n: &serde_json::Number) -> bool {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if let Some(i) = n.as_u64() {
        let f = i as f64;
        i <= hash::MAX_SAFE_INTEGER || (f < TWO_64 && f as u64 == i)
    } else if let Some(i) = n.as_i64() {
        let f = i as f64;
        i.unsigned_abs() <= hash::MAX_SAFE_INTEGER
            || ((-TWO_63..TWO_63).contains(&f) && f as i64 == i)
    } else {
        true
    }
}

/// Bytes of a string in canonical JSON (quotes and escapes included); refuses NUL.
fn string_size(s: &str) -> Result<usize, String> {
    let mut size = 2;
    for c in s.chars() {
        size += match c {
            '\0' => return Err("a string holds a NUL character (U+0000)".into()),
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
    }
    Ok(size)
}

/// Check the metadata stored with every event of an append.
pub fn check_metadata(metadata: &EventMetadata) -> Result<(), StoreError> {
    let actor = &metadata.actor;
    if actor.is_empty()
        || actor.chars().count() > MAX_ACTOR_LEN
        || actor.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "invalid actor {:?}: 1 to {MAX_ACTOR_LEN} characters, no control characters",
            actor.chars().take(MAX_ACTOR_LEN + 1).collect::<String>()
        )));
    }
    if metadata.regions.len() > MAX_REGIONS {
        return Err(invalid(format!(
            "an event may name at most {MAX_REGIONS} regions"
        )));
    }
    for region in &metadata.regions {
        let ok = !region.is_empty()
            && region.len() <= MAX_REGION_LEN
            && region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
        if !ok {
            return Err(invalid(format!(
                "invalid region {:?}: 1 to {MAX_REGION_LEN} characters of [A-Za-z0-9_.:-]",
                region.chars().take(MAX_REGION_LEN + 1).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// Drop a value without recursion: a refused payload may be nested far deeper than the
/// stack allows `serde_json`'s recursive drop to go.
pub fn dismantle(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn canonical_size_is_exact() {
        let v = json!({"b": [1, 2.5, "x\"\n\u{1}"], "a": null, "中": true});
        assert_eq!(check_payload(&v), Ok(hash::canonical(&v).len()));
    }

    #[test]
    fn depth_limit_is_exact() {
        // `nested(n)` is n arrays around a number: depth n.
        assert!(check_payload(&nested(MAX_DEPTH)).is_ok());
        assert!(check_payload(&nested(MAX_DEPTH + 1)).is_err());
        let deep = nested(100_000);
        assert!(check_payload(&deep).is_err());
        dismantle(deep);
    }

    #[test]
    fn integers_beyond_the_double_range_are_refused() {
        assert!(check_payload(&json!(9_007_199_254_740_991_u64)).is_ok());
        assert!(check_payload(&json!(-9_007_199_254_740_991_i64)).is_ok());
        assert!(check_payload(&json!(9_007_199_254_740_993_u64)).is_err());
        assert!(check_payload(&json!(-9_007_199_254_740_993_i64)).is_err());
        assert!(check_payload(&json!(u64::MAX)).is_err());
        assert!(check_payload(&json!(i64::MIN + 1)).is_err());
        // Beyond 2^53, what a double holds exactly is accepted: PostgreSQL spells an
        // accepted `1e16` that way, and an import must take it back.
        assert!(check_payload(&json!(9_007_199_254_740_992_u64)).is_ok());
        assert!(check_payload(&json!(10_000_000_000_000_000_u64)).is_ok());
        assert!(check_payload(&json!(i64::MIN)).is_ok());
        assert!(check_payload(&json!(1.7976931348623157e308)).is_ok());
    }

    #[test]
    fn event_types_keep_to_their_alphabet() {
        for ok in ["TaskDispatched", "a", "v2.Task_Signed"] {
            assert!(check_event_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1Task",
            "Task\nDispatched",
            "Task\u{202e}",
            "Task\0",
            "任务",
            &"a".repeat(101),
        ] {
            assert!(check_event_type(bad).is_err(), "{bad:?}");
        }
    }
}
