//! What one connection follows, and how each entry of the feed reaches it once and in order.
//!
//! An order, and the caller's own topics (`my_orders`, `notifications`), are numbered runs of
//! the feed: each keeps a [`Cursor`], so an entry is passed on only as the next of its run,
//! and a gap (missed news, a lagging hub) is filled from the table. The staff topics
//! (`orders`, `review_queue`, `support_inbox`) span every customer and have no gap-free
//! number: they pass on what happens while they are followed, and when news may have been
//! missed they say `resync`, and the client reads the list again over REST. A SKU's stock is
//! a level, not a run: the client gets the level now, then each new one; after missed news,
//! the level is read again.

use super::protocol::{ServerMessage, Target, Topic};
use super::{Connection, End};
use crate::error::ErrorCode;
use crate::feed::{Cursor, FeedNews, Step};
use crate::routes::events::recorded_order;
use activities::feed::{FeedEntry, Scope};
use activities::inventory::queries::stock_level;
use axum::http::StatusCode;
use tokio::sync::broadcast::error::RecvError;

/// Most things one connection may follow at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;

impl Connection {
    /// Follows `target` if the caller may, sending what it holds after `after`.
    pub(super) async fn subscribe(&mut self, target: Target, after: i64) -> Result<(), End> {
        if !self.follows.contains_key(&target) && self.follows.len() >= MAX_SUBSCRIPTIONS {
            let detail = format!("a connection follows at most {MAX_SUBSCRIPTIONS} things");
            return self
                .refuse(ErrorCode::TooManySubscriptions, &detail, Some(target))
                .await;
        }
        let scope = match self.may_follow(&target).await {
            Ok(scope) => scope,
            Err((code, detail)) => return self.refuse(code, detail, Some(target)).await,
        };
        let cursor = scope.map(|scope| Cursor::new(scope, after));
        self.follows.insert(target.clone(), cursor);
        let after = cursor.map(|cursor| cursor.last);
        let subscribed = ServerMessage::Subscribed {
            target: target.clone(),
            after,
        };
        self.send(&subscribed).await?;
        self.catch_up(&target).await
    }

    /// The run `target` follows (none for the staff topics and stock), if the caller may
    /// follow it: an order as `GET /orders/{id}` would show it, staff topics to staff, a
    /// SKU's stock to anyone.
    async fn may_follow(
        &self,
        target: &Target,
    ) -> Result<Option<Scope>, (ErrorCode, &'static str)> {
        match target {
            Target::Stock { sku } => match stock_level(&self.state.db, sku).await {
                Ok(Some(_)) => Ok(None),
                Ok(None) => Err((ErrorCode::NotFound, "no such SKU")),
                Err(_) => Err((
                    ErrorCode::ServiceUnavailable,
                    "the stock could not be read just now; subscribe again",
                )),
            },
            Target::Order { order_id } => {
                let order = contracts::OrderId(*order_id);
                match recorded_order(&self.state, self.caller()?, order).await {
                    Ok(()) => Ok(Some(Scope::Order(*order_id))),
                    Err(problem) if problem.status() == StatusCode::NOT_FOUND => {
                        Err((ErrorCode::NotFound, "no such order"))
                    }
                    Err(_) => Err((
                        ErrorCode::ServiceUnavailable,
                        "the order could not be checked just now; subscribe again",
                    )),
                }
            }
            Target::Topic { topic } => {
                let caller = self.caller()?;
                if topic.staff_only() && !caller.is_staff() {
                    return Err((ErrorCode::Forbidden, "this topic needs the operator role"));
                }
                let own = matches!(topic, Topic::MyOrders | Topic::Notifications);
                Ok(own.then_some(Scope::Customer(caller.id.0)))
            }
        }
    }

    /// Stops following `target`.
    pub(super) async fn unsubscribe(&mut self, target: Target) -> Result<(), End> {
        self.follows.remove(&target);
        self.send(&ServerMessage::Unsubscribed { target }).await
    }

    /// Sends what `target`'s run holds after its cursor (nothing for a topic without one; a
    /// SKU's level as it is now).
    async fn catch_up(&mut self, target: &Target) -> Result<(), End> {
        if let Target::Stock { sku } = target {
            return self.send_level(sku).await;
        }
        loop {
            let Some(Some(mut cursor)) = self.follows.get(target).copied() else {
                return Ok(());
            };
            let (page, full) = cursor
                .page(&self.state.db)
                .await
                .map_err(|_| End::Close(1011, "the feed could not be read"))?;
            for entry in &page {
                if cursor.pass(entry) && target.wants(entry) {
                    self.follows.insert(target.clone(), Some(cursor));
                    let event = ServerMessage::Event {
                        target: target.clone(),
                        entry,
                    };
                    self.send(&event).await?;
                }
            }
            self.follows.insert(target.clone(), Some(cursor));
            if !full {
                return Ok(());
            }
        }
    }

    /// Passes the hub's news on to what this connection follows.
    pub(super) async fn on_news(&mut self, news: Result<FeedNews, RecvError>) -> Result<(), End> {
        // Every entry of the whole feed passes here: only what may want it is looked at.
        let followed = |concerned: &dyn Fn(&Target) -> bool| -> Vec<(Target, Option<Cursor>)> {
            self.follows
                .iter()
                .filter(|(target, _)| concerned(target))
                .map(|(target, cursor)| (target.clone(), *cursor))
                .collect()
        };
        match news {
            Ok(FeedNews::Entry(entry)) => {
                for (target, cursor) in followed(&|target| target.may_want(&entry)) {
                    self.on_entry(target, cursor, &entry).await?;
                }
                Ok(())
            }
            Ok(FeedNews::Stock(level)) => {
                let target = Target::Stock {
                    sku: level.sku.clone(),
                };
                if !self.follows.contains_key(&target) {
                    return Ok(());
                }
                let stock = ServerMessage::Stock {
                    sku: &level.sku,
                    available: level.available,
                };
                self.send(&stock).await
            }
            Ok(FeedNews::TokenVersion(customer, version)) => {
                let revoked = self
                    .caller
                    .as_ref()
                    .is_some_and(|caller| caller.id == customer && caller.token_version < version);
                if revoked {
                    return Err(End::Close(super::UNAUTHORISED, "the token was revoked"));
                }
                Ok(())
            }
            Ok(FeedNews::CatchUp) | Err(RecvError::Lagged(_)) => {
                for (target, cursor) in followed(&|_| true) {
                    if cursor.is_some() || matches!(target, Target::Stock { .. }) {
                        self.catch_up(&target).await?;
                    } else {
                        self.send(&ServerMessage::Resync { target }).await?;
                    }
                }
                Ok(())
            }
            Err(RecvError::Closed) => {
                Err(End::Close(super::GOING_AWAY, "the server is restarting"))
            }
        }
    }

    /// Sends the SKU's level as it is now.
    async fn send_level(&mut self, sku: &str) -> Result<(), End> {
        let level = stock_level(&self.state.db, sku)
            .await
            .map_err(|_| End::Close(1011, "the stock could not be read"))?;
        let available = level.map_or(0, |level| level.available);
        self.send(&ServerMessage::Stock { sku, available }).await
    }

    /// Passes one entry on to `target`'s follower, once and in sequence.
    async fn on_entry(
        &mut self,
        target: Target,
        cursor: Option<Cursor>,
        entry: &FeedEntry,
    ) -> Result<(), End> {
        let Some(mut cursor) = cursor else {
            return if target.wants(entry) {
                self.send(&ServerMessage::Event { target, entry }).await
            } else {
                Ok(())
            };
        };
        match cursor.step(entry) {
            Step::Next => {
                cursor.pass(entry);
                self.follows.insert(target.clone(), Some(cursor));
                if target.wants(entry) {
                    self.send(&ServerMessage::Event { target, entry }).await?;
                }
                Ok(())
            }
            Step::Behind => self.catch_up(&target).await,
            Step::Skip => Ok(()),
        }
    }
}
