//! The API's routes, one module per resource.

mod health;
mod orders;
mod products;

use crate::AppState;
use axum::Router;
use axum::routing::get;

/// Every route, without middleware.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/products", get(products::list))
        .route("/orders", axum::routing::post(orders::place))
        .route("/orders/{id}", get(orders::get))
}
