//! Schema `inventory`: stock levels and reservations.

pub mod reservation;
pub mod restock;
pub mod stock;
