//! AdjustStock (`stock-adjustment-<id>`, task queue `inventory`): an admin's change to a SKU's
//! units on hand, applied by the inventory service.
//!
//! The API may read the inventory but not write it (each service's database role writes only
//! its own schema), so `POST /inventory/adjustments` starts this workflow and waits for its
//! result. The activity records the adjustment once by its id, so a retried attempt never
//! changes the stock twice. It gives up after the forward-step deadline (the inventory service
//! was down all along) without having changed anything.

use crate::options::forward;
use contracts::inventory::{
    ADJUST_STOCK_WORKFLOW, AdjustStock as Request, InventoryActivities, StockAdjustment,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The AdjustStock workflow's state.
#[workflow]
pub struct AdjustStock {
    request: Request,
}

#[workflow_methods]
impl AdjustStock {
    #[init]
    fn new(_ctx: &WorkflowContextView, request: Request) -> Self {
        Self { request }
    }

    /// Applies the adjustment, or learns why it is refused.
    #[run(name = ADJUST_STOCK_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<StockAdjustment> {
        let request = ctx.state(|s| s.request.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Inventory);
        Ok(ctx
            .execute_activity(
                InventoryActivities::adjust_stock,
                request,
                forward(&queues, Service::Inventory),
            )
            .await?)
    }
}
