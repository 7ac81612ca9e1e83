//! `POST /abort`: stops the upload and frees its parts. Idempotent: aborting twice is fine.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{caller, json_body, owned_upload, Deps, Endpoint, Outcome};
use crate::domain::record::not_uploading;
use crate::domain::Status;
use crate::metrics::Metric;

pub async fn handle(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let mut record = owned_upload(deps, &owner, &body).await?;
    let mut transitioned = false;
    tracing::Span::current().record("upload_id", record.upload_id.as_str());
    loop {
        match record.status {
            // First the record, so no URL or completion is granted from here on; then S3.
            Status::Initiated => {
                if deps.records.mark_aborted(&record).await? {
                    transitioned = true;
                    deps.metrics.emit(
                        Endpoint::Abort.name(),
                        &[],
                        &[(Metric::UploadsAborted, 1.0)],
                    );
                    break;
                }
                record = deps.records.get_owned(&record.upload_id, &owner).await?;
            }
            // Repeating S3's abort is harmless and finishes one that failed half-way.
            Status::Aborted | Status::Expired => break,
            status @ (Status::Completing | Status::Completed) => return Err(not_uploading(status)),
        }
    }
    match deps.storage.abort(&record.key, &record.s3_upload_id).await {
        Ok(()) => {}
        // This request aborted it: the caller must retry until S3 has dropped the parts.
        Err(err) if transitioned => return Err(err),
        // A repeat: the record already says so; leftovers are swept by the cleanup and lifecycle rule.
        Err(err) => tracing::warn!("repeated abort could not reach S3: {err}"),
    }
    let status = match record.status {
        Status::Expired => Status::Expired,
        _ => Status::Aborted,
    };
    Ok((
        StatusCode::OK,
        json!({ "uploadId": record.upload_id, "status": status.as_str() }),
    ))
}
