//! Evidence (佐证材料): a reference to a file held elsewhere, pinned by its SHA-256.
//! Minutes, sign-in sheets, photos of notices, delivery photos: the log keeps the hash and
//! a name, so an auditor can check the file later was the file recorded then.

use serde::{Deserialize, Serialize};

/// A reference to an evidence file: its SHA-256 (64 lowercase hex) and a readable name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawEvidence", into = "RawEvidence")]
pub struct EvidenceRef {
    sha256: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct RawEvidence {
    sha256: String,
    name: String,
}

/// Evidence that does not name a file by a valid hash and a non-empty name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvidence {
    #[error("佐证材料的哈希必须是64位十六进制 SHA-256")]
    BadHash,
    #[error("佐证材料必须有文件名")]
    MissingName,
}

impl EvidenceRef {
    pub fn new(sha256: &str, name: &str) -> Result<Self, InvalidEvidence> {
        let hash = sha256.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidEvidence::BadHash);
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(InvalidEvidence::MissingName);
        }
        Ok(EvidenceRef {
            sha256: hash,
            name: name.to_owned(),
        })
    }
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl TryFrom<RawEvidence> for EvidenceRef {
    type Error = InvalidEvidence;
    fn try_from(raw: RawEvidence) -> Result<Self, Self::Error> {
        EvidenceRef::new(&raw.sha256, &raw.name)
    }
}

impl From<EvidenceRef> for RawEvidence {
    fn from(e: EvidenceRef) -> Self {
        RawEvidence {
            sha256: e.sha256,
            name: e.name,
        }
    }
}
