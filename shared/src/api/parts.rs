//! `GET /parts/{uploadId}` (what S3 holds, for resuming) and `GET /status/{uploadId}` (the record and
//! progress).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{caller, owned, path_upload_id, Deps, Outcome};
use crate::clock::rfc3339;
use crate::usecases::parts;

pub async fn list(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let upload_id = path_upload_id(req)?;
    let record = owned(deps, &owner, &upload_id).await?;
    let parts = parts::list(deps.ports(), &record).await?;
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
    let record = owned(deps, &owner, &upload_id).await?;
    let progress = parts::progress(deps.ports(), &record).await?;
    let mut body = json!({
        "uploadId": record.upload_id,
        "status": progress.status.as_str(),
        "key": record.key,
        "fileName": record.file_name,
        "fileType": record.file_type,
        "fileSize": record.file_size,
        "chunkSize": record.part_size,
        "totalParts": record.total_parts,
        "uploadedParts": progress.uploaded_parts,
        "uploadedBytes": progress.uploaded_bytes,
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
