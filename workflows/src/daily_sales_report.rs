//! DailySalesReport (task queue `reporting`), started every day by the Temporal Schedule
//! `daily-sales-report`: the sales report of the day before, emailed to every admin.
//!
//! The reporting service prepares the report (reading only its own views); each admin gets it
//! as one SendNotification whose id is the day and the admin's address, so a schedule that
//! fires twice, or an operator who runs it again, never mails anyone the same day twice.

use crate::notify::notify;
use crate::options::forward;
use contracts::notifications::{Recipient, Template, TemplateData};
use contracts::reporting::{
    DAILY_SALES_REPORT_WORKFLOW, DailyReportInput, DailyReportOutcome, PrepareDailyReport,
    ReportingActivities, report_notification_id,
};
use contracts::{Service, TaskQueues};
use std::time::UNIX_EPOCH;
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

/// The DailySalesReport workflow's state.
#[workflow]
pub struct DailySalesReport {
    input: DailyReportInput,
}

#[workflow_methods]
impl DailySalesReport {
    #[init]
    fn new(_ctx: &WorkflowContextView, input: DailyReportInput) -> Self {
        Self { input }
    }

    /// Prepares the report and sends it to each admin.
    #[run(name = DAILY_SALES_REPORT_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<DailyReportOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Reporting);
        let as_of_unix_secs = ctx
            .workflow_time()
            .and_then(|now| now.duration_since(UNIX_EPOCH).ok())
            .and_then(|since| i64::try_from(since.as_secs()).ok())
            .unwrap_or_default();
        let report = ctx
            .execute_activity(
                ReportingActivities::prepare_daily_report,
                PrepareDailyReport {
                    day: input.day,
                    as_of_unix_secs,
                },
                forward(&queues, Service::Reporting),
            )
            .await?;
        for admin in &report.recipients {
            notify(
                ctx,
                &queues,
                report_notification_id(&report.day, admin),
                Recipient {
                    email: Some(admin.clone()),
                    ..Recipient::default()
                },
                Template::DailySalesReport,
                TemplateData {
                    subject: Some(report.day.clone()),
                    body: Some(report.body.clone()),
                    ..TemplateData::default()
                },
            )
            .await;
        }
        Ok(DailyReportOutcome {
            day: report.day,
            sent_to: report.recipients,
        })
    }
}
