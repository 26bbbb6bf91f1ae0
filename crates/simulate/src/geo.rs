//! Shaoxing's places: the city, its 6 counties and 103 towns from `data/shaoxing-regions.csv`,
//! and 2,119 villages and communities spread over the towns from `data/county-villages.csv`.
//!
//! The county figures in the CSV add up to more than the 2,119 villages and communities the
//! city reports (DOMAIN.md); each county's figure is scaled so the city total is 2,119. The
//! geography does not depend on the simulation's seed: the same codes name the same villages
//! in every run, and the real villages keep their names and the first village codes of their
//! towns (枫源村 is 330681109201).

use crate::SimError;
use crate::names;
use crate::rng::Rng;

const REGIONS_CSV: &str = include_str!("../../../data/shaoxing-regions.csv");
const COUNTY_VILLAGES_CSV: &str = include_str!("../../../data/county-villages.csv");

/// Villages and communities in Shaoxing (DOMAIN.md).
pub(crate) const CITY_VILLAGES: u64 = 2_119;

/// Seed of the geography (names of generated villages, how units spread over towns).
const GEOGRAPHY_SEED: u64 = 0x5348_414f_5849_4e47;

/// Real villages, by town code: they get the first village serials (201, 202 …).
const REAL_VILLAGES: &[(&str, &str)] = &[
    ("330681109000", "枫源村"),
    ("330624004000", "梅渚村"),
    ("330624004000", "棠村"),
    ("330681117000", "丰江周村"),
    ("330602108000", "金溪村"),
];

#[derive(Debug, Clone)]
pub(crate) struct County {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct VillageSpec {
    pub code: String,
    pub name: String,
    pub community: bool,
    pub real: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct TownSpec {
    pub code: String,
    pub name: String,
    pub county: String,
    pub villages: Vec<VillageSpec>,
}

#[derive(Debug, Clone)]
pub(crate) struct Geography {
    pub city_code: String,
    pub city_name: String,
    pub counties: Vec<County>,
    pub towns: Vec<TownSpec>,
}

fn bad(what: impl Into<String>) -> SimError {
    SimError::ReferenceData(what.into())
}

/// Largest-remainder split of `total` by `weights` (each share ≥ 0, shares sum to `total`).
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut shares: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let given: u64 = shares.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for &i in order
        .iter()
        .take(usize::try_from(total.saturating_sub(given)).unwrap_or(0))
    {
        shares[i] += 1;
    }
    shares
}

impl Geography {
    /// The whole city, built from the CSVs beside the workspace.
    pub(crate) fn shaoxing() -> Result<Self, SimError> {
        let mut city: Option<(String, String)> = None;
        let mut counties = Vec::new();
        let mut towns: Vec<TownSpec> = Vec::new();
        for line in REGIONS_CSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.trim().split(',').collect();
            let [code, name, level, parent] = cols[..] else {
                return Err(bad(format!("shaoxing-regions.csv: bad line {line:?}")));
            };
            match level {
                "city" => city = Some((code.to_owned(), name.to_owned())),
                "county" => counties.push(County {
                    code: code.to_owned(),
                    name: name.to_owned(),
                }),
                "town" => towns.push(TownSpec {
                    code: code.to_owned(),
                    name: name.to_owned(),
                    county: parent.to_owned(),
                    villages: Vec::new(),
                }),
                other => return Err(bad(format!("unknown level {other:?}"))),
            }
        }
        let (city_code, city_name) = city.ok_or_else(|| bad("no city in shaoxing-regions.csv"))?;

        // Villages and communities per county, scaled to the city's 2,119.
        let mut per_county: Vec<(String, u64, u64)> = Vec::new();
        for line in COUNTY_VILLAGES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.trim().split(',').collect();
            let [code, _name, villages, communities] = cols[..] else {
                return Err(bad(format!("county-villages.csv: bad line {line:?}")));
            };
            let parse = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| bad(format!("county-villages.csv: bad number {s:?}")))
            };
            per_county.push((code.to_owned(), parse(villages)?, parse(communities)?));
        }
        let weights: Vec<f64> = per_county.iter().map(|(_, v, c)| (v + c) as f64).collect();
        let totals = apportion(CITY_VILLAGES, &weights);

        let mut rng = Rng::new(GEOGRAPHY_SEED);
        for ((county, v, c), total) in per_county.iter().zip(totals) {
            let communities = apportion(total, &[*c as f64, *v as f64])[0];
            let villages = total - communities;
            let idx: Vec<usize> = (0..towns.len())
                .filter(|&i| &towns[i].county == county)
                .collect();
            if idx.is_empty() {
                return Err(bad(format!("county {county} has no towns")));
            }
            let street = |i: usize| towns[i].name.ends_with("街道");
            let jitter: Vec<f64> = idx.iter().map(|_| 0.7 + 0.6 * rng.unit()).collect();
            let vw: Vec<f64> = idx
                .iter()
                .zip(&jitter)
                .map(|(&i, j)| j * if street(i) { 0.35 } else { 1.0 })
                .collect();
            let cw: Vec<f64> = idx
                .iter()
                .zip(&jitter)
                .map(|(&i, j)| j * if street(i) { 3.0 } else { 0.5 })
                .collect();
            let mut vs = apportion(villages, &vw);
            let cs = apportion(communities, &cw);
            // Every town needs a unit, and the towns of the real villages enough villages.
            for (k, &i) in idx.iter().enumerate() {
                let need = REAL_VILLAGES
                    .iter()
                    .filter(|(t, _)| *t == towns[i].code)
                    .count() as u64;
                let need = need.max(u64::from(vs[k] + cs[k] == 0));
                while vs[k] < need {
                    let Some(donor) = (0..vs.len()).filter(|&d| d != k).max_by_key(|&d| vs[d])
                    else {
                        break;
                    };
                    if vs[donor] <= 1 {
                        break;
                    }
                    vs[donor] -= 1;
                    vs[k] += 1;
                }
            }
            for (k, &i) in idx.iter().enumerate() {
                let town = &mut towns[i];
                let prefix = &town.code[..9];
                let mut used: Vec<String> = Vec::new();
                for serial in 1..=cs[k] {
                    let name = unique_name(&mut rng, &mut used, "社区");
                    town.villages.push(VillageSpec {
                        code: format!("{prefix}{serial:03}"),
                        name,
                        community: true,
                        real: false,
                    });
                }
                let real: Vec<&str> = REAL_VILLAGES
                    .iter()
                    .filter(|(t, _)| *t == town.code)
                    .map(|(_, n)| *n)
                    .collect();
                used.extend(real.iter().map(|n| (*n).to_owned()));
                for n in 0..vs[k] {
                    let serial = 201 + n;
                    let (name, is_real) = match real.get(usize::try_from(n).unwrap_or(usize::MAX)) {
                        Some(r) => ((*r).to_owned(), true),
                        None => (unique_name(&mut rng, &mut used, "村"), false),
                    };
                    town.villages.push(VillageSpec {
                        code: format!("{prefix}{serial:03}"),
                        name,
                        community: false,
                        real: is_real,
                    });
                }
            }
        }
        Ok(Geography {
            city_code,
            city_name,
            counties,
            towns,
        })
    }

    /// Keep only the county `code`.
    pub(crate) fn keep_county(&mut self, code: &str) {
        self.counties.retain(|c| c.code == code);
        self.towns.retain(|t| t.county == code);
    }

    /// Keep only the town `code`, with at most `max_villages` of its units (real villages
    /// first, then one community, then generated villages).
    pub(crate) fn keep_town(&mut self, code: &str, max_villages: Option<usize>) {
        self.towns.retain(|t| t.code == code);
        let county: Vec<String> = self.towns.iter().map(|t| t.county.clone()).collect();
        self.counties.retain(|c| county.contains(&c.code));
        if let Some(max) = max_villages {
            for town in &mut self.towns {
                let mut keep: Vec<VillageSpec> =
                    town.villages.iter().filter(|v| v.real).cloned().collect();
                if let Some(c) = town.villages.iter().find(|v| v.community) {
                    keep.push(c.clone());
                }
                for v in town.villages.iter().filter(|v| !v.real && !v.community) {
                    if keep.len() >= max {
                        break;
                    }
                    keep.push(v.clone());
                }
                keep.truncate(max.max(1));
                keep.sort_by(|a, b| a.code.cmp(&b.code));
                town.villages = keep;
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn village_count(&self) -> usize {
        self.towns.iter().map(|t| t.villages.len()).sum()
    }
}

fn unique_name(rng: &mut Rng, used: &mut Vec<String>, suffix: &str) -> String {
    for _ in 0..200 {
        let name = format!("{}{suffix}", names::place_stem(rng));
        if !used.contains(&name) {
            used.push(name.clone());
            return name;
        }
    }
    let name = format!("{}{}{suffix}", names::place_stem(rng), used.len());
    used.push(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_city_has_its_towns_and_2119_villages() {
        let geo = Geography::shaoxing().expect("reference data parses");
        assert_eq!(geo.counties.len(), 6);
        assert_eq!(geo.towns.len(), 103);
        assert_eq!(geo.village_count(), 2_119);
        assert!(geo.towns.iter().all(|t| !t.villages.is_empty()));
        let find = |name: &str| {
            geo.towns
                .iter()
                .flat_map(|t| t.villages.iter())
                .find(|v| v.name == name)
                .map(|v| v.code.clone())
        };
        assert_eq!(find("枫源村").as_deref(), Some("330681109201"));
        assert_eq!(find("金溪村").as_deref(), Some("330602108201"));
        assert_eq!(find("棠村").as_deref(), Some("330624004202"));
        assert!(find("丰江周村").is_some());
        for t in &geo.towns {
            let mut codes: Vec<&str> = t.villages.iter().map(|v| v.code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), t.villages.len());
            assert!(
                codes
                    .iter()
                    .all(|c| c.starts_with(&t.code[..9]) && c.len() == 12)
            );
        }
    }
}
