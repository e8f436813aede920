//! A customer of a running API, over HTTP only: what [`crate::TestApp`] does for its customer,
//! and what a test of separate processes (the binary's end-to-end test) does against an API
//! it only knows by URL.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Statuses an order never leaves.
pub const FINAL_STATUSES: [&str; 6] = [
    "completed",
    "refunded",
    "rejected",
    "payment_failed",
    "cancelled",
    "failed",
];

/// The statuses an ordinary order goes through to `completed`, in order.
pub const DELIVERED_ORDER_STATUSES: [&str; 8] = [
    "pending",
    "reserved",
    "confirmed",
    "label_created",
    "shipped",
    "out_for_delivery",
    "delivered",
    "completed",
];

/// A customer of the API at `address`, with their bearer token.
#[derive(Debug, Clone)]
pub struct Shopper {
    http: reqwest::Client,
    address: String,
    token: String,
}

impl Shopper {
    /// The customer holding `token`, at the API at `address` (`http://127.0.0.1:8080`).
    pub fn new(
        http: reqwest::Client,
        address: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            http,
            address: address.into(),
            token: token.into(),
        }
    }

    /// Registers a customer and logs them in.
    pub async fn register(
        http: reqwest::Client,
        address: &str,
        email: &str,
        password: &str,
    ) -> Self {
        let registered = http
            .post(format!("{address}/auth/register"))
            .json(&json!({"email": email, "name": "Shopper", "password": password}))
            .send()
            .await
            .expect("POST /auth/register");
        assert_eq!(registered.status(), 201, "registered");
        let login: Value = http
            .post(format!("{address}/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("POST /auth/login")
            .json()
            .await
            .expect("a login answer");
        let token = login["access_token"].as_str().expect("a token").to_owned();
        Self::new(http, address, token)
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `GET` a path, returning status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /orders` with a JSON body.
    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/orders", self.address))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("POST /orders")
    }

    /// Places an order with these lines (`(sku, quantity)`) to [`address`] and returns its
    /// id, checking that the answer points at it.
    pub async fn place_lines(&self, lines: &[(&str, u32)], payment_method: &str) -> String {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
            .collect();
        let response = self
            .post_order(&json!({
                "shipping_address": address(),
                "lines": lines,
                "payment_method": payment_method,
            }))
            .await;
        assert_eq!(response.status().as_u16(), 202, "order accepted");
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(location.as_deref(), body["status_url"].as_str(), "{body}");
        body["order_id"].as_str().expect("an order id").to_owned()
    }

    /// Places an order for one line and returns its id.
    pub async fn place_order(&self, sku: &str, quantity: u32, payment_method: &str) -> String {
        self.place_lines(&[(sku, quantity)], payment_method).await
    }

    /// Polls `GET /orders/{id}` until `done` holds for the order, and returns it.
    async fn wait_for(&self, order_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, body) = self.get_json(&format!("/orders/{order_id}")).await;
            if code == 200 && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "order {order_id} never became {what}; last answer {code}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until the order has `status`, and returns it.
    pub async fn wait_for_status(&self, order_id: &str, status: &str) -> Value {
        self.wait_for(order_id, status, |order| order["status"] == status)
            .await
    }

    /// Polls until the order reaches a final status, and returns it.
    pub async fn wait_for_final_order(&self, order_id: &str) -> Value {
        self.wait_for(order_id, "final", |order| {
            FINAL_STATUSES.contains(&order["status"].as_str().unwrap_or_default())
        })
        .await
    }

    /// Follows the order's server-sent events (`GET /orders/{id}/events`), resuming after
    /// `last_event_id` when given. Answers the status and, on 200, the stream.
    pub async fn follow(
        &self,
        order_id: &str,
        last_event_id: Option<i64>,
    ) -> (u16, Option<OrderEvents>) {
        let mut request = self
            .http
            .get(format!("{}/orders/{order_id}/events", self.address))
            .bearer_auth(&self.token);
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last.to_string());
        }
        let response = request.send().await.expect("GET /orders/{id}/events");
        let status = response.status().as_u16();
        if status != 200 {
            return (status, None);
        }
        let chunks = futures::stream::unfold(response, |mut response| async move {
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok::<_, reqwest::Error>(chunk), response)),
                Ok(None) | Err(_) => None,
            }
        });
        let events = eventsource_stream::Eventsource::eventsource(chunks);
        (200, Some(OrderEvents(Box::pin(events))))
    }

    /// The units of `sku` the catalog lists as available.
    pub async fn available(&self, sku: &str) -> i64 {
        let (_, products) = self.get_json("/products").await;
        products["items"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|product| product["sku"] == sku)
            .and_then(|product| product["available"].as_i64())
            .expect("the product is listed")
    }
}

/// A shipping address for test orders.
pub fn address() -> Value {
    json!({
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    })
}

/// One event of an order's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEvent {
    /// Its id: the entry's sequence in the order's feed.
    pub id: i64,
    /// Its kind (`status`, `tracking`, `refund`, `notification`).
    pub kind: String,
    /// The entry.
    pub data: Value,
}

type SseStream = std::pin::Pin<
    Box<
        dyn futures::Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

/// An order's server-sent events, as a client reads them.
pub struct OrderEvents(SseStream);

impl OrderEvents {
    /// The next event, or `None` when none came within `wait` or the stream ended.
    pub async fn next_within(&mut self, wait: Duration) -> Option<OrderEvent> {
        use futures::StreamExt as _;
        let event = tokio::time::timeout(wait, self.0.next())
            .await
            .ok()??
            .ok()?;
        Some(OrderEvent {
            id: event.id.parse().expect("a numeric event id"),
            kind: event.event,
            data: serde_json::from_str(&event.data).expect("JSON data"),
        })
    }

    /// Events until the order's status is `status` (included); panics after a minute.
    pub async fn until_status(&mut self, status: &str) -> Vec<OrderEvent> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .next_within(left)
                .await
                .unwrap_or_else(|| panic!("no `{status}` within a minute; saw {seen:?}"));
            let done = event.kind == "status" && event.data["body"]["status"] == status;
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}
