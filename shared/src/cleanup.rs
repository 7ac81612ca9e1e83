//! The scheduled sweep that leaves no orphaned parts behind, without touching a live upload.
//!
//! Pass 1, stale records: INITIATED uploads past their expiry, found through the status/expiry
//! index. Each is first marked EXPIRED with a conditional write (which fails if a complete got there
//! first, and from then on a complete is refused), and only then aborted in S3.
//! Pass 2, orphans: multipart uploads S3 still holds under `uploads/` with no live record (TTL
//! deleted it, the record write failed, or an earlier abort did not go through), older than the
//! longest possible upload, are aborted.
//!
//! Each run is bounded by a number of aborts and a deadline; what is left is found again next run.
//! Every step is idempotent, so two runs at once are safe.

use std::time::{Duration, Instant};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

use crate::api::Deps;
use crate::domain::key::KEY_PREFIX;
use crate::domain::Status;
use crate::error::ApiError;
use crate::metrics::Metric;

pub const FUNCTION_NAME: &str = "cleanup-stale-uploads";
/// Stop this long before the Lambda deadline, so the summary is always logged.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);
/// An orphan must be older than the longest upload lifetime plus this, so an upload whose record is
/// still being written is never taken for one.
const ORPHAN_MARGIN_SECS: i64 = 3600;
const PAGE: i32 = 100;

/// What one run did; logged as one line and returned as the function's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub found: u64,
    pub aborted: u64,
    pub already_gone: u64,
    pub skipped_completed: u64,
    pub orphans_aborted: u64,
    pub errors: u64,
    /// The run stopped at its abort limit or deadline; the next run goes on.
    pub incomplete: bool,
    /// S3 and DynamoDB calls made, for the benchmark.
    pub aws_calls: u64,
}

pub struct Limits {
    pub max_aborts: usize,
    pub deadline: Instant,
}

impl Limits {
    fn exhausted(&self, summary: &Summary) -> bool {
        (summary.aborted + summary.already_gone + summary.orphans_aborted) as usize
            >= self.max_aborts
            || Instant::now() >= self.deadline
    }
}

/// The Lambda entry point: limits from the configuration and the invocation's deadline. Fails only
/// when something really failed, so a broken sweep shows up as a function error.
pub async fn handle(
    deps: &Deps,
    event: LambdaEvent<Value>,
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

/// One sweep: both passes, within `limits`.
pub async fn run(deps: &Deps, limits: &Limits) -> Summary {
    let mut summary = Summary::default();
    if let Err(err) = expire_stale(deps, limits, &mut summary).await {
        tracing::error!("stale pass failed: {err}");
        summary.errors += 1;
    }
    if !summary.incomplete {
        if let Err(err) = abort_orphans(deps, limits, &mut summary).await {
            tracing::error!("orphan pass failed: {err}");
            summary.errors += 1;
        }
    }
    if summary.aborted + summary.already_gone > 0 {
        deps.metrics.emit(
            FUNCTION_NAME,
            &[],
            &[(
                Metric::UploadsExpired,
                (summary.aborted + summary.already_gone) as f64,
            )],
        );
    }
    tracing::info!(
        found = summary.found,
        aborted = summary.aborted,
        already_gone = summary.already_gone,
        skipped_completed = summary.skipped_completed,
        orphans_aborted = summary.orphans_aborted,
        errors = summary.errors,
        incomplete = summary.incomplete,
        aws_calls = summary.aws_calls,
        "cleanup summary"
    );
    summary
}

async fn expire_stale(deps: &Deps, limits: &Limits, summary: &mut Summary) -> Result<(), ApiError> {
    let now = deps.clock.epoch_secs();
    let mut start = None;
    loop {
        summary.aws_calls += 1;
        let (records, next) = deps.records.stale_page(now, start, PAGE).await?;
        for record in records {
            if limits.exhausted(summary) {
                summary.incomplete = true;
                return Ok(());
            }
            summary.found += 1;
            // mark_expired reads the record and writes the transition: two calls.
            summary.aws_calls += 2;
            match deps.records.mark_expired(&record.upload_id, now).await {
                Ok(true) => {}
                // Completed, aborted or being completed meanwhile: not ours to touch.
                Ok(false) => {
                    summary.skipped_completed += 1;
                    continue;
                }
                Err(err) => {
                    tracing::error!(upload_id = %record.upload_id, "could not mark expired: {err}");
                    summary.errors += 1;
                    continue;
                }
            }
            summary.aws_calls += 1;
            match deps
                .storage
                .abort_reporting(&record.key, &record.s3_upload_id)
                .await
            {
                Ok(true) => summary.aborted += 1,
                Ok(false) => summary.already_gone += 1,
                // The record is EXPIRED now, so the orphan pass of a later run aborts it.
                Err(err) => {
                    tracing::error!(upload_id = %record.upload_id, "could not abort: {err}");
                    summary.errors += 1;
                }
            }
        }
        match next {
            Some(key) => start = Some(key),
            None => return Ok(()),
        }
    }
}

async fn abort_orphans(
    deps: &Deps,
    limits: &Limits,
    summary: &mut Summary,
) -> Result<(), ApiError> {
    let now = deps.clock.epoch_secs();
    let oldest_live = now - deps.config.upload_ttl_secs as i64 - ORPHAN_MARGIN_SECS;
    let mut markers = None;
    loop {
        summary.aws_calls += 1;
        let (uploads, next) = deps
            .storage
            .multipart_uploads_page(KEY_PREFIX, markers)
            .await?;
        for (key, s3_upload_id, initiated) in uploads {
            if initiated > oldest_live {
                continue;
            }
            summary.aws_calls += 1;
            if has_live_record(deps, &key, &s3_upload_id).await? {
                continue;
            }
            if limits.exhausted(summary) {
                summary.incomplete = true;
                return Ok(());
            }
            summary.aws_calls += 1;
            match deps.storage.abort_reporting(&key, &s3_upload_id).await {
                Ok(_) => summary.orphans_aborted += 1,
                Err(err) => {
                    tracing::error!(key = %key, "could not abort an orphan: {err}");
                    summary.errors += 1;
                }
            }
        }
        match next {
            Some(next) => markers = Some(next),
            None => return Ok(()),
        }
    }
}

/// Whether the record named by `key` (`uploads/{owner}/{uploadId}/{name}`) is for this S3 upload and
/// still INITIATED or COMPLETING. An INITIATED record past its expiry counts as live here: pass 1
/// owns it, with the conditional write that protects a racing complete.
async fn has_live_record(deps: &Deps, key: &str, s3_upload_id: &str) -> Result<bool, ApiError> {
    let Some(upload_id) = key.split('/').nth(2) else {
        return Ok(false);
    };
    if uuid::Uuid::try_parse(upload_id).is_err() {
        return Ok(false);
    }
    Ok(deps.records.get(upload_id).await?.is_some_and(|record| {
        record.s3_upload_id == s3_upload_id
            && matches!(record.status, Status::Initiated | Status::Completing)
    }))
}
