//! The catalog: `GET /products` (search, category, pages), `GET /products/{id}`, admin
//! `POST /products`, `PUT /products/{id}`, `DELETE /products/{id}`; `GET /categories`, admin
//! `POST /categories`; admin `POST /coupons`; `GET /inventory/check/{productId}` and admin
//! `POST /inventory/adjustments`.

use crate::auth::Caller;
use crate::extract::{ValidJson, ValidQuery};
use crate::{ApiError, AppState};
use activities::catalog::{self, CatalogError, Category, Product, ProductQuery, ProductSpec};
use activities::customers::Role;
use activities::inventory::queries::{
    AdjustError, StockLevel, adjust_stock, stock_level, stock_levels,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use contracts::cart::Discount;
use contracts::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

fn from_catalog(err: CatalogError) -> ApiError {
    match err {
        CatalogError::Db(db) => ApiError::from(db),
        CatalogError::SkuTaken(sku) => {
            ApiError::conflict("sku_taken", format!("a product with SKU `{sku}` exists"))
                .with_field("sku", "taken")
        }
        CatalogError::UnknownCategory(slug) => ApiError::invalid_field(
            "unknown_category",
            "categories",
            format!("no category `{slug}`"),
        ),
        other => ApiError::internal(other),
    }
}

/// A product as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ProductResponse {
    #[serde(flatten)]
    product: Product,
    /// Units that can be ordered now.
    available: i64,
}

/// A page of products.
#[derive(Debug, Serialize)]
pub(crate) struct ProductListResponse {
    items: Vec<ProductResponse>,
    page: u64,
    per_page: u64,
    total: u64,
}

/// The query of `GET /products`.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductParams {
    /// Name contains this.
    #[garde(inner(length(max = 100)))]
    q: Option<String>,
    /// In this category (slug).
    #[garde(inner(length(min = 1, max = 64)))]
    category: Option<String>,
    /// Page number, from 1.
    #[garde(inner(range(min = 1, max = 100_000)))]
    page: Option<u64>,
    /// Per page, 1 to 100 (50 by default).
    #[garde(inner(range(min = 1, max = 100)))]
    per_page: Option<u64>,
}

async fn with_availability(
    state: &AppState,
    products: Vec<Product>,
) -> Result<Vec<ProductResponse>, ApiError> {
    let available: HashMap<String, i64> =
        stock_levels(&state.db, products.iter().map(|p| p.sku.0.clone()))
            .await?
            .into_iter()
            .map(|level| (level.sku, level.available))
            .collect();
    Ok(products
        .into_iter()
        .map(|product| ProductResponse {
            available: available.get(product.sku.as_str()).copied().unwrap_or(0),
            product,
        })
        .collect())
}

/// Active products, by name: search by name, filter by category, paged.
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    ValidQuery(params): ValidQuery<ProductParams>,
) -> Result<Json<ProductListResponse>, ApiError> {
    let query = ProductQuery {
        search: params.q,
        category: params.category,
        include_inactive: false,
    };
    let page = catalog::list_products(
        &state.db,
        &query,
        params.page.unwrap_or(1),
        params.per_page.unwrap_or(50),
    )
    .await
    .map_err(from_catalog)?;
    Ok(Json(ProductListResponse {
        items: with_availability(&state, page.items).await?,
        page: page.page,
        per_page: page.per_page,
        total: page.total,
    }))
}

fn parse_product_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::invalid_path("id", "must be a UUID"))
}

/// One product (inactive products only for admins).
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Path(id): Path<String>,
) -> Result<Json<ProductResponse>, ApiError> {
    let id = parse_product_id(&id)?;
    let admin = caller.is_some_and(|c| c.role == Role::Admin);
    let product = catalog::product(&state.db, id)
        .await
        .map_err(from_catalog)?
        .filter(|p| p.active || admin)
        .ok_or_else(|| ApiError::not_found(format!("no product with id {id}")))?;
    Ok(Json(
        with_availability(&state, vec![product]).await?.remove(0),
    ))
}

/// A price in a request.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceBody {
    /// Minor units.
    #[garde(range(min = 0, max = 100_000_000))]
    amount_minor: i64,
    /// ISO 4217 code.
    #[garde(custom(currency_code))]
    currency: String,
}

fn currency_code(code: &str, _: &()) -> garde::Result {
    Currency::new(code)
        .map(|_| ())
        .map_err(|e| garde::Error::new(e.to_string()))
}

fn sku_format(sku: &str, _: &()) -> garde::Result {
    let ok = (1..=64).contains(&sku.len())
        && sku
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && sku
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(garde::Error::new(
            "1 to 64 upper-case letters, digits and `-`",
        ))
    }
}

impl PriceBody {
    fn money(&self) -> Result<Money, ApiError> {
        Currency::new(&self.currency)
            .map(|c| Money::new(self.amount_minor, c))
            .map_err(|e| {
                ApiError::invalid_field("validation_failed", "price.currency", e.to_string())
            })
    }
}

/// The body of `POST /products` and `PUT /products/{id}`.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductBody {
    #[garde(custom(sku_format))]
    sku: String,
    #[garde(length(min = 1, max = 200))]
    name: String,
    #[garde(length(max = 5000))]
    #[serde(default)]
    description: String,
    #[garde(dive)]
    price: PriceBody,
    #[garde(length(max = 20), inner(length(min = 1, max = 64)))]
    #[serde(default)]
    categories: Vec<String>,
    #[garde(length(max = 20), inner(url))]
    #[serde(default)]
    image_urls: Vec<String>,
    #[garde(skip)]
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

impl ProductBody {
    fn spec(self) -> Result<ProductSpec, ApiError> {
        Ok(ProductSpec {
            price: self.price.money()?,
            sku: self.sku,
            name: self.name,
            description: self.description,
            categories: self.categories,
            image_urls: self.image_urls,
            active: self.active,
        })
    }
}

/// Creates a product (admin).
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<ProductBody>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    caller.require(Role::Admin)?;
    let product = catalog::create_product(&state.db, body.spec()?)
        .await
        .map_err(from_catalog)?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Replaces a product's details, price included (admin).
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ProductBody>,
) -> Result<Json<Product>, ApiError> {
    caller.require(Role::Admin)?;
    let id = parse_product_id(&id)?;
    catalog::update_product(&state.db, id, body.spec()?)
        .await
        .map_err(from_catalog)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no product with id {id}")))
}

/// Takes a product off sale (admin).
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let id = parse_product_id(&id)?;
    if catalog::deactivate_product(&state.db, id)
        .await
        .map_err(from_catalog)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no product with id {id}")))
    }
}

/// Every category.
pub(crate) async fn categories(
    State(state): State<AppState>,
) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(
        catalog::categories(&state.db).await.map_err(from_catalog)?,
    ))
}

fn slug_format(slug: &str, _: &()) -> garde::Result {
    let ok = (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(garde::Error::new(
            "1 to 64 lower-case letters, digits and `-`",
        ))
    }
}

/// The body of `POST /categories`.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryBody {
    #[garde(custom(slug_format))]
    slug: String,
    #[garde(length(min = 1, max = 100))]
    name: String,
}

/// Creates or renames a category (admin).
pub(crate) async fn create_category(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<CategoryBody>,
) -> Result<(StatusCode, Json<Category>), ApiError> {
    caller.require(Role::Admin)?;
    let category = catalog::upsert_category(&state.db, &body.slug, &body.name)
        .await
        .map_err(from_catalog)?;
    Ok((StatusCode::CREATED, Json(category)))
}

fn coupon_code(code: &str, _: &()) -> garde::Result {
    let ok = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(garde::Error::new(
            "3 to 32 upper-case letters, digits and `-`",
        ))
    }
}

/// The body of `POST /coupons`: exactly one of `percent_off` and `amount_off`.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct CouponBody {
    #[garde(custom(coupon_code))]
    code: String,
    #[garde(inner(range(min = 1, max = 100)))]
    percent_off: Option<u32>,
    #[garde(dive)]
    amount_off: Option<PriceBody>,
    /// RFC 3339.
    #[garde(skip)]
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// Creates or replaces a coupon (admin).
pub(crate) async fn create_coupon(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<CouponBody>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let discount = match (body.percent_off, &body.amount_off) {
        (Some(percent), None) => Discount::Percent(percent),
        (None, Some(amount)) => Discount::Fixed(amount.money()?),
        _ => {
            return Err(ApiError::invalid_field(
                "validation_failed",
                "percent_off",
                "give exactly one of percent_off and amount_off",
            ));
        }
    };
    catalog::upsert_coupon(&state.db, &body.code, &discount, body.expires_at)
        .await
        .map_err(from_catalog)?;
    Ok(StatusCode::CREATED)
}

/// What `GET /inventory/check/{productId}` answers.
#[derive(Debug, Serialize)]
pub(crate) struct Availability {
    product_id: Uuid,
    sku: String,
    available: i64,
    in_stock: bool,
}

/// How many units of a product can be ordered now.
#[tracing::instrument(skip_all, fields(product.id = %product_id))]
pub(crate) async fn check(
    State(state): State<AppState>,
    Path(product_id): Path<String>,
) -> Result<Json<Availability>, ApiError> {
    let id = Uuid::parse_str(&product_id)
        .map_err(|_| ApiError::invalid_path("productId", "must be a UUID"))?;
    let product = catalog::product(&state.db, id)
        .await
        .map_err(from_catalog)?
        .filter(|p| p.active)
        .ok_or_else(|| ApiError::not_found(format!("no product with id {id}")))?;
    let available = stock_level(&state.db, product.sku.as_str())
        .await?
        .map_or(0, |level| level.available);
    Ok(Json(Availability {
        product_id: id,
        sku: product.sku.0,
        available,
        in_stock: available > 0,
    }))
}

/// The body of `POST /inventory/adjustments`.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdjustmentBody {
    #[garde(custom(sku_format))]
    sku: String,
    /// Units to add (positive) or remove (negative), not 0.
    #[garde(range(min = -1_000_000, max = 1_000_000), custom(non_zero))]
    delta: i64,
    #[garde(length(min = 1, max = 500))]
    reason: String,
}

fn non_zero(delta: &i64, _: &()) -> garde::Result {
    if *delta == 0 {
        Err(garde::Error::new("must not be 0"))
    } else {
        Ok(())
    }
}

/// Changes a SKU's stock (admin); refused below what is reserved.
#[tracing::instrument(skip_all)]
pub(crate) async fn adjust(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<AdjustmentBody>,
) -> Result<Json<StockLevel>, ApiError> {
    caller.require(Role::Admin)?;
    let level = adjust_stock(
        &state.db,
        &body.sku,
        body.delta,
        &body.reason,
        &caller.email,
    )
    .await
    .map_err(|err| match err {
        AdjustError::BelowReserved { .. } => {
            ApiError::conflict("below_reserved", err.to_string()).with_field("delta", "too low")
        }
        AdjustError::Db(db) => ApiError::from(db),
    })?;
    Ok(Json(level))
}
