//! The workflow's clock, in the units the contracts carry (Unix milliseconds).

use std::time::UNIX_EPOCH;
use temporalio_workflow::WorkflowContext;

/// The workflow's time (deterministic: the time of the workflow task) in Unix milliseconds.
pub(crate) fn now_ms<W>(ctx: &WorkflowContext<W>) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
