//! `POST /presigned-url` and `POST /batch-presigned-urls`: parse the part range and checksums, then
//! [`usecases::presign`](crate::usecases::presign) for the caller's own upload (one DynamoDB read,
//! no S3 call).

use std::ops::RangeInclusive;
use std::time::UNIX_EPOCH;

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::{answer, body, caller, owned_upload, Deps, Outcome, Parsed};
use crate::adapters::clock::rfc3339;
use crate::domain::sizing::MAX_PARTS;
use crate::domain::{UploadError, UploadRecord};
use crate::usecases::presign::{self as usecase, ChecksumOf, Presigned};
use upload_contract::{BatchPresignedUrlsResponse, ErrorCode, PartUrl, PresignedUrlResponse};

pub async fn presigned_url(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let body = body(parsed)?;
    let part = body.integer("partNumber", 1, MAX_PARTS)? as u32;
    let checksum = body.opt_string("checksum")?;
    let record = owned_upload(deps, &owner, body).await?;
    let (urls, expires_at) = sign(deps, &record, part..=part, &Single(checksum)).await?;
    let Some(url) = urls.into_iter().next() else {
        return Err(ApiError::internal(
            "signing the part",
            std::io::Error::other("no URL was signed"),
        ));
    };
    answer(StatusCode::OK, &PresignedUrlResponse { url, expires_at })
}

pub async fn batch_presigned_urls(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let body = body(parsed)?;
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
    let record = owned_upload(deps, &owner, body).await?;
    let (urls, expires_at) = sign(deps, &record, start..=end, &Batch(checksums)).await?;
    answer(
        StatusCode::OK,
        &BatchPresignedUrlsResponse { urls, expires_at },
    )
}

/// The one part's `checksum` of `POST /presigned-url`.
struct Single<'a>(Option<&'a str>);

impl ChecksumOf for Single<'_> {
    fn checksum(&self, _part: u32) -> Result<Option<&str>, UploadError> {
        Ok(self.0)
    }

    fn field(&self, _part: u32) -> String {
        "checksum".to_owned()
    }
}

/// The batch's `checksums` object (`{"1": "base64", ...}`), each entry read when its part is signed.
struct Batch<'a>(Option<&'a Map<String, Value>>);

impl ChecksumOf for Batch<'_> {
    fn checksum(&self, part: u32) -> Result<Option<&str>, UploadError> {
        match self.0.and_then(|c| c.get(&part.to_string())) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(UploadError::invalid(
                ErrorCode::InvalidField,
                format!("{} must be a string", self.field(part)),
            )),
        }
    }

    fn field(&self, part: u32) -> String {
        format!("checksums[\"{part}\"]")
    }
}

/// The URLs of `parts` of the caller's `record`, as the wire lists them, and when they expire.
async fn sign(
    deps: &Deps, record: &UploadRecord, parts: RangeInclusive<u32>, checksums: &dyn ChecksumOf,
) -> Result<(Vec<PartUrl>, String), ApiError> {
    let presigned = usecase::presign(
        deps.ports(),
        &deps.presigner,
        &deps.config,
        record,
        parts,
        checksums,
    )
    .await?;
    let expires_at = expires_at(&presigned);
    Ok((
        presigned.parts.into_iter().map(wire_part).collect(),
        expires_at,
    ))
}

fn wire_part(part: usecase::PresignedPart) -> PartUrl {
    PartUrl {
        part_number: part.number,
        presigned_url: part.url,
        headers: part.headers,
    }
}

fn expires_at(presigned: &Presigned) -> String {
    let secs = presigned.expires_at.duration_since(UNIX_EPOCH);
    rfc3339(secs.map_or(0, |d| d.as_secs() as i64))
}
