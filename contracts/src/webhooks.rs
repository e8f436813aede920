//! Merchant webhooks: the DeliverWebhook workflow's contract and the activities it calls.
//!
//! An admin registers endpoints (a URL, the event types it wants, a secret shown once). The
//! notifications service reads the event stream and records one delivery per event and
//! matching endpoint; DeliverWebhook (one run per delivery, id [`workflow_id`]) posts it,
//! signed as the Standard Webhooks specification says, and retries on the schedule its input
//! carries (exponential, over hours) until the endpoint accepts it, refuses it for good (a
//! 4xx other than 408 and 429), or is disabled for failing too long (the admins are then
//! told).

use crate::Uuid;
use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of DeliverWebhook.
pub const DELIVER_WEBHOOK_WORKFLOW: &str = "DeliverWebhook";

/// The workflow id of a delivery's run (a re-send runs under the same id once the last run
/// closed).
pub fn workflow_id(delivery_id: Uuid) -> String {
    format!("webhook-{delivery_id}")
}

/// The notification id of the message telling `admin_email` that an endpoint was disabled.
pub fn disabled_notification_id(endpoint_id: Uuid, delivery_id: Uuid, admin_email: &str) -> String {
    format!("webhook-disabled-{endpoint_id}-{delivery_id}-{admin_email}")
}

/// The default waits between attempts, in seconds: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
/// (about 28 hours in all, as Standard Webhooks senders commonly retry).
pub const DEFAULT_RETRY_SCHEDULE_SECS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// What DeliverWebhook delivers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverWebhookInput {
    /// The delivery (`notifications.webhook_deliveries`): the endpoint and the event.
    pub delivery_id: Uuid,
    /// The waits between attempts: attempt `n + 1` follows attempt `n` after the `n`-th wait,
    /// and after the last there is no more attempt.
    pub retry_schedule_secs: Vec<u64>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not accepted yet; more attempts will come.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// The endpoint refused it for good (4xx other than 408 and 429), or every attempt
    /// failed.
    Failed,
    /// The endpoint was disabled or deleted before it accepted it.
    Abandoned,
}

impl DeliveryStatus {
    /// The snake_case name, as the table stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
            DeliveryStatus::Abandoned,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| format!("unknown delivery status `{s}`"))
    }
}

/// Post a delivery once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptWebhook {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Which attempt of this run (1-based).
    pub attempt: u32,
    /// Whether more attempts follow if this one fails (the last one marks the delivery
    /// failed).
    pub last: bool,
}

/// An endpoint disabled by a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledEndpoint {
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// Its URL.
    pub url: String,
    /// Why, in words an admin reads.
    pub reason: String,
}

/// How one attempt went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    /// The endpoint accepted it.
    Delivered,
    /// The endpoint refused it for good; it is not retried.
    Rejected,
    /// It failed and may be retried; `disabled` when this failure disabled the endpoint.
    Failed {
        /// The endpoint this failure disabled (after failing continuously for too long).
        disabled: Option<DisabledEndpoint>,
    },
    /// The endpoint is disabled or gone: nothing was sent.
    Abandoned,
}

/// How DeliverWebhook ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOutcome {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts this run made.
    pub attempts: u32,
}

/// Webhook activities of the notifications service (task queue `notifications`).
pub struct WebhookActivities;

#[activity_definitions]
impl WebhookActivities {
    /// Signs and posts the delivery's event to its endpoint once, and records the attempt,
    /// the delivery's status and the endpoint's health in one transaction. Only an
    /// infrastructure failure (the database) fails the activity; every answer of the
    /// endpoint is an outcome.
    #[activity(name = "AttemptWebhook")]
    pub fn attempt(request: AttemptWebhook) -> Result<AttemptOutcome, ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::webhook_activities::Attempt;
}
