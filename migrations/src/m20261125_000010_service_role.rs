//! The database role the services work as: `emporium_service`.
//!
//! Migrations run as the owner of the schemas (the `DATABASE_URL` user). The API and the
//! workers do not: every connection they open assumes `emporium_service` (see
//! `platform::db::connect_as_service`), which may read and write the services' tables but
//! cannot change their shape, and may only read and append to `audit.events`, never update,
//! delete or truncate it, nor disable the trigger that forbids it (only the owner can).
//!
//! The role is cluster-wide (created once, `NOLOGIN`); deployments log in as a member of it or
//! as the owner, and the services switch to it when they connect. Tables created by later
//! migrations get the same privileges through `ALTER DEFAULT PRIVILEGES`.

use crate::{SCHEMAS, run_sql};
use sea_orm_migration::prelude::*;

/// The role the services' connections assume.
pub const SERVICE_ROLE: &str = "emporium_service";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Several databases of one cluster (tests make one each) may migrate at once: the
        // second CREATE ROLE then fails with duplicate_object or unique_violation.
        run_sql(
            manager,
            &format!(
                "DO $$
                 BEGIN
                     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
                         CREATE ROLE {SERVICE_ROLE} NOLOGIN;
                     END IF;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END $$;
                 DO $$
                 BEGIN
                     -- A non-superuser owner must be a member to switch to the role.
                     IF NOT pg_has_role(current_user, '{SERVICE_ROLE}', 'MEMBER') THEN
                         EXECUTE format('GRANT {SERVICE_ROLE} TO %I', current_user);
                     END IF;
                 EXCEPTION WHEN unique_violation THEN NULL;
                 END $$;"
            ),
        )
        .await?;
        for schema in SCHEMAS {
            let tables = match schema {
                "audit" => "SELECT, INSERT",
                "reporting" => "SELECT",
                _ => "SELECT, INSERT, UPDATE, DELETE",
            };
            run_sql(
                manager,
                &format!(
                    "GRANT USAGE ON SCHEMA {schema} TO {SERVICE_ROLE};
                     GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {SERVICE_ROLE};
                     GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {SERVICE_ROLE};
                     ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                         GRANT {tables} ON TABLES TO {SERVICE_ROLE};
                     ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                         GRANT USAGE, SELECT ON SEQUENCES TO {SERVICE_ROLE};"
                ),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for schema in SCHEMAS {
            run_sql(
                manager,
                &format!(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                         REVOKE ALL ON TABLES FROM {SERVICE_ROLE};
                     ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                         REVOKE ALL ON SEQUENCES FROM {SERVICE_ROLE};
                     REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {SERVICE_ROLE};
                     REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {SERVICE_ROLE};
                     REVOKE USAGE ON SCHEMA {schema} FROM {SERVICE_ROLE};"
                ),
            )
            .await?;
        }
        // The role itself stays: other databases of the cluster may use it.
        Ok(())
    }
}
