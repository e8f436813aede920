//! Telemetry: one place that installs the `tracing` subscriber.
//!
//! Text for people, JSON (one object per line) for machines, chosen by
//! [`LogSettings::json`](crate::settings::LogSettings). `RUST_LOG` overrides the configured
//! filter. Spans carry the ids that matter (`order.id`, `workflow.id`), so every line inside a
//! request or an activity can be traced back to its order.

use crate::settings::LogSettings;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.filter.clone()));
    // Logs go to standard error: standard output is for a command's answer (`emporium
    // openapi`, `emporium history replay`).
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_target(true);
    // A second call (tests start several apps in one process) keeps the first subscriber.
    let _ = if settings.json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
