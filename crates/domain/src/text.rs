//! Free text that a cadre types: titles, reasons, statements.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Trimmed, non-empty text of at most `2000` characters, without control characters other
/// than newlines and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

/// Text that was empty, too long or held control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidText {
    #[error("内容不能为空")]
    Empty,
    #[error("内容过长(最多2000字)")]
    TooLong,
    #[error("内容含有非法控制字符")]
    ControlCharacter,
}

impl Text {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(InvalidText::Empty);
        }
        if t.chars().count() > Self::MAX_CHARS {
            return Err(InvalidText::TooLong);
        }
        if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(InvalidText::ControlCharacter);
        }
        Ok(Text(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = InvalidText;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Text::parse(&raw)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
