//! Plumbing every Emporium process shares, and nothing else: typed settings, telemetry
//! (logs and metrics), readiness checks, the Postgres connection (creating the database when
//! missing) and the Temporal connection (starting the Temporal CLI dev server when asked to).
//! No business logic lives here.

pub mod db;
pub mod health;
pub mod metrics;
pub mod settings;
pub mod telemetry;
pub mod temporal;

pub use settings::Settings;
