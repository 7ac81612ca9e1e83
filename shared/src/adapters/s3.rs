//! The object store on S3: the multipart calls the service makes. Bytes never pass through here:
//! phones PUT parts to presigned URLs, this module only creates, lists, completes and aborts.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    ChecksumAlgorithm as S3ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use aws_sdk_s3::Client;

use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::error::error_chain;
use crate::domain::ids::{ObjectKey, PartNumber, S3UploadId};
use crate::domain::metadata::Metadata;
use crate::ports::{
    BoxFuture, CompleteError, CompletedObject, Expected, MultipartListing, ObjectHead, ObjectStore,
    PageToken, Paged, PartRef, PortError, StoredPart,
};

/// ListParts pages at most this many parts.
const LIST_PAGE: i32 = 1000;

#[derive(Clone, Debug)]
pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn create_multipart_upload(
        &self, key: &str, content_type: &str, content_disposition: &str,
        checksum: Option<ChecksumAlgorithm>, metadata: &Metadata,
    ) -> Result<S3UploadId, PortError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_disposition(content_disposition);
        if !metadata.is_empty() {
            request = request.set_metadata(Some(metadata.clone().into_iter().collect()));
        }
        if let Some(algorithm) = checksum {
            request = request
                .checksum_algorithm(s3_algorithm(algorithm))
                .checksum_type(checksum_type(algorithm));
        }
        let output = request
            .send()
            .await
            .map_err(|e| PortError::new("CreateMultipartUpload", error_chain(&e)))?;
        output
            .upload_id
            .map(S3UploadId::from)
            .ok_or_else(|| PortError::new("CreateMultipartUpload", "S3 returned no UploadId"))
    }

    /// Every part S3 holds, in part-number order, following pagination; `None` if the multipart
    /// upload no longer exists.
    async fn list_all_parts(
        &self, key: &str, upload_id: &str,
    ) -> Result<Option<Vec<StoredPart>>, PortError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .max_parts(LIST_PAGE)
                .set_part_number_marker(marker.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if is_code(&e, "NoSuchUpload") => return Ok(None),
                Err(e) => return Err(PortError::new("ListParts", error_chain(&e))),
            };
            for part in page.parts() {
                let number = part
                    .part_number
                    .and_then(|n| u32::try_from(n).ok())
                    .and_then(PartNumber::new);
                let (Some(number), Some(size)) = (number, part.size) else {
                    continue;
                };
                parts.push(StoredPart {
                    number,
                    etag: part.e_tag.clone().filter(|e| !e.is_empty()),
                    size: u64::try_from(size).unwrap_or(0),
                    checksum: part
                        .checksum_crc64_nvme
                        .clone()
                        .or_else(|| part.checksum_sha256.clone())
                        .or_else(|| part.checksum_crc32_c.clone()),
                });
            }
            match (page.is_truncated, page.next_part_number_marker) {
                (Some(true), Some(next)) if !next.is_empty() => marker = Some(next),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.number);
        parts.dedup_by_key(|p| p.number);
        Ok(Some(parts))
    }

    /// Completes the upload with `parts`, refusing to overwrite an existing object. With
    /// `whole_file` (a full-object upload's CRC64NVME of the client's file), storage refuses to
    /// create an object whose bytes differ (`BadDigest`).
    async fn complete_upload(
        &self, key: &str, upload_id: &str, parts: &[PartRef], expected: Expected<'_>,
    ) -> Result<CompletedObject, CompleteError> {
        let Expected {
            size,
            checksum,
            whole_file,
        } = expected;
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|part| {
                        let built = CompletedPart::builder()
                            .part_number(part.number.get() as i32)
                            .e_tag(&part.etag);
                        let value = part.checksum.clone();
                        match checksum {
                            Some(ChecksumAlgorithm::Sha256) => built.set_checksum_sha256(value),
                            Some(ChecksumAlgorithm::Crc32c) => built.set_checksum_crc32_c(value),
                            Some(ChecksumAlgorithm::Crc64Nvme) => {
                                built.set_checksum_crc64_nvme(value)
                            }
                            None => built,
                        }
                        .build()
                    })
                    .collect(),
            ))
            .build();
        let mut request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .mpu_object_size(size as i64)
            .if_none_match("*");
        if let (Some(algorithm @ ChecksumAlgorithm::Crc64Nvme), Some(value)) =
            (checksum, whole_file)
        {
            request = request
                .checksum_crc64_nvme(value)
                .checksum_type(checksum_type(algorithm));
        }
        match request.send().await {
            Ok(output) => Ok(CompletedObject {
                checksum: output
                    .checksum_crc64_nvme
                    .clone()
                    .or_else(|| output.checksum_sha256.clone())
                    .or_else(|| output.checksum_crc32_c.clone()),
                etag: output.e_tag.unwrap_or_default(),
                location: output
                    .location
                    .unwrap_or_else(|| format!("s3://{}/{key}", self.bucket)),
            }),
            Err(e) => Err(match error_code(&e).as_deref() {
                Some("NoSuchUpload") => CompleteError::NoSuchUpload,
                Some("PreconditionFailed") => CompleteError::KeyExists,
                Some(
                    code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall"
                    | "InvalidRequest" | "BadDigest" | "InvalidDigest"),
                ) => CompleteError::Refused {
                    code: code.to_owned(),
                    message: e.message().unwrap_or_default().to_owned(),
                },
                _ => CompleteError::Failed(PortError::new(
                    "CompleteMultipartUpload",
                    error_chain(&e),
                )),
            }),
        }
    }

    /// Aborts the multipart upload: `true` if this call aborted it, `false` if it was already gone.
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<bool, PortError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "NoSuchUpload") => Ok(false),
            Err(e) => Err(PortError::new("AbortMultipartUpload", error_chain(&e))),
        }
    }

    /// One page of the bucket's multipart uploads under `prefix`: (key, upload id, initiated epoch
    /// seconds), and the markers of the next page.
    async fn multipart_uploads_page(
        &self, prefix: &str, start: Option<PageToken>,
    ) -> Result<Paged<MultipartListing>, PortError> {
        let markers = start.and_then(|t| {
            t.0.split_once('\0')
                .map(|(k, u)| (k.to_owned(), u.to_owned()))
        });
        let (key_marker, upload_marker) = markers.unzip();
        let page = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_key_marker(key_marker)
            .set_upload_id_marker(upload_marker)
            .send()
            .await
            .map_err(|e| PortError::new("ListMultipartUploads", error_chain(&e)))?;
        let uploads = page
            .uploads()
            .iter()
            .filter_map(|u| {
                Some(MultipartListing {
                    key: u.key.clone()?.into(),
                    s3_upload_id: u.upload_id.clone()?.into(),
                    initiated: u.initiated.map_or(0, |t| t.secs()),
                })
            })
            .collect();
        let next = match (
            page.is_truncated,
            page.next_key_marker,
            page.next_upload_id_marker,
        ) {
            (Some(true), Some(key), Some(upload)) => Some(PageToken(format!("{key}\0{upload}"))),
            _ => None,
        };
        Ok((uploads, next))
    }

    /// The ETag and size of the object at `key`, if there is one.
    async fn head_object(&self, key: &str) -> Result<Option<ObjectHead>, PortError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(ObjectHead {
                etag: o.e_tag.unwrap_or_default(),
                size: o
                    .content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            })),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(PortError::new("HeadObject", error_chain(&e))),
        }
    }
}

fn s3_algorithm(algorithm: ChecksumAlgorithm) -> S3ChecksumAlgorithm {
    match algorithm {
        ChecksumAlgorithm::Sha256 => S3ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Crc32c => S3ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme => S3ChecksumAlgorithm::Crc64Nvme,
    }
}

fn checksum_type(algorithm: ChecksumAlgorithm) -> ChecksumType {
    if algorithm.full_object() {
        ChecksumType::FullObject
    } else {
        ChecksumType::Composite
    }
}

fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned)
}

fn is_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, code: &str) -> bool {
    error_code(err).as_deref() == Some(code)
}

impl ObjectStore for S3Objects {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn create_multipart<'a>(
        &'a self, key: &'a ObjectKey, content_type: &'a str, content_disposition: &'a str,
        checksum: Option<ChecksumAlgorithm>, metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<S3UploadId, PortError>> {
        Box::pin(self.create_multipart_upload(
            key,
            content_type,
            content_disposition,
            checksum,
            metadata,
        ))
    }

    fn list_parts<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<Option<Vec<StoredPart>>, PortError>> {
        Box::pin(self.list_all_parts(key, s3_upload_id))
    }

    fn complete<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId, parts: &'a [PartRef],
        expected: Expected<'a>,
    ) -> BoxFuture<'a, Result<CompletedObject, CompleteError>> {
        Box::pin(self.complete_upload(key, s3_upload_id, parts, expected))
    }

    fn abort<'a>(
        &'a self, key: &'a ObjectKey, s3_upload_id: &'a S3UploadId,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.abort_upload(key, s3_upload_id))
    }

    fn head<'a>(
        &'a self, key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectHead>, PortError>> {
        Box::pin(self.head_object(key))
    }

    fn multipart_uploads<'a>(
        &'a self, prefix: &'a str, start: Option<PageToken>,
    ) -> BoxFuture<'a, Result<Paged<MultipartListing>, PortError>> {
        Box::pin(self.multipart_uploads_page(prefix, start))
    }
}
