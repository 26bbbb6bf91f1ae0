//! xingcun-domain: the governance rules of 浙里兴村治社 as pure aggregates.
//!
//! No IO, no async, no clock reads: time comes in through [`aggregate::CommandContext`].

pub mod aggregate;
pub mod evidence;
pub mod people;
pub mod region;
pub mod text;

pub use aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
pub use evidence::EvidenceRef;
pub use text::Text;
pub use people::{Actor, PersonId, Role};
pub use region::{RegionId, RegionLevel};
