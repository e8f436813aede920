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
    RefundOutcome, RefundRequest, RefundResult,
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
        let issue = IssueRefund {
            refund_id: request.refund_id,
            order_id: request.order_id,
            amount: request.amount.clone(),
            reason: request.reason.clone(),
            idempotency_key: format!("{}/issue", ctx.workflow_id()),
        };
        let refunded = match ctx
            .execute_activity(
                PaymentsActivities::issue_refund,
                issue,
                forward(&queues, Service::Payments),
            )
            .await
        {
            Ok(refunded) => refunded,
            Err(err) => {
                if let Some(IncomingError::Application(failure)) = err.reason()
                    && failure.type_name() == Some(REFUND_EXCEEDS_CAPTURED)
                {
                    return Ok(RefundOutcome {
                        refund_id: request.refund_id,
                        order_id: request.order_id,
                        status: RefundResult::Refused,
                        amount: None,
                        reason: Some(failure.to_string()),
                    });
                }
                return Err(err.into());
            }
        };

        if !request.restock.is_empty() {
            ctx.execute_activity(
                InventoryActivities::restock,
                Restock {
                    refund_id: request.refund_id,
                    lines: request.restock.clone(),
                },
                must_finish(&queues, Service::Inventory),
            )
            .await?;
        }

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
            notify_once(ctx, &queues, id, recipient, Template::Refunded, data).await;
        } else {
            notify(ctx, &queues, id, recipient, Template::Refunded, data).await;
        }

        Ok(RefundOutcome {
            refund_id: request.refund_id,
            order_id: request.order_id,
            status: RefundResult::Refunded,
            amount: Some(refunded.amount),
            reason: None,
        })
    }
}
