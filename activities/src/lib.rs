//! Emporium's services, one module per service.
//!
//! Each module owns one Postgres schema (its `entities` module) and nothing else: it reads and
//! writes only its own tables, and data crosses services only through workflow inputs and
//! outputs. A module holds:
//! - the implementation of its service's activities (definitions in `contracts`), each safe to
//!   run twice: natural keys, `ON CONFLICT`, state checks;
//! - the service's own query and admin functions, which the API calls for reads;
//! - its gateways to the outside world (payment providers, later carriers and mail).
//!
//! [`audit`] owns the append-only audit log; the others append to it through
//! [`audit::record`], inside the transaction of the change they describe. [`feed`] owns the
//! change feed live clients follow, appended to the same way ([`feed::append`]), and [`events`]
//! the domain events the world outside hears, written to each owning service's outbox the same
//! way ([`events::record`]) and relayed to NATS JetStream. [`reporting`]
//! owns no tables: it reads the others through views of its own schema. [`support`], like
//! [`catalog`] and [`customers`], has no worker: the API runs it.
//!
//! `tests/services/main.rs` checks that no module touches another service's entities.

pub mod audit;
pub mod catalog;
pub mod customers;
pub mod events;
mod failure;
pub mod feed;
pub mod inventory;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod reporting;
pub mod shipping;
pub mod support;

pub use catalog::CatalogError;
pub use inventory::{InventoryActivities, InventoryError};
pub use notifications::{NotificationsActivities, NotificationsError};
pub use orders::{OrdersActivities, OrdersError};
pub use payments::{PaymentsActivities, PaymentsError};
pub use reporting::{ReportingActivities, ReportingError};
pub use shipping::{ShippingActivities, ShippingError};
