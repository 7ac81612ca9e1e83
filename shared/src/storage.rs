//! The S3 multipart calls the service makes. Bytes never pass through here: phones PUT parts to
//! presigned URLs, this module only creates, lists, completes and aborts.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    ChecksumAlgorithm as S3ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload,
    CompletedPart, CorsConfiguration, CorsRule,
};
use aws_sdk_s3::Client;

use crate::domain::checksum::ChecksumAlgorithm;
use crate::error::ApiError;

/// ListParts pages at most this many parts.
const LIST_PAGE: i32 = 1000;

#[derive(Clone, Debug)]
pub struct Storage {
    client: Client,
    bucket: String,
}

/// A part S3 holds. `etag` is `None` only where a local S3 server omits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub etag: Option<String>,
    pub size: u64,
    /// The part's checksum in the upload's algorithm, where S3 reports it.
    pub checksum: Option<String>,
}

/// A part to complete with: number, ETag and (for checksummed uploads) its checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRef {
    pub number: u32,
    pub etag: String,
    pub checksum: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CompletedObject {
    pub etag: String,
    pub location: String,
    pub checksum: Option<String>,
}

/// Why CompleteMultipartUpload did not succeed.
#[derive(Debug)]
pub enum CompleteError {
    /// S3 refused the part list (InvalidPart, InvalidPartOrder, EntityTooSmall, ...): a client matter.
    Refused {
        code: String,
        message: String,
    },
    /// The multipart upload no longer exists in S3.
    NoSuchUpload,
    /// The key already holds an object (conditional write refused).
    KeyExists,
    Failed(ApiError),
}

impl Storage {
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

    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<String, ApiError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type);
        if let Some(algorithm) = checksum {
            request = request
                .checksum_algorithm(s3_algorithm(algorithm))
                .checksum_type(ChecksumType::Composite);
        }
        let output = request
            .send()
            .await
            .map_err(|e| ApiError::upstream("creating the multipart upload", e))?;
        output.upload_id.ok_or_else(|| ApiError::Internal {
            status: lambda_http::http::StatusCode::BAD_GATEWAY,
            context: "creating the multipart upload",
            detail: "S3 returned no UploadId".into(),
        })
    }

    /// Every part S3 holds, in part-number order, following pagination; `None` if the multipart
    /// upload no longer exists.
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<StoredPart>>, ApiError> {
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
                Err(e) => return Err(ApiError::upstream("listing the uploaded parts", e)),
            };
            for part in page.parts() {
                let (Some(number), Some(size)) = (part.part_number, part.size) else {
                    continue;
                };
                parts.push(StoredPart {
                    number: u32::try_from(number).unwrap_or(0),
                    etag: part.e_tag.clone().filter(|e| !e.is_empty()),
                    size: u64::try_from(size).unwrap_or(0),
                    checksum: part
                        .checksum_sha256
                        .clone()
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

    /// Completes the upload with `parts`, refusing to overwrite an existing object.
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartRef],
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<CompletedObject, CompleteError> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|part| {
                        let built = CompletedPart::builder()
                            .part_number(part.number as i32)
                            .e_tag(&part.etag);
                        let value = part.checksum.clone();
                        match checksum {
                            Some(ChecksumAlgorithm::Sha256) => built.set_checksum_sha256(value),
                            Some(ChecksumAlgorithm::Crc32c) => built.set_checksum_crc32_c(value),
                            None => built,
                        }
                        .build()
                    })
                    .collect(),
            ))
            .build();
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .if_none_match("*")
            .send()
            .await;
        match result {
            Ok(output) => Ok(CompletedObject {
                checksum: output
                    .checksum_sha256
                    .clone()
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
                _ => {
                    CompleteError::Failed(ApiError::upstream("completing the multipart upload", e))
                }
            }),
        }
    }

    /// Aborts the multipart upload; one that is already gone counts as aborted.
    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<(), ApiError> {
        self.abort_reporting(key, upload_id).await.map(|_| ())
    }

    /// Aborts the multipart upload: `true` if this call aborted it, `false` if it was already gone.
    pub async fn abort_reporting(&self, key: &str, upload_id: &str) -> Result<bool, ApiError> {
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
            Err(e) => Err(ApiError::upstream("aborting the multipart upload", e)),
        }
    }

    /// One page of the bucket's multipart uploads under `prefix`: (key, upload id, initiated epoch
    /// seconds), and the markers of the next page.
    pub async fn multipart_uploads_page(
        &self,
        prefix: &str,
        markers: Option<(String, String)>,
    ) -> Result<(Vec<(String, String, i64)>, Option<(String, String)>), ApiError> {
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
            .map_err(|e| ApiError::upstream("listing multipart uploads", e))?;
        let uploads = page
            .uploads()
            .iter()
            .filter_map(|u| {
                Some((
                    u.key.clone()?,
                    u.upload_id.clone()?,
                    u.initiated.map_or(0, |t| t.secs()),
                ))
            })
            .collect();
        let next = match (
            page.is_truncated,
            page.next_key_marker,
            page.next_upload_id_marker,
        ) {
            (Some(true), Some(key), Some(upload)) => Some((key, upload)),
            _ => None,
        };
        Ok((uploads, next))
    }

    /// The ETag and size of the object at `key`, if there is one.
    pub async fn head(&self, key: &str) -> Result<Option<(String, u64)>, ApiError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some((
                o.e_tag.unwrap_or_default(),
                o.content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            ))),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(ApiError::upstream("reading the completed object", e)),
        }
    }

    /// Creates the bucket with the template's CORS rule (local stack and tests only). Servers that do
    /// not implement CORS (s3s-fs) are tolerated.
    pub async fn create_bucket(&self) -> Result<(), ApiError> {
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    error_code(&e).as_deref(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) => {}
            Err(e) => return Err(ApiError::upstream("creating the bucket", e)),
        }
        let rule = CorsRule::builder()
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_origins("*")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()
            .map_err(|e| ApiError::internal("building the CORS rule", e))?;
        let cors = CorsConfiguration::builder()
            .cors_rules(rule)
            .build()
            .map_err(|e| ApiError::internal("building the CORS rule", e))?;
        match self
            .client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(cors)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "NotImplemented") => Ok(()),
            Err(e) => Err(ApiError::upstream("setting the bucket's CORS rule", e)),
        }
    }
}

fn s3_algorithm(algorithm: ChecksumAlgorithm) -> S3ChecksumAlgorithm {
    match algorithm {
        ChecksumAlgorithm::Sha256 => S3ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Crc32c => S3ChecksumAlgorithm::Crc32C,
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
