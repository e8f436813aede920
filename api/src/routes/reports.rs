//! Reporting: `GET /report/sales` and `GET /analytics/overview` (operators and admins), read
//! by the reporting service from views of its own schema.

use crate::auth::Staff;
use crate::error::ErrorCode;
use crate::extract::ValidQuery;
use crate::openapi::Forbidden;
use crate::{ApiError, AppState};
use activities::reporting::{self, GroupBy, Overview, Period, ReportingError, SalesReport};
use axum::Json;
use axum::extract::State;
use chrono::{Datelike as _, Days, NaiveDate, Utc};
use serde::Deserialize;

/// The period when none is given: the last 30 days, today included.
const DEFAULT_DAYS: u64 = 30;

/// The query of `GET /report/sales`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SalesParams {
    /// First day, `YYYY-MM-DD` (UTC); 29 days before `to` by default.
    #[garde(skip)]
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last day, included; today by default. Before `from`, the period is empty.
    #[garde(skip)]
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// `day` (the default) or `product`.
    #[garde(skip)]
    group_by: Option<GroupBy>,
}

/// The query of `GET /analytics/overview`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeriodParams {
    /// First day, `YYYY-MM-DD` (UTC); 29 days before `to` by default.
    #[garde(skip)]
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last day, included; today by default. Before `from`, the period is empty.
    #[garde(skip)]
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
}

/// The days from `from` to `to`, both included. Any pair of RFC 3339 dates is a period, so
/// that a request valid against the document is answered: one whose `to` is before its
/// `from` covers no day, like any filter that matches nothing. (A report reads every order of
/// its period; a longer one costs only the orders in it.) Dates beyond RFC 3339's four-digit
/// years, which chrono reads but Postgres cannot store, are refused by name.
fn period(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Period, ApiError> {
    for (field, day) in [("from", from), ("to", to)] {
        if day.is_some_and(|day| !(0..=9999).contains(&day.year())) {
            return Err(ApiError::invalid_field(
                ErrorCode::ValidationFailed,
                field,
                "must be a date from 0000-01-01 to 9999-12-31",
            ));
        }
    }
    let to = to.unwrap_or_else(|| Utc::now().date_naive());
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to),
    };
    Ok(Period { from, to })
}

fn from_reporting(err: ReportingError) -> ApiError {
    match err {
        ReportingError::Db(db) => db.into(),
        other => ApiError::internal(other),
    }
}

/// Sales per day or per product over a period, with totals per currency (operators and
/// admins). Sales are money captured; per product, the line totals of paid orders.
#[utoipa::path(
    get, path = "/report/sales", operation_id = "salesReport", tag = "reporting",
    params(SalesParams),
    responses(
        (status = 200, description = "The report.", body = SalesReport),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn sales(
    State(state): State<AppState>,
    _: Staff,
    ValidQuery(params): ValidQuery<SalesParams>,
) -> Result<Json<SalesReport>, ApiError> {
    let period = period(params.from, params.to)?;
    reporting::sales(&state.db, period, params.group_by.unwrap_or(GroupBy::Day))
        .await
        .map(Json)
        .map_err(from_reporting)
}

/// The period's key numbers: orders, revenue, average order value, payment-failure rate,
/// time to ship and to deliver (operators and admins).
#[utoipa::path(
    get, path = "/analytics/overview", operation_id = "analyticsOverview", tag = "reporting",
    params(PeriodParams),
    responses(
        (status = 200, description = "The numbers.", body = Overview),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn overview(
    State(state): State<AppState>,
    _: Staff,
    ValidQuery(params): ValidQuery<PeriodParams>,
) -> Result<Json<Overview>, ApiError> {
    let period = period(params.from, params.to)?;
    reporting::overview(&state.db, period)
        .await
        .map(Json)
        .map_err(from_reporting)
}
