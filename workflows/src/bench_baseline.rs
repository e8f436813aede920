//! BenchBaseline (queue `orders`): the benchmark's ceiling. It calls the no-op activity once on
//! each task queue it is given, in order, with the options PlaceOrder's forward steps use, and
//! does nothing else: no read model, no stock, no money. See `contracts::bench`.

use crate::options::activity_on;
use contracts::bench::{BENCH_BASELINE_WORKFLOW, BaselineInput, BaselineOutcome, BenchActivities};
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

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
                .execute_activity(BenchActivities::noop, activities, activity_on(queue))
                .await?
                + 1;
        }
        Ok(BaselineOutcome { activities })
    }
}
