//! Who a batch's credits go to, read once per batch.
//!
//! A fact for a cadre who led a procedure or a bid, or for a grid's leader, names a person
//! the event does not carry: it is in `leaderboard_leads` or `leaderboard_subjects`. Looked
//! up by the statement that writes the fact, every such fact was a round trip of its own
//! and held back every write to `leaderboard_points` after it. Instead, before a batch is
//! folded, the leads and the grids' people in office that its facts need are read in a few
//! statements, kept current in memory as the batch's own appointments, departures, starts
//! and bids go by (the same changes the batch writes to those tables), and each fact goes
//! to its rows by key. The outcome is the one the lookups gave: a grid's leader is its
//! person in office with the smallest id, the one a procedure or bid names the last one
//! on record.

use std::collections::{BTreeMap, HashMap, HashSet};

use xingcun_domain::{Assignee, AssignmentEvent, ListingEvent, ProcedureEvent};
use xingcun_store::RecordedEvent;

use super::bid_key;
use crate::runtime::{Lookup, decode};
use crate::sql::Arg;

/// Keys per lookup statement (two values each for leads).
const KEYS_PER_LOOKUP: usize = 400;

/// A batch's leads and grids, as the tables hold them at its start, moved along by the
/// batch's own events.
#[derive(Debug, Default)]
pub(super) struct Leads {
    /// (kind, key) → the cadre on record (`leaderboard_leads`): `procedure` by procedure
    /// id, `bid` by `listing:village`.
    pub(super) leads: HashMap<(String, String), String>,
    /// grid → its people in office, id → scope (`leaderboard_subjects` with `active = 1`),
    /// complete for every grid a fact of the batch credits.
    grids: HashMap<String, BTreeMap<String, String>>,
}

impl Leads {
    /// The reads the batch's facts need: the leads of the procedures completed and the
    /// listings awarded or delivered, and the people of the grids whose work is accepted.
    pub(super) fn lookups(events: &[RecordedEvent]) -> Vec<Lookup> {
        let mut leads: HashSet<(&'static str, String)> = HashSet::new();
        let mut grids: HashSet<String> = HashSet::new();
        for event in events {
            let category = event.stream_id.split_once('-').map(|(c, _)| c);
            match (category, event.event_type.as_str()) {
                (Some("assignment"), "AssignmentAccepted") => {
                    if let Ok(AssignmentEvent::AssignmentAccepted {
                        assignee: Some(Assignee::Grid { grid }),
                        ..
                    }) = decode::<AssignmentEvent>(event)
                    {
                        grids.insert(grid.to_string());
                    }
                }
                (Some("procedure"), "ProcedureCompleted") => {
                    if let Ok(ProcedureEvent::ProcedureCompleted { procedure_id, .. }) =
                        decode::<ProcedureEvent>(event)
                    {
                        leads.insert(("procedure", procedure_id.to_string()));
                    }
                }
                (Some("listing"), "ListingAwarded" | "CompletionAccepted") => {
                    match decode::<ListingEvent>(event) {
                        Ok(ListingEvent::ListingAwarded {
                            listing_id, winner, ..
                        }) => {
                            leads.insert(("bid", bid_key(&listing_id, &winner)));
                        }
                        Ok(ListingEvent::CompletionAccepted {
                            listing_id,
                            village,
                            ..
                        }) => {
                            leads.insert(("bid", bid_key(&listing_id, &village)));
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // (An event that does not decode is left to `apply`, which names it.)
        let mut leads: Vec<_> = leads.into_iter().collect();
        leads.sort();
        let mut grids: Vec<_> = grids.into_iter().collect();
        grids.sort();
        let mut lookups = by_values(
            &leads,
            2,
            "select 'lead', l.kind, l.key, l.person from {leaderboard_leads} l \
             join (values {}) v on l.kind = v.column1 and l.key = v.column2",
            |(kind, key)| vec![Arg::from(*kind), Arg::from(key.as_str())],
        );
        lookups.extend(by_values(
            &grids,
            1,
            "select 'grid', s.grid, s.id, s.scope from {leaderboard_subjects} s \
             join (values {}) v on s.grid = v.column1 where s.active = 1",
            |grid| vec![Arg::from(grid.as_str())],
        ));
        lookups
    }

    /// From the rows the lookups read.
    pub(super) fn from_rows(rows: Vec<Vec<Vec<Option<String>>>>) -> Self {
        let mut state = Leads::default();
        for row in rows.into_iter().flatten() {
            let mut columns = row.into_iter();
            let mut next = || columns.next().flatten().unwrap_or_default();
            match next().as_str() {
                "lead" => {
                    let (kind, key, person) = (next(), next(), next());
                    state.leads.insert((kind, key), person);
                }
                "grid" => {
                    let (grid, id, scope) = (next(), next(), next());
                    state.grids.entry(grid).or_default().insert(id, scope);
                }
                _ => {}
            }
        }
        state
    }

    /// The leader of `grid` in office: its person with the smallest id (as `min(id)`).
    pub(super) fn grid_leader(&self, grid: &str) -> Option<&str> {
        self.grids
            .get(grid)
            .and_then(|people| people.keys().next())
            .map(String::as_str)
    }

    /// `person` is on record as leading (kind, key): a procedure started, a bid submitted.
    pub(super) fn lead(&mut self, kind: &str, key: String, person: String) {
        self.leads.insert((kind.to_owned(), key), person);
    }

    /// `person` appointed (again) in `scope`, in `grid` or none: in office there only.
    pub(super) fn appointed(&mut self, person: &str, grid: Option<String>, scope: String) {
        for people in self.grids.values_mut() {
            people.remove(person);
        }
        if let Some(grid) = grid {
            self.grids
                .entry(grid)
                .or_default()
                .insert(person.to_owned(), scope);
        }
    }

    /// `person` left their post in `scope` (a departure from another post changes nothing).
    pub(super) fn departed(&mut self, person: &str, scope: &str) {
        for people in self.grids.values_mut() {
            if people.get(person).is_some_and(|s| s == scope) {
                people.remove(person);
            }
        }
    }
}

/// `sql` for `keys`, [`KEYS_PER_LOOKUP`] at a time: its `{}` is the keys' `values` list,
/// `width` values each, bound from `args`.
fn by_values<K>(keys: &[K], width: usize, sql: &str, args: impl Fn(&K) -> Vec<Arg>) -> Vec<Lookup> {
    keys.chunks(KEYS_PER_LOOKUP)
        .map(|chunk| Lookup {
            sql: sql.replacen("{}", &placeholders(chunk.len(), width), 1),
            args: chunk.iter().flat_map(&args).collect(),
        })
        .collect()
}

/// `($1, $2), ($3, $4)` for `rows` rows of `width` values.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_rows(rows: &[(&str, &str, &str)]) -> Vec<Vec<Vec<Option<String>>>> {
        vec![
            rows.iter()
                .map(|(g, id, scope)| {
                    ["grid", g, id, scope]
                        .iter()
                        .map(|s| Some((*s).to_owned()))
                        .collect()
                })
                .collect(),
        ]
    }

    #[test]
    fn a_grid_is_led_by_its_smallest_id_in_office() {
        let mut state = Leads::from_rows(grid_rows(&[
            ("g1", "p3", "v1"),
            ("g1", "p2", "v1"),
            ("g2", "p9", "v2"),
        ]));
        assert_eq!(state.grid_leader("g1"), Some("p2"));
        // p2 leaves another post: still in office here.
        state.departed("p2", "v9");
        assert_eq!(state.grid_leader("g1"), Some("p2"));
        state.departed("p2", "v1");
        assert_eq!(state.grid_leader("g1"), Some("p3"));
        // p3 moves to g2, p1 arrives in g1.
        state.appointed("p3", Some("g2".into()), "v2".into());
        assert_eq!(state.grid_leader("g1"), None);
        assert_eq!(state.grid_leader("g2"), Some("p3"));
        state.appointed("p1", Some("g1".into()), "v1".into());
        assert_eq!(state.grid_leader("g1"), Some("p1"));
        state.appointed("p1", None, "v1".into());
        assert_eq!(state.grid_leader("g1"), None);
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(3, 1), "($1), ($2), ($3)");
    }
}
