//! RefundPayment (`refund-<refund id>`, task queue `payments`): give money back.
//!
//! Refunds the amount (never more than was captured: the payments service refuses), puts
//! returned goods back into stock if asked, and tells the customer. Idempotent per refund id:
//! the workflow id is the refund id, and so are the refund's and the restock's natural keys.

use crate::notify::notify;
use crate::options::{forward, must_finish};
use contracts::inventory::{InventoryActivities, Restock};
use contracts::notifications::{Recipient, Template, TemplateData};
use contracts::payments::{
    IssueRefund, PaymentsActivities, REFUND_EXCEEDS_CAPTURED, REFUND_PAYMENT_WORKFLOW,
    RefundOutcome, RefundRequest,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::common::error::IncomingError;
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

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
                        status: "refused".to_owned(),
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

        notify(
            ctx,
            &queues,
            format!("refund-{}", request.refund_id),
            Recipient {
                email: Some(request.customer_email.clone()),
                ..Recipient::default()
            },
            Template::Refunded,
            TemplateData {
                order_id: Some(request.order_id),
                amount: Some(refunded.amount.clone()),
                reason: Some(request.reason.clone()),
                ..TemplateData::default()
            },
        )
        .await;

        Ok(RefundOutcome {
            refund_id: request.refund_id,
            order_id: request.order_id,
            status: "refunded".to_owned(),
            amount: Some(refunded.amount),
            reason: None,
        })
    }
}
