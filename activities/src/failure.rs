//! How service errors become activity failures.
//!
//! The one rule: business refusals (declined card, out of stock) are non-retryable application
//! failures with a stable type name and typed details the workflow can read; everything else is
//! an infrastructure error and is retried by Temporal.
//!
//! Beware the SDK's blanket `impl<E: Into<anyhow::Error>> From<E> for ActivityError`: a plain
//! `?` on a service error would turn *every* error, refusals included, into a retryable one. So
//! each service error implements [`IntoActivityError`] and activities convert explicitly with
//! `.map_err(IntoActivityError::into_activity_error)`.

use serde::Serialize;
use temporalio_common::error::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;

/// How a service error is reported to Temporal.
pub(crate) trait IntoActivityError {
    /// Refusals become non-retryable failures; infrastructure errors stay retryable.
    fn into_activity_error(self) -> ActivityError;
}

/// A business refusal: never retried.
pub(crate) fn refusal<D>(type_name: &str, message: String, details: D) -> ActivityError
where
    D: Serialize + Send + Sync + 'static,
{
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(type_name.to_owned())
            .non_retryable(true)
            .details(details)
            .build(),
    )
}

/// A refusal that no retry can fix and that is not a business outcome (a bug or a conflict).
pub(crate) fn non_retryable(type_name: &str, message: String) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(type_name.to_owned())
            .non_retryable(true)
            .build(),
    )
}

/// An infrastructure error (database, network): retried with backoff.
pub(crate) fn retryable(err: impl std::fmt::Display) -> ActivityError {
    ActivityError::application(ApplicationFailure::new(err.to_string()))
}
