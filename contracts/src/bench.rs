//! The benchmark's ceiling: a no-op workflow that makes the same activity calls, on the same
//! task queues, as PlaceOrder makes before an order is confirmed, with no database or gateway
//! work behind them. `emporium bench --baseline` runs it on the platform's own workers to
//! measure what Temporal alone costs; PlaceOrder's throughput divided by it is what our own code
//! costs on top.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of the ceiling workflow.
pub const BENCH_BASELINE_WORKFLOW: &str = "BenchBaseline";

/// The activity calls to make, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineInput {
    /// The task queue of each call (taken from a real PlaceOrder history).
    pub task_queues: Vec<String>,
}

/// How the ceiling workflow ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineOutcome {
    /// Activity calls made.
    pub activities: u32,
}

/// The no-op activity every service's worker serves, for the ceiling run.
pub struct BenchActivities;

#[activity_definitions]
impl BenchActivities {
    /// Does nothing and answers at once.
    #[activity(name = "BenchNoop")]
    pub fn noop(step: u32) -> Result<u32, ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::bench_activities::Noop;
}
