//! Accounts: `POST /auth/register`, `POST /auth/login`, `GET/PATCH /customers/{id}` (the
//! profile: name, phone, saved addresses), `GET /customers/{id}/orders`,
//! `PUT /customers/{id}/role`. Credentials that change by link or with the current password
//! are in [`super::recovery`].

use super::orders::AddressRequest;
use crate::auth::{Admin, Caller};
use crate::error::ErrorCode;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized};
use crate::validate;
use crate::{ApiError, AppState};
use activities::customers::profile::{
    self, AddressEntry, MAX_ADDRESSES, ProfileChange, ProfileError,
};
use activities::customers::{self, Customer, CustomersError, Role};
use activities::orders::queries::{OrderFilter, OrderPage, list_orders};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use contracts::CustomerId;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

pub(crate) fn from_customers(err: CustomersError) -> ApiError {
    match err {
        CustomersError::EmailTaken => {
            ApiError::conflict(ErrorCode::EmailTaken, "an account with this email exists")
                .with_field("email", "already registered")
        }
        CustomersError::InvalidCredentials => {
            ApiError::unauthorized(ErrorCode::InvalidCredentials, "wrong email or password")
        }
        CustomersError::InvalidLink => {
            let message = "the link is not valid or has expired; ask for a new one";
            ApiError::conflict(ErrorCode::InvalidLink, message).with_field("token", message)
        }
        CustomersError::WrongPassword => {
            let message = "the current password is wrong";
            ApiError::conflict(ErrorCode::WrongPassword, message)
                .with_field("current_password", message)
        }
        CustomersError::Db(db) => ApiError::from(db),
        other => ApiError::internal(other),
    }
}

/// The body of `POST /auth/register`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    /// Email, the login.
    #[garde(email, length(chars, max = 254))]
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// Name.
    #[garde(length(chars, min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// At least 10 characters.
    #[garde(length(chars, min = 10, max = 128))]
    #[schema(min_length = 10, max_length = 128)]
    password: String,
}

/// Creates a customer account.
#[utoipa::path(
    post, path = "/auth/register", operation_id = "register", tag = "accounts",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The account, with the customer role.", body = Customer),
        (status = 409, response = Conflict),
    ),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<RegisterBody>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let customer = customers::register(&state.db, &body.email, &body.name, &body.password)
        .await
        .map_err(from_customers)?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// The body of `POST /auth/login`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    /// Email.
    #[garde(length(chars, min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    email: String,
    /// Password.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    password: String,
}

/// An access token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse {
    /// Send it as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: u64,
    /// Whose token it is.
    customer: Customer,
}

/// Exchanges an email and password for an access token. Rate-limited per account and per
/// client address.
#[utoipa::path(
    post, path = "/auth/login", operation_id = "login", tag = "accounts",
    request_body = LoginBody,
    responses(
        (status = 200, description = "An access token.", body = TokenResponse),
        (status = 401, response = Unauthorized),
        (status = 429, response = TooManyRequests),
    ),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn login(
    State(state): State<AppState>,
    connection: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    ValidJson(body): ValidJson<LoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let client = connection.map(|axum::Extension(ConnectInfo(address))| address.ip());
    state.auth.admit_login(&body.email, client)?;
    let customer = customers::authenticate(&state.db, &body.email, &body.password, client)
        .await
        .map_err(|err| {
            if matches!(err, CustomersError::InvalidCredentials) {
                tracing::info!("login refused");
            }
            from_customers(err)
        })?;
    tracing::info!(customer.id = %customer.id, "logged in");
    TokenResponse::issued(&state, customer).map(Json)
}

impl TokenResponse {
    /// A fresh token for `customer`.
    pub(crate) fn issued(state: &AppState, customer: Customer) -> Result<Self, ApiError> {
        let (access_token, ttl) = state.auth.issue(&customer)?;
        Ok(Self {
            access_token,
            token_type: "Bearer",
            expires_in: ttl.as_secs(),
            customer,
        })
    }
}

pub(crate) fn parse_customer_id(id: &str) -> Result<CustomerId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid_path("id", "must be a UUID"))
}

/// Self or an admin; anyone else is told there is no such customer.
pub(crate) fn may_read(caller: &Caller, id: CustomerId) -> Result<(), ApiError> {
    if caller.id == id || caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no customer with id {id}")))
    }
}

/// A customer account (self or admin).
#[utoipa::path(
    get, path = "/customers/{id}", operation_id = "getCustomer", tag = "accounts",
    params(("id" = Uuid, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The account.", body = Customer),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %id))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Customer>, ApiError> {
    let id = parse_customer_id(&id)?;
    may_read(&caller, id)?;
    customers::find(&state.db, id)
        .await
        .map_err(from_customers)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no customer with id {id}")))
}

/// The query of `GET /customers/{id}/orders`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageParams {
    /// Page number, from 1.
    #[garde(inner(range(min = 1, max = 100_000)))]
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u64>,
    /// Per page, 1 to 100 (20 by default).
    #[garde(inner(range(min = 1, max = 100)))]
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u64>,
}

impl PageParams {
    /// The page asked for (1 by default).
    pub(crate) fn page(&self) -> u64 {
        self.page.unwrap_or(1)
    }

    /// Items per page asked for (20 by default).
    pub(crate) fn per_page(&self) -> u64 {
        self.per_page.unwrap_or(20)
    }
}

/// A customer's orders, newest first (self or admin).
#[utoipa::path(
    get, path = "/customers/{id}/orders", operation_id = "listCustomerOrders", tag = "accounts",
    params(("id" = Uuid, Path, description = "The customer's id."), PageParams),
    responses(
        (status = 200, description = "A page of orders.", body = OrderPage),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %id))]
pub(crate) async fn orders(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidQuery(params): ValidQuery<PageParams>,
) -> Result<Json<OrderPage>, ApiError> {
    let id = parse_customer_id(&id)?;
    may_read(&caller, id)?;
    let filter = OrderFilter {
        customer_id: Some(id),
        ..OrderFilter::default()
    };
    Ok(Json(
        list_orders(&state.db, &filter, params.page(), params.per_page()).await?,
    ))
}

/// The body of `PUT /customers/{id}/role`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    /// `customer`, `operator` or `admin`.
    #[garde(skip)]
    role: Role,
}

/// Changes an account's role (admin). The account's older tokens, which carry the old role,
/// are refused from then on (`token_revoked`): its holder logs in again.
#[utoipa::path(
    put, path = "/customers/{id}/role", operation_id = "setCustomerRole", tag = "accounts",
    params(("id" = Uuid, Path, description = "The customer's id.")),
    request_body = RoleBody,
    responses(
        (status = 200, description = "The account with its new role.", body = Customer),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %id))]
pub(crate) async fn set_role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RoleBody>,
) -> Result<Json<Customer>, ApiError> {
    let id = parse_customer_id(&id)?;
    let customer = customers::set_role(&state.db, id, body.role, &caller.email)
        .await
        .map_err(from_customers)?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id {id}")))?;
    state
        .auth
        .revocations()
        .raise(customer.id, customer.token_version);
    tracing::info!(role = %body.role, by = %caller.id, "role changed");
    Ok(Json(customer))
}

/// A saved address in a profile change: with the `id` of a saved address to keep it (and its
/// id), without one to add it.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedAddressBody {
    /// The id of the saved address this entry keeps; absent for a new one.
    #[garde(skip)]
    id: Option<uuid::Uuid>,
    /// A name for it, such as `Home` (1 to 50 characters).
    #[garde(inner(length(chars, min = 1, max = 50)))]
    #[schema(min_length = 1, max_length = 50)]
    label: Option<String>,
    /// The address.
    #[garde(dive)]
    address: AddressRequest,
}

/// The body of `PATCH /customers/{id}`: what to change; a field left out stays as it is.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileBody {
    /// The name, 1 to 200 characters.
    #[garde(inner(length(chars, min = 1, max = 200)))]
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// A phone number in E.164 form; `null` removes it.
    #[garde(inner(inner(custom(validate::e164))))]
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$", nullable)]
    #[serde(default, deserialize_with = "crate::extract::present")]
    phone: Option<Option<String>>,
    /// Every saved address (at most 10), replacing the list.
    #[garde(length(max = MAX_ADDRESSES), dive)]
    #[schema(max_items = 10)]
    addresses: Option<Vec<SavedAddressBody>>,
}

/// Changes a customer's profile: name, phone, saved addresses (self or an admin). Audited.
#[utoipa::path(
    patch, path = "/customers/{id}", operation_id = "updateCustomer", tag = "accounts",
    params(("id" = Uuid, Path, description = "The customer's id.")),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The account as it is now.", body = Customer),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all, fields(customer.id = %id))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ProfileBody>,
) -> Result<Json<Customer>, ApiError> {
    let id = parse_customer_id(&id)?;
    may_read(&caller, id)?;
    let change = ProfileChange {
        name: body.name,
        phone: body.phone,
        addresses: body.addresses.map(|addresses| {
            addresses
                .into_iter()
                .map(|a| AddressEntry {
                    id: a.id,
                    label: a.label,
                    address: a.address.into(),
                })
                .collect()
        }),
    };
    profile::update(&state.db, id, change, &caller.email)
        .await
        .map_err(|err| match err {
            ProfileError::UnknownAddress { index, id } => {
                let message = format!("{id} is not one of the saved addresses");
                ApiError::conflict(ErrorCode::UnknownAddress, message.clone())
                    .with_field(&format!("addresses[{index}].id"), message)
            }
            ProfileError::TooManyAddresses => ApiError::invalid_field(
                ErrorCode::ValidationFailed,
                "addresses",
                format!("at most {MAX_ADDRESSES} addresses"),
            ),
            ProfileError::Customers(err) => from_customers(err),
        })?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no customer with id {id}")))
}
