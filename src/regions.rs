//! `xingcun regions` and `--village 棠村`: the places the log knows, folded from its
//! `region-{code}` streams (`RegionRegistered`, `VillageRegistered`), never from a static
//! file, so a code or name is accepted exactly when the log holds it.
//!
//! A village may be named by its 12-digit code or by its name. A name is accepted when it
//! names one village in the scope (the whole log, or the town given); a name several
//! villages share is refused, listing them with their codes and towns.

use std::collections::BTreeMap;

use anyhow::bail;
use xingcun_domain::organization::VillageKind;
use xingcun_domain::{OrganizationEvent, RegionId, RegionLevel};
use xingcun_store::EventLog;

const PAGE: u32 = 10_000;

/// A city, county or town.
#[derive(Debug, Clone)]
pub struct Region {
    pub code: RegionId,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<RegionId>,
}

/// A village or community and its town.
#[derive(Debug, Clone)]
pub struct Village {
    pub code: RegionId,
    pub name: String,
    pub kind: VillageKind,
    pub town: RegionId,
}

/// Every region and village registered in the log.
#[derive(Debug, Default)]
pub struct Directory {
    regions: BTreeMap<RegionId, Region>,
    villages: BTreeMap<RegionId, Village>,
}

impl Directory {
    /// Fold the log's `region` streams.
    pub async fn load(log: &impl EventLog) -> anyhow::Result<Self> {
        let mut directory = Directory::default();
        let mut after = 0;
        loop {
            let page = log.read_category("region", after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            for recorded in page {
                // Other event types of the stream (cadres, grids) decode too and are
                // skipped; one that does not decode is a corrupt log, named by position.
                let event: OrganizationEvent = recorded.payload.decode().map_err(|e| {
                    anyhow::anyhow!(
                        "the region event at position {} does not decode: {e}",
                        recorded.position
                    )
                })?;
                directory.apply(event);
            }
        }
        Ok(directory)
    }

    fn apply(&mut self, event: OrganizationEvent) {
        match event {
            OrganizationEvent::RegionRegistered {
                region,
                level,
                name,
                parent,
                ..
            } => {
                self.regions.insert(
                    region.clone(),
                    Region {
                        code: region,
                        name: name.as_str().to_owned(),
                        level,
                        parent,
                    },
                );
            }
            OrganizationEvent::VillageRegistered {
                town,
                village,
                name,
                kind,
                ..
            } => {
                self.villages.insert(
                    village.clone(),
                    Village {
                        code: village,
                        name: name.as_str().to_owned(),
                        kind,
                        town,
                    },
                );
            }
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty() && self.villages.is_empty()
    }

    fn name_of(&self, code: &RegionId) -> &str {
        self.regions
            .get(code)
            .map(|r| r.name.as_str())
            .unwrap_or("?")
    }

    /// The town named by `given`: its code or its unique name.
    pub fn town(&self, given: &str) -> anyhow::Result<&Region> {
        let towns = self
            .regions
            .values()
            .filter(|r| r.level == RegionLevel::Town);
        let found: Vec<&Region> = match RegionId::parse(given) {
            Ok(code) => towns.filter(|r| r.code == code).collect(),
            Err(_) => towns.filter(|r| r.name == given.trim()).collect(),
        };
        match found.as_slice() {
            [one] => Ok(one),
            [] => bail!(
                "no town {given:?} in this log (`xingcun regions` lists the towns and their codes)"
            ),
            many => bail!(
                "{given:?} names {} towns: {}; give the code",
                many.len(),
                many.iter()
                    .map(|r| format!("{} ({})", r.code.as_str(), self.name_of_parent(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn name_of_parent(&self, region: &Region) -> &str {
        region.parent.as_ref().map_or("?", |p| self.name_of(p))
    }

    /// The village named by `given` (its code or its name, unique within `town` if given,
    /// else within the whole log).
    pub fn village(&self, given: &str, town: Option<&RegionId>) -> anyhow::Result<&Village> {
        let in_scope = |v: &&Village| town.is_none_or(|t| &v.town == t);
        let found: Vec<&Village> = match RegionId::parse(given) {
            Ok(code) => self
                .villages
                .get(&code)
                .filter(|v| in_scope(v))
                .into_iter()
                .collect(),
            Err(_) => self
                .villages
                .values()
                .filter(in_scope)
                .filter(|v| v.name == given.trim())
                .collect(),
        };
        let scope = town.map_or_else(
            || "this log".to_owned(),
            |t| format!("{} ({})", self.name_of(t), t.as_str()),
        );
        match found.as_slice() {
            [one] => Ok(one),
            [] => bail!(
                "no village {given:?} in {scope} (`xingcun regions --town CODE` lists a town's villages)"
            ),
            many => bail!(
                "{given:?} names {} villages in {scope}: {}; give the code",
                many.len(),
                many.iter()
                    .map(|v| format!("{} ({})", v.code.as_str(), self.name_of(&v.town)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The city, counties and towns as an indented list, each town with its number of
    /// villages.
    pub fn outline(&self) -> String {
        let mut out = String::new();
        let roots = self.regions.values().filter(|r| {
            r.parent
                .as_ref()
                .is_none_or(|p| !self.regions.contains_key(p))
        });
        for root in roots {
            self.outline_below(root, 0, &mut out);
        }
        out
    }

    fn outline_below(&self, region: &Region, depth: usize, out: &mut String) {
        let detail = match region.level {
            RegionLevel::Town => {
                let n = self
                    .villages
                    .values()
                    .filter(|v| v.town == region.code)
                    .count();
                format!("{n} villages")
            }
            _ => level_name(region.level).to_owned(),
        };
        out.push_str(&format!(
            "{}{}  {}  ({detail})\n",
            "  ".repeat(depth),
            region.code.as_str(),
            region.name
        ));
        for child in self
            .regions
            .values()
            .filter(|r| r.parent.as_ref() == Some(&region.code))
        {
            self.outline_below(child, depth + 1, out);
        }
    }

    /// One town's villages, one a line.
    pub fn villages_of(&self, town: &Region) -> String {
        let mut out = format!("{}  {}  (town)\n", town.code.as_str(), town.name);
        for v in self.villages.values().filter(|v| v.town == town.code) {
            let kind = match v.kind {
                VillageKind::Village => "village",
                VillageKind::Community => "community",
            };
            out.push_str(&format!("  {}  {}  ({kind})\n", v.code.as_str(), v.name));
        }
        out
    }
}

fn level_name(level: RegionLevel) -> &'static str {
    match level {
        RegionLevel::Province => "province",
        RegionLevel::City => "city",
        RegionLevel::County => "county",
        RegionLevel::Town => "town",
        RegionLevel::Village => "village",
    }
}

#[cfg(test)]
mod tests {
    use xingcun_domain::{PersonId, Text};

    use super::*;

    fn code(c: &str) -> RegionId {
        RegionId::parse(c).expect("code")
    }

    fn town(directory: &mut Directory, c: &str, name: &str) {
        directory.apply(OrganizationEvent::RegionRegistered {
            region: code(c),
            level: RegionLevel::Town,
            name: Text::parse(name).expect("name"),
            parent: Some(code("330624000000")),
            registered_by: PersonId::parse("p-1").expect("person"),
        });
    }

    fn village(directory: &mut Directory, town: &str, c: &str, name: &str) {
        directory.apply(OrganizationEvent::VillageRegistered {
            town: code(town),
            village: code(c),
            name: Text::parse(name).expect("name"),
            kind: VillageKind::Village,
            registered_by: PersonId::parse("p-1").expect("person"),
        });
    }

    /// Two towns each with a 棠村, one with a 梅渚村.
    fn directory() -> Directory {
        let mut d = Directory::default();
        town(&mut d, "330624004000", "澄潭街道");
        town(&mut d, "330624101000", "儒岙镇");
        village(&mut d, "330624004000", "330624004201", "梅渚村");
        village(&mut d, "330624004000", "330624004202", "棠村");
        village(&mut d, "330624101000", "330624101202", "棠村");
        d
    }

    #[test]
    fn a_unique_name_or_a_code_names_a_village() {
        let d = directory();
        assert_eq!(
            d.village("梅渚村", None).expect("unique").code.as_str(),
            "330624004201"
        );
        assert_eq!(d.village("330624101202", None).expect("code").name, "棠村");
    }

    #[test]
    fn a_shared_name_is_refused_listing_the_villages_unless_a_town_narrows_it() {
        let d = directory();
        let err = d.village("棠村", None).expect_err("ambiguous").to_string();
        assert!(
            err.contains("2 villages") && err.contains("330624004202") && err.contains("儒岙镇"),
            "{err}"
        );
        let town = d.town("儒岙镇").expect("town").code.clone();
        assert_eq!(
            d.village("棠村", Some(&town))
                .expect("scoped")
                .code
                .as_str(),
            "330624101202"
        );
        // A code outside the town is not in scope.
        assert!(d.village("330624004201", Some(&town)).is_err());
    }

    #[test]
    fn names_and_codes_the_log_does_not_hold_are_refused() {
        let d = directory();
        for given in ["没有这个村", "330624004999", "12345"] {
            let err = d.village(given, None).expect_err("unknown").to_string();
            assert!(err.contains("no village"), "{err}");
        }
        assert!(d.town("330624999000").is_err());
    }
}
