//! This API instance's ear on the change feed: one `LISTEN` connection per process.
//!
//! The services append to `feed.entries` inside their own transactions; Postgres announces
//! each committed entry on [`activities::feed::CHANNEL`] to every listening instance, so any
//! instance can serve any client whichever instance (or worker) made the change. The hub reads
//! each announced entry once and hands it to every stream of this process through a bounded
//! broadcast channel. A stream that falls behind, or that hears the hub lost its connection
//! (notifications sent meanwhile are gone), catches up from the table by its sequence
//! ([`Cursor`]), so it never skips or repeats an entry. The same connection hears stock
//! levels change ([`STOCK_CHANNEL`]), for live availability: a level is a state, so a stream
//! that may have missed some reads the current one again; and accounts' new token versions
//! ([`TOKENS_CHANNEL`]), which [`crate::auth::Revocations`] follows. Nothing here asks
//! Temporal anything.

use activities::customers::recovery::TOKENS_CHANNEL;
use activities::feed::{CHANNEL, FeedEntry, PAGE, Scope};
use activities::inventory::queries::{STOCK_CHANNEL, StockNews};
use contracts::CustomerId;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseConnection, DbErr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// What the hub tells the streams.
#[derive(Clone, Debug)]
pub enum FeedNews {
    /// An entry committed.
    Entry(Arc<FeedEntry>),
    /// A SKU's stock level changed.
    Stock(Arc<StockNews>),
    /// An account's tokens now need this version (older ones are revoked).
    TokenVersion(CustomerId, u32),
    /// The hub may have missed entries (its connection was lost): read the table again.
    CatchUp,
}

/// What the database announces on [`TOKENS_CHANNEL`].
#[derive(serde::Deserialize)]
struct TokenNews {
    customer_id: uuid::Uuid,
    version: u32,
}

/// Entries a stream may fall behind by before it catches up from the table instead.
const BACKLOG: usize = 1024;

/// The process's feed hub (cheap to clone).
#[derive(Clone)]
pub struct FeedHub {
    news: broadcast::Sender<FeedNews>,
}

impl FeedHub {
    /// Starts listening on `db`'s server (a connection of its own, reconnected when lost).
    /// `db` is a Postgres pool, as every pool of Emporium is.
    pub fn start(db: &DatabaseConnection) -> Self {
        let (news, _) = broadcast::channel(BACKLOG);
        let hub = Self { news };
        let pool = db.get_postgres_connection_pool().clone();
        tokio::spawn(listen(pool, db.clone(), hub.news.clone()));
        hub
    }

    /// News from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedNews> {
        self.news.subscribe()
    }
}

/// Listens until the process ends, reconnecting with a pause; every (re)connection is news
/// that entries may have been missed.
async fn listen(
    pool: sea_orm::sqlx::PgPool,
    db: DatabaseConnection,
    news: broadcast::Sender<FeedNews>,
) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(err) = listener
                    .listen_all([CHANNEL, STOCK_CHANNEL, TOKENS_CHANNEL])
                    .await
                {
                    tracing::warn!(error = %err, "could not LISTEN to the feed");
                } else {
                    let _ = news.send(FeedNews::CatchUp);
                    relay(&mut listener, &db, &news).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "feed listener could not connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Hands each announced entry to the streams until the connection is lost.
async fn relay(
    listener: &mut PgListener,
    db: &DatabaseConnection,
    news: &broadcast::Sender<FeedNews>,
) {
    loop {
        let notification = match listener.try_recv().await {
            Ok(Some(notification)) => notification,
            Ok(None) => {
                tracing::warn!("feed listener lost its connection; streams catch up");
                let _ = news.send(FeedNews::CatchUp);
                continue;
            }
            Err(err) => {
                // Until it listens again, nothing is heard: what is held may grow stale.
                tracing::warn!(error = %err, "feed listener failed; streams catch up");
                let _ = news.send(FeedNews::CatchUp);
                return;
            }
        };
        if notification.channel() == TOKENS_CHANNEL {
            if let Ok(news_of) = serde_json::from_str::<TokenNews>(notification.payload()) {
                let _ = news.send(FeedNews::TokenVersion(
                    CustomerId(news_of.customer_id),
                    news_of.version,
                ));
            }
            continue;
        }
        if notification.channel() == STOCK_CHANNEL {
            if let Ok(level) = serde_json::from_str::<StockNews>(notification.payload()) {
                let _ = news.send(FeedNews::Stock(Arc::new(level)));
            }
            continue;
        }
        let Ok(id) = notification.payload().parse::<i64>() else {
            continue;
        };
        match activities::feed::by_id(db, id).await {
            Ok(Some(entry)) => {
                let _ = news.send(FeedNews::Entry(Arc::new(entry)));
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not read a feed entry; streams catch up");
                let _ = news.send(FeedNews::CatchUp);
            }
        }
    }
}

/// A client's place in one numbered run of the feed (an order's, or a customer's): what the
/// server-sent events and the WebSocket keep per stream, so that each entry goes out once and
/// in order whether it comes from the hub's news or from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The run.
    pub scope: Scope,
    /// The place of the last entry passed on (0: none yet).
    pub last: i64,
}

/// What an entry from the news means to a [`Cursor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The next in sequence: [`Cursor::pass`] it.
    Next,
    /// Later than the next: entries between were missed; [`Cursor::page`] from the table.
    Behind,
    /// Not of this run, or already passed.
    Skip,
}

impl Cursor {
    /// A cursor of `scope` after place `last`.
    pub fn new(scope: Scope, last: i64) -> Self {
        Self {
            scope,
            last: last.max(0),
        }
    }

    /// What `entry` means here.
    pub fn step(&self, entry: &FeedEntry) -> Step {
        match self.scope.place(entry) {
            Some(place) if place == self.last + 1 => Step::Next,
            Some(place) if place > self.last + 1 => Step::Behind,
            _ => Step::Skip,
        }
    }

    /// Moves past `entry` if it is the next in sequence, saying whether it did.
    pub fn pass(&mut self, entry: &FeedEntry) -> bool {
        let next = self.step(entry) == Step::Next;
        if next {
            self.last += 1;
        }
        next
    }

    /// The table's entries after the cursor (at most a page; `true` when there may be more).
    /// Pass each in turn.
    pub async fn page(&self, db: &DatabaseConnection) -> Result<(Vec<FeedEntry>, bool), DbErr> {
        let page = activities::feed::after(db, self.scope, self.last).await?;
        let full = page.len() as u64 == PAGE;
        Ok((page, full))
    }
}
