//! `audit.events`: one critical action, who did it, when, and the state before and after.
//! Append-only: the database refuses updates and deletes.

use sea_orm::entity::prelude::*;

/// One audited action.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(schema_name = "audit", table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeWithTimeZone,
    /// Who: `admin@…`, `customer@…`, `workflow order-…`, `anonymous 10.0.0.1`.
    pub actor: String,
    /// What, as `<area>.<verb>`: `order.status_changed`, `auth.login_failed`, …
    pub action: String,
    /// On what: `order:<id>`, `product:<sku>`, `account:<email>`, …
    pub subject: String,
    /// The order it concerns, if any.
    pub order_id: Option<Uuid>,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
