//! Every error code the API answers with, in one list.
//!
//! A problem document's `code` is one of these; `/openapi.json` lists them all with what
//! each means (the `ErrorCode` schema), so a client can match on them. Adding a code here is
//! the only way to answer with a new one.

use strum::{EnumIter, EnumMessage, IntoEnumIterator as _, IntoStaticStr};

/// A stable, machine-readable error code.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    EnumIter,
    EnumMessage,
    IntoStaticStr,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    // 400
    /// 400: the body is not valid JSON.
    MalformedJson,
    /// 400: the body could not be read as the endpoint's JSON.
    UnreadableBody,
    /// 400: a path parameter is malformed (the field names it).
    InvalidPathParameter,
    /// 400: a webhook's event could not be read.
    InvalidEvent,
    /// 400: a webhook's signature header is missing.
    MissingSignature,
    /// 400: a webhook's signature does not match its body.
    InvalidSignature,
    /// 400: a webhook's signature is older than the tolerance (a replay).
    StaleSignature,
    // 401
    /// 401: no bearer token was sent.
    MissingToken,
    /// 401: the bearer token is not one of ours.
    InvalidToken,
    /// 401: the bearer token has expired; log in again.
    TokenExpired,
    /// 401: the bearer token was issued before the account's password (or email) changed;
    /// log in again.
    TokenRevoked,
    /// 401: wrong email or password.
    InvalidCredentials,
    // 403, 404, 405
    /// 403: the caller's role may not do this.
    Forbidden,
    /// 403: only a customer who received the product may review it.
    NotReceived,
    /// 404: nothing is there (or the caller may not see it).
    NotFound,
    /// 405: the endpoint does not accept this method.
    MethodNotAllowed,
    // 409: a valid request the current state refuses
    /// 409: a line names a product that cannot be ordered (unknown or off sale).
    UnknownProduct,
    /// 409: the products are priced in different currencies.
    MixedCurrency,
    /// 409: the order's total does not fit in the amounts we handle.
    TotalTooLarge,
    /// 409: the `Idempotency-Key` was used with another request body.
    IdempotencyKeyReused,
    /// 409: the cart is empty.
    CartEmpty,
    /// 409: the cart, as it stands, refused the change (the detail says why).
    CartRefused,
    /// 409: no such coupon, or it has expired.
    UnknownCoupon,
    /// 409: an account with this email exists.
    EmailTaken,
    /// 409: a product with this SKU exists.
    SkuTaken,
    /// 409: no such category.
    UnknownCategory,
    /// 409: the adjustment would leave less stock than is reserved.
    BelowReserved,
    /// 409: the order has no captured payment to refund.
    NothingCaptured,
    /// 409: the refund is more than was captured and not yet refunded.
    RefundExceedsCaptured,
    /// 409: the restock returns more units than the order holds.
    RestockExceedsOrder,
    /// 409: the order can no longer be cancelled.
    CancelRefused,
    /// 409: the order is not waiting for this review.
    ReviewRefused,
    /// 409: the order is not waiting for an operator's resolution.
    ResolutionRefused,
    /// 409: a live connection already follows as many orders and topics as it may
    /// (docs/REALTIME.md).
    TooManySubscriptions,
    /// 409: the message id is already another message's (a resent message must be the same).
    MessageIdTaken,
    /// 409: the customer reviewed this product already; edit that review.
    AlreadyReviewed,
    /// 409: a one-time link's token is unknown, used, expired or another account's.
    InvalidLink,
    /// 409: the current password given is wrong.
    WrongPassword,
    /// 409: a saved address named is not one of the customer's.
    UnknownAddress,
    /// 409: the webhook URL's host does not resolve, or resolves to a private, loopback or
    /// link-local address (an allowlist setting may name it).
    DestinationRefused,
    /// 409: the delivery is being attempted now; wait for it to end before re-sending.
    DeliveryInProgress,
    /// 409: the endpoint is disabled; enable it before re-sending to it.
    EndpointDisabled,
    // 413, 415, 426
    /// 413: the body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// 415: the body is not sent as JSON.
    UnsupportedMediaType,
    /// 426: the endpoint speaks the WebSocket protocol only (`GET /ws`).
    UpgradeRequired,
    // 422: the document's rules
    /// 422: one or more fields break the document's rules (`errors` names each).
    ValidationFailed,
    /// 422: a field is not what the endpoint accepts.
    InvalidField,
    /// 422: a string holds a character we refuse (U+0000).
    InvalidCharacter,
    /// 422: a query parameter is malformed.
    InvalidQuery,
    /// 422: the `Idempotency-Key` header is not 1 to 255 visible ASCII characters.
    InvalidIdempotencyKey,
    /// 422: an order needs at least one line.
    EmptyOrder,
    /// 422: a notification needs an email or a phone to go to.
    NoRecipient,
    /// 422: a raw card number was sent; send a payment-provider token.
    RawCardNumber,
    /// 422: the payment method is not a payment-provider token.
    InvalidPaymentMethod,

    // 429
    /// 429: too many attempts; `Retry-After` says when to try again.
    TooManyRequests,
    // 500, 503
    /// 500: a failure on our side, logged with the request id.
    InternalError,
    /// 503: a backing service (Temporal, Postgres) is unavailable; try again shortly.
    ServiceUnavailable,
    /// 503: this instance cannot serve yet (the detail names the dependency).
    NotReady,
}

impl ErrorCode {
    /// The snake_case code, as a problem document carries it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the code means, with its HTTP status.
    pub fn meaning(self) -> &'static str {
        self.get_documentation().unwrap_or_default().trim()
    }

    /// The list as Markdown, for the document's `ErrorCode` schema.
    pub(crate) fn table() -> String {
        let mut table = String::from(
            "A stable, machine-readable error code. Match on it, not on `title` or `detail`.\n\n\
             | code | meaning |\n|---|---|\n",
        );
        for code in Self::iter() {
            table.push_str(&format!("| `{}` | {} |\n", code.as_str(), code.meaning()));
        }
        table
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_documented_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::iter() {
            let name = code.as_str();
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!(code.meaning().len() > 8, "{name} says what it means");
            assert!(seen.insert(name), "{name} twice");
        }
        assert_eq!(
            ErrorCode::RefundExceedsCaptured.as_str(),
            "refund_exceeds_captured"
        );
    }
}
