//! A fake SMS gateway for tests: records messages, honours `Idempotency-Key`, can fail on
//! purpose.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A text message the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// Recipient.
    pub to: String,
    /// Text.
    pub text: String,
}

#[derive(Default)]
struct Inbox {
    by_key: HashMap<String, String>,
    messages: Vec<Sms>,
    fail_next: usize,
}

/// A running fake SMS gateway.
#[derive(Clone)]
pub struct FakeSms {
    /// Its base URL.
    pub base_url: String,
    inbox: Arc<Mutex<Inbox>>,
}

impl FakeSms {
    /// Starts the gateway on a random port.
    pub async fn start() -> Self {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app = Router::new()
            .route("/v1/messages", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}"),
            inbox,
        }
    }

    /// Every message accepted, once each.
    pub fn messages(&self) -> Vec<Sms> {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .messages
            .clone()
    }

    /// Answers the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fail_next = n;
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let mut inbox = inbox.lock().unwrap_or_else(PoisonError::into_inner);
    if inbox.fail_next > 0 {
        inbox.fail_next -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "down"})),
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Some(id) = inbox.by_key.get(&key) {
        return (StatusCode::OK, axum::Json(json!({"id": id})));
    }
    let id = format!("sms_{}", inbox.messages.len() + 1);
    inbox.by_key.insert(key, id.clone());
    inbox.messages.push(Sms {
        to: body["to"].as_str().unwrap_or_default().to_owned(),
        text: body["text"].as_str().unwrap_or_default().to_owned(),
    });
    (StatusCode::OK, axum::Json(json!({"id": id})))
}
