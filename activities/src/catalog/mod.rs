//! The catalog service (schema `catalog`): products, prices, categories, images, technical
//! specifications ([`specifications`]), coupons, and the customers' reviews ([`reviews`]).
//!
//! No activities: the API prices an order through [`quote`] before it starts PlaceOrder (and a
//! cart's lines before they enter the Cart workflow), so workflows receive prices fixed at the
//! moment the customer acted and never read the catalog themselves.
//!
//! An admin's changes (product created, updated, taken off sale; a price change is its own
//! `product.price_changed`) are appended to the audit log in the same transaction.

pub mod reviews;
pub mod specifications;

use crate::audit;
use contracts::cart::{Coupon, Discount, PricedProduct};
use contracts::orders::OrderLine;
use contracts::{Currency, Money, MoneyError, Sku};
use entities::catalog::{category, coupon, product, product_category};
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityName, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use specifications::{SpecFilter, Specification};
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
    /// Another product has this SKU.
    #[error("a product with SKU `{0}` exists")]
    SkuTaken(String),
    /// A category named does not exist.
    #[error("unknown category `{0}`")]
    UnknownCategory(String),
}

/// A product's rating: the average of its visible reviews and how many there are.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rating {
    /// The average rating, 1 to 5, to two decimals (`null` before the first review).
    pub average: Option<f64>,
    /// Visible reviews.
    pub count: u32,
}

impl Rating {
    fn of(count: i32, sum: i32) -> Self {
        let average =
            (count > 0).then(|| (f64::from(sum) / f64::from(count) * 100.0).round() / 100.0);
        Self {
            average,
            count: u32::try_from(count).unwrap_or_default(),
        }
    }
}

/// A product as shoppers see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
    /// Category slugs.
    pub categories: Vec<String>,
    /// Image URLs.
    pub image_urls: Vec<String>,
    /// Whether it can be ordered.
    pub active: bool,
    /// Technical specifications.
    pub specifications: Vec<Specification>,
    /// What its reviewers think of it.
    pub rating: Rating,
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
            categories: Vec::new(),
            image_urls: serde_json::from_value(row.image_urls).unwrap_or_default(),
            active: row.active,
            specifications: serde_json::from_value(row.specifications).unwrap_or_default(),
            rating: Rating::of(row.review_count, row.rating_sum),
        })
    }
}

/// Which products to list.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// Name contains this (case-insensitive).
    pub search: Option<String>,
    /// In this category.
    pub category: Option<String>,
    /// Include inactive products (for admins).
    pub include_inactive: bool,
    /// Only products whose specifications match every one of these.
    pub specifications: Vec<SpecFilter>,
}

/// One page of products, by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductPage {
    /// The products.
    pub items: Vec<Product>,
    /// Page number, from 1.
    pub page: u64,
    /// Products per page.
    pub per_page: u64,
    /// Products matching, on all pages.
    pub total: u64,
}

async fn with_categories(
    db: &DatabaseConnection,
    mut products: Vec<Product>,
) -> Result<Vec<Product>, CatalogError> {
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let links = product_category::Entity::find()
        .filter(product_category::Column::ProductId.is_in(ids))
        .order_by_asc(product_category::Column::Category)
        .all(db)
        .await?;
    for product in &mut products {
        product.categories = links
            .iter()
            .filter(|l| l.product_id == product.id)
            .map(|l| l.category.clone())
            .collect();
    }
    Ok(products)
}

/// Products matching the query, by name, `per_page` at a time.
pub async fn list_products(
    db: &DatabaseConnection,
    query: &ProductQuery,
    page: u64,
    per_page: u64,
) -> Result<ProductPage, CatalogError> {
    let mut find = product::Entity::find();
    if !query.include_inactive {
        find = find.filter(product::Column::Active.eq(true));
    }
    if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        find = find.filter(Expr::col((product::Entity, product::Column::Name)).ilike(pattern));
    }
    if let Some(category) = &query.category {
        // `table_ref` keeps the `catalog.` schema the entity lives in.
        find = find.filter(
            product::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(product_category::Column::ProductId)
                    .from(product_category::Entity.table_ref())
                    .and_where(product_category::Column::Category.eq(category.clone()))
                    .to_owned(),
            ),
        );
    }
    for filter in &query.specifications {
        let (path, vars) = filter.path_and_vars();
        find = find.filter(Expr::cust_with_values(
            "jsonb_path_exists(catalog.products.specifications, $1::jsonpath, $2::jsonb)",
            [sea_orm::Value::from(path), sea_orm::Value::from(vars)],
        ));
    }
    let total = find.clone().count(db).await?;
    let rows = find
        .order_by_asc(product::Column::Name)
        .order_by_asc(product::Column::Sku)
        .offset(page.saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
        .all(db)
        .await?;
    let items = rows
        .into_iter()
        .map(Product::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProductPage {
        items: with_categories(db, items).await?,
        page,
        per_page,
        total,
    })
}

/// A product by id (active or not).
pub async fn product(db: &DatabaseConnection, id: Uuid) -> Result<Option<Product>, CatalogError> {
    let Some(row) = product::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let product = Product::try_from(row)?;
    Ok(with_categories(db, vec![product]).await?.pop())
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
    /// Technical specifications.
    pub specifications: Vec<Specification>,
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
        image_urls: Set(serde_json::json!([])),
        created_at: Set(chrono::Utc::now().into()),
        updated_at: Set(chrono::Utc::now().into()),
        specifications: Set(json!(draft.specifications)),
        ..Default::default()
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
                    product::Column::Specifications,
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

/// Everything an admin sets on a product.
#[derive(Debug, Clone)]
pub struct ProductSpec {
    /// Stock-keeping unit.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Longer text.
    pub description: String,
    /// Price of one unit.
    pub price: Money,
    /// Category slugs (must exist).
    pub categories: Vec<String>,
    /// Image URLs.
    pub image_urls: Vec<String>,
    /// Whether it can be ordered.
    pub active: bool,
    /// Technical specifications.
    pub specifications: Vec<Specification>,
}

async fn set_categories(
    txn: &sea_orm::DatabaseTransaction,
    product_id: Uuid,
    categories: &[String],
) -> Result<(), CatalogError> {
    let known: Vec<String> = category::Entity::find()
        .filter(category::Column::Slug.is_in(categories.to_vec()))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.slug)
        .collect();
    if let Some(unknown) = categories.iter().find(|c| !known.contains(c)) {
        return Err(CatalogError::UnknownCategory(unknown.clone()));
    }
    product_category::Entity::delete_many()
        .filter(product_category::Column::ProductId.eq(product_id))
        .exec(txn)
        .await?;
    if !categories.is_empty() {
        product_category::Entity::insert_many(categories.iter().map(|slug| {
            product_category::ActiveModel {
                product_id: Set(product_id),
                category: Set(slug.clone()),
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// What the audit log keeps of a product.
fn audited(sku: &str, name: &str, price: &serde_json::Value, active: bool) -> serde_json::Value {
    json!({"sku": sku, "name": name, "price": price, "active": active})
}

/// Creates a product; refuses a SKU that exists. `actor` is who asked, for the audit log.
pub async fn create_product(
    db: &DatabaseConnection,
    spec: ProductSpec,
    actor: &str,
) -> Result<Product, CatalogError> {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let txn = db.begin().await?;
    let inserted = product::Entity::insert(product::ActiveModel {
        id: Set(id),
        sku: Set(spec.sku.clone()),
        name: Set(spec.name.clone()),
        description: Set(spec.description),
        price_minor: Set(spec.price.amount_minor),
        currency: Set(spec.price.currency.code().to_owned()),
        active: Set(spec.active),
        image_urls: Set(serde_json::json!(spec.image_urls)),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        specifications: Set(serde_json::json!(spec.specifications)),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(product::Column::Sku)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Err(CatalogError::SkuTaken(spec.sku));
    }
    set_categories(&txn, id, &spec.categories).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor: audit::actor(actor),
            action: "product.created",
            subject: format!("product:{}", spec.sku),
            order_id: None,
            before: None,
            after: Some(audited(
                &spec.sku,
                &spec.name,
                &json!(spec.price),
                spec.active,
            )),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(product.id = %id, sku = %spec.sku, "product created");
    product(db, id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("product just written".to_owned()).into())
}

/// Replaces a product's details; `None` if there is no such product. `actor` is who asked, for
/// the audit log.
pub async fn update_product(
    db: &DatabaseConnection,
    id: Uuid,
    spec: ProductSpec,
    actor: &str,
) -> Result<Option<Product>, CatalogError> {
    let txn = db.begin().await?;
    let Some(before) = product::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let taken = product::Entity::find()
        .filter(product::Column::Sku.eq(spec.sku.clone()))
        .filter(product::Column::Id.ne(id))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(CatalogError::SkuTaken(spec.sku));
    }
    let updated = product::Entity::update_many()
        .col_expr(product::Column::Sku, spec.sku.clone().into())
        .col_expr(product::Column::Name, spec.name.clone().into())
        .col_expr(
            product::Column::Description,
            spec.description.clone().into(),
        )
        .col_expr(product::Column::PriceMinor, spec.price.amount_minor.into())
        .col_expr(product::Column::Currency, spec.price.currency.code().into())
        .col_expr(product::Column::Active, spec.active.into())
        .col_expr(
            product::Column::ImageUrls,
            serde_json::json!(spec.image_urls).into(),
        )
        .col_expr(
            product::Column::Specifications,
            serde_json::json!(spec.specifications).into(),
        )
        .col_expr(
            product::Column::UpdatedAt,
            chrono::Utc::now().fixed_offset().into(),
        )
        .filter(product::Column::Id.eq(id))
        .exec(&txn)
        .await?
        .rows_affected;
    if updated == 0 {
        return Ok(None);
    }
    set_categories(&txn, id, &spec.categories).await?;
    audit::record(&txn, update_entry(&before, &spec, actor)).await?;
    txn.commit().await?;
    tracing::info!(product.id = %id, price = %spec.price, "product updated");
    product(db, id).await
}

/// The audit entry of an update: `product.price_changed` when the price moved, else
/// `product.updated`, with what it was and what it is.
fn update_entry(before: &product::Model, spec: &ProductSpec, actor: &str) -> audit::Entry {
    let price_changed = before.price_minor != spec.price.amount_minor
        || before.currency != spec.price.currency.code();
    let was_price = json!({"amount_minor": before.price_minor, "currency": before.currency});
    audit::Entry {
        actor: audit::actor(actor),
        action: if price_changed {
            "product.price_changed"
        } else {
            "product.updated"
        },
        subject: format!("product:{}", spec.sku),
        order_id: None,
        before: Some(audited(
            &before.sku,
            &before.name,
            &was_price,
            before.active,
        )),
        after: Some(audited(
            &spec.sku,
            &spec.name,
            &json!(spec.price),
            spec.active,
        )),
    }
}

/// Deletes a product from the catalog: it is no longer listed, found or orderable, and its SKU
/// is free for a new product. Orders keep their own copy of its lines, and the audit log keeps
/// what it was. To stop selling it but keep it, update it with `active: false` instead.
/// Returns whether it existed.
pub async fn delete_product(
    db: &DatabaseConnection,
    id: Uuid,
    actor: &str,
) -> Result<bool, CatalogError> {
    let txn = db.begin().await?;
    let Some(before) = product::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    product::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor: audit::actor(actor),
            action: "product.deleted",
            subject: format!("product:{}", before.sku),
            order_id: None,
            before: Some(json!({
                "id": before.id, "sku": before.sku, "name": before.name,
                "price_minor": before.price_minor, "currency": before.currency,
                "active": before.active,
            })),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// A category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Category {
    /// Slug (lower-case letters, digits, `-`).
    pub slug: String,
    /// Name.
    pub name: String,
}

/// Every category, by slug.
pub async fn categories(db: &DatabaseConnection) -> Result<Vec<Category>, CatalogError> {
    Ok(category::Entity::find()
        .order_by_asc(category::Column::Slug)
        .all(db)
        .await?
        .into_iter()
        .map(|c| Category {
            slug: c.slug,
            name: c.name,
        })
        .collect())
}

/// Creates or renames a category.
pub async fn upsert_category(
    db: &DatabaseConnection,
    slug: &str,
    name: &str,
) -> Result<Category, CatalogError> {
    category::Entity::insert(category::ActiveModel {
        slug: Set(slug.to_owned()),
        name: Set(name.to_owned()),
    })
    .on_conflict(
        OnConflict::column(category::Column::Slug)
            .update_column(category::Column::Name)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(Category {
        slug: slug.to_owned(),
        name: name.to_owned(),
    })
}

/// Creates or replaces a coupon.
pub async fn upsert_coupon(
    db: &DatabaseConnection,
    code: &str,
    discount: &Discount,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), CatalogError> {
    let (kind, value, currency) = match discount {
        Discount::Percent(percent) => ("percent", i64::from(*percent), None),
        Discount::Fixed(amount) => (
            "fixed",
            amount.amount_minor,
            Some(amount.currency.code().to_owned()),
        ),
    };
    coupon::Entity::insert(coupon::ActiveModel {
        code: Set(code.to_owned()),
        kind: Set(kind.to_owned()),
        value: Set(value),
        currency: Set(currency),
        expires_at: Set(expires_at.into()),
        active: Set(true),
    })
    .on_conflict(
        OnConflict::column(coupon::Column::Code)
            .update_columns([
                coupon::Column::Kind,
                coupon::Column::Value,
                coupon::Column::Currency,
                coupon::Column::ExpiresAt,
                coupon::Column::Active,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// An active, unexpired coupon by code.
pub async fn valid_coupon(
    db: &DatabaseConnection,
    code: &str,
) -> Result<Option<Coupon>, CatalogError> {
    let Some(row) = coupon::Entity::find_by_id(code.to_owned())
        .filter(coupon::Column::Active.eq(true))
        .filter(coupon::Column::ExpiresAt.gt(chrono::Utc::now()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let discount = match (row.kind.as_str(), row.currency.as_deref()) {
        ("percent", _) => Discount::Percent(u32::try_from(row.value).unwrap_or(0)),
        (_, Some(currency)) => Discount::Fixed(Money::new(
            row.value,
            Currency::new(currency).map_err(|source| CatalogError::InvalidPrice {
                sku: row.code.clone(),
                source,
            })?,
        )),
        _ => return Ok(None),
    };
    Ok(Some(Coupon {
        code: row.code,
        discount,
        expires_at_ms: row.expires_at.timestamp_millis(),
    }))
}

/// Today's price of each SKU that can be ordered (unknown or inactive SKUs are absent).
pub async fn prices(
    db: &DatabaseConnection,
    skus: &[String],
) -> Result<Vec<PricedProduct>, CatalogError> {
    product::Entity::find()
        .filter(product::Column::Sku.is_in(skus.to_vec()))
        .filter(product::Column::Active.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Product::try_from(row).map(|p| PricedProduct {
                sku: p.sku,
                name: p.name,
                unit_price: p.price,
            })
        })
        .collect()
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
