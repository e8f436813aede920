//! `GET /ws`: orders, a customer's own news and the staff's queues followed live over one
//! WebSocket, from the change feed.
//!
//! The protocol (docs/REALTIME.md, messages in [`protocol`]) is JSON text messages with a
//! `type`. The client gives its access token first (an `auth` message, or the
//! `Sec-WebSocket-Protocol` header; never the URL), or, to follow only what anyone may see (a
//! SKU's stock, for a shopper not signed in), subscribes to that first and stays anonymous
//! until it sends `auth`. Then it subscribes to orders and topics, each
//! from a sequence on (`after`): the server answers what the feed holds after it, then each
//! new entry as it commits, so a client that reconnects with the last sequence it saw misses
//! nothing and sees nothing twice ([`follows`]). Subscribing to an order the caller may not
//! see is refused with `not_found`, as `GET /orders/{id}` refuses it. A connection holds at
//! most [`follows::MAX_SUBSCRIPTIONS`]; the server pings every [`HEARTBEAT`] and closes a connection
//! that stopped answering; a client that does not read what it is sent is dropped when
//! [`OUTBOX`] messages have waited for it for [`TOO_SLOW_AFTER`], never buffered without
//! limit; on shutdown every connection is closed with 1001 (going away). While it is open, a
//! customer's connection counts as their presence (`activities::feed::presence`), which
//! decides whether an operator's support answer is also emailed.

mod follows;
mod protocol;

use crate::error::ErrorCode;
use crate::feed::Cursor;
use crate::openapi::{Unauthorized, UpgradeRequired};
use crate::{ApiError, AppState, auth::Caller};
use activities::feed::presence;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt as _, StreamExt as _};
use protocol::{ClientMessage, ServerMessage, Target};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The subprotocol a client offers, beside `bearer.<token>`, to authenticate in the
/// `Sec-WebSocket-Protocol` header; the server answers with it.
pub const SUBPROTOCOL: &str = "emporium";
/// The prefix of the offered subprotocol that carries the access token.
const BEARER_PREFIX: &str = "bearer.";
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

/// Opens the live connection (an HTTP upgrade; the protocol is in docs/REALTIME.md).
#[utoipa::path(
    get, path = "/ws", operation_id = "liveSocket", tag = "orders",
    params(
        ("Sec-WebSocket-Protocol" = Option<String>, Header,
            description = "Optionally `emporium, bearer.<access token>`: authenticated at once, with no `auth` message."),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol of docs/REALTIME.md: send `{\"type\": \"auth\", \"token\": …}` first (unless the token came in `Sec-WebSocket-Protocol`), then `subscribe` to orders and topics; or, anonymous, `subscribe` to a `sku`'s stock first."),
        (status = 401, response = Unauthorized),
        (status = 426, response = UpgradeRequired),
    ),
)]
pub(crate) async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::upgrade_required(format!(
            "open /ws as a WebSocket ({})",
            rejection.body_text()
        ))
    })?;
    let caller = match offered_token(&headers) {
        Some(token) => Some(state.auth.caller(token)?),
        None => None,
    };
    Ok(upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session(socket, state, caller)))
}

/// The access token offered as a `bearer.<token>` subprotocol, if any.
fn offered_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix(BEARER_PREFIX))
}

/// One connection, from its authentication to its close.
async fn session(socket: WebSocket, state: AppState, caller: Option<Caller>) {
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
        id: Uuid::now_v7(),
        state,
        outbox,
        caller,
        follows: HashMap::new(),
    };
    let end = connection.run(&mut incoming).await;
    connection.leave().await;
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
    /// Its id, as its presence row knows it.
    id: Uuid,
    state: AppState,
    outbox: mpsc::Sender<Message>,
    caller: Option<Caller>,
    /// Followed orders and topics, with the place of the last entry sent of each that has
    /// a numbered run.
    follows: HashMap<Target, Option<Cursor>>,
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
        // Listening before the first subscription (which `open` may serve), so no news between
        // its answer and the loop is lost.
        let news = self.state.feed.subscribe();
        let end = match self.open(incoming).await {
            Ok(()) => self.serve(incoming, news).await,
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

    /// Opens the connection: authenticated by the header or by an `auth` first message, or
    /// anonymous when its first message subscribes to something anyone may follow (a SKU's
    /// stock). Anything else first, or nothing in time, closes it.
    async fn open(
        &mut self,
        incoming: &mut futures::stream::SplitStream<WebSocket>,
    ) -> Result<(), End> {
        if let Some(caller) = self.caller.take() {
            return self.welcome(caller).await;
        }
        let refused = End::Close(UNAUTHORISED, "send a valid auth message first");
        let first = tokio::time::timeout(AUTH_WITHIN, incoming.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = first else {
            return Err(refused);
        };
        match serde_json::from_str(text.as_str()) {
            Ok(ClientMessage::Auth { token }) => self.authenticate(&token).await,
            Ok(ClientMessage::Subscribe {
                order_id: None,
                topic: None,
                sku: Some(sku),
                after,
            }) => match Target::named(None, None, Some(sku)) {
                Ok(target) => self.subscribe(target, after).await,
                Err(_) => Err(refused),
            },
            _ => Err(refused),
        }
    }

    /// Authenticates the connection with `token`, or closes it.
    async fn authenticate(&mut self, token: &str) -> Result<(), End> {
        match self.state.auth.caller(token.trim()) {
            Ok(caller) => self.welcome(caller).await,
            Err(_) => Err(End::Close(UNAUTHORISED, "the token is not valid")),
        }
    }

    /// Says the connection is authenticated and registers the caller's presence.
    async fn welcome(&mut self, caller: Caller) -> Result<(), End> {
        self.send(&ServerMessage::Ready {
            customer_id: caller.id.0,
        })
        .await?;
        if let Err(err) = presence::arrive(&self.state.db, self.id, caller.id.0).await {
            tracing::warn!(error = %err, "could not record a live connection");
        }
        self.caller = Some(caller);
        Ok(())
    }

    /// The authenticated caller.
    fn caller(&self) -> Result<&Caller, (ErrorCode, &'static str)> {
        self.caller
            .as_ref()
            .ok_or((ErrorCode::MissingToken, "authenticate first"))
    }

    /// Takes the connection's presence away.
    async fn leave(&self) {
        if self.caller.is_some()
            && let Err(err) = presence::left(&self.state.db, self.id).await
        {
            tracing::warn!(error = %err, "could not remove a live connection");
        }
    }

    /// Serves the client's messages, the feed's news, the heartbeat and the shutdown.
    async fn serve(
        &mut self,
        incoming: &mut futures::stream::SplitStream<WebSocket>,
        mut news: tokio::sync::broadcast::Receiver<crate::feed::FeedNews>,
    ) -> End {
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
                _ = heartbeat.tick() => self.beat(heard).await,
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Pings the client, and keeps its presence fresh, unless it stopped answering.
    async fn beat(&self, heard: Instant) -> Result<(), End> {
        if heard.elapsed() > 3 * HEARTBEAT {
            return Err(End::Close(TOO_SLOW, "no answer to three pings"));
        }
        if self.caller.is_some()
            && let Err(err) = presence::still_here(&self.state.db, self.id).await
        {
            tracing::warn!(error = %err, "could not refresh a live connection");
        }
        self.push(Message::Ping(Default::default())).await
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
        let (target, after) = match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(ClientMessage::Subscribe {
                order_id,
                topic,
                sku,
                after,
            }) => (Target::named(order_id, topic, sku), Some(after)),
            Ok(ClientMessage::Unsubscribe {
                order_id,
                topic,
                sku,
            }) => (Target::named(order_id, topic, sku), None),
            Ok(ClientMessage::Auth { .. }) if self.caller.is_some() => {
                return self
                    .refuse(ErrorCode::InvalidField, "already authenticated", None)
                    .await;
            }
            // An anonymous connection may authenticate later.
            Ok(ClientMessage::Auth { token }) => return self.authenticate(&token).await,
            Err(err) => {
                return self
                    .refuse(ErrorCode::ValidationFailed, &err.to_string(), None)
                    .await;
            }
        };
        match (target, after) {
            (Ok(target), Some(after)) => self.subscribe(target, after).await,
            (Ok(target), None) => self.unsubscribe(target).await,
            (Err(detail), _) => {
                self.refuse(ErrorCode::ValidationFailed, &detail, None)
                    .await
            }
        }
    }

    async fn refuse(
        &self,
        code: ErrorCode,
        detail: &str,
        target: Option<Target>,
    ) -> Result<(), End> {
        let refusal = ServerMessage::Error {
            code,
            detail: detail.to_owned(),
            target,
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
