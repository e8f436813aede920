//! RefundPayment (`refund-<refund id>`, task queue `payments`): give money back.
//!
//! Refunds the amount (never more than was captured: the payments service refuses), puts
//! returned goods back into stock if asked, and tells the customer (a `NotifyCustomer`
//! activity; refunds from before the patch start a SendNotification child). Idempotent per refund id:
//! the workflow id is the refund id, and so are the refund's and the restock's natural keys.

use crate::notify::{notify, notify_once};
use crate::options::{forward, must_finish};
use contracts::inventory::{InventoryActivities, Restock};
use contracts::notifications::{Recipient, Template, TemplateData};
use contracts::payments::{
    IssueRefund, PaymentsActivities, REFUND_EXCEEDS_CAPTURED, REFUND_PAYMENT_WORKFLOW,
    RefundOutcome, RefundRequest, RefundResult, Refunded,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::common::error::IncomingError;
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The patches of RefundPayment (docs/VERSIONING.md).
pub mod patches {
    /// Since this patch the customer is told with a `NotifyCustomer` activity instead of a
    /// SendNotification child (one workflow run fewer per refund).
    pub const NOTIFICATIONS_AS_ACTIVITIES: &str = "notifications-as-activities";
}

/// The RefundPayment workflow's state.
#[workflow]
pub struct RefundPayment {
    request: RefundRequest,
}

#[workflow_methods]
impl RefundPayment {
    #[init]
    fn new(_ctx: &WorkflowContextView, request: RefundRequest) -> Self {
        Self { request }
    }

    /// Refunds, restocks, notifies.
    #[run(name = REFUND_PAYMENT_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<RefundOutcome> {
        let request = ctx.state(|s| s.request.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Payments);
        let refunded = match Self::issue(ctx, &queues, &request).await? {
            Ok(refunded) => refunded,
            Err(refused) => return Ok(refused),
        };
        if !request.restock.is_empty() {
            let restock = Restock {
                refund_id: request.refund_id,
                lines: request.restock.clone(),
            };
            let options = must_finish(&queues, Service::Inventory);
            ctx.execute_activity(InventoryActivities::restock, restock, options)
                .await?;
        }
        Self::tell_customer(ctx, &queues, &request, &refunded).await;
        Ok(RefundOutcome {
            refund_id: request.refund_id,
            order_id: request.order_id,
            status: RefundResult::Refunded,
            amount: Some(refunded.amount),
            reason: None,
        })
    }
}

impl RefundPayment {
    /// Refunds the money through the payments service: the refund, or the outcome of a
    /// refund the service refused as more than was captured.
    async fn issue(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &RefundRequest,
    ) -> WorkflowResult<Result<Refunded, RefundOutcome>> {
        let issue = IssueRefund {
            refund_id: request.refund_id,
            order_id: request.order_id,
            amount: request.amount.clone(),
            reason: request.reason.clone(),
            idempotency_key: format!("{}/issue", ctx.workflow_id()),
        };
        let options = forward(queues, Service::Payments);
        match ctx
            .execute_activity(PaymentsActivities::issue_refund, issue, options)
            .await
        {
            Ok(refunded) => Ok(Ok(refunded)),
            Err(err) => {
                let refused = match err.reason() {
                    Some(IncomingError::Application(failure))
                        if failure.type_name() == Some(REFUND_EXCEEDS_CAPTURED) =>
                    {
                        Some(failure.to_string())
                    }
                    _ => None,
                };
                match refused {
                    Some(reason) => Ok(Err(RefundOutcome {
                        refund_id: request.refund_id,
                        order_id: request.order_id,
                        status: RefundResult::Refused,
                        amount: None,
                        reason: Some(reason),
                    })),
                    None => Err(err.into()),
                }
            }
        }
    }

    /// Tells the customer what was refunded (a SendNotification child for refunds from
    /// before `NOTIFICATIONS_AS_ACTIVITIES`).
    async fn tell_customer(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &RefundRequest,
        refunded: &Refunded,
    ) {
        let id = format!("refund-{}", request.refund_id);
        let recipient = Recipient {
            email: Some(request.customer_email.clone()),
            ..Recipient::default()
        };
        let data = TemplateData {
            order_id: Some(request.order_id),
            amount: Some(refunded.amount.clone()),
            reason: Some(request.reason.clone()),
            ..TemplateData::default()
        };
        if ctx.patched(patches::NOTIFICATIONS_AS_ACTIVITIES) {
            notify_once(ctx, queues, id, recipient, Template::Refunded, data).await;
        } else {
            notify(ctx, queues, id, recipient, Template::Refunded, data).await;
        }
    }
}
