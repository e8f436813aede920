//! The inventory service's reads, for the API, and its seeding (as the schemas' owner).

use contracts::OrderId;
use entities::inventory::{reservation, stock};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

/// The Postgres channel each committed change of a SKU's level is announced on (payload:
/// `{"sku": …, "available": …}`), as migration 17's trigger names it.
pub const STOCK_CHANNEL: &str = "emporium_stock";

/// A stock level as announced on [`STOCK_CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct StockNews {
    /// The SKU.
    pub sku: String,
    /// Units that can be sold now.
    pub available: i64,
}

/// Stock of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockLevel {
    /// Which product.
    pub sku: String,
    /// Units in the warehouse.
    pub on_hand: i64,
    /// Units held by reservations.
    pub reserved: i64,
    /// Units that can still be sold.
    pub available: i64,
}

impl From<stock::Model> for StockLevel {
    fn from(row: stock::Model) -> Self {
        Self {
            available: row.on_hand - row.reserved,
            sku: row.sku,
            on_hand: row.on_hand,
            reserved: row.reserved,
        }
    }
}

/// Stock levels of the given SKUs (SKUs without stock are absent).
pub async fn stock_levels(
    db: &DatabaseConnection,
    skus: impl IntoIterator<Item = String>,
) -> Result<Vec<StockLevel>, DbErr> {
    Ok(stock::Entity::find()
        .filter(stock::Column::Sku.is_in(skus))
        .order_by_asc(stock::Column::Sku)
        .all(db)
        .await?
        .into_iter()
        .map(StockLevel::from)
        .collect())
}

/// Stock level of one SKU.
pub async fn stock_level(db: &DatabaseConnection, sku: &str) -> Result<Option<StockLevel>, DbErr> {
    Ok(stock::Entity::find_by_id(sku.to_owned())
        .one(db)
        .await?
        .map(StockLevel::from))
}

/// Creates stock for a SKU with `on_hand` units, leaving an existing SKU untouched. Returns
/// whether it was created.
pub async fn create_stock(db: &DatabaseConnection, sku: &str, on_hand: i64) -> Result<bool, DbErr> {
    let row = stock::ActiveModel {
        sku: Set(sku.to_owned()),
        on_hand: Set(on_hand),
        reserved: Set(0),
        updated_at: Set(chrono::Utc::now().into()),
    };
    let inserted = stock::Entity::insert(row)
        .on_conflict(
            OnConflict::column(stock::Column::Sku)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// A reservation line as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReservationRow {
    /// Which product.
    pub sku: String,
    /// How many units.
    pub quantity: i64,
    /// `held`, `allocated`, `committed` or `released`.
    pub status: String,
}

/// The reservation lines of an order.
pub async fn reservations_of(
    db: &DatabaseConnection,
    order_id: OrderId,
) -> Result<Vec<ReservationRow>, DbErr> {
    Ok(reservation::Entity::find()
        .filter(reservation::Column::OrderId.eq(order_id.0))
        .order_by_asc(reservation::Column::Sku)
        .all(db)
        .await?
        .into_iter()
        .map(|row| ReservationRow {
            sku: row.sku,
            quantity: row.quantity,
            status: row.status,
        })
        .collect())
}
