//! `POST /abort`: stops the upload and frees its parts. Idempotent: aborting twice is fine.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::{answer, caller, owned_request, read, wire_id, wire_status, Deps, Outcome, Parsed};
use crate::usecases::abort as usecase;
use upload_contract::{AbortRequest, AbortResponse};

pub async fn abort(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let request: AbortRequest = read(deps, parsed)?;
    let record = owned_request(deps, &owner, &request.upload_id, request.key.as_ref()).await?;
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
