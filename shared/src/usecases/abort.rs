//! Abort: stops the upload and frees its parts. Idempotent: aborting twice is fine, and aborting an
//! upload whose parts storage already dropped ends it cleanly.

use super::{reread, settle_if_completed, stale, Settled};
use crate::config::Config;
use crate::domain::record::Transition;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::Metric;
use crate::ports::Ports;

const FUNCTION: &str = "abort";

/// Aborts the caller's upload `record`; the status it ends in (ABORTED, or EXPIRED if it had
/// already expired).
pub async fn abort(
    ports: Ports<'_>,
    config: &Config,
    mut record: UploadRecord,
) -> Result<Status, UploadError> {
    let mut transitioned = false;
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
            status @ (Status::Completing | Status::Completed) => {
                return Err(UploadError::WrongState(status))
            }
        }
        // First the record, so no URL or completion is granted from here on; then storage.
        let transition = Transition::Abort {
            stale_before: now - config.completing_stale_secs as i64,
        };
        if ports.records.transition(&record, &transition).await? {
            transitioned = true;
            record.apply(&transition);
            ports
                .metrics
                .emit(FUNCTION, &[], &[(Metric::UploadsAborted, 1.0)]);
            break;
        }
        record = reread(ports, &record).await?;
    }
    match ports.objects.abort(&record.key, &record.s3_upload_id).await {
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
