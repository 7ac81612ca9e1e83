//! The use cases: plain async functions over the [`Ports`](crate::ports::Ports). Each returns an
//! [`UploadError`] in upload terms; the HTTP layer (`api/`) parses requests, calls these and renders
//! the answers.
//!
//! Every external call can fail, time out, or be applied with its answer lost, and the function can
//! die after any of them. Each use case is written so that the client's retry, or the next cleanup
//! run, converges: a COMPLETING record always says whether storage may have completed, and
//! whoever finds a multipart upload gone looks for the object before calling the upload lost
//! ([`complete::settle::settle_gone`]). `shared/tests/fault_matrix/` proves it call by call.

pub mod abort;
pub mod cleanup;
pub mod complete;
pub mod initialize;
pub mod listing;
pub mod parts;
pub mod presign;
pub mod rate;

use crate::domain::ids::{Owner, UploadId};
use crate::domain::{UploadError, UploadRecord};
use crate::ports::Ports;

/// The caller's own record; a missing id and somebody else's look exactly alike.
pub async fn owned(
    ports: Ports<'_>, upload_id: &UploadId, owner: &Owner,
) -> Result<UploadRecord, UploadError> {
    match ports.records.get(upload_id).await? {
        Some(record) if record.owner == owner => Ok(record),
        _ => Err(UploadError::NotFound),
    }
}

/// The record again, after a conditional write found it changed.
async fn reread(ports: Ports<'_>, record: &UploadRecord) -> Result<UploadRecord, UploadError> {
    owned(ports, &record.upload_id, &record.owner).await
}
