//! Schema `catalog`: products and their prices.

pub mod product;
