//! The Temporal Schedules the platform runs on: today one, `daily-sales-report`, which starts
//! DailySalesReport on the reporting queue at the time the settings give (a cron expression,
//! UTC). `emporium dev` and `emporium migrate` make sure it exists and matches the settings.

use contracts::reporting::{DailyReportInput, SCHEDULE_ID};
use contracts::{Service, TaskQueues};
use temporalio_client::Client;
use temporalio_client::schedules::{
    CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleHandle, ScheduleOverlapPolicy,
    ScheduleSpec,
};
use temporalio_client::tonic::Code;
use workflows::DailySalesReport;

/// The schedule's id in this deployment (queue prefix included, so deployments sharing a
/// namespace keep their own).
pub fn daily_sales_report_id(queues: &TaskQueues) -> String {
    format!("{}{SCHEDULE_ID}", queues.prefix())
}

/// Creates the daily sales report's schedule, or brings an existing one to this `cron` and
/// action. A run still going when the next is due makes the next one skip.
pub async fn ensure_daily_sales_report(
    client: &Client,
    queues: &TaskQueues,
    cron: &str,
) -> Result<ScheduleHandle<Client>, ScheduleError> {
    let id = daily_sales_report_id(queues);
    let spec = ScheduleSpec::builder()
        .cron_strings(vec![cron.to_owned()])
        .build();
    let action = ScheduleAction::start_workflow(
        DailySalesReport::run,
        DailyReportInput::default(),
        queues.of(Service::Reporting),
        id.clone(),
    );
    let options = CreateScheduleOptions::builder()
        .action(action.clone())
        .spec(spec.clone())
        .overlap_policy(ScheduleOverlapPolicy::Skip)
        .note("Emails yesterday's sales report to every admin (emporium).")
        .build();
    match client.create_schedule(id.clone(), options).await {
        Ok(handle) => {
            tracing::info!(schedule = %id, %cron, "schedule created");
            Ok(handle)
        }
        Err(ScheduleError::Rpc(status)) if status.code() == Code::AlreadyExists => {
            let handle = client.get_schedule_handle(id.clone());
            handle
                .update(
                    move |update| {
                        update.set_spec(spec).set_action(action);
                    },
                    Default::default(),
                )
                .await?;
            tracing::info!(schedule = %id, %cron, "schedule brought up to date");
            Ok(handle)
        }
        Err(err) => Err(err),
    }
}
