//! The API's one error type and its policy.
//!
//! Every error leaves the API as an RFC 9457 `application/problem+json` document:
//! `type`, `title`, `status`, `detail`, a stable machine-readable `code`, and, for bad input,
//! `errors`: one entry per offending field with its dotted `field` path
//! (`lines[0].quantity`), its JSON Pointer (`/lines/0/quantity`) and a message.
//!
//! Nothing internal leaks: for a server-side failure the client gets a generic message and the
//! request id, and the cause is logged once, here, when the response is built.

mod code;

pub use code::ErrorCode;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One offending field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Dotted path of the field, such as `lines[0].quantity`.
    pub field: String,
    /// The same location as a JSON Pointer (RFC 6901), such as `/lines/0/quantity`.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error on the field at the dotted `field` path.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            pointer: pointer_of(&field),
            field,
            message: message.into(),
        }
    }
}

/// Turns a dotted path (`lines[0].sku`) into a JSON Pointer (`/lines/0/sku`).
pub fn pointer_of(field: &str) -> String {
    let mut pointer = String::new();
    for part in field.split(['.', '[', ']']).filter(|p| !p.is_empty()) {
        pointer.push('/');
        pointer.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    pointer
}

/// An error answered to a client (boxed: it travels through every handler's `Result`).
#[derive(Debug)]
pub struct ApiError(Box<Problem>);

#[derive(Debug)]
struct Problem {
    status: StatusCode,
    code: ErrorCode,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// The cause of a server-side failure: logged, never sent.
    internal: Option<String>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

/// An RFC 9457 problem document, as every error is answered.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub(crate) struct ProblemDocument<'a> {
    /// A URI reference naming the kind of problem, such as `/problems/out-of-stock`.
    #[serde(rename = "type")]
    kind: String,
    /// A short summary of the kind of problem.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// What went wrong this time.
    detail: &'a str,
    /// A stable, machine-readable code, such as `validation_failed` or `not_found`.
    code: ErrorCode,
    /// For bad input: every offending field.
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, title: &'static str, detail: String) -> Self {
        Self(Box::new(Problem {
            status,
            code,
            title,
            detail,
            errors: Vec::new(),
            internal: None,
            retry_after: None,
        }))
    }

    /// The body is not valid JSON (400).
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            "Malformed JSON",
            detail.into(),
        )
    }

    /// The body is JSON but one or more fields are wrong (422).
    pub fn invalid_fields(code: ErrorCode, errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Invalid request",
            detail,
        );
        error.0.errors = errors;
        error
    }

    /// A single wrong field (422).
    pub fn invalid_field(
        code: ErrorCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::invalid_fields(code, vec![FieldError::new(field, message)])
    }

    /// A path parameter is malformed (400).
    pub fn invalid_path(field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidPathParameter,
            "Invalid path parameter",
            format!("path parameter `{field}` is malformed"),
        );
        error.0.errors = vec![FieldError::new(field, message)];
        error
    }

    /// The body is not JSON at all (415).
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Unsupported media type",
            "send the body as JSON with `Content-Type: application/json`".to_owned(),
        )
    }

    /// The endpoint needs a WebSocket upgrade (426).
    pub fn upgrade_required(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::UpgradeRequired,
            "Upgrade required",
            detail.into(),
        )
    }

    /// The body is larger than allowed (413).
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "Payload too large",
            "the request body is larger than this endpoint accepts".to_owned(),
        )
    }

    /// Nothing is there (404).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Not found",
            detail.into(),
        )
    }

    /// The request is malformed in a way no field names (400).
    pub fn bad_request(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail.into())
    }

    /// No valid credentials (401).
    pub fn unauthorized(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code,
            "Unauthorized",
            detail.into(),
        )
    }

    /// Valid credentials, not enough rights (403).
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Forbidden",
            detail.into(),
        )
    }

    /// Valid credentials, but this caller may not do this for the reason `code` names (403).
    pub fn forbidden_because(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, "Forbidden", detail.into())
    }

    /// Too many attempts; try again after `wait` (429 with `Retry-After`).
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs().max(1);
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyRequests,
            "Too many requests",
            format!("too many attempts; try again in {seconds} s"),
        );
        error.0.retry_after = Some(seconds);
        error
    }

    /// The request conflicts with the resource's state (409).
    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail.into())
    }

    /// Adds an offending field to the problem.
    pub fn with_field(mut self, field: &str, message: impl Into<String>) -> Self {
        self.0.errors.push(FieldError::new(field, message));
        self
    }

    /// A dependency (Temporal, Postgres) is down: try again later (503). The cause is logged.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "Service unavailable",
            "a backing service is unavailable; try again shortly".to_owned(),
        );
        error.0.internal = Some(cause.to_string());
        error
    }

    /// The instance cannot serve right now because a dependency does not answer (503);
    /// `detail` says which (it must not carry secrets).
    pub fn not_ready(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            "Not ready",
            detail.into(),
        )
    }

    /// A failure on our side (500). The cause is logged.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Internal server error",
            "something went wrong on our side; it has been logged".to_owned(),
        );
        error.0.internal = Some(cause.to_string());
        error
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.0.code.as_str()
    }

    /// The offending fields, for bad input.
    pub fn field_errors(&self) -> &[FieldError] {
        &self.0.errors
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        if database_unavailable(&err) {
            ApiError::unavailable(err)
        } else {
            ApiError::internal(err)
        }
    }
}

/// Whether the database is unavailable for the moment, not the request wrong: no connection
/// could be had, or a statement lost its connection (the socket broke, or the server said it
/// was closing it: SQLSTATE class 08, connection exception, or 57P01–57P03, shut down,
/// crashed, or not accepting connections yet). The pool replaces a lost connection.
fn database_unavailable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    let cause = match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => return true,
        DbErr::Query(RuntimeErr::SqlxError(cause)) | DbErr::Exec(RuntimeErr::SqlxError(cause)) => {
            cause
        }
        _ => return false,
    };
    match cause {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        if let Some(cause) = &this.internal {
            tracing::error!(code = this.code.as_str(), status = this.status.as_u16(), %cause, "request failed");
        } else {
            tracing::debug!(code = this.code.as_str(), status = this.status.as_u16(), detail = %this.detail, "request refused");
        }
        let document = ProblemDocument {
            kind: format!("/problems/{}", this.code.as_str().replace('_', "-")),
            title: this.title,
            status: this.status.as_u16(),
            detail: &this.detail,
            code: this.code,
            errors: &this.errors,
        };
        let mut response = (this.status, Json(document)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = this.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if this.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Answers unknown routes.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Answers a known route called with the wrong method.
pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "Method not allowed",
        "this endpoint does not accept that method".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_become_json_pointers() {
        assert_eq!(pointer_of("lines[0].quantity"), "/lines/0/quantity");
        assert_eq!(pointer_of("customer_email"), "/customer_email");
        assert_eq!(pointer_of("a/b.c~d"), "/a~1b/c~0d");
        assert_eq!(pointer_of(""), "");
    }
}
