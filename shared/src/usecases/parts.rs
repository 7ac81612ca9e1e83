//! What storage holds of an upload: the parts for resuming, and the progress for the status.

use super::complete::settle::{settle_gone, Settled};
use super::reread;
use crate::domain::{Status, UploadError, UploadRecord};
use crate::ports::{Ports, StoredPart};

/// The parts storage holds of the caller's live upload. An upload whose parts storage dropped
/// is settled (its record says so from then on) and reported in its new state.
pub async fn list(ports: Ports<'_>, record: &UploadRecord) -> Result<Vec<StoredPart>, UploadError> {
    record.require_uploading(ports.time.now())?;
    match ports
        .objects
        .list_parts(&record.key, &record.s3_upload_id)
        .await?
    {
        Some(parts) => Ok(parts),
        None => match settle_gone(ports, record, "list-parts").await? {
            Settled::Completed(_) => Err(UploadError::WrongState(Status::Completed)),
            Settled::Lost => Err(UploadError::WrongState(Status::Expired)),
            Settled::Changed => Err(UploadError::WrongState(
                reread(ports, record).await?.status_at(ports.time.now()),
            )),
        },
    }
}

/// An upload's state as of now, with the parts and bytes storage holds of it.
#[derive(Clone, Debug)]
pub struct Progress {
    pub status: Status,
    pub uploaded_parts: u32,
    pub uploaded_bytes: u64,
}

/// The status of the caller's upload. Read-only: it never changes the record.
pub async fn progress(ports: Ports<'_>, record: &UploadRecord) -> Result<Progress, UploadError> {
    let status = record.status_at(ports.time.now());
    let (uploaded_parts, uploaded_bytes) = match status {
        Status::Completed => (record.total_parts, record.file_size),
        Status::Initiated | Status::Completing => ports
            .objects
            .list_parts(&record.key, &record.s3_upload_id)
            .await?
            .unwrap_or_default()
            .iter()
            .filter(|p| (1..=record.total_parts).contains(&p.number.get()))
            .fold((0, 0), |(n, bytes), p| (n + 1, bytes + p.size)),
        Status::Aborted | Status::Expired => (0, 0),
    };
    Ok(Progress {
        status,
        uploaded_parts,
        uploaded_bytes,
    })
}
