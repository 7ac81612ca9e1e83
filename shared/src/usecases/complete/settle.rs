//! Settling an upload whose outcome storage decides: a multipart upload storage no longer has (an
//! earlier completion went through, or the parts were dropped), and a COMPLETING hold whose holder
//! died. Complete, abort, the reads and the cleanup all converge through these.

use crate::domain::record::{Completion, Transition};
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{Metric, Ports};

/// Whether a COMPLETING record's holder is presumed dead.
pub(crate) fn stale(record: &UploadRecord, now: i64, stale_secs: u64) -> bool {
    record.status == Status::Completing
        && record.completing_since.unwrap_or(0) < now - stale_secs as i64
}

/// What became of an upload whose multipart upload storage no longer has.
pub enum Settled {
    /// Storage holds the object: the record now says COMPLETED.
    Completed(Box<UploadRecord>),
    /// No object either: the record now says EXPIRED and the quota share is back.
    Lost,
    /// The record changed meanwhile (another request got there first): read it again.
    Changed,
}

/// Storage no longer has `record`'s multipart upload (INITIATED, or COMPLETING held by this request
/// or by a dead one). Either an earlier completion went through, and the object is there, or the
/// parts were dropped (abort, lifecycle rule). Looks at the object and records the truth.
pub async fn settle_gone(
    ports: Ports<'_>, record: &UploadRecord, function: &str,
) -> Result<Settled, UploadError> {
    if let Some(settled) = settle_if_completed(ports, record, function).await? {
        return Ok(settled);
    }
    let since = match record.status {
        Status::Completing => record.completing_since,
        _ => None,
    };
    if ports
        .records
        .transition(record, &Transition::Lost { since })
        .await?
    {
        tracing::warn!("storage lost the multipart upload; the upload is expired");
        ports
            .metrics
            .emit(function, &[], &[(Metric::UploadsExpired, 1.0)]);
        Ok(Settled::Lost)
    } else {
        Ok(Settled::Changed)
    }
}

/// If storage holds the upload's object (an earlier completion went through), records that and
/// says how it settled; `None` when there is no object.
pub async fn settle_if_completed(
    ports: Ports<'_>, record: &UploadRecord, function: &str,
) -> Result<Option<Settled>, UploadError> {
    match ports.objects.head(&record.key).await? {
        Some(head) if head.size == record.file_size => {
            let completion = Completion {
                etag: head.etag,
                size: head.size,
                location: format!("s3://{}/{}", ports.objects.bucket(), record.key),
                completed_at: ports.time.now(),
                checksum: None,
            };
            record_completion(ports, record, completion, function)
                .await
                .map(Some)
        }
        // Keys are unique per upload: an object of another size is nobody's completion.
        Some(head) => Err(UploadError::Inconsistent(format!(
            "the object at the upload's key has {} bytes, the upload declared {}",
            head.size, record.file_size
        ))),
        None => Ok(None),
    }
}

/// Records that storage holds the completed object.
pub(crate) async fn record_completion(
    ports: Ports<'_>, record: &UploadRecord, completion: Completion, function: &str,
) -> Result<Settled, UploadError> {
    let transition = Transition::Complete(completion.clone());
    if !ports.records.transition(record, &transition).await? {
        return Ok(Settled::Changed);
    }
    ports.metrics.emit(
        function,
        &[],
        &[
            (Metric::UploadsCompleted, 1.0),
            (Metric::BytesCompleted, record.file_size as f64),
            (
                Metric::CompletionLatency,
                (completion.completed_at - record.created_at).max(0) as f64,
            ),
        ],
    );
    let mut done = record.clone();
    done.apply(&transition);
    Ok(Settled::Completed(Box::new(done)))
}
