//! `POST /initialize`: checks the file, plans its parts, starts the S3 multipart upload and records it.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{caller, json_body, Deps, Outcome};
use crate::clock::rfc3339;
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::key::object_key;
use crate::domain::sizing::PartPlan;
use crate::domain::{validate, Status, UploadRecord};
use crate::error::ApiError;

pub async fn handle(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let config = &deps.config;
    let file_name = validate::file_name(body.string("fileName")?)?;
    let file_type =
        validate::content_type(body.string("fileType")?, &config.allowed_content_types)?;
    let file_size = body.integer("fileSize", 0, u64::MAX)?;
    let checksum_algorithm = body
        .opt_string("checksumAlgorithm")?
        .map(ChecksumAlgorithm::parse)
        .transpose()?;
    if file_size == 0 {
        return Err(ApiError::bad_request(
            "INVALID_FILE_SIZE",
            "fileSize must be at least 1 byte",
        ));
    }
    let plan = PartPlan::for_file(file_size, config.preferred_part_size)
        .filter(|_| file_size <= config.max_file_size)
        .ok_or_else(|| {
            ApiError::bad_request(
                "FILE_TOO_LARGE",
                format!("fileSize must be at most {} bytes", config.max_file_size),
            )
        })?;

    let upload_id = uuid::Uuid::new_v4().hyphenated().to_string();
    tracing::Span::current().record("upload_id", upload_id.as_str());
    let key = object_key(&owner, &upload_id, file_name);
    let s3_upload_id = deps
        .storage
        .create_multipart(&key, &file_type, checksum_algorithm)
        .await?;
    let now = deps.clock.epoch_secs();
    let expires_at = now + config.upload_ttl_secs as i64;
    let record = UploadRecord {
        upload_id,
        owner,
        key,
        s3_upload_id,
        file_name: file_name.to_owned(),
        file_type,
        file_size,
        part_size: plan.part_size,
        total_parts: plan.total_parts,
        checksum_algorithm,
        status: Status::Initiated,
        created_at: now,
        expires_at,
        ttl: expires_at + config.record_retention_secs as i64,
        completing_since: None,
        completion: None,
    };
    if let Err(err) = deps.records.create(&record).await {
        // Without a record nothing could ever complete or clean up this upload: drop it now.
        if let Err(abort) = deps.storage.abort(&record.key, &record.s3_upload_id).await {
            tracing::warn!("could not abort the unrecorded multipart upload: {abort}");
        }
        return Err(err);
    }
    let mut body = json!({
        "uploadId": record.upload_id,
        "key": record.key,
        "chunkSize": record.part_size,
        "totalParts": record.total_parts,
        "expiresAt": rfc3339(record.expires_at),
    });
    if let Some(algorithm) = checksum_algorithm {
        body["checksumAlgorithm"] = json!(algorithm.as_str());
        body["checksumHeader"] = json!(algorithm.header());
    }
    Ok((StatusCode::CREATED, body))
}
