//! `POST /webhooks/stripe`: Stripe's events about payments, delivered to their order's workflow.
//!
//! The `Stripe-Signature` header is verified against the endpoint's signing secret (HMAC-SHA256
//! over the timestamp and the raw body, five minutes of tolerance) before anything is read: a
//! missing, wrong or stale signature gets 400 and changes nothing. A PaymentIntent event carries
//! its order id in the PaymentIntent's metadata and is sent to that order's PlaceOrder as the
//! `payment_event` signal; the workflow applies each event id once, so Stripe's redeliveries are
//! harmless. Events for no known order are acknowledged and dropped (Stripe would otherwise
//! retry them for days); if Temporal is down the answer is 503, so Stripe retries later.

use crate::error::ErrorCode;
use crate::extract::RawBody;
use crate::openapi::{BadRequest, NotFound};
use crate::webhook::{Receipt, signature_problem};
use crate::{ApiError, AppState};
use activities::payments::stripe::ORDER_ID_METADATA;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use contracts::OrderId;
use contracts::orders::{PaymentEvent, workflow_id};
use secrecy::{ExposeSecret, SecretString};
use stripe_webhook::{Event, EventObject, Webhook, WebhookError};
use temporalio_client::WorkflowSignalOptions;
use temporalio_client::errors::WorkflowInteractionError;
use workflows::PlaceOrder;

/// The Stripe webhook signing secret, if one is configured.
#[derive(Clone, Default)]
pub(crate) struct StripeWebhookSecret(pub(crate) Option<SecretString>);

/// The signature header, as the document and the problems name it.
const SIGNATURE_NAME: &str = "Stripe-Signature";

/// Verifies a Stripe event and delivers it to its order.
#[utoipa::path(
    post, path = "/webhooks/stripe", operation_id = "stripeWebhook", tag = "webhooks",
    params(("Stripe-Signature" = String, Header, pattern = r"^[ -~]+$", description = "Stripe's signature of the event (`t=<unix time>,v1=<hex>`); older than five minutes is refused.")),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event, as Stripe sends it."),
    responses(
        (status = 200, description = "The event was verified and handed to its order, or ignored.", body = Receipt),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
)]
#[tracing::instrument(skip_all, fields(event.id, order.id, workflow.id))]
pub(crate) async fn stripe(
    State(state): State<AppState>,
    Extension(StripeWebhookSecret(secret)): Extension<StripeWebhookSecret>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let event = verified_event(secret.as_ref(), &headers, &body)?;
    tracing::Span::current().record("event.id", event.id.as_str());
    let Some((order_id, payment_event)) = payment_event(&event) else {
        return Ok((StatusCode::OK, Json(Receipt::ignored())));
    };
    let span = tracing::Span::current();
    span.record("order.id", tracing::field::display(order_id));
    span.record(
        "workflow.id",
        tracing::field::display(workflow_id(order_id)),
    );
    let receipt = deliver(&state, order_id, payment_event).await?;
    Ok((StatusCode::OK, Json(receipt)))
}

/// The event, if its signature holds. The header is checked first: the document requires it,
/// configured or not; without a secret there is no endpoint (404).
fn verified_event(
    secret: Option<&SecretString>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Event, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            signature_problem(
                SIGNATURE_NAME,
                ErrorCode::MissingSignature,
                "the Stripe-Signature header is missing",
            )
        })?;
    let Some(secret) = secret else {
        return Err(ApiError::not_found(
            "Stripe webhooks are not configured here",
        ));
    };
    let body = std::str::from_utf8(body).map_err(|_| {
        ApiError::bad_request(ErrorCode::InvalidEvent, "the body is not UTF-8 text")
    })?;
    Webhook::construct_event(body, signature, secret.expose_secret()).map_err(|err| match err {
        WebhookError::BadTimestamp(_) => signature_problem(
            SIGNATURE_NAME,
            ErrorCode::StaleSignature,
            "the signature is older than five minutes",
        ),
        WebhookError::BadParse(_) => {
            ApiError::bad_request(ErrorCode::InvalidEvent, "the body is not a Stripe event")
        }
        WebhookError::BadKey | WebhookError::BadHeader(_) | WebhookError::BadSignature => {
            signature_problem(
                SIGNATURE_NAME,
                ErrorCode::InvalidSignature,
                "the signature does not match the body",
            )
        }
    })
}

/// The order a PaymentIntent event is about and the event in our terms; `None` for an event
/// we do not follow or one without an order id.
fn payment_event(event: &Event) -> Option<(OrderId, PaymentEvent)> {
    let (intent, detail) = match &event.data.object {
        EventObject::PaymentIntentCanceled(intent) => (
            intent,
            intent
                .cancellation_reason
                .as_ref()
                .map(|r| format!("cancelled ({})", r.as_str())),
        ),
        EventObject::PaymentIntentPaymentFailed(intent) => (
            intent,
            intent
                .last_payment_error
                .as_ref()
                .and_then(|e| e.message.clone()),
        ),
        EventObject::PaymentIntentSucceeded(intent)
        | EventObject::PaymentIntentAmountCapturableUpdated(intent) => (intent, None),
        _ => {
            tracing::debug!(event.kind = event.type_.as_str(), "event ignored");
            return None;
        }
    };
    let Some(order_id) = intent
        .metadata
        .get(ORDER_ID_METADATA)
        .and_then(|id| id.parse::<OrderId>().ok())
    else {
        tracing::info!("payment event without an order id; ignored");
        return None;
    };
    let payment_event = PaymentEvent {
        event_id: event.id.as_str().to_owned(),
        event_type: event.type_.as_str().to_owned(),
        provider_ref: intent.id.as_str().to_owned(),
        detail,
    };
    Some((order_id, payment_event))
}

/// Signals the event to its order; an order no longer running ignores it, Temporal down is a
/// 503 (Stripe sends it again).
async fn deliver(
    state: &AppState,
    order_id: OrderId,
    event: PaymentEvent,
) -> Result<Receipt, ApiError> {
    let kind = event.event_type.clone();
    let delivered = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(workflow_id(order_id))
        .signal(
            PlaceOrder::payment_event,
            event,
            WorkflowSignalOptions::default(),
        )
        .await;
    match delivered {
        Ok(()) => {
            tracing::info!(event.kind = kind, "payment event delivered");
            Ok(Receipt::delivered(order_id))
        }
        Err(WorkflowInteractionError::NotFound(_)) => {
            tracing::info!("payment event for an order that is no longer running; ignored");
            Ok(Receipt::ignored())
        }
        Err(err) => Err(ApiError::unavailable(err)),
    }
}
