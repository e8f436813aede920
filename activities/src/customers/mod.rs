//! The customers service (schema `customers`): accounts, argon2 password hashes and roles.
//!
//! Emails are stored lower-case and unique. Passwords are hashed with argon2id ([`passwords`])
//! and checked in constant time; a login for an unknown email still spends the time of a hash
//! check, so timing does not tell which emails have accounts.
//!
//! Logins (successful or not) and role changes are appended to the audit log. The profile
//! (name, phone, saved addresses) is in [`profile`]; password recovery, password changes and
//! email changes, which need a one-time link or the current password, are in [`recovery`].

mod passwords;
pub mod profile;
pub mod recovery;

use crate::audit;
use contracts::CustomerId;
use entities::customers::customer;
use passwords::{decoy_hash, hash, verify};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use std::fmt;
use std::str::FromStr;

/// What an account may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Places and follows their own orders.
    Customer,
    /// Also reviews and cancels any order, reads any customer's data.
    Operator,
    /// Also refunds, manages the catalog, stock and notifications.
    Admin,
}

impl Role {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Role::Customer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role `{other}`")),
        }
    }
}

/// An account as others may see it (no hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Customer {
    /// Its id.
    pub id: CustomerId,
    /// Email (lower-case).
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Phone number (E.164), if given.
    pub phone: Option<String>,
    /// Saved addresses (at most 10), to choose one at checkout.
    pub addresses: Vec<profile::SavedAddress>,
    /// The version its access tokens are issued under (never shown).
    #[serde(skip)]
    #[schema(ignore)]
    pub token_version: u32,
}

impl TryFrom<customer::Model> for Customer {
    type Error = CustomersError;

    fn try_from(row: customer::Model) -> Result<Self, Self::Error> {
        Ok(Self {
            id: CustomerId(row.id),
            role: row.role.parse().map_err(CustomersError::Corrupt)?,
            email: row.email,
            name: row.name,
            created_at: row.created_at.to_rfc3339(),
            phone: row.phone,
            addresses: serde_json::from_value(row.addresses)
                .map_err(|err| CustomersError::Corrupt(format!("addresses: {err}")))?,
            token_version: u32::try_from(row.token_version).unwrap_or_default(),
        })
    }
}

/// Why a customers operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    /// The email has an account already.
    #[error("an account with this email exists")]
    EmailTaken,
    /// Wrong email or password (deliberately not saying which).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// A one-time link's token that is unknown, used, expired or someone else's.
    #[error("the link is not valid or has expired; ask for a new one")]
    InvalidLink,
    /// The current password given to change a credential is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Stored data is not what it should be.
    #[error("corrupt account data: {0}")]
    Corrupt(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The database failed.
    #[error("customers database error: {0}")]
    Db(#[from] DbErr),
}

/// Creates a customer account. The email is lower-cased.
pub async fn register(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Customer, CustomersError> {
    create(db, email, name, password, Role::Customer).await
}

async fn create(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    password: &str,
    role: Role,
) -> Result<Customer, CustomersError> {
    let email = email.trim().to_lowercase();
    let password_hash = hash(password.to_owned()).await?;
    let now = chrono::Utc::now();
    let id = uuid::Uuid::now_v7();
    let inserted = customer::Entity::insert(customer::ActiveModel {
        id: Set(id),
        email: Set(email.clone()),
        // As given: the document allows any 1 to 200 characters, and trimming could leave none.
        name: Set(name.to_owned()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(customer::Column::Email)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 0 {
        return Err(CustomersError::EmailTaken);
    }
    tracing::info!(customer.id = %id, %role, "account created");
    find(db, CustomerId(id))
        .await?
        .ok_or(CustomersError::Corrupt("account just written".to_owned()))
}

/// Creates the account with this role, or makes the existing account's password and role
/// these (for the demo admin and tests).
pub async fn ensure_account(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    password: &str,
    role: Role,
) -> Result<Customer, CustomersError> {
    match create(db, email, name, password, role).await {
        Err(CustomersError::EmailTaken) => {
            let password_hash = hash(password.to_owned()).await?;
            customer::Entity::update_many()
                .col_expr(customer::Column::PasswordHash, password_hash.into())
                .col_expr(customer::Column::Role, role.as_str().into())
                .filter(customer::Column::Email.eq(email.trim().to_lowercase()))
                .exec(db)
                .await?;
            find_by_email(db, email)
                .await?
                .ok_or(CustomersError::Corrupt("account vanished".to_owned()))
        }
        other => other,
    }
}

/// The account with these credentials. Every attempt, refused or not, is appended to the audit
/// log (`auth.login_succeeded` / `auth.login_failed`) with the client's address, never the
/// password.
pub async fn authenticate(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Customer, CustomersError> {
    let email = email.trim().to_lowercase();
    let row = customer::Entity::find()
        .filter(customer::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    let outcome = match row {
        None => {
            let _ = verify(password.to_owned(), decoy_hash().await.to_owned()).await;
            Err(CustomersError::InvalidCredentials)
        }
        Some(row) if verify(password.to_owned(), row.password_hash.clone()).await => {
            Customer::try_from(row)
        }
        Some(_) => Err(CustomersError::InvalidCredentials),
    };
    let (action, after) = match &outcome {
        Ok(customer) => (
            "auth.login_succeeded",
            json!({"client": client.map(|ip| ip.to_string()), "role": customer.role.as_str()}),
        ),
        Err(_) => (
            "auth.login_failed",
            json!({"client": client.map(|ip| ip.to_string())}),
        ),
    };
    audit::record(
        db,
        audit::Entry {
            actor: audit::actor(&email),
            action,
            subject: audit::actor(&format!("account:{email}")),
            order_id: None,
            before: None,
            after: Some(after),
        },
    )
    .await?;
    outcome
}

/// An account by id.
pub async fn find(
    db: &DatabaseConnection,
    id: CustomerId,
) -> Result<Option<Customer>, CustomersError> {
    customer::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(Customer::try_from)
        .transpose()
}

/// An account by email.
pub async fn find_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<Customer>, CustomersError> {
    customer::Entity::find()
        .filter(customer::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?
        .map(Customer::try_from)
        .transpose()
}

/// Changes an account's role, recording who did it in the audit log; the account's older
/// tokens, which carry the old role, are revoked.
pub async fn set_role(
    db: &DatabaseConnection,
    id: CustomerId,
    role: Role,
    actor: &str,
) -> Result<Option<Customer>, CustomersError> {
    let txn = db.begin().await?;
    let Some(before) = customer::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    // The tokens carry the role: those issued before must go, or a demotion would wait for
    // them to expire.
    customer::Entity::update_many()
        .col_expr(customer::Column::Role, role.as_str().into())
        .col_expr(
            customer::Column::TokenVersion,
            sea_orm::sea_query::Expr::col(customer::Column::TokenVersion).add(1),
        )
        .col_expr(
            customer::Column::UpdatedAt,
            chrono::Utc::now().fixed_offset().into(),
        )
        .filter(customer::Column::Id.eq(id.0))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor: audit::actor(actor),
            action: "account.role_changed",
            subject: audit::actor(&format!("account:{}", before.email)),
            order_id: None,
            before: Some(json!({"role": before.role})),
            after: Some(json!({"role": role.as_str()})),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(customer.id = %id, %role, "role changed");
    find(db, id).await
}
