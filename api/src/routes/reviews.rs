//! Reviews and ratings: `GET/POST /products/{id}/reviews`, `PATCH /reviews/{id}` (its author),
//! `GET /reviews` and `PUT /reviews/{id}/visibility` (staff moderation; hiding needs an admin).
//!
//! Only a customer who received the product (an order of theirs with it was delivered) may
//! review it (else 403 `not_received`), once (409 `already_reviewed`: edit it instead).
//! Someone else's review answers 404 to its would-be editor, as if it did not exist. The
//! product's `rating` (average and count of visible reviews) comes with the product.

use super::accounts::PageParams;
use crate::auth::{Admin, Caller, Staff};
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use crate::{ApiError, AppState, validate};
use activities::catalog::reviews::{
    self, Review, ReviewError, ReviewFilter, ReviewPage, Visibility,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

fn parse_id(id: &str, what: &str) -> Result<Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid_path("id", format!("must be the UUID of a {what}")))
}

/// A product's reviews, and what the caller may do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProductReviews {
    /// A page of visible reviews, newest first.
    #[serde(flatten)]
    page: ReviewPage,
    /// The caller's own review of the product (shown even if hidden), when signed in.
    mine: Option<Review>,
    /// Whether the caller may write a review: signed in, received it, not reviewed yet.
    may_review: bool,
}

/// A product's reviews, newest first, paged; with the caller's own and whether they may
/// write one when a token is sent.
#[utoipa::path(
    get, path = "/products/{id}/reviews", operation_id = "listProductReviews", tag = "catalog",
    params(("id" = Uuid, Path, description = "The product's id."), PageParams),
    responses(
        (status = 200, description = "A page of reviews.", body = ProductReviews),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ),
    security((), ("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Path(id): Path<String>,
    ValidQuery(params): ValidQuery<PageParams>,
) -> Result<Json<ProductReviews>, ApiError> {
    let id = parse_id(&id, "product")?;
    let filter = ReviewFilter {
        product_id: Some(id),
        ..ReviewFilter::default()
    };
    let page = reviews::list(&state.db, filter, params.page(), params.per_page()).await?;
    let (mine, may_review) = match &caller {
        Some(caller) => {
            let mine = reviews::mine(&state.db, id, caller.id).await?;
            let received = mine.is_none() && reviews::received(&state.db, caller.id, id).await?;
            (mine, received)
        }
        None => (None, false),
    };
    Ok(Json(ProductReviews {
        page,
        mine,
        may_review,
    }))
}

/// The body of `POST /products/{id}/reviews`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReview {
    /// 1 to 5.
    #[garde(range(min = 1, max = 5))]
    #[schema(minimum = 1, maximum = 5)]
    rating: i16,
    /// What the reviewer thinks: 1 to 4000 characters, not only white space, without U+0000.
    #[garde(length(chars, min = 1, max = 4000), custom(validate::not_blank))]
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    body: String,
}

/// Reviews a product the caller received: once; edit it with `PATCH /reviews/{id}`.
#[utoipa::path(
    post, path = "/products/{id}/reviews", operation_id = "createReview", tag = "catalog",
    params(("id" = Uuid, Path, description = "The product's id.")),
    request_body = NewReview,
    responses(
        (status = 201, description = "The review.", body = Review),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(product.id = %id, customer.id = %caller.id))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<NewReview>,
) -> Result<(StatusCode, Json<Review>), ApiError> {
    let id = parse_id(&id, "product")?;
    let author = activities::customers::find(&state.db, caller.id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("your account is gone"))?;
    let review = reviews::create(
        &state.db,
        id,
        (caller.id, &author.name),
        body.rating,
        &body.body,
    )
    .await
    .map_err(|err| match err {
        ReviewError::UnknownProduct => ApiError::not_found(format!("no product with id {id}")),
        ReviewError::NotReceived => {
            ApiError::forbidden_because(ErrorCode::NotReceived, err.to_string())
        }
        ReviewError::AlreadyReviewed(_) => {
            ApiError::conflict(ErrorCode::AlreadyReviewed, err.to_string())
        }
        ReviewError::Db(db) => ApiError::from(db),
    })?;
    tracing::info!(review.id = %review.id, "review written");
    Ok((StatusCode::CREATED, Json(review)))
}

/// The body of `PATCH /reviews/{id}`: what to change.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewChange {
    /// 1 to 5.
    #[garde(inner(range(min = 1, max = 5)))]
    #[schema(minimum = 1, maximum = 5)]
    rating: Option<i16>,
    /// 1 to 4000 characters, not only white space, without U+0000.
    #[garde(inner(length(chars, min = 1, max = 4000), custom(validate::not_blank)))]
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    body: Option<String>,
}

/// Edits the caller's own review; anyone else's answers 404.
#[utoipa::path(
    patch, path = "/reviews/{id}", operation_id = "updateReview", tag = "catalog",
    params(("id" = Uuid, Path, description = "The review's id.")),
    request_body = ReviewChange,
    responses(
        (status = 200, description = "The review as it is now.", body = Review),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(review.id = %id, customer.id = %caller.id))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(change): ValidJson<ReviewChange>,
) -> Result<Json<Review>, ApiError> {
    let id = parse_id(&id, "review")?;
    reviews::edit(
        &state.db,
        id,
        caller.id,
        change.rating,
        change.body.as_deref(),
    )
    .await?
    .map(Json)
    .ok_or_else(|| ApiError::not_found(format!("no review with id {id}")))
}

/// The query of `GET /reviews`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModerationParams {
    /// `true`: hidden reviews only; `false`: visible ones only; absent: all.
    #[garde(skip)]
    hidden: Option<bool>,
    /// Page number, from 1.
    #[garde(inner(range(min = 1, max = 100_000)))]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u64>,
    /// Per page, 1 to 100 (20 by default).
    #[garde(inner(range(min = 1, max = 100)))]
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u64>,
}

/// Every product's reviews, newest first, hidden ones too (staff): the moderation queue.
#[utoipa::path(
    get, path = "/reviews", operation_id = "listReviews", tag = "catalog",
    params(ModerationParams),
    responses(
        (status = 200, description = "A page of reviews.", body = ReviewPage),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn moderation(
    State(state): State<AppState>,
    Staff(_): Staff,
    ValidQuery(params): ValidQuery<ModerationParams>,
) -> Result<Json<ReviewPage>, ApiError> {
    let filter = ReviewFilter {
        product_id: None,
        visibility: Visibility::of(params.hidden),
    };
    let page = params.page.unwrap_or(1);
    let per_page = params.per_page.unwrap_or(20);
    Ok(Json(
        reviews::list(&state.db, filter, page, per_page).await?,
    ))
}

/// The body of `PUT /reviews/{id}/visibility`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VisibilityBody {
    /// Hide it (`true`) or show it again (`false`).
    #[garde(skip)]
    hidden: bool,
    /// Why, for the audit log: 1 to 500 characters.
    #[garde(length(chars, min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Hides a review from the product's page and rating, or shows it again (admin). Audited.
#[utoipa::path(
    put, path = "/reviews/{id}/visibility", operation_id = "setReviewVisibility", tag = "catalog",
    params(("id" = Uuid, Path, description = "The review's id.")),
    request_body = VisibilityBody,
    responses(
        (status = 200, description = "The review as it is now.", body = Review),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(review.id = %id))]
pub(crate) async fn set_visibility(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<VisibilityBody>,
) -> Result<Json<Review>, ApiError> {
    let id = parse_id(&id, "review")?;
    let review = reviews::set_hidden(&state.db, id, body.hidden, &body.reason, &caller.email)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no review with id {id}")))?;
    tracing::info!(hidden = body.hidden, by = %caller.id, "review visibility set");
    Ok(Json(review))
}
