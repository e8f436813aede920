//! The API's routes, one module per resource.

mod accounts;
mod cart;
mod health;
mod notifications;
mod orders;
mod products;
mod refunds;
mod shipping;
mod webhooks;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post, put};
pub(crate) use shipping::CarrierWebhookSecrets;
pub(crate) use webhooks::StripeWebhookSecret;

/// Every route, without middleware.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/auth/register", post(accounts::register))
        .route("/auth/login", post(accounts::login))
        .route("/customers/{id}", get(accounts::get))
        .route("/customers/{id}/orders", get(accounts::orders))
        .route("/customers/{id}/role", put(accounts::set_role))
        .route("/products", get(products::list).post(products::create))
        .route(
            "/products/{id}",
            get(products::get)
                .put(products::update)
                .delete(products::delete),
        )
        .route(
            "/categories",
            get(products::categories).post(products::create_category),
        )
        .route("/coupons", post(products::create_coupon))
        .route("/inventory/check/{product_id}", get(products::check))
        .route("/inventory/adjustments", post(products::adjust))
        .route("/cart", get(cart::get))
        .route("/cart/items", post(cart::add))
        .route("/cart/items/{sku}", put(cart::set).delete(cart::remove))
        .route("/cart/coupon", post(cart::coupon))
        .route("/cart/checkout", post(cart::checkout))
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
