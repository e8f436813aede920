//! The ceiling: BenchBaseline (queue `orders`), a no-op workflow that makes the same activity
//! calls, on the same task queues and with the options PlaceOrder's forward steps use, as
//! PlaceOrder makes to confirm an order, with no database or gateway work behind them. Run on
//! the platform's own workers (every service's worker serves the no-op activity when the
//! binary is built with the `bench` feature, see [`register`]), it measures what Temporal alone
//! costs; PlaceOrder's throughput divided by it is what our own code costs on top.

use contracts::Service;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use temporalio_common::ActivityError;
use temporalio_macros::{activities, activity_definitions};
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::ActivityContext;
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

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

/// The no-op activity's definition.
pub struct NoopActivities;

#[activity_definitions]
impl NoopActivities {
    /// Does nothing and answers at once.
    #[activity(name = "BenchNoop")]
    pub fn noop(step: u32) -> Result<u32, ActivityError> {
        unimplemented!()
    }
}

/// The no-op activity, as every worker serves it.
pub struct Noop;

#[activities]
impl Noop {
    #[activity(definition = noop_activities::Noop)]
    pub async fn noop(
        self: Arc<Self>,
        _ctx: ActivityContext,
        step: u32,
    ) -> Result<u32, temporalio_sdk::activities::ActivityError> {
        Ok(step)
    }
}

/// The BenchBaseline workflow's state.
#[workflow]
pub struct BenchBaseline {
    input: BaselineInput,
}

#[workflow_methods]
impl BenchBaseline {
    #[init]
    fn new(_ctx: &WorkflowContextView, input: BaselineInput) -> Self {
        Self { input }
    }

    /// Makes the calls, one after the other.
    #[run(name = BENCH_BASELINE_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<BaselineOutcome> {
        let queues = ctx.state(|s| s.input.task_queues.clone());
        let mut activities = 0;
        for queue in queues {
            activities = ctx
                .execute_activity(
                    NoopActivities::noop,
                    activities,
                    workflows::options::forward_on(queue),
                )
                .await?
                + 1;
        }
        Ok(BaselineOutcome { activities })
    }
}

/// Registers the ceiling on a service's worker: the no-op activity on every worker, the
/// workflow on the orders worker (PlaceOrder's queue).
pub fn register(service: Service, options: &mut WorkerOptions) -> anyhow::Result<()> {
    options.register_activities(Noop);
    if service == Service::Orders {
        options
            .register_workflow::<BenchBaseline>()
            .map_err(|err| anyhow::anyhow!("registering BenchBaseline: {err}"))?;
    }
    Ok(())
}
