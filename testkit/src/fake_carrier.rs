//! A fake carrier speaking the HTTP carrier API, for the real `HttpCarrier` adapter to run
//! against. Tests move parcels along with [`FakeCarrier::advance`], which records the tracking
//! event and returns the signed webhook the carrier would send.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
struct Depot {
    labels: HashMap<String, (String, String)>,
    by_key: HashMap<String, String>,
    status: HashMap<String, String>,
    events: HashMap<String, Vec<Value>>,
    labels_sold: usize,
}

/// A running fake carrier.
#[derive(Clone)]
pub struct FakeCarrier {
    /// Its name.
    pub name: String,
    /// Its base URL.
    pub base_url: String,
    /// The API key it accepts.
    pub api_key: String,
    /// The secret it signs webhooks with.
    pub webhook_secret: String,
    depot: Arc<Mutex<Depot>>,
}

type Shared = (Arc<Mutex<Depot>>, String);

impl FakeCarrier {
    /// Starts a carrier named `name` on a random port.
    pub async fn start(name: &str) -> Self {
        let depot = Arc::new(Mutex::new(Depot::default()));
        let api_key = "carrier_key_test".to_owned();
        let app = Router::new()
            .route("/v1/rates", post(rates))
            .route("/v1/labels", post(label))
            .route("/v1/labels/{id}/cancel", post(cancel))
            .route("/v1/tracking/{tracking}", get(tracking))
            .with_state((depot.clone(), api_key.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            name: name.to_owned(),
            base_url: format!("http://{address}"),
            api_key,
            webhook_secret: "carrier_webhook_secret".to_owned(),
            depot,
        }
    }

    fn depot(&self) -> std::sync::MutexGuard<'_, Depot> {
        self.depot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many labels were sold (a label bought twice with one key counts once).
    pub fn labels_sold(&self) -> usize {
        self.depot().labels_sold
    }

    /// The tracking numbers of every label sold.
    pub fn tracking_numbers(&self) -> Vec<String> {
        self.depot()
            .labels
            .values()
            .map(|(tracking, _)| tracking.clone())
            .collect()
    }

    /// The parcel's current status.
    pub fn status(&self, tracking: &str) -> Option<String> {
        self.depot().status.get(tracking).cloned()
    }

    /// Moves a parcel to `status`, records the event, and returns the webhook body and its
    /// `X-Carrier-Signature`.
    pub fn advance(&self, tracking: &str, status: &str, description: &str) -> (String, String) {
        let mut depot = self.depot();
        let events = depot.events.entry(tracking.to_owned()).or_default();
        let event = json!({
            "id": format!("{tracking}-{}", events.len() + 1),
            "tracking_number": tracking,
            "status": status,
            "description": description,
            "occurred_at": "2026-11-23T12:00:00Z",
        });
        events.push(event.clone());
        depot.status.insert(tracking.to_owned(), status.to_owned());
        let body = event.to_string();
        let signature = self.sign(&body);
        (body, signature)
    }

    /// The `X-Carrier-Signature` for a body.
    pub fn sign(&self, body: &str) -> String {
        sign(&self.webhook_secret, body)
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `secret`.
pub fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {key}"))
}

async fn rates(
    State((_, key)): State<Shared>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    if !authorized(&headers, &key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad key"})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({"rates": [
            {"id": "fc-economy", "service": "economy", "amount_minor": 390, "currency": "EUR", "estimated_days": 4},
            {"id": "fc-next-day", "service": "next_day", "amount_minor": 1290, "currency": "EUR", "estimated_days": 1},
        ]})),
    )
}

async fn label(
    State((depot, key)): State<Shared>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    if !authorized(&headers, &key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad key"})),
        );
    }
    let mut depot = depot.lock().unwrap_or_else(PoisonError::into_inner);
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let id = match depot.by_key.get(&idempotency) {
        Some(id) => id.clone(),
        None => {
            depot.labels_sold += 1;
            let id = format!("lbl_{}", depot.labels_sold);
            let tracking = format!("FC{:08}", depot.labels_sold);
            depot.labels.insert(
                id.clone(),
                (
                    tracking.clone(),
                    format!("https://fake-carrier.invalid/{id}.pdf"),
                ),
            );
            depot.status.insert(tracking, "label_created".to_owned());
            depot.by_key.insert(idempotency, id.clone());
            id
        }
    };
    let (tracking, url) = depot.labels[&id].clone();
    (
        StatusCode::OK,
        axum::Json(json!({"id": id, "tracking_number": tracking, "label_url": url})),
    )
}

async fn cancel(
    State((depot, key)): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    if !authorized(&headers, &key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad key"})),
        );
    }
    let mut depot = depot.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((tracking, _)) = depot.labels.get(&id).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no such label"})),
        );
    };
    match depot.status.get(&tracking).map(String::as_str) {
        Some("label_created") | Some("cancelled") => {
            depot.status.insert(tracking, "cancelled".to_owned());
            (StatusCode::OK, axum::Json(json!({"status": "cancelled"})))
        }
        _ => (
            StatusCode::CONFLICT,
            axum::Json(json!({"error": "already picked up"})),
        ),
    }
}

async fn tracking(
    State((depot, key)): State<Shared>,
    Path(tracking): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    if !authorized(&headers, &key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad key"})),
        );
    }
    let depot = depot.lock().unwrap_or_else(PoisonError::into_inner);
    let events = depot.events.get(&tracking).cloned().unwrap_or_default();
    (StatusCode::OK, axum::Json(json!({"events": events})))
}
