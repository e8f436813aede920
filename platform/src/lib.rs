//! Plumbing every Emporium process shares, and nothing else: typed settings, telemetry,
//! the Postgres connection (creating the database when missing) and the Temporal connection
//! (starting the Temporal CLI dev server when asked to). No business logic lives here.

pub mod db;
pub mod settings;
pub mod telemetry;
pub mod temporal;

pub use settings::Settings;
