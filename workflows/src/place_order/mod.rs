//! PlaceOrder (`order-<id>`, task queue `orders`): the order saga, for as long as the order
//! lives (seconds at a counter, weeks when a parcel travels far or gets lost).
//!
//! open the order → reserve stock → authorise payment and check risk (manual review above the
//! threshold: wait for an approve/reject decision, reject on timeout) → confirm: allocate the
//! stock, tell the customer, buy the label → FollowParcel follows the parcel (a child) →
//! capture payment and commit stock when the carrier has the parcel → delivered → completed.
//! The customer hears when the order is confirmed, shipped (picked up, with the tracking
//! number), out for delivery and delivered, and of any refusal, problem or cancellation: one
//! `NotifyCustomer` activity per message. The bought label shows on the order's page, not in
//! the inbox ([`patches::LEANER_ORDERS`]).
//!
//! The payment is authorised *before* the review (DESIGN.md puts the risk check first): an
//! operator then only reviews orders whose card is good, a rejection simply voids the hold, and
//! the provider's events about the authorisation reach an order that can act on them.
//!
//! Every step that succeeded pushes its compensation; when a later step fails, or the order is
//! cancelled, or the provider revokes the authorisation, the compensations run in reverse order
//! (cancel the label, void the payment, release the stock) and retry until they succeed.
//! Business outcomes (`rejected`, `payment_failed`, `cancelled`, `refunded`) complete the
//! workflow; unexpected failures end the order `failed` and fail the workflow, so an operator
//! sees it in the Web UI.
//!
//! The carrier taking the parcel is the point of no return: the stock is committed, the payment
//! captured, and from then on the `cancel` update is refused. The flag that says so is set in
//! the same workflow task that handles the pickup, so no cancellation can slip in between.
//!
//! Every wait has a deadline. The review has its timeout. The shipment child has an execution
//! timeout past its own delivery deadline, and the order learns how it ended from its result,
//! whatever the end (delivered, lost, cancelled, failed, terminated, timed out). A shipment that
//! ends abnormally before pickup is compensated; after pickup the order `needs_attention` until
//! an operator retries the shipment, refunds or marks it delivered (the `resolve` update), or
//! the orders service's attention timeout refunds it. While the parcel waits for pickup, the
//! authorisation is renewed before it lapses (re-authorised, or captured, as the payments
//! service's policy says).
//!
//! The workflow keeps the search attributes `OrderStatus`, `CustomerId`, `OrderTotalCents` and
//! `TrackingNumber` current (`OrderStatus` skips the statuses that last only until the next
//! step: `reserved`, `confirmed`, `delivered`), and answers the `status` query with its live
//! state. Orders started
//! before the weeks-long patch run the code in [`legacy`] to their end.

mod legacy;
mod saga;
mod shipment;

use crate::notify::{notify, notify_once};
use crate::options::{child, forward, local_must_finish, must_finish};
use crate::{Cart, RefundPayment};
use contracts::cart::OrderDeclined;
use contracts::inventory::{
    InventoryActivities, OUT_OF_STOCK, OutOfStock, RESERVATION_LOST, StockLine,
};
use contracts::notifications::{Recipient, Template, TemplateData, order_notification_id};
use contracts::orders::{
    CancelRequest, OrderOutcome, OrderSnapshot, OrderStatus, OrdersActivities,
    PLACE_ORDER_WORKFLOW, PaymentEvent, PlaceOrderInput, QUERY_STATUS, Resolution, ReviewDecision,
    SIGNAL_PAYMENT_EVENT, SIGNAL_SHIPMENT_UPDATE, StatusChange, UPDATE_CANCEL, UPDATE_RESOLVE,
    UPDATE_REVIEW, search,
};
use contracts::payments::{
    PAYMENT_DECLINED, PaymentAuthorization, PaymentDeclined, PaymentsActivities, RefundOutcome,
    RefundRequest, RefundResult, RiskAssessment, SettlePayment, idempotency_key,
    refund_workflow_id,
};
use contracts::shipping::{Label, ShipmentUpdate, ShippingActivities};
use contracts::{Service, TaskQueues, Uuid};
use std::time::Duration;
use temporalio_workflow::common::ActivityDefinition;
use temporalio_workflow::common::data_converters::TemporalDeserializable;
use temporalio_workflow::common::error::{ApplicationFailure, IncomingError};
use temporalio_workflow::common::search_attributes::SearchAttributeUpdate;
use temporalio_workflow::{
    ActivityExecutionError, ParentClosePolicy, SignalWorkflowOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The patches of PlaceOrder: changes made while orders were running, each guarded by
/// `ctx.patched(id)` so a history recorded before the change replays the old way. Retire one
/// as docs/VERSIONING.md says, once no run from before it is open.
pub mod patches {
    /// Since this patch an order upserts the `TrackingNumber` search attribute when its label
    /// is bought.
    pub const TRACKING_NUMBER_SEARCH_ATTRIBUTE: &str = "tracking-number-search-attribute";
    /// Since this patch the order writes its read model (`RecordOrder`, `SetOrderStatus`) with
    /// local activities on its own worker: a marker each instead of a round trip through the
    /// server and an extra workflow task (docs/BENCHMARKS.md).
    pub const LOCAL_READ_MODEL_WRITES: &str = "local-read-model-writes";
    /// Since this patch an order lives right for weeks and asks Temporal for less: it buys the
    /// label itself and learns the shipment's end from the child's result, allocates its stock
    /// when confirmed, renews its authorisation before it lapses, needs an operator's attention
    /// when a shipment ends abnormally after pickup, checks risk in the authorisation's round
    /// trip, and tells the customer with activities instead of a workflow per message. It
    /// implies the two patches above. Checked once, first thing in a run.
    pub const WEEKS_LONG_ORDERS: &str = "weeks-long-orders";
    /// Since this patch an order whose card is declined before it is confirmed tells the cart
    /// it came from (`order_declined`), which takes its lines back. Checked only on that path.
    pub const DECLINE_TELLS_CART: &str = "decline-tells-cart";
    /// Since this patch an order asks Temporal for less (docs/BENCHMARKS.md):
    /// - a delivered order sends its customer the four messages shops send: confirmed, shipped
    ///   (when the carrier has the parcel, with its tracking number), out for delivery,
    ///   delivered. The bought label is no longer a message of its own ("being packed"): the
    ///   order's page and change feed show it. One activity and about one workflow task fewer;
    /// - the order intake starts it with its first search attributes, and the run upserts them
    ///   only if its start lacked them (an API from before). One upsert fewer.
    ///
    /// It implies the weeks-long patch, and is checked in its place, first thing in a run, so
    /// a new order records one patch marker, not two.
    pub const LEANER_ORDERS: &str = "leaner-orders";
}

/// Application-failure type with which PlaceOrder fails after an unexpected error.
pub const ORDER_FAILED: &str = "OrderFailed";

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Which version of the saga a run follows, decided once at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Started before the weeks-long patch: [`legacy`].
    BeforeWeeksLong,
    /// Everything since.
    WeeksLong,
}

/// The PlaceOrder workflow's state.
#[workflow]
pub struct PlaceOrder {
    order: PlaceOrderInput,
    shape: Shape,
    status: OrderStatus,
    reason: Option<String>,
    /// Number of status changes written to the read model so far.
    changes: u32,
    review: Option<ReviewDecision>,
    cancel: Option<CancelRequest>,
    /// Why a cancellation came too late (the carrier already had the parcel).
    cancel_refused: Option<String>,
    payment_events: Vec<PaymentEvent>,
    /// Set when the provider reported the authorisation cancelled or failed, or it could not
    /// be renewed.
    authorization_revoked: Option<String>,
    /// The authorisation that holds the money now (renewals replace it).
    authorization: Option<PaymentAuthorization>,
    /// When it was made, by the workflow's clock (Unix milliseconds).
    authorized_at_ms: u64,
    /// The payment was captured before pickup so that it could not lapse.
    captured_early: bool,
    /// Set in the workflow task that handles the pickup: cancelling is no longer possible.
    past_point_of_no_return: bool,
    /// The label, once bought.
    label: Option<Label>,
    /// The shipment cancelled the label itself.
    label_cancelled: bool,
    /// The current shipment run's story has ended (renewals stop).
    shipment_settled: bool,
    /// The customer was told the order is confirmed.
    told_confirmed: bool,
    /// The customer hears of the bought label too (orders from before the leaner-orders
    /// patch).
    tells_label: bool,
    /// The parcel's latest news.
    shipment: Option<ShipmentUpdate>,
    /// Shipment updates received and not yet handled.
    shipment_inbox: Vec<ShipmentUpdate>,
    /// An operator's decision on an order that needs attention.
    resolution: Option<Resolution>,
}

/// Why the saga stopped before completing.
enum Stop {
    /// A business outcome: the order ends with this status and reason.
    Refused(OrderStatus, String),
    /// Anything else: the order ends `failed`, and so does the workflow.
    Unexpected(String),
}

/// Something to undo, pushed when the step that did it succeeded.
enum Compensation {
    ReleaseStock,
    /// Orders before the patch: void this authorisation.
    VoidPayment(PaymentAuthorization),
    /// Void the current authorisation, or refund if it was captured early.
    ReturnPayment,
    /// Cancel the label, unless the shipment did.
    CancelLabel(Label),
}

#[workflow_methods]
impl PlaceOrder {
    #[init]
    fn new(_ctx: &WorkflowContextView, order: PlaceOrderInput) -> Self {
        Self {
            order,
            shape: Shape::WeeksLong,
            status: OrderStatus::Pending,
            reason: None,
            changes: 0,
            review: None,
            cancel: None,
            cancel_refused: None,
            payment_events: Vec::new(),
            authorization_revoked: None,
            authorization: None,
            authorized_at_ms: 0,
            captured_early: false,
            past_point_of_no_return: false,
            label: None,
            label_cancelled: false,
            shipment_settled: false,
            told_confirmed: false,
            tells_label: false,
            shipment: None,
            shipment_inbox: Vec::new(),
            resolution: None,
        }
    }

    /// Runs the order to its end and returns how it ended.
    #[run(name = PLACE_ORDER_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderOutcome> {
        let order = ctx.state(|s| s.order.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Orders);
        let (shape, leaner) = if ctx.patched(patches::LEANER_ORDERS) {
            (Shape::WeeksLong, true)
        } else if ctx.patched(patches::WEEKS_LONG_ORDERS) {
            (Shape::WeeksLong, false)
        } else {
            (Shape::BeforeWeeksLong, false)
        };
        ctx.state_mut(|s| {
            s.shape = shape;
            s.tells_label = !leaner;
        });
        // Runs from before the patch upserted these whatever their start held (some API
        // versions set them too), and do so again on replay; since, the start decides.
        if !(leaner && ctx.search_attributes().contains_key(&search::CUSTOMER_ID)) {
            ctx.upsert_search_attributes(search::initial(&order));
        }

        let mut done = Vec::new();
        let stopped = match shape {
            Shape::WeeksLong => {
                let terms = ctx
                    .execute_local_activity(
                        OrdersActivities::open_order,
                        order.clone(),
                        local_must_finish(),
                    )
                    .await?;
                Self::saga(ctx, &queues, &order, terms, &mut done).await
            }
            Shape::BeforeWeeksLong => {
                Self::record_legacy(ctx, &queues, &order).await?;
                Self::saga_legacy(ctx, &queues, &order, &mut done).await
            }
        };
        let result = Self::finish(ctx, &queues, &order, stopped, done).await;
        // A `cancel` update waits for its answer: let it give it before the run ends.
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        result
    }

    /// The order as placed and where it stands now.
    #[query(name = QUERY_STATUS)]
    pub fn status(&self, _ctx: &WorkflowContextView) -> OrderSnapshot {
        OrderSnapshot {
            order: self.order.clone(),
            status: self.status,
            reason: self.reason.clone(),
            review: self.review.clone(),
            cancel_requested: self.cancel.clone(),
            payment_events: self.payment_events.clone(),
            payment_captured: self.past_point_of_no_return || self.captured_early,
            shipment: self.shipment.clone(),
        }
    }

    #[update_validator(cancel)]
    fn validate_cancel(
        &self,
        _ctx: &WorkflowContextView,
        request: &CancelRequest,
    ) -> Result<(), HandlerError> {
        if request.reason.trim().is_empty() {
            return Err("a cancellation needs a reason".into());
        }
        if self.status.is_terminal() {
            return Err(format!("the order is already {}", self.status).into());
        }
        if self.past_point_of_no_return {
            return Err(
                "the order has already shipped and been paid; it can no longer be cancelled".into(),
            );
        }
        if self.cancel.is_some() {
            return Err("the order is already being cancelled".into());
        }
        Ok(())
    }

    /// Cancels the order: whatever was done is undone and the order ends `cancelled`. Answers
    /// once the order is cancelled, or with the reason it could not be (the carrier had
    /// already picked the parcel up).
    #[update(name = UPDATE_CANCEL)]
    pub async fn cancel(
        ctx: &mut WorkflowContext<Self>,
        request: CancelRequest,
    ) -> Result<OrderOutcome, HandlerError> {
        ctx.state_mut(|s| s.cancel = Some(request));
        ctx.wait_condition(|s| s.status.is_terminal() || s.cancel_refused.is_some())
            .await?;
        if let Some(refused) = ctx.state(|s| s.cancel_refused.clone()) {
            return Err(format!("the order could not be cancelled: {refused}").into());
        }
        let outcome = Self::outcome(ctx);
        if outcome.status == OrderStatus::Cancelled {
            Ok(outcome)
        } else {
            Err(format!(
                "the order could not be cancelled: it ended {}",
                outcome.status
            )
            .into())
        }
    }

    #[update_validator(review)]
    fn validate_review(
        &self,
        _ctx: &WorkflowContextView,
        decision: &ReviewDecision,
    ) -> Result<(), HandlerError> {
        if decision.reviewer.trim().is_empty() {
            return Err("a review decision needs a reviewer".into());
        }
        if self.status != OrderStatus::AwaitingReview || self.review.is_some() {
            return Err(format!("the order is {}, not awaiting review", self.status).into());
        }
        Ok(())
    }

    /// Records an operator's review decision; the order goes on (approve) or ends `rejected`.
    #[update(name = UPDATE_REVIEW)]
    pub fn review(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        decision: ReviewDecision,
    ) -> OrderStatus {
        self.review = Some(decision);
        self.status
    }

    #[update_validator(resolve)]
    fn validate_resolve(
        &self,
        _ctx: &WorkflowContextView,
        resolution: &Resolution,
    ) -> Result<(), HandlerError> {
        if resolution.operator.trim().is_empty() {
            return Err("a resolution needs an operator".into());
        }
        if self.status != OrderStatus::NeedsAttention || self.resolution.is_some() {
            return Err(format!("the order is {}, not needing attention", self.status).into());
        }
        Ok(())
    }

    /// Records an operator's decision on an order that needs attention: retry the shipment,
    /// refund, or mark it delivered.
    #[update(name = UPDATE_RESOLVE)]
    pub fn resolve(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        resolution: Resolution,
    ) -> OrderStatus {
        self.resolution = Some(resolution);
        self.status
    }

    /// A payment provider's event. Applied once per event id; an event that revokes the
    /// current authorisation stops an order that has not captured its payment yet (events
    /// about an authorisation a renewal replaced are recorded and change nothing).
    #[signal(name = SIGNAL_PAYMENT_EVENT)]
    pub fn payment_event(&mut self, _ctx: &mut SyncWorkflowContext<Self>, event: PaymentEvent) {
        if self
            .payment_events
            .iter()
            .any(|seen| seen.event_id == event.event_id)
        {
            return;
        }
        let current = self
            .authorization
            .as_ref()
            .is_none_or(|held| held.provider_ref == event.provider_ref);
        if event.revokes_authorization()
            && current
            && !self.past_point_of_no_return
            && !self.captured_early
        {
            self.authorization_revoked = Some(format!(
                "the payment provider reported {}{}",
                event.event_type,
                event
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
        }
        self.payment_events.push(event);
    }

    /// News of the order's parcel: from its carrier's webhook, or from FollowParcel's polling
    /// (FulfillShipment, for an order from before the weeks-long patch).
    #[signal(name = SIGNAL_SHIPMENT_UPDATE)]
    pub fn shipment_update(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        update: ShipmentUpdate,
    ) {
        self.shipment = Some(update.clone());
        self.shipment_inbox.push(update);
    }
}

impl PlaceOrder {
    /// Ends the run: completed, or compensated and ended with the stop's status.
    async fn finish(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        stopped: Result<(), Stop>,
        done: Vec<Compensation>,
    ) -> WorkflowResult<OrderOutcome> {
        let stop = match stopped {
            Ok(()) => {
                Self::set_status(ctx, queues, OrderStatus::Completed, None).await?;
                return Ok(Self::outcome(ctx));
            }
            Err(stop) => stop,
        };
        for compensation in done.into_iter().rev() {
            Self::compensate(ctx, queues, order, compensation).await?;
        }
        match stop {
            Stop::Refused(status, reason) => {
                if status == OrderStatus::PaymentFailed {
                    Self::tell_cart(ctx, order).await;
                }
                Self::set_status(ctx, queues, status, Some(reason.clone())).await?;
                if let Some(template) = ctx.state(|s| s.farewell(status)) {
                    Self::tell(ctx, queues, template, |data| data.reason = Some(reason)).await;
                }
                Ok(Self::outcome(ctx))
            }
            Stop::Unexpected(reason) => {
                Self::set_status(ctx, queues, OrderStatus::Failed, Some(reason.clone())).await?;
                Err(ApplicationFailure::builder(reason)
                    .type_name(ORDER_FAILED.to_owned())
                    .non_retryable(true)
                    .build()
                    .into())
            }
        }
    }

    /// The card was declined: unless the order was already confirmed, its cart (if it came
    /// from one that still runs) takes its lines back, before the customer sees the status.
    async fn tell_cart(ctx: &WorkflowContext<Self>, order: &PlaceOrderInput) {
        let at_placement = ctx.state(|s| s.shape == Shape::WeeksLong && !s.told_confirmed);
        if !at_placement || !ctx.patched(patches::DECLINE_TELLS_CART) {
            return;
        }
        let cart = ctx.external_workflow(contracts::cart::workflow_id(order.customer_id), None);
        let declined = OrderDeclined {
            order_id: order.order_id,
        };
        // A failure means no cart runs (an order placed without one, or a cart since
        // closed): there is nothing to take back.
        let _no_cart = cart
            .signal(
                Cart::order_declined,
                declined,
                SignalWorkflowOptions::default(),
            )
            .await;
    }

    /// The message an order that ended `status` sends its customer, if any.
    fn farewell(&self, status: OrderStatus) -> Option<Template> {
        match status {
            OrderStatus::PaymentFailed => Some(Template::PaymentFailed),
            OrderStatus::Cancelled => Some(Template::Cancelled),
            // Told it was confirmed, the customer must hear that it will not come after all.
            OrderStatus::Rejected | OrderStatus::Failed if self.told_confirmed => {
                Some(Template::Cancelled)
            }
            _ => None,
        }
    }

    /// Stops the saga if the order was cancelled or its authorisation revoked.
    fn interrupted(ctx: &WorkflowContext<Self>) -> Result<(), Stop> {
        ctx.state(|s| {
            if let Some(cancel) = &s.cancel {
                return Err(Stop::Refused(
                    OrderStatus::Cancelled,
                    format!("cancelled by {}: {}", cancel.requested_by, cancel.reason),
                ));
            }
            if let Some(revoked) = &s.authorization_revoked {
                return Err(Stop::Refused(OrderStatus::PaymentFailed, revoked.clone()));
            }
            Ok(())
        })
    }

    fn stock_lines(order: &PlaceOrderInput) -> Vec<StockLine> {
        order
            .lines
            .iter()
            .map(|line| StockLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
            })
            .collect()
    }

    /// Holds stock for every line, or stops the saga (`rejected` when there is not enough).
    async fn reserve(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
    ) -> Result<(), Stop> {
        let reserve = contracts::inventory::ReserveStock {
            order_id: order.order_id,
            lines: Self::stock_lines(order),
        };
        ctx.execute_activity(
            InventoryActivities::reserve_stock,
            reserve,
            forward(queues, Service::Inventory),
        )
        .await
        .map(|_| ())
        .map_err(|err| classify(err, "reserving stock"))
    }

    /// Waits for an operator's review decision, within the review timeout.
    async fn await_review(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        risk: RiskAssessment,
    ) -> Result<(), Stop> {
        Self::step_status(ctx, queues, OrderStatus::AwaitingReview, risk.reason).await?;
        let timeout = Duration::from_secs(risk.review_timeout_secs);
        let decided = temporalio_workflow::select! {
            _ = ctx.wait_condition(|s: &Self| {
                s.review.is_some() || s.cancel.is_some() || s.authorization_revoked.is_some()
            }) => true,
            _ = ctx.timer(timeout) => false,
        };
        if !decided {
            return Err(Stop::Refused(
                OrderStatus::Rejected,
                format!("no review decision within {}s", timeout.as_secs()),
            ));
        }
        Self::interrupted(ctx)?;
        match ctx.state(|s| s.review.clone()) {
            Some(decision) if decision.approve => Ok(()),
            Some(decision) => Err(Stop::Refused(
                OrderStatus::Rejected,
                format!(
                    "rejected in review by {}{}",
                    decision.reviewer,
                    decision.note.map(|n| format!(": {n}")).unwrap_or_default()
                ),
            )),
            None => Err(Stop::Unexpected(
                "review wait ended without a decision".to_owned(),
            )),
        }
    }

    /// Tells the customer, once per kind of news (the notification id is the order id and the
    /// template).
    async fn tell(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        template: Template,
        fill: impl FnOnce(&mut TemplateData),
    ) {
        let (order, shape) = ctx.state(|s| (s.order.clone(), s.shape));
        let mut data = TemplateData {
            order_id: Some(order.order_id),
            amount: Some(order.total.clone()),
            ..TemplateData::default()
        };
        fill(&mut data);
        let recipient = Recipient {
            email: Some(order.customer_email.clone()),
            phone: order.customer_phone.clone(),
            ..Recipient::default()
        };
        let id = order_notification_id(order.order_id, template);
        match shape {
            Shape::WeeksLong => notify_once(ctx, queues, id, recipient, template, data).await,
            Shape::BeforeWeeksLong => notify(ctx, queues, id, recipient, template, data).await,
        }
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
                Self::void(ctx, queues, authorization).await?;
            }
            Compensation::ReturnPayment => {
                let (held, captured) = ctx.state(|s| (s.authorization.clone(), s.captured_early));
                match (held, captured) {
                    (Some(_), true) => {
                        Self::refund(ctx, queues, order, "the order did not go ahead".to_owned())
                            .await
                            .map_err(|err| ApplicationFailure::new(err.clone()))?;
                    }
                    (Some(authorization), false) => Self::void(ctx, queues, authorization).await?,
                    (None, _) => {}
                }
            }
            Compensation::CancelLabel(label) => {
                if !ctx.state(|s| s.label_cancelled) {
                    // Best effort: a carrier that refuses has the parcel, and the order's
                    // reason says why it ended.
                    let _ = ctx
                        .execute_activity(
                            ShippingActivities::cancel_label,
                            label,
                            forward(queues, Service::Shipping),
                        )
                        .await;
                }
            }
        }
        Ok(())
    }

    /// Releases an authorisation without taking the money; retried until done.
    async fn void(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        authorization: PaymentAuthorization,
    ) -> Result<(), ActivityExecutionError> {
        let void = SettlePayment {
            idempotency_key: idempotency_key(ctx.workflow_id(), "void", authorization.attempt),
            authorization,
        };
        ctx.execute_activity(
            PaymentsActivities::void_payment,
            void,
            must_finish(queues, Service::Payments),
        )
        .await
    }

    /// Refunds everything captured through a child RefundPayment, which tells the customer.
    async fn refund(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        reason: String,
    ) -> Result<RefundOutcome, String> {
        let refund_id = Uuid::parse_str(&ctx.uuid4()).map_err(|err| err.to_string())?;
        let request = RefundRequest {
            refund_id,
            order_id: order.order_id,
            amount: None,
            reason,
            restock: Vec::new(),
            customer_email: order.customer_email.clone(),
            requested_by: "system".to_owned(),
        };
        ctx.start_child_workflow(
            RefundPayment::run,
            request,
            child(
                queues,
                Service::Payments,
                refund_workflow_id(refund_id),
                ParentClosePolicy::Abandon,
            ),
        )
        .await
        .map_err(|err| err.to_string())?
        .result()
        .await
        .map_err(|err| err.to_string())
    }

    /// Refunds everything captured; the order ends `refunded`.
    async fn refund_in_full(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        reason: String,
    ) -> Stop {
        match Self::refund(ctx, queues, order, reason.clone()).await {
            Ok(outcome) if outcome.status == RefundResult::Refunded => Stop::Refused(
                OrderStatus::Refunded,
                format!(
                    "{reason}; refunded {}",
                    outcome.amount.map(|a| a.to_string()).unwrap_or_default()
                ),
            ),
            Ok(outcome) => Stop::Unexpected(format!(
                "{reason}; the refund was refused: {}",
                outcome.reason.unwrap_or_default()
            )),
            Err(err) => Stop::Unexpected(format!("{reason}; the refund failed: {err}")),
        }
    }

    /// [`Self::set_status`] inside the saga, where its failure stops the saga.
    async fn step_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        reason: Option<String>,
    ) -> Result<(), Stop> {
        Self::set_status_with(ctx, queues, status, reason, Vec::new())
            .await
            .map_err(|err| Stop::Unexpected(format!("recording status: {err}")))
    }

    /// Makes `status` the order's status: here, in the search attributes and in the read model.
    async fn set_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        reason: Option<String>,
    ) -> Result<(), ActivityExecutionError> {
        Self::set_status_with(ctx, queues, status, reason, Vec::new()).await
    }

    /// [`Self::set_status`], upserting `more` search attributes in the same command.
    async fn set_status_with(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
        reason: Option<String>,
        more: Vec<SearchAttributeUpdate>,
    ) -> Result<(), ActivityExecutionError> {
        let change = Self::change(ctx, status, reason);
        ctx.upsert_search_attributes(
            std::iter::once(search::ORDER_STATUS.value_set(status.as_str().to_owned())).chain(more),
        );
        Self::write_status(ctx, queues, change).await
    }

    /// Records `status` here and in the read model, leaving the search attributes to the
    /// status that follows in the next step: `reserved` (authorising follows), `confirmed` (the
    /// label follows), `delivered` (`completed` follows). A visibility update fewer each.
    async fn pass_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        status: OrderStatus,
    ) -> Result<(), Stop> {
        let change = Self::change(ctx, status, None);
        Self::write_status(ctx, queues, change)
            .await
            .map_err(|err| Stop::Unexpected(format!("recording status: {err}")))
    }

    /// Makes `status` the workflow's own and numbers the change.
    fn change(
        ctx: &WorkflowContext<Self>,
        status: OrderStatus,
        reason: Option<String>,
    ) -> StatusChange {
        ctx.state_mut(|s| {
            s.status = status;
            s.reason = reason.clone();
            s.changes += 1;
            StatusChange {
                order_id: s.order.order_id,
                seq: s.changes,
                status,
                reason,
            }
        })
    }

    /// Writes a status change to the read model (locally since `LOCAL_READ_MODEL_WRITES`).
    async fn write_status(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        change: StatusChange,
    ) -> Result<(), ActivityExecutionError> {
        let local = ctx.state(|s| s.shape == Shape::WeeksLong)
            || ctx.patched(patches::LOCAL_READ_MODEL_WRITES);
        let write = OrdersActivities::set_order_status;
        read_model_write(ctx, queues, local, write, change).await
    }

    fn outcome(ctx: &WorkflowContext<Self>) -> OrderOutcome {
        ctx.state(|s| OrderOutcome {
            order_id: s.order.order_id,
            status: s.status,
            reason: s.reason.clone(),
        })
    }
}

/// Runs a write to the orders read model: as a local activity on this worker, which owns the
/// schema, when `local`; otherwise through the server on the orders queue, as runs from
/// before `LOCAL_READ_MODEL_WRITES` did.
async fn read_model_write<A>(
    ctx: &WorkflowContext<PlaceOrder>,
    queues: &TaskQueues,
    local: bool,
    write: A,
    input: A::Input,
) -> Result<A::Output, ActivityExecutionError>
where
    A: ActivityDefinition,
    A::Output: TemporalDeserializable,
{
    if local {
        ctx.execute_local_activity(write, input, local_must_finish())
            .await
    } else {
        ctx.execute_activity(write, input, must_finish(queues, Service::Orders))
            .await
    }
}

/// What went wrong in an activity, in its failure's own words (the error's `Display` only says
/// that an activity failed).
fn cause(err: &ActivityExecutionError) -> String {
    match err.reason() {
        Some(reason) => reason.failure().message.clone(),
        None => err.to_string(),
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
            Some(RESERVATION_LOST) => {
                return Stop::Refused(
                    OrderStatus::Rejected,
                    "the stock held for the order was no longer available".to_owned(),
                );
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
