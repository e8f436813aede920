//! Request extractors that refuse bad input with a problem naming the field.
//!
//! [`ValidJson`] reads a JSON body and refuses, in this order: a non-JSON content type (415),
//! an oversized body (413), malformed JSON (400), a string holding U+0000, which no text column
//! can store (422, like a query parameter holding one in [`ValidQuery`]), a missing, unknown or
//! mistyped field (422), and a value that breaks a validation rule (422). Nothing reaches the handler unless all of
//! that passed, so no workflow can start from bad input.

use crate::error::ErrorCode;
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
                ErrorCode::ValidationFailed,
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
                    ApiError::bad_request(ErrorCode::UnreadableBody, rejection.body_text())
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
        refuse_nul_in_query(query)?;
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ApiError::invalid_field(ErrorCode::InvalidQuery, field_of(&path, &message), message)
        })?;
        value.validate().map_err(|report| {
            ApiError::invalid_fields(
                ErrorCode::ValidationFailed,
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
///
/// JSON Schema counts `48.0` as an integer and serde does not: a body refused only because
/// an integer was written with a fraction of zero is read again with such numbers as integers.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    refuse_nul_in_json(body)?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => value,
        Err(err)
            if err
                .inner()
                .to_string()
                .starts_with("invalid type: floating point") =>
        {
            return parse_with_integral_floats(body).unwrap_or_else(|| Err(named_error(err)));
        }
        Err(err) => return Err(named_error(err)),
    };
    deserializer
        .end()
        .map_err(|err| ApiError::malformed_json(format!("the body is not valid JSON: {err}")))?;
    Ok(value)
}

/// [`parse_json`] again with every integral float (`48.0`) an integer; `None` when the body
/// has none.
fn parse_with_integral_floats<T: DeserializeOwned>(body: &[u8]) -> Option<Result<T, ApiError>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if !integral_floats_to_integers(&mut value) {
        return None;
    }
    Some(serde_path_to_error::deserialize(value).map_err(named_error))
}

/// Turns every float with no fraction that an `i64` holds exactly into an integer; answers
/// whether it changed any.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    /// 2^53: beyond it a float no longer tells neighbouring integers apart.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            let Some(float) = number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT)
            else {
                return false;
            };
            let integer = float as i64; // integral and within 2^53: exact

            *value = Value::from(integer);
            true
        }
        Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= integral_floats_to_integers(item);
            }
            changed
        }
        Value::Object(fields) => {
            let mut changed = false;
            for item in fields.values_mut() {
                changed |= integral_floats_to_integers(item);
            }
            changed
        }
        _ => false,
    }
}

/// A deserialization error as a problem naming the field.
fn named_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
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
            ApiError::invalid_field(ErrorCode::InvalidField, field, message)
        }
        _ => ApiError::malformed_json(format!("the body is not valid JSON: {inner}")),
    }
}

/// What no text column can store: PostgreSQL refuses U+0000 in `text`, so a string holding it
/// would otherwise fail as a server error after the handler had begun its work.
const NUL: char = '\0';

fn nul_refused(field: String) -> ApiError {
    ApiError::invalid_field(
        ErrorCode::InvalidCharacter,
        field,
        "must not contain the NUL character (U+0000)".to_owned(),
    )
}

/// Refuses a body whose strings or keys hold U+0000, naming where. JSON can only carry it
/// escaped (`\u0000`), so bodies without that escape are not walked.
fn refuse_nul_in_json(body: &[u8]) -> Result<(), ApiError> {
    const ESCAPE: &[u8] = b"\\u0000";
    if !body.windows(ESCAPE.len()).any(|w| w == ESCAPE) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(()); // malformed: parsing reports it
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(nul_refused(path)),
        None => Ok(()),
    }
}

/// The path, as `a.b[0].c`, of the first string or key holding U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(text) => text.contains(NUL).then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(n, item)| nul_path(item, format!("{path}[{n}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let name = key.replace(NUL, "\\u0000");
            let inner = if path.is_empty() {
                name
            } else {
                format!("{path}.{name}")
            };
            if key.contains(NUL) {
                Some(inner)
            } else {
                nul_path(item, inner)
            }
        }),
        _ => None,
    }
}

/// Refuses a query string whose decoded names or values hold U+0000, naming the parameter.
fn refuse_nul_in_query(query: &str) -> Result<(), ApiError> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| name.contains(NUL) || value.contains(NUL))
        .map_or(Ok(()), |(name, _)| {
            Err(nul_refused(name.replace(NUL, "\\u0000")))
        })
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

/// Deserializes a field that may be absent (`None`, with `#[serde(default)]`), `null`
/// (`Some(None)`: remove it) or a value (`Some(Some(value))`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
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
    fn a_nul_anywhere_is_refused_naming_where() {
        assert_eq!(field(r#"{"name": "a\u0000b", "lines": []}"#), "name");
        assert_eq!(
            field(r#"{"name": "a", "lines": [{"quantity": 1}, {"quantity": 1, "x\u0000": 1}]}"#),
            r"lines[1].x\u0000"
        );
        assert_eq!(
            error_of(r#"{"name": "\u0000"}"#).code(),
            "invalid_character"
        );
        // An escaped backslash followed by `u0000` is text, not a NUL.
        assert!(parse_json::<Body>(br#"{"name": "\\u0000", "lines": []}"#).is_ok());
    }

    #[test]
    fn a_nul_in_a_query_is_refused_naming_the_parameter() {
        let err = refuse_nul_in_query("page=1&customer=ab%00c").expect_err("refused");
        assert_eq!(err.field_errors()[0].field, "customer");
        assert_eq!(err.code(), "invalid_character");
        assert!(refuse_nul_in_query("customer=abc&page=2").is_ok());
    }

    #[test]
    fn integers_written_with_a_zero_fraction_are_integers() {
        #[derive(Debug, serde::Deserialize)]
        struct Line {
            quantity: u32,
            sku: String,
        }
        let line: Line = parse_json(br#"{"quantity": 48.0, "sku": "MUG"}"#).expect("accepted");
        assert_eq!((line.quantity, line.sku.as_str()), (48, "MUG"));
        let refused = parse_json::<Line>(br#"{"quantity": 48.5, "sku": "MUG"}"#)
            .expect_err("a fraction is not an integer");
        assert_eq!(refused.field_errors()[0].field, "quantity");
        let refused =
            parse_json::<Line>(br#"{"quantity": 1e300, "sku": "MUG"}"#).expect_err("too large");
        assert_eq!(refused.field_errors()[0].field, "quantity");
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
