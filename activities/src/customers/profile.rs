//! A customer's profile: name, phone (E.164) and up to [`MAX_ADDRESSES`] saved addresses, one
//! of which can be chosen at checkout. Each change is audited (`account.profile_changed`, with
//! which fields changed, not their values: the audit log is not a second copy of personal data).

use super::{Customer, CustomersError, find};
use crate::audit;
use contracts::CustomerId;
use contracts::shipping::Address;
use entities::customers::customer;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QuerySelect, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The most addresses a customer may save.
pub const MAX_ADDRESSES: usize = 10;

/// A saved address, with the id checkout names it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SavedAddress {
    /// Its id (kept while the address is kept).
    pub id: Uuid,
    /// A name for it, such as `Home`.
    pub label: Option<String>,
    /// The address.
    pub address: Address,
}

/// What a profile change sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// The new name.
    pub name: Option<String>,
    /// The new phone (`Some(None)` removes it).
    pub phone: Option<Option<String>>,
    /// The new list of addresses, replacing the old.
    pub addresses: Option<Vec<AddressEntry>>,
}

/// An address in a profile change: with the id of a saved address it keeps that id, without
/// one it gets a new id.
#[derive(Debug, Clone)]
pub struct AddressEntry {
    /// The saved address it keeps, if any.
    pub id: Option<Uuid>,
    /// A name for it.
    pub label: Option<String>,
    /// The address.
    pub address: Address,
}

impl ProfileChange {
    /// The names of the fields it changes, for the audit log.
    fn fields(&self) -> Vec<&'static str> {
        [
            self.name.as_ref().map(|_| "name"),
            self.phone.as_ref().map(|_| "phone"),
            self.addresses.as_ref().map(|_| "addresses"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Why a profile change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// More than [`MAX_ADDRESSES`] addresses.
    #[error("at most {MAX_ADDRESSES} addresses may be saved")]
    TooManyAddresses,
    /// An entry names an id that is not one of the customer's saved addresses.
    #[error("address {index} names id {id}, which is not one of the saved addresses")]
    UnknownAddress {
        /// Its place in the list.
        index: usize,
        /// The id it named.
        id: Uuid,
    },
    /// The customers service failed.
    #[error(transparent)]
    Customers(#[from] CustomersError),
}

impl From<sea_orm::DbErr> for ProfileError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Customers(err.into())
    }
}

/// Applies `change` to the profile of `id`, audited as `actor`; `None` if there is no such
/// account.
pub async fn update(
    db: &DatabaseConnection,
    id: CustomerId,
    change: ProfileChange,
    actor: &str,
) -> Result<Option<Customer>, ProfileError> {
    let txn = db.begin().await?;
    let Some(row) = customer::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let fields = change.fields();
    let mut update = customer::ActiveModel {
        id: Set(id.0),
        updated_at: Set(chrono::Utc::now().into()),
        ..Default::default()
    };
    if let Some(name) = change.name {
        update.name = Set(name);
    }
    if let Some(phone) = change.phone {
        update.phone = Set(phone);
    }
    if let Some(addresses) = change.addresses {
        let saved: Vec<SavedAddress> =
            serde_json::from_value(row.addresses.clone()).unwrap_or_default();
        let addresses = keep_ids(&saved, addresses)?;
        update.addresses = Set(json!(addresses));
    }
    customer::Entity::update(update).exec(&txn).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor: audit::actor(actor),
            action: "account.profile_changed",
            subject: audit::actor(&format!("account:{}", row.email)),
            order_id: None,
            before: None,
            after: Some(json!({ "fields": fields })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(find(db, id).await?)
}

/// The new list of addresses: saved ids kept, new entries given fresh ids.
fn keep_ids(
    saved: &[SavedAddress],
    entries: Vec<AddressEntry>,
) -> Result<Vec<SavedAddress>, ProfileError> {
    if entries.len() > MAX_ADDRESSES {
        return Err(ProfileError::TooManyAddresses);
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(index, AddressEntry { id, label, address })| {
            let id = match id {
                Some(id) if saved.iter().any(|a| a.id == id) => id,
                Some(id) => return Err(ProfileError::UnknownAddress { index, id }),
                None => Uuid::now_v7(),
            };
            Ok(SavedAddress { id, label, address })
        })
        .collect()
}

/// One of the customer's saved addresses.
pub async fn saved_address(
    db: &DatabaseConnection,
    id: CustomerId,
    address_id: Uuid,
) -> Result<Option<Address>, CustomersError> {
    let row = customer::Entity::find_by_id(id.0)
        .select_only()
        .column(customer::Column::Addresses)
        .into_tuple::<serde_json::Value>()
        .one(db)
        .await?;
    let saved: Vec<SavedAddress> = row
        .map(serde_json::from_value)
        .transpose()
        .map_err(|err| CustomersError::Corrupt(format!("addresses: {err}")))?
        .unwrap_or_default();
    Ok(saved
        .into_iter()
        .find(|a| a.id == address_id)
        .map(|a| a.address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(city: &str) -> Address {
        Address {
            name: "Ada".to_owned(),
            line1: "1 Main St".to_owned(),
            line2: None,
            city: city.to_owned(),
            postal_code: "N1".to_owned(),
            country: "GB".to_owned(),
        }
    }

    fn entry(id: Option<Uuid>, city: &str) -> AddressEntry {
        AddressEntry {
            id,
            label: None,
            address: address(city),
        }
    }

    #[test]
    fn saved_ids_are_kept_new_ones_given_and_strangers_refused() {
        let home = SavedAddress {
            id: Uuid::now_v7(),
            label: Some("Home".to_owned()),
            address: address("London"),
        };
        let kept = keep_ids(
            std::slice::from_ref(&home),
            vec![entry(Some(home.id), "Leeds"), entry(None, "York")],
        )
        .expect("kept");
        assert_eq!(kept[0].id, home.id);
        assert_eq!(kept[0].address.city, "Leeds");
        assert_ne!(kept[1].id, home.id);
        let stranger = Uuid::now_v7();
        assert!(matches!(
            keep_ids(&[home], vec![entry(Some(stranger), "Bath")]),
            Err(ProfileError::UnknownAddress { index: 0, .. })
        ));
        let eleven = (0..11).map(|_| entry(None, "Hull")).collect();
        assert!(matches!(
            keep_ids(&[], eleven),
            Err(ProfileError::TooManyAddresses)
        ));
    }
}
