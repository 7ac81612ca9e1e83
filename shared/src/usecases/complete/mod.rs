//! Complete: verifies every part against the record (present, exactly sized, ETags matching what
//! storage holds), then completes exactly once. With the client's ETags for every part it asks
//! storage nothing first: CompleteMultipartUpload itself refuses a missing part or a wrong ETag,
//! and every part URL is signed with its part's exact length, so storage holds no part of another
//! size; only a refusal lists the parts, to name what is wrong. Concurrent and repeated completes all get the one
//! result; a refused completion leaves the upload resumable.
//!
//! While storage completes, the record says COMPLETING since `t`. If this request cannot tell how
//! storage answered (an error, a timeout), it marks the hold abandoned, so the client's retry takes
//! over at once and finds out; if the function dies, the hold goes stale and the next complete,
//! abort or cleanup takes over.

use std::time::Duration;

use self::settle::{record_completion, settle_gone, settle_if_completed, stale, Settled};
use super::reread;
use crate::config::Config;
use crate::domain::ids::{Owner, UploadId};
use crate::domain::record::{Completion, Transition};
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{CompleteError, Expected, Holding, PartRef, PortError, Ports};
use upload_contract::ErrorCode;

mod parts;
pub mod settle;

pub use parts::verified_parts;
use parts::{listed_parts, self_sufficient, PART_REFUSALS};

const FUNCTION: &str = "complete";
/// How often a complete that waits for another one looks again.
const POLL: Duration = Duration::from_millis(200);
/// How many times one request claims an upload that keeps changing before it gives up.
const MAX_CLAIMS: u32 = 10;

/// Claims the completion of the owner's upload `upload_id` (COMPLETING since now): one conditional
/// write that answers with the record, held or not, so that no read comes first. The HTTP layer
/// sends it alongside the rate write; whatever does not go on to [`complete`] gives the hold back
/// with [`let_go`].
pub async fn begin(
    ports: Ports<'_>, config: &Config, upload_id: &UploadId, owner: &Owner,
) -> Result<Holding, UploadError> {
    let now = ports.time.now();
    let begin = Transition::BeginCompleting {
        now,
        stale_before: now - config.completing_stale_secs as i64,
    };
    match ports
        .records
        .begin_completing(upload_id, owner, &begin)
        .await
    {
        Ok(holding) => Ok(holding),
        Err(err) => {
            if !err.contended {
                // It may have been applied: make sure no live-looking hold is left behind.
                if let Ok(Some(record)) = ports.records.get(upload_id).await {
                    if record.owner == owner {
                        abandon(ports, &record, now).await;
                    }
                }
            }
            Err(err.into())
        }
    }
}

/// Gives back a hold this request will not use (the request was refused before storage was
/// asked): the upload is INITIATED again, as if nothing happened. If that fails, the hold is
/// marked abandoned, so the next complete takes over at once. Does nothing without a hold.
pub async fn let_go(ports: Ports<'_>, holding: &Holding) {
    if let Some(record) = holding.held() {
        give_back(ports, record).await;
    }
}

/// [`let_go`] of the hold `record` says this request has.
async fn give_back(ports: Ports<'_>, record: &UploadRecord) {
    let Some(since) = record.completing_since else {
        return;
    };
    if let Err(err) = ports
        .records
        .transition(record, &Transition::Release { since })
        .await
    {
        tracing::warn!("could not release COMPLETING, abandoning it instead: {err}");
        abandon(ports, record, since).await;
    }
}

/// Completes the caller's upload from `holding`, this request's claim ([`begin`]), with
/// `client_parts`, or with the parts storage holds when the client sent none. `whole_file` is the
/// client's checksum of its whole file (full-object uploads): storage refuses to create an object
/// of other bytes. The answer is the COMPLETED record.
pub async fn complete(
    ports: Ports<'_>, config: &Config, mut holding: Holding, client_parts: Option<&[PartRef]>,
    whole_file: Option<&str>,
) -> Result<UploadRecord, UploadError> {
    let wait_until = ports.time.now() + config.completion_wait_secs as i64;
    let mut claims = 1;
    loop {
        let record = match holding {
            Holding::Held { record, took_over } => {
                if took_over {
                    // Its holder died, maybe after storage completed: look first.
                    if let Some(settled) = settle_if_completed(ports, &record, FUNCTION).await? {
                        match settled {
                            Settled::Completed(done) => return Ok(*done),
                            _ => {
                                holding = Holding::Refused(Some(reread(ports, &record).await?));
                                continue;
                            }
                        }
                    }
                }
                match finish_held(ports, &record, client_parts, whole_file).await? {
                    Settled::Completed(done) => return Ok(*done),
                    Settled::Lost => return Err(UploadError::WrongState(Status::Expired)),
                    Settled::Changed => {
                        holding = Holding::Refused(Some(reread(ports, &record).await?));
                        continue;
                    }
                }
            }
            Holding::Refused(None) => return Err(UploadError::NotFound),
            Holding::Refused(Some(record)) => record,
        };
        let now = ports.time.now();
        match record.status_at(now) {
            Status::Completed => return Ok(record),
            Status::Completing
                if !stale(&record, now, config.completing_stale_secs) && now < wait_until =>
            {
                // Another request is completing this upload: wait for its outcome and share it.
                ports.time.sleep(POLL).await;
                holding = Holding::Refused(Some(reread(ports, &record).await?));
            }
            // Free again, or its holder died or gave up (maybe after storage completed, which
            // the completion then finds): claim it.
            Status::Initiated | Status::Completing
                if stale(&record, now, config.completing_stale_secs)
                    || record.status == Status::Initiated =>
            {
                if claims >= MAX_CLAIMS {
                    return Err(UploadError::Unavailable(PortError::contended(
                        "UpdateItem",
                        "the upload kept changing between claims",
                    )));
                }
                claims += 1;
                holding = begin(ports, config, &record.upload_id, &record.owner).await?;
            }
            status => return Err(UploadError::WrongState(status)),
        }
    }
}

/// Checks the parts and completes in storage while this request holds COMPLETING; a refusal
/// before storage is asked gives the hold back.
async fn finish_held(
    ports: Ports<'_>, record: &UploadRecord, client_parts: Option<&[PartRef]>,
    whole_file: Option<&str>,
) -> Result<Settled, UploadError> {
    let since = record.completing_since.unwrap_or_default();
    let parts = match client_parts {
        // One storage call on the happy path: CompleteMultipartUpload checks the ETags.
        Some(listed) if self_sufficient(record, listed) => listed_parts(record, listed),
        _ => match ports
            .objects
            .list_parts(&record.key, &record.s3_upload_id)
            .await
        {
            Ok(Some(stored)) => verified_parts(record, stored, client_parts),
            Ok(None) => return settle_gone(ports, record, FUNCTION).await,
            Err(err) => {
                abandon(ports, record, since).await;
                return Err(err.into());
            }
        },
    };
    match parts {
        Ok(parts) => finish(ports, record, &parts, client_parts, whole_file, since).await,
        Err(refused) => {
            give_back(ports, record).await;
            Err(refused)
        }
    }
}

/// Completes in storage while this request holds COMPLETING since `since`, then records the outcome.
async fn finish(
    ports: Ports<'_>, record: &UploadRecord, parts: &[PartRef], client_parts: Option<&[PartRef]>,
    whole_file: Option<&str>, since: i64,
) -> Result<Settled, UploadError> {
    let completed = ports
        .objects
        .complete(
            &record.key,
            &record.s3_upload_id,
            parts,
            Expected {
                size: record.file_size,
                checksum: record.checksum_algorithm,
                whole_file,
            },
        )
        .await;
    let settled = match completed {
        Ok(object) => {
            let completion = Completion {
                etag: object.etag,
                size: record.file_size,
                location: object.location,
                completed_at: ports.time.now(),
                checksum: object.checksum,
            };
            record_completion(ports, record, completion, FUNCTION).await
        }
        // Gone, or already an object: an earlier attempt of ours went through, or the parts are lost.
        Err(CompleteError::NoSuchUpload | CompleteError::KeyExists) => {
            settle_gone(ports, record, FUNCTION).await
        }
        Err(CompleteError::Refused { code, message }) => {
            // Storage refused before creating anything: the upload stays resumable.
            give_back(ports, record).await;
            if client_parts.is_some() && PART_REFUSALS.contains(&code.as_str()) {
                // The parts were not checked against storage before: now name what is wrong.
                if let Some(stored) = ports
                    .objects
                    .list_parts(&record.key, &record.s3_upload_id)
                    .await?
                {
                    verified_parts(record, stored, client_parts)?;
                }
            }
            if code == "BadDigest" && record.checksum_algorithm.is_some_and(|a| a.full_object()) {
                return Err(UploadError::invalid(
                    ErrorCode::ChecksumMismatch,
                    format!("storage holds bytes whose checksum differs from the file's ({code}: {message}); compare GET /parts with the file, upload the parts that differ again, then complete again"),
                ));
            }
            return Err(UploadError::invalid(
                ErrorCode::PartsRejected,
                format!("storage refused the parts ({code}: {message}); check GET /parts and upload again"),
            ));
        }
        Err(CompleteError::Failed(err)) => Err(err.into()),
    };
    if settled.is_err() {
        // Storage may or may not have completed: let the next attempt take over and find out.
        abandon(ports, record, since).await;
    }
    settled
}

/// Best effort: marks this request's hold (COMPLETING since `since`) stale at once. If it fails, the
/// hold goes stale by itself after the configured window.
async fn abandon(ports: Ports<'_>, record: &UploadRecord, since: i64) {
    if let Err(err) = ports
        .records
        .transition(record, &Transition::Abandon { since })
        .await
    {
        tracing::error!("could not abandon COMPLETING; it is taken over once stale: {err}");
    }
}
