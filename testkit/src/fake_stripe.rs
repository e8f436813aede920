//! A fake Stripe API for tests: a real HTTP server on a random port that speaks enough of
//! Stripe's PaymentIntent and Refund APIs for the real `async-stripe` client to run against it.
//!
//! It enforces what matters for money: idempotency keys (same key and same request → the first
//! answer again, marked `Idempotent-Replayed`; same key and another request → 400
//! `idempotency_error`), the PaymentIntent state machine (capture only `requires_capture`,
//! cancel only before success), refunds never above what was captured and not yet refunded
//! (`charge_already_refunded`, `amount_too_large`), Stripe's test PaymentMethods (declines
//! answered with 402 card errors), and secret-key authentication. It can fail on purpose: answer
//! 500 without doing anything (`fail_next`), or do the work and then drop the connection before
//! answering, as a lost response on a real network (`drop_next`). It builds the event payloads
//! Stripe would send to a webhook.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A PaymentIntent as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIntent {
    /// `pi_…`.
    pub id: String,
    /// Amount in minor units.
    pub amount: i64,
    /// Lower-case currency.
    pub currency: String,
    /// Stripe's status (`requires_capture`, `succeeded`, `canceled`, …).
    pub status: String,
    /// Amount captured.
    pub amount_received: i64,
    /// The payment method charged.
    pub payment_method: String,
    /// Metadata, such as `order_id`.
    pub metadata: BTreeMap<String, String>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
}

/// A Refund as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRefund {
    /// `re_…`.
    pub id: String,
    /// The PaymentIntent refunded.
    pub payment_intent: String,
    /// Amount in minor units.
    pub amount: i64,
    /// Lower-case currency.
    pub currency: String,
}

#[derive(Default)]
struct Ledger {
    intents: BTreeMap<String, FakeIntent>,
    refunds: Vec<FakeRefund>,
    drop_next: usize,
    /// Idempotency key → (request fingerprint, status, body).
    idempotency: HashMap<String, (String, u16, Value)>,
    operations: Vec<String>,
    fail_next: usize,
    next_id: u64,
}

/// A running fake Stripe.
#[derive(Clone)]
pub struct FakeStripe {
    /// Base URL to give the client (`http://127.0.0.1:port/`).
    pub base_url: String,
    /// The secret key it accepts.
    pub secret_key: String,
    ledger: Arc<Mutex<Ledger>>,
}

impl FakeStripe {
    /// Starts the fake on a random port.
    pub async fn start() -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let secret_key = "sk_test_emporium_fake".to_owned();
        let state = (ledger.clone(), secret_key.clone());
        let app = Router::new()
            .route("/v1/payment_intents", post(create))
            .route("/v1/payment_intents/{id}", get(retrieve))
            .route("/v1/payment_intents/{id}/capture", post(capture))
            .route("/v1/payment_intents/{id}/cancel", post(cancel))
            .route("/v1/refunds", post(refund))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake Stripe");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}/"),
            secret_key,
            ledger,
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every PaymentIntent.
    pub fn intents(&self) -> Vec<FakeIntent> {
        self.ledger().intents.values().cloned().collect()
    }

    /// The PaymentIntents of one order (by the `order_id` metadata).
    pub fn intents_of(&self, order_id: &str) -> Vec<FakeIntent> {
        self.intents()
            .into_iter()
            .filter(|intent| intent.metadata.get("order_id").map(String::as_str) == Some(order_id))
            .collect()
    }

    /// The operations that changed state, in order (`create pi_1`, `capture pi_1`, …);
    /// replays and refused requests are not operations.
    pub fn operations(&self) -> Vec<String> {
        self.ledger().operations.clone()
    }

    /// Answers the next `n` requests with 500, as an outage would.
    pub fn fail_next(&self, n: usize) {
        self.ledger().fail_next = n;
    }

    /// Does the work of the next `n` state-changing requests, then drops each connection
    /// before the answer is complete: the response is lost, as on a real network, and only
    /// the idempotency key can tell a retry that the work was done.
    pub fn drop_next(&self, n: usize) {
        self.ledger().drop_next = n;
    }

    /// Every refund, oldest first.
    pub fn refunds(&self) -> Vec<FakeRefund> {
        self.ledger().refunds.clone()
    }

    /// How much of a PaymentIntent was refunded.
    pub fn refunded(&self, intent_id: &str) -> i64 {
        refunded(&self.ledger(), intent_id)
    }

    /// Cancels an authorisation the way Stripe does when it expires, and returns the
    /// `payment_intent.canceled` event it would send.
    pub fn expire_authorization(&self, intent_id: &str) -> String {
        let intent = {
            let mut ledger = self.ledger();
            let intent = ledger
                .intents
                .get_mut(intent_id)
                .expect("the intent exists");
            intent.status = "canceled".to_owned();
            intent.cancellation_reason = Some("automatic".to_owned());
            intent.clone()
        };
        event_payload(
            &format!("evt_expired_{intent_id}"),
            "payment_intent.canceled",
            &intent,
        )
    }
}

/// The JSON of a webhook event about `intent`.
pub fn event_payload(event_id: &str, event_type: &str, intent: &FakeIntent) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": null,
        "created": 1_763_900_000,
        "data": { "object": intent_json(intent) },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    })
    .to_string()
}

/// The `Stripe-Signature` header Stripe would send for `payload`, signed at `timestamp`
/// (now when `None`).
pub fn sign(payload: &str, secret: &str, timestamp: Option<i64>) -> String {
    stripe_webhook::Webhook::generate_test_header(payload, secret, timestamp)
}

fn intent_json(intent: &FakeIntent) -> Value {
    let capturable = if intent.status == "requires_capture" {
        intent.amount
    } else {
        0
    };
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_capturable": capturable,
        "amount_details": null,
        "amount_received": intent.amount_received,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": null,
        "cancellation_reason": intent.cancellation_reason,
        "capture_method": "manual",
        "client_secret": format!("{}_secret_fake", intent.id),
        "confirmation_method": "automatic",
        "created": 1_763_900_000,
        "currency": intent.currency,
        "customer": null,
        "description": null,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": false,
        "metadata": intent.metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": intent.payment_method,
        "payment_method_options": null,
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": intent.status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

fn stripe_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> (u16, Value) {
    (
        status.as_u16(),
        json!({ "error": { "type": kind, "code": code, "message": message } }),
    )
}

type FakeState = (Arc<Mutex<Ledger>>, String);

/// Authentication, outages and idempotency around one state-changing request.
fn handle(
    (ledger, secret): &FakeState,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
    operation: impl FnOnce(&mut Ledger, &[(String, String)]) -> (u16, Value),
) -> Response {
    let mut ledger = ledger
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {secret}"));
    if !authorized {
        let (status, body) = stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided.",
        );
        return reply(status, body, false);
    }
    if ledger.fail_next > 0 {
        ledger.fail_next -= 1;
        let (status, body) = stripe_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            None,
            "Something went wrong on Stripe's end.",
        );
        return reply(status, body, false);
    }
    let fingerprint = format!("POST {path} {}", String::from_utf8_lossy(body));
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(key) = &key
        && let Some((seen, status, answer)) = ledger.idempotency.get(key)
    {
        if *seen == fingerprint {
            return reply(*status, answer.clone(), true);
        }
        let (status, body) = stripe_error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            None,
            &format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{key}' if you meant to \
                 execute a different request."
            ),
        );
        return reply(status, body, false);
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let (status, answer) = operation(&mut ledger, &form);
    if let Some(key) = key
        && status < 500
    {
        ledger
            .idempotency
            .insert(key, (fingerprint, status, answer.clone()));
    }
    if ledger.drop_next > 0 {
        ledger.drop_next -= 1;
        return lost_response(status);
    }
    reply(status, answer, false)
}

/// A response whose head goes out and whose body then fails, so the server closes the
/// connection mid-answer: the client sees a broken connection, not an answer.
fn lost_response(status: u16) -> Response {
    let broken = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the fake Stripe drops this response",
        ))
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(axum::body::Body::from_stream(broken));
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn reply(status: u16, body: Value, replayed: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn create(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(
        &state,
        &headers,
        "/v1/payment_intents",
        &body,
        |ledger, form| {
            let Some(amount) = field(form, "amount").and_then(|a| a.parse::<i64>().ok()) else {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("parameter_missing"),
                    "Missing required param: amount.",
                );
            };
            let currency = field(form, "currency").unwrap_or_default().to_owned();
            let payment_method = field(form, "payment_method").unwrap_or_default().to_owned();
            let metadata: BTreeMap<String, String> = form
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("metadata[")
                        .and_then(|rest| rest.strip_suffix(']'))
                        .map(|name| (name.to_owned(), v.clone()))
                })
                .collect();
            if field(form, "capture_method") != Some("manual")
                || field(form, "confirm") != Some("true")
            {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    None,
                    "this fake only supports confirmed manual-capture PaymentIntents",
                );
            }
            ledger.next_id += 1;
            let id = format!("pi_fake{:06}", ledger.next_id);
            let outcome = activities::payments::sandbox::test_method_outcome(&payment_method);
            let mut intent = FakeIntent {
                id: id.clone(),
                amount,
                currency,
                status: "requires_capture".to_owned(),
                amount_received: 0,
                payment_method,
                metadata,
                cancellation_reason: None,
            };
            ledger.operations.push(format!("create {id}"));
            match outcome {
                Ok(()) => {
                    ledger.intents.insert(id, intent.clone());
                    (200, intent_json(&intent))
                }
                Err((decline_code, message)) => {
                    intent.status = "requires_payment_method".to_owned();
                    ledger.intents.insert(id, intent.clone());
                    (
                        402,
                        json!({ "error": {
                            "type": "card_error",
                            "code": "card_declined",
                            "decline_code": decline_code,
                            "message": message,
                            "payment_intent": intent_json(&intent),
                        }}),
                    )
                }
            }
        },
    )
}

async fn retrieve(State((ledger, _)): State<FakeState>, Path(id): Path<String>) -> Response {
    let ledger = ledger
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match ledger.intents.get(&id) {
        Some(intent) => reply(200, intent_json(intent), false),
        None => {
            let (status, body) = stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                "No such payment_intent",
            );
            reply(status, body, false)
        }
    }
}

fn unexpected_state(intent: &FakeIntent, action: &str) -> (u16, Value) {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("payment_intent_unexpected_state"),
        &format!(
            "This PaymentIntent could not be {action} because it has a status of {}.",
            intent.status
        ),
    )
}

async fn capture(
    State(state): State<FakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/capture");
    handle(&state, &headers, &path, &body, |ledger, form| {
        let Some(intent) = ledger.intents.get_mut(&id) else {
            return stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                "No such payment_intent",
            );
        };
        if intent.status != "requires_capture" {
            return unexpected_state(intent, "captured");
        }
        let amount = field(form, "amount_to_capture")
            .and_then(|a| a.parse::<i64>().ok())
            .unwrap_or(intent.amount);
        if amount > intent.amount {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("amount_too_large"),
                "Amount to capture exceeds the authorized amount.",
            );
        }
        intent.status = "succeeded".to_owned();
        intent.amount_received = amount;
        let answer = intent_json(intent);
        ledger.operations.push(format!("capture {id}"));
        (200, answer)
    })
}

async fn cancel(
    State(state): State<FakeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/cancel");
    handle(&state, &headers, &path, &body, |ledger, _form| {
        let Some(intent) = ledger.intents.get_mut(&id) else {
            return stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                "No such payment_intent",
            );
        };
        if matches!(intent.status.as_str(), "succeeded" | "canceled") {
            return unexpected_state(intent, "canceled");
        }
        intent.status = "canceled".to_owned();
        intent.cancellation_reason = Some("requested_by_customer".to_owned());
        let answer = intent_json(intent);
        ledger.operations.push(format!("cancel {id}"));
        (200, answer)
    })
}

fn refunded(ledger: &Ledger, intent_id: &str) -> i64 {
    ledger
        .refunds
        .iter()
        .filter(|r| r.payment_intent == intent_id)
        .map(|r| r.amount)
        .sum()
}

fn refund_json(refund: &FakeRefund) -> Value {
    json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "balance_transaction": format!("txn_{}", refund.id),
        "charge": format!("ch_{}", refund.payment_intent),
        "created": 1_763_900_000,
        "currency": refund.currency,
        "customer": null,
        "customer_account": null,
        "description": null,
        "destination_details": null,
        "failure_balance_transaction": null,
        "failure_reason": null,
        "instructions_email": null,
        "metadata": {},
        "next_action": null,
        "payment_intent": refund.payment_intent,
        "payment_method": null,
        "pending_reason": null,
        "presentment_details": null,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    })
}

/// `POST /v1/refunds`: refunds part or all of what a PaymentIntent captured and is not yet
/// refunded; without an amount, all of the rest.
async fn refund(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&state, &headers, "/v1/refunds", &body, |ledger, form| {
        let intent_id = field(form, "payment_intent").unwrap_or_default().to_owned();
        let Some(intent) = ledger.intents.get(&intent_id).cloned() else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such payment_intent: '{intent_id}'"),
            );
        };
        let left = intent.amount_received - refunded(ledger, &intent_id);
        if intent.status != "succeeded" {
            return unexpected_state(&intent, "refunded");
        }
        if left <= 0 {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("charge_already_refunded"),
                &format!("Charge ch_{intent_id} has already been refunded."),
            );
        }
        let amount = match field(form, "amount").map(str::parse::<i64>) {
            None => left,
            Some(Ok(amount)) if (1..=left).contains(&amount) => amount,
            Some(_) => {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("amount_too_large"),
                    &format!("Refund amount is greater than unrefunded amount on charge ({left})"),
                );
            }
        };
        ledger.next_id += 1;
        let refund = FakeRefund {
            id: format!("re_fake{:06}", ledger.next_id),
            payment_intent: intent_id,
            amount,
            currency: intent.currency,
        };
        ledger
            .operations
            .push(format!("refund {} {amount}", refund.payment_intent));
        let answer = refund_json(&refund);
        ledger.refunds.push(refund);
        (200, answer)
    })
}
