//! Request extractors that refuse bad input with a problem naming the field.
//!
//! [`ValidJson`] reads a JSON body and refuses, in this order: a non-JSON content type (415),
//! an oversized body (413), malformed JSON (400), a missing, unknown or mistyped field (422),
//! and a value that breaks a validation rule (422). Nothing reaches the handler unless all of
//! that passed, so no workflow can start from bad input.

use crate::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body, deserialized strictly and validated with `garde`.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate<Context = ()>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::unsupported_media_type());
        }
        let RawBody(body) = RawBody::from_request(req, state).await?;
        let value = parse_json::<T>(&body)?;
        value.validate().map_err(|report| {
            ApiError::invalid_fields(
                "validation_failed",
                report
                    .iter()
                    .map(|(path, error)| FieldError::new(path.to_string(), error.message()))
                    .collect(),
            )
        })?;
        Ok(Self(value))
    }
}

/// A body as raw bytes (for webhooks, whose signature covers the exact bytes), refused as a
/// problem when it is too large (413) or cannot be read (400).
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large()
                } else {
                    ApiError::bad_request("unreadable_body", rejection.body_text())
                }
            })
    }
}

/// A query string, deserialized strictly and validated with `garde`; errors name the
/// parameter.
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate<Context = ()>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ApiError::invalid_field("invalid_query", field_of(&path, &message), message)
        })?;
        value.validate().map_err(|report| {
            ApiError::invalid_fields(
                "validation_failed",
                report
                    .iter()
                    .map(|(path, error)| FieldError::new(path.to_string(), error.message()))
                    .collect(),
            )
        })?;
        Ok(Self(value))
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Deserializes `body`, naming the offending field of any error.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let message = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(before, _)| before)
                    .to_owned();
                let field = field_of(&path, &message);
                ApiError::invalid_field("invalid_field", field, message)
            }
            _ => ApiError::malformed_json(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::malformed_json(format!("the body is not valid JSON: {err}")))?;
    Ok(value)
}

/// Where a data error points: serde reports a missing or unknown field at its parent's path,
/// with the field's name in the message.
fn field_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((name, _)) = rest.split_once('`')
        {
            // serde_path_to_error includes an unknown key in the path, a missing one not.
            return if parent == name || parent.ends_with(&format!(".{name}")) {
                parent.to_owned()
            } else if parent.is_empty() {
                name.to_owned()
            } else {
                format!("{parent}.{name}")
            };
        }
    }
    parent.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Body {
        name: String,
        lines: Vec<Line>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Line {
        quantity: u32,
    }

    fn error_of(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).expect_err("must be refused")
    }

    fn field(json: &str) -> String {
        let err = error_of(json);
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        err.field_errors()[0].field.clone()
    }

    #[test]
    fn missing_unknown_and_mistyped_fields_are_named() {
        assert_eq!(field(r#"{"lines": []}"#), "name");
        assert_eq!(
            field(r#"{"name": "a", "lines": [{}]}"#),
            "lines[0].quantity"
        );
        assert_eq!(field(r#"{"name": "a", "lines": [], "x": 1}"#), "x");
        assert_eq!(
            field(r#"{"name": "a", "lines": [{"quantity": 1, "y": 2}]}"#),
            "lines[0].y"
        );
        assert_eq!(
            field(r#"{"name": "a", "lines": [{"quantity": -1}]}"#),
            "lines[0].quantity"
        );
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert_eq!(error_of(r#"{"name": "#).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            error_of(r#"{"name": "a", "lines": []} trailing"#).code(),
            "malformed_json"
        );
        assert_eq!(
            error_of(r#"{"name": 1, "lines": []}"#).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
