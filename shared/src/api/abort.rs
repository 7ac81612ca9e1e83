//! `POST /abort`: stops the upload and frees its parts. Idempotent: aborting twice is fine.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::{answer, body, caller, owned_upload, wire_id, wire_status, Deps, Outcome, Parsed};
use crate::usecases::abort as usecase;
use upload_contract::AbortResponse;

pub async fn abort(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let body = body(parsed)?;
    let record = owned_upload(deps, &owner, body).await?;
    let upload_id = wire_id(&record)?;
    let status = usecase::abort(deps.ports(), &deps.config, record).await?;
    answer(
        StatusCode::OK,
        &AbortResponse {
            upload_id,
            status: wire_status(status),
        },
    )
}
