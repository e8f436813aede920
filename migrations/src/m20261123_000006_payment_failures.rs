//! A payment the provider refused outright (not a decline: a request it will never accept) is
//! recorded as `failed`, so a retry finds the refusal instead of asking again.

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
            ALTER TABLE payments.payments DROP CONSTRAINT payments_status_check;
            ALTER TABLE payments.payments ADD CONSTRAINT payments_status_check
                CHECK (status IN ('pending', 'authorized', 'declined', 'failed', 'captured', 'voided'));
            ",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            r"
            UPDATE payments.payments SET status = 'declined' WHERE status = 'failed';
            ALTER TABLE payments.payments DROP CONSTRAINT payments_status_check;
            ALTER TABLE payments.payments ADD CONSTRAINT payments_status_check
                CHECK (status IN ('pending', 'authorized', 'declined', 'captured', 'voided'));
            ",
        )
        .await
    }
}
