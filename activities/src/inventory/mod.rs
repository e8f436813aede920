//! The inventory service (schema `inventory`): stock levels and reservations.
//!
//! Stock is never oversold: a reservation increments `reserved` with a conditional update
//! (`on_hand - reserved >= quantity`) that Postgres re-checks under the row lock, so concurrent
//! orders for the last units serialise on the stock row and only those that fit succeed; the
//! table's checks refuse a negative or over-reserved row whatever the code does.
//!
//! Reservations are keyed by `(order_id, sku)` and every operation is idempotent: reserving an
//! order twice returns the first reservation, releasing or committing twice changes nothing.
//! Attempts for the same order are serialised with a transaction-scoped advisory lock, so a
//! retry overlapping a slow earlier attempt cannot double-count.

mod adjustments;
pub mod queries;

use crate::failure::{IntoActivityError, non_retryable, refusal, retryable};
use contracts::inventory::{
    AdjustStock, OUT_OF_STOCK, OutOfStock, RESERVATION_LOST, Reservation, ReservationStatus,
    ReserveStock, Restock, StockAdjustment, StockLine,
};
use contracts::{OrderId, Sku};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait, Value,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Why an inventory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Not enough stock for a line: a business refusal.
    #[error("not enough stock of {}: {} requested, {} available", .0.sku, .0.requested, .0.available)]
    OutOfStock(OutOfStock),
    /// The order's hold expired, was reclaimed, and the stock is gone.
    #[error("the reservation of order {0} expired and its stock was sold")]
    ReservationLost(OrderId),
    /// A stored row holds a value no version of this code writes.
    #[error("inventory data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("inventory database error: {0}")]
    Db(#[from] DbErr),
}

impl IntoActivityError for InventoryError {
    fn into_activity_error(self) -> ActivityError {
        let err = self;
        match err {
            InventoryError::OutOfStock(details) => {
                let message = InventoryError::OutOfStock(details.clone()).to_string();
                refusal(OUT_OF_STOCK, message, details)
            }
            InventoryError::ReservationLost(_) => non_retryable(RESERVATION_LOST, err.to_string()),
            // Retrying cannot repair stored data; an operator must.
            InventoryError::Corrupt(_) => non_retryable(INVENTORY_CORRUPT, err.to_string()),
            InventoryError::Db(err) => retryable(err),
        }
    }
}

/// Application-failure type of stored inventory data no code writes. Non-retryable.
pub const INVENTORY_CORRUPT: &str = "InventoryDataCorrupt";

/// Reservations refused for want of stock, by SKU.
const STOCK_OUTS_TOTAL: &str = "emporium_stock_outs_total";

/// The inventory service's activities.
pub struct InventoryActivities {
    db: DatabaseConnection,
    reservation_ttl: Duration,
}

#[activities]
impl InventoryActivities {
    #[activity(definition = contracts::inventory::activities::ReserveStock)]
    #[tracing::instrument(skip_all, fields(order.id = %request.order_id))]
    pub async fn reserve_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ReserveStock,
    ) -> Result<Reservation, ActivityError> {
        self.reserve(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::inventory::activities::ReleaseStock)]
    #[tracing::instrument(skip_all, fields(order.id = %order_id))]
    pub async fn release_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_id: OrderId,
    ) -> Result<(), ActivityError> {
        self.release(order_id)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::inventory::activities::Restock)]
    #[tracing::instrument(skip_all, fields(refund.id = %request.refund_id))]
    pub async fn restock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: Restock,
    ) -> Result<(), ActivityError> {
        self.put_back(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::inventory::activities::AdjustStock)]
    #[tracing::instrument(skip_all, fields(sku = %request.sku, adjustment.id = %request.adjustment_id))]
    pub async fn adjust_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: AdjustStock,
    ) -> Result<StockAdjustment, ActivityError> {
        self.adjust(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::inventory::activities::AllocateStock)]
    #[tracing::instrument(skip_all, fields(order.id = %order_id))]
    pub async fn allocate_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_id: OrderId,
    ) -> Result<(), ActivityError> {
        self.allocate(order_id)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::inventory::activities::CommitStock)]
    #[tracing::instrument(skip_all, fields(order.id = %order_id))]
    pub async fn commit_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_id: OrderId,
    ) -> Result<(), ActivityError> {
        self.commit(order_id)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }
}

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// What moving a reservation line from `from` to `to` does to its stock row: `None` when the
/// line is already there (or beyond), `Some(None)` when only the line's status changes, and
/// `Some(Some(sql))` for the stock update (`$1` the SKU, `$2` the quantity) that must change
/// exactly one row, or the stock is gone.
fn stock_change(from: ReservationStatus, to: ReservationStatus) -> Option<Option<&'static str>> {
    use ReservationStatus::{Allocated, Committed, Held, Released};
    match (from, to) {
        (Held, Allocated) => Some(None),
        (Held | Allocated, Committed) => Some(Some(
            "UPDATE inventory.stock
                SET reserved = reserved - $2, on_hand = on_hand - $2, updated_at = now()
              WHERE sku = $1",
        )),
        // Reclaimed by the expiry sweep while the order went on: take it again if we can.
        (Released, Allocated) => Some(Some(
            "UPDATE inventory.stock SET reserved = reserved + $2, updated_at = now()
              WHERE sku = $1 AND on_hand - reserved >= $2",
        )),
        (Released, Committed) => Some(Some(
            "UPDATE inventory.stock SET on_hand = on_hand - $2, updated_at = now()
              WHERE sku = $1 AND on_hand - reserved >= $2",
        )),
        _ => None,
    }
}

/// Serialises every inventory transaction of one order.
async fn lock_order(txn: &DatabaseTransaction, order_id: OrderId) -> Result<(), DbErr> {
    txn.execute(stmt(
        "SELECT pg_advisory_xact_lock(hashtextextended('inventory:' || $1::text, 0))",
        [order_id.0.into()],
    ))
    .await?;
    Ok(())
}

impl InventoryActivities {
    /// Inventory activities on this database; reservations hold stock for `reservation_ttl`.
    pub fn new(db: DatabaseConnection, reservation_ttl: Duration) -> Self {
        Self {
            db,
            reservation_ttl,
        }
    }

    /// Holds stock for every line or for none. A refusal counts as a stock-out of the first
    /// SKU short (`emporium_stock_outs_total{sku}`). Reserving the same order again returns what
    /// the first call reserved.
    pub async fn reserve(&self, request: &ReserveStock) -> Result<Reservation, InventoryError> {
        let order_id = request.order_id;
        // One row per SKU, locked in SKU order so concurrent orders cannot deadlock.
        let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
        for line in &request.lines {
            *wanted.entry(line.sku.as_str()).or_default() += i64::from(line.quantity);
        }

        let txn = self.db.begin().await?;
        lock_order(&txn, order_id).await?;
        let existing = reservation_lines(&txn, order_id).await?;
        if !existing.is_empty() {
            tracing::info!("order already holds a reservation; returning it");
            txn.commit().await?;
            return Ok(Reservation {
                order_id,
                lines: existing,
            });
        }

        for (&sku, &quantity) in &wanted {
            if let Some(short) = self.hold(&txn, order_id, sku, quantity).await? {
                txn.rollback().await?;
                tracing::info!(
                    sku,
                    quantity,
                    available = short.available,
                    "reservation refused: out of stock"
                );
                metrics::counter!(STOCK_OUTS_TOTAL, "sku" => sku.to_owned()).increment(1);
                return Err(InventoryError::OutOfStock(short));
            }
        }
        txn.commit().await?;
        tracing::info!(lines = wanted.len(), "stock reserved");
        Ok(Reservation {
            order_id,
            lines: wanted
                .into_iter()
                .map(|(sku, quantity)| StockLine {
                    sku: Sku::from(sku),
                    quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
                })
                .collect(),
        })
    }

    /// Holds `quantity` of `sku` for the order if that much is free: `None`, or what is short.
    async fn hold(
        &self,
        txn: &DatabaseTransaction,
        order_id: OrderId,
        sku: &str,
        quantity: i64,
    ) -> Result<Option<OutOfStock>, InventoryError> {
        let held = txn
            .execute(stmt(
                "UPDATE inventory.stock
                    SET reserved = reserved + $2, updated_at = now()
                  WHERE sku = $1 AND on_hand - reserved >= $2",
                [sku.into(), quantity.into()],
            ))
            .await?
            .rows_affected();
        if held == 0 {
            let available = txn
                .query_one(stmt(
                    "SELECT on_hand - reserved AS available FROM inventory.stock WHERE sku = $1",
                    [sku.into()],
                ))
                .await?
                .map(|row| row.try_get::<i64>("", "available"))
                .transpose()?
                .unwrap_or(0);
            return Ok(Some(OutOfStock {
                sku: Sku::from(sku),
                requested: u32::try_from(quantity).unwrap_or(u32::MAX),
                available,
            }));
        }
        txn.execute(stmt(
            "INSERT INTO inventory.reservations (order_id, sku, quantity, status, expires_at)
             VALUES ($1, $2, $3, $5, now() + make_interval(secs => $4))",
            [
                order_id.0.into(),
                sku.into(),
                quantity.into(),
                (self.reservation_ttl.as_secs_f64()).into(),
                ReservationStatus::Held.as_str().into(),
            ],
        ))
        .await?;
        Ok(None)
    }

    /// Gives back everything still held or allocated for the order. A no-op when nothing is.
    pub async fn release(&self, order_id: OrderId) -> Result<(), InventoryError> {
        let released = self
            .settle(
                order_id,
                // Every status that holds stock ([`ReservationStatus::holds_stock`]).
                "WITH released AS (
                    UPDATE inventory.reservations
                       SET status = $2, updated_at = now()
                     WHERE order_id = $1 AND status IN ($3, $4)
                 RETURNING sku, quantity)
                 UPDATE inventory.stock s
                    SET reserved = s.reserved - r.quantity, updated_at = now()
                   FROM released r
                  WHERE s.sku = r.sku",
            )
            .await?;
        tracing::info!(skus = released, "reservation released");
        Ok(())
    }

    /// Allocates what is held for the order to it (the order is confirmed): no expiry from
    /// now on. Idempotent. A hold the sweep already reclaimed is taken again if the stock is
    /// still free; otherwise [`InventoryError::ReservationLost`].
    pub async fn allocate(&self, order_id: OrderId) -> Result<(), InventoryError> {
        self.settle_lines(order_id, ReservationStatus::Allocated)
            .await?;
        tracing::info!("stock allocated to the confirmed order");
        Ok(())
    }

    /// Turns what is held or allocated for the order into a sale; idempotent. If the hold
    /// expired and was reclaimed, takes the stock again when it is still there, and fails with
    /// [`InventoryError::ReservationLost`] when it is not.
    pub async fn commit(&self, order_id: OrderId) -> Result<(), InventoryError> {
        self.settle_lines(order_id, ReservationStatus::Committed)
            .await?;
        tracing::info!("reservation committed");
        Ok(())
    }

    /// Moves every reservation line of the order forward to `target` (`allocated` or
    /// `committed`) in one transaction, adjusting the stock row as each move requires.
    async fn settle_lines(
        &self,
        order_id: OrderId,
        target: ReservationStatus,
    ) -> Result<(), InventoryError> {
        let txn = self.db.begin().await?;
        lock_order(&txn, order_id).await?;
        let rows = txn
            .query_all(stmt(
                "SELECT sku, quantity, status FROM inventory.reservations
                  WHERE order_id = $1 ORDER BY sku",
                [order_id.0.into()],
            ))
            .await?;
        if rows.is_empty() {
            txn.rollback().await?;
            return Err(InventoryError::ReservationLost(order_id));
        }
        for row in rows {
            let sku: String = row.try_get("", "sku")?;
            let quantity: i64 = row.try_get("", "quantity")?;
            let status: ReservationStatus = row
                .try_get::<String>("", "status")?
                .parse()
                .map_err(|e: String| InventoryError::Corrupt(e))?;
            let Some(change) = stock_change(status, target) else {
                continue;
            };
            if status == ReservationStatus::Released {
                tracing::warn!(%sku, "the hold had expired; taking the stock again");
            }
            let taken = match change {
                Some(sql) => txn
                    .execute(stmt(sql, [sku.clone().into(), quantity.into()]))
                    .await?
                    .rows_affected(),
                None => 1,
            };
            if taken == 0 {
                txn.rollback().await?;
                return Err(InventoryError::ReservationLost(order_id));
            }
            txn.execute(stmt(
                "UPDATE inventory.reservations
                    SET status = $3, expires_at = NULL, updated_at = now()
                  WHERE order_id = $1 AND sku = $2",
                [order_id.0.into(), sku.into(), target.as_str().into()],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Puts returned goods back on the shelf, once per refund: a line already restocked for
    /// this refund is skipped.
    pub async fn put_back(&self, request: &Restock) -> Result<(), InventoryError> {
        let txn = self.db.begin().await?;
        let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
        for line in &request.lines {
            *wanted.entry(line.sku.as_str()).or_default() += i64::from(line.quantity);
        }
        for (sku, quantity) in wanted {
            let recorded = txn
                .execute(stmt(
                    "INSERT INTO inventory.restocks (refund_id, sku, quantity)
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    [request.refund_id.into(), sku.into(), quantity.into()],
                ))
                .await?
                .rows_affected();
            if recorded == 1 {
                txn.execute(stmt(
                    "UPDATE inventory.stock SET on_hand = on_hand + $2, updated_at = now()
                      WHERE sku = $1",
                    [sku.into(), quantity.into()],
                ))
                .await?;
            }
        }
        txn.commit().await?;
        tracing::info!("returned goods restocked");
        Ok(())
    }

    /// Releases every hold whose expiry has passed, giving its stock back. Returns how many
    /// reservation lines were released. Run periodically by the inventory worker. Allocated
    /// stock (confirmed orders) has no expiry and is never touched.
    pub async fn release_expired(&self) -> Result<u64, InventoryError> {
        let row = self
            .db
            .query_one(stmt(
                "WITH expired AS (
                    UPDATE inventory.reservations
                       SET status = $1, updated_at = now()
                     WHERE status = $2 AND expires_at < now()
                 RETURNING sku, quantity),
                 per_sku AS (
                    SELECT sku, sum(quantity) AS quantity FROM expired GROUP BY sku),
                 restocked AS (
                    UPDATE inventory.stock s
                       SET reserved = s.reserved - p.quantity, updated_at = now()
                      FROM per_sku p
                     WHERE s.sku = p.sku
                 RETURNING 1)
                 SELECT (SELECT count(*) FROM expired) AS released,
                        (SELECT count(*) FROM restocked) AS restocked",
                [
                    ReservationStatus::Released.as_str().into(),
                    ReservationStatus::Held.as_str().into(),
                ],
            ))
            .await?;
        let released = row
            .map(|r| r.try_get::<i64>("", "released"))
            .transpose()?
            .unwrap_or(0);
        if released > 0 {
            tracing::warn!(released, "expired reservations released");
        }
        Ok(u64::try_from(released).unwrap_or_default())
    }

    /// Runs `sql` on the order's reservations under the order's lock, with `$1` the order,
    /// `$2` `released` and `$3`… the statuses that hold stock.
    async fn settle(&self, order_id: OrderId, sql: &str) -> Result<u64, InventoryError> {
        let holding = ReservationStatus::ALL
            .into_iter()
            .filter(|status| status.holds_stock())
            .map(|status| Value::from(status.as_str()));
        let values = [
            order_id.0.into(),
            ReservationStatus::Released.as_str().into(),
        ]
        .into_iter()
        .chain(holding);
        let txn = self.db.begin().await?;
        lock_order(&txn, order_id).await?;
        let changed = txn.execute(stmt(sql, values)).await?.rows_affected();
        txn.commit().await?;
        Ok(changed)
    }
}

async fn reservation_lines(
    txn: &DatabaseTransaction,
    order_id: OrderId,
) -> Result<Vec<StockLine>, DbErr> {
    txn.query_all(stmt(
        "SELECT sku, quantity FROM inventory.reservations WHERE order_id = $1 ORDER BY sku",
        [order_id.0.into()],
    ))
    .await?
    .into_iter()
    .map(|row| {
        let quantity: i64 = row.try_get("", "quantity")?;
        Ok(StockLine {
            sku: Sku(row.try_get("", "sku")?),
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        })
    })
    .collect()
}
