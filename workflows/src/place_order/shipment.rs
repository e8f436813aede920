//! PlaceOrder from the label to the door: the FollowParcel child follows the parcel; the
//! order handles its news (the pickup is the point of no return), keeps the authorisation from
//! lapsing while the parcel waits, learns from the child's result how the story ended, and when
//! it ended abnormally after pickup waits for an operator (`needs_attention`).

use super::{Compensation, PlaceOrder, Stop};
use crate::FollowParcel;
use crate::clock::now_ms;
use crate::options::{forward, must_finish, shipment_child};
use contracts::inventory::InventoryActivities;
use contracts::notifications::{Template, TemplateData};
use contracts::orders::{OrderStatus, OrderTerms, PlaceOrderInput, ResolutionAction, search};
use contracts::payments::{
    AuthorizePayment, PaymentAuthorization, PaymentsActivities, RenewalPolicy, SettlePayment,
    idempotency_key,
};
use contracts::shipping::{Label, ParcelToFollow, ShipmentOutcome, ShipmentStatus, ShipmentUpdate};
use contracts::{Service, TaskQueues};
use std::pin::Pin;
use std::time::Duration;
use temporalio_workflow::common::error::IncomingError;
use temporalio_workflow::{
    CancellableFuture, ChildWorkflowExecutionError, SignalWorkflowOptions, WorkflowContext,
};

/// What a shipment run's result future gives.
type ShipmentResult = Result<ShipmentOutcome, ChildWorkflowExecutionError>;

/// How a shipment run's story ended, as the order sees it.
enum ShipmentEnd {
    Delivered,
    /// The carrier lost it or could not deliver it (or the deadline passed).
    Lost(String),
    /// The label was cancelled before pickup.
    Cancelled(String),
    /// The shipment workflow itself failed, was terminated or timed out.
    Abnormal(String),
}

/// What the order does after a shipment run ended.
enum Next {
    Done,
    FollowAgain,
}

impl PlaceOrder {
    /// Announces the label, then follows shipment runs until the parcel's story is settled.
    pub(super) async fn fulfil(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        terms: OrderTerms,
        label: Label,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        let (announced, started) = temporalio_workflow::join!(
            Self::announce_label(ctx, queues, &label),
            Self::start_shipment(ctx, queues, order, &label),
        );
        announced?;
        let mut shipment = started?;
        loop {
            let (ended, ()) = temporalio_workflow::join!(
                Self::watch(ctx, queues, order, shipment, done),
                Self::keep_authorization(ctx, queues, order),
            );
            match Self::after_shipment(ctx, queues, order, terms, ended?).await? {
                Next::Done => return Ok(()),
                Next::FollowAgain => {
                    Self::step_status(ctx, queues, OrderStatus::Shipped, None).await?;
                    shipment = Self::start_shipment(ctx, queues, order, &label).await?;
                }
            }
        }
    }

    /// `label_created`, with the parcel's number in the search attributes (and the customer
    /// told, for orders from before the leaner-orders patch).
    async fn announce_label(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        label: &Label,
    ) -> Result<(), Stop> {
        ctx.state_mut(|s| {
            s.shipment = Some(ShipmentUpdate {
                status: ShipmentStatus::LabelCreated,
                carrier: label.carrier.clone(),
                tracking_number: label.tracking_number.clone(),
                description: "label created".to_owned(),
            });
        });
        let tracking = search::TRACKING_NUMBER.value_set(label.tracking_number.clone());
        Self::set_status_with(ctx, queues, OrderStatus::LabelCreated, None, vec![tracking])
            .await
            .map_err(|err| Stop::Unexpected(format!("recording status: {err}")))?;
        if ctx.state(|s| s.tells_label) {
            Self::tell(ctx, queues, Template::LabelCreated, |data| {
                parcel(data, label);
            })
            .await;
        }
        Ok(())
    }

    /// Starts a FollowParcel run for the label, with a fresh delivery deadline, and answers
    /// its result to come (signals reach it by workflow id, whichever run it is in by then).
    async fn start_shipment(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        label: &Label,
    ) -> Result<Pin<Box<impl CancellableFuture<Output = ShipmentResult>>>, Stop> {
        ctx.state_mut(|s| s.shipment_settled = false);
        let deadline = Duration::from_secs(label.delivery_deadline_secs);
        // Past the shipment's own deadline, so that it is the one to declare the parcel lost.
        let timeout = deadline + deadline / 10 + Duration::from_secs(60);
        ctx.start_child_workflow(
            FollowParcel::run,
            ParcelToFollow {
                order_id: order.order_id,
                order_workflow_id: ctx.workflow_id().to_owned(),
                label: label.clone(),
                progress: None,
            },
            shipment_child(
                queues,
                contracts::shipping::workflow_id(order.order_id),
                timeout,
            ),
        )
        .await
        .map(|started| Box::pin(started.result()))
        .map_err(|err| Stop::Unexpected(format!("starting the shipment: {err}")))
    }

    /// Handles the shipment's news until its run ends, and answers how it ended. Asks it to
    /// cancel the label when the order is stopped before pickup.
    async fn watch(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        mut result: Pin<Box<impl CancellableFuture<Output = ShipmentResult>>>,
        done: &mut Vec<Compensation>,
    ) -> Result<ShipmentEnd, Stop> {
        let mut cancel_sent = false;
        let ended = loop {
            let sent = cancel_sent;
            let woke = temporalio_workflow::select! {
                ended = result => Some(ended),
                _ = ctx.wait_condition(move |s: &Self| {
                    !s.shipment_inbox.is_empty() || (!sent && s.stop_wanted())
                }) => None,
            };
            if let Err(stop) = Self::handle_news(ctx, queues, order, done).await {
                break Err(stop);
            }
            if let Some(ended) = woke {
                break Self::shipment_end(ctx, queues, order, done, ended).await;
            }
            if !cancel_sent && ctx.state(Self::stop_wanted) {
                cancel_sent = true;
                let _ = ctx
                    .external_workflow(contracts::shipping::workflow_id(order.order_id), None)
                    .signal(
                        FollowParcel::cancel_shipment,
                        "order cancelled".to_owned(),
                        SignalWorkflowOptions::default(),
                    )
                    .await;
            }
        };
        ctx.state_mut(|s| s.shipment_settled = true);
        ended
    }

    /// Whether the order must stop a shipment that has not been picked up.
    fn stop_wanted(&self) -> bool {
        !self.past_point_of_no_return
            && (self.cancel.is_some() || self.authorization_revoked.is_some())
    }

    /// Applies the shipment updates received (from the carrier's webhook or from the shipment):
    /// the pickup, then the van, each once. The end of the story comes with the result (updates
    /// about it, from shipments of older orders, are skipped).
    async fn handle_news(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        while let Some(update) =
            ctx.state_mut(|s| (!s.shipment_inbox.is_empty()).then(|| s.shipment_inbox.remove(0)))
        {
            match update.status {
                ShipmentStatus::InTransit => Self::pickup(ctx, queues, order, done).await?,
                ShipmentStatus::OutForDelivery => {
                    Self::pickup(ctx, queues, order, done).await?;
                    // Once: it may come from the carrier's webhook and from the shipment.
                    if ctx.state(|s| s.status) == OrderStatus::Shipped {
                        Self::step_status(ctx, queues, OrderStatus::OutForDelivery, None).await?;
                        Self::tell(ctx, queues, Template::OutForDelivery, |data| {
                            parcel_update(data, &update);
                        })
                        .await;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The carrier has the parcel: the point of no return. Commits the stock and captures the
    /// payment (unless it was captured early) while the customer is told, then `shipped`. A
    /// no-op when it happened already.
    async fn pickup(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
    ) -> Result<(), Stop> {
        let first = ctx.state_mut(|s| {
            if s.past_point_of_no_return {
                return false;
            }
            s.past_point_of_no_return = true;
            if s.cancel.take().is_some() {
                s.cancel_refused = Some("the carrier had already picked the parcel up".to_owned());
            }
            true
        });
        if !first {
            return Ok(());
        }
        // The goods are gone: nothing is undone any more, and what follows must finish.
        done.clear();
        let (held, captured_early, label) =
            ctx.state(|s| (s.authorization.clone(), s.captured_early, s.label.clone()));
        let (committed, captured, ()) = temporalio_workflow::join!(
            ctx.execute_activity(
                InventoryActivities::commit_stock,
                order.order_id,
                must_finish(queues, Service::Inventory),
            ),
            async {
                match held {
                    Some(authorization) if !captured_early => {
                        Self::capture(ctx, queues, authorization).await
                    }
                    _ => Ok(()),
                }
            },
            Self::tell(ctx, queues, Template::Shipped, |data| {
                if let Some(label) = &label {
                    parcel(data, label);
                }
            }),
        );
        committed.map_err(|err| Stop::Unexpected(format!("committing stock: {err}")))?;
        captured.map_err(|err| {
            Stop::Unexpected(format!(
                "the parcel shipped but capturing the payment failed: {err}"
            ))
        })?;
        Self::step_status(ctx, queues, OrderStatus::Shipped, None).await
    }

    /// Takes the authorised money; retried until done.
    async fn capture(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        authorization: PaymentAuthorization,
    ) -> Result<(), temporalio_workflow::ActivityExecutionError> {
        let capture = SettlePayment {
            idempotency_key: idempotency_key(ctx.workflow_id(), "capture", authorization.attempt),
            authorization,
        };
        ctx.execute_activity(
            PaymentsActivities::capture_payment,
            capture,
            must_finish(queues, Service::Payments),
        )
        .await
    }

    /// How the shipment run ended, from its result: whatever happened to it, the order knows.
    async fn shipment_end(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        done: &mut Vec<Compensation>,
        ended: ShipmentResult,
    ) -> Result<ShipmentEnd, Stop> {
        let outcome = match ended {
            Ok(outcome) => outcome,
            Err(err) => return Ok(ShipmentEnd::Abnormal(abnormal(&err))),
        };
        let reason = outcome.reason.unwrap_or_default();
        Ok(match outcome.status {
            ShipmentStatus::Delivered => {
                // Delivered without a pickup event: the parcel left all the same.
                Self::pickup(ctx, queues, order, done).await?;
                ShipmentEnd::Delivered
            }
            ShipmentStatus::Exception => ShipmentEnd::Lost(reason),
            ShipmentStatus::Cancelled => {
                ctx.state_mut(|s| s.label_cancelled = true);
                ShipmentEnd::Cancelled(reason)
            }
            status => {
                ShipmentEnd::Abnormal(format!("the shipment ended while the parcel was {status}"))
            }
        })
    }

    /// Settles the order after a shipment run ended.
    async fn after_shipment(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
        terms: OrderTerms,
        ended: ShipmentEnd,
    ) -> Result<Next, Stop> {
        let picked_up = ctx.state(|s| s.past_point_of_no_return);
        let reason = match ended {
            ShipmentEnd::Delivered => {
                Self::deliver(ctx, queues).await?;
                return Ok(Next::Done);
            }
            ShipmentEnd::Cancelled(reason) => {
                Self::interrupted(ctx)?;
                return Err(Stop::Refused(
                    OrderStatus::Failed,
                    format!("the shipment was cancelled: {reason}"),
                ));
            }
            ShipmentEnd::Lost(reason) if picked_up => {
                Self::tell(ctx, queues, Template::ShipmentException, |data| {
                    data.reason = Some(reason.clone());
                })
                .await;
                let reason = format!("the carrier could not deliver: {reason}");
                return Err(Self::refund_in_full(ctx, queues, order, reason).await);
            }
            ShipmentEnd::Lost(reason) => format!("the carrier could not deliver: {reason}"),
            ShipmentEnd::Abnormal(reason) => reason,
        };
        if !picked_up {
            return Err(Stop::Refused(OrderStatus::Failed, reason));
        }
        match Self::attend(ctx, queues, terms, reason).await? {
            ResolutionAction::RetryShipment => Ok(Next::FollowAgain),
            ResolutionAction::MarkDelivered => {
                Self::deliver(ctx, queues).await?;
                Ok(Next::Done)
            }
            ResolutionAction::Refund => {
                let note = ctx.state(|s| s.reason.clone()).unwrap_or_default();
                Err(Self::refund_in_full(ctx, queues, order, note).await)
            }
        }
    }

    /// `delivered`, and the customer told (`completed` follows at once, with the search
    /// attribute).
    async fn deliver(ctx: &WorkflowContext<Self>, queues: &TaskQueues) -> Result<(), Stop> {
        let label = ctx.state(|s| s.label.clone());
        Self::pass_status(ctx, queues, OrderStatus::Delivered).await?;
        Self::tell(ctx, queues, Template::Delivered, |data| {
            if let Some(label) = &label {
                parcel(data, label);
            }
        })
        .await;
        Ok(())
    }

    /// `needs_attention` until an operator resolves it, or the attention timeout passes (then
    /// the customer is refunded). Answers what to do.
    async fn attend(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        terms: OrderTerms,
        reason: String,
    ) -> Result<ResolutionAction, Stop> {
        ctx.state_mut(|s| s.resolution = None);
        Self::step_status(ctx, queues, OrderStatus::NeedsAttention, Some(reason)).await?;
        let timeout = Duration::from_secs(terms.attention_timeout_secs.max(1));
        let mut timer = Box::pin(ctx.timer(timeout));
        let decided = temporalio_workflow::select! {
            _ = ctx.wait_condition(|s: &Self| s.resolution.is_some()) => true,
            _ = timer => false,
        };
        if decided {
            timer.cancel();
        }
        Ok(ctx.state_mut(|s| match &s.resolution {
            Some(resolution) => resolution.action,
            None => {
                s.reason = Some(format!(
                    "nobody settled the order within {}s after its shipment ended abnormally",
                    timeout.as_secs()
                ));
                ResolutionAction::Refund
            }
        }))
    }

    /// Keeps the authorisation from lapsing while the parcel waits for pickup: when its
    /// validity is nearly over, renews it (or captures it) as the payments service's policy
    /// says. Ends at pickup, with the shipment's story, or once the order is stopped.
    async fn keep_authorization(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        order: &PlaceOrderInput,
    ) {
        loop {
            let Some(wait) = ctx.state(|s| s.renewal_wait(now_ms(ctx))) else {
                return;
            };
            let mut timer = Box::pin(ctx.timer(wait));
            let due = temporalio_workflow::select! {
                _ = timer => true,
                _ = ctx.wait_condition(|s: &Self| s.renewal_over()) => false,
            };
            if !due {
                timer.cancel();
                return;
            }
            if !ctx.state(Self::renewal_over) {
                Self::renew(ctx, queues, order).await;
            }
        }
    }

    /// Nothing to renew any more.
    fn renewal_over(&self) -> bool {
        self.past_point_of_no_return
            || self.shipment_settled
            || self.captured_early
            || self.authorization_revoked.is_some()
            || self.cancel.is_some()
    }

    /// How long until the current authorisation must be renewed, if it must.
    fn renewal_wait(&self, now_ms: u64) -> Option<Duration> {
        if self.renewal_over() {
            return None;
        }
        let validity = self.authorization.as_ref()?.validity?;
        let due_ms = self
            .authorized_at_ms
            .saturating_add(validity.act_after_secs().saturating_mul(1000));
        Some(Duration::from_millis(due_ms.saturating_sub(now_ms)).max(Duration::from_secs(1)))
    }

    /// Renews the authorisation: a new one replaces it and it is voided, or, by policy or when
    /// the card refuses a new one, it is captured while it still holds.
    async fn renew(ctx: &WorkflowContext<Self>, queues: &TaskQueues, order: &PlaceOrderInput) {
        let Some(held) = ctx.state(|s| s.authorization.clone()) else {
            return;
        };
        let policy = held.validity.map(|v| v.renewal).unwrap_or_default();
        if policy == RenewalPolicy::Capture {
            return Self::capture_early(ctx, queues, held).await;
        }
        let attempt = held.attempt + 1;
        let request = AuthorizePayment {
            order_id: order.order_id,
            attempt,
            amount: held.amount.clone(),
            payment_method: order.payment_method.clone(),
            idempotency_key: idempotency_key(ctx.workflow_id(), "authorize", attempt),
        };
        let renewed = ctx
            .execute_activity(
                PaymentsActivities::authorize_payment,
                request,
                forward(queues, Service::Payments),
            )
            .await;
        let Ok(fresh) = renewed else {
            return Self::capture_early(ctx, queues, held).await;
        };
        let now = now_ms(ctx);
        let replaced = ctx.state_mut(|s| {
            if s.past_point_of_no_return || s.captured_early {
                return false;
            }
            s.authorization = Some(fresh.clone());
            s.authorized_at_ms = now;
            true
        });
        // Whichever hold is not the order's now is let go (a failed void lapses by itself).
        let stale = if replaced { held } else { fresh };
        let _ = Self::void(ctx, queues, stale).await;
    }

    /// Captures the authorisation before it lapses, although the parcel has not left; if even
    /// that fails, the order cannot keep its money and is stopped.
    async fn capture_early(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        held: PaymentAuthorization,
    ) {
        let go = ctx.state_mut(|s| {
            let go = !s.past_point_of_no_return && !s.captured_early;
            s.captured_early |= go;
            go
        });
        if !go {
            return;
        }
        if let Err(err) = Self::capture(ctx, queues, held).await {
            ctx.state_mut(|s| {
                s.captured_early = false;
                s.authorization_revoked = Some(format!(
                    "the authorisation could be neither renewed nor captured before it lapsed: {err}"
                ));
            });
        }
    }
}

/// The parcel's carrier and number, for a message.
fn parcel(data: &mut TemplateData, label: &Label) {
    data.carrier = Some(label.carrier.clone());
    data.tracking_number = Some(label.tracking_number.clone());
}

fn parcel_update(data: &mut TemplateData, update: &ShipmentUpdate) {
    data.carrier = Some(update.carrier.clone());
    data.tracking_number = Some(update.tracking_number.clone());
}

/// Why a shipment run that did not complete ended, in words an operator reads.
fn abnormal(err: &ChildWorkflowExecutionError) -> String {
    let how = match err.cause() {
        Some(IncomingError::Terminated(_)) => "was terminated",
        Some(IncomingError::Timeout(_)) => "timed out",
        Some(IncomingError::Cancelled(_)) => "was cancelled",
        _ => "failed",
    };
    format!("the shipment workflow {how}: {err}")
}
