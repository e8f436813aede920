//! FollowParcel (`shipment-<order id>`, task queue `shipping`, a child of PlaceOrder): follows
//! a parcel from the label the order bought to its end, for as long as that takes.
//!
//! News arrives first by webhook: the carrier's events come in as the `carrier_event` signal
//! (the API hands the parcel's progress to the order too). Polling the carrier is the fallback,
//! with a back-off: the first poll waits the label's `poll_interval_secs`, each quiet poll
//! doubles the wait up to `poll_max_interval_secs`, and news makes the next wait start over.
//! The poll timer is never restarted for news, so a parcel told about by webhook costs one
//! signal per event; a poll is a local activity (this worker is the shipping service). Each
//! event is applied once (by id) and only if it moves the parcel forward, and recorded in the
//! shipping schema by a local activity. What polling finds is reported to the order
//! (`shipment_update`). How the parcel's story ended is the workflow's result, which the order
//! awaits; a parcel not delivered by its deadline is presumed lost.
//!
//! The history stays bounded whatever the pace outside: when Temporal suggests it, or at
//! [`EVENTS_PER_RUN`] events, the run continues as new and hands everything it knows to the
//! next run ([`TrackingProgress`]): the events seen, the deadline, the back-off. A parcel
//! waiting in silence costs a poll per back-off period, a timer and a local activity (six
//! events): with the defaults (1 min doubling to 6 h), about 28 events a day.
//!
//! The `cancel_shipment` signal before pickup cancels the label; after pickup the carrier
//! refuses, and the parcel goes on. (A signal rather than Temporal's workflow cancellation,
//! which would also cancel the activities still needed after a refused cancel.)
//!
//! It replaced FulfillShipment for new orders as a workflow type of its own rather than a
//! patch: no run is ever half one and half the other, and no run pays for a patch marker.

use crate::PlaceOrder;
use crate::clock::now_ms;
use crate::options::{forward, local_must_finish, local_poll};
use contracts::shipping::{
    FOLLOW_PARCEL_WORKFLOW, Label, ParcelToFollow, QUERY_SHIPMENT, RecordTracking,
    SIGNAL_CANCEL_SHIPMENT, SIGNAL_CARRIER_EVENT, ShipmentOutcome, ShipmentSnapshot,
    ShipmentStatus, ShipmentUpdate, ShippingActivities, TrackParcel, TrackingEvent,
    TrackingProgress,
};
use contracts::{Service, TaskQueues};
use std::time::Duration;
use temporalio_workflow::{
    CancellableFuture as _, ContinueAsNewOptions, SignalWorkflowOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// A run continues as new once its history has this many events (or sooner, when Temporal
/// suggests it): far below Temporal's limits, so no parcel can outgrow them, and small enough
/// that a worker rebuilding the run after a restart replays little (about 18 days of a silent
/// parcel polled every 6 hours).
pub const EVENTS_PER_RUN: u32 = 500;

/// The FollowParcel workflow's state.
#[workflow]
pub struct FollowParcel {
    parcel: ParcelToFollow,
    status: ShipmentStatus,
    /// Events applied, oldest first.
    events: Vec<TrackingEvent>,
    /// Events received and not yet applied.
    inbox: Vec<TrackingEvent>,
    /// Ids of the received events that came by webhook (the API told the order of them).
    by_webhook: Vec<String>,
    /// Why the order asked to stop the shipment, while that is still to be tried.
    cancel_requested: Option<String>,
    /// News came since the last poll: the back-off starts over.
    news_since_poll: bool,
}

/// What woke the tracking loop.
enum Wake {
    Message,
    Tick,
}

#[workflow_methods]
impl FollowParcel {
    #[init]
    fn new(_ctx: &WorkflowContextView, parcel: ParcelToFollow) -> Self {
        let progress = parcel.progress.clone();
        Self {
            status: progress
                .as_ref()
                .map_or(ShipmentStatus::LabelCreated, |p| p.status),
            events: progress
                .as_ref()
                .map(|p| p.events.clone())
                .unwrap_or_default(),
            inbox: progress
                .as_ref()
                .map(|p| p.inbox.clone())
                .unwrap_or_default(),
            by_webhook: Vec::new(),
            cancel_requested: progress.as_ref().and_then(|p| p.cancel_requested.clone()),
            news_since_poll: progress.as_ref().is_some_and(|p| p.news_since_poll),
            parcel,
        }
    }

    /// Follows the parcel to its end: apply news, handle a cancellation, poll when the
    /// back-off says so, end at the deadline, continue as new when the history is long enough.
    #[run(name = FOLLOW_PARCEL_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ShipmentOutcome> {
        let parcel = ctx.state(|s| s.parcel.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Shipping);
        let label = &parcel.label;
        let progress = parcel.progress.as_ref();
        let deadline_at_ms = progress.map_or_else(
            || now_ms(ctx).saturating_add(label.delivery_deadline_secs.saturating_mul(1000)),
            |p| p.deadline_at_ms,
        );
        let mut wait = progress.map_or(label.poll_interval_secs, |p| p.poll_wait_secs);
        let mut tick = Box::pin(ctx.timer(bounded(wait, deadline_at_ms, now_ms(ctx))));
        loop {
            if let Some(outcome) = Self::apply_inbox(ctx).await {
                return Ok(outcome);
            }
            if let Some(outcome) = Self::handle_cancel(ctx, &queues, label).await {
                return Ok(outcome);
            }
            if now_ms(ctx) >= deadline_at_ms {
                tick.cancel();
                let reason = lost(Duration::from_secs(label.delivery_deadline_secs));
                return Ok(Self::finish(ctx, ShipmentStatus::Exception, Some(reason)));
            }
            if Self::history_is_long(ctx) {
                let next = ParcelToFollow {
                    progress: Some(Self::progress(ctx, deadline_at_ms, wait)),
                    ..parcel.clone()
                };
                ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
            }
            let wake = temporalio_workflow::select! {
                _ = tick => Wake::Tick,
                _ = ctx.wait_condition(|s: &Self| {
                    !s.inbox.is_empty() || s.cancel_requested.is_some()
                }) => Wake::Message,
            };
            if matches!(wake, Wake::Tick) && now_ms(ctx) < deadline_at_ms {
                Self::poll_carrier(ctx, label).await;
                wait = Self::next_wait(ctx, label, wait);
                tick = Box::pin(ctx.timer(bounded(wait, deadline_at_ms, now_ms(ctx))));
            }
        }
    }

    /// A carrier's tracking event (from its webhook). Applied once, by event id.
    #[signal(name = SIGNAL_CARRIER_EVENT)]
    pub fn carrier_event(&mut self, _ctx: &mut SyncWorkflowContext<Self>, event: TrackingEvent) {
        self.by_webhook.push(event.event_id.clone());
        self.receive(event);
    }

    /// Asks to stop the shipment: the label is cancelled if the carrier has not picked the
    /// parcel up yet.
    #[signal(name = SIGNAL_CANCEL_SHIPMENT)]
    pub fn cancel_shipment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, reason: String) {
        if !self.status.is_final() {
            self.cancel_requested = Some(reason);
        }
    }

    /// The shipment's live state.
    #[query(name = QUERY_SHIPMENT)]
    pub fn shipment(&self, _ctx: &WorkflowContextView) -> ShipmentSnapshot {
        ShipmentSnapshot {
            status: Some(self.status),
            label: Some(self.parcel.label.clone()),
            events: self.events.clone(),
        }
    }
}

impl FollowParcel {
    fn receive(&mut self, event: TrackingEvent) {
        let seen = |e: &TrackingEvent| e.event_id == event.event_id;
        let ours = self.parcel.label.tracking_number == event.tracking_number;
        if ours && !self.events.iter().any(seen) && !self.inbox.iter().any(seen) {
            self.inbox.push(event);
            self.news_since_poll = true;
        }
    }

    /// The wait before the poll after this one: back to the first interval after news,
    /// doubled up to the cap otherwise.
    fn next_wait(ctx: &WorkflowContext<Self>, label: &Label, wait: u64) -> u64 {
        let news = ctx.state_mut(|s| std::mem::take(&mut s.news_since_poll));
        let max = label.poll_max_interval_secs.max(label.poll_interval_secs);
        if news {
            label.poll_interval_secs
        } else {
            wait.saturating_mul(2).min(max)
        }
    }

    fn history_is_long(ctx: &WorkflowContext<Self>) -> bool {
        (ctx.continue_as_new_suggested() || ctx.history_length() >= EVENTS_PER_RUN)
            && ctx.all_handlers_finished()
    }

    fn progress(ctx: &WorkflowContext<Self>, deadline_at_ms: u64, wait: u64) -> TrackingProgress {
        ctx.state(|s| TrackingProgress {
            status: s.status,
            events: s.events.clone(),
            inbox: s.inbox.clone(),
            cancel_requested: s.cancel_requested.clone(),
            deadline_at_ms,
            poll_wait_secs: wait,
            news_since_poll: s.news_since_poll,
            runs: s.parcel.progress.as_ref().map_or(0, |p| p.runs) + 1,
        })
    }

    /// Cancels the label if the order asked; `Some` when the shipment ends with that.
    async fn handle_cancel(
        ctx: &WorkflowContext<Self>,
        queues: &TaskQueues,
        label: &Label,
    ) -> Option<ShipmentOutcome> {
        ctx.state_mut(|s| s.cancel_requested.take())?;
        let cancelled = ctx
            .execute_activity(
                ShippingActivities::cancel_label,
                label.clone(),
                forward(queues, Service::Shipping),
            )
            .await;
        if cancelled.is_ok() {
            let reason = Some("label cancelled before pickup".to_owned());
            return Some(Self::finish(ctx, ShipmentStatus::Cancelled, reason));
        }
        // The carrier already has the parcel: the parcel goes on, and its tracking says so.
        Self::poll_carrier(ctx, label).await;
        None
    }

    /// Asks the carrier for news; a failed poll just waits for the next tick.
    async fn poll_carrier(ctx: &WorkflowContext<Self>, label: &Label) {
        let request = TrackParcel {
            label: label.clone(),
            as_of_ms: Some(now_ms(ctx)),
        };
        if let Ok(events) = ctx
            .execute_local_activity(ShippingActivities::track_shipment, request, local_poll())
            .await
        {
            ctx.state_mut(|s| {
                for event in events {
                    s.receive(event);
                }
            });
        }
    }

    /// Applies received events in order (recording each with a local activity); returns the
    /// outcome once the parcel's story ends.
    async fn apply_inbox(ctx: &WorkflowContext<Self>) -> Option<ShipmentOutcome> {
        let (received, order_id) =
            ctx.state_mut(|s| (std::mem::take(&mut s.inbox), s.parcel.order_id));
        for event in received {
            let record = RecordTracking {
                order_id,
                event: event.clone(),
            };
            // Retried until it succeeds: a recorded event is never lost.
            let _ = ctx
                .execute_local_activity(
                    ShippingActivities::record_tracking,
                    record,
                    local_must_finish(),
                )
                .await;
            // Whether it moves the parcel on, and whether the carrier's webhook told the order.
            let (moves_forward, by_webhook) = ctx.state_mut(|s| {
                s.events.push(event.clone());
                let moves = s.status.moves_forward(event.status);
                if moves {
                    s.status = event.status;
                }
                let by_webhook = s.by_webhook.contains(&event.event_id);
                s.by_webhook.retain(|id| id != &event.event_id);
                (moves, by_webhook)
            });
            if !moves_forward {
                continue;
            }
            if event.status.is_final() {
                return Some(Self::finish(ctx, event.status, Some(event.description)));
            }
            if !by_webhook {
                Self::report(ctx, &event).await;
            }
        }
        None
    }

    /// Tells the order what polling found.
    async fn report(ctx: &WorkflowContext<Self>, event: &TrackingEvent) {
        let (order, carrier) = ctx.state(|s| {
            (
                s.parcel.order_workflow_id.clone(),
                s.parcel.label.carrier.clone(),
            )
        });
        // An order that is gone has nobody left to tell.
        let _ = ctx
            .external_workflow(order, None)
            .signal(
                PlaceOrder::shipment_update,
                ShipmentUpdate::of_event(&carrier, event),
                SignalWorkflowOptions::default(),
            )
            .await;
    }

    /// The outcome the order reads.
    fn finish(
        ctx: &WorkflowContext<Self>,
        status: ShipmentStatus,
        reason: Option<String>,
    ) -> ShipmentOutcome {
        ctx.state_mut(|s| {
            s.status = status;
            ShipmentOutcome {
                order_id: s.parcel.order_id,
                status,
                label: Some(s.parcel.label.clone()),
                reason,
            }
        })
    }
}

/// Why a parcel never delivered within `deadline` is presumed lost.
fn lost(deadline: Duration) -> String {
    format!(
        "no delivery within {} days: the parcel is presumed lost",
        deadline.as_secs().div_ceil(86_400)
    )
}

/// `wait_secs`, but no later than the deadline, and at least a second.
fn bounded(wait_secs: u64, deadline_at_ms: u64, now_ms: u64) -> Duration {
    let remaining = Duration::from_millis(deadline_at_ms.saturating_sub(now_ms));
    Duration::from_secs(wait_secs.max(1))
        .min(remaining)
        .max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::bounded;
    use std::time::Duration;

    #[test]
    fn a_poll_never_waits_past_the_deadline_nor_less_than_a_second() {
        assert_eq!(bounded(60, 10_000, 0), Duration::from_secs(10));
        assert_eq!(bounded(60, 1_000_000, 0), Duration::from_secs(60));
        assert_eq!(bounded(60, 5, 10), Duration::from_secs(1));
        assert_eq!(bounded(0, 1_000_000, 0), Duration::from_secs(1));
    }
}
