//! One schema per service.

use crate::{SCHEMAS, run_sql};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for schema in SCHEMAS {
            run_sql(manager, &format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for schema in SCHEMAS.iter().rev() {
            run_sql(manager, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await?;
        }
        Ok(())
    }
}
