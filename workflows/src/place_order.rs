//! PlaceOrder (`order-<id>`, task queue `orders`): the order saga.
//!
//! record → reserve stock → authorise payment → confirm → capture payment → commit stock →
//! completed. Each step that succeeded pushes its compensation; when a later step fails, the
//! compensations run in reverse order (void the payment, release the stock) and retry until
//! they succeed. Business refusals end the order with a status (`rejected`,
//! `payment_failed`) and a completed workflow; unexpected failures end it `failed`, compensated,
//! with a failed workflow so an operator sees it in the Web UI.
//!
//! Capturing the payment is the point of no return: from there on every step must finish.

use crate::options::{forward, must_finish};
use contracts::inventory::{
    InventoryActivities, OUT_OF_STOCK, OutOfStock, ReserveStock, StockLine,
};
use contracts::orders::{
    OrderOutcome, OrderSnapshot, OrderStatus, OrdersActivities, PLACE_ORDER_WORKFLOW,
    PlaceOrderInput, StatusChange,
};
use contracts::payments::{
    AuthorizePayment, PAYMENT_DECLINED, PaymentAuthorization, PaymentDeclined, PaymentsActivities,
    SettlePayment, idempotency_key,
};
use contracts::{Service, TaskQueues};
use temporalio_workflow::common::error::{ApplicationFailure, IncomingError};
use temporalio_workflow::{
    ActivityExecutionError, WorkflowContext, WorkflowContextView, WorkflowResult, workflow,
    workflow_methods,
};

/// Application-failure type with which PlaceOrder fails after an unexpected error.
pub const ORDER_FAILED: &str = "OrderFailed";

/// The PlaceOrder workflow's state: the order and where it stands.
#[workflow]
pub struct PlaceOrder {
    order: PlaceOrderInput,
    status: OrderStatus,
    reason: Option<String>,
    /// Number of status changes written to the read model so far.
    changes: u32,
}

/// Why the saga stopped before completing.
enum Stop {
    /// A business refusal: the order ends with this status and reason.
    Refused(OrderStatus, String),
    /// Anything else: the order ends `failed`, and so does the workflow.
    Unexpected(String),
}

/// Something to undo, pushed when the step that did it succeeded.
enum Compensation {
    ReleaseStock,
    VoidPayment(PaymentAuthorization),
}

#[workflow_methods]
impl PlaceOrder {
    #[init]
    fn new(_ctx: &WorkflowContextView, order: PlaceOrderInput) -> Self {
        Self {
            order,
            status: OrderStatus::Pending,
            reason: None,
            changes: 0,
        }
    }

    /// Runs the order to its end and returns how it ended.
    #[run(name = PLACE_ORDER_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderOutcome> {
        let order = ctx.state(|s| s.order.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Orders);

        ctx.execute_activity(
            OrdersActivities::record_order,
            order.clone(),
            must_finish(&queues, Service::Orders),
        )
        .await?;

        let mut done = Vec::new();
        let stopped = Self::saga(ctx, &queues, &order, &mut done).await;
        let Err(stop) = stopped else {
            Self::set_status(ctx, &queues, OrderStatus::Completed, None).await?;
            return Ok(Self::outcome(ctx));
        };

        for compensation in done.into_iter().rev() {
            Self::compensate(ctx, &queues, &order, compensation).await?;
        }
        match stop {
            Stop::Refused(status, reason) => {
                Self::set_status(ctx, &queues, status, Some(reason)).await?;
                Ok(Self::outcome(ctx))
            }
            Stop::Unexpected(reason) => {
                Self::set_status(ctx, &queues, OrderStatus::Failed, Some(reason.clone())).await?;
                Err(ApplicationFailure::builder(reason)
                    .type_name(ORDER_FAILED.to_owned())
                    .non_retryable(true)
                    .build()
                    .into())
            }
        }
    }

    /// The order as placed and where it stands now.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> OrderSnapshot {
        OrderSnapshot {
            order: self.order.clone(),
            status: self.status,
            reason: self.reason.clone(),
        }
    }
}

impl PlaceOrder {
    /// The forward steps. Every step that succeeds pushes onto `done` what would undo it.
    async fn saga(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        let reserve = ReserveStock {
            order_id: order.order_id,
            lines: order
                .lines
                .iter()
                .map(|line| StockLine {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                })
                .collect(),
        };
        ctx.execute_activity(
            InventoryActivities::reserve_stock,
            reserve,
            forward(queues, Service::Inventory),
        )
        .await
        .map_err(|err| classify(err, "reserving stock"))?;
        done.push(Compensation::ReleaseStock);
        Self::set_status(ctx, queues, OrderStatus::Reserved, None)
            .await
            .map_err(|err| Stop::Unexpected(format!("recording status: {err}")))?;

        let attempt = 1;
        let authorize = AuthorizePayment {
            order_id: order.order_id,
            attempt,
            amount: order.total.clone(),
            payment_method: order.payment_method.clone(),
            idempotency_key: idempotency_key(ctx.workflow_id(), "authorize", attempt),
        };
        let authorization = ctx
            .execute_activity(
                PaymentsActivities::authorize_payment,
                authorize,
                forward(queues, Service::Payments),
            )
            .await
            .map_err(|err| classify(err, "authorising payment"))?;
        done.push(Compensation::VoidPayment(authorization.clone()));
        Self::set_status(ctx, queues, OrderStatus::Confirmed, None)
            .await
            .map_err(|err| Stop::Unexpected(format!("recording status: {err}")))?;

        let capture = SettlePayment {
            authorization,
            idempotency_key: idempotency_key(ctx.workflow_id(), "capture", attempt),
        };
        ctx.execute_activity(
            PaymentsActivities::capture_payment,
            capture,
            forward(queues, Service::Payments),
        )
        .await
        .map_err(|err| classify(err, "capturing payment"))?;

        // Money was taken: from here on, finish.
        done.clear();
        ctx.execute_activity(
            InventoryActivities::commit_stock,
            order.order_id,
            must_finish(queues, Service::Inventory),
        )
        .await
        .map_err(|err| Stop::Unexpected(format!("committing stock: {err}")))?;
        Ok(())
    }

    async fn compensate(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        compensation: Compensation,
    ) -> WorkflowResult<()> {
        match compensation {
            Compensation::ReleaseStock => {
                ctx.execute_activity(
                    InventoryActivities::release_stock,
                    order.order_id,
                    must_finish(queues, Service::Inventory),
                )
                .await?;
            }
            Compensation::VoidPayment(authorization) => {
                let void = SettlePayment {
                    idempotency_key: idempotency_key(
                        ctx.workflow_id(),
                        "void",
                        authorization.attempt,
                    ),
                    authorization,
                };
                ctx.execute_activity(
                    PaymentsActivities::void_payment,
                    void,
                    must_finish(queues, Service::Payments),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Makes `status` the order's status, here and in the read model.
    async fn set_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        reason: Option<String>,
    ) -> Result<(), ActivityExecutionError> {
        let change = ctx.state_mut(|s| {
            s.status = status;
            s.reason = reason.clone();
            s.changes += 1;
            StatusChange {
                order_id: s.order.order_id,
                seq: s.changes,
                status,
                reason,
            }
        });
        ctx.execute_activity(
            OrdersActivities::set_order_status,
            change,
            must_finish(queues, Service::Orders),
        )
        .await
    }

    fn outcome(ctx: &WorkflowContext<Self>) -> OrderOutcome {
        ctx.state(|s| OrderOutcome {
            order_id: s.order.order_id,
            status: s.status,
            reason: s.reason.clone(),
        })
    }
}

/// Sorts an activity failure into a business refusal or an unexpected failure.
fn classify(err: ActivityExecutionError, step: &str) -> Stop {
    if let Some(IncomingError::Application(failure)) = err.reason() {
        match failure.type_name() {
            Some(OUT_OF_STOCK) => {
                let reason = match failure.details::<OutOfStock>() {
                    Ok(Some(short)) => format!(
                        "not enough stock of {}: {} requested, {} available",
                        short.sku, short.requested, short.available
                    ),
                    _ => "not enough stock".to_owned(),
                };
                return Stop::Refused(OrderStatus::Rejected, reason);
            }
            Some(PAYMENT_DECLINED) => {
                let reason = match failure.details::<PaymentDeclined>() {
                    Ok(Some(declined)) => {
                        format!("payment declined ({}): {}", declined.code, declined.message)
                    }
                    _ => "payment declined".to_owned(),
                };
                return Stop::Refused(OrderStatus::PaymentFailed, reason);
            }
            _ => {}
        }
    }
    Stop::Unexpected(format!("{step} failed: {err}"))
}
