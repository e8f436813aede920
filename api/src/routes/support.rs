//! Support conversations about an order: the customer and the operators write
//! (`POST /orders/{id}/messages`), both read the history page by page
//! (`GET /orders/{id}/messages`), operators work from the inbox (`GET /support/conversations`)
//! and close a conversation (`POST /orders/{id}/conversation/close`).
//!
//! Who may write is who may see the order (`GET /orders/{id}`): its customer, and staff.
//! Each message also goes live to both sides through the change feed (docs/REALTIME.md).
//! When an operator answers a customer who holds no live connection, the answer is emailed
//! too (a SendNotification, once per message).

use crate::auth::{Caller, Staff};
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound};
use crate::routes::orders::visible_order;
use crate::{ApiError, AppState, validate};
use activities::feed::presence;
use activities::orders::queries::OrderView;
use activities::support::{
    Conversation, ConversationStatus, HistoryPage, InboxPage, Message, NewMessage, Posted, Side,
    Support, SupportError,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use contracts::Service;
use contracts::notifications::{Notification, Recipient, Template, TemplateData, workflow_id};
use serde::Deserialize;
use std::time::Duration;
use temporalio_client::WorkflowStartOptions;
use uuid::Uuid;
use workflows::SendNotification;

/// A customer counts as connected while one of their sockets was seen this recently (three
/// heartbeats).
const PRESENT_WITHIN: Duration = Duration::from_secs(60);

/// The body of `POST /orders/{id}/messages`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    /// The text: 1 to 4000 characters, not only white space, without U+0000 (the pattern says
    /// both, since a pattern of its own replaces the document's NUL rule).
    #[garde(length(chars, min = 1, max = 4000), custom(validate::not_blank))]
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    body: String,
    /// An id the client chose (a UUID), so that sending the message again after a lost
    /// answer stores it once; the server chooses one when it is absent.
    #[garde(skip)]
    id: Option<Uuid>,
}

/// The query of `GET /orders/{id}/messages`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryParams {
    /// Only messages before this one (its `seq`; the page's `before` gives it): older pages.
    #[garde(range(min = 1, max = 2_000_000_000))]
    #[param(minimum = 1, maximum = 2_000_000_000)]
    before: Option<i64>,
    /// Messages per page, 1 to 100 (50 by default).
    #[garde(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
}

/// The query of `GET /support/conversations`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboxParams {
    /// Open (the default) or closed conversations.
    #[garde(skip)]
    status: Option<ConversationStatus>,
    /// Page number, from 1.
    #[garde(range(min = 1, max = 100_000))]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u64>,
    /// Conversations per page, 1 to 200 (50 by default).
    #[garde(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<u64>,
}

fn from_support(err: SupportError) -> ApiError {
    match err {
        SupportError::Db(db) => ApiError::from(db),
        SupportError::IdTaken(id) => ApiError::conflict(
            ErrorCode::MessageIdTaken,
            format!("message id {id} is another message's"),
        )
        .with_field("id", "choose a new id for a new message"),
        SupportError::DataCorrupt(what) => ApiError::internal(what),
    }
}

/// Writes a message about the order (its customer, or staff as the shop).
#[utoipa::path(
    post, path = "/orders/{id}/messages", operation_id = "sendSupportMessage", tag = "support",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = MessageBody,
    responses(
        (status = 201, description = "Stored, and sent live to both sides.", body = Message),
        (status = 200, description = "This message (by its `id`) was stored before; nothing changed.", body = Message),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, customer.id = %caller.id))]
pub(crate) async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<MessageBody>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let order = visible_order(&state, &caller, validate::order_id(&id)?).await?;
    let customer_id = order
        .customer_id
        .ok_or_else(|| {
            ApiError::not_found(format!("order {} has no customer to answer", order.id))
        })?
        .0;
    let author = if caller.id.0 == customer_id {
        Side::Customer
    } else {
        Side::Operator
    };
    let new = NewMessage {
        id: body.id.unwrap_or_else(Uuid::now_v7),
        order_id: order.id.0,
        customer_id,
        author_id: caller.id.0,
        author_email: caller.email.clone(),
        author,
        body: body.body,
    };
    let Posted { message, new } = Support::new(state.db.clone())
        .post(&new)
        .await
        .map_err(from_support)?;
    if !new {
        return Ok((StatusCode::OK, Json(message)));
    }
    if author == Side::Operator {
        email_if_away(&state, &order, &message).await;
    }
    Ok((StatusCode::CREATED, Json(message)))
}

/// Emails an operator's answer to a customer who holds no live connection. The answer is
/// stored either way; a failure here is logged, and the customer reads it on the order.
async fn email_if_away(state: &AppState, order: &OrderView, message: &Message) {
    let Some(customer) = order.customer_id else {
        return;
    };
    match presence::connected(&state.db, customer.0, PRESENT_WITHIN).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(err) => tracing::warn!(error = %err, "presence unknown; emailing the answer"),
    }
    let notification_id = format!("support-{}", message.id);
    let recipient = Recipient {
        email: Some(order.customer_email.clone()),
        customer_id: Some(customer),
        ..Recipient::default()
    };
    let data = TemplateData {
        order_id: Some(order.id),
        body: Some(message.body.clone()),
        ..TemplateData::default()
    };
    let notification = Notification::new(
        notification_id.clone(),
        recipient,
        Template::SupportReply,
        data,
    );
    let options = WorkflowStartOptions::new(
        state.queues.of(Service::Notifications),
        workflow_id(&notification_id),
    )
    .build();
    if let Err(err) = state
        .temporal
        .start_workflow(SendNotification::run, notification, options)
        .await
    {
        tracing::warn!(error = %err, "could not start the email of a support answer");
    }
}

/// Reads the order's conversation, newest page first, each page oldest first (its customer,
/// or staff). An order nobody wrote about has an empty history.
#[utoipa::path(
    get, path = "/orders/{id}/messages", operation_id = "listSupportMessages", tag = "support",
    params(("id" = Uuid, Path, description = "The order's id."), HistoryParams),
    responses(
        (status = 200, description = "A page of messages.", body = HistoryPage),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, customer.id = %caller.id))]
pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(params): ValidQuery<HistoryParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    let order = visible_order(&state, &caller, validate::order_id(&id)?).await?;
    let page = Support::new(state.db.clone())
        .history(order.id.0, params.before, params.limit.unwrap_or(50))
        .await
        .map_err(from_support)?;
    Ok(Json(page))
}

/// Shows the order's conversation: open or closed, whose turn, its newest message (its
/// customer, or staff).
#[utoipa::path(
    get, path = "/orders/{id}/conversation", operation_id = "getConversation", tag = "support",
    params(("id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The conversation.", body = Conversation),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id, customer.id = %caller.id))]
pub(crate) async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    let order = visible_order(&state, &caller, validate::order_id(&id)?).await?;
    Support::new(state.db.clone())
        .conversation(order.id.0)
        .await
        .map_err(from_support)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("order {} has no conversation", order.id)))
}

/// Closes the order's conversation (staff); a new message opens it again. Closing a closed
/// conversation changes nothing.
#[utoipa::path(
    post, path = "/orders/{id}/conversation/close", operation_id = "closeConversation", tag = "support",
    params(("id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The conversation, closed.", body = Conversation),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub(crate) async fn close(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    let order = visible_order(&state, &caller, validate::order_id(&id)?).await?;
    Support::new(state.db.clone())
        .close(order.id.0, caller.id.0, &caller.email)
        .await
        .map_err(from_support)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("order {} has no conversation", order.id)))
}

/// The operators' inbox: conversations by status, most recently active first (staff).
#[utoipa::path(
    get, path = "/support/conversations", operation_id = "listConversations", tag = "support",
    params(InboxParams),
    responses(
        (status = 200, description = "A page of conversations.", body = InboxPage),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn inbox(
    State(state): State<AppState>,
    _: Staff,
    ValidQuery(params): ValidQuery<InboxParams>,
) -> Result<Json<InboxPage>, ApiError> {
    let page = Support::new(state.db.clone())
        .inbox(
            params.status.unwrap_or(ConversationStatus::Open),
            params.page.unwrap_or(1),
            params.per_page.unwrap_or(50),
        )
        .await
        .map_err(from_support)?;
    Ok(Json(page))
}
