//! `GET /products`: the catalog with what is in stock.

use crate::{ApiError, AppState};
use activities::catalog;
use activities::inventory::queries::stock_levels;
use axum::Json;
use axum::extract::State;
use contracts::Money;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// A product as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ProductResponse {
    id: Uuid,
    sku: String,
    name: String,
    description: String,
    price: Money,
    /// Units that can be ordered now.
    available: i64,
}

/// Every active product with its price and available stock.
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<ProductResponse>>, ApiError> {
    let products = catalog::list_products(&state.db)
        .await
        .map_err(|err| match err {
            catalog::CatalogError::Db(db) => ApiError::from(db),
            other => ApiError::internal(other),
        })?;
    let available: HashMap<String, i64> =
        stock_levels(&state.db, products.iter().map(|p| p.sku.0.clone()))
            .await?
            .into_iter()
            .map(|level| (level.sku, level.available))
            .collect();
    Ok(Json(
        products
            .into_iter()
            .map(|product| ProductResponse {
                available: available.get(product.sku.as_str()).copied().unwrap_or(0),
                id: product.id,
                sku: product.sku.0,
                name: product.name,
                description: product.description,
                price: product.price,
            })
            .collect(),
    ))
}
