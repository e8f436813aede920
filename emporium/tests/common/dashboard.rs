//! The metric names the Grafana dashboard charts, for the test binaries that check them (the
//! deployment checks, and the end-to-end test against a real worker's `/metrics`).

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The metric names in a PromQL expression (histograms by their base name).
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| {
            ["emporium_", "http_", "temporal_"]
                .iter()
                .any(|prefix| word.starts_with(prefix))
        })
        .map(|word| word.strip_suffix("_bucket").unwrap_or(word).to_owned())
        .collect()
}

/// The metric names the Grafana dashboard charts.
pub fn dashboard_metrics() -> BTreeSet<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/dashboards/emporium.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("JSON");
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .flat_map(|target| metric_names(target["expr"].as_str().expect("an expression")))
        .collect()
}
