//! Credentials that change: a forgotten password reset through an emailed one-time link, a
//! password changed with the current one, an email changed with the current password and a
//! link sent to the new address.
//!
//! A link's token is 32 random bytes (hex); only its SHA-256 is stored
//! (`customers.one_time_tokens`), one per customer and purpose, so a new request replaces
//! (invalidates) the old. It expires after the configured time and is deleted when used.
//! Setting a password bumps the account's `token_version`, which refuses every access token
//! issued before (the API hears of it on `emporium_tokens`). Every step is audited; a request
//! for an unknown email is audited too, and answered like any other by the API.

use super::passwords::{hash, verify};
use super::{Customer, CustomersError, find, find_by_email};
use crate::audit;
use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use contracts::CustomerId;
use entities::customers::customer;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, Statement, TransactionTrait,
};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::time::Duration;

/// The channel on which the database announces an account's new token version, as
/// `{"customer_id": …, "version": …}` (migration 18's trigger).
pub const TOKENS_CHANNEL: &str = "emporium_tokens";

/// What a one-time link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::AsRefStr)]
#[strum(serialize_all = "snake_case")]
pub enum Purpose {
    /// Setting a forgotten password.
    PasswordReset,
    /// Confirming a new email address.
    EmailChange,
}

/// A link just issued: whom to send it to and the token it carries (never stored).
#[derive(Debug, Clone)]
pub struct Issued {
    /// The account.
    pub customer: Customer,
    /// Where to send the link (the new address, for an email change).
    pub send_to: String,
    /// The token, for the link.
    pub token: String,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

fn fresh_token() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

async fn audited(
    db: &impl ConnectionTrait,
    actor: &str,
    action: &'static str,
    email: &str,
    after: serde_json::Value,
) -> Result<(), CustomersError> {
    let entry = audit::Entry {
        actor: audit::actor(actor),
        action,
        subject: audit::actor(&format!("account:{email}")),
        order_id: None,
        before: None,
        after: Some(after),
    };
    Ok(audit::record(db, entry).await?)
}

/// Stores a new link for `customer` (replacing any other of the same purpose) and returns
/// its token.
async fn issue(
    txn: &DatabaseTransaction,
    customer: CustomerId,
    purpose: Purpose,
    new_email: Option<&str>,
    valid_for: Duration,
) -> Result<String, CustomersError> {
    let token = fresh_token();
    let expires = chrono::Utc::now() + valid_for;
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO customers.one_time_tokens
             (customer_id, purpose, token_hash, new_email, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (customer_id, purpose) DO UPDATE
         SET token_hash = excluded.token_hash, new_email = excluded.new_email,
             expires_at = excluded.expires_at, created_at = now()",
        [
            customer.0.into(),
            purpose.as_ref().into(),
            digest(&token).into(),
            new_email.map(str::to_owned).into(),
            expires.into(),
        ],
    ))
    .await?;
    Ok(token)
}

#[derive(FromQueryResult)]
struct Redeemed {
    customer_id: uuid::Uuid,
    new_email: Option<String>,
    fresh: bool,
}

/// Uses up the link `token` names for `purpose` (an expired one is deleted all the same) and
/// answers whose it was, if it had not expired.
async fn redeem(
    txn: &DatabaseTransaction,
    token: &str,
    purpose: Purpose,
) -> Result<Redeemed, CustomersError> {
    Redeemed::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM customers.one_time_tokens
         WHERE token_hash = $1 AND purpose = $2
         RETURNING customer_id, new_email, expires_at > now() AS fresh",
        [digest(token).into(), purpose.as_ref().into()],
    ))
    .one(txn)
    .await?
    .filter(|row| row.fresh)
    .ok_or(CustomersError::InvalidLink)
}

/// Sets the password of `id` and refuses its older access tokens.
async fn set_password(
    txn: &DatabaseTransaction,
    id: CustomerId,
    password: &str,
) -> Result<(), CustomersError> {
    let password_hash = hash(password.to_owned()).await?;
    credential_changed(id, customer::Column::PasswordHash, password_hash)
        .exec(txn)
        .await?;
    Ok(())
}

/// The update that sets a credential (`column`) of `id` and bumps its token version, which
/// refuses every access token issued before.
fn credential_changed(
    id: CustomerId,
    column: customer::Column,
    value: String,
) -> sea_orm::UpdateMany<customer::Entity> {
    customer::Entity::update_many()
        .col_expr(column, value.into())
        .col_expr(
            customer::Column::TokenVersion,
            Expr::col(customer::Column::TokenVersion).add(1),
        )
        .col_expr(
            customer::Column::UpdatedAt,
            chrono::Utc::now().fixed_offset().into(),
        )
        .filter(customer::Column::Id.eq(id.0))
}

/// A password reset asked for `email`: a link for the account, if there is one (`None` when
/// there is not; the request is audited either way).
pub async fn request_password_reset(
    db: &DatabaseConnection,
    email: &str,
    valid_for: Duration,
) -> Result<Option<Issued>, CustomersError> {
    let email = email.trim().to_lowercase();
    let txn = db.begin().await?;
    let customer = find_by_email(db, &email).await?;
    let known = customer.is_some();
    audited(
        &txn,
        &email,
        "auth.password_reset_requested",
        &email,
        json!({"account": known}),
    )
    .await?;
    let issued = match customer {
        Some(customer) => {
            let token = issue(&txn, customer.id, Purpose::PasswordReset, None, valid_for).await?;
            Some(Issued {
                send_to: customer.email.clone(),
                customer,
                token,
            })
        }
        None => None,
    };
    txn.commit().await?;
    Ok(issued)
}

/// Sets a new password with the token of a reset link for `email`. A token that is unknown,
/// used, expired or another account's is [`CustomersError::InvalidLink`] (and, if it was
/// someone's, it is used up all the same).
pub async fn reset_password(
    db: &DatabaseConnection,
    email: &str,
    token: &str,
    password: &str,
) -> Result<Customer, CustomersError> {
    let email = email.trim().to_lowercase();
    let txn = db.begin().await?;
    let owner = match redeem(&txn, token, Purpose::PasswordReset).await {
        Ok(redeemed) => find(db, CustomerId(redeemed.customer_id)).await?,
        Err(CustomersError::InvalidLink) => None,
        // The database failed: say so, not that the link is bad.
        Err(err) => return Err(err),
    };
    let Some(owner) = owner.filter(|owner| owner.email == email) else {
        // Commit the deletion: a link tried with the wrong account is spent.
        audited(
            &txn,
            &email,
            "auth.password_reset_refused",
            &email,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        return Err(CustomersError::InvalidLink);
    };
    set_password(&txn, owner.id, password).await?;
    audited(
        &txn,
        &email,
        "auth.password_reset",
        &email,
        json!({"tokens_revoked": true}),
    )
    .await?;
    txn.commit().await?;
    find(db, owner.id).await?.ok_or(CustomersError::InvalidLink)
}

/// Changes the password of `id`, given the current one; older access tokens are refused from
/// then on.
pub async fn change_password(
    db: &DatabaseConnection,
    id: CustomerId,
    current: &str,
    new: &str,
) -> Result<Option<Customer>, CustomersError> {
    let Some(row) = customer::Entity::find_by_id(id.0).one(db).await? else {
        return Ok(None);
    };
    if !verify(current.to_owned(), row.password_hash.clone()).await {
        return Err(CustomersError::WrongPassword);
    }
    let txn = db.begin().await?;
    set_password(&txn, id, new).await?;
    audited(
        &txn,
        &row.email,
        "account.password_changed",
        &row.email,
        json!({"tokens_revoked": true}),
    )
    .await?;
    txn.commit().await?;
    find(db, id).await
}

/// Asks to change the email of `id` to `new_email`, given the current password: a link for
/// the new address. The email changes only when the link is followed.
pub async fn request_email_change(
    db: &DatabaseConnection,
    id: CustomerId,
    current_password: &str,
    new_email: &str,
    valid_for: Duration,
) -> Result<Option<Issued>, CustomersError> {
    let new_email = new_email.trim().to_lowercase();
    let Some(row) = customer::Entity::find_by_id(id.0).one(db).await? else {
        return Ok(None);
    };
    if !verify(current_password.to_owned(), row.password_hash.clone()).await {
        return Err(CustomersError::WrongPassword);
    }
    if find_by_email(db, &new_email).await?.is_some() {
        return Err(CustomersError::EmailTaken);
    }
    let txn = db.begin().await?;
    let token = issue(&txn, id, Purpose::EmailChange, Some(&new_email), valid_for).await?;
    audited(
        &txn,
        &row.email,
        "account.email_change_requested",
        &row.email,
        json!({"to": new_email}),
    )
    .await?;
    txn.commit().await?;
    Ok(find(db, id).await?.map(|customer| Issued {
        customer,
        send_to: new_email,
        token,
    }))
}

/// Follows an email-change link: the account's email becomes the new address, and its older
/// access tokens (which carry the old address) are refused.
pub async fn confirm_email_change(
    db: &DatabaseConnection,
    token: &str,
) -> Result<Customer, CustomersError> {
    let txn = db.begin().await?;
    let redeemed = redeem(&txn, token, Purpose::EmailChange).await?;
    let new_email = redeemed.new_email.ok_or(CustomersError::InvalidLink)?;
    let id = CustomerId(redeemed.customer_id);
    let before = find(db, id).await?.ok_or(CustomersError::InvalidLink)?;
    if find_by_email(db, &new_email).await?.is_some() {
        return Err(CustomersError::EmailTaken);
    }
    let changed = credential_changed(id, customer::Column::Email, new_email.clone())
        .exec(&txn)
        .await;
    if let Err(err) = changed {
        // Taken between the check and the change (the unique index): as taken.
        return Err(if err.to_string().contains("customers_email_key") {
            CustomersError::EmailTaken
        } else {
            err.into()
        });
    }
    audited(
        &txn,
        &before.email,
        "account.email_changed",
        &new_email,
        json!({"from": before.email}),
    )
    .await?;
    txn.commit().await?;
    find(db, id).await?.ok_or(CustomersError::InvalidLink)
}

/// Every account whose tokens were revoked at least once, with its current version: what an
/// API instance loads at start, and again whenever it may have missed an announcement.
pub async fn token_versions(
    db: &DatabaseConnection,
) -> Result<Vec<(CustomerId, u32)>, CustomersError> {
    let rows: Vec<(uuid::Uuid, i32)> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .column(customer::Column::TokenVersion)
        .filter(customer::Column::TokenVersion.gt(0))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, version)| (CustomerId(id), u32::try_from(version).unwrap_or_default()))
        .collect())
}
