//! xingcun-projections: the read models, folded from the log into SQL tables.
//!
//! The runtime ([`runtime`]) runs each [`Projection`]: it catches up from its checkpoint in
//! batches, follows live appends, rebuilds blue/green when its version changes, and on
//! PostgreSQL runs each projection in exactly one process. The read models, one module
//! each, named after what they show:
//!
//! - [`village_board`]: 属于你的才显示, a village's tasks with status and deadlines;
//! - [`screening_stats`]: screening rejections and the tasks that reached villages;
//! - [`audit_trail`]: every event that concerns a region, in log order, with its hashes;
//! - [`bid_board`]: 揭榜挂帅, listings with their bids (revisions, withdrawals), scores,
//!   winner, 公示, award, milestones and completion;
//! - [`procedure_register`]: 决策程序台账, each village's procedures step by step with their
//!   evidence and returns, and the compliant completions in a scope and period;
//! - [`catalogue`]: 事项清单, every catalogue's items as they stand and every version;
//! - [`directory`]: 名录, regions with their names and people with their current post (the
//!   API resolves a token's person here);
//! - [`town_dashboard`]: 镇街派单看板, a town's tasks with each village's progress, per office
//!   and per leader in charge, and the duplicates (多头派单) flagged;
//! - [`leaderboard`]: 亮榜争先, 兴村治社榜 (villages) and 先锋干部榜 (cadres) by town, county or
//!   city and by month, quarter or year, on points (工分) or on the 领雁指数 under the weights
//!   in force, ranked when asked.
//!
//! Everything in them can be rebuilt from the log (`xingcun rebuild`).

use std::sync::Arc;

pub mod audit_trail;
pub mod batch;
pub mod bid_board;
pub mod catalogue;
pub mod directory;
pub mod leaderboard;
pub mod procedure_register;
pub mod runtime;
pub mod screening_stats;
pub mod sql;
pub mod town_dashboard;
pub mod village_board;

pub use runtime::{
    Build, Pace, Progress, Projection, ProjectionError, ProjectionStatus, Runtime, Step,
};
pub use sql::ReadDb;

/// Every read model, in the order they are built.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(village_board::VillageBoard),
        Arc::new(screening_stats::ScreeningStats),
        Arc::new(audit_trail::AuditTrail),
        Arc::new(town_dashboard::TownDashboard),
        Arc::new(procedure_register::ProcedureRegister),
        Arc::new(bid_board::BidBoard),
        Arc::new(directory::Directory),
        Arc::new(catalogue::Catalogue),
        Arc::new(leaderboard::Leaderboard),
    ]
}
