//! 事项清单 — the catalogue of village duties that screening checks tasks against: every
//! item as it stands now, and every version of every catalogue (each change is a version:
//! an item added, revised or retired), so a town can see what the list said when a task
//! was screened.

use serde::Serialize;
use xingcun_domain::CatalogueEvent;
use xingcun_domain::catalogue::MatterItem;
use xingcun_store::{RecordedEvent, StoreError};

use crate::runtime::{Projection, Table, decode, t};
use crate::sql::{Arg, ReadDb, Stmt, int, text};

pub struct Catalogue;

const TABLES: &[Table] = &[
    Table {
        name: "catalogue_items",
        columns: "(catalogue text not null, code text not null, name text not null, category text not null, \
                  level text not null, kind text not null, effective_from text not null, effective_to text, \
                  version bigint not null, primary key (catalogue, code))",
        indexes: &[],
        lookups: &[],
    },
    Table {
        name: "catalogue_versions",
        columns: "(catalogue text not null, version bigint not null, change text not null, code text not null, \
                  reason text, changed_by text not null, recorded_at text not null, position bigint not null, \
                  primary key (catalogue, version))",
        indexes: &[],
        lookups: &[],
    },
];

const ITEM: &str = "insert into {catalogue_items} (catalogue, code, name, category, level, kind, effective_from, \
     effective_to, version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (catalogue, code) do update set \
     name = excluded.name, category = excluded.category, level = excluded.level, kind = excluded.kind, \
     effective_from = excluded.effective_from, effective_to = excluded.effective_to, version = excluded.version";
const RETIRED: &str = "update {catalogue_items} set effective_to = $3, version = $4 where catalogue = $1 and code = $2";
const VERSION: &str = "insert into {catalogue_versions} (catalogue, version, change, code, reason, changed_by, \
     recorded_at, position) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (catalogue, version) do nothing";

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn version(v: u64) -> Result<Arg, String> {
    Ok(Arg::Int(i64::try_from(v).map_err(|e| e.to_string())?))
}

fn item_stmt(catalogue: &str, item: &MatterItem, v: u64) -> Result<Stmt, String> {
    Ok(Stmt::new(
        ITEM,
        vec![
            t(catalogue),
            t(item.code.to_string()),
            t(item.name.to_string()),
            t(item.category.to_string()),
            t(snake(&item.level)),
            t(snake(&item.kind)),
            t(xingcun_store::hash::format_time(&item.effective_from)),
            Arg::OptText(
                item.effective_to
                    .map(|e| xingcun_store::hash::format_time(&e)),
            ),
            version(v)?,
        ],
    ))
}

impl Projection for Catalogue {
    fn name(&self) -> &'static str {
        "catalogue"
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        &["catalogue"]
    }
    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn apply(&self, event: &RecordedEvent, out: &mut Vec<Stmt>) -> Result<(), String> {
        let at = xingcun_store::hash::format_time(&event.recorded_at);
        let position = Arg::Int(i64::try_from(event.position).map_err(|e| e.to_string())?);
        let (catalogue, v, change, code, reason, by) = match decode::<CatalogueEvent>(event)? {
            CatalogueEvent::MatterAdded {
                catalogue,
                version: v,
                item,
                changed_by,
            } => {
                out.push(item_stmt(catalogue.as_str(), &item, v)?);
                (
                    catalogue,
                    v,
                    "added",
                    item.code.to_string(),
                    None,
                    changed_by,
                )
            }
            CatalogueEvent::MatterRevised {
                catalogue,
                version: v,
                item,
                changed_by,
            } => {
                out.push(item_stmt(catalogue.as_str(), &item, v)?);
                (
                    catalogue,
                    v,
                    "revised",
                    item.code.to_string(),
                    None,
                    changed_by,
                )
            }
            CatalogueEvent::MatterRetired {
                catalogue,
                version: v,
                code,
                retired_at,
                reason,
                changed_by,
            } => {
                out.push(Stmt::new(
                    RETIRED,
                    vec![
                        t(catalogue.to_string()),
                        t(code.to_string()),
                        t(xingcun_store::hash::format_time(&retired_at)),
                        version(v)?,
                    ],
                ));
                (
                    catalogue,
                    v,
                    "retired",
                    code.to_string(),
                    Some(reason.to_string()),
                    changed_by,
                )
            }
        };
        out.push(Stmt::new(
            VERSION,
            vec![
                t(catalogue.to_string()),
                version(v)?,
                t(change),
                t(code),
                Arg::OptText(reason),
                t(by.to_string()),
                t(at),
                position,
            ],
        ));
        Ok(())
    }
}

/// An item of a catalogue as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueItem {
    pub code: String,
    pub name: String,
    pub category: String,
    /// `county`, `town`, `village` or `grid`.
    pub level: String,
    /// `duty`, `assist` or `barred`.
    pub kind: String,
    pub effective_from: String,
    pub effective_to: Option<String>,
    /// The catalogue version that last changed it.
    pub version: i64,
}

/// One change of a catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueChange {
    pub version: i64,
    /// `added`, `revised` or `retired`.
    pub change: String,
    pub code: String,
    pub reason: Option<String>,
    pub changed_by: String,
    pub recorded_at: String,
    pub position: i64,
}

/// The items of the catalogue of `scope` (the city or a county), by code.
pub async fn items(db: &ReadDb, scope: &str) -> Result<Vec<CatalogueItem>, StoreError> {
    let sql = format!(
        "select code, name, category, level, kind, effective_from, effective_to, version from {} \
         where catalogue = $1 order by code",
        db.qualified("catalogue_items")
    );
    Ok(db
        .fetch(&sql, &[scope.into()])
        .await?
        .iter()
        .map(|r| CatalogueItem {
            code: text(r, 0).unwrap_or_default(),
            name: text(r, 1).unwrap_or_default(),
            category: text(r, 2).unwrap_or_default(),
            level: text(r, 3).unwrap_or_default(),
            kind: text(r, 4).unwrap_or_default(),
            effective_from: text(r, 5).unwrap_or_default(),
            effective_to: text(r, 6),
            version: int(r, 7).unwrap_or(0),
        })
        .collect())
}

/// The changes of the catalogue of `scope`, oldest first.
pub async fn versions(db: &ReadDb, scope: &str) -> Result<Vec<CatalogueChange>, StoreError> {
    let sql = format!(
        "select version, change, code, reason, changed_by, recorded_at, position from {} \
         where catalogue = $1 order by version",
        db.qualified("catalogue_versions")
    );
    Ok(db
        .fetch(&sql, &[scope.into()])
        .await?
        .iter()
        .map(|r| CatalogueChange {
            version: int(r, 0).unwrap_or(0),
            change: text(r, 1).unwrap_or_default(),
            code: text(r, 2).unwrap_or_default(),
            reason: text(r, 3),
            changed_by: text(r, 4).unwrap_or_default(),
            recorded_at: text(r, 5).unwrap_or_default(),
            position: int(r, 6).unwrap_or(0),
        })
        .collect())
}
