//! PlaceOrder as it ran before the weeks-long patch, kept for the orders that started then and
//! still replay (`place_order/before_weeks_long_orders/` in the recorded histories).
//!
//! Risk is checked in an activity of its own after the authorisation, the label is left to the
//! FulfillShipment child, whose signals (the final one included) drive the order, and the
//! customer is told through a SendNotification child per message. Delete it with the patch
//! (docs/VERSIONING.md) once no such order is open; do not change the commands it issues.

use super::{Compensation, PlaceOrder, Stop, classify, patches, read_model_write};
use crate::FulfillShipment;
use crate::options::{child, forward, must_finish};
use contracts::inventory::InventoryActivities;
use contracts::notifications::{Template, TemplateData};
use contracts::orders::{OrderStatus, OrdersActivities, PlaceOrderInput, search};
use contracts::payments::{
    AuthorizePayment, PaymentAuthorization, PaymentsActivities, RiskCheck, SettlePayment,
    idempotency_key,
};
use contracts::shipping::ShipmentStatus;
use contracts::{Service, TaskQueues};
use temporalio_workflow::{
    ActivityExecutionError, ParentClosePolicy, SignalWorkflowOptions, WorkflowContext,
};

impl PlaceOrder {
    /// Writes the order to the read model (locally since `LOCAL_READ_MODEL_WRITES`).
    pub(super) async fn record_legacy(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
    ) -> Result<(), ActivityExecutionError> {
        let local = ctx.patched(patches::LOCAL_READ_MODEL_WRITES);
        let write = OrdersActivities::record_order;
        read_model_write(ctx, queues, local, write, order.clone()).await
    }

    /// The forward steps before the patch.
    pub(super) async fn saga_legacy(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        Self::interrupted(ctx)?;
        Self::reserve(ctx, queues, order).await?;
        done.push(Compensation::ReleaseStock);
        Self::step_status(ctx, queues, OrderStatus::Reserved, None).await?;

        Self::interrupted(ctx)?;
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

        Self::interrupted(ctx)?;
        let check = RiskCheck {
            order_id: order.order_id,
            customer_email: order.customer_email.clone(),
            total: order.total.clone(),
        };
        let risk = ctx
            .execute_activity(
                PaymentsActivities::assess_risk,
                check,
                forward(queues, Service::Payments),
            )
            .await
            .map_err(|err| classify(err, "checking risk"))?;
        if risk.review_required {
            Self::await_review(ctx, queues, risk).await?;
        }
        Self::interrupted(ctx)?;
        Self::step_status(ctx, queues, OrderStatus::Confirmed, None).await?;
        Self::tell(ctx, queues, Template::OrderConfirmed, |_| {}).await;

        Self::fulfil_legacy(ctx, queues, order, authorization, done).await
    }

    /// Ships the order through a child FulfillShipment that buys the label, and follows its
    /// signals to delivery.
    ///
    /// Long, and left so: it is the frozen code of orders from before `WEEKS_LONG_ORDERS`,
    /// which must issue exactly the commands their histories hold; the current code splits
    /// the same steps into one function per shipment status (`shipment.rs`).
    async fn fulfil_legacy(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        authorization: PaymentAuthorization,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        let request = Self::shipment_request(ctx, order);
        let shipment = ctx
            .start_child_workflow(
                FulfillShipment::run,
                request,
                child(
                    queues,
                    Service::Shipping,
                    contracts::shipping::workflow_id(order.order_id),
                    ParentClosePolicy::Abandon,
                ),
            )
            .await
            .map_err(|err| Stop::Unexpected(format!("starting the shipment: {err}")))?;

        let mut cancel_sent = false;
        loop {
            let sent = cancel_sent;
            ctx.wait_condition(move |s: &Self| {
                !s.shipment_inbox.is_empty()
                    || (!sent
                        && !s.past_point_of_no_return
                        && (s.cancel.is_some() || s.authorization_revoked.is_some()))
            })
            .await
            .map_err(|_| Stop::Unexpected("the workflow was cancelled".to_owned()))?;

            let stop_wanted = ctx.state(|s| {
                !s.past_point_of_no_return
                    && (s.cancel.is_some() || s.authorization_revoked.is_some())
            });
            if stop_wanted && !cancel_sent {
                cancel_sent = true;
                let _ = shipment
                    .signal(
                        FulfillShipment::cancel_shipment,
                        "order cancelled".to_owned(),
                        SignalWorkflowOptions::default(),
                    )
                    .await;
                continue;
            }

            let Some(update) = ctx
                .state_mut(|s| (!s.shipment_inbox.is_empty()).then(|| s.shipment_inbox.remove(0)))
            else {
                continue;
            };
            let shipped = |data: &mut TemplateData| {
                data.carrier = Some(update.carrier.clone());
                data.tracking_number = Some(update.tracking_number.clone());
            };
            match update.status {
                ShipmentStatus::LabelCreated => {
                    if ctx.patched(patches::TRACKING_NUMBER_SEARCH_ATTRIBUTE) {
                        ctx.upsert_search_attributes([
                            search::TRACKING_NUMBER.value_set(update.tracking_number.clone())
                        ]);
                    }
                    Self::step_status(ctx, queues, OrderStatus::LabelCreated, None).await?;
                    Self::tell(ctx, queues, Template::LabelCreated, shipped).await;
                }
                ShipmentStatus::InTransit => {
                    if ctx.state(|s| s.past_point_of_no_return) {
                        continue;
                    }
                    ctx.state_mut(|s| {
                        s.past_point_of_no_return = true;
                        if s.cancel.take().is_some() {
                            s.cancel_refused =
                                Some("the carrier had already picked the parcel up".to_owned());
                        }
                    });
                    done.clear();
                    ctx.execute_activity(
                        InventoryActivities::commit_stock,
                        order.order_id,
                        must_finish(queues, Service::Inventory),
                    )
                    .await
                    .map_err(|err| Stop::Unexpected(format!("committing stock: {err}")))?;
                    let capture = SettlePayment {
                        authorization: authorization.clone(),
                        idempotency_key: idempotency_key(
                            ctx.workflow_id(),
                            "capture",
                            authorization.attempt,
                        ),
                    };
                    ctx.execute_activity(
                        PaymentsActivities::capture_payment,
                        capture,
                        must_finish(queues, Service::Payments),
                    )
                    .await
                    .map_err(|err| {
                        Stop::Unexpected(format!(
                            "the parcel shipped but capturing the payment failed: {err}"
                        ))
                    })?;
                    Self::step_status(ctx, queues, OrderStatus::Shipped, None).await?;
                    Self::tell(ctx, queues, Template::Shipped, shipped).await;
                }
                ShipmentStatus::OutForDelivery => {
                    // Since carrier webhooks also tell the order, the news can come twice (an
                    // order's history from before has it once: replay is unchanged).
                    if ctx.state(|s| s.status == OrderStatus::OutForDelivery) {
                        continue;
                    }
                    Self::step_status(ctx, queues, OrderStatus::OutForDelivery, None).await?;
                    Self::tell(ctx, queues, Template::OutForDelivery, shipped).await;
                }
                ShipmentStatus::Delivered => {
                    Self::step_status(ctx, queues, OrderStatus::Delivered, None).await?;
                    Self::tell(ctx, queues, Template::Delivered, shipped).await;
                    let _ = shipment.result().await;
                    return Ok(());
                }
                ShipmentStatus::Exception => {
                    let _ = shipment.result().await;
                    let reason = format!("the carrier could not deliver: {}", update.description);
                    if !ctx.state(|s| s.past_point_of_no_return) {
                        return Err(Stop::Refused(OrderStatus::Failed, reason));
                    }
                    Self::tell(ctx, queues, Template::ShipmentException, |data| {
                        data.reason = Some(update.description.clone());
                    })
                    .await;
                    return Err(Self::refund_in_full(ctx, queues, order, reason).await);
                }
                ShipmentStatus::Cancelled => {
                    let _ = shipment.result().await;
                    Self::interrupted(ctx)?;
                    return Err(Stop::Refused(
                        OrderStatus::Failed,
                        format!("the shipment was cancelled: {}", update.description),
                    ));
                }
            }
        }
    }
}
