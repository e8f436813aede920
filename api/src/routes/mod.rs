//! The API's routes, one module per resource.

mod health;
mod orders;
mod products;
mod webhooks;

use crate::AppState;
use axum::Router;
use axum::routing::get;
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
        .route("/webhooks/stripe", axum::routing::post(webhooks::stripe))
}
