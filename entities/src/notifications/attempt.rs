//! `notifications.attempts`: every attempt to deliver a notification, successful or not.

use sea_orm::entity::prelude::*;

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "notifications", table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub notification_id: String,
    pub channel: String,
    pub attempt: i32,
    pub succeeded: bool,
    pub error: Option<String>,
    pub attempted_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
