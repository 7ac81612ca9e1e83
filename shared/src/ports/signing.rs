//! Part URLs: presigned `PUT`s of one multipart upload, signed locally (no call to storage).

use std::time::SystemTime;

use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::ids::{ObjectKey, PartNumber, S3UploadId};

use super::{BoxFuture, SigningError};

/// The part URLs of one multipart upload, signed with one set of credentials and one expiry.
pub trait PartUrls: Send + Sync {
    /// The presigned `PUT` URL of part `part`, `length` bytes, with its checksum signed in.
    fn url(&self, part: PartNumber, length: u64, checksum: Option<&str>) -> String;
    /// When the URLs stop working.
    fn expires_at(&self) -> SystemTime;
}

/// Presigns part uploads (SigV4 query signing: no call to S3).
pub trait UrlSigner: Send + Sync {
    /// The URLs of multipart upload `s3_upload_id` at `key`, valid from `signed_at` until
    /// `wanted_expiry`, or until the signing credentials expire if that is sooner.
    fn sign_upload<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
        checksum: Option<ChecksumAlgorithm>, signed_at: SystemTime, wanted_expiry: SystemTime,
    ) -> BoxFuture<'a, Result<Box<dyn PartUrls>, SigningError>>;
}
