//! The scheduled cleanup function: limits from the configuration and the invocation's deadline,
//! then one sweep ([`crate::usecases::cleanup`]).

use std::time::{Duration, Instant};

use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::app::Deps;
pub use crate::usecases::cleanup::{Limits, Summary, FUNCTION_NAME};

/// Every AWS operation the sweep may make (see [`crate::api::Endpoint::operations`]).
pub const OPERATIONS: &[&str] = &[
    "Query",
    "GetItem",
    "TransactWriteItems",
    "ListParts",
    "HeadObject",
    "AbortMultipartUpload",
    "ListMultipartUploads",
];

/// Stop this long before the Lambda deadline, so the summary is always logged.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// One sweep over `deps`' stores.
pub async fn run(deps: &Deps, limits: &Limits) -> Summary {
    let sweep = crate::usecases::cleanup::run(deps.ports(), &deps.config, limits);
    crate::adapters::metrics::in_function(FUNCTION_NAME, sweep).await
}

/// The Lambda entry point. Fails only when something really failed, so a broken sweep shows up as
/// a function error.
pub async fn handle(
    deps: &Deps, event: LambdaEvent<Value>,
) -> Result<Summary, lambda_runtime::Error> {
    let deadline = match event.context.deadline {
        // The deadline is wall-clock milliseconds; turn it into a monotonic instant.
        0 => Instant::now() + Duration::from_secs(60),
        ms => {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms))
        }
    };
    let limits = Limits {
        max_aborts: deps.config.cleanup_max_aborts,
        deadline: deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or_else(Instant::now),
    };
    let summary = run(deps, &limits).await;
    if summary.errors > 0 {
        return Err(format!(
            "cleanup finished with {} errors: {summary:?}",
            summary.errors
        )
        .into());
    }
    Ok(summary)
}
