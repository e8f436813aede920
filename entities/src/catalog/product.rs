//! `catalog.products`: one sellable product.

use sea_orm::entity::prelude::*;

/// A product with its current price.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "catalog", table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub active: bool,
    /// Image URLs, as a JSON array of strings.
    pub image_urls: Json,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    /// Technical specifications, as a JSON array of `{key, value, unit}`.
    pub specifications: Json,
    /// Visible reviews.
    pub review_count: i32,
    /// Their ratings added up.
    pub rating_sum: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
