//! Merchant webhooks, for admins: `POST/GET /webhooks/endpoints`,
//! `GET/PATCH/DELETE /webhooks/endpoints/{id}`, `GET /webhooks/endpoints/{id}/deliveries` and
//! `POST /webhooks/deliveries/{id}/resend`.
//!
//! An endpoint receives the domain events it names, signed as Standard Webhooks (its secret is
//! answered once, on creation) and retried over hours by a DeliverWebhook workflow per
//! delivery. A URL whose host does not resolve, or resolves to a private, loopback or
//! link-local address, is refused (409 `destination_refused`) unless
//! `webhooks.allowed_private_hosts` names it.

use crate::auth::Admin;
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound};
use crate::{ApiError, AppState};
use activities::notifications::webhooks::endpoints::{
    self, Delivery, Endpoint, EndpointChange, NewEndpoint,
};
use activities::notifications::webhooks::{Destinations, WebhookError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use contracts::Service;
use contracts::events::EventType;
use contracts::webhooks::{DeliverWebhookInput, DeliveryStatus, workflow_id};
use serde::{Deserialize, Serialize};
use temporalio_client::WorkflowStartOptions;
use temporalio_client::errors::WorkflowStartError;
use uuid::Uuid;
use workflows::DeliverWebhook;

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::Db(db) => ApiError::from(db),
            WebhookError::Corrupt(_) => ApiError::internal(err),
        }
    }
}

fn no_endpoint(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no webhook endpoint with id {id}"))
}

fn parse_id(id: &str, what: &str) -> Result<Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid_path("id", format!("must be the UUID of a {what}")))
}

/// The body of `POST /webhooks/endpoints`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEndpointBody {
    /// Where to post: an `http` or `https` URL of at most 2000 characters, on a public
    /// address.
    #[garde(length(chars, min = 8, max = 2000))]
    #[schema(min_length = 8, max_length = 2000, pattern = r"^https?://[^\u0000]+$")]
    url: String,
    /// The events it receives: 1 to 13 names.
    #[garde(length(min = 1, max = 13))]
    #[schema(min_items = 1, max_items = 13)]
    event_types: Vec<EventType>,
    /// A note for admins, at most 500 characters.
    #[garde(inner(length(chars, max = 500)))]
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
}

/// A new endpoint, with its secret: keep it now, it is not shown again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedEndpoint {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The signing secret (`whsec_…`), for the receiver's Standard Webhooks library.
    secret: String,
}

/// Refuses a URL that may not receive webhooks (409 `destination_refused`, naming `url`).
async fn check_destination(state: &AppState, url: &str) -> Result<(), ApiError> {
    let refused = |detail: String| {
        ApiError::conflict(ErrorCode::DestinationRefused, detail.clone()).with_field("url", detail)
    };
    let parsed = Destinations::parse(url).map_err(|err| refused(err.to_string()))?;
    state
        .webhooks
        .destinations
        .resolve(&parsed)
        .await
        .map_err(|err| refused(err.to_string()))?;
    Ok(())
}

/// Registers an endpoint (admin); answers its secret, once.
#[utoipa::path(
    post, path = "/webhooks/endpoints", operation_id = "createWebhookEndpoint", tag = "webhooks",
    request_body = NewEndpointBody,
    responses(
        (status = 201, description = "The endpoint, with its secret.", body = CreatedEndpoint),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ValidJson(body): ValidJson<NewEndpointBody>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    check_destination(&state, &body.url).await?;
    let new = NewEndpoint {
        url: body.url,
        event_types: body.event_types,
        description: body.description,
    };
    let (endpoint, secret) = endpoints::create(&state.db, new, &caller.email).await?;
    tracing::info!(endpoint.id = %endpoint.id, "webhook endpoint registered");
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint { endpoint, secret }),
    ))
}

/// Endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EndpointList {
    /// Newest first.
    items: Vec<Endpoint>,
}

/// Deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeliveryList {
    /// Newest first.
    items: Vec<Delivery>,
}

/// Every endpoint (admin), newest first, without their secrets.
#[utoipa::path(
    get, path = "/webhooks/endpoints", operation_id = "listWebhookEndpoints", tag = "webhooks",
    responses(
        (status = 200, description = "The endpoints.", body = EndpointList),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(EndpointList {
        items: endpoints::list(&state.db).await?,
    }))
}

/// One endpoint (admin).
#[utoipa::path(
    get, path = "/webhooks/endpoints/{id}", operation_id = "getWebhookEndpoint", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint.", body = Endpoint),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    let id = parse_id(&id, "webhook endpoint")?;
    endpoints::get(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| no_endpoint(id))
}

/// The body of `PATCH /webhooks/endpoints/{id}`: what to change.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointPatch {
    /// A new URL (as on creation).
    #[garde(inner(length(chars, min = 8, max = 2000)))]
    #[schema(min_length = 8, max_length = 2000, pattern = r"^https?://[^\u0000]+$")]
    url: Option<String>,
    /// New event types: 1 to 13 names.
    #[garde(inner(length(min = 1, max = 13)))]
    #[schema(min_items = 1, max_items = 13)]
    event_types: Option<Vec<EventType>>,
    /// A new note; an empty one removes it.
    #[garde(inner(length(chars, max = 500)))]
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
    /// `true` enables a disabled endpoint again (forgetting its failures); `false` pauses it.
    #[garde(skip)]
    enabled: Option<bool>,
}

/// Changes an endpoint (admin).
#[utoipa::path(
    patch, path = "/webhooks/endpoints/{id}", operation_id = "updateWebhookEndpoint",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id.")),
    request_body = EndpointPatch,
    responses(
        (status = 200, description = "The endpoint as it is now.", body = Endpoint),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(endpoint.id = %id))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ValidJson(patch): ValidJson<EndpointPatch>,
) -> Result<Json<Endpoint>, ApiError> {
    let id = parse_id(&id, "webhook endpoint")?;
    if let Some(url) = &patch.url {
        check_destination(&state, url).await?;
    }
    let change = EndpointChange {
        url: patch.url,
        event_types: patch.event_types,
        description: patch
            .description
            .map(|text| Some(text).filter(|text| !text.is_empty())),
        enabled: patch.enabled,
    };
    endpoints::update(&state.db, id, change, &caller.email)
        .await?
        .map(Json)
        .ok_or_else(|| no_endpoint(id))
}

/// Removes an endpoint and its deliveries (admin).
#[utoipa::path(
    delete, path = "/webhooks/endpoints/{id}", operation_id = "deleteWebhookEndpoint",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(endpoint.id = %id))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "webhook endpoint")?;
    if endpoints::delete(&state.db, id, &caller.email).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no webhook endpoint with id {id}"
        )))
    }
}

/// The query of `GET /webhooks/endpoints/{id}/deliveries`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryQuery {
    /// How many, 1 to 200 (50 by default).
    #[garde(inner(range(min = 1, max = 200)))]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
}

/// An endpoint's latest deliveries with every attempt (admin), newest first.
#[utoipa::path(
    get, path = "/webhooks/endpoints/{id}/deliveries", operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id."), DeliveryQuery),
    responses(
        (status = 200, description = "The deliveries.", body = DeliveryList),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let id = parse_id(&id, "webhook endpoint")?;
    if endpoints::get(&state.db, id).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "no webhook endpoint with id {id}"
        )));
    }
    let items = endpoints::deliveries(&state.db, id, query.limit.unwrap_or(50)).await?;
    Ok(Json(DeliveryList { items }))
}

/// A re-send, started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ResendAccepted {
    /// The delivery.
    delivery_id: Uuid,
    /// The DeliverWebhook workflow carrying it out.
    workflow_id: String,
}

/// A re-send refused while the delivery is being attempted.
fn delivery_in_progress() -> ApiError {
    ApiError::conflict(
        ErrorCode::DeliveryInProgress,
        "the delivery is being attempted now",
    )
}

/// How long a re-send waits for the run that recorded a delivery's outcome to close.
const CLOSING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts DeliverWebhook for a delivery. When its outcome is `finished` (recorded) but the run
/// that recorded it has not closed yet, waits up to [`CLOSING_WAIT`] for it to close and starts
/// again; a run still attempting the delivery answers `409`.
async fn start_delivery(
    state: &AppState,
    input: DeliverWebhookInput,
    workflow_id: &str,
    finished: bool,
) -> Result<(), ApiError> {
    let options = WorkflowStartOptions::new(
        state.queues.of(Service::Notifications),
        workflow_id.to_owned(),
    )
    .build();
    let start = || {
        state
            .temporal
            .start_workflow(DeliverWebhook::run, input.clone(), options.clone())
    };
    match start().await {
        Ok(_) => return Ok(()),
        Err(WorkflowStartError::AlreadyStarted { .. }) if finished => {}
        Err(WorkflowStartError::AlreadyStarted { .. }) => return Err(delivery_in_progress()),
        Err(err) => return Err(ApiError::unavailable(err)),
    }
    let closing = state
        .temporal
        .get_workflow_handle::<DeliverWebhook>(workflow_id.to_owned());
    let _ = tokio::time::timeout(CLOSING_WAIT, closing.get_result(Default::default())).await;
    match start().await {
        Ok(_) => Ok(()),
        Err(WorkflowStartError::AlreadyStarted { .. }) => Err(delivery_in_progress()),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}

/// Delivers an event to its endpoint again (admin), whatever became of it before: its
/// attempts go on being listed with the delivery. `409` while an attempt is under way.
#[utoipa::path(
    post, path = "/webhooks/deliveries/{id}/resend", operation_id = "resendWebhookDelivery",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The delivery's id.")),
    responses(
        (status = 202, description = "The re-send started.", body = ResendAccepted),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(delivery.id = %id))]
pub(crate) async fn resend(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ResendAccepted>), ApiError> {
    let id = parse_id(&id, "webhook delivery")?;
    let delivery = endpoints::delivery(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook delivery with id {id}")))?;
    let enabled = endpoints::get(&state.db, delivery.endpoint_id)
        .await?
        .is_some_and(|endpoint| endpoint.enabled);
    if !enabled {
        return Err(ApiError::conflict(
            ErrorCode::EndpointDisabled,
            "the endpoint is disabled: enable it first",
        ));
    }
    if delivery.status == DeliveryStatus::Pending && !delivery.attempts.is_empty() {
        return Err(delivery_in_progress());
    }
    let input = DeliverWebhookInput {
        delivery_id: id,
        retry_schedule_secs: state.webhooks.retry_schedule_secs.clone(),
    };
    let workflow_id = workflow_id(id);
    let finished = delivery.status != DeliveryStatus::Pending;
    start_delivery(&state, input, &workflow_id, finished).await?;
    tracing::info!("webhook delivery re-sent");
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendAccepted {
            delivery_id: id,
            workflow_id,
        }),
    ))
}
