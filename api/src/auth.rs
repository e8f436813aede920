//! Authentication and authorisation: JWT access tokens and the [`Caller`] extractor.
//!
//! `POST /auth/login` exchanges an email and password for an HS256 JWT (`sub` = customer id,
//! `email`, `role`, `iat`, `exp`, `iss`), signed with the configured secret. Every protected
//! handler takes a [`Caller`], which refuses a missing, malformed, wrongly signed or expired
//! token with 401; operations for staff or admins take [`Staff`] or [`Admin`], which also refuse
//! a too-small role with 403 before the body is read. Resources belonging to
//! someone else answer 404, as if they did not exist, so ids cannot be probed.
//!
//! Logins are rate-limited per account and per client address (GCRA, in process: with several
//! API replicas the effective limit is per replica), and so are password-reset requests.
//!
//! A token carries the account's token version (`ver`) it was issued under. Resetting or
//! changing the password, changing the email or the role bumps the version, and a token of an
//! older version is refused (`token_revoked`). Each instance keeps the versions above zero in
//! memory ([`Revocations`]): loaded at start, told of each bump by the database
//! (`emporium_tokens`, on the feed hub's connection), loaded again whenever it may have missed
//! one. So checking costs no query per request.

use crate::error::ErrorCode;
use crate::{ApiError, AppState};
use activities::customers::{Customer, Role};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use contracts::CustomerId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

const ISSUER: &str = "emporium";
/// Password-reset requests allowed per email per hour.
pub const RESETS_PER_ACCOUNT_PER_HOUR: u32 = 5;

/// Token settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HMAC secret the tokens are signed with.
    pub jwt_secret: SecretString,
    /// How long a token is valid.
    pub token_ttl: Duration,
    /// Login attempts allowed per account per minute.
    pub logins_per_account_per_minute: u32,
    /// Login attempts allowed per client address per minute.
    pub logins_per_address_per_minute: u32,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The customer id.
    pub sub: CustomerId,
    /// The customer's email.
    pub email: String,
    /// The customer's role.
    pub role: Role,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// The account's token version when it was issued (absent in tokens from before
    /// versions: 0).
    #[serde(default)]
    pub ver: u32,
}

/// Signs and checks tokens, and limits logins.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    by_account: Arc<DefaultKeyedRateLimiter<String>>,
    by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    resets_by_account: Arc<DefaultKeyedRateLimiter<String>>,
    revocations: Revocations,
    config: AuthConfig,
}

/// The token versions above zero, by account: what [`Auth::caller`] holds tokens to.
#[derive(Clone, Default)]
pub struct Revocations(Arc<std::sync::RwLock<std::collections::HashMap<CustomerId, u32>>>);

impl Revocations {
    /// The version tokens of `customer` must carry at least.
    fn current(&self, customer: CustomerId) -> u32 {
        self.0
            .read()
            .map_or(0, |versions| versions.get(&customer).copied().unwrap_or(0))
    }

    /// `customer`'s tokens now need `version` (never lowered: announcements may cross).
    pub fn raise(&self, customer: CustomerId, version: u32) {
        if let Ok(mut versions) = self.0.write() {
            let known = versions.entry(customer).or_insert(0);
            *known = (*known).max(version);
        }
    }

    /// Loads every account's version from the database.
    pub async fn load(&self, db: &sea_orm::DatabaseConnection) -> Result<(), ApiError> {
        let versions = activities::customers::recovery::token_versions(db)
            .await
            .map_err(ApiError::internal)?;
        for (customer, version) in versions {
            self.raise(customer, version);
        }
        Ok(())
    }

    /// Loads the versions, then follows the feed hub's news of them until the process ends,
    /// loading again after the hub may have missed some.
    pub async fn follow(self, db: sea_orm::DatabaseConnection, feed: &crate::feed::FeedHub) {
        let mut news = feed.subscribe();
        if let Err(err) = self.load(&db).await {
            tracing::warn!(code = err.code(), "could not load token versions");
        }
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match news.recv().await {
                    Ok(crate::feed::FeedNews::TokenVersion(customer, version)) => {
                        self.raise(customer, version);
                    }
                    Ok(crate::feed::FeedNews::CatchUp) | Err(RecvError::Lagged(_)) => {
                        if let Err(err) = self.load(&db).await {
                            tracing::warn!(code = err.code(), "could not reload token versions");
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Auth {
    /// Auth with these settings.
    pub fn new(config: &AuthConfig) -> Self {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: config.token_ttl,
            by_account: Arc::new(RateLimiter::keyed(per_minute(
                config.logins_per_account_per_minute,
            ))),
            by_address: Arc::new(RateLimiter::keyed(per_minute(
                config.logins_per_address_per_minute,
            ))),
            resets_by_account: Arc::new(RateLimiter::keyed(Quota::per_hour(
                NonZeroU32::new(RESETS_PER_ACCOUNT_PER_HOUR).unwrap_or(NonZeroU32::MIN),
            ))),
            revocations: Revocations::default(),
            config: config.clone(),
        }
    }

    /// A token for this account.
    pub fn issue(&self, customer: &Customer) -> Result<(String, Duration), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: customer.id,
            email: customer.email.clone(),
            role: customer.role,
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX),
            iss: ISSUER.to_owned(),
            ver: customer
                .token_version
                .max(self.revocations.current(customer.id)),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok((token, self.ttl))
    }

    /// Who holds `token` (for the live socket, whose token comes in a message, not a header).
    pub fn caller(&self, token: &str) -> Result<Caller, ApiError> {
        let claims = self.verify(token)?;
        if claims.ver < self.revocations.current(claims.sub) {
            return Err(ApiError::unauthorized(
                ErrorCode::TokenRevoked,
                "the password or email changed since this token was issued; log in again",
            ));
        }
        Ok(Caller {
            id: claims.sub,
            email: claims.email,
            role: claims.role,
            token_version: claims.ver,
        })
    }

    fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::unauthorized(
                    ErrorCode::TokenExpired,
                    "the access token has expired; log in again",
                ),
                _ => {
                    ApiError::unauthorized(ErrorCode::InvalidToken, "the access token is not valid")
                }
            })
    }

    /// Counts a login attempt; refuses it when the account or the address is over its limit.
    pub fn admit_login(&self, email: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        use governor::clock::{Clock, DefaultClock};
        let email = email.trim().to_lowercase();
        let now = DefaultClock::default().now();
        if let Some(address) = address
            && let Err(not_until) = self.by_address.check_key(&address)
        {
            return Err(ApiError::too_many_requests(not_until.wait_time_from(now)));
        }
        if let Err(not_until) = self.by_account.check_key(&email) {
            return Err(ApiError::too_many_requests(not_until.wait_time_from(now)));
        }
        Ok(())
    }

    /// Counts a password-reset request: per client address as logins are (they share the
    /// address's budget), and at most [`RESETS_PER_ACCOUNT_PER_HOUR`] per email, so that
    /// nobody floods an inbox.
    pub fn admit_reset(&self, email: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        use governor::clock::{Clock, DefaultClock};
        let now = DefaultClock::default().now();
        if let Some(address) = address
            && let Err(not_until) = self.by_address.check_key(&address)
        {
            return Err(ApiError::too_many_requests(not_until.wait_time_from(now)));
        }
        let email = email.trim().to_lowercase();
        if let Err(not_until) = self.resets_by_account.check_key(&email) {
            return Err(ApiError::too_many_requests(not_until.wait_time_from(now)));
        }
        Ok(())
    }

    /// The same keys with limits and token versions of its own, as another process holding
    /// the same secret has (a second API instance in tests).
    pub fn separate(&self) -> Self {
        Self::new(&self.config)
    }

    /// The token versions this instance holds tokens to.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }
}

/// Whoever sent the request, from its bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Their customer id.
    pub id: CustomerId,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// The token version their token carries.
    pub token_version: u32,
}

impl Caller {
    /// Refuses (403) a caller whose role is below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this needs the {role} role")))
        }
    }

    /// Operators and admins see everyone's orders.
    pub fn is_staff(&self) -> bool {
        self.role >= Role::Operator
    }

    /// Whether the caller may see what belongs to `owner`.
    pub fn may_see(&self, owner: Option<CustomerId>) -> bool {
        self.is_staff() || owner == Some(self.id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    ErrorCode::MissingToken,
                    "log in and send `Authorization: Bearer <token>`",
                )
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    ErrorCode::InvalidToken,
                    "expected `Authorization: Bearer <token>`",
                )
            })?;
        let caller = state.auth.caller(token.trim())?;
        tracing::Span::current().record("customer.id", tracing::field::display(caller.id));
        Ok(caller)
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

/// An admin: refused with 401 without a valid token and 403 below the role, before the
/// request's body is read, so that nobody learns an operation's body rules without the right
/// to call it.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

/// An operator or an admin (staff), refused like [`Admin`].
#[derive(Debug, Clone)]
pub struct Staff(pub Caller);

/// The caller, if their role is at least `role`.
async fn caller_with(parts: &mut Parts, state: &AppState, role: Role) -> Result<Caller, ApiError> {
    let caller = Caller::from_request_parts(parts, state).await?;
    caller.require(role)?;
    Ok(caller)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller_with(parts, state, Role::Admin).await.map(Self)
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller_with(parts, state, Role::Operator).await.map(Self)
    }
}
