//! Schema `catalog`: products, their prices, categories and coupons.

pub mod category;
pub mod coupon;
pub mod product;
pub mod product_category;
