//! Schema `customers`: accounts, their credentials and roles.

pub mod customer;
