//! Emporium's workflows: the business processes, as deterministic Temporal workflow code.
//!
//! Workflow code runs again from the start whenever a worker replays its history, so it must
//! take every decision from its input, its history and its own state: no clocks, no randomness,
//! no I/O, no tokio. It reaches the outside world only by calling activities, through the
//! definitions in `contracts`, on the task queue of the service that owns them.

mod options;
pub mod place_order;

pub use place_order::PlaceOrder;
