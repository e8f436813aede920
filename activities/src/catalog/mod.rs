//! The catalog service (schema `catalog`): products and their prices.
//!
//! No activities yet: the API prices an order through [`quote`] before it starts PlaceOrder,
//! so the workflow receives prices fixed at the moment the customer ordered.

use contracts::orders::OrderLine;
use contracts::{Currency, Money, MoneyError, Sku};
use entities::catalog::product;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database failed.
    #[error("catalog database error: {0}")]
    Db(#[from] DbErr),
    /// A stored price has an impossible currency.
    #[error("product {sku} has an invalid price: {source}")]
    InvalidPrice {
        /// The product.
        sku: String,
        /// What is wrong.
        source: MoneyError,
    },
}

/// A product as shoppers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Stable id.
    pub id: Uuid,
    /// Stock-keeping unit.
    pub sku: Sku,
    /// Display name.
    pub name: String,
    /// Longer text.
    pub description: String,
    /// Current price of one unit.
    pub price: Money,
}

impl TryFrom<product::Model> for Product {
    type Error = CatalogError;

    fn try_from(row: product::Model) -> Result<Self, Self::Error> {
        let currency =
            Currency::new(&row.currency).map_err(|source| CatalogError::InvalidPrice {
                sku: row.sku.clone(),
                source,
            })?;
        Ok(Self {
            id: row.id,
            sku: Sku(row.sku),
            name: row.name,
            description: row.description,
            price: Money::new(row.price_minor, currency),
        })
    }
}

/// Every active product, by name.
pub async fn list_products(db: &DatabaseConnection) -> Result<Vec<Product>, CatalogError> {
    product::Entity::find()
        .filter(product::Column::Active.eq(true))
        .order_by_asc(product::Column::Name)
        .order_by_asc(product::Column::Sku)
        .all(db)
        .await?
        .into_iter()
        .map(Product::try_from)
        .collect()
}

/// A product to create or update by SKU.
#[derive(Debug, Clone)]
pub struct ProductDraft {
    /// Stock-keeping unit (upper-case letters, digits and `-`).
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Longer text.
    pub description: String,
    /// Price of one unit.
    pub price: Money,
    /// Whether it can be ordered.
    pub active: bool,
}

/// Creates the product, or updates the product with the same SKU. Returns its id.
pub async fn upsert_product(
    db: &DatabaseConnection,
    draft: ProductDraft,
) -> Result<Uuid, CatalogError> {
    let row = product::ActiveModel {
        id: Set(Uuid::now_v7()),
        sku: Set(draft.sku.clone()),
        name: Set(draft.name),
        description: Set(draft.description),
        price_minor: Set(draft.price.amount_minor),
        currency: Set(draft.price.currency.code().to_owned()),
        active: Set(draft.active),
        created_at: Set(chrono::Utc::now().into()),
        updated_at: Set(chrono::Utc::now().into()),
    };
    product::Entity::insert(row)
        .on_conflict(
            OnConflict::column(product::Column::Sku)
                .update_columns([
                    product::Column::Name,
                    product::Column::Description,
                    product::Column::PriceMinor,
                    product::Column::Currency,
                    product::Column::Active,
                    product::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let stored = product::Entity::find()
        .filter(product::Column::Sku.eq(draft.sku))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("product just written".to_owned()))?;
    Ok(stored.id)
}

/// One line a customer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// Which product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// An order priced from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The lines, in the order they were asked for, with their prices.
    pub lines: Vec<OrderLine>,
    /// Their sum.
    pub total: Money,
}

/// Why an order could not be priced.
#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    /// Line `index` names a product that does not exist or cannot be ordered.
    #[error("unknown product `{sku}`")]
    UnknownProduct {
        /// Position of the line in the request.
        index: usize,
        /// What was asked for.
        sku: String,
    },
    /// Line `index` is priced in another currency than the first line.
    #[error("product `{sku}` is priced in {found}, the order in {expected}")]
    MixedCurrency {
        /// Position of the line in the request.
        index: usize,
        /// The product.
        sku: String,
        /// The order's currency.
        expected: Currency,
        /// The product's currency.
        found: Currency,
    },
    /// The total does not fit in 64 bits.
    #[error("the order total is too large")]
    Overflow,
    /// Nothing was asked for.
    #[error("an order needs at least one line")]
    Empty,
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<DbErr> for QuoteError {
    fn from(err: DbErr) -> Self {
        QuoteError::Catalog(CatalogError::Db(err))
    }
}

/// Prices the requested lines with today's prices. Every SKU must name an active product and
/// every product must be priced in the same currency.
pub async fn quote(db: &DatabaseConnection, requested: &[Requested]) -> Result<Quote, QuoteError> {
    let skus: Vec<&str> = requested.iter().map(|line| line.sku.as_str()).collect();
    let products: HashMap<String, Product> = product::Entity::find()
        .filter(product::Column::Sku.is_in(skus))
        .filter(product::Column::Active.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Product::try_from(row).map(|p| (p.sku.0.clone(), p)))
        .collect::<Result<_, _>>()?;

    let mut lines = Vec::with_capacity(requested.len());
    let mut total: Option<Money> = None;
    for (index, line) in requested.iter().enumerate() {
        let product = products
            .get(&line.sku)
            .ok_or_else(|| QuoteError::UnknownProduct {
                index,
                sku: line.sku.clone(),
            })?;
        let line_total = product
            .price
            .checked_mul(line.quantity)
            .map_err(|_| QuoteError::Overflow)?;
        total = Some(match total {
            None => line_total.clone(),
            Some(sum) => sum.checked_add(&line_total).map_err(|err| match err {
                MoneyError::CurrencyMismatch(expected, found) => QuoteError::MixedCurrency {
                    index,
                    sku: line.sku.clone(),
                    expected,
                    found,
                },
                _ => QuoteError::Overflow,
            })?,
        });
        lines.push(OrderLine {
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity: line.quantity,
            unit_price: product.price.clone(),
            line_total,
        });
    }
    let total = total.ok_or(QuoteError::Empty)?;
    Ok(Quote { lines, total })
}
