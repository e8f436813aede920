//! Shipping: `GET /shipping/track/{order_id}` shows a parcel; `POST /webhooks/carrier/{carrier}`
//! takes a carrier's tracking events.
//!
//! A carrier webhook is verified before anything is read: its `X-Carrier-Signature` header must
//! be `sha256=<hex>` of HMAC-SHA256 over the raw body with the carrier's shared secret. The event
//! is then handed to the parcel's workflow (`shipment-<order id>`: FollowParcel, or the
//! FulfillShipment of an order from before the weeks-long patch; both take the same
//! `carrier_event` signal), and when it is
//! progress (picked up, out for delivery) to its PlaceOrder too (`shipment_update`), which acts
//! on it without the shipment relaying it; both apply an event once, so redeliveries are
//! harmless.

use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::extract::RawBody;
use crate::openapi::{BadRequest, InvalidInput, NotFound};
use crate::routes::orders::visible_order;
use crate::webhook::{Receipt, signature_problem};
use crate::{ApiError, AppState};
use activities::shipping::http::{EventAnswer, SIGNATURE_HEADER, verify_webhook};
use activities::shipping::queries::{ShipmentView, order_of_parcel, shipment_of};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use contracts::OrderId;
use contracts::shipping::{ShipmentUpdate, TrackingEvent};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowSignalOptions};
use workflows::{FollowParcel, PlaceOrder};

/// The shared webhook secrets of the HTTP carriers, by carrier name.
#[derive(Clone, Default)]
pub(crate) struct CarrierWebhookSecrets(pub(crate) Arc<HashMap<String, SecretString>>);

/// A parcel: carrier, tracking number, status and every tracking event (its customer, or
/// staff).
#[utoipa::path(
    get, path = "/shipping/track/{order_id}", operation_id = "trackShipment", tag = "shipping",
    params(("order_id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The parcel.", body = ShipmentView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %order_id, workflow.id = %format_args!("shipment-{order_id}")))]
pub(crate) async fn track(
    State(state): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<ShipmentView>, ApiError> {
    let id: OrderId = order_id
        .parse()
        .map_err(|_| ApiError::invalid_path("order_id", "must be a UUID"))?;
    visible_order(&state, &caller, id).await?;
    shipment_of(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("order {id} has no shipment yet")))
}

/// The signature header, as the document and the problems name it.
const SIGNATURE_NAME: &str = "X-Carrier-Signature";

/// Verifies a carrier's tracking event and delivers it to the parcel's shipment workflow.
#[utoipa::path(
    post, path = "/webhooks/carrier/{carrier}", operation_id = "carrierWebhook", tag = "shipping",
    params(
        ("carrier" = String, Path, description = "The carrier's name, as configured."),
        ("X-Carrier-Signature" = String, Header, pattern = r"^[ -~]+$", description = "`sha256=<hex>` of HMAC-SHA256 over the raw body with the carrier's shared secret."),
    ),
    request_body(content = Object, content_type = "application/json", description = "The carrier's tracking event."),
    responses(
        (status = 200, description = "The event was verified and handed on.", body = Receipt),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 422, response = InvalidInput),
    ),
)]
#[tracing::instrument(skip_all, fields(carrier = %carrier, order.id, workflow.id))]
pub(crate) async fn carrier_webhook(
    State(state): State<AppState>,
    Extension(CarrierWebhookSecrets(secrets)): Extension<CarrierWebhookSecrets>,
    Path(carrier): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Receipt>, ApiError> {
    let secret = secrets.get(&carrier).ok_or_else(|| {
        ApiError::not_found(format!("no carrier `{carrier}` sends webhooks here"))
    })?;
    verify_signature(secret, &headers, &body)?;
    let event: EventAnswer = crate::extract::parse_json(&body)?;
    let tracking_number = event.tracking_number.clone().ok_or_else(|| {
        ApiError::invalid_field(ErrorCode::InvalidField, "tracking_number", "missing")
    })?;
    let Some(order_id) = order_of_parcel(&state.db, &carrier, &tracking_number).await? else {
        tracing::info!(%tracking_number, "event for an unknown parcel; ignored");
        return Ok(Json(Receipt::ignored()));
    };
    let span = tracing::Span::current();
    span.record("order.id", tracing::field::display(order_id));
    span.record(
        "workflow.id",
        tracing::field::display(contracts::shipping::workflow_id(order_id)),
    );
    let Some(tracking_event) = event.into_event(&tracking_number) else {
        return Ok(Json(Receipt::ignored()));
    };
    let receipt = deliver(&state, &carrier, order_id, tracking_event).await?;
    Ok(Json(receipt))
}

/// Refuses (400) a body whose `X-Carrier-Signature` is missing or does not match.
fn verify_signature(
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            signature_problem(
                SIGNATURE_NAME,
                ErrorCode::MissingSignature,
                "the X-Carrier-Signature header is missing",
            )
        })?;
    verify_webhook(secret, body, signature).map_err(|err| {
        signature_problem(
            SIGNATURE_NAME,
            ErrorCode::InvalidSignature,
            &err.to_string(),
        )
    })
}

/// Signals the event to the parcel's workflow, and its progress to the order.
async fn deliver(
    state: &AppState,
    carrier: &str,
    order_id: OrderId,
    tracking_event: TrackingEvent,
) -> Result<Receipt, ApiError> {
    let update = ShipmentUpdate::of_event(carrier, &tracking_event);
    let delivered = state
        .temporal
        .get_workflow_handle::<FollowParcel>(contracts::shipping::workflow_id(order_id))
        .signal(
            FollowParcel::carrier_event,
            tracking_event,
            WorkflowSignalOptions::default(),
        )
        .await;
    match delivered {
        Ok(()) => {
            if update.status.is_progress() {
                tell_the_order(state, order_id, update).await?;
            }
            Ok(Receipt::delivered(order_id))
        }
        Err(WorkflowInteractionError::NotFound(_)) if order_running(state, order_id).await? => {
            // The label is bought and the order waits for its parcel, but the parcel's
            // workflow has not started yet (the order starts it right after the label): the
            // carrier is asked to send the event again rather than have it dropped.
            Err(ApiError::not_ready(
                "this parcel's tracking is about to start; send the event again",
            ))
        }
        Err(WorkflowInteractionError::NotFound(_)) => Ok(Receipt::ignored()),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}

/// Whether the order's workflow is still running.
async fn order_running(state: &AppState, order_id: OrderId) -> Result<bool, ApiError> {
    let described = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(contracts::orders::workflow_id(order_id))
        .describe(WorkflowDescribeOptions::default())
        .await;
    match described {
        Ok(description) => Ok(description.status() == WorkflowExecutionStatus::Running),
        Err(WorkflowInteractionError::NotFound(_)) => Ok(false),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}

/// Hands the parcel's progress to its order too, which acts on it at once (the pickup is the
/// point of no return) without the shipment relaying it. A failure answers 503, so the carrier
/// delivers the event again; the shipment and the order both apply it once.
async fn tell_the_order(
    state: &AppState,
    order_id: OrderId,
    update: ShipmentUpdate,
) -> Result<(), ApiError> {
    let told = state
        .temporal
        .get_workflow_handle::<PlaceOrder>(contracts::orders::workflow_id(order_id))
        .signal(
            PlaceOrder::shipment_update,
            update,
            WorkflowSignalOptions::default(),
        )
        .await;
    match told {
        Ok(()) | Err(WorkflowInteractionError::NotFound(_)) => Ok(()),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}
