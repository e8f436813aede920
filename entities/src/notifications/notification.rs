//! `notifications.notifications`: one row per notification, with how it ended.

use sea_orm::entity::prelude::*;

/// A notification.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "notifications", table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub template: String,
    pub customer_email: Option<String>,
    pub phone: Option<String>,
    pub order_id: Option<Uuid>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub channel: Option<String>,
    pub reference: Option<String>,
    pub subject: String,
    pub failure: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub sent_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
