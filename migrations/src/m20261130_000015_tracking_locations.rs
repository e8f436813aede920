//! Tracking events keep where the parcel was (`shipping.tracking_events.location`), when the
//! carrier said: a place name and, when known, coordinates (`contracts::shipping::Location`).
//! Events recorded before have none.

use crate::run_sql;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "ALTER TABLE shipping.tracking_events ADD COLUMN location jsonb",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "ALTER TABLE shipping.tracking_events DROP COLUMN IF EXISTS location",
        )
        .await
    }
}
