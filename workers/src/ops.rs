//! A worker process's operations endpoint: `/healthz` (alive), `/readyz` (Postgres and Temporal
//! answer) and `/metrics` (Prometheus), on its own small port (`EMPORIUM_WORKER__OPS_BIND`).
//!
//! `/metrics` holds the process's own registry (business counters: orders, payments, refunds,
//! notifications, stock-outs) followed by the Temporal SDK's metrics (task latencies, polls,
//! slots, activity failures...). The SDK keeps those in a registry of its own that it only
//! serves over HTTP, so it is started on a loopback port no one else sees and read from there.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::Arc;
use temporalio_client::Client;
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{PrometheusExporterOptions, start_prometheus_metric_exporter};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The Temporal SDK's metrics: the meter to give the worker runtime, and where they are served.
#[derive(Clone)]
pub struct SdkMetrics {
    /// Give this to [`crate::run`].
    pub meter: Arc<dyn CoreMeter>,
    address: SocketAddr,
}

/// Starts the SDK's Prometheus exporter on a loopback port.
pub fn start_sdk_metrics() -> anyhow::Result<SdkMetrics> {
    let options = PrometheusExporterOptions::builder()
        .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .counters_total_suffix(true)
        .use_seconds_for_durations(true)
        .unit_suffix(true)
        .build();
    let started = start_prometheus_metric_exporter(options)?;
    Ok(SdkMetrics {
        meter: started.meter,
        address: started.bound_addr,
    })
}

#[derive(Clone)]
struct Ops {
    db: DatabaseConnection,
    temporal: Client,
    sdk: Option<SocketAddr>,
    http: reqwest::Client,
}

/// Serves the operations endpoint until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    db: DatabaseConnection,
    temporal: Client,
    sdk: Option<&SdkMetrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "worker operations endpoint listening");
    }
    let _ = platform::metrics::handle();
    let ops = Ops {
        db,
        temporal,
        sdk: sdk.map(|s| s.address),
        http: reqwest::Client::new(),
    };
    let app = Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    let readiness = platform::health::readiness(&ops.db, &ops.temporal).await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        tracing::warn!(?readiness, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}

async fn metrics(State(ops): State<Ops>) -> impl IntoResponse {
    let mut text = platform::metrics::render();
    if let Some(address) = ops.sdk {
        match ops
            .http
            .get(format!("http://{address}/metrics"))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
        {
            Ok(response) => {
                if let Ok(sdk) = response.text().await {
                    text.push('\n');
                    text.push_str(&sdk);
                }
            }
            Err(err) => tracing::warn!(%err, "the SDK's metrics did not answer"),
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
