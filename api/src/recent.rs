//! Orders this API instance placed a moment ago, held in memory for a minute.
//!
//! An order's row appears in the read model with PlaceOrder's first workflow task. Until then
//! `GET /orders/{id}` used to ask Temporal for the workflow's description (its memo and search
//! attributes): under load about two `DescribeWorkflowExecution` per order, work for the
//! server that is the platform's bottleneck (docs/BENCHMARKS.md). The instance that placed the
//! order knows all of that already, and until the row exists the order can only be `pending`:
//! the row is the workflow's first step, before any status change.
//!
//! So each instance keeps what it placed for [`KEPT_FOR`], at most [`CAPACITY`] orders, least
//! recently placed out first; it is asked only when the read model does not have the order, so
//! an entry whose row has landed is never read and simply ages out. Another instance, or this
//! one after a restart, an eviction or that minute, asks the description as before. The
//! minute is far longer than a first workflow task takes at any load the platform sustains,
//! and short enough that an order whose workflow never ran (terminated, or its worker gone) is
//! soon shown as Temporal has it.

use contracts::orders::{OrderLine, PlaceOrderInput};
use contracts::{CustomerId, Money, OrderId};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a placed order is answered from memory.
pub const KEPT_FOR: Duration = Duration::from_secs(60);

/// How many placed orders an instance keeps (a few hundred bytes each): a minute of orders at
/// 30 a second.
pub const CAPACITY: usize = 2048;

/// An order as it was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    /// Whose it is.
    pub customer_id: CustomerId,
    /// Their email.
    pub customer_email: String,
    /// What it contains, priced.
    pub lines: Vec<OrderLine>,
    /// What the customer pays.
    pub total: Money,
}

impl From<&PlaceOrderInput> for PlacedOrder {
    fn from(input: &PlaceOrderInput) -> Self {
        Self {
            customer_id: input.customer_id,
            customer_email: input.customer_email.clone(),
            lines: input.lines.clone(),
            total: input.total.clone(),
        }
    }
}

/// The orders this instance placed in the last [`KEPT_FOR`]; cloning shares them.
#[derive(Clone)]
pub struct RecentOrders {
    orders: Arc<Mutex<LruCache<OrderId, (Instant, PlacedOrder)>>>,
}

impl Default for RecentOrders {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl std::fmt::Debug for RecentOrders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentOrders").finish_non_exhaustive()
    }
}

impl RecentOrders {
    /// An instance's memory of at most `capacity` orders (at least one).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            orders: Arc::new(Mutex::new(LruCache::new(capacity))),
        }
    }

    /// Remembers an order this instance just placed.
    pub fn placed(&self, order_id: OrderId, order: PlacedOrder) {
        self.lock().put(order_id, (Instant::now(), order));
    }

    /// The order as placed here, if it was in the last [`KEPT_FOR`].
    #[must_use]
    pub fn get(&self, order_id: OrderId) -> Option<PlacedOrder> {
        let mut orders = self.lock();
        match orders.peek(&order_id) {
            Some((at, order)) if at.elapsed() < KEPT_FOR => Some(order.clone()),
            Some(_) => {
                orders.pop(&order_id);
                None
            }
            None => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<OrderId, (Instant, PlacedOrder)>> {
        // The cache holds no invariant a panicking holder could break.
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::Currency;
    use uuid::Uuid;

    fn order(cents: i64) -> PlacedOrder {
        PlacedOrder {
            customer_id: CustomerId(Uuid::nil()),
            customer_email: "ada@example.com".to_owned(),
            lines: Vec::new(),
            total: Money::new(cents, Currency::new("EUR").expect("a currency")),
        }
    }

    #[test]
    fn an_order_is_answered_as_it_was_placed() {
        let recent = RecentOrders::default();
        let (id, placed) = (OrderId::new(), order(1250));
        recent.placed(id, placed.clone());
        assert_eq!(recent.get(id), Some(placed));
        assert_eq!(
            recent.get(OrderId::new()),
            None,
            "only what was placed here"
        );
    }

    #[test]
    fn the_least_recently_placed_goes_first_when_full() {
        let recent = RecentOrders::with_capacity(2);
        let (first, second, third) = (OrderId::new(), OrderId::new(), OrderId::new());
        recent.placed(first, order(1));
        recent.placed(second, order(2));
        recent.placed(third, order(3));
        assert_eq!(recent.get(first), None);
        assert_eq!(recent.get(second).map(|o| o.total.amount_minor), Some(2));
        assert_eq!(recent.get(third).map(|o| o.total.amount_minor), Some(3));
        assert_eq!(recent.lock().len(), 2);
    }

    #[test]
    fn an_order_older_than_a_minute_is_asked_of_temporal() {
        let recent = RecentOrders::default();
        let id = OrderId::new();
        let long_ago = Instant::now()
            .checked_sub(KEPT_FOR + Duration::from_secs(1))
            .expect("an instant a minute ago");
        recent.lock().put(id, (long_ago, order(1250)));
        assert_eq!(recent.get(id), None);
        assert!(
            recent.lock().is_empty(),
            "an expired order is dropped when found"
        );
    }
}
