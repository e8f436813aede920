//! Orders' views held in memory by this API instance, kept current by the change feed.
//!
//! `GET /orders/{id}` is what a shop's pages and apps ask most: a customer's page polls it
//! while an order is placed, and again while it travels. Each answer used to be a query,
//! so each one waited for a Postgres backend as well as for the API: about two thirds of
//! its median time at 2 orders a second (1.0 ms then, 0.24–0.39 ms from memory;
//! docs/BENCHMARKS.md, "Order views in memory").
//!
//! The read model of an order (its row, lines and status history) has exactly two writers,
//! `record` and `set_status` in `activities::orders`, and each appends a `status` entry to
//! the change feed in the same transaction. So an instance that hears every such entry
//! ([`FeedHub`]) can hold an order's view and read it again whenever it changes, off the
//! request path, and answer from memory:
//!
//! - It follows the orders it placed (from before it starts their workflow, so the first
//!   entry cannot slip past) and those it was asked about, at most [`CAPACITY`], least
//!   recently asked out first.
//! - A view read after an entry replaces the held one unless it is older (fewer status
//!   changes): two reads in flight may finish in either order.
//! - When the hub may have missed entries (a lost connection, or this follower fell behind),
//!   every held view is dropped and read again when next asked.
//! - A view older than [`FRESH_FOR`] is read again when asked, which bounds how stale an
//!   answer can be even if the hub's connection died without a word.
//!
//! An answer from memory may trail a committed change by the time the notification takes to
//! arrive and the view to be read again: about a millisecond, as a read replica would.

use crate::feed::{FeedHub, FeedNews};
use activities::feed::FeedKind;
use activities::orders::queries::{OrderView, get_order};
use contracts::OrderId;
use lru::LruCache;
use sea_orm::{DatabaseConnection, DbErr};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{Receiver, error::RecvError};

/// How many orders an instance follows (a view of a few lines is about a kilobyte).
pub const CAPACITY: usize = 2048;

/// How long a held view is answered without reading it again, when no entry came meanwhile.
pub const FRESH_FOR: Duration = Duration::from_secs(10);

/// A followed order: its view once read, and when it was read.
type Slot = Option<(Instant, Arc<OrderView>)>;

/// This instance's followed orders (cheap to clone: clones share them).
#[derive(Clone)]
pub struct OrderViews {
    db: DatabaseConnection,
    held: Arc<Mutex<LruCache<OrderId, Slot>>>,
}

impl std::fmt::Debug for OrderViews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderViews").finish_non_exhaustive()
    }
}

impl OrderViews {
    /// Views read from `db`, kept current by `feed`'s news.
    pub fn start(db: &DatabaseConnection, feed: &FeedHub) -> Self {
        let views = Self::with_capacity(db.clone(), CAPACITY);
        tokio::spawn(views.clone().follow(feed.subscribe()));
        views
    }

    fn with_capacity(db: DatabaseConnection, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            db,
            held: Arc::new(Mutex::new(LruCache::new(capacity))),
        }
    }

    /// Follows an order from now on: its view is read as soon as the feed announces it.
    pub fn follow_order(&self, order_id: OrderId) {
        self.lock().get_or_insert(order_id, || None);
    }

    /// The order's view: from memory when held and fresh, else from the database (and
    /// followed from then on). `None` while the read model does not have the order.
    pub async fn get(&self, order_id: OrderId) -> Result<Option<Arc<OrderView>>, DbErr> {
        if let Some(Some((read_at, view))) = self.lock().get(&order_id)
            && read_at.elapsed() < FRESH_FOR
        {
            return Ok(Some(view.clone()));
        }
        self.follow_order(order_id);
        self.read(order_id).await
    }

    /// Reads the order's view and holds it, if the order is still followed and nothing newer
    /// is held.
    async fn read(&self, order_id: OrderId) -> Result<Option<Arc<OrderView>>, DbErr> {
        let read_at = Instant::now();
        let Some(view) = get_order(&self.db, order_id).await?.map(Arc::new) else {
            return Ok(None);
        };
        let mut held = self.lock();
        if let Some(slot) = held.peek_mut(&order_id) {
            let older =
                |(_, held): &(Instant, Arc<OrderView>)| held.history.len() <= view.history.len();
            if slot.as_ref().is_none_or(older) {
                *slot = Some((read_at, view.clone()));
            }
        }
        Ok(Some(view))
    }

    /// Reads a followed order again after each of its status changes, until the news ends.
    async fn follow(self, mut news: Receiver<FeedNews>) {
        loop {
            match news.recv().await {
                Ok(FeedNews::Entry(entry)) if entry.kind == FeedKind::Status => {
                    if let Some(order_id) = entry.order_id.map(OrderId) {
                        self.changed(order_id);
                    }
                }
                Ok(FeedNews::CatchUp) | Err(RecvError::Lagged(_)) => self.forget_all(),
                Ok(_) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// A status change of `order_id` committed: read its view again if it is followed.
    fn changed(&self, order_id: OrderId) {
        if !self.lock().contains(&order_id) {
            return;
        }
        let views = self.clone();
        tokio::spawn(async move {
            if let Err(err) = views.read(order_id).await {
                tracing::warn!(order.id = %order_id, error = %err, "could not read an order's view again");
                views.lock().pop(&order_id);
            }
        });
    }

    /// Drops every held view: entries may have been missed.
    fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<OrderId, Slot>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
