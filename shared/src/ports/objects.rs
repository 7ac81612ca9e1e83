//! The multipart object store: the calls the service makes to storage. Bytes never pass through here.

use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::ids::{ObjectKey, PartNumber, S3UploadId};
use crate::domain::metadata::Metadata;

use super::{BoxFuture, PageToken, Paged, PortError};

/// A part storage holds. `etag` is `None` only where a local S3 server omits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    pub number: PartNumber,
    pub etag: Option<String>,
    pub size: u64,
    /// The part's checksum in the upload's algorithm, where storage reports it.
    pub checksum: Option<String>,
}

/// A part to complete with: number, ETag and (for checksummed uploads) its checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRef {
    pub number: PartNumber,
    pub etag: String,
    pub checksum: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedObject {
    pub etag: String,
    pub location: String,
    pub checksum: Option<String>,
}

/// An object's ETag and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectHead {
    pub etag: String,
    pub size: u64,
}

/// A multipart upload storage holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartListing {
    pub key: ObjectKey,
    pub s3_upload_id: S3UploadId,
    /// Epoch seconds.
    pub initiated: i64,
}

/// Why CompleteMultipartUpload did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// Storage refused the part list (InvalidPart, EntityTooSmall, BadDigest, ...): nothing was
    /// created, the parts are still there.
    #[error("storage refused the parts ({code}: {message})")]
    Refused { code: String, message: String },
    /// The multipart upload no longer exists.
    #[error("no such multipart upload")]
    NoSuchUpload,
    /// The key already holds an object (the conditional write was refused).
    #[error("an object exists at the key")]
    KeyExists,
    /// Outcome unknown.
    #[error(transparent)]
    Failed(#[from] PortError),
}

/// What storage checks a completed object against, beyond each part's ETag.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The declared file size: S3 refuses a completion of another total size
    /// (`x-amz-mp-object-size`, 400 InvalidRequest).
    pub size: u64,
    /// The upload's checksum algorithm, so each part's checksum is sent under its name.
    pub checksum: Option<ChecksumAlgorithm>,
    /// The client's checksum of the whole file for full-object uploads (CRC64NVME): storage
    /// refuses other bytes.
    pub whole_file: Option<&'a str>,
}

/// The multipart calls the service makes. Bytes never pass through here.
pub trait ObjectStore: Send + Sync {
    fn bucket(&self) -> &str;

    /// Starts a multipart upload of an object with these Content-Type and Content-Disposition
    /// headers and user metadata (`x-amz-meta-*`); its S3 upload id.
    fn create_multipart<'a>(
        &'a self, key: &'a ObjectKey, content_type: &'a str, content_disposition: &'a str,
        checksum: Option<ChecksumAlgorithm>, metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<S3UploadId, PortError>>;

    /// Every part held, in part-number order; `None` if the multipart upload no longer exists.
    fn list_parts<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<Option<Vec<StoredPart>>, PortError>>;

    /// Completes with `parts`, never overwriting an existing object, and only as the object
    /// `expected` describes.
    fn complete<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId, parts: &'a [PartRef],
        expected: Expected<'a>,
    ) -> BoxFuture<'a, Result<CompletedObject, CompleteError>>;

    /// `true` if this call aborted it, `false` if it was already gone.
    fn abort<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<bool, PortError>>;

    /// The object at `key`, if there is one.
    fn head<'a>(
        &'a self, key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectHead>, PortError>>;

    /// One page of the multipart uploads under `prefix`.
    fn multipart_uploads<'a>(
        &'a self, prefix: &'a str, start: Option<PageToken>,
    ) -> BoxFuture<'a, Result<Paged<MultipartListing>, PortError>>;
}
