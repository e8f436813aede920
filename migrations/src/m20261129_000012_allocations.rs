//! Stock follows the order, not a clock: a reservation can be `allocated`.
//!
//! A hold (`held`) expires, so the sweep can reclaim stock from an order that died before it
//! was confirmed. Once an order is confirmed its hold becomes `allocated`: no expiry, kept
//! until it is committed at pickup or released by a compensation. The checks say so, whatever
//! the code does: a held reservation has an expiry, an allocated one has none.
//!
//! Existing rows are migrated too (this runs as the owner, which may read every schema): the
//! holds of orders already confirmed and waiting for their carrier become allocations, and the
//! holds the sweep reclaimed from such orders are taken again where the stock is still free,
//! so that an order confirmed before this change cannot lose its units at pickup.

use crate::run_sql;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            ALTER TABLE inventory.reservations DROP CONSTRAINT reservations_status_check;
            ALTER TABLE inventory.reservations ADD CONSTRAINT reservations_status_check
                CHECK (status IN ('held', 'allocated', 'committed', 'released'));
            ALTER TABLE inventory.reservations ALTER COLUMN expires_at DROP NOT NULL;
            ALTER TABLE inventory.reservations ADD CONSTRAINT held_expires
                CHECK (status <> 'held' OR expires_at IS NOT NULL);
            ALTER TABLE inventory.reservations ADD CONSTRAINT allocated_never_expires
                CHECK (status <> 'allocated' OR expires_at IS NULL);

            -- Orders confirmed and waiting for their carrier: their holds become allocations.
            UPDATE inventory.reservations r
               SET status = 'allocated', expires_at = NULL, updated_at = now()
              FROM orders.orders o
             WHERE o.id = r.order_id AND r.status = 'held'
               AND o.status IN ('confirmed', 'label_created');

            -- Their holds that the sweep already reclaimed are taken again while the stock is
            -- free (line by line, oldest order first; a line that no longer fits stays
            -- released, and that order meets ReservationLost at pickup as before).
            DO $$
            DECLARE
                lost record;
            BEGIN
                FOR lost IN
                    SELECT r.order_id, r.sku, r.quantity
                      FROM inventory.reservations r JOIN orders.orders o ON o.id = r.order_id
                     WHERE r.status = 'released' AND o.status IN ('confirmed', 'label_created')
                     ORDER BY o.created_at, r.sku
                LOOP
                    UPDATE inventory.stock
                       SET reserved = reserved + lost.quantity, updated_at = now()
                     WHERE sku = lost.sku AND on_hand - reserved >= lost.quantity;
                    IF FOUND THEN
                        UPDATE inventory.reservations
                           SET status = 'allocated', expires_at = NULL, updated_at = now()
                         WHERE order_id = lost.order_id AND sku = lost.sku;
                    END IF;
                END LOOP;
            END $$;
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            UPDATE inventory.reservations
               SET status = 'held', expires_at = now() + interval '3 hours'
             WHERE status = 'allocated';
            ALTER TABLE inventory.reservations DROP CONSTRAINT allocated_never_expires;
            ALTER TABLE inventory.reservations DROP CONSTRAINT held_expires;
            UPDATE inventory.reservations SET expires_at = updated_at WHERE expires_at IS NULL;
            ALTER TABLE inventory.reservations ALTER COLUMN expires_at SET NOT NULL;
            ALTER TABLE inventory.reservations DROP CONSTRAINT reservations_status_check;
            ALTER TABLE inventory.reservations ADD CONSTRAINT reservations_status_check
                CHECK (status IN ('held', 'committed', 'released'));
            ",
        )
        .await
    }
}
