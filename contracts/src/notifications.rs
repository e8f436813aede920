//! The notifications domain: the SendNotification workflow's contract and the notifications
//! service's delivery activities.

use crate::{Money, OrderId};
use serde::{Deserialize, Serialize};
use std::fmt;
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of SendNotification.
pub const SEND_NOTIFICATION_WORKFLOW: &str = "SendNotification";

/// The workflow id of a notification: `notification-<id>`. One notification, one workflow id,
/// so a notification can never be sent twice.
pub fn workflow_id(notification_id: &str) -> String {
    format!("notification-{notification_id}")
}

/// The id of the notification about `event` of an order: an order sends each kind once.
pub fn order_notification_id(order_id: OrderId, template: Template) -> String {
    format!("{order_id}-{template}")
}

/// How a notification reaches someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email, over SMTP (or into files in development).
    Email,
    /// A text message through the SMS gateway.
    Sms,
    /// A JSON POST to the recipient's URL.
    Webhook,
}

impl Channel {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Channel::Email, Channel::Sms, Channel::Webhook]
            .into_iter()
            .find(|channel| channel.as_str() == s)
            .ok_or_else(|| format!("unknown channel `{s}`"))
    }
}

/// Where a notification stands: the one list of its states, with the moves between them.
///
/// ```text
/// pending ──► sent
///    └──► failed ──► sent   (a later attempt got through after all)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Recorded before the first attempt; attempts continue.
    Pending,
    /// Delivered through one channel; never sent again.
    Sent,
    /// Every channel kept failing; recorded undeliverable.
    Failed,
}

impl NotificationStatus {
    /// Every status.
    pub const ALL: [NotificationStatus; 3] = [
        NotificationStatus::Pending,
        NotificationStatus::Sent,
        NotificationStatus::Failed,
    ];

    /// The snake_case name, as the database stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
        }
    }

    /// Whether a notification that is `self` may become `next`.
    pub const fn can_become(self, next: NotificationStatus) -> bool {
        matches!(
            (self, next),
            (NotificationStatus::Pending, NotificationStatus::Sent)
                | (NotificationStatus::Pending, NotificationStatus::Failed)
                | (NotificationStatus::Failed, NotificationStatus::Sent)
        )
    }

    /// The statuses a notification can become `next` from (for a conditional update).
    pub fn before(next: NotificationStatus) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|status| status.can_become(next))
            .map(NotificationStatus::as_str)
            .collect()
    }
}

impl std::str::FromStr for NotificationStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown notification status `{s}`"))
    }
}

/// Which message to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// The order is paid for and will be shipped.
    OrderConfirmed,
    /// The payment was declined.
    PaymentFailed,
    /// A label was bought.
    LabelCreated,
    /// The carrier has the parcel.
    Shipped,
    /// On the van.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// The carrier could not deliver it.
    ShipmentException,
    /// Money was refunded.
    Refunded,
    /// The order was cancelled.
    Cancelled,
    /// Items left in a cart for a while.
    AbandonedCart,
    /// A message written by an operator (`subject` and `body` in the data).
    Custom,
    /// The daily sales report to an admin (the day as `subject`, the report as `body`).
    DailySalesReport,
    /// An operator answered the customer's support conversation about an order (the
    /// answer as `body`), sent when the customer was not connected to read it live.
    SupportReply,
    /// A link to set a forgotten password (the link as `body`).
    PasswordReset,
    /// A link to confirm a new email address, sent to that address (the link as `body`).
    EmailChange,
}

impl Template {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Template::OrderConfirmed => "order_confirmed",
            Template::PaymentFailed => "payment_failed",
            Template::LabelCreated => "label_created",
            Template::Shipped => "shipped",
            Template::OutForDelivery => "out_for_delivery",
            Template::Delivered => "delivered",
            Template::ShipmentException => "shipment_exception",
            Template::Refunded => "refunded",
            Template::Cancelled => "cancelled",
            Template::AbandonedCart => "abandoned_cart",
            Template::Custom => "custom",
            Template::DailySalesReport => "daily_sales_report",
            Template::SupportReply => "support_reply",
            Template::PasswordReset => "password_reset",
            Template::EmailChange => "email_change",
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who receives a notification, by channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Email address.
    pub email: Option<String>,
    /// Phone number in E.164 form, for SMS.
    pub phone: Option<String>,
    /// URL for the webhook channel.
    pub webhook_url: Option<String>,
    /// The customer's account, when the recipient has one: the message is then also shown
    /// on their live connections (the change feed). Messages about an order reach its
    /// customer's feed without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<crate::CustomerId>,
}

impl Recipient {
    /// The channels that can reach the recipient, in the order they are tried: email, then
    /// SMS, then the webhook.
    pub fn channels(&self) -> Vec<Channel> {
        [
            (self.email.is_some(), Channel::Email),
            (self.phone.is_some(), Channel::Sms),
            (self.webhook_url.is_some(), Channel::Webhook),
        ]
        .into_iter()
        .filter_map(|(reachable, channel)| reachable.then_some(channel))
        .collect()
    }
}

/// What a template may show. Every field is optional; templates use what they need.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateData {
    /// The order.
    pub order_id: Option<OrderId>,
    /// An amount: the order total, or the refund.
    pub amount: Option<Money>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Why (declines, exceptions, cancellations).
    pub reason: Option<String>,
    /// Subject of a custom message.
    pub subject: Option<String>,
    /// Body of a custom message.
    pub body: Option<String>,
}

/// A notification to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Its id; the workflow id is [`workflow_id`] of it.
    pub notification_id: String,
    /// Who it is for.
    pub recipient: Recipient,
    /// Which message.
    pub template: Template,
    /// What the message shows.
    pub data: TemplateData,
    /// Channels to try, in order: the next is used when one keeps failing.
    pub channels: Vec<Channel>,
}

impl Notification {
    /// The notification `notification_id`, through every channel that can reach the
    /// recipient ([`Recipient::channels`]).
    pub fn new(
        notification_id: String,
        recipient: Recipient,
        template: Template,
        data: TemplateData,
    ) -> Self {
        Self {
            notification_id,
            channels: recipient.channels(),
            recipient,
            template,
            data,
        }
    }

    /// Through `preferred` instead, in that order, when any is given.
    pub fn through(mut self, preferred: Vec<Channel>) -> Self {
        if !preferred.is_empty() {
            self.channels = preferred;
        }
        self
    }
}

/// Deliver a notification through one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliver {
    /// The notification.
    pub notification: Notification,
    /// The channel to use.
    pub channel: Channel,
}

/// A delivered notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Through which channel.
    pub channel: Channel,
    /// The provider's reference (Message-ID, SMS id).
    pub reference: String,
}

/// How SendNotification ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationOutcome {
    /// The notification.
    pub notification_id: String,
    /// The delivery, or `None` when every channel failed.
    pub delivered: Option<Delivery>,
}

/// Mark a notification undeliverable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiveUp {
    /// The notification.
    pub notification: Notification,
    /// The last error.
    pub reason: String,
}

/// How many attempts each channel gets before the next channel is tried.
pub const ATTEMPTS_PER_CHANNEL: u32 = 4;

/// Which channel attempt `attempt` (1-based, as Temporal counts an activity's attempts) of a
/// notification uses: [`ATTEMPTS_PER_CHANNEL`] attempts on each channel in turn, the last
/// channel keeping any attempts beyond. `None` when there is no channel at all.
pub fn channel_for_attempt(channels: &[Channel], attempt: u32) -> Option<(usize, Channel)> {
    let last = channels.len().checked_sub(1)?;
    let turn = usize::try_from(attempt.saturating_sub(1) / ATTEMPTS_PER_CHANNEL).unwrap_or(last);
    let index = turn.min(last);
    Some((index, channels[index]))
}

/// Application-failure type of a channel that cannot reach the recipient at all (no address
/// for it, or it is not configured). Non-retryable: the next channel is tried at once.
pub const CHANNEL_UNAVAILABLE: &str = "ChannelUnavailable";

/// Activities of the notifications service (task queue `notifications`).
pub struct NotificationsActivities;

#[activity_definitions]
impl NotificationsActivities {
    /// Renders and sends the notification through one channel, recording the attempt. A
    /// notification already delivered is not sent again.
    #[activity(name = "DeliverNotification")]
    pub fn deliver(request: Deliver) -> Result<Delivery, ActivityError> {
        unimplemented!()
    }

    /// Sends a notification through its channels, exactly once, as one durable activity:
    /// Temporal retries it with backoff ([`ATTEMPTS_PER_CHANNEL`] attempts per channel, the
    /// caller sets `maximum_attempts` to that times the channels), each attempt uses the
    /// channel [`channel_for_attempt`] names (moving on at once past a channel that cannot
    /// reach the recipient), and every attempt is recorded. A notification already sent is not
    /// sent again (its id is checked in the notifications schema). After the last attempt it
    /// is recorded undeliverable and the activity completes with `delivered: None`: a message
    /// is never worth failing an order for.
    #[activity(name = "NotifyCustomer")]
    pub fn notify(notification: Notification) -> Result<NotificationOutcome, ActivityError> {
        unimplemented!()
    }

    /// Records that no channel could deliver the notification.
    #[activity(name = "GiveUpNotification")]
    pub fn give_up(request: GiveUp) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::notifications_activities::{Deliver, GiveUp, Notify};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_is_sent_or_failed_once_and_read_back_as_stored() {
        use NotificationStatus::{Failed, Pending, Sent};
        for status in NotificationStatus::ALL {
            assert_eq!(status.as_str().parse::<NotificationStatus>(), Ok(status));
            assert!(!status.can_become(status), "{status:?} stays");
            assert!(!status.can_become(Pending), "nothing goes back to pending");
        }
        assert!(!Sent.can_become(Failed), "a sent message stays sent");
        assert_eq!(NotificationStatus::before(Sent), ["pending", "failed"]);
        assert_eq!(NotificationStatus::before(Failed), ["pending"]);
        for channel in [Channel::Email, Channel::Sms, Channel::Webhook] {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
        }
    }

    #[test]
    fn a_notification_goes_through_what_reaches_the_recipient_unless_told_otherwise() {
        let recipient = Recipient {
            email: Some("a@example.com".into()),
            phone: None,
            webhook_url: Some("https://example.com/hook".into()),
            customer_id: None,
        };
        let to = |preferred| {
            Notification::new(
                "n".into(),
                recipient.clone(),
                Template::Custom,
                TemplateData::default(),
            )
            .through(preferred)
            .channels
        };
        assert_eq!(to(vec![]), [Channel::Email, Channel::Webhook]);
        assert_eq!(to(vec![Channel::Sms]), [Channel::Sms]);
        assert!(Recipient::default().channels().is_empty());
    }

    #[test]
    fn each_channel_gets_its_attempts_in_turn_and_the_last_keeps_the_rest() {
        let both = [Channel::Email, Channel::Sms];
        let channel = |attempt| channel_for_attempt(&both, attempt).map(|(_, c)| c);
        assert_eq!(channel(1), Some(Channel::Email));
        assert_eq!(channel(ATTEMPTS_PER_CHANNEL), Some(Channel::Email));
        assert_eq!(channel(ATTEMPTS_PER_CHANNEL + 1), Some(Channel::Sms));
        assert_eq!(channel(3 * ATTEMPTS_PER_CHANNEL), Some(Channel::Sms));
        assert_eq!(channel_for_attempt(&[], 1), None);
    }

    #[test]
    fn a_recipient_is_reached_by_email_then_sms_then_webhook() {
        let everyone = Recipient {
            email: Some("ada@example.com".to_owned()),
            phone: Some("+4915112345678".to_owned()),
            webhook_url: Some("https://example.com/hook".to_owned()),
            customer_id: None,
        };
        assert_eq!(
            everyone.channels(),
            [Channel::Email, Channel::Sms, Channel::Webhook]
        );
        assert!(Recipient::default().channels().is_empty());
    }
}
