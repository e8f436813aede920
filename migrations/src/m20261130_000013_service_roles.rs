//! One database role per service, and one for the API: each may write only what it owns.
//!
//! Until this migration every process worked as [`SERVICE_ROLE`], which could write every
//! service's tables, so a bug or an injection in one service could touch another's data. Now
//! each worker's connections assume its service's role ([`WORKER_ROLES`]) and the API's
//! assume [`API_ROLE`]:
//!
//! - a service's role reads and writes its own schema, and only appends to `audit.events`;
//! - the reporting service's role only reads its views;
//! - the API's role writes the schemas that have no worker (`catalog`, `customers`, and since
//!   migration 16 `support`: the API runs them) and only reads the rest; what it changes
//!   elsewhere goes through a workflow (stock adjustments: the `AdjustStock` workflow on the
//!   inventory queue, whose activity records each adjustment once by its new
//!   `adjustment_id`).
//!
//! [`SERVICE_ROLE`] stays, with no privileges of its own, as the group every role belongs to:
//! a login in it (`deploy/postgres/init.sql`) may assume any of them, as the owner may.

use crate::m20261125_000010_service_role::SERVICE_ROLE;
use crate::{SCHEMAS, run_sql};
use sea_orm_migration::prelude::*;

/// A role the API or a service's worker works as, and what it may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbRole {
    /// The Postgres role.
    pub name: &'static str,
    /// Schemas whose tables it reads and writes.
    pub writes: &'static [&'static str],
    /// Schemas whose tables and views it only reads.
    pub reads: &'static [&'static str],
}

/// The API's role.
pub const API_ROLE: DbRole = DbRole {
    name: "emporium_api",
    writes: &["catalog", "customers", "support"],
    reads: &[
        "inventory",
        "orders",
        "payments",
        "shipping",
        "notifications",
        "reporting",
        "audit",
    ],
};

/// The roles of the services that run workers, named `emporium_<service>`.
pub const WORKER_ROLES: [DbRole; 6] = [
    owner_of("emporium_orders", &["orders"]),
    owner_of("emporium_inventory", &["inventory"]),
    owner_of("emporium_payments", &["payments"]),
    owner_of("emporium_shipping", &["shipping"]),
    owner_of("emporium_notifications", &["notifications"]),
    DbRole {
        name: "emporium_reporting",
        writes: &[],
        reads: &["reporting"],
    },
];

const fn owner_of(name: &'static str, writes: &'static [&'static str]) -> DbRole {
    DbRole {
        name,
        writes,
        reads: &[],
    }
}

impl DbRole {
    /// Every role: the API's and the workers'.
    pub fn all() -> impl Iterator<Item = DbRole> {
        std::iter::once(API_ROLE).chain(WORKER_ROLES)
    }

    /// The grants that give this role exactly its rights (after everything was revoked).
    fn grants(self) -> String {
        let role = self.name;
        let mut sql = String::new();
        let mut grant = |schema: &str, tables: &str| {
            sql.push_str(&format!(
                "GRANT USAGE ON SCHEMA {schema} TO {role};
                 GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {role};
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {tables} ON TABLES TO {role};
                 GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                     GRANT USAGE, SELECT ON SEQUENCES TO {role};"
            ));
        };
        for schema in self.writes {
            grant(schema, "SELECT, INSERT, UPDATE, DELETE");
        }
        for schema in self.reads.iter().filter(|s| **s != "audit") {
            grant(schema, "SELECT");
        }
        // Everyone appends to the audit log; only the API reads it back (`GET /audit/logs`).
        let audit = if self.reads.contains(&"audit") {
            "SELECT, INSERT"
        } else {
            "INSERT"
        };
        grant("audit", audit);
        sql
    }
}

/// Creates `role` unless it exists (several test databases of one cluster may migrate at
/// once), and makes the migrating user and [`SERVICE_ROLE`] members of it.
fn create_role(role: &str) -> String {
    format!(
        "DO $$
         BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                 CREATE ROLE {role} NOLOGIN;
             END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$;
         DO $$
         BEGIN
             IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                 EXECUTE format('GRANT {role} TO %I', current_user);
             END IF;
             IF NOT pg_has_role('{SERVICE_ROLE}', '{role}', 'MEMBER') THEN
                 GRANT {role} TO {SERVICE_ROLE};
             END IF;
         EXCEPTION WHEN unique_violation THEN NULL;
         END $$;"
    )
}

/// Takes every right on the services' schemas away from `role`.
fn revoke_all(role: &str) -> String {
    SCHEMAS
        .iter()
        .map(|schema| {
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {role};
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {role};
                 REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role};
                 REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role};
                 REVOKE USAGE ON SCHEMA {schema} FROM {role};"
            )
        })
        .collect()
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(
            manager,
            "ALTER TABLE inventory.adjustments ADD COLUMN adjustment_id uuid UNIQUE",
        )
        .await?;
        for role in DbRole::all() {
            run_sql(manager, &create_role(role.name)).await?;
            run_sql(manager, &revoke_all(role.name)).await?;
            run_sql(manager, &role.grants()).await?;
        }
        run_sql(manager, &revoke_all(SERVICE_ROLE)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for role in DbRole::all() {
            run_sql(manager, &revoke_all(role.name)).await?;
        }
        run_sql(
            manager,
            "ALTER TABLE inventory.adjustments DROP COLUMN IF EXISTS adjustment_id",
        )
        .await?;
        // The shared role gets back what migration 10 gave it; the roles themselves stay
        // (other databases of the cluster may use them).
        super::m20261125_000010_service_role::Migration
            .up(manager)
            .await
    }
}
