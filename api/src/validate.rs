//! The checks request fields share, written once: `garde` validators for the body types of
//! several handlers, and the parsing of ids and payment methods whose refusals name the field.
//! Each `garde` rule has its twin in the field's `#[schema]` (see [`crate::openapi`]).

use crate::ApiError;
use crate::error::ErrorCode;
use activities::payments::sandbox::parse_payment_method;
use contracts::OrderId;
use contracts::payments::{PaymentMethod, PaymentMethodError};

/// An ISO 3166-1 alpha-2 country code (`^[A-Z]{2}$` in the document).
pub(crate) fn country_code(code: &str, _: &()) -> garde::Result {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(garde::Error::new(
            "must be an ISO 3166-1 alpha-2 code such as DE",
        ))
    }
}

/// An E.164 phone number (`^\+[1-9][0-9]{6,14}$` in the document).
pub(crate) fn e164(phone: &str, _: &()) -> garde::Result {
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
    {
        Ok(())
    } else {
        Err(garde::Error::new(
            "must be an E.164 phone number such as +4915112345678",
        ))
    }
}

/// An order's id from the path (`id`).
pub(crate) fn order_id(id: &str) -> Result<OrderId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid_path("id", "must be a UUID"))
}

/// The provider token of the `payment_method` a client sent (a token, or one of the test
/// cards' numbers); a raw card number is refused without ever being stored or logged.
pub(crate) fn payment_method(raw: &str) -> Result<PaymentMethod, ApiError> {
    parse_payment_method(raw).map_err(|err| {
        let code = match err {
            PaymentMethodError::RawCardNumber => ErrorCode::RawCardNumber,
            PaymentMethodError::Malformed => ErrorCode::InvalidPaymentMethod,
        };
        ApiError::invalid_field(code, "payment_method", err.to_string())
    })
}

/// A text says something: white space alone is empty. White space as the document's pattern
/// reads it (`\s`), which also counts the information separators U+001C–U+001F.
pub(crate) fn not_blank(text: &str, _: &()) -> garde::Result {
    let blank = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    if text.chars().all(blank) {
        return Err(garde::Error::new("must not be empty or only white space"));
    }
    Ok(())
}
