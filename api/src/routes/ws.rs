//! `GET /ws`: orders followed live over one WebSocket, from the change feed.
//!
//! The protocol (docs/REALTIME.md) is JSON text messages with a `type`. The client sends its
//! access token first (`auth`; never in the URL), then subscribes to orders, each from a
//! sequence on (`after`): the server answers what the order's feed holds after it, then each
//! new entry as it commits, so a client that reconnects with the last sequence it saw misses
//! nothing and sees nothing twice. Subscribing to an order the caller may not see is refused
//! with `not_found`, as `GET /orders/{id}` refuses it. A connection holds at most
//! [`MAX_SUBSCRIPTIONS`]; the server pings every [`HEARTBEAT`] and closes a connection that
//! stopped answering; a client that does not read what it is sent is dropped when
//! [`OUTBOX`] messages have waited for it for [`TOO_SLOW_AFTER`], never buffered without
//! limit; on shutdown every connection is closed with 1001 (going away).

use crate::error::ErrorCode;
use crate::feed::FeedNews;
use crate::openapi::UpgradeRequired;
use crate::routes::events::recorded_order;
use crate::{ApiError, AppState, auth::Caller};
use activities::feed::{self, FeedEntry, PAGE};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use futures::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Most orders one connection may follow at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Largest message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Messages that may wait for a client beyond what its socket holds.
pub const OUTBOX: usize = 256;
/// A client that takes no message off a full outbox for this long is dropped.
pub const TOO_SLOW_AFTER: Duration = Duration::from_secs(5);
/// How often the server pings; a connection silent for three of these is closed.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How long a new connection has to authenticate.
const AUTH_WITHIN: Duration = Duration::from_secs(10);

/// Close code: no valid `auth` message in time.
const UNAUTHORISED: u16 = 4401;
/// Close code: the client did not read what it was sent.
const TOO_SLOW: u16 = 4408;
/// Close code: the server is shutting down.
const GOING_AWAY: u16 = 1001;

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    /// The first message: the access token from `POST /auth/login`.
    Auth { token: String },
    /// Follow an order from after `after` (0: from its first entry).
    Subscribe {
        order_id: Uuid,
        #[serde(default)]
        after: i64,
    },
    /// Stop following an order.
    Unsubscribe { order_id: Uuid },
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    /// Authenticated.
    Ready { customer_id: Uuid },
    /// The order is followed; its entries after `after` come next.
    Subscribed { order_id: Uuid, after: i64 },
    /// The order is no longer followed.
    Unsubscribed { order_id: Uuid },
    /// An entry of a followed order.
    Event { entry: &'a FeedEntry },
    /// A refusal; the connection stays open.
    Error {
        code: ErrorCode,
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        order_id: Option<Uuid>,
    },
}

/// Opens the live connection (an HTTP upgrade; the protocol is in docs/REALTIME.md).
#[utoipa::path(
    get, path = "/ws", operation_id = "liveSocket", tag = "orders",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol of docs/REALTIME.md: send `{\"type\": \"auth\", \"token\": …}` first, then `subscribe` to orders."),
        (status = 426, response = UpgradeRequired),
    ),
)]
pub(crate) async fn open(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::upgrade_required(format!(
            "open /ws as a WebSocket ({})",
            rejection.body_text()
        ))
    })?;
    Ok(upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session(socket, state)))
}

/// One connection, from its `auth` to its close.
async fn session(socket: WebSocket, state: AppState) {
    let (mut sink, mut incoming) = socket.split();
    let (outbox, mut queued) = mpsc::channel::<Message>(OUTBOX);
    // The writer: the only task that writes to the socket, at the client's pace.
    let writer = tokio::spawn(async move {
        while let Some(message) = queued.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut connection = Connection {
        state,
        outbox,
        caller: None,
        follows: HashMap::new(),
    };
    let end = connection.run(&mut incoming).await;
    drop(connection);
    match end {
        // Whatever waits for a client that does not read is dropped with its socket.
        End::Close(TOO_SLOW, _) => writer.abort(),
        _ => {
            let abort = writer.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), writer)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// The state of one connection.
struct Connection {
    state: AppState,
    outbox: mpsc::Sender<Message>,
    caller: Option<Caller>,
    /// Followed orders, with the last sequence sent of each.
    follows: HashMap<Uuid, i64>,
}

/// Why a connection ends.
#[derive(Clone, Copy, Debug)]
enum End {
    /// The client left, or its socket failed.
    Left,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

impl Connection {
    /// Runs the connection to its end, queueing the close frame (unless the client is too
    /// slow to read even that), and says how it ended.
    async fn run(&mut self, incoming: &mut futures::stream::SplitStream<WebSocket>) -> End {
        let end = match self.authenticate(incoming).await {
            Ok(()) => self.serve(incoming).await,
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            tracing::info!(code, reason, "closing a live connection");
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = self.outbox.try_send(Message::Close(Some(frame)));
        }
        end
    }

    /// Waits for the `auth` message.
    async fn authenticate(
        &mut self,
        incoming: &mut futures::stream::SplitStream<WebSocket>,
    ) -> Result<(), End> {
        let refused = End::Close(UNAUTHORISED, "send a valid auth message first");
        let first = tokio::time::timeout(AUTH_WITHIN, incoming.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = first else {
            return Err(refused);
        };
        let Ok(ClientMessage::Auth { token }) = serde_json::from_str(text.as_str()) else {
            return Err(refused);
        };
        let caller = self.state.auth.caller(token.trim()).map_err(|_| refused)?;
        self.send(&ServerMessage::Ready {
            customer_id: caller.id.0,
        })
        .await?;
        self.caller = Some(caller);
        Ok(())
    }

    /// Serves the client's messages, the feed's news, the heartbeat and the shutdown.
    async fn serve(&mut self, incoming: &mut futures::stream::SplitStream<WebSocket>) -> End {
        let mut news = self.state.feed.subscribe();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut heard = Instant::now();
        let stopping = self.state.stopping.clone();
        loop {
            let step = tokio::select! {
                () = stopping.cancelled() => Err(End::Close(GOING_AWAY, "the server is restarting")),
                message = incoming.next() => {
                    heard = Instant::now();
                    match message {
                        Some(Ok(message)) => self.on_message(message).await,
                        Some(Err(_)) | None => Err(End::Left),
                    }
                }
                news = news.recv() => self.on_news(news).await,
                _ = heartbeat.tick() => {
                    if heard.elapsed() > 3 * HEARTBEAT {
                        Err(End::Close(TOO_SLOW, "no answer to three pings"))
                    } else {
                        self.push(Message::Ping(Default::default())).await
                    }
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_message(&mut self, message: Message) -> Result<(), End> {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return Err(End::Left),
            // Pongs only prove the client is there; the socket answers pings itself.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Binary(_) => {
                return self
                    .refuse(ErrorCode::InvalidField, "send JSON text messages", None)
                    .await;
            }
        };
        match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(ClientMessage::Subscribe { order_id, after }) => {
                self.subscribe(order_id, after.max(0)).await
            }
            Ok(ClientMessage::Unsubscribe { order_id }) => {
                self.follows.remove(&order_id);
                self.send(&ServerMessage::Unsubscribed { order_id }).await
            }
            Ok(ClientMessage::Auth { .. }) => {
                self.refuse(ErrorCode::InvalidField, "already authenticated", None)
                    .await
            }
            Err(err) => {
                self.refuse(ErrorCode::ValidationFailed, &err.to_string(), None)
                    .await
            }
        }
    }

    /// Follows `order_id` if the caller may see it, sending what it missed after `after`.
    async fn subscribe(&mut self, order_id: Uuid, after: i64) -> Result<(), End> {
        if !self.follows.contains_key(&order_id) && self.follows.len() >= MAX_SUBSCRIPTIONS {
            let detail = format!("a connection follows at most {MAX_SUBSCRIPTIONS} orders");
            return self
                .refuse(ErrorCode::TooManySubscriptions, &detail, Some(order_id))
                .await;
        }
        let Some(caller) = self.caller.clone() else {
            return Err(End::Left);
        };
        if let Err(problem) =
            recorded_order(&self.state, &caller, contracts::OrderId(order_id)).await
        {
            let (code, detail) = if problem.status() == StatusCode::NOT_FOUND {
                (ErrorCode::NotFound, "no such order")
            } else {
                let detail = "the order could not be checked just now; subscribe again";
                (ErrorCode::ServiceUnavailable, detail)
            };
            return self.refuse(code, detail, Some(order_id)).await;
        }
        self.follows.insert(order_id, after);
        self.send(&ServerMessage::Subscribed { order_id, after })
            .await?;
        self.catch_up(order_id).await
    }

    /// Sends the order's entries after the last one sent.
    async fn catch_up(&mut self, order_id: Uuid) -> Result<(), End> {
        loop {
            let Some(&last) = self.follows.get(&order_id) else {
                return Ok(());
            };
            let page = feed::after(&self.state.db, order_id, last)
                .await
                .map_err(|_| End::Close(1011, "the feed could not be read"))?;
            let full = page.len() as u64 == PAGE;
            for entry in &page {
                self.deliver(entry).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn on_news(&mut self, news: Result<FeedNews, RecvError>) -> Result<(), End> {
        match news {
            Ok(FeedNews::Entry(entry)) => match self.follows.get(&entry.order_id) {
                Some(&last) if entry.seq == last + 1 => self.deliver(&entry).await,
                Some(&last) if entry.seq > last + 1 => self.catch_up(entry.order_id).await,
                _ => Ok(()),
            },
            Ok(FeedNews::CatchUp) | Err(RecvError::Lagged(_)) => {
                let orders: Vec<Uuid> = self.follows.keys().copied().collect();
                for order_id in orders {
                    self.catch_up(order_id).await?;
                }
                Ok(())
            }
            Err(RecvError::Closed) => Err(End::Close(GOING_AWAY, "the server is restarting")),
        }
    }

    /// Sends an entry of a followed order, once and in sequence.
    async fn deliver(&mut self, entry: &FeedEntry) -> Result<(), End> {
        let Some(last) = self.follows.get_mut(&entry.order_id) else {
            return Ok(());
        };
        if entry.seq != *last + 1 {
            return Ok(());
        }
        *last = entry.seq;
        self.send(&ServerMessage::Event { entry }).await
    }

    async fn refuse(
        &self,
        code: ErrorCode,
        detail: &str,
        order_id: Option<Uuid>,
    ) -> Result<(), End> {
        let refusal = ServerMessage::Error {
            code,
            detail: detail.to_owned(),
            order_id,
        };
        self.send(&refusal).await
    }

    async fn send(&self, message: &ServerMessage<'_>) -> Result<(), End> {
        let text = serde_json::to_string(message).map_err(|_| End::Left)?;
        self.push(Message::Text(text.into())).await
    }

    /// Queues a message for the writer, waiting while the outbox is full; a client that
    /// leaves it full for [`TOO_SLOW_AFTER`] is dropped.
    async fn push(&self, message: Message) -> Result<(), End> {
        self.outbox
            .send_timeout(message, TOO_SLOW_AFTER)
            .await
            .map_err(|err| match err {
                mpsc::error::SendTimeoutError::Timeout(_) => {
                    End::Close(TOO_SLOW, "too slow to read")
                }
                mpsc::error::SendTimeoutError::Closed(_) => End::Left,
            })
    }
}
