//! A tiny given/when/then harness for the aggregates' tests, and the fixtures they share:
//! 诸暨市枫桥镇 (330681109000) and two of its villages, a catalogue, the usual cadres.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

use crate::aggregate::{Aggregate, CommandContext, DomainEvent};
use crate::people::{Actor, PersonId, Role};
use crate::region::RegionId;

/// A check on a refusal (or a screening reason): which variant was expected.
pub(crate) type Expect<E> = fn(&E) -> bool;

/// Given these events (the stream so far), when `actor` issues `command` at `now`: the
/// events decided, or the refusal.
pub(crate) fn when<A: Aggregate>(
    given: &[A::Event],
    actor: &Actor,
    now: DateTime<Utc>,
    command: A::Command,
) -> Result<Vec<A::Event>, A::Error> {
    let state = A::replay(given);
    state.decide(command, &CommandContext { actor, now })
}

/// `when`, then the given events followed by the new ones; panics on a refusal.
pub(crate) fn then_history<A: Aggregate>(
    given: &[A::Event],
    actor: &Actor,
    now: DateTime<Utc>,
    command: A::Command,
) -> Vec<A::Event>
where
    A::Error: Debug,
{
    let mut history = given.to_vec();
    history.extend(when::<A>(given, actor, now, command).expect("command accepted"));
    history
}

/// The event survives a JSON round trip, and its JSON tag is its stable type name.
pub(crate) fn assert_round_trip<E: DomainEvent + PartialEq + Debug>(event: &E) {
    let json = serde_json::to_value(event).expect("serialises");
    assert_eq!(json["type"], event.event_type(), "tag of {json}");
    assert!(json["payload"].is_object(), "payload of {json}");
    let back: E = serde_json::from_value(json).expect("deserialises");
    assert_eq!(&back, event);
}

pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid time")
        .with_timezone(&Utc)
}

pub(crate) fn region(code: &str) -> RegionId {
    RegionId::parse(code).expect("valid region")
}

pub(crate) fn person(id: &str) -> PersonId {
    PersonId::parse(id).expect("valid person")
}

pub(crate) fn actor(id: &str, role: Role, scope: &RegionId) -> Actor {
    Actor {
        id: person(id),
        role,
        scope: scope.clone(),
    }
}

/// 诸暨市.
pub(crate) fn zhuji() -> RegionId {
    region("330681000000")
}

/// 诸暨市枫桥镇.
pub(crate) fn fengqiao() -> RegionId {
    region("330681109000")
}

/// A village of 枫桥镇 (枫源村 in the demos).
pub(crate) fn fengyuan() -> RegionId {
    region("330681109201")
}

/// Another village of 枫桥镇.
pub(crate) fn village_b() -> RegionId {
    region("330681109202")
}

/// A village of another town (富盛镇, 越城区).
pub(crate) fn jinxi() -> RegionId {
    region("330602108201")
}

pub(crate) fn admin(scope: &RegionId) -> Actor {
    actor("admin", Role::Administrator, scope)
}

pub(crate) fn town_staff() -> Actor {
    actor("staff-wang", Role::TownOfficeStaff, &fengqiao())
}

/// The leader in charge of 综治 (and 民政) in 枫桥镇.
pub(crate) fn zongzhi_leader() -> Actor {
    actor(
        "leader-chen",
        Role::TownLeader {
            duty_areas: vec!["综治".into(), "民政".into()],
        },
        &fengqiao(),
    )
}

/// The leader in charge of 城建 only.
pub(crate) fn chengjian_leader() -> Actor {
    actor(
        "leader-li",
        Role::TownLeader {
            duty_areas: vec!["城建".into()],
        },
        &fengqiao(),
    )
}

pub(crate) fn party_secretary() -> Actor {
    actor("secretary-zhou", Role::PartyCommitteeSecretary, &fengqiao())
}

pub(crate) fn village_secretary(village: &RegionId) -> Actor {
    actor(&format!("vsec-{village}"), Role::VillageSecretary, village)
}

pub(crate) fn village_cadre(village: &RegionId) -> Actor {
    actor(&format!("cadre-{village}"), Role::VillageCadre, village)
}
