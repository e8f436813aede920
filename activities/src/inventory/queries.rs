//! The inventory service's own reads and admin writes, for the API and the seeders.

use contracts::OrderId;
use entities::inventory::{reservation, stock};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

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

/// Why a stock adjustment was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    /// The adjustment would leave fewer units than are held by reservations (or fewer than 0).
    #[error("{sku} has {on_hand} on hand and {reserved} reserved: cannot change it by {delta}")]
    BelowReserved {
        /// The SKU.
        sku: String,
        /// Units on hand.
        on_hand: i64,
        /// Units reserved.
        reserved: i64,
        /// The refused change.
        delta: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Changes a SKU's units on hand by `delta` (a new SKU starts at 0), never below what is
/// reserved, and records who did it and why.
pub async fn adjust_stock(
    db: &DatabaseConnection,
    sku: &str,
    delta: i64,
    reason: &str,
    actor: &str,
) -> Result<StockLevel, AdjustError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let stmt = |sql: &str, values: Vec<sea_orm::Value>| {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    };
    let txn = db.begin().await?;
    txn.execute(stmt(
        "INSERT INTO inventory.stock (sku, on_hand, reserved) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING",
        vec![sku.into()],
    ))
    .await?;
    let changed = txn
        .execute(stmt(
            "UPDATE inventory.stock SET on_hand = on_hand + $2, updated_at = now()
              WHERE sku = $1 AND on_hand + $2 >= reserved",
            vec![sku.into(), delta.into()],
        ))
        .await?
        .rows_affected();
    if changed == 0 {
        let level = stock::Entity::find_by_id(sku.to_owned()).one(&txn).await?;
        txn.rollback().await?;
        let (on_hand, reserved) = level.map_or((0, 0), |l| (l.on_hand, l.reserved));
        return Err(AdjustError::BelowReserved {
            sku: sku.to_owned(),
            on_hand,
            reserved,
            delta,
        });
    }
    txn.execute(stmt(
        "INSERT INTO inventory.adjustments (sku, delta, reason, actor) VALUES ($1, $2, $3, $4)",
        vec![sku.into(), delta.into(), reason.into(), actor.into()],
    ))
    .await?;
    let level = stock::Entity::find_by_id(sku.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("stock just written".to_owned()))?;
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor: crate::audit::actor(actor),
            action: "stock.adjusted",
            subject: format!("stock:{sku}"),
            order_id: None,
            before: Some(serde_json::json!({"on_hand": level.on_hand - delta, "reserved": level.reserved})),
            after: Some(serde_json::json!({"on_hand": level.on_hand, "reserved": level.reserved, "delta": delta, "reason": reason})),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(sku, delta, actor, "stock adjusted");
    Ok(StockLevel::from(level))
}
