//! `POST /abort`: stops the upload and frees its parts. Idempotent: aborting twice is fine.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{caller, json_body, owned_upload, Deps, Outcome};
use crate::usecases::abort::abort;

pub async fn handle(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let record = owned_upload(deps, &owner, &body).await?;
    let upload_id = record.upload_id.clone();
    let status = abort(deps.ports(), &deps.config, record).await?;
    Ok((
        StatusCode::OK,
        json!({ "uploadId": upload_id, "status": status.as_str() }),
    ))
}
