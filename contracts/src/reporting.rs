//! The reporting domain: the DailySalesReport workflow's contract and the reporting service's
//! activity.
//!
//! A Temporal Schedule ([`SCHEDULE_ID`]) starts DailySalesReport every day; it asks the
//! reporting service for the report of the day before and emails it to every admin through
//! SendNotification, one notification per admin and day, so a report is never sent twice.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Workflow type name of DailySalesReport.
pub const DAILY_SALES_REPORT_WORKFLOW: &str = "DailySalesReport";

/// The id of the Temporal Schedule that runs DailySalesReport (its runs are
/// `daily-sales-report-<time>`).
pub const SCHEDULE_ID: &str = "daily-sales-report";

/// The notification id of one admin's report of one day.
pub fn report_notification_id(day: &str, admin_email: &str) -> String {
    format!("daily-sales-report-{day}-{admin_email}")
}

/// What DailySalesReport reports on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyReportInput {
    /// The day (`YYYY-MM-DD`, UTC); the day before the run when absent (what the schedule
    /// does).
    #[serde(default)]
    pub day: Option<String>,
}

/// Prepare the report of a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareDailyReport {
    /// The day asked for, if any.
    pub day: Option<String>,
    /// When the workflow started (Unix seconds): without a day, the report is of the day
    /// before, which this fixes for every retry and replay.
    pub as_of_unix_secs: i64,
}

/// A day's report, ready to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyReport {
    /// The day reported on (`YYYY-MM-DD`).
    pub day: String,
    /// The report as plain text.
    pub body: String,
    /// The admins' email addresses.
    pub recipients: Vec<String>,
}

/// How DailySalesReport ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyReportOutcome {
    /// The day reported on.
    pub day: String,
    /// Who it was sent to.
    pub sent_to: Vec<String>,
}

/// Activities of the reporting service (task queue `reporting`).
pub struct ReportingActivities;

#[activity_definitions]
impl ReportingActivities {
    /// Builds the sales report of a day and lists the admins to send it to. Reads only.
    #[activity(name = "PrepareDailyReport")]
    pub fn prepare_daily_report(request: PrepareDailyReport) -> Result<DailyReport, ActivityError> {
        unimplemented!()
    }

    /// The admins' email addresses (whom the platform tells about itself). Reads only.
    #[activity(name = "ListAdmins")]
    pub fn admins() -> Result<Vec<String>, ActivityError> {
        unimplemented!()
    }
}

/// The activity markers, for implementations to name with `#[activity(definition = ...)]`.
pub mod activities {
    pub use super::reporting_activities::{Admins, PrepareDailyReport};
}
