//! The benchmark's no-op activity, served by every service's worker so that
//! `emporium bench --baseline` measures the same workers, queues and Temporal server as the
//! orders it compares with (see `contracts::bench`). It touches nothing.

use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// The no-op activity.
pub struct BenchActivities;

#[activities]
impl BenchActivities {
    #[activity(definition = contracts::bench::activities::Noop)]
    pub async fn noop(
        self: Arc<Self>,
        _ctx: ActivityContext,
        step: u32,
    ) -> Result<u32, ActivityError> {
        Ok(step)
    }
}
