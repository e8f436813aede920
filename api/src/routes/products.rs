//! The catalog: `GET /products` (search, category, pages), `GET /products/{id}`, admin
//! `POST /products`, `PUT /products/{id}`, `DELETE /products/{id}`; `GET /categories`, admin
//! `POST /categories`; admin `POST /coupons`; `GET /inventory/check/{product_id}` and admin
//! `POST /inventory/adjustments`.

use super::specs::{self, SpecificationBody};
use crate::auth::{Admin, Caller};
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{BadRequest, Conflict, CrossFieldRule, Forbidden, NotFound, exactly_one_of};
use crate::{ApiError, AppState};
use activities::catalog::specifications::MAX_SPECIFICATIONS;
use activities::catalog::{self, CatalogError, Category, Product, ProductQuery, ProductSpec};
use activities::customers::Role;
use activities::inventory::queries::{StockLevel, stock_level, stock_levels};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use contracts::cart::Discount;
use contracts::inventory::{AdjustStock, StockAdjustment, stock_adjustment_workflow_id};
use contracts::{Currency, Money, Service, Sku};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use temporalio_client::WorkflowStartOptions;
use utoipa::openapi::ObjectBuilder;
use utoipa::openapi::schema::{KnownFormat, SchemaFormat, Type};
use uuid::Uuid;
use workflows::AdjustStock as AdjustStockWorkflow;

fn from_catalog(err: CatalogError) -> ApiError {
    match err {
        CatalogError::Db(db) => ApiError::from(db),
        CatalogError::SkuTaken(sku) => ApiError::conflict(
            ErrorCode::SkuTaken,
            format!("a product with SKU `{sku}` exists"),
        )
        .with_field("sku", "taken"),
        CatalogError::UnknownCategory(slug) => {
            let message = format!("no category `{slug}`");
            ApiError::conflict(ErrorCode::UnknownCategory, message.clone())
                .with_field("categories", message)
        }
        other => ApiError::internal(other),
    }
}

/// A product as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProductResponse {
    #[serde(flatten)]
    product: Product,
    /// Units that can be ordered now.
    available: i64,
}

/// A page of products.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProductListResponse {
    /// The products on this page, by name.
    items: Vec<ProductResponse>,
    /// This page's number, from 1.
    page: u64,
    /// Products per page.
    per_page: u64,
    /// Products matching the query, on all pages.
    total: u64,
}

/// The query of `GET /products`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductParams {
    /// Name contains this.
    #[garde(inner(length(chars, max = 100)))]
    #[param(max_length = 100)]
    q: Option<String>,
    /// In this category (slug).
    #[garde(inner(length(chars, min = 1, max = 64)))]
    #[param(min_length = 1, max_length = 64)]
    category: Option<String>,
    /// Page number, from 1.
    #[garde(inner(range(min = 1, max = 100_000)))]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u64>,
    /// Per page, 1 to 100 (50 by default).
    #[garde(inner(range(min = 1, max = 100)))]
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u64>,
    /// Only products whose specifications match every filter: `key:value` (that number,
    /// boolean or exact text), `key>=number`, `key<=number`, joined by `;` (at most 10), such
    /// as `material:stoneware;capacity>=300`. (Parsed, and refused naming `spec`, by the
    /// handler: once.)
    #[garde(skip)]
    #[param(
        pattern = r"^[a-z][a-z0-9_]{0,39}(:[^;\u0000]{1,100}|[<>]=-?[0-9]{1,15}(\.[0-9]{1,6})?)(;[a-z][a-z0-9_]{0,39}(:[^;\u0000]{1,100}|[<>]=-?[0-9]{1,15}(\.[0-9]{1,6})?)){0,9}$"
    )]
    spec: Option<String>,
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
#[utoipa::path(
    get, path = "/products", operation_id = "listProducts", tag = "catalog",
    params(ProductParams),
    responses((status = 200, description = "A page of active products.", body = ProductListResponse)),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    ValidQuery(params): ValidQuery<ProductParams>,
) -> Result<Json<ProductListResponse>, ApiError> {
    let query = ProductQuery {
        search: params.q,
        category: params.category,
        include_inactive: false,
        specifications: params
            .spec
            .as_deref()
            .map(specs::parse_filters)
            .transpose()
            .map_err(|err| ApiError::invalid_field(ErrorCode::InvalidQuery, "spec", err.message()))?
            .unwrap_or_default(),
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

/// One product (inactive products only for admins; deleted ones for nobody).
#[utoipa::path(
    get, path = "/products/{id}", operation_id = "getProduct", tag = "catalog",
    params(("id" = Uuid, Path, description = "The product's id.")),
    responses(
        (status = 200, description = "The product and its availability.", body = ProductResponse),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security((), ("bearer" = [])),
)]
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
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceBody {
    /// Minor units (cents for EUR), 0 to 100 000 000.
    #[garde(range(min = 0, max = 100_000_000))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    amount_minor: i64,
    /// ISO 4217 code, such as `EUR`.
    #[garde(custom(currency_code))]
    #[schema(pattern = r"^[A-Z]{3}$")]
    currency: String,
}

/// An array of at most `max_items` strings, each as `item` says (for the document, where
/// utoipa cannot put a field's rules on its items).
fn strings(item: ObjectBuilder, max_items: usize, description: &str) -> utoipa::openapi::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(item.schema_type(Type::String))
        .max_items(Some(max_items))
        .description(Some(description))
        .into()
}

/// `image_urls`' rules for the document.
fn image_urls_schema() -> utoipa::openapi::Schema {
    let url = ObjectBuilder::new().format(Some(SchemaFormat::Custom("uri".to_owned())));
    strings(url, 20, "Image URLs (absolute), up to 20.")
}

/// `categories`' rules for the document.
fn categories_schema() -> utoipa::openapi::Schema {
    let slug = ObjectBuilder::new()
        .min_length(Some(1))
        .max_length(Some(64));
    strings(slug, 20, "Slugs of existing categories, up to 20.")
}

/// A coupon's fixed discount in a request: like a price, but at least 1 minor unit.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AmountOffBody {
    /// Minor units (cents for EUR), 1 to 100 000 000.
    #[garde(range(min = 1, max = 100_000_000))]
    #[schema(minimum = 1, maximum = 100_000_000)]
    amount_minor: i64,
    /// ISO 4217 code, such as `EUR`.
    #[garde(custom(currency_code))]
    #[schema(pattern = r"^[A-Z]{3}$")]
    currency: String,
}

impl AmountOffBody {
    fn money(&self) -> Result<Money, ApiError> {
        money(self.amount_minor, &self.currency, "amount_off.currency")
    }
}

/// Minor units of a currency from a request, the currency's field named if it is not one.
fn money(amount_minor: i64, currency: &str, field: &str) -> Result<Money, ApiError> {
    Currency::new(currency)
        .map(|c| Money::new(amount_minor, c))
        .map_err(|e| ApiError::invalid_field(ErrorCode::ValidationFailed, field, e.to_string()))
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
        money(self.amount_minor, &self.currency, "price.currency")
    }
}

/// The body of `POST /products` and `PUT /products/{id}`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductBody {
    /// Stock-keeping unit: 1 to 64 upper-case letters, digits and `-`, unique.
    #[garde(custom(sku_format))]
    #[schema(pattern = r"^[A-Z0-9][A-Z0-9-]{0,63}$")]
    sku: String,
    /// Display name, 1 to 200 characters.
    #[garde(length(chars, min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Longer text, up to 5000 characters.
    #[garde(length(chars, max = 5000))]
    #[schema(max_length = 5000)]
    #[serde(default)]
    description: String,
    /// The price of one unit.
    #[garde(dive)]
    price: PriceBody,
    /// Slugs of existing categories, up to 20.
    #[garde(length(max = 20), inner(length(chars, min = 1, max = 64)))]
    #[schema(schema_with = categories_schema)]
    #[serde(default)]
    categories: Vec<String>,
    /// Image URLs (absolute), up to 20.
    #[garde(length(max = 20), inner(url))]
    #[schema(schema_with = image_urls_schema)]
    #[serde(default)]
    image_urls: Vec<String>,
    /// Whether it can be ordered (default true).
    #[garde(skip)]
    #[serde(default = "yes")]
    active: bool,
    /// Technical specifications, up to 50 (a key given twice keeps its last value).
    #[garde(length(max = MAX_SPECIFICATIONS), dive)]
    #[schema(max_items = 50)]
    #[serde(default)]
    specifications: Vec<SpecificationBody>,
}

fn yes() -> bool {
    true
}

impl ProductBody {
    /// The product as the catalog keeps it; a category named twice is one category.
    fn spec(self) -> Result<ProductSpec, ApiError> {
        let mut categories = self.categories;
        let mut seen = std::collections::HashSet::new();
        categories.retain(|slug| seen.insert(slug.clone()));
        let specifications = specs::specifications(self.specifications);
        Ok(ProductSpec {
            specifications,
            price: self.price.money()?,
            sku: self.sku,
            name: self.name,
            description: self.description,
            categories,
            image_urls: self.image_urls,
            active: self.active,
        })
    }
}

/// Creates a product (admin).
#[utoipa::path(
    post, path = "/products", operation_id = "createProduct", tag = "catalog",
    request_body = ProductBody,
    responses(
        (status = 201, description = "The product.", body = Product),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ValidJson(body): ValidJson<ProductBody>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let product = catalog::create_product(&state.db, body.spec()?, &caller.email)
        .await
        .map_err(from_catalog)?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Replaces a product's details, price included (admin).
#[utoipa::path(
    put, path = "/products/{id}", operation_id = "updateProduct", tag = "catalog",
    params(("id" = Uuid, Path, description = "The product's id.")),
    request_body = ProductBody,
    responses(
        (status = 200, description = "The product as it is now; the next order pays the new price.", body = Product),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ProductBody>,
) -> Result<Json<Product>, ApiError> {
    let id = parse_product_id(&id)?;
    catalog::update_product(&state.db, id, body.spec()?, &caller.email)
        .await
        .map_err(from_catalog)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no product with id {id}")))
}

/// Deletes a product (admin): it is gone from the catalog and its SKU is free again; orders
/// keep their own copy of its lines and the audit log what it was. To stop selling a product
/// but keep it, `PUT` it with `active: false`.
#[utoipa::path(
    delete, path = "/products/{id}", operation_id = "deleteProduct", tag = "catalog",
    params(("id" = Uuid, Path, description = "The product's id.")),
    responses(
        (status = 204, description = "The product is deleted."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_product_id(&id)?;
    if catalog::delete_product(&state.db, id, &caller.email)
        .await
        .map_err(from_catalog)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no product with id {id}")))
    }
}

/// Every category.
#[utoipa::path(
    get, path = "/categories", operation_id = "listCategories", tag = "catalog",
    responses((status = 200, description = "Every category, by slug.", body = Vec<Category>)),
)]
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
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryBody {
    /// 1 to 64 lower-case letters, digits and `-`.
    #[garde(custom(slug_format))]
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{0,63}$")]
    slug: String,
    /// Display name, 1 to 100 characters.
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// Creates or renames a category (admin).
#[utoipa::path(
    post, path = "/categories", operation_id = "upsertCategory", tag = "catalog",
    request_body = CategoryBody,
    responses(
        (status = 201, description = "The category.", body = Category),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_category(
    State(state): State<AppState>,
    _: Admin,
    ValidJson(body): ValidJson<CategoryBody>,
) -> Result<(StatusCode, Json<Category>), ApiError> {
    let category = catalog::upsert_category(&state.db, &body.slug, &body.name)
        .await
        .map_err(from_catalog)?;
    Ok((StatusCode::CREATED, Json(category)))
}

/// `POST /coupons` takes exactly one of `percent_off` and `amount_off`.
pub(crate) fn coupon_rule() -> CrossFieldRule {
    exactly_one_of(
        "NewCouponBody",
        &[("percent_off", Type::Integer), ("amount_off", Type::Object)],
    )
}

/// The body of `POST /coupons`: exactly one of `percent_off` and `amount_off`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCouponBody {
    /// 3 to 32 upper-case letters, digits and `-`, not starting with `-`.
    #[garde(pattern(r"^[A-Z0-9][A-Z0-9-]{2,31}$"))]
    #[schema(pattern = r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
    code: String,
    /// A percentage off the subtotal, 1 to 100.
    #[garde(inner(range(min = 1, max = 100)))]
    #[schema(minimum = 1, maximum = 100)]
    percent_off: Option<u32>,
    /// A fixed amount off (never more than the subtotal).
    #[garde(dive)]
    amount_off: Option<AmountOffBody>,
    /// When it stops working (RFC 3339).
    #[garde(skip)]
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// Creates or replaces a coupon (admin).
#[utoipa::path(
    post, path = "/coupons", operation_id = "upsertCoupon", tag = "catalog",
    request_body = NewCouponBody,
    responses(
        (status = 201, description = "The coupon can be applied to carts until it expires."),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_coupon(
    State(state): State<AppState>,
    _: Admin,
    ValidJson(body): ValidJson<NewCouponBody>,
) -> Result<StatusCode, ApiError> {
    let discount = match (body.percent_off, &body.amount_off) {
        (Some(percent), None) => Discount::Percent(percent),
        (None, Some(amount)) => Discount::Fixed(amount.money()?),
        _ => {
            return Err(ApiError::invalid_field(
                ErrorCode::ValidationFailed,
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

/// What `GET /inventory/check/{product_id}` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Availability {
    /// The product.
    product_id: Uuid,
    /// Its SKU.
    sku: String,
    /// Units that can be ordered now (on hand less reserved).
    available: i64,
    /// `available > 0`.
    in_stock: bool,
}

/// How many units of a product can be ordered now.
#[utoipa::path(
    get, path = "/inventory/check/{product_id}", operation_id = "checkAvailability", tag = "catalog",
    params(("product_id" = Uuid, Path, description = "The product's id.")),
    responses(
        (status = 200, description = "Its availability.", body = Availability),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
)]
#[tracing::instrument(skip_all, fields(product.id = %product_id))]
pub(crate) async fn check(
    State(state): State<AppState>,
    Path(product_id): Path<String>,
) -> Result<Json<Availability>, ApiError> {
    let id = Uuid::parse_str(&product_id)
        .map_err(|_| ApiError::invalid_path("product_id", "must be a UUID"))?;
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
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdjustmentBody {
    /// Which product.
    #[garde(custom(sku_format))]
    #[schema(pattern = r"^[A-Z0-9][A-Z0-9-]{0,63}$")]
    sku: String,
    /// Units to add (positive) or remove (negative), not 0.
    #[garde(range(min = -MAX_DELTA, max = MAX_DELTA), custom(non_zero))]
    #[schema(schema_with = delta_schema)]
    delta: i64,
    /// Why (kept in the adjustment log), 1 to 500 characters.
    #[garde(length(chars, min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// The largest change one adjustment makes, either way.
const MAX_DELTA: i64 = 1_000_000;

/// `delta`'s rules for the document: -1,000,000 to -1 or 1 to 1,000,000.
fn delta_schema() -> utoipa::openapi::Schema {
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(min))
            .maximum(Some(max))
    };
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(range(-MAX_DELTA, -1))
        .item(range(1, MAX_DELTA))
        .description(Some("Units to add (positive) or remove (negative), not 0."))
        .build()
        .into()
}

fn non_zero(delta: &i64, _: &()) -> garde::Result {
    if *delta == 0 {
        Err(garde::Error::new("must not be 0"))
    } else {
        Ok(())
    }
}

/// How long `POST /inventory/adjustments` waits for the inventory service.
const ADJUSTMENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Changes a SKU's stock (admin); refused below what is reserved. The inventory service
/// applies it (the `AdjustStock` workflow); the API waits for its answer.
#[utoipa::path(
    post, path = "/inventory/adjustments", operation_id = "adjustStock", tag = "catalog",
    request_body = AdjustmentBody,
    responses(
        (status = 200, description = "The SKU's stock after the adjustment.", body = StockLevel),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(sku = %body.sku))]
pub(crate) async fn adjust(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ValidJson(body): ValidJson<AdjustmentBody>,
) -> Result<Json<StockLevel>, ApiError> {
    let adjustment_id = contracts::Uuid::now_v7();
    let workflow_id = stock_adjustment_workflow_id(adjustment_id);
    let request = AdjustStock {
        adjustment_id,
        sku: Sku(body.sku.clone()),
        delta: body.delta,
        reason: body.reason,
        actor: caller.email,
    };
    let options =
        WorkflowStartOptions::new(state.queues.of(Service::Inventory), workflow_id.clone()).build();
    let handle = state
        .temporal
        .start_workflow(AdjustStockWorkflow::run, request, options)
        .await
        .map_err(ApiError::unavailable)?;
    let outcome = tokio::time::timeout(ADJUSTMENT_WAIT, handle.get_result(Default::default()))
        .await
        .map_err(|_| {
            ApiError::not_ready(format!(
                "the inventory service did not answer in time; adjustment {workflow_id} \
                 applies when it does (see the workflow in the Temporal Web UI)"
            ))
        })?
        .map_err(ApiError::unavailable)?;
    match outcome {
        StockAdjustment::Adjusted { on_hand, reserved } => Ok(Json(StockLevel {
            sku: body.sku,
            on_hand,
            reserved,
            available: on_hand - reserved,
        })),
        StockAdjustment::BelowReserved { on_hand, reserved } => Err(ApiError::conflict(
            ErrorCode::BelowReserved,
            format!(
                "{} has {on_hand} on hand and {reserved} reserved: cannot change it by {}",
                body.sku, body.delta
            ),
        )
        .with_field("delta", "too low")),
    }
}
