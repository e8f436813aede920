//! Schema `orders`: the order read model and every order's status history.

pub mod order;
pub mod order_line;
pub mod status_history;
