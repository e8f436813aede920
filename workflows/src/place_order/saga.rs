//! PlaceOrder's forward steps up to the label: reserve, authorise (with the risk verdict in
//! the same round trip), review when asked, then confirm, in one workflow task: allocate the
//! stock, tell the customer and buy the label side by side.

use super::{Compensation, PlaceOrder, Stop, cause, classify};
use crate::clock::now_ms;
use crate::options::forward;
use contracts::inventory::InventoryActivities;
use contracts::notifications::Template;
use contracts::orders::{OrderStatus, OrderTerms, PlaceOrderInput};
use contracts::payments::{AuthorizePayment, PaymentsActivities, RiskAssessment, idempotency_key};
use contracts::shipping::{Label, ShipOrder, ShipmentRequest, ShippingActivities};
use contracts::{Service, TaskQueues};
use temporalio_workflow::WorkflowContext;

impl PlaceOrder {
    /// The forward steps. Every step that succeeds pushes onto `done` what would undo it.
    pub(super) async fn saga(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        terms: OrderTerms,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        Self::interrupted(ctx)?;
        Self::reserve(ctx, queues, order).await?;
        done.push(Compensation::ReleaseStock);
        Self::pass_status(ctx, queues, OrderStatus::Reserved).await?;

        Self::interrupted(ctx)?;
        let risk = Self::authorize(ctx, queues, order).await?;
        done.push(Compensation::ReturnPayment);
        Self::interrupted(ctx)?;
        if risk.review_required {
            Self::await_review(ctx, queues, risk).await?;
        }
        Self::interrupted(ctx)?;
        let label = Self::confirm(ctx, queues, order, done).await?;
        Self::interrupted(ctx)?;
        Self::fulfil(ctx, queues, order, terms, label, done).await
    }

    /// Authorises the payment (attempt 1) and answers the risk verdict that came with it.
    async fn authorize(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
    ) -> Result<RiskAssessment, Stop> {
        let attempt = 1;
        let request = AuthorizePayment {
            order_id: order.order_id,
            attempt,
            amount: order.total.clone(),
            payment_method: order.payment_method.clone(),
            idempotency_key: idempotency_key(ctx.workflow_id(), "authorize", attempt),
        };
        let authorized = ctx
            .execute_activity(
                PaymentsActivities::authorize_order,
                request,
                forward(queues, Service::Payments),
            )
            .await
            .map_err(|err| classify(err, "authorising payment"))?;
        let now = now_ms(ctx);
        ctx.state_mut(|s| {
            s.authorization = Some(authorized.authorization);
            s.authorized_at_ms = now;
        });
        Ok(authorized.risk)
    }

    /// Confirms the order: allocates its stock, records and tells `confirmed`, and buys the
    /// label, all three at once. Answers the label.
    async fn confirm(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
    ) -> Result<Label, Stop> {
        ctx.state_mut(|s| s.told_confirmed = true);
        let ship = ShipOrder {
            request: Self::shipment_request(ctx, order),
            idempotency_key: format!("{}/label", contracts::shipping::workflow_id(order.order_id)),
            as_of_ms: now_ms(ctx),
        };
        let (allocated, confirmed, bought) = temporalio_workflow::join!(
            ctx.execute_activity(
                InventoryActivities::allocate_stock,
                order.order_id,
                forward(queues, Service::Inventory),
            ),
            Self::announce(
                ctx,
                queues,
                OrderStatus::Confirmed,
                Template::OrderConfirmed
            ),
            ctx.execute_activity(
                ShippingActivities::ship_order,
                ship,
                forward(queues, Service::Shipping),
            ),
        );
        if let Ok(label) = &bought {
            done.push(Compensation::CancelLabel(label.clone()));
            ctx.state_mut(|s| s.label = Some(label.clone()));
        }
        allocated.map_err(|err| classify(err, "allocating stock"))?;
        confirmed?;
        bought.map_err(|err| {
            Stop::Refused(
                OrderStatus::Failed,
                format!("no label could be bought: {}", cause(&err)),
            )
        })
    }

    /// Records `status` and tells the customer with `template` (the search attribute follows
    /// with the label, the next step).
    pub(super) async fn announce(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        template: Template,
    ) -> Result<(), Stop> {
        Self::pass_status(ctx, queues, status).await?;
        Self::tell(ctx, queues, template, |_| {}).await;
        Ok(())
    }

    /// What the label is bought for.
    pub(super) fn shipment_request(
        ctx: &WorkflowContext<Self>,
        order: &PlaceOrderInput,
    ) -> ShipmentRequest {
        ShipmentRequest {
            order_id: order.order_id,
            notify_workflow_id: ctx.workflow_id().to_owned(),
            address: order.shipping_address.clone(),
            lines: Self::stock_lines(order),
        }
    }
}
