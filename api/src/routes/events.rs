//! `GET /orders/{id}/events`: one order's changes as server-sent events, live.
//!
//! The stream first sends what the order's change feed holds after `Last-Event-ID` (all of
//! it without one), then each new entry as it commits, each as an event whose `id` is its
//! sequence in the order's feed and whose `event` is its kind. A client that reconnects with
//! the last id it saw misses nothing and sees nothing twice. Only the order's customer and
//! staff may follow it (404 otherwise, as `GET /orders/{id}`). Reads come from the feed,
//! never from Temporal.

use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::feed::{Cursor, FeedNews, Step};
use crate::openapi::{BadRequest, NotFound};
use crate::routes::orders::visible_order;
use crate::{ApiError, AppState, validate};
use activities::feed::{FeedEntry, Scope};
use activities::orders::queries::get_order;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt as _};
use sea_orm::DatabaseConnection;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// Follows an order's changes, live.
#[utoipa::path(
    get, path = "/orders/{id}/events", operation_id = "orderEvents", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "The order's id."),
        ("Last-Event-ID" = Option<String>, Header, pattern = r"^[0-9]{1,9}$",
            description = "The last event id seen: the stream resumes after it."),
    ),
    responses(
        (status = 200, description = "Server-sent events, one per change of the order (`id`: its sequence; `event`: `status`, `tracking`, `refund`, `notification` or `support`; `data`: a FeedEntry), until the client leaves.",
            content_type = "text/event-stream", body = FeedEntry),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, customer.id = %caller.id))]
pub(crate) async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let order_id = validate::order_id(&id)?;
    let last = last_event_id(&headers)?;
    recorded_order(&state, &caller, order_id).await?;
    let follower = Follower {
        db: state.db.clone(),
        cursor: Cursor::new(Scope::Order(order_id.0), last),
        news: state.feed.subscribe(),
        ready: VecDeque::new(),
        behind: true,
    };
    let events = futures::stream::unfold(follower, |mut follower| async move {
        let entry = follower.next().await?;
        Some((Ok(event(&entry)), follower))
    })
    .take_until(state.stopping.clone().cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The order, once its workflow has recorded it (within milliseconds of its acceptance: the
/// read model is asked a few times over a second, Temporal never), if the caller may see it.
pub(crate) async fn recorded_order(
    state: &AppState,
    caller: &Caller,
    order_id: contracts::OrderId,
) -> Result<(), ApiError> {
    for _ in 0..RECORDED_WITHIN_TRIES {
        if get_order(&state.db, order_id).await?.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visible_order(state, caller, order_id).await.map(|_| ())
}

/// How many times (100 ms apart) a stream waits for a just-placed order to be recorded.
const RECORDED_WITHIN_TRIES: usize = 10;

/// The `Last-Event-ID` header: the sequence to resume after (0 without one).
fn last_event_id(headers: &HeaderMap) -> Result<i64, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(0);
    };
    value
        .to_str()
        .ok()
        .filter(|text| (1..=9).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| {
            ApiError::invalid_field(
                ErrorCode::InvalidField,
                "Last-Event-ID",
                "must be the id of an event of this stream",
            )
        })
}

fn event(entry: &FeedEntry) -> Event {
    let event = Event::default()
        .id(entry.seq.unwrap_or_default().to_string())
        .event(entry.kind.as_str());
    event
        .clone()
        .json_data(entry)
        .unwrap_or_else(|_| event.data("{}"))
}

/// One client's place in one order's feed.
struct Follower {
    db: DatabaseConnection,
    cursor: Cursor,
    news: broadcast::Receiver<FeedNews>,
    /// Read from the table, not sent yet.
    ready: VecDeque<FeedEntry>,
    /// The table may hold entries after the cursor that the news did not bring.
    behind: bool,
}

impl Follower {
    /// The next entry in sequence; `None` ends the stream (the process is stopping, or the
    /// database failed: the client reconnects with its last id).
    async fn next(&mut self) -> Option<FeedEntry> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                if self.cursor.pass(&entry) {
                    return Some(entry);
                }
                continue;
            }
            if self.behind {
                let (page, full) = self.cursor.page(&self.db).await.ok()?;
                self.behind = full;
                self.ready.extend(page);
                continue;
            }
            match self.news.recv().await {
                Ok(FeedNews::Entry(entry)) => match self.cursor.step(&entry) {
                    Step::Next => self.ready.push_back(FeedEntry::clone(&entry)),
                    Step::Behind => self.behind = true,
                    Step::Skip => {}
                },
                Ok(FeedNews::Stock(_) | FeedNews::TokenVersion(..)) => {}
                Ok(FeedNews::CatchUp) | Err(RecvError::Lagged(_)) => self.behind = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
