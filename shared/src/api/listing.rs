//! `GET /uploads?status=&limit=&cursor=`: the caller's uploads, newest first.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};

use super::{answer, caller, page, wire_id, wire_status, Deps, Outcome};
use crate::clock::rfc3339;
use crate::domain::listing;
use crate::domain::Status;
use crate::error::ApiError;
use crate::usecases::listing::{self as usecase, PageQuery};
use upload_contract::{ListUploadsResponse, ObjectKey, UploadSummary};

pub async fn list(deps: &Deps, req: &Request) -> Outcome {
    let query = page_query(req)?;
    let first = page(&query);
    let (owner, filter) = (query.owner.as_str(), query.filter);
    let (listed, next) = usecase::list(deps.ports(), &query, first).await?;
    let uploads = listed
        .iter()
        .map(|item| {
            let record = &item.record;
            let status = item.progress.status;
            let unfinished =
                matches!(status, Status::Initiated | Status::Completing) && item.parts_shown;
            Ok(UploadSummary {
                upload_id: wire_id(record)?,
                status: wire_status(status),
                key: ObjectKey(record.key.clone()),
                file_name: record.file_name.clone(),
                file_type: record.file_type.clone(),
                file_size: record.file_size,
                chunk_size: record.part_size,
                total_parts: record.total_parts,
                uploaded_parts: unfinished.then_some(item.progress.uploaded_parts),
                uploaded_bytes: unfinished.then_some(item.progress.uploaded_bytes),
                created_at: rfc3339(record.created_at),
                expires_at: rfc3339(record.expires_at),
                completed_at: record.completion.as_ref().map(|c| rfc3339(c.completed_at)),
            })
        })
        .collect::<Result<_, crate::ApiError>>()?;
    answer(
        StatusCode::OK,
        &ListUploadsResponse {
            uploads,
            next_cursor: next.map(|position| listing::cursor(owner, filter, &position)),
        },
    )
}

/// The page the request asks for: `status`, `limit` and `cursor` from the query string.
pub(super) fn page_query(req: &Request) -> Result<PageQuery, ApiError> {
    let owner = caller(req)?;
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name));
    let filter = listing::status_filter(param("status"))?;
    let limit = listing::page_size(param("limit"))?;
    let after = param("cursor")
        .map(|raw| listing::parse_cursor(&owner, filter, raw))
        .transpose()?;
    Ok(PageQuery {
        owner,
        filter,
        after,
        limit,
    })
}
