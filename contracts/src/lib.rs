//! The contracts between Emporium's services.
//!
//! Everything two processes must agree on lives here and nowhere else: identifiers, [`Money`],
//! task-queue names, workflow ids, workflow inputs and outputs, and the *definitions* of every
//! activity (their names and input/output types, with no body), and the versioned domain
//! events the world outside hears ([`events`]). Workflows call these
//! definitions; the `activities` crate implements them against the same types, and the compiler
//! checks that both sides agree.
//!
//! This crate must stay deterministic and free of I/O: the `workflows` crate depends on it.

pub mod cart;
pub mod events;
pub mod ids;
pub mod inventory;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod queues;
pub mod reporting;
pub mod shipping;
pub mod webhooks;

pub use ids::{CustomerId, OrderId, Sku};
pub use money::{Currency, Money, MoneyError};
pub use queues::{Service, TaskQueues};
pub use uuid::Uuid;
