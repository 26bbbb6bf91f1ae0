//! xingcun-domain: the governance rules of 浙里兴村治社 as pure aggregates.
//!
//! No IO, no async, no clock reads: time comes in through [`aggregate::CommandContext`].

pub mod aggregate;
pub mod catalogue;
pub mod evidence;
pub mod organization;
pub mod people;
pub mod region;
pub mod text;

#[cfg(test)]
mod testing;

pub use aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
pub use catalogue::{
    CatalogueCommand, CatalogueError, CatalogueEvent, CatalogueSnapshot, Category, MatterCatalogue,
    MatterCode, MatterItem, MatterKind, ResponsibleLevel, ScreeningReason,
};
pub use evidence::EvidenceRef;
pub use organization::{
    Jurisdiction, OrganizationCommand, OrganizationError, OrganizationEvent, VillageKind,
};
pub use people::{Actor, PersonId, Role};
pub use region::{GridId, RegionId, RegionLevel};
pub use text::Text;
