//! Emporium's HTTP API.
//!
//! Thin by design: a handler authenticates, validates, then starts a workflow (an order's by
//! way of its intake row: `intake`), sends it a message, or reads state (workflow queries for
//! live state, a service's read model for lists and history). Business decisions live in
//! workflows and services, never here. Every error is an RFC 9457 problem+json document (see
//! [`error`]); bad input is refused before any workflow starts.

pub mod auth;
pub mod error;
mod extract;
pub mod feed;
mod intake;
mod openapi;
pub mod recent;
mod routes;
mod state;
mod validate;
pub mod views;
mod web;
mod webhook;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use recent::RecentOrders;
pub use state::{AccountLinks, ApiConfig, AppState};

/// The API's router with all its middleware, `/openapi.json`, and the web app with `/docs`
/// ([`web`]).
pub fn router(state: AppState, config: &ApiConfig) -> Router {
    // Installs the process's metrics recorder before the first request is counted.
    let _ = platform::metrics::handle();
    let request_id = http::HeaderName::from_static("x-request-id");
    let (routes, document) = openapi_parts();
    let document_json: std::sync::Arc<str> = document
        .to_json()
        .unwrap_or_else(|err| format!(r#"{{"error": "the document did not serialize: {err}"}}"#))
        .into();
    routes
        .route_layer(axum::middleware::from_fn(record_request))
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let body = document_json.clone();
                async move {
                    (
                        [(http::header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                }
            }),
        )
        .merge(web::routes(&config.web_dir))
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(axum::Extension(routes::StripeWebhookSecret(
            config.stripe_webhook_secret.clone(),
        )))
        .layer(axum::Extension(routes::CarrierWebhookSecrets(
            std::sync::Arc::new(config.carrier_webhook_secrets.clone()),
        )))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &http::Request<axum::body::Body>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "http",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request.id = %request_id,
                )
            },
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Counts every routed request by method, route template and status, and times it.
async fn record_request(
    route: axum::extract::MatchedPath,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let response = next.run(request).await;
    let route = route.as_str().to_owned();
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The routes and the OpenAPI document generated from them.
fn openapi_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut document) = routes::router().split_for_parts();
    openapi::document_common_errors(&mut document);
    openapi::add_cross_field_rules(&mut document, routes::cross_field_rules());
    openapi::forbid_nul(&mut document);
    (routes, document)
}

/// The OpenAPI 3.1 document `/openapi.json` serves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi_parts().1
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight requests;
/// meanwhile relays accepted orders to Temporal (`intake::relay`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "API listening");
    }
    let stopping = state.stopping.clone();
    let revocations = state.auth.revocations().clone();
    revocations.follow(state.db.clone(), &state.feed).await;
    tokio::spawn(intake::relay(state.clone()));
    axum::serve(
        listener,
        router(state, &config).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Live streams and sockets end now, so the in-flight requests can finish.
        stopping.cancel();
    })
    .await
}
