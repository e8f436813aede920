//! sea-orm entities, one module per Postgres schema.
//!
//! Each schema belongs to one service; only that service's activities (and its own query
//! functions) may use the module. The tables themselves are created by the `migrations` crate.

pub mod audit;
pub mod catalog;
pub mod customers;
pub mod inventory;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod shipping;
