//! An event's body, decoded only as far as its reader needs.
//!
//! Read from the log, a payload keeps the JSON text the database sent (checked as
//! `serde_json::Value` parsing would check it, which costs a scan but no allocation) and
//! builds the `serde_json::Value` tree only when someone asks for it. A projection that
//! decodes the body into its own type ([`Payload::decode`]) parses the text once, straight
//! into that type; a rebuild that reads a million events and skips most of them never
//! builds a tree at all. Built from a value (an append), it keeps the value and writes the
//! text once, when a backend binds it.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The JSON body of an event. Dereferences to its [`Value`] (built on first use); compares,
/// prints and serialises as that value, whatever the stored text's spelling.
pub struct Payload {
    /// At least one of the two is set, from the start.
    text: OnceLock<Box<RawValue>>,
    value: OnceLock<Value>,
}

impl Payload {
    /// A payload read from the log. `text` is refused unless it would parse into a
    /// [`Value`] (one JSON value, numbers within a double's range, at most 128 levels
    /// deep), so that a reader never meets an unreadable payload later; the tree itself is
    /// not built.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<Checked>(&text)?;
        let raw = RawValue::from_string(text)?;
        Ok(Payload {
            text: OnceLock::from(raw),
            value: OnceLock::new(),
        })
    }

    /// The value, built from the text on first use (text that was checked by
    /// [`Payload::from_text`] always builds; `null` stands in should it not).
    pub fn value(&self) -> &Value {
        self.value
            .get_or_init(|| self.parse().unwrap_or(Value::Null))
    }

    /// The value, or why the stored text does not build one.
    pub fn try_value(&self) -> Result<&Value, serde_json::Error> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = self.parse()?;
        Ok(self.value.get_or_init(|| value))
    }

    fn parse(&self) -> Result<Value, serde_json::Error> {
        match self.text.get() {
            Some(text) => serde_json::from_str(text.get()),
            None => Ok(Value::Null),
        }
    }

    /// Decode into a type of the reader's own: from the text when the tree was never built
    /// (one parse, no intermediate tree), else from the tree.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match (self.value.get(), self.text.get()) {
            (Some(value), _) => T::deserialize(value),
            (None, Some(text)) => serde_json::from_str(text.get()),
            (None, None) => T::deserialize(Value::Null),
        }
    }

    /// The JSON text: as stored when read from the log, written once from the value when
    /// built from one.
    pub fn json(&self) -> &RawValue {
        self.text.get_or_init(|| {
            serde_json::value::to_raw_value(self.value()).unwrap_or_else(|_| null_raw())
        })
    }

    /// The value, taking it out of the payload.
    pub fn into_value(mut self) -> Value {
        match self.value.take() {
            Some(value) => value,
            None => self.parse().unwrap_or(Value::Null),
        }
    }
}

/// A JSON value walked the way [`Value`] parsing walks it (`deserialize_any`: numbers read
/// as the `Value` reads them, nesting counted against the same limit), without keeping
/// anything.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!("null is JSON"))
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload {
            text: OnceLock::new(),
            value: OnceLock::from(value),
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::from(Value::Null)
    }
}

impl Deref for Payload {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl Clone for Payload {
    fn clone(&self) -> Self {
        Payload {
            text: self.text.clone(),
            value: self.value.clone(),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.value(), f)
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Payload::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_checked_but_the_tree_is_built_only_when_asked() {
        assert!(Payload::from_text("{\"a\": [1,".into()).is_err());
        let p = Payload::from_text("{\"b\": 2, \"a\": [1, \"两\"]}".into()).expect("json");
        assert!(p.value.get().is_none());
        #[derive(Deserialize, PartialEq, Debug)]
        struct Body {
            a: (u8, String),
            b: u8,
        }
        assert_eq!(
            p.decode::<Body>().expect("decode"),
            Body {
                a: (1, "两".into()),
                b: 2
            }
        );
        assert!(p.value.get().is_none(), "decoding builds no tree");
        assert_eq!(p, json!({"a": [1, "两"], "b": 2}));
        assert_eq!(p["b"], 2);
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"a":[1,"两"],"b":2}"#
        );
    }

    #[test]
    fn a_value_is_written_as_text_once_and_read_back_alike() {
        let p = Payload::from(json!({"x": 1.5, "y": null}));
        assert_eq!(p.json().get(), r#"{"x":1.5,"y":null}"#);
        let back = Payload::from_text(p.json().get().to_owned()).expect("json");
        assert_eq!(back, p);
        assert_eq!(back.clone().into_value(), p.clone().into_value());
    }

    /// What `Value` parsing refuses is refused when read, not met later by a reader.
    #[test]
    fn text_that_would_not_build_a_value_is_refused() {
        for text in [
            "[1e400]",
            "{\"n\": -1e309}",
            "[1, 2",
            "{} {}",
            "\"\\ud800x\"",
        ] {
            assert_eq!(
                Payload::from_text(text.into()).is_err(),
                serde_json::from_str::<Value>(text).is_err(),
                "{text}"
            );
            assert!(Payload::from_text(text.into()).is_err(), "{text}");
        }
        let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [100, 126, 127, 128, 129, 200] {
            let text = deep(n);
            assert_eq!(
                Payload::from_text(text.clone()).is_ok(),
                serde_json::from_str::<Value>(&text).is_ok(),
                "{n} levels"
            );
        }
        assert!(Payload::from_text(deep(100)).is_ok());
        assert!(Payload::from_text(deep(200)).is_err());
        let p = Payload::from_text("[1.5e300, 18446744073709551615, -1]".into()).expect("in range");
        assert_eq!(p.try_value().expect("builds")[2], -1);
    }
}
