//! The scheduled sweep that leaves no orphaned parts behind and no upload stuck, without touching a
//! live upload.
//!
//! Pass 1, stuck completions: COMPLETING records whose holder died (older than the stale window).
//! If storage still has the multipart upload, the completion never happened: back to INITIATED, so
//! the client can complete again (or the upload expires as usual). If it does not, the object is
//! either there (the record becomes COMPLETED) or not (EXPIRED).
//! Pass 2, stale records: INITIATED uploads past their expiry, found through the status/expiry
//! index. Each is first marked EXPIRED with a conditional write (which fails if a complete got there
//! first, and from then on a complete is refused), and only then aborted in storage.
//! Pass 3, orphans: multipart uploads storage still holds under `uploads/` with no live record (TTL
//! deleted it, the record write failed, the function died, or an earlier abort did not go
//! through), older than the longest possible upload, are aborted.
//!
//! Each run is bounded by a number of aborts and a deadline, checked on every page; what is left
//! is found again next run. Every step is idempotent, so two runs at once are safe.

use std::time::Instant;

use serde::Serialize;

use super::{settle_gone, settle_if_completed, stale, Settled};
use crate::config::Config;
use crate::domain::key::KEY_PREFIX;
use crate::domain::record::Transition;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::metrics::Metric;
use crate::ports::{MultipartListing, PageToken, Ports};

pub const FUNCTION_NAME: &str = "cleanup-stale-uploads";
/// An orphan must be older than the longest upload lifetime plus this, so an upload whose record is
/// still being written is never taken for one.
pub const ORPHAN_MARGIN_SECS: i64 = 3600;
const PAGE: u32 = 100;

/// What one run did; logged as one line and returned as the function's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub found: u64,
    /// Stale uploads pass 2 marked EXPIRED (counted as `UploadsExpired`).
    pub expired: u64,
    pub aborted: u64,
    pub already_gone: u64,
    pub skipped_completed: u64,
    pub orphans_aborted: u64,
    /// Stuck COMPLETING records settled (completed, released or expired).
    pub reconciled: u64,
    pub errors: u64,
    /// Records and orphans seen on a page but left for the next run because the run stopped (a
    /// lower bound: pages not read are not counted).
    pub left: u64,
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
    /// Whether the run must stop here (at its abort limit or deadline); marks it incomplete if so.
    fn stop(&self, summary: &mut Summary) -> bool {
        let done =
            summary.aborted + summary.already_gone + summary.orphans_aborted + summary.reconciled;
        if done as usize >= self.max_aborts || Instant::now() >= self.deadline {
            summary.incomplete = true;
        }
        summary.incomplete
    }
}

/// One sweep: all passes, within `limits`.
pub async fn run(ports: Ports<'_>, config: &Config, limits: &Limits) -> Summary {
    let mut summary = Summary::default();
    let passes: [(&str, Pass); 3] = [
        ("stuck-completion", Pass::Completing),
        ("stale", Pass::Stale),
        ("orphan", Pass::Orphans),
    ];
    for (name, pass) in passes {
        if summary.incomplete {
            break;
        }
        let result = match pass {
            Pass::Completing => settle_stuck(ports, config, limits, &mut summary).await,
            Pass::Stale => expire_stale(ports, limits, &mut summary).await,
            Pass::Orphans => abort_orphans(ports, config, limits, &mut summary).await,
        };
        if let Err(err) = result {
            tracing::error!("{name} pass failed: {err}");
            summary.errors += 1;
        }
    }
    emit_metrics(ports, &summary);
    tracing::info!(
        found = summary.found,
        expired = summary.expired,
        aborted = summary.aborted,
        already_gone = summary.already_gone,
        skipped_completed = summary.skipped_completed,
        orphans_aborted = summary.orphans_aborted,
        reconciled = summary.reconciled,
        errors = summary.errors,
        left = summary.left,
        incomplete = summary.incomplete,
        aws_calls = summary.aws_calls,
        "cleanup summary"
    );
    summary
}

/// The run's backlog figures, and the uploads pass 2 expired. Those settled as lost by pass 1
/// (`settle_gone`) counted themselves, so they are not counted again here.
fn emit_metrics(ports: Ports<'_>, summary: &Summary) {
    let mut values = vec![
        (Metric::CleanupFound, summary.found as f64),
        (
            Metric::CleanupAborted,
            (summary.aborted + summary.already_gone + summary.orphans_aborted + summary.reconciled)
                as f64,
        ),
        (Metric::CleanupLeft, summary.left as f64),
        (
            Metric::CleanupIncomplete,
            f64::from(u8::from(summary.incomplete)),
        ),
    ];
    if summary.expired > 0 {
        values.push((Metric::UploadsExpired, summary.expired as f64));
    }
    ports.metrics.emit(FUNCTION_NAME, &[], &values);
}

#[derive(Clone, Copy)]
enum Pass {
    Completing,
    Stale,
    Orphans,
}

async fn settle_stuck(
    ports: Ports<'_>,
    config: &Config,
    limits: &Limits,
    summary: &mut Summary,
) -> Result<(), UploadError> {
    let now = ports.time.now();
    let mut start: Option<PageToken> = None;
    loop {
        if limits.stop(summary) {
            return Ok(());
        }
        summary.aws_calls += 1;
        let (records, next) = ports
            .records
            .by_status(Status::Completing, i64::MAX, start, PAGE)
            .await?;
        for (i, record) in records.iter().enumerate() {
            if !stale(record, now, config.completing_stale_secs) {
                continue;
            }
            if limits.stop(summary) {
                let stuck = |r: &&UploadRecord| stale(r, now, config.completing_stale_secs);
                summary.left += records[i..].iter().filter(stuck).count() as u64;
                return Ok(());
            }
            summary.aws_calls += 1;
            match settle_if_completed(ports, record, FUNCTION_NAME).await {
                Ok(Some(_)) => {
                    summary.reconciled += 1;
                    continue;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(upload_id = %record.upload_id, "could not settle a stuck completion: {err}");
                    summary.errors += 1;
                    continue;
                }
            }
            summary.aws_calls += 1;
            let settled = match ports
                .objects
                .list_parts(&record.key, &record.s3_upload_id)
                .await
            {
                // Storage never completed it: the upload is INITIATED again.
                Ok(Some(_)) => {
                    summary.aws_calls += 1;
                    let since = record.completing_since.unwrap_or(0);
                    ports
                        .records
                        .transition(record, &Transition::Release { since })
                        .await
                        .map(|_| ())
                        .map_err(UploadError::from)
                }
                Ok(None) => {
                    summary.aws_calls += 2;
                    settle_gone(ports, record, FUNCTION_NAME).await.map(|s| {
                        if let Settled::Lost = s {
                            summary.already_gone += 1;
                        }
                    })
                }
                Err(err) => Err(err.into()),
            };
            match settled {
                Ok(()) => summary.reconciled += 1,
                Err(err) => {
                    tracing::error!(upload_id = %record.upload_id, "could not settle a stuck completion: {err}");
                    summary.errors += 1;
                }
            }
        }
        match next {
            Some(token) => start = Some(token),
            None => return Ok(()),
        }
    }
}

async fn expire_stale(
    ports: Ports<'_>,
    limits: &Limits,
    summary: &mut Summary,
) -> Result<(), UploadError> {
    let now = ports.time.now();
    let mut start = None;
    loop {
        if limits.stop(summary) {
            return Ok(());
        }
        summary.aws_calls += 1;
        let (records, next) = ports
            .records
            .by_status(Status::Initiated, now, start, PAGE)
            .await?;
        for (i, record) in records.iter().enumerate() {
            if limits.stop(summary) {
                summary.left += (records.len() - i) as u64;
                return Ok(());
            }
            summary.found += 1;
            summary.aws_calls += 1;
            match ports
                .records
                .transition(record, &Transition::Expire { now })
                .await
            {
                Ok(true) => summary.expired += 1,
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
            match ports.objects.abort(&record.key, &record.s3_upload_id).await {
                Ok(true) => summary.aborted += 1,
                Ok(false) => summary.already_gone += 1,
                // The record is EXPIRED now, so the orphan pass aborts it.
                Err(err) => {
                    tracing::error!(upload_id = %record.upload_id, "could not abort: {err}");
                    summary.errors += 1;
                }
            }
        }
        match next {
            Some(token) => start = Some(token),
            None => return Ok(()),
        }
    }
}

async fn abort_orphans(
    ports: Ports<'_>,
    config: &Config,
    limits: &Limits,
    summary: &mut Summary,
) -> Result<(), UploadError> {
    let now = ports.time.now();
    let oldest_live = now - config.upload_ttl_secs as i64 - ORPHAN_MARGIN_SECS;
    let mut start = None;
    loop {
        // Checked on every page, so a bucket of millions of uploads cannot outrun the deadline.
        if limits.stop(summary) {
            return Ok(());
        }
        summary.aws_calls += 1;
        let (uploads, next) = ports.objects.multipart_uploads(KEY_PREFIX, start).await?;
        for (i, upload) in uploads.iter().enumerate() {
            if upload.initiated > oldest_live {
                continue;
            }
            if limits.stop(summary) {
                let old = |u: &&MultipartListing| u.initiated <= oldest_live;
                summary.left += uploads[i..].iter().filter(old).count() as u64;
                return Ok(());
            }
            summary.aws_calls += 1;
            if has_live_record(ports, &upload.key, &upload.s3_upload_id).await? {
                continue;
            }
            summary.aws_calls += 1;
            match ports.objects.abort(&upload.key, &upload.s3_upload_id).await {
                Ok(_) => summary.orphans_aborted += 1,
                Err(err) => {
                    // The key names the user and the file: log the upload id in it instead.
                    let upload_id = upload.key.split('/').nth(2).unwrap_or_default();
                    tracing::error!(upload_id, "could not abort an orphan: {err}");
                    summary.errors += 1;
                }
            }
        }
        match next {
            Some(token) => start = Some(token),
            None => return Ok(()),
        }
    }
}

/// Whether the record named by `key` (`uploads/{owner}/{uploadId}/{name}`) is for this multipart
/// upload and still INITIATED or COMPLETING. An INITIATED record past its expiry counts as live
/// here: pass 2 owns it, with the conditional write that protects a racing complete.
async fn has_live_record(
    ports: Ports<'_>,
    key: &str,
    s3_upload_id: &str,
) -> Result<bool, UploadError> {
    let Some(upload_id) = key.split('/').nth(2) else {
        return Ok(false);
    };
    if uuid::Uuid::try_parse(upload_id).is_err() {
        return Ok(false);
    }
    Ok(ports.records.get(upload_id).await?.is_some_and(|record| {
        record.s3_upload_id == s3_upload_id
            && matches!(record.status, Status::Initiated | Status::Completing)
    }))
}
