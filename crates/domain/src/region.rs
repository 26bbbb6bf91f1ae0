//! Places: 市 → 县/市/区 → 乡镇/街道 → 村/社区, identified by 12-digit statistical division
//! codes (统计用区划代码). The code itself encodes the tree, so scope checks need no lookup:
//! `330600000000` 绍兴市, `330681000000` 诸暨市, `330681104000` a town, `330681104201` a village.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Level of a region in the tree, derived from its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
    Town,
    Village,
}

/// A 12-digit statistical division code. Cannot hold an invalid value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionId(String);

/// A string that is not a 12-digit division code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid region code {0:?}: expected 12 digits (统计用区划代码)")]
pub struct InvalidRegionId(pub String);

impl RegionId {
    pub fn parse(raw: &str) -> Result<Self, InvalidRegionId> {
        let code = raw.trim();
        if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) || code.starts_with("00") {
            return Err(InvalidRegionId(raw.to_owned()));
        }
        Ok(RegionId(code.to_owned()))
    }

    /// 绍兴市, 330600000000.
    pub fn shaoxing() -> Self {
        RegionId("330600000000".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> RegionLevel {
        let c = self.0.as_bytes();
        let zero = |range: std::ops::Range<usize>| c[range].iter().all(|&b| b == b'0');
        if zero(2..12) {
            RegionLevel::Province
        } else if zero(4..12) {
            RegionLevel::City
        } else if zero(6..12) {
            RegionLevel::County
        } else if zero(9..12) {
            RegionLevel::Town
        } else {
            RegionLevel::Village
        }
    }

    /// The significant prefix of the code at its level.
    fn prefix(&self) -> &str {
        let len = match self.level() {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
            RegionLevel::Town => 9,
            RegionLevel::Village => 12,
        };
        &self.0[..len]
    }

    /// Whether `other` is this region or lies below it.
    pub fn contains(&self, other: &RegionId) -> bool {
        other.0.starts_with(self.prefix())
    }

    /// The region one level up (None for a province).
    pub fn parent(&self) -> Option<RegionId> {
        let keep = match self.level() {
            RegionLevel::Province => return None,
            RegionLevel::City => 2,
            RegionLevel::County => 4,
            RegionLevel::Town => 6,
            RegionLevel::Village => 9,
        };
        Some(RegionId(format!("{:0<12}", &self.0[..keep])))
    }

    /// The town a village (or the town itself) belongs to.
    pub fn town(&self) -> Option<RegionId> {
        match self.level() {
            RegionLevel::Town => Some(self.clone()),
            RegionLevel::Village => self.parent(),
            _ => None,
        }
    }
}

impl TryFrom<String> for RegionId {
    type Error = InvalidRegionId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        RegionId::parse(&raw)
    }
}

impl From<RegionId> for String {
    fn from(id: RegionId) -> String {
        id.0
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A grid (网格) inside a village: the village's code and the grid's number (1..=999),
/// written `330681104201-003`. Grids are not statistical regions, so they are not a
/// [`RegionId`]; a grid's scope checks go through its village.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridId {
    village: RegionId,
    number: u16,
}

/// A string that is not `{12-digit village code}-{grid number 1..=999}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid grid id {0:?}: expected a village code and a grid number, e.g. 330681104201-003")]
pub struct InvalidGridId(pub String);

impl GridId {
    pub const MAX_NUMBER: u16 = 999;

    /// A grid of `village` numbered `number`. The region must be a village.
    pub fn new(village: RegionId, number: u16) -> Result<Self, InvalidGridId> {
        if village.level() != RegionLevel::Village || number == 0 || number > Self::MAX_NUMBER {
            return Err(InvalidGridId(format!("{village}-{number}")));
        }
        Ok(GridId { village, number })
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidGridId> {
        let bad = || InvalidGridId(raw.to_owned());
        let (village, number) = raw.trim().split_once('-').ok_or_else(bad)?;
        let village = RegionId::parse(village).map_err(|_| bad())?;
        if number.is_empty() || number.len() > 3 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let number: u16 = number.parse().map_err(|_| bad())?;
        GridId::new(village, number).map_err(|_| bad())
    }

    /// The village this grid belongs to.
    pub fn village(&self) -> &RegionId {
        &self.village
    }

    pub fn number(&self) -> u16 {
        self.number
    }
}

impl TryFrom<String> for GridId {
    type Error = InvalidGridId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        GridId::parse(&raw)
    }
}

impl From<GridId> for String {
    fn from(id: GridId) -> String {
        id.to_string()
    }
}

impl fmt::Display for GridId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:03}", self.village, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RegionId {
        RegionId::parse(s).expect("valid code")
    }

    #[test]
    fn levels_and_tree_come_from_the_code() {
        let city = RegionId::shaoxing();
        let county = id("330681000000");
        let town = id("330681104000");
        let village = id("330681104201");
        assert_eq!(city.level(), RegionLevel::City);
        assert_eq!(county.level(), RegionLevel::County);
        assert_eq!(town.level(), RegionLevel::Town);
        assert_eq!(village.level(), RegionLevel::Village);
        assert!(city.contains(&village) && county.contains(&town) && town.contains(&village));
        assert!(!id("330602001000").contains(&village));
        assert_eq!(village.parent(), Some(town.clone()));
        assert_eq!(town.parent(), Some(county));
        assert_eq!(village.town(), Some(town));
    }

    #[test]
    fn rejects_malformed_codes() {
        for bad in ["", "3306", "33060000000x", "0000000000001", "3306000000000"] {
            assert!(RegionId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grid_ids_name_a_village_and_a_number() {
        let grid = GridId::parse("330681104201-003").expect("valid grid");
        assert_eq!(grid.village(), &id("330681104201"));
        assert_eq!(grid.number(), 3);
        assert_eq!(grid.to_string(), "330681104201-003");
        assert_eq!(GridId::parse("330681104201-3"), Ok(grid));
        for bad in [
            "",
            "330681104201",
            "330681104201-",
            "330681104201-0",
            "330681104000-001",
            "330681104201-1000",
            "330681104201-x1",
        ] {
            assert!(GridId::parse(bad).is_err(), "{bad}");
        }
    }
}
