//! Orders followed live over the WebSocket at `GET /ws` (docs/REALTIME.md), over real
//! connections, against the change feed the services write.

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::time::Duration;
use testkit::TestApp;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client of the live socket.
struct Live(Socket);

impl Live {
    async fn connect(address: &str) -> Self {
        let url = format!("{}/ws", address.replacen("http://", "ws://", 1));
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the socket opens");
        Self(socket)
    }

    /// Connects and authenticates with `token`.
    async fn ready(address: &str, token: &str) -> Self {
        let mut live = Self::connect(address).await;
        live.send(json!({"type": "auth", "token": token})).await;
        let ready = live.next().await.expect("an answer to auth");
        assert_eq!(ready["type"], "ready", "{ready}");
        live
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sent");
    }

    /// The next JSON message within ten seconds; `None` when the socket closed or nothing came.
    async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .ok()??
                .ok()?;
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The close frame's code, skipping what comes before it.
    async fn close_code(&mut self) -> Option<CloseCode> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Close(frame) = message {
                return frame.map(|frame| frame.code);
            }
        }
    }

    /// Events of the order until its status is `status` (included).
    async fn until_status(&mut self, status: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        loop {
            let message = self
                .next()
                .await
                .unwrap_or_else(|| panic!("no `{status}`; saw {entries:?}"));
            assert_eq!(message["type"], "event", "{message}");
            let entry = message["entry"].clone();
            let done = entry["kind"] == "status" && entry["body"]["status"] == status;
            entries.push(entry);
            if done {
                return entries;
            }
        }
    }
}

fn seqs(entries: &[Value]) -> Vec<i64> {
    entries
        .iter()
        .map(|entry| entry["seq"].as_i64().expect("a seq"))
        .collect()
}

/// A customer follows their order from `pending` to `completed` live; a reconnect with the
/// last sequence seen resumes right after it, losing and repeating nothing.
#[tokio::test]
async fn a_customer_follows_an_order_live_and_a_reconnect_resumes_after_the_last_sequence() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;

    let mut live = Live::ready(&app.address, &app.token).await;
    live.send(json!({"type": "subscribe", "order_id": id}))
        .await;
    let subscribed = live.next().await.expect("an answer");
    assert_eq!(
        (&subscribed["type"], &subscribed["after"]),
        (&json!("subscribed"), &json!(0))
    );
    let first = live.until_status("confirmed").await;
    drop(live);

    app.wait_for_final_order(&id).await;
    let last = *seqs(&first).last().expect("entries");
    let mut live = Live::ready(&app.address, &app.token).await;
    live.send(json!({"type": "subscribe", "order_id": id, "after": last}))
        .await;
    live.next().await.expect("subscribed");
    let rest = live.until_status("completed").await;

    let all: Vec<i64> = seqs(&first).into_iter().chain(seqs(&rest)).collect();
    assert_eq!(
        all,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let statuses: Vec<&str> = first
        .iter()
        .chain(&rest)
        .filter(|entry| entry["kind"] == "status")
        .filter_map(|entry| entry["body"]["status"].as_str())
        .collect();
    assert_eq!(statuses, testkit::shopper::DELIVERED_ORDER_STATUSES);
}

/// No token, no socket; someone else's order is refused as the REST API refuses it, and the
/// connection goes on; a message that is not the protocol's is refused the same way.
#[tokio::test]
async fn strangers_and_unauthenticated_clients_are_refused() {
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_status(&id, "confirmed").await;

    let mut anonymous = Live::connect(&app.address).await;
    anonymous
        .send(json!({"type": "subscribe", "order_id": id}))
        .await;
    assert_eq!(anonymous.close_code().await, Some(CloseCode::from(4401)));
    let mut forged = Live::connect(&app.address).await;
    forged
        .send(json!({"type": "auth", "token": "not-a-token"}))
        .await;
    assert_eq!(forged.close_code().await, Some(CloseCode::from(4401)));

    let (_, token) = app.another_customer("stranger").await;
    let mut stranger = Live::ready(&app.address, &token).await;
    stranger
        .send(json!({"type": "subscribe", "order_id": id}))
        .await;
    let refused = stranger.next().await.expect("an answer");
    assert_eq!(
        (&refused["type"], &refused["code"], &refused["order_id"]),
        (&json!("error"), &json!("not_found"), &json!(id))
    );
    stranger.send(json!({"type": "dance"})).await;
    let refused = stranger.next().await.expect("an answer");
    assert_eq!(refused["code"], "validation_failed", "{refused}");

    let mut operator = Live::ready(&app.address, &app.operator_token).await;
    operator
        .send(json!({"type": "subscribe", "order_id": id}))
        .await;
    assert_eq!(
        operator.next().await.expect("an answer")["type"],
        "subscribed"
    );
    let event = operator.next().await.expect("the order's first entry");
    assert_eq!(event["entry"]["seq"], 1, "staff follow any order: {event}");
}

/// A client that does not read is dropped once its outbox stays full, while another client
/// of the same order gets every entry in order.
#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_without_harming_others() {
    use sea_orm::ConnectionTrait as _;
    let app = TestApp::spawn().await;
    app.seed_product("MUG", 1250, 10).await;
    let id = app.place_order("MUG", 1, "pm_card_visa").await;
    app.wait_for_final_order(&id).await;
    // Far more than a socket's buffers and the outbox hold: 10,000 entries of 4 KB.
    app.db
        .execute(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO feed.entries (order_id, seq, kind, body)
             SELECT $1::uuid, 0, 'notification', jsonb_build_object('pad', repeat('x', 4000))
               FROM generate_series(1, 10000)",
            [id.parse::<uuid::Uuid>().expect("an id").into()],
        ))
        .await
        .expect("a long feed");

    let mut slow = Live::ready(&app.address, &app.token).await;
    slow.send(json!({"type": "subscribe", "order_id": id}))
        .await;
    let mut reader = Live::ready(&app.address, &app.token).await;
    reader
        .send(json!({"type": "subscribe", "order_id": id}))
        .await;
    reader.next().await.expect("subscribed");
    let mut expected = 1;
    while let Some(message) = reader.next().await {
        assert_eq!(message["entry"]["seq"], expected, "in order");
        expected += 1;
        if expected > 10_000 {
            break;
        }
    }
    assert!(
        expected > 10_000,
        "the reader got every entry (up to {expected})"
    );

    // Past the server's patience, the slow client reads: what its socket held, then the end.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut read = 0;
    while slow.next().await.is_some() {
        read += 1;
    }
    assert!(
        read < 10_000,
        "the slow client was dropped after {read} messages"
    );
}
