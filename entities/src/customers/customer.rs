//! `customers.customers`: one account, with its argon2 password hash and role.

use sea_orm::entity::prelude::*;

/// A customer account (also operators and admins).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "customers", table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub password_hash: String,
    /// `customer`, `operator` or `admin`.
    pub role: String,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    /// Bumped when the password is reset or changed: tokens issued under an older version
    /// are refused.
    pub token_version: i32,
    /// Phone number (E.164).
    pub phone: Option<String>,
    /// Saved addresses, as a JSON array (at most 10).
    pub addresses: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
