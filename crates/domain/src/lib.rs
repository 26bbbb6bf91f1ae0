//! xingcun-domain: the governance rules of 浙里兴村治社 as pure aggregates.
//!
//! No IO, no async, no clock reads: time comes in through [`aggregate::CommandContext`].

pub mod aggregate;
pub mod assignment;
pub mod bidding;
pub mod calendar;
pub mod catalogue;
pub mod evidence;
pub mod ledger;
pub mod organization;
pub mod people;
pub mod procedure;
pub mod ranking;
pub mod region;
pub mod settings;
pub mod task;
pub mod text;

#[cfg(test)]
mod testing;

pub use aggregate::{Aggregate, CommandContext, DomainEvent, Rejection};
pub use assignment::{
    Assignee, Assignment, AssignmentCommand, AssignmentError, AssignmentEvent, AssignmentId,
};
pub use bidding::{BiddingError, BiddingRules, Listing, ListingCommand, ListingEvent, ListingId};
pub use catalogue::{
    CatalogueCommand, CatalogueError, CatalogueEvent, CatalogueSnapshot, Category, MatterCatalogue,
    MatterCode, MatterItem, MatterKind, ResponsibleLevel, ScreeningReason,
};
pub use evidence::EvidenceRef;
pub use ledger::{LedgerCommand, LedgerError, LedgerEvent, VillageTaskLedger};
pub use organization::{
    Jurisdiction, OrganizationCommand, OrganizationError, OrganizationEvent, VillageKind,
};
pub use people::{Actor, PersonId, Role};
pub use procedure::{
    Procedure, ProcedureCommand, ProcedureError, ProcedureEvent, ProcedureId, ProcedureRules,
    TownProcedureRules,
};
pub use ranking::{
    IndexDefinition, IndexDefinitionStream, Praise, PraiseCommand, PraiseEvent, RatingSheet,
    lingyan_index,
};
pub use region::{GridId, RegionId, RegionLevel};
pub use settings::{SettingsCommand, SettingsError, SettingsEvent, TaskSettings, TimelinessPolicy};
pub use task::{
    Points, Score, Task, TaskCommand, TaskError, TaskEvent, TaskId, TaskPeriod, TaskSource,
};
pub use text::Text;
