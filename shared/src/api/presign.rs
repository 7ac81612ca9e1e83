//! `POST /presigned-url` and `POST /batch-presigned-urls`: URLs for the caller's own upload, for parts
//! within its range, expiring at the configured lifetime but never after the upload itself. One
//! DynamoDB read, no S3 call. For checksummed uploads each URL is signed with its part's checksum.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::{answer, caller, json_body, owned_upload, Deps, Outcome};
use crate::adapters::clock::rfc3339;
use crate::adapters::presign::Signed;
use crate::domain::sizing::MAX_PARTS;
use crate::domain::UploadRecord;
use upload_contract::{BatchPresignedUrlsResponse, ErrorCode, PartUrl, PresignedUrlResponse};

pub async fn presigned_url(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let part = body.integer("partNumber", 1, MAX_PARTS)? as u32;
    let checksum = body.opt_string("checksum")?;
    let record = owned_upload(deps, &owner, &body).await?;
    let signer = Signer::for_upload(deps, &record).await?;
    check_range(&record, part, part)?;
    let url = signer.sign(part, checksum, || "checksum".to_owned())?;
    answer(
        StatusCode::OK,
        &PresignedUrlResponse {
            url,
            expires_at: signer.expires_at(),
        },
    )
}

pub async fn batch_presigned_urls(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let start = body.integer("startPart", 1, MAX_PARTS)? as u32;
    let end = body.integer("endPart", 1, MAX_PARTS)? as u32;
    if start > end {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidPartRange,
            format!("startPart ({start}) must not be greater than endPart ({end})"),
        ));
    }
    let limit = deps.config.max_parts_per_batch;
    if end - start + 1 > limit {
        return Err(ApiError::bad_request(
            ErrorCode::BatchTooLarge,
            format!("at most {limit} parts per request; ask for the rest in further requests"),
        ));
    }
    let checksums = body.opt_object("checksums")?;
    let record = owned_upload(deps, &owner, &body).await?;
    let signer = Signer::for_upload(deps, &record).await?;
    check_range(&record, start, end)?;
    let mut urls = Vec::with_capacity((end - start + 1) as usize);
    for part in start..=end {
        let checksum = batch_checksum(checksums, part)?;
        urls.push(signer.sign(part, checksum, || format!("checksums[\"{part}\"]"))?);
    }
    answer(
        StatusCode::OK,
        &BatchPresignedUrlsResponse {
            urls,
            expires_at: signer.expires_at(),
        },
    )
}

/// Part `part`'s entry of the batch's `checksums` object (`{"1": "base64", ...}`).
fn batch_checksum(
    checksums: Option<&Map<String, Value>>,
    part: u32,
) -> Result<Option<&str>, ApiError> {
    match checksums.and_then(|c| c.get(&part.to_string())) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("checksums[\"{part}\"] must be a string"),
        )),
    }
}

fn check_range(record: &UploadRecord, start: u32, end: u32) -> Result<(), ApiError> {
    if end > record.total_parts {
        let total = record.total_parts;
        return Err(ApiError::bad_request(
            ErrorCode::InvalidPartNumber,
            format!("part numbers must be from 1 to {total} for this upload"),
        ));
    }
    debug_assert!(start >= 1);
    Ok(())
}

/// Signs the parts of one live upload with one expiry for all of them.
struct Signer<'a> {
    record: &'a UploadRecord,
    signed: Signed,
}

impl<'a> Signer<'a> {
    /// The URLs expire after the configured lifetime, but never after the upload itself nor
    /// after the credentials that sign them.
    async fn for_upload(deps: &Deps, record: &'a UploadRecord) -> Result<Self, ApiError> {
        let now = deps.clock.epoch_secs();
        record.require_uploading(now)?;
        let wanted = (now + deps.config.presigned_url_ttl_secs as i64).min(record.expires_at);
        let signed = deps
            .presigner
            .for_upload(
                &record.key,
                &record.s3_upload_id,
                record.checksum_algorithm,
                at(now),
                at(wanted),
            )
            .await?;
        Ok(Self { record, signed })
    }

    fn expires_at(&self) -> String {
        let secs = self.signed.expires_at.duration_since(UNIX_EPOCH);
        rfc3339(secs.map_or(0, |d| d.as_secs() as i64))
    }

    /// `{partNumber, presignedUrl, headers}`: the headers the PUT must carry (its exact
    /// `content-length`, and the checksum for checksummed uploads).
    /// `field` names the checksum's place in the request, for error messages only.
    fn sign(
        &self,
        part: u32,
        checksum: Option<&str>,
        field: impl Fn() -> String,
    ) -> Result<PartUrl, ApiError> {
        let checksum = match (self.record.checksum_algorithm, checksum) {
            (Some(algorithm), Some(value)) => {
                Some((algorithm, algorithm.check_value(value, &field())?))
            }
            (Some(algorithm), None) => {
                let field = field();
                return Err(ApiError::bad_request(
                    ErrorCode::MissingChecksum,
                    format!(
                        "this upload verifies parts with {}: send {field} for part {part}",
                        algorithm.as_str()
                    ),
                ));
            }
            (None, Some(_)) => {
                return Err(ApiError::bad_request(
                    ErrorCode::ChecksumNotEnabled,
                    "this upload was started without checksumAlgorithm; omit the checksum",
                ))
            }
            (None, None) => None,
        };
        let length = self.record.part_length(part);
        let url = self
            .signed
            .signer
            .url(part, length, checksum.map(|(_, value)| value));
        Ok(PartUrl {
            part_number: part,
            presigned_url: url,
            headers: crate::adapters::presign::part_headers(length, checksum),
        })
    }
}

fn at(epoch_secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(epoch_secs.max(0) as u64)
}
