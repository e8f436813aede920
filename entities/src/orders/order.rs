//! `orders.orders`: one row per order, with its current status.

use sea_orm::entity::prelude::*;

/// An order and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "orders", table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub customer_email: String,
    pub status: String,
    pub reason: Option<String>,
    pub total_minor: i64,
    pub currency: String,
    pub customer_phone: Option<String>,
    /// The shipping address as JSON (`contracts::shipping::Address`).
    pub shipping_address: Option<Json>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::order_line::Entity")]
    Lines,
    #[sea_orm(has_many = "super::status_history::Entity")]
    History,
}

impl Related<super::order_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Lines.def()
    }
}

impl Related<super::status_history::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::History.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
