//! The `emporium` binary and what is deployed around it.
//!
//! - [`e2e`]: the API and each service's worker as separate processes, driven over HTTP only.
//! - [`deployment`]: docker-compose.yml, the Kubernetes manifests and the Grafana dashboard
//!   name only real subcommands, settings, ports and metrics.

mod deployment;
mod e2e;
