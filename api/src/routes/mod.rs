//! The API's routes, one module per resource.

mod health;
mod notifications;
mod orders;
mod products;
mod refunds;
mod shipping;
mod webhooks;

use crate::AppState;
use axum::Router;
use axum::routing::get;
pub(crate) use shipping::CarrierWebhookSecrets;
pub(crate) use webhooks::StripeWebhookSecret;

/// Every route, without middleware.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/products", get(products::list))
        .route(
            "/orders",
            axum::routing::post(orders::place).get(orders::list),
        )
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/cancel", axum::routing::post(orders::cancel))
        .route("/orders/{id}/review", axum::routing::post(orders::review))
        .route(
            "/orders/{id}/refunds",
            axum::routing::post(refunds::create).get(refunds::list),
        )
        .route("/shipping/track/{order_id}", get(shipping::track))
        .route("/notifications", get(notifications::list))
        .route(
            "/notifications/send",
            axum::routing::post(notifications::send),
        )
        .route("/webhooks/stripe", axum::routing::post(webhooks::stripe))
        .route(
            "/webhooks/carrier/{carrier}",
            axum::routing::post(shipping::carrier_webhook),
        )
}
