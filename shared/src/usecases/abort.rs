//! Abort: stops the upload and frees its parts. Idempotent: aborting twice is fine, and aborting an
//! upload whose parts storage already dropped ends it cleanly.

use super::complete::settle::{settle_if_completed, stale, Settled};
use super::reread;
use crate::config::Config;
use crate::domain::record::Transition;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{Metric, PortError, Ports};

const FUNCTION: &str = "abort";
/// How often an abort that waits for a completion to settle looks again.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Aborts the caller's upload `record`; the status it ends in (ABORTED, or EXPIRED if it had
/// already expired, or if storage's abort beat a completion that began meanwhile).
///
/// On the happy path (the record read INITIATED) the record's write and storage's abort go out
/// at once: two sequential round trips with the read. Storage may drop the parts a moment before
/// the record says ABORTED, which grants nothing meanwhile: a URL signed then finds no upload, and
/// a completion that began in between finds the upload gone and settles it as lost (EXPIRED);
/// this abort then waits for that and answers it, so exactly one of the two wins. If the record's
/// write fails, the retry (or the cleanup) settles an upload storage no longer has.
pub async fn abort(
    ports: Ports<'_>, config: &Config, mut record: UploadRecord,
) -> Result<Status, UploadError> {
    let mut transitioned = false;
    // Storage's answer, once its abort went out alongside the record's write.
    let mut stored: Option<Result<bool, PortError>> = None;
    let wait_until = ports.time.now() + config.completion_wait_secs as i64;
    loop {
        let now = ports.time.now();
        match record.status {
            Status::Initiated => {}
            Status::Completing if stale(&record, now, config.completing_stale_secs) => {
                // Its holder died, maybe after storage completed: if so, the upload is complete.
                match settle_if_completed(ports, &record, FUNCTION).await? {
                    Some(Settled::Completed(_)) => {
                        return Err(UploadError::WrongState(Status::Completed))
                    }
                    Some(_) => {
                        record = reread(ports, &record).await?;
                        continue;
                    }
                    None => {}
                }
            }
            // Repeating storage's abort is harmless and finishes one that failed half-way.
            Status::Aborted | Status::Expired => break,
            // A completion began after the read, and storage's abort (ours) dropped its parts:
            // it finds the upload gone and settles it. Wait for that, and answer it.
            Status::Completing if matches!(stored, Some(Ok(true))) && now < wait_until => {
                ports.time.sleep(POLL).await;
                record = reread(ports, &record).await?;
                continue;
            }
            status @ (Status::Completing | Status::Completed) => {
                return Err(UploadError::WrongState(status))
            }
        }
        let transition = Transition::Abort {
            stale_before: now - config.completing_stale_secs as i64,
        };
        let applied = if record.status == Status::Initiated && stored.is_none() {
            let (applied, aborted) = futures_util::join!(
                ports.records.transition(&record, &transition),
                ports.objects.abort(&record.key, &record.s3_upload_id)
            );
            stored = Some(aborted);
            applied?
        } else {
            // A stale hold: the record first, so its holder cannot complete after this.
            ports.records.transition(&record, &transition).await?
        };
        if applied {
            transitioned = true;
            record.apply(&transition);
            ports
                .metrics
                .emit(FUNCTION, &[], &[(Metric::UploadsAborted, 1.0)]);
            break;
        }
        record = reread(ports, &record).await?;
    }
    let aborted = match stored {
        Some(answer) => answer,
        None => ports.objects.abort(&record.key, &record.s3_upload_id).await,
    };
    match aborted {
        Ok(_) => {}
        // This request aborted it: the caller retries until storage has dropped the parts.
        Err(err) if transitioned => return Err(err.into()),
        // A repeat: the record already says so; leftovers are swept by the cleanup's orphan pass.
        Err(err) => tracing::warn!("repeated abort could not reach storage: {err}"),
    }
    Ok(match record.status {
        Status::Expired => Status::Expired,
        _ => Status::Aborted,
    })
}
