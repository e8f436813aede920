//! The reporting service (schema `reporting`): sales reports, analytics and the daily report.
//!
//! Reporting owns no data: it reads the other services only through the views of its own
//! schema (`reporting.orders`, `reporting.order_lines`, `reporting.payment_attempts`,
//! `reporting.admins`; see the migration), never their tables. Everything here only reads.
//!
//! Definitions, so the numbers mean one thing everywhere:
//! - an order counts on the day (UTC) it was placed;
//! - *sales* are money captured (the carrier had the parcel), *refunded* what was given back,
//!   *net* the difference; amounts are per currency, in minor units;
//! - per product, sales are the line totals of paid orders (before any order-level coupon);
//! - the payment-failure rate is declined authorisations over decided ones (authorised,
//!   captured, voided or declined);
//! - time to ship and to deliver run from placing the order to the first `shipped` or
//!   `delivered` status.

use crate::failure::{IntoActivityError, retryable};
use chrono::{DateTime, Days, NaiveDate, Utc};
use contracts::payments::PaymentStatus;
use contracts::reporting::{DailyReport, PrepareDailyReport};
use contracts::{Currency, Money};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement, Value,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportingError {
    /// The database failed.
    #[error("reporting database error: {0}")]
    Db(#[from] DbErr),
    /// A stored amount has an impossible currency.
    #[error("stored currency `{0}` is invalid")]
    Currency(String),
    /// The day asked for is not a date.
    #[error("`{0}` is not a day (YYYY-MM-DD)")]
    Day(String),
}

impl IntoActivityError for ReportingError {
    fn into_activity_error(self) -> ActivityError {
        match self {
            ReportingError::Day(_) => crate::failure::non_retryable("InvalidDay", self.to_string()),
            other => retryable(other),
        }
    }
}

/// A period of whole days, UTC: `from` and `to` both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

impl Period {
    fn start(self) -> DateTime<Utc> {
        self.from.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    fn end(self) -> DateTime<Utc> {
        self.to
            .checked_add_days(Days::new(1))
            .unwrap_or(self.to)
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
    }

    fn bounds(self) -> [Value; 2] {
        [self.start().into(), self.end().into()]
    }
}

/// How sales are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One row per day and currency.
    Day,
    /// One row per product and currency.
    Product,
}

/// One row of a sales report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesRow {
    /// The day (`YYYY-MM-DD`) or the product's SKU.
    pub key: String,
    /// The product's name (by product).
    pub name: Option<String>,
    /// Orders placed (by day), or paid orders with this product (by product).
    pub orders: i64,
    /// Of those, orders paid for (by day; by product every order counted is paid).
    pub paid_orders: i64,
    /// Units sold (in paid orders).
    pub units: i64,
    /// Money captured (by day), or line totals of paid orders (by product).
    pub sales: Money,
    /// Money refunded for those orders (by day).
    pub refunded: Option<Money>,
    /// `sales - refunded` (by day).
    pub net: Option<Money>,
}

/// The totals of a report, one per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesTotals {
    /// Orders placed.
    pub orders: i64,
    /// Orders paid for.
    pub paid_orders: i64,
    /// Units sold.
    pub units: i64,
    /// Money captured.
    pub sales: Money,
    /// Money refunded.
    pub refunded: Money,
    /// `sales - refunded`.
    pub net: Money,
}

/// `GET /report/sales`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesReport {
    /// First day (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// How rows are grouped.
    pub group_by: GroupBy,
    /// The rows: by day oldest first, by product best-selling first.
    pub rows: Vec<SalesRow>,
    /// The whole period, one entry per currency.
    pub totals: Vec<SalesTotals>,
}

fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn money(amount_minor: i64, currency: &str) -> Result<Money, ReportingError> {
    Currency::new(currency)
        .map(|c| Money::new(amount_minor, c))
        .map_err(|_| ReportingError::Currency(currency.to_owned()))
}

#[derive(Debug, FromQueryResult)]
struct DayRow {
    key: String,
    currency: String,
    orders: i64,
    paid_orders: i64,
    units: i64,
    sales: i64,
    refunded: i64,
}

#[derive(Debug, FromQueryResult)]
struct ProductRow {
    key: String,
    name: String,
    currency: String,
    orders: i64,
    units: i64,
    sales: i64,
}

async fn days(db: &impl ConnectionTrait, period: Period) -> Result<Vec<DayRow>, DbErr> {
    DayRow::find_by_statement(stmt(
        "SELECT to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS key,
                currency,
                count(*)::bigint AS orders,
                count(*) FILTER (WHERE captured_minor > 0)::bigint AS paid_orders,
                coalesce(sum(units) FILTER (WHERE captured_minor > 0), 0)::bigint AS units,
                coalesce(sum(captured_minor), 0)::bigint AS sales,
                coalesce(sum(refunded_minor), 0)::bigint AS refunded
           FROM reporting.orders
          WHERE placed_at >= $1 AND placed_at < $2
          GROUP BY 1, 2
          ORDER BY 1, 2",
        period.bounds(),
    ))
    .all(db)
    .await
}

/// The days' totals, one per currency (by currency code).
fn totals_per_currency(days: &[DayRow]) -> Result<Vec<SalesTotals>, ReportingError> {
    let mut sums: BTreeMap<&str, [i64; 5]> = BTreeMap::new();
    for row in days {
        let sum = sums.entry(row.currency.as_str()).or_default();
        for (total, value) in sum.iter_mut().zip([
            row.orders,
            row.paid_orders,
            row.units,
            row.sales,
            row.refunded,
        ]) {
            *total += value;
        }
    }
    sums.into_iter()
        .map(
            |(currency, [orders, paid_orders, units, sales, refunded])| {
                Ok(SalesTotals {
                    orders,
                    paid_orders,
                    units,
                    sales: money(sales, currency)?,
                    refunded: money(refunded, currency)?,
                    net: money(sales - refunded, currency)?,
                })
            },
        )
        .collect()
}

/// Sales in the period, grouped by day or by product.
pub async fn sales(
    db: &DatabaseConnection,
    period: Period,
    group_by: GroupBy,
) -> Result<SalesReport, ReportingError> {
    let by_day = days(db, period).await?;
    let totals = totals_per_currency(&by_day)?;
    let rows = match group_by {
        GroupBy::Day => by_day
            .iter()
            .map(|row| {
                Ok(SalesRow {
                    key: row.key.clone(),
                    name: None,
                    orders: row.orders,
                    paid_orders: row.paid_orders,
                    units: row.units,
                    sales: money(row.sales, &row.currency)?,
                    refunded: Some(money(row.refunded, &row.currency)?),
                    net: Some(money(row.sales - row.refunded, &row.currency)?),
                })
            })
            .collect::<Result<Vec<_>, ReportingError>>()?,
        GroupBy::Product => ProductRow::find_by_statement(stmt(
            "SELECT sku AS key,
                    max(name) AS name,
                    currency,
                    count(DISTINCT order_id)::bigint AS orders,
                    sum(quantity)::bigint AS units,
                    sum(line_total_minor)::bigint AS sales
               FROM reporting.order_lines
              WHERE paid AND placed_at >= $1 AND placed_at < $2
              GROUP BY sku, currency
              ORDER BY sales DESC, sku",
            period.bounds(),
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(SalesRow {
                sales: money(row.sales, &row.currency)?,
                key: row.key,
                name: Some(row.name),
                orders: row.orders,
                paid_orders: row.orders,
                units: row.units,
                refunded: None,
                net: None,
            })
        })
        .collect::<Result<Vec<_>, ReportingError>>()?,
    };
    Ok(SalesReport {
        from: period.from.to_string(),
        to: period.to.to_string(),
        group_by,
        rows,
        totals,
    })
}

/// Revenue in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Revenue {
    /// Money captured.
    pub sales: Money,
    /// Money refunded.
    pub refunded: Money,
    /// `sales - refunded`.
    pub net: Money,
    /// Orders paid for.
    pub paid_orders: i64,
    /// `sales / paid_orders`, rounded down to the minor unit.
    pub average_order_value: Money,
}

/// How long a step took, over the orders that made it, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Durations {
    /// Orders measured.
    pub count: i64,
    /// Mean.
    pub mean_secs: Option<f64>,
    /// Median.
    pub p50_secs: Option<f64>,
    /// 95th percentile.
    pub p95_secs: Option<f64>,
}

/// `GET /analytics/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// First day (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Orders placed.
    pub orders: i64,
    /// Orders placed, by current status.
    pub orders_by_status: BTreeMap<String, i64>,
    /// Revenue, one entry per currency.
    pub revenue: Vec<Revenue>,
    /// Payment authorisations decided (authorised, captured, voided or declined).
    pub payment_attempts: i64,
    /// Of those, declined.
    pub payments_declined: i64,
    /// `payments_declined / payment_attempts` (0 when there were none).
    pub payment_failure_rate: f64,
    /// From placing an order to the carrier having it.
    pub time_to_ship: Durations,
    /// From placing an order to its delivery.
    pub time_to_deliver: Durations,
}

#[derive(Debug, FromQueryResult)]
struct StatusCount {
    status: String,
    orders: i64,
}

#[derive(Debug, FromQueryResult)]
struct PaymentCounts {
    decided: i64,
    declined: i64,
}

impl PaymentCounts {
    /// Declined of decided, to four decimals (0 when nothing was decided).
    fn failure_rate(&self) -> f64 {
        if self.decided == 0 {
            return 0.0;
        }
        // A ratio of counts, not money: a float is the right type.
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let rate = self.declined as f64 / self.decided as f64;
        (rate * 10_000.0).round() / 10_000.0
    }
}

#[derive(Debug, FromQueryResult)]
struct DurationRow {
    count: i64,
    mean_secs: Option<f64>,
    p50_secs: Option<f64>,
    p95_secs: Option<f64>,
}

async fn durations(
    db: &DatabaseConnection,
    period: Period,
    milestone: &str,
) -> Result<Durations, DbErr> {
    // `milestone` is one of two column names fixed below, never input.
    let sql = format!(
        "SELECT count(*)::bigint AS count,
                avg(secs)::float8 AS mean_secs,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY secs)::float8 AS p50_secs,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY secs)::float8 AS p95_secs
           FROM (SELECT extract(epoch FROM {milestone} - placed_at) AS secs
                   FROM reporting.orders
                  WHERE {milestone} IS NOT NULL AND placed_at >= $1 AND placed_at < $2) d"
    );
    let row = DurationRow::find_by_statement(stmt(&sql, period.bounds()))
        .one(db)
        .await?;
    Ok(row.map_or(
        Durations {
            count: 0,
            mean_secs: None,
            p50_secs: None,
            p95_secs: None,
        },
        |row| Durations {
            count: row.count,
            mean_secs: row.mean_secs,
            p50_secs: row.p50_secs,
            p95_secs: row.p95_secs,
        },
    ))
}

/// The period's key numbers.
pub async fn overview(db: &DatabaseConnection, period: Period) -> Result<Overview, ReportingError> {
    let totals = totals_per_currency(&days(db, period).await?)?;
    let orders = totals.iter().map(|t| t.orders).sum();
    let payments = payment_counts(db, period).await?;
    Ok(Overview {
        from: period.from.to_string(),
        to: period.to.to_string(),
        orders,
        orders_by_status: orders_by_status(db, period).await?,
        revenue: totals.into_iter().map(revenue).collect(),
        payment_attempts: payments.decided,
        payments_declined: payments.declined,
        payment_failure_rate: payments.failure_rate(),
        time_to_ship: durations(db, period, "shipped_at").await?,
        time_to_deliver: durations(db, period, "delivered_at").await?,
    })
}

/// One currency's revenue, with its average order value.
fn revenue(totals: SalesTotals) -> Revenue {
    let average = if totals.paid_orders > 0 {
        totals.sales.amount_minor / totals.paid_orders
    } else {
        0
    };
    Revenue {
        average_order_value: Money::new(average, totals.sales.currency.clone()),
        paid_orders: totals.paid_orders,
        sales: totals.sales,
        refunded: totals.refunded,
        net: totals.net,
    }
}

/// Orders placed in the period, by their status now.
async fn orders_by_status(
    db: &DatabaseConnection,
    period: Period,
) -> Result<BTreeMap<String, i64>, ReportingError> {
    Ok(StatusCount::find_by_statement(stmt(
        "SELECT status, count(*)::bigint AS orders FROM reporting.orders
          WHERE placed_at >= $1 AND placed_at < $2 GROUP BY status",
        period.bounds(),
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|row| (row.status, row.orders))
    .collect())
}

/// Payment attempts of the period the provider decided on, and how many it declined.
async fn payment_counts(
    db: &DatabaseConnection,
    period: Period,
) -> Result<PaymentCounts, ReportingError> {
    let decided: Vec<&str> = PaymentStatus::ALL
        .into_iter()
        .filter(|status| status.is_decided())
        .map(PaymentStatus::as_str)
        .collect();
    let placeholders: Vec<String> = (4..4 + decided.len()).map(|n| format!("${n}")).collect();
    let values = period
        .bounds()
        .into_iter()
        .chain([PaymentStatus::Declined.as_str().into()])
        .chain(decided.into_iter().map(Value::from));
    let sql = format!(
        "SELECT count(*) FILTER (WHERE status IN ({}))::bigint AS decided,
                count(*) FILTER (WHERE status = $3)::bigint AS declined
           FROM reporting.payment_attempts
          WHERE created_at >= $1 AND created_at < $2",
        placeholders.join(", ")
    );
    Ok(PaymentCounts::find_by_statement(stmt(&sql, values))
        .one(db)
        .await?
        .unwrap_or(PaymentCounts {
            decided: 0,
            declined: 0,
        }))
}

/// The admins' email addresses, who receive the daily report.
pub async fn admin_emails(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    #[derive(FromQueryResult)]
    struct Admin {
        email: String,
    }
    Ok(Admin::find_by_statement(stmt(
        "SELECT email FROM reporting.admins ORDER BY email",
        [],
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|admin| admin.email)
    .collect())
}

/// The day a daily report covers: the one asked for, or the day before `as_of`.
pub fn report_day(day: Option<&str>, as_of_unix_secs: i64) -> Result<NaiveDate, ReportingError> {
    match day {
        Some(day) => NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| ReportingError::Day(day.to_owned())),
        None => DateTime::from_timestamp(as_of_unix_secs, 0)
            .map(|at| at.date_naive())
            .and_then(|today| today.checked_sub_days(Days::new(1)))
            .ok_or_else(|| ReportingError::Day(as_of_unix_secs.to_string())),
    }
}

/// The daily report as plain text: the day's totals, its best sellers and its key numbers.
pub fn render_daily(day: NaiveDate, by_product: &SalesReport, overview: &Overview) -> String {
    let mut text = String::new();
    if by_product.totals.is_empty() {
        let _ = writeln!(text, "No orders were placed on {day}.");
    }
    for total in &by_product.totals {
        let _ = writeln!(
            text,
            "Orders placed: {}   paid: {}   units sold: {}\nSales: {}   refunded: {}   net: {}",
            total.orders, total.paid_orders, total.units, total.sales, total.refunded, total.net
        );
    }
    if !by_product.rows.is_empty() {
        let _ = writeln!(text, "\nBy product:");
        for row in &by_product.rows {
            let _ = writeln!(
                text,
                "  {:<16} {:>5} units  {:>14}  {}",
                row.key,
                row.units,
                row.sales.to_string(),
                row.name.as_deref().unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        text,
        "\nPayment authorisations: {} decided, {} declined ({:.1}%).",
        overview.payment_attempts,
        overview.payments_declined,
        overview.payment_failure_rate * 100.0
    );
    for (name, measured) in [
        ("Time to ship", &overview.time_to_ship),
        ("Time to deliver", &overview.time_to_deliver),
    ] {
        if let (Some(p50), Some(p95)) = (measured.p50_secs, measured.p95_secs) {
            let _ = writeln!(
                text,
                "{name}: median {p50:.0} s, 95th percentile {p95:.0} s ({} orders).",
                measured.count
            );
        }
    }
    text
}

/// The reporting service's activities.
pub struct ReportingActivities {
    db: DatabaseConnection,
}

#[activities]
impl ReportingActivities {
    #[activity(definition = contracts::reporting::activities::PrepareDailyReport)]
    #[tracing::instrument(skip_all, fields(day = ?request.day))]
    pub async fn prepare_daily_report(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: PrepareDailyReport,
    ) -> Result<DailyReport, ActivityError> {
        self.prepare(&request)
            .await
            .map_err(IntoActivityError::into_activity_error)
    }

    #[activity(definition = contracts::reporting::activities::Admins)]
    pub async fn admins(
        self: Arc<Self>,
        _ctx: ActivityContext,
    ) -> Result<Vec<String>, ActivityError> {
        admin_emails(&self.db)
            .await
            .map_err(|err| ReportingError::from(err).into_activity_error())
    }
}

impl ReportingActivities {
    /// Reporting activities on this database.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The report of the day asked for (or the day before `as_of`) and who receives it.
    pub async fn prepare(
        &self,
        request: &PrepareDailyReport,
    ) -> Result<DailyReport, ReportingError> {
        let day = report_day(request.day.as_deref(), request.as_of_unix_secs)?;
        let period = Period { from: day, to: day };
        let by_product = sales(&self.db, period, GroupBy::Product).await?;
        let overview = overview(&self.db, period).await?;
        let recipients = admin_emails(&self.db).await?;
        tracing::info!(%day, recipients = recipients.len(), "daily report prepared");
        Ok(DailyReport {
            day: day.to_string(),
            body: render_daily(day, &by_product, &overview),
            recipients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_report_covers_the_day_before_unless_told() {
        // 2026-11-25T06:00:00Z
        let as_of = 1_795_586_400;
        assert_eq!(
            report_day(None, as_of).expect("a day").to_string(),
            "2026-11-24"
        );
        assert_eq!(
            report_day(Some("2026-01-31"), as_of)
                .expect("a day")
                .to_string(),
            "2026-01-31"
        );
        assert!(matches!(
            report_day(Some("31/01/2026"), as_of),
            Err(ReportingError::Day(_))
        ));
    }

    #[test]
    fn a_period_runs_from_the_first_midnight_to_the_midnight_after_the_last_day() {
        let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
        let period = Period {
            from: day("2026-02-28"),
            to: day("2026-03-01"),
        };
        assert_eq!(period.start().to_rfc3339(), "2026-02-28T00:00:00+00:00");
        assert_eq!(period.end().to_rfc3339(), "2026-03-02T00:00:00+00:00");
    }
}
