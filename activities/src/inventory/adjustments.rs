//! Stock adjustments: an admin's correction or a supplier's delivery, applied by the inventory
//! service itself (the activity `AdjustStock`, run by the `AdjustStock` workflow the API
//! starts), since no other service's database role may write the inventory's tables.

use super::{InventoryActivities, InventoryError, stmt};
use contracts::inventory::{AdjustStock, StockAdjustment};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, TransactionTrait};

impl InventoryActivities {
    /// Changes a SKU's units on hand by the request's delta (a new SKU starts at 0), never
    /// below what is reserved; records who did it and why, in the adjustment log and the audit
    /// log. Applying the same adjustment id again changes nothing and answers the stock as it
    /// stands.
    pub async fn adjust(&self, request: &AdjustStock) -> Result<StockAdjustment, InventoryError> {
        let sku = request.sku.as_str();
        let txn = self.db.begin().await?;
        txn.execute(stmt(
            "INSERT INTO inventory.stock (sku, on_hand, reserved) VALUES ($1, 0, 0)
             ON CONFLICT DO NOTHING",
            [sku.into()],
        ))
        .await?;
        let (on_hand, reserved) = locked_level(&txn, sku).await?;
        let recorded = txn
            .execute(stmt(
                "INSERT INTO inventory.adjustments (adjustment_id, sku, delta, reason, actor)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (adjustment_id) DO NOTHING",
                [
                    request.adjustment_id.into(),
                    sku.into(),
                    request.delta.into(),
                    request.reason.as_str().into(),
                    request.actor.as_str().into(),
                ],
            ))
            .await?
            .rows_affected();
        if recorded == 0 {
            txn.rollback().await?;
            return Ok(StockAdjustment::Adjusted { on_hand, reserved });
        }
        let after = on_hand + request.delta;
        if after < reserved || after < 0 {
            txn.rollback().await?;
            return Ok(StockAdjustment::BelowReserved { on_hand, reserved });
        }
        txn.execute(stmt(
            "UPDATE inventory.stock SET on_hand = $2, updated_at = now() WHERE sku = $1",
            [sku.into(), after.into()],
        ))
        .await?;
        crate::audit::record(
            &txn,
            crate::audit::Entry {
                actor: crate::audit::actor(&request.actor),
                action: "stock.adjusted",
                subject: format!("stock:{sku}"),
                order_id: None,
                before: Some(serde_json::json!({"on_hand": on_hand, "reserved": reserved})),
                after: Some(serde_json::json!({
                    "on_hand": after, "reserved": reserved,
                    "delta": request.delta, "reason": request.reason,
                })),
            },
        )
        .await?;
        txn.commit().await?;
        tracing::info!(sku, delta = request.delta, actor = %request.actor, "stock adjusted");
        Ok(StockAdjustment::Adjusted {
            on_hand: after,
            reserved,
        })
    }
}

/// A SKU's units on hand and reserved, its row locked until the transaction ends.
async fn locked_level(txn: &DatabaseTransaction, sku: &str) -> Result<(i64, i64), DbErr> {
    let row = txn
        .query_one(stmt(
            "SELECT on_hand, reserved FROM inventory.stock WHERE sku = $1 FOR UPDATE",
            [sku.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("stock of {sku}, just written")))?;
    Ok((row.try_get("", "on_hand")?, row.try_get("", "reserved")?))
}
