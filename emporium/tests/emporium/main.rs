//! The `emporium` binary and what is deployed around it.
//!
//! - [`bench`]: `emporium bench` against a running platform, with a handful of orders.
//! - [`dev`]: `emporium dev` from an empty folder to a completed order, Ctrl-C and a restart.
//! - [`e2e`]: the API and each service's worker as separate processes, driven over HTTP only.
//!
//! The deployment files are checked by a test binary of their own (`tests/deployment`): it
//! loads settings from their variables by setting the process's environment, which would race
//! with the tests here that read it (the database URL, the `PATH`).

#[cfg(feature = "bench")]
mod bench;
#[path = "../common/dashboard.rs"]
mod dashboard;
mod dev;
mod e2e;

use testkit::free_port;
