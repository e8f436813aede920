//! The `emporium` binary and what is deployed around it.
//!
//! - [`bench`]: `emporium bench` against a running platform, with a handful of orders.
//! - [`dev`]: `emporium dev` from an empty folder to a completed order, Ctrl-C and a restart.
//! - [`e2e`]: the API and each service's worker as separate processes, driven over HTTP only.
//! - [`deployment`]: docker-compose.yml, the Kubernetes manifests and the Grafana dashboard
//!   name only real subcommands, settings, ports and metrics.

#[cfg(feature = "bench")]
mod bench;
mod deployment;
mod dev;
mod e2e;

use testkit::free_port;
