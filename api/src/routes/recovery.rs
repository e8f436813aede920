//! Credentials that change: `POST /auth/password-reset` and `/auth/password-reset/confirm`
//! (a forgotten password, through an emailed one-time link), `POST /customers/{id}/password`
//! (with the current one), `POST /customers/{id}/email` and `/auth/email-change/confirm` (a
//! new address, confirmed by a link sent to it).
//!
//! A reset request answers 202 whether or not the email has an account, so that nobody learns
//! which emails do; it is rate-limited per address and per email. The links go out through
//! SendNotification (durable, retried, at most once per link). Setting a password, or the
//! email, revokes every access token issued before ([`crate::auth`]); the answer carries a
//! fresh one. The service behind it is [`activities::customers::recovery`].

use super::accounts::{TokenResponse, from_customers, parse_customer_id};
use crate::auth::Caller;
use crate::error::ErrorCode;
use crate::extract::ValidJson;
use crate::openapi::{BadRequest, Conflict, NotFound, TooManyRequests};
use crate::{ApiError, AppState};
use activities::customers::recovery::{self, Issued};
use activities::customers::{Customer, CustomersError};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use contracts::Service;
use contracts::notifications::{Notification, Recipient, Template, TemplateData, workflow_id};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use temporalio_client::WorkflowStartOptions;
use workflows::SendNotification;

/// The answer to a request whose outcome arrives by email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    /// What happens next.
    detail: &'static str,
}

/// Emails `issued`'s link (`path` of the web app, with `query`) through SendNotification.
async fn send_link(
    state: &AppState,
    issued: &Issued,
    template: Template,
    path: &str,
    query: &[(&str, &str)],
) -> Result<(), ApiError> {
    let mut url = url::Url::parse(&state.links.public_url)
        .and_then(|base| base.join(path))
        .map_err(ApiError::internal)?;
    url.query_pairs_mut().extend_pairs(query);
    let notification_id = format!(
        "{}-{}-{}",
        template.as_str().replace('_', "-"),
        issued.customer.id,
        uuid::Uuid::now_v7()
    );
    let recipient = Recipient {
        email: Some(issued.send_to.clone()),
        ..Recipient::default()
    };
    let data = TemplateData {
        body: Some(url.to_string()),
        ..TemplateData::default()
    };
    let notification = Notification::new(notification_id.clone(), recipient, template, data);
    let options = WorkflowStartOptions::new(
        state.queues.of(Service::Notifications),
        workflow_id(&notification_id),
    )
    .build();
    state
        .temporal
        .start_workflow(SendNotification::run, notification, options)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(())
}

/// A fresh token for `customer`, whose credentials just changed: this instance refuses their
/// older tokens at once (the others hear of it from the database).
fn signed_in_again(state: &AppState, customer: Customer) -> Result<Json<TokenResponse>, ApiError> {
    state
        .auth
        .revocations()
        .raise(customer.id, customer.token_version);
    TokenResponse::issued(state, customer).map(Json)
}

/// The body of `POST /auth/password-reset`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequestBody {
    /// The account's email.
    #[garde(length(chars, min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    email: String,
}

/// Asks for a password-reset link. Always 202, whether or not an account has this email;
/// if one has, the link is emailed to it and works once, for 30 minutes (a setting), and a
/// newer request replaces it. Rate-limited per client address and per email.
#[utoipa::path(
    post, path = "/auth/password-reset", operation_id = "requestPasswordReset", tag = "accounts",
    request_body = ResetRequestBody,
    responses(
        (status = 202, description = "If an account has this email, a link is on its way.", body = Accepted),
        (status = 429, response = TooManyRequests),
    ),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn request_reset(
    State(state): State<AppState>,
    connection: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    ValidJson(body): ValidJson<ResetRequestBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let client = connection.map(|axum::Extension(ConnectInfo(address))| address.ip());
    state.auth.admit_reset(&body.email, client)?;
    let issued =
        recovery::request_password_reset(&state.db, &body.email, state.links.reset_valid_for)
            .await
            .map_err(from_customers)?;
    if let Some(issued) = issued {
        let query = [
            ("email", issued.send_to.as_str()),
            ("token", issued.token.as_str()),
        ];
        send_link(
            &state,
            &issued,
            Template::PasswordReset,
            "/shop/reset-password",
            &query,
        )
        .await?;
        tracing::info!(customer.id = %issued.customer.id, "password reset link sent");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            detail: "if an account has this email, a link to set a new password is on its way",
        }),
    ))
}

/// The body of `POST /auth/password-reset/confirm`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    /// The account's email.
    #[garde(length(chars, min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    email: String,
    /// The token of the emailed link.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    token: String,
    /// The new password, at least 10 characters.
    #[garde(length(chars, min = 10, max = 128))]
    #[schema(min_length = 10, max_length = 128)]
    password: String,
}

/// Sets a new password with the token of a reset link. Every access token issued before is
/// refused from then on; the answer carries a new one. A token that is unknown, used,
/// expired or another account's is refused (409 `invalid_link`, naming `token`).
#[utoipa::path(
    post, path = "/auth/password-reset/confirm", operation_id = "resetPassword", tag = "accounts",
    request_body = ResetBody,
    responses(
        (status = 200, description = "The password is set; a fresh access token.", body = TokenResponse),
        (status = 409, response = Conflict),
    ),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<ResetBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let customer = recovery::reset_password(&state.db, &body.email, &body.token, &body.password)
        .await
        .map_err(from_customers)?;
    tracing::info!(customer.id = %customer.id, "password reset");
    signed_in_again(&state, customer)
}

/// The body of `POST /customers/{id}/password`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    /// The password now.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    current_password: String,
    /// The new password, at least 10 characters.
    #[garde(length(chars, min = 10, max = 128))]
    #[schema(min_length = 10, max_length = 128)]
    new_password: String,
}

/// Changes the password, given the current one (the account's own holder only). Every
/// access token issued before is refused from then on; the answer carries a new one.
#[utoipa::path(
    post, path = "/customers/{id}/password", operation_id = "changePassword", tag = "accounts",
    params(("id" = Uuid, Path, description = "The customer's id.")),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "The password is changed; a fresh access token.", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %id))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<PasswordBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let id = own(&caller, &id)?;
    let customer =
        recovery::change_password(&state.db, id, &body.current_password, &body.new_password)
            .await
            .map_err(from_customers)?
            .ok_or_else(|| ApiError::not_found(format!("no customer with id {id}")))?;
    signed_in_again(&state, customer)
}

/// Only the account's holder changes its credentials (not even an admin): anyone else is
/// told there is no such customer.
fn own(caller: &Caller, id: &str) -> Result<contracts::CustomerId, ApiError> {
    let id = parse_customer_id(id)?;
    if caller.id == id {
        Ok(id)
    } else {
        Err(ApiError::not_found(format!("no customer with id {id}")))
    }
}

/// The body of `POST /customers/{id}/email`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailBody {
    /// The new email.
    #[garde(email, length(chars, max = 254))]
    #[schema(format = "email", max_length = 254)]
    new_email: String,
    /// The password now.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    current_password: String,
}

/// Asks to change the account's email, given the current password: a link goes to the new
/// address, and the email changes when it is followed (`POST /auth/email-change/confirm`).
#[utoipa::path(
    post, path = "/customers/{id}/email", operation_id = "requestEmailChange", tag = "accounts",
    params(("id" = Uuid, Path, description = "The customer's id.")),
    request_body = EmailBody,
    responses(
        (status = 202, description = "A link is on its way to the new address.", body = Accepted),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %id))]
pub(crate) async fn request_email_change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<EmailBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = own(&caller, &id)?;
    let valid_for = state.links.email_change_valid_for;
    let issued = recovery::request_email_change(
        &state.db,
        id,
        &body.current_password,
        &body.new_email,
        valid_for,
    )
    .await
    .map_err(|err| match err {
        CustomersError::EmailTaken => {
            ApiError::conflict(ErrorCode::EmailTaken, "an account with this email exists")
                .with_field("new_email", "already registered")
        }
        other => from_customers(other),
    })?
    .ok_or_else(|| ApiError::not_found(format!("no customer with id {id}")))?;
    let query = [("token", issued.token.as_str())];
    send_link(
        &state,
        &issued,
        Template::EmailChange,
        "/shop/confirm-email",
        &query,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            detail: "a link to confirm the new address is on its way to it",
        }),
    ))
}

/// The body of `POST /auth/email-change/confirm`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmEmailBody {
    /// The token of the link sent to the new address.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    token: String,
}

/// Follows the link sent to a new address: the account's email becomes it. Every access
/// token issued before is refused from then on; the answer carries a new one.
#[utoipa::path(
    post, path = "/auth/email-change/confirm", operation_id = "confirmEmailChange", tag = "accounts",
    request_body = ConfirmEmailBody,
    responses(
        (status = 200, description = "The email is changed; a fresh access token.", body = TokenResponse),
        (status = 409, response = Conflict),
    ),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn confirm_email_change(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<ConfirmEmailBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let customer = recovery::confirm_email_change(&state.db, &body.token)
        .await
        .map_err(from_customers)?;
    signed_in_again(&state, customer)
}
