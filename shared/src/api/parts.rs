//! `GET /parts/{uploadId}` (what S3 holds, for resuming) and `GET /status/{uploadId}` (the record and
//! progress).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{caller, path_upload_id, Deps, Outcome};
use crate::clock::rfc3339;
use crate::domain::Status;
use crate::error::ApiError;

pub async fn list(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let upload_id = path_upload_id(req)?;
    let record = deps.records.get_owned(&upload_id, &owner).await?;
    tracing::Span::current().record("upload_id", record.upload_id.as_str());
    record.require_uploading(deps.clock.epoch_secs())?;
    let parts = deps
        .storage
        .list_parts(&record.key, &record.s3_upload_id)
        .await?
        .ok_or_else(ApiError::expired)?;
    let parts: Vec<_> = parts
        .iter()
        .map(|p| json!({ "PartNumber": p.number, "ETag": p.etag, "Size": p.size }))
        .collect();
    Ok((
        StatusCode::OK,
        json!({ "uploadId": record.upload_id, "parts": parts }),
    ))
}

pub async fn status(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let upload_id = path_upload_id(req)?;
    let record = deps.records.get_owned(&upload_id, &owner).await?;
    tracing::Span::current().record("upload_id", record.upload_id.as_str());
    let status = record.status_at(deps.clock.epoch_secs());
    let (uploaded_parts, uploaded_bytes) = match status {
        Status::Completed => (record.total_parts, record.file_size),
        Status::Initiated | Status::Completing => {
            let parts = deps
                .storage
                .list_parts(&record.key, &record.s3_upload_id)
                .await?
                .unwrap_or_default();
            let counted = parts
                .iter()
                .filter(|p| (1..=record.total_parts).contains(&p.number));
            counted.fold((0, 0), |(n, bytes), p| (n + 1, bytes + p.size))
        }
        Status::Aborted | Status::Expired => (0, 0),
    };
    let mut body = json!({
        "uploadId": record.upload_id,
        "status": status.as_str(),
        "key": record.key,
        "fileName": record.file_name,
        "fileType": record.file_type,
        "fileSize": record.file_size,
        "chunkSize": record.part_size,
        "totalParts": record.total_parts,
        "uploadedParts": uploaded_parts,
        "uploadedBytes": uploaded_bytes,
        "createdAt": rfc3339(record.created_at),
        "expiresAt": rfc3339(record.expires_at),
    });
    if let Some(c) = &record.completion {
        body["etag"] = json!(c.etag);
        body["location"] = json!(c.location);
        body["completedAt"] = json!(rfc3339(c.completed_at));
        if let Some(checksum) = &c.checksum {
            body["checksum"] = json!(checksum);
        }
    }
    if let Some(algorithm) = record.checksum_algorithm {
        body["checksumAlgorithm"] = json!(algorithm.as_str());
    }
    Ok((StatusCode::OK, body))
}
