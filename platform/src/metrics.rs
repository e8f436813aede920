//! Metrics: one Prometheus registry per process, fed through the `metrics` facade.
//!
//! Code anywhere records with `metrics::counter!(...)` and friends; the first call to
//! [`handle`] installs the recorder, and `/metrics` renders [`render`]. The names Emporium
//! records are listed in `docs/OPERATIONS.md`. The Temporal SDK keeps its own registry (see
//! `workers::ops`), which the workers' `/metrics` appends.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Buckets, in seconds, of every `*_duration_seconds` histogram.
const DURATION_BUCKETS: &[f64] = &[
    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's registry, installing it as the global recorder on first use.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".to_owned()),
                    DURATION_BUCKETS,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics stays empty");
            }
            handle
        })
        .clone()
}

/// The registry in Prometheus' text format.
pub fn render() -> String {
    handle().render()
}
