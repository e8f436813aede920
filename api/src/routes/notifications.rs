//! Notifications: `GET /notifications?customer=` lists a customer's history with every
//! delivery attempt; `POST /notifications/send` sends an operator's message through
//! SendNotification.

use crate::auth::{Admin, Caller};
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{CrossFieldRule, Forbidden, at_least_one_of};
use crate::{ApiError, AppState};
use activities::notifications::queries::{NotificationView, history};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use contracts::Service;
use contracts::notifications::{
    Channel, Notification, Recipient, Template, TemplateData, workflow_id,
};
use serde::{Deserialize, Serialize};
use temporalio_client::WorkflowStartOptions;
use utoipa::openapi::schema::Type;
use workflows::SendNotification;

/// The query of `GET /notifications`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryParams {
    /// The customer's email.
    #[garde(email)]
    #[param(format = "email")]
    customer: String,
    /// At most this many, newest first (50 by default).
    #[garde(inner(range(min = 1, max = 200)))]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
}

/// A customer's notifications, newest first, with their attempts (their own, or staff).
#[utoipa::path(
    get, path = "/notifications", operation_id = "listNotifications", tag = "notifications",
    params(HistoryParams),
    responses(
        (status = 200, description = "The notifications.", body = Vec<NotificationView>),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<HistoryParams>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    if !caller.is_staff() && !caller.email.eq_ignore_ascii_case(&params.customer) {
        return Err(ApiError::forbidden(
            "customers see only their own notifications",
        ));
    }
    Ok(Json(
        history(&state.db, &params.customer, params.limit.unwrap_or(50)).await?,
    ))
}

/// `POST /notifications/send` needs at least one address.
pub(crate) fn recipient_rule() -> CrossFieldRule {
    at_least_one_of(
        "SendBody",
        &[
            ("email", Type::String),
            ("phone", Type::String),
            ("webhook_url", Type::String),
        ],
    )
}

/// The body of `POST /notifications/send`: at least one of `email`, `phone`, `webhook_url`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendBody {
    /// Email address.
    #[garde(inner(email))]
    #[schema(format = "email")]
    email: Option<String>,
    /// Phone (E.164).
    #[garde(inner(length(chars, min = 8, max = 16)))]
    #[schema(min_length = 8, max_length = 16)]
    phone: Option<String>,
    /// URL for the webhook channel.
    #[garde(inner(url))]
    #[schema(format = "uri")]
    webhook_url: Option<String>,
    /// Subject.
    #[garde(length(chars, min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    subject: String,
    /// Text.
    #[garde(length(chars, min = 1, max = 5000))]
    #[schema(min_length = 1, max_length = 5000)]
    body: String,
    /// Channels in order of preference (default: every channel the recipient has).
    #[garde(length(max = 3))]
    #[schema(max_items = 3)]
    #[serde(default)]
    channels: Vec<Channel>,
}

/// The answer to a send.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SendAccepted {
    /// The notification's id.
    notification_id: String,
    /// Its SendNotification workflow.
    workflow_id: String,
}

/// Sends an operator's message (admins).
#[utoipa::path(
    post, path = "/notifications/send", operation_id = "sendNotification", tag = "notifications",
    request_body = SendBody,
    responses(
        (status = 202, description = "The message is being sent (SendNotification).", body = SendAccepted),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn send(
    State(state): State<AppState>,
    _: Admin,
    ValidJson(body): ValidJson<SendBody>,
) -> Result<(StatusCode, Json<SendAccepted>), ApiError> {
    let recipient = Recipient {
        email: body.email,
        phone: body.phone,
        webhook_url: body.webhook_url,
        customer_id: None,
    };
    if recipient.channels().is_empty() {
        return Err(ApiError::invalid_field(
            ErrorCode::NoRecipient,
            "email",
            "give an email, a phone or a webhook_url",
        ));
    }
    let notification_id = format!("manual-{}", contracts::Uuid::now_v7());
    let data = TemplateData {
        subject: Some(body.subject),
        body: Some(body.body),
        ..TemplateData::default()
    };
    let notification =
        Notification::new(notification_id.clone(), recipient, Template::Custom, data)
            .through(body.channels);
    let id = workflow_id(&notification_id);
    state
        .temporal
        .start_workflow(
            SendNotification::run,
            notification,
            WorkflowStartOptions::new(state.queues.of(Service::Notifications), id.clone()).build(),
        )
        .await
        .map_err(ApiError::unavailable)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SendAccepted {
            notification_id,
            workflow_id: id,
        }),
    ))
}
