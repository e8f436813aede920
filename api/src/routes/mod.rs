//! The API's routes, one module per resource.
//!
//! The router is built from the handlers' `#[utoipa::path]` annotations: each `routes!` call
//! registers handlers of one path with axum and their operations with the OpenAPI document,
//! so nothing is served undocumented (see [`crate::openapi`]).

mod accounts;
mod audit;
mod cart;
mod domain_events;
mod events;
mod health;
mod notifications;
mod orders;
mod products;
mod recovery;
mod refunds;
mod reports;
mod reviews;
mod shipping;
mod specs;
mod support;
mod webhook_endpoints;
mod webhooks;
mod ws;

use crate::AppState;
use crate::openapi::ApiDoc;
pub(crate) use shipping::CarrierWebhookSecrets;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
pub(crate) use webhooks::StripeWebhookSecret;

/// The rules across request bodies' fields, for the document (see [`crate::openapi`]).
pub(crate) fn cross_field_rules() -> Vec<crate::openapi::CrossFieldRule> {
    vec![
        products::coupon_rule(),
        notifications::recipient_rule(),
        cart::checkout_rule(),
    ]
}

/// Every route with its documentation, without middleware.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::get, accounts::update))
        .routes(routes!(recovery::request_reset))
        .routes(routes!(recovery::reset))
        .routes(routes!(recovery::change_password))
        .routes(routes!(recovery::request_email_change))
        .routes(routes!(recovery::confirm_email_change))
        .routes(routes!(accounts::orders))
        .routes(routes!(accounts::set_role))
        .routes(routes!(products::list, products::create))
        .routes(routes!(products::get, products::update, products::delete))
        .routes(routes!(products::categories, products::create_category))
        .routes(routes!(products::create_coupon))
        .routes(routes!(products::check))
        .routes(routes!(reviews::list, reviews::create))
        .routes(routes!(reviews::update))
        .routes(routes!(reviews::moderation))
        .routes(routes!(reviews::set_visibility))
        .routes(routes!(products::adjust))
        .routes(routes!(cart::get))
        .routes(routes!(cart::add))
        .routes(routes!(cart::set, cart::remove))
        .routes(routes!(cart::coupon))
        .routes(routes!(cart::checkout))
        .routes(routes!(orders::place, orders::list))
        .routes(routes!(orders::get))
        .routes(routes!(events::follow))
        .routes(routes!(ws::open))
        .routes(routes!(support::send, support::history))
        .routes(routes!(support::conversation))
        .routes(routes!(support::close))
        .routes(routes!(support::inbox))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::review))
        .routes(routes!(orders::resolve))
        .routes(routes!(refunds::create, refunds::list))
        .routes(routes!(shipping::track))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::send))
        .routes(routes!(webhooks::stripe))
        .routes(routes!(shipping::carrier_webhook))
        .routes(routes!(audit::list))
        .routes(routes!(reports::sales))
        .routes(routes!(reports::overview))
        .routes(routes!(domain_events::schemas))
        .routes(routes!(webhook_endpoints::create, webhook_endpoints::list))
        .routes(routes!(
            webhook_endpoints::get,
            webhook_endpoints::update,
            webhook_endpoints::delete
        ))
        .routes(routes!(webhook_endpoints::deliveries))
        .routes(routes!(webhook_endpoints::resend))
}
