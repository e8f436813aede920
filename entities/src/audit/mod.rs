//! Schema `audit`: the append-only log of critical actions.

pub mod event;
