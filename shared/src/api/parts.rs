//! `GET /parts/{uploadId}` (what S3 holds, for resuming) and `GET /status/{uploadId}` (the record and
//! progress).

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::complete::wire_checksum;
use super::{
    answer, caller, owned, path_upload_id, wire_id, wire_part, wire_status, Deps, Outcome,
};
use crate::adapters::clock::rfc3339;
use crate::usecases::parts as usecase;
use upload_contract::{ListPartsResponse, ObjectKey, StatusResponse};

pub async fn list_parts(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let upload_id = path_upload_id(req)?;
    let record = owned(deps, &owner, &upload_id).await?;
    let parts = usecase::list(deps.ports(), &record).await?;
    let parts = parts.into_iter().map(wire_part).collect();
    answer(
        StatusCode::OK,
        &ListPartsResponse {
            upload_id: wire_id(&record)?,
            parts,
        },
    )
}

pub async fn status(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let upload_id = path_upload_id(req)?;
    let record = owned(deps, &owner, &upload_id).await?;
    let progress = usecase::progress(deps.ports(), &record).await?;
    let c = record.completion.as_ref();
    let (checksum_algorithm, checksum_type) = wire_checksum(&record);
    answer(
        StatusCode::OK,
        &StatusResponse {
            upload_id: wire_id(&record)?,
            status: wire_status(progress.status),
            key: ObjectKey(record.key.to_string()),
            file_name: record.file_name.clone(),
            file_type: record.file_type.clone(),
            metadata: (!record.metadata.is_empty()).then(|| record.metadata.clone()),
            file_size: record.file_size,
            chunk_size: record.part_size,
            total_parts: record.total_parts,
            uploaded_parts: progress.uploaded_parts,
            uploaded_bytes: progress.uploaded_bytes,
            created_at: rfc3339(record.created_at),
            expires_at: rfc3339(record.expires_at),
            completed_at: c.map(|c| rfc3339(c.completed_at)),
            etag: c.map(|c| c.etag.clone()),
            location: c.map(|c| c.location.clone()),
            checksum: c.and_then(|c| c.checksum.clone()),
            checksum_algorithm,
            checksum_type,
        },
    )
}
