//! The `emporium` binary and what is deployed around it.
//!
//! - [`bench`]: `emporium bench` against a running platform, with a handful of orders.
//! - [`e2e`]: the API and each service's worker as separate processes, driven over HTTP only.
//! - [`deployment`]: docker-compose.yml, the Kubernetes manifests and the Grafana dashboard
//!   name only real subcommands, settings, ports and metrics.

#[cfg(feature = "bench")]
mod bench;
mod deployment;
mod e2e;
