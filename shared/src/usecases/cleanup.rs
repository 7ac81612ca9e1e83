//! The scheduled sweep that leaves no orphaned parts behind and no upload stuck, without touching a
//! live upload.
//!
//! Pass 1, due records: every shard of the sparse expiry index (in parallel, a bounded number at a
//! time) is paged for the unfinished records due by now, and each page's records are handled in
//! parallel, a bounded number at a time:
//! - COMPLETING records whose holder died (the hold is stale): if storage still has the multipart
//!   upload, the completion never happened: back to INITIATED, so the client can complete again
//!   (or the upload expires as usual). If it does not, the object is either there (the record
//!   becomes COMPLETED) or not (EXPIRED).
//! - INITIATED uploads past their expiry: first marked EXPIRED with a conditional write (which
//!   fails if a complete got there first, and from then on a complete is refused), releasing the
//!   owner's quota share in the same transaction, and only then aborted in storage. Every stale
//!   upload's share is released in the sweep that finds it.
//!
//! Pass 2, orphans: multipart uploads storage still holds under `uploads/` with no live record (TTL
//! deleted it, the record write failed, the function died, or an earlier abort did not go
//! through), older than the longest possible upload, are aborted, a bounded number at a time.
//!
//! Each run is bounded by a number of aborts and a deadline, checked before every page and every
//! upload; it goes on through pages until one of them. What is left is found again next run. Every
//! step is idempotent, so two runs at once are safe.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use super::complete::settle::{settle_gone, settle_if_completed, stale, Settled};
use crate::config::Config;
use crate::domain::ids::UploadId;
use crate::domain::key::KEY_PREFIX;
use crate::domain::record::Transition;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::Metric;
use crate::ports::{PageToken, Ports};

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
    /// Stale uploads this run marked EXPIRED (counted as `UploadsExpired`).
    pub expired: u64,
    pub aborted: u64,
    pub already_gone: u64,
    pub skipped_completed: u64,
    pub orphans_aborted: u64,
    /// Stuck COMPLETING records settled (completed, released or expired).
    pub reconciled: u64,
    pub errors: u64,
    /// The run stopped at its abort limit or deadline; the next run goes on.
    pub incomplete: bool,
    /// Due records and orphans seen on a page but left for the next run because the run stopped (a
    /// lower bound: pages not read are not counted).
    pub left: u64,
    /// S3 and DynamoDB calls made, for the benchmark.
    pub aws_calls: u64,
}

pub struct Limits {
    pub max_aborts: usize,
    pub deadline: Instant,
}

/// Shards of the expiry index paged at once.
pub const SHARDS_AT_ONCE: usize = 4;
/// Uploads of one page handled at once (per shard, and in the orphan pass).
pub const UPLOADS_AT_ONCE: usize = 8;

/// The run's progress shared by its parallel tasks: uploads taken on (for the abort limit).
struct Budget<'a> {
    limits: &'a Limits,
    taken: AtomicUsize,
    stopped: AtomicBool,
}

impl Budget<'_> {
    /// Takes one upload on, unless the run is at its limit or deadline (then it stops).
    fn take(&self) -> bool {
        if self.stopped.load(Ordering::SeqCst) || Instant::now() >= self.limits.deadline {
            self.stopped.store(true, Ordering::SeqCst);
            return false;
        }
        if self.taken.fetch_add(1, Ordering::SeqCst) >= self.limits.max_aborts {
            self.taken.fetch_sub(1, Ordering::SeqCst);
            self.stopped.store(true, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Gives back an upload taken on that needed nothing done.
    fn give_back(&self) {
        self.taken.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether the run must stop before its next page.
    fn stop(&self) -> bool {
        if Instant::now() >= self.limits.deadline
            || self.taken.load(Ordering::SeqCst) >= self.limits.max_aborts
        {
            self.stopped.store(true, Ordering::SeqCst);
        }
        self.stopped.load(Ordering::SeqCst)
    }
}

impl Summary {
    /// Folds the summaries of a run's parallel tasks into one.
    async fn sum(mut self, other: Summary) -> Summary {
        self.add(other);
        self
    }

    fn add(&mut self, other: Summary) {
        self.found += other.found;
        self.expired += other.expired;
        self.left += other.left;
        self.aborted += other.aborted;
        self.already_gone += other.already_gone;
        self.skipped_completed += other.skipped_completed;
        self.orphans_aborted += other.orphans_aborted;
        self.reconciled += other.reconciled;
        self.errors += other.errors;
        self.incomplete |= other.incomplete;
        self.aws_calls += other.aws_calls;
    }
}

/// One sweep: all passes, within `limits`.
pub async fn run(ports: Ports<'_>, config: &Config, limits: &Limits) -> Summary {
    let budget = Budget {
        limits,
        taken: AtomicUsize::new(0),
        stopped: AtomicBool::new(false),
    };
    let now = ports.time.now();
    let shards = ports.records.expiry_shards();
    let mut summary = stream::iter(0..shards)
        .map(|shard| drain_shard(ports, config, &budget, shard, now))
        .buffer_unordered(SHARDS_AT_ONCE)
        .fold(Summary::default(), Summary::sum)
        .await;
    if !budget.stop() {
        summary.add(abort_orphans(ports, config, &budget).await);
    }
    summary.incomplete = budget.stopped.load(Ordering::SeqCst);
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
        incomplete = summary.incomplete,
        left = summary.left,
        aws_calls = summary.aws_calls,
        "cleanup summary"
    );
    summary
}

/// The run's backlog figures, and the uploads it expired. Those settled as lost from a stuck
/// completion (`settle_gone`) counted themselves, so they are not counted again here.
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

/// Pages through one shard's due records until it is drained or the run must stop.
async fn drain_shard(
    ports: Ports<'_>, config: &Config, budget: &Budget<'_>, shard: u32, now: i64,
) -> Summary {
    let mut summary = Summary::default();
    let mut start: Option<PageToken> = None;
    loop {
        if budget.stop() {
            return summary;
        }
        summary.aws_calls += 1;
        let (records, next) = match ports.records.due(shard, now, start, PAGE).await {
            Ok(page) => page,
            Err(err) => {
                tracing::error!(shard, "due pass failed: {err}");
                summary.errors += 1;
                return summary;
            }
        };
        let done = stream::iter(records)
            .map(|record| async move {
                let mut one = Summary::default();
                if budget.take() {
                    sweep_one(ports, config, budget, record, now, &mut one).await;
                } else {
                    one.incomplete = true;
                    one.left += 1;
                }
                one
            })
            .buffer_unordered(UPLOADS_AT_ONCE)
            .fold(Summary::default(), Summary::sum)
            .await;
        summary.add(done);
        match next {
            Some(token) => start = Some(token),
            None => return summary,
        }
    }
}

/// Settles one due record: a stuck completion, or an expired upload. Not due after all (a fresh
/// hold, an upload completed meanwhile): its budget is given back.
async fn sweep_one(
    ports: Ports<'_>, config: &Config, budget: &Budget<'_>, record: UploadRecord, now: i64,
    summary: &mut Summary,
) {
    match record.status {
        Status::Completing if stale(&record, now, config.completing_stale_secs) => {
            settle_stuck(ports, &record, summary).await
        }
        Status::Initiated if record.expires_at <= now => {
            expire_stale(ports, budget, &record, now, summary).await
        }
        _ => budget.give_back(),
    }
}

async fn settle_stuck(ports: Ports<'_>, record: &UploadRecord, summary: &mut Summary) {
    summary.aws_calls += 1;
    match settle_if_completed(ports, record, FUNCTION_NAME).await {
        Ok(Some(_)) => {
            summary.reconciled += 1;
            return;
        }
        Ok(None) => {}
        Err(err) => {
            tracing::error!(upload_id = %record.upload_id, "could not settle a stuck completion: {err}");
            summary.errors += 1;
            return;
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

async fn expire_stale(
    ports: Ports<'_>, budget: &Budget<'_>, record: &UploadRecord, now: i64, summary: &mut Summary,
) {
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
            budget.give_back();
            return;
        }
        Err(err) => {
            tracing::error!(upload_id = %record.upload_id, "could not mark expired: {err}");
            summary.errors += 1;
            return;
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

async fn abort_orphans(ports: Ports<'_>, config: &Config, budget: &Budget<'_>) -> Summary {
    let now = ports.time.now();
    let oldest_live = now - config.upload_ttl_secs as i64 - ORPHAN_MARGIN_SECS;
    let mut summary = Summary::default();
    let mut start = None;
    loop {
        // Checked on every page, so a bucket of millions of uploads cannot outrun the deadline.
        if budget.stop() {
            return summary;
        }
        summary.aws_calls += 1;
        let (uploads, next) = match ports.objects.multipart_uploads(KEY_PREFIX, start).await {
            Ok(page) => page,
            Err(err) => {
                tracing::error!("orphan pass failed: {err}");
                summary.errors += 1;
                return summary;
            }
        };
        let done = stream::iter(uploads.into_iter().filter(|u| u.initiated <= oldest_live))
            .map(|upload| async move {
                let mut one = Summary::default();
                if !budget.take() {
                    one.left += 1;
                    return one;
                }
                one.aws_calls += 1;
                match has_live_record(ports, &upload.key, &upload.s3_upload_id).await {
                    Ok(false) => {}
                    Ok(true) => {
                        budget.give_back();
                        return one;
                    }
                    Err(err) => {
                        tracing::error!(
                            upload_id = orphan_id(&upload.key),
                            "orphan pass failed: {err}"
                        );
                        one.errors += 1;
                        return one;
                    }
                }
                one.aws_calls += 1;
                match ports.objects.abort(&upload.key, &upload.s3_upload_id).await {
                    Ok(_) => one.orphans_aborted += 1,
                    Err(err) => {
                        tracing::error!(
                            upload_id = orphan_id(&upload.key),
                            "could not abort an orphan: {err}"
                        );
                        one.errors += 1;
                    }
                }
                one
            })
            .buffer_unordered(UPLOADS_AT_ONCE)
            .fold(Summary::default(), Summary::sum)
            .await;
        summary.add(done);
        match next {
            Some(token) => start = Some(token),
            None => return summary,
        }
    }
}

/// The upload id inside an object key: logged instead of the key, which names the user and the file.
fn orphan_id(key: &str) -> &str {
    key.split('/').nth(2).unwrap_or_default()
}

/// Whether the record named by `key` (`uploads/{owner}/{uploadId}/{name}`) is for this multipart
/// upload and still INITIATED or COMPLETING. An INITIATED record past its expiry counts as live
/// here: pass 2 owns it, with the conditional write that protects a racing complete.
async fn has_live_record(
    ports: Ports<'_>, key: &str, s3_upload_id: &str,
) -> Result<bool, UploadError> {
    let Some(upload_id) = key.split('/').nth(2) else {
        return Ok(false);
    };
    if uuid::Uuid::try_parse(upload_id).is_err() {
        return Ok(false);
    }
    Ok(ports
        .records
        .get(&UploadId::from(upload_id))
        .await?
        .is_some_and(|record| {
            record.s3_upload_id == s3_upload_id
                && matches!(record.status, Status::Initiated | Status::Completing)
        }))
}
