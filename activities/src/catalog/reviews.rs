//! Reviews and ratings: a customer who received a product (one of their orders with it was
//! delivered) may review it once, with a rating from 1 to 5 and a text, and edit that review.
//! Admins hide a review (audited, `review.hidden`; showing it again is `review.shown`); a
//! hidden review leaves the product's list and rating. The product's count and rating sum
//! change in the same transaction as the review, so its average is read with the product.

use crate::audit;
use contracts::CustomerId;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, FromQueryResult,
    Statement, TransactionTrait, Value,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// The longest review text, in characters (the schema checks it too).
pub const MAX_REVIEW_CHARS: usize = 4000;

/// Why a review was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No such product.
    #[error("no such product")]
    UnknownProduct,
    /// The customer never received the product.
    #[error("only a customer who received this product may review it")]
    NotReceived,
    /// The customer reviewed it already: edit that review.
    #[error("you reviewed this product already (review {0}); edit that review instead")]
    AlreadyReviewed(Uuid),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A review as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromQueryResult, utoipa::ToSchema)]
pub struct Review {
    /// Its id.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// Its author (a customer).
    pub customer_id: Uuid,
    /// The author's name as it was when they wrote it.
    pub author_name: String,
    /// 1 to 5.
    pub rating: i16,
    /// The text.
    pub body: String,
    /// When it was written (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    /// When it was last edited.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: chrono::DateTime<chrono::FixedOffset>,
    /// Whether an admin hid it (shown only to staff and its author).
    pub hidden: bool,
}

/// One page of reviews, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewPage {
    /// The reviews.
    pub items: Vec<Review>,
    /// Page number, from 1.
    pub page: u64,
    /// Reviews per page.
    pub per_page: u64,
    /// Reviews on all pages.
    pub total: u64,
}

const COLUMNS: &str = "id, product_id, customer_id, author_name, rating, body, created_at, \
                       updated_at, hidden_at IS NOT NULL AS hidden";

fn statement(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Whether `customer` received the product `product_id`: one of their orders with its SKU
/// was delivered.
pub async fn received(
    db: &impl ConnectionTrait,
    customer: CustomerId,
    product_id: Uuid,
) -> Result<bool, DbErr> {
    let row = db
        .query_one(statement(
            "SELECT EXISTS (
                 SELECT 1 FROM catalog.products p
                 JOIN orders.order_lines l ON l.sku = p.sku
                 JOIN orders.orders o ON o.id = l.order_id
                 JOIN orders.status_history h ON h.order_id = o.id AND h.status = 'delivered'
                 WHERE p.id = $1 AND o.customer_id = $2) AS received",
            [product_id.into(), customer.0.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "received"))
        .transpose()?
        .unwrap_or(false))
}

/// Adds `delta_count` reviews and `delta_sum` rating points to the product's rating.
async fn rate(
    txn: &DatabaseTransaction,
    product_id: Uuid,
    delta_count: i32,
    delta_sum: i32,
) -> Result<(), DbErr> {
    txn.execute(statement(
        "UPDATE catalog.products
         SET review_count = review_count + $2, rating_sum = rating_sum + $3
         WHERE id = $1",
        [product_id.into(), delta_count.into(), delta_sum.into()],
    ))
    .await?;
    Ok(())
}

/// Writes the first review of `product_id` by `author`, who must have received it.
pub async fn create(
    db: &DatabaseConnection,
    product_id: Uuid,
    author: (CustomerId, &str),
    rating: i16,
    body: &str,
) -> Result<Review, ReviewError> {
    let (customer, author_name) = author;
    let txn = db.begin().await?;
    let exists = txn
        .query_one(statement(
            "SELECT 1 AS one FROM catalog.products WHERE id = $1 FOR UPDATE",
            [product_id.into()],
        ))
        .await?;
    if exists.is_none() {
        return Err(ReviewError::UnknownProduct);
    }
    if !received(&txn, customer, product_id).await? {
        return Err(ReviewError::NotReceived);
    }
    let written = Review::find_by_statement(statement(
        &format!(
            "INSERT INTO catalog.reviews (id, product_id, customer_id, author_name, rating, body)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (product_id, customer_id) DO NOTHING
             RETURNING {COLUMNS}"
        ),
        [
            Uuid::now_v7().into(),
            product_id.into(),
            customer.0.into(),
            author_name.into(),
            rating.into(),
            body.into(),
        ],
    ))
    .one(&txn)
    .await?;
    let Some(review) = written else {
        let existing = mine(&txn, product_id, customer).await?;
        return Err(ReviewError::AlreadyReviewed(
            existing.map_or(Uuid::nil(), |r| r.id),
        ));
    };
    rate(&txn, product_id, 1, i32::from(rating)).await?;
    txn.commit().await?;
    Ok(review)
}

/// The review of `product_id` by `customer`, if they wrote one.
pub async fn mine(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    customer: CustomerId,
) -> Result<Option<Review>, DbErr> {
    Review::find_by_statement(statement(
        &format!(
            "SELECT {COLUMNS} FROM catalog.reviews WHERE product_id = $1 AND customer_id = $2"
        ),
        [product_id.into(), customer.0.into()],
    ))
    .one(db)
    .await
}

/// Edits the review `id` by `author`: `None` if there is no such review of theirs.
pub async fn edit(
    db: &DatabaseConnection,
    id: Uuid,
    author: CustomerId,
    rating: Option<i16>,
    body: Option<&str>,
) -> Result<Option<Review>, DbErr> {
    let txn = db.begin().await?;
    let Some(before) = locked(&txn, id)
        .await?
        .filter(|r| r.customer_id == author.0)
    else {
        return Ok(None);
    };
    let rating = rating.unwrap_or(before.rating);
    let after = Review::find_by_statement(statement(
        &format!(
            "UPDATE catalog.reviews SET rating = $2, body = $3, updated_at = now()
             WHERE id = $1 RETURNING {COLUMNS}"
        ),
        [
            id.into(),
            rating.into(),
            body.unwrap_or(&before.body).into(),
        ],
    ))
    .one(&txn)
    .await?;
    if !before.hidden {
        rate(
            &txn,
            before.product_id,
            0,
            i32::from(rating - before.rating),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(after)
}

async fn locked(txn: &DatabaseTransaction, id: Uuid) -> Result<Option<Review>, DbErr> {
    Review::find_by_statement(statement(
        &format!("SELECT {COLUMNS} FROM catalog.reviews WHERE id = $1 FOR UPDATE"),
        [id.into()],
    ))
    .one(txn)
    .await
}

/// Hides the review `id` (or shows it again), audited as `actor` with the reason; `None` if
/// there is no such review.
pub async fn set_hidden(
    db: &DatabaseConnection,
    id: Uuid,
    hidden: bool,
    reason: &str,
    actor: &str,
) -> Result<Option<Review>, DbErr> {
    let txn = db.begin().await?;
    let Some(before) = locked(&txn, id).await? else {
        return Ok(None);
    };
    let after = Review::find_by_statement(statement(
        &format!(
            "UPDATE catalog.reviews
             SET hidden_at = CASE WHEN $2 THEN coalesce(hidden_at, now()) END,
                 hidden_by = CASE WHEN $2 THEN coalesce(hidden_by, $3) END,
                 hidden_reason = CASE WHEN $2 THEN $4 END
             WHERE id = $1 RETURNING {COLUMNS}"
        ),
        [id.into(), hidden.into(), actor.into(), reason.into()],
    ))
    .one(&txn)
    .await?;
    if before.hidden != hidden {
        let sign = if hidden { -1 } else { 1 };
        rate(
            &txn,
            before.product_id,
            sign,
            sign * i32::from(before.rating),
        )
        .await?;
        audit::record(
            &txn,
            audit::Entry {
                actor: audit::actor(actor),
                action: if hidden {
                    "review.hidden"
                } else {
                    "review.shown"
                },
                subject: format!("review:{id}"),
                order_id: None,
                before: Some(json!({"hidden": before.hidden})),
                after: Some(
                    json!({"hidden": hidden, "reason": reason, "product_id": before.product_id}),
                ),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(after)
}

/// Which reviews to list by whether an admin hid them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Visibility {
    /// Visible ones only (what shoppers see).
    #[default]
    Visible,
    /// Hidden ones only (staff).
    Hidden,
    /// Both (staff).
    Any,
}

impl Visibility {
    /// The reviews `hidden` asks for: `Some(true)` hidden, `Some(false)` visible, `None` all.
    pub fn of(hidden: Option<bool>) -> Self {
        match hidden {
            Some(true) => Self::Hidden,
            Some(false) => Self::Visible,
            None => Self::Any,
        }
    }

    /// The SQL condition it adds.
    const fn condition(self) -> &'static str {
        match self {
            Self::Visible => "hidden_at IS NULL",
            Self::Hidden => "hidden_at IS NOT NULL",
            Self::Any => "true",
        }
    }
}

/// Which reviews to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewFilter {
    /// Of this product only.
    pub product_id: Option<Uuid>,
    /// Hidden by an admin or not.
    pub visibility: Visibility,
}

/// A page of reviews, newest first.
pub async fn list(
    db: &DatabaseConnection,
    filter: ReviewFilter,
    page: u64,
    per_page: u64,
) -> Result<ReviewPage, DbErr> {
    let conditions = format!(
        "($1::uuid IS NULL OR product_id = $1) AND {}",
        filter.visibility.condition()
    );
    let product = Value::from(filter.product_id);
    let offset = page.saturating_sub(1).saturating_mul(per_page);
    let items = Review::find_by_statement(statement(
        &format!(
            "SELECT {COLUMNS} FROM catalog.reviews WHERE {conditions}
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ),
        [
            product.clone(),
            i64::try_from(per_page).unwrap_or(i64::MAX).into(),
            i64::try_from(offset).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(db)
    .await?;
    let total = db
        .query_one(statement(
            &format!("SELECT count(*) AS total FROM catalog.reviews WHERE {conditions}"),
            [product],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "total"))
        .transpose()?
        .unwrap_or_default();
    Ok(ReviewPage {
        items,
        page,
        per_page,
        total: u64::try_from(total).unwrap_or_default(),
    })
}
