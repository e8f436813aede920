//! The messages of `GET /ws` (docs/REALTIME.md), both ways, and what can be followed.

use crate::error::ErrorCode;
use activities::feed::{FeedEntry, FeedKind};
use contracts::orders::OrderStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum ClientMessage {
    /// The first message: the access token from `POST /auth/login` (unless it came in the
    /// `Sec-WebSocket-Protocol` header).
    Auth { token: String },
    /// Follow an order or a topic from after `after` (0: from its first entry), or a SKU's
    /// stock level.
    Subscribe {
        #[serde(default)]
        order_id: Option<Uuid>,
        #[serde(default)]
        topic: Option<Topic>,
        #[serde(default)]
        sku: Option<String>,
        #[serde(default)]
        after: i64,
    },
    /// Stop following an order, a topic or a SKU.
    Unsubscribe {
        #[serde(default)]
        order_id: Option<Uuid>,
        #[serde(default)]
        topic: Option<Topic>,
        #[serde(default)]
        sku: Option<String>,
    },
}

/// What can be followed besides one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Topic {
    /// Everything about the caller's own orders, by `customer_seq`.
    MyOrders,
    /// The messages sent to the caller (about an order or not), by `customer_seq`.
    Notifications,
    /// Every order's status changes (staff).
    Orders,
    /// Orders entering and leaving manual review (staff).
    ReviewQueue,
    /// Support messages and closings of every conversation (staff).
    SupportInbox,
}

impl Topic {
    /// Whether only staff may follow it.
    pub(super) const fn staff_only(self) -> bool {
        matches!(
            self,
            Topic::Orders | Topic::ReviewQueue | Topic::SupportInbox
        )
    }
}

/// One followed thing: an order, a topic or a SKU's stock, as it appears in messages
/// (`"order_id": …`, `"topic": …` or `"sku": …`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub(super) enum Target {
    /// One order.
    Order { order_id: Uuid },
    /// A topic.
    Topic { topic: Topic },
    /// A SKU's stock level (not an entry of the feed: its level as it changes).
    Stock { sku: String },
}

impl Target {
    /// The target a subscribe or unsubscribe names: exactly one of an order, a topic and a
    /// SKU.
    pub(super) fn named(
        order_id: Option<Uuid>,
        topic: Option<Topic>,
        sku: Option<String>,
    ) -> Result<Self, String> {
        match (order_id, topic, sku) {
            (Some(order_id), None, None) => Ok(Target::Order { order_id }),
            (None, Some(topic), None) => Ok(Target::Topic { topic }),
            (None, None, Some(sku)) if (1..=64).contains(&sku.len()) => Ok(Target::Stock { sku }),
            _ => Err(
                "name one of an `order_id`, a `topic` and a `sku` (1 to 64 characters)".to_owned(),
            ),
        }
    }

    /// Whether `entry` can concern this target at all (its order, any topic; never a SKU):
    /// the cheap test before its cursor and [`Target::wants`] are asked.
    pub(super) fn may_want(&self, entry: &FeedEntry) -> bool {
        match self {
            Target::Order { order_id } => entry.order_id == Some(*order_id),
            Target::Topic { .. } => true,
            Target::Stock { .. } => false,
        }
    }

    /// Whether `entry` (of this target's run, when it has one) is sent to its followers.
    pub(super) fn wants(&self, entry: &FeedEntry) -> bool {
        match self {
            Target::Order { .. } => true,
            Target::Stock { .. } => false,
            Target::Topic { topic } => match topic {
                Topic::MyOrders => entry.order_id.is_some(),
                Topic::Notifications => entry.kind == FeedKind::Notification,
                Topic::Orders => entry.kind == FeedKind::Status,
                Topic::ReviewQueue => entry.kind == FeedKind::Status && about_review(entry),
                Topic::SupportInbox => entry.kind == FeedKind::Support,
            },
        }
    }
}

/// Whether a status entry moves an order into manual review or out of it.
fn about_review(entry: &FeedEntry) -> bool {
    let review = serde_json::json!(OrderStatus::AwaitingReview);
    entry.body.get("status") == Some(&review) || entry.body.get("from") == Some(&review)
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMessage<'a> {
    /// Authenticated.
    Ready { customer_id: Uuid },
    /// Followed; what it holds after `after` comes next (topics without a sequence: only
    /// what happens from now on).
    Subscribed {
        #[serde(flatten)]
        target: Target,
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<i64>,
    },
    /// No longer followed.
    Unsubscribed {
        #[serde(flatten)]
        target: Target,
    },
    /// An entry of a followed order or topic.
    Event {
        #[serde(flatten)]
        target: Target,
        entry: &'a FeedEntry,
    },
    /// A followed SKU's stock level, now.
    Stock { sku: &'a str, available: i64 },
    /// A topic without a sequence may have missed entries: read its list again (REST).
    Resync {
        #[serde(flatten)]
        target: Target,
    },
    /// A refusal; the connection stays open.
    Error {
        code: ErrorCode,
        detail: String,
        #[serde(flatten)]
        target: Option<Target>,
    },
}
