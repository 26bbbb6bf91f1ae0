//! 名录 — the directory: every region (city, county, town, village) with its name and
//! parent, and every person with their current post (role and scope).
//!
//! The API resolves a bearer token to a person here, on every request: the role and scope
//! it acts with are the person's current appointment, so an appointment or a departure
//! (离任) takes effect without new tokens. A person holds one post at a time: a later
//! appointment replaces the earlier one; a departure from the post held ends it (the row
//! stays, `active = 0`, so old events still name the person).

use serde::Serialize;
use xingcun_domain::{OrganizationEvent, Role};
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, decode, t};
use crate::sql::{Arg, ReadDb, Stmt, int, text};

pub struct Directory;

const TABLES: &[Table] = &[
    Table {
        name: "directory_regions",
        columns: "(region text primary key, level text not null, name text not null, parent text)",
        indexes: &["(parent)"],
        lookups: &[],
    },
    Table {
        name: "directory_people",
        columns: "(person text primary key, name text not null, role text not null, role_json text not null, \
                  scope text not null, active bigint not null, position bigint not null)",
        indexes: &["(scope)"],
        lookups: &[],
    },
];

const REGION: &str = "insert into {directory_regions} (region, level, name, parent) values ($1, $2, $3, $4) \
     on conflict (region) do update set level = excluded.level, name = excluded.name, parent = excluded.parent";
const APPOINTED: &str = "insert into {directory_people} (person, name, role, role_json, scope, active, position) \
     values ($1, $2, $3, $4, $5, 1, $6) on conflict (person) do update set name = excluded.name, role = excluded.role, \
     role_json = excluded.role_json, scope = excluded.scope, active = 1, position = excluded.position";
const DEPARTED: &str =
    "update {directory_people} set active = 0, position = $3 where person = $1 and scope = $2";

fn role_key(role: &Role) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.get("role").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

impl Projection for Directory {
    fn name(&self) -> &'static str {
        "directory"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["region"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let position = Arg::Int(i64::try_from(event.position).map_err(|e| e.to_string())?);
        match decode::<OrganizationEvent>(event)? {
            OrganizationEvent::RegionRegistered {
                region,
                level,
                name,
                parent,
                ..
            } => out.push(Stmt::new(
                REGION,
                vec![
                    t(region.to_string()),
                    t(format!("{level:?}").to_lowercase()),
                    t(name.to_string()),
                    Arg::OptText(parent.map(|p| p.to_string())),
                ],
            )),
            OrganizationEvent::VillageRegistered {
                town,
                village,
                name,
                ..
            } => out.push(Stmt::new(
                REGION,
                vec![
                    t(village.to_string()),
                    t("village"),
                    t(name.to_string()),
                    Arg::OptText(Some(town.to_string())),
                ],
            )),
            OrganizationEvent::GridRegistered { .. } => {}
            OrganizationEvent::CadreAppointed {
                person,
                name,
                role,
                scope,
                ..
            } => out.push(Stmt::new(
                APPOINTED,
                vec![
                    t(person.to_string()),
                    t(name.to_string()),
                    t(role_key(&role)),
                    t(serde_json::to_string(&role).map_err(|e| e.to_string())?),
                    t(scope.to_string()),
                    position,
                ],
            )),
            OrganizationEvent::CadreDeparted { person, scope, .. } => out.push(Stmt::new(
                DEPARTED,
                vec![t(person.to_string()), t(scope.to_string()), position],
            )),
        }
        Ok(())
    }
}

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub person: String,
    pub name: String,
    pub role: Role,
    pub scope: String,
    /// Still in post (not departed).
    pub active: bool,
}

/// A `directory_people` row selected as (person, name, role_json, scope, active).
fn person_of(r: &[Arg]) -> Option<Person> {
    Some(Person {
        person: text(r, 0)?,
        name: text(r, 1)?,
        role: serde_json::from_str(&text(r, 2)?).ok()?,
        scope: text(r, 3)?,
        active: int(r, 4) == Some(1),
    })
}

/// One person by id.
pub async fn person(db: &ReadDb, id: &str) -> Result<Option<Person>, StoreError> {
    let sql = format!(
        "select person, name, role_json, scope, active from {} where person = $1",
        db.qualified("directory_people")
    );
    let rows = db.fetch(&sql, &[id.into()]).await?;
    Ok(rows.first().and_then(|r| person_of(r)))
}

/// A region as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub region: String,
    /// `city`, `county`, `town` or `village`.
    pub level: String,
    pub name: String,
    pub parent: Option<String>,
}

fn region_of(r: &[Arg]) -> Region {
    Region {
        region: text(r, 0).unwrap_or_default(),
        level: text(r, 1).unwrap_or_default(),
        name: text(r, 2).unwrap_or_default(),
        parent: text(r, 3),
    }
}

/// One region by code.
pub async fn region(db: &ReadDb, code: &str) -> Result<Option<Region>, StoreError> {
    let sql = format!(
        "select region, level, name, parent from {} where region = $1",
        db.qualified("directory_regions")
    );
    Ok(db
        .fetch(&sql, &[code.into()])
        .await?
        .first()
        .map(|r| region_of(r)))
}

/// The regions directly under `parent` (a town's villages, a county's towns), by code.
pub async fn children(db: &ReadDb, parent: &str) -> Result<Vec<Region>, StoreError> {
    let sql = format!(
        "select region, level, name, parent from {} where parent = $1 order by region",
        db.qualified("directory_regions")
    );
    Ok(db
        .fetch(&sql, &[parent.into()])
        .await?
        .iter()
        .map(|r| region_of(r))
        .collect())
}

/// The people in post with role `role` (its stable key, e.g. `village_secretary`) whose
/// scope is `scope` or lies inside it (by code prefix), by person id.
pub async fn in_post(db: &ReadDb, role: &str, scope: &str) -> Result<Vec<Person>, StoreError> {
    use xingcun_domain::RegionLevel::*;
    let digits = match xingcun_domain::RegionId::parse(scope).map(|r| r.level()) {
        Ok(Province) => 2,
        Ok(City) => 4,
        Ok(County) => 6,
        Ok(Town) => 9,
        _ => 12,
    };
    let prefix: String = scope.chars().take(digits).collect();
    let sql = format!(
        "select person, name, role_json, scope, active from {} where role = $1 and active = 1 \
         and scope like $2 order by person",
        db.qualified("directory_people")
    );
    let rows = db
        .fetch(&sql, &[role.into(), format!("{prefix}%").into()])
        .await?;
    Ok(rows.iter().filter_map(|r| person_of(r)).collect())
}

/// The people in post over exactly `scope` (a village's cadres, a town's staff), by name.
pub async fn serving(db: &ReadDb, scope: &str) -> Result<Vec<Person>, StoreError> {
    let sql = format!(
        "select person, name, role_json, scope, active from {} where scope = $1 and active = 1 \
         order by name, person",
        db.qualified("directory_people")
    );
    Ok(db
        .fetch(&sql, &[scope.into()])
        .await?
        .iter()
        .filter_map(|r| person_of(r))
        .collect())
}
