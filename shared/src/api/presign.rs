//! `POST /presigned-url` and `POST /batch-presigned-urls`: parse the part range and checksums, then
//! [`usecases::presign`](crate::usecases::presign) for the caller's own upload (one DynamoDB read,
//! no S3 call).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::UNIX_EPOCH;

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::error::ApiError;
use super::{answer, caller, owned_request, read, Deps, Outcome, Parsed};
use crate::adapters::clock::rfc3339;
use crate::domain::ids::PartNumber;
use crate::domain::{UploadError, UploadRecord};
use crate::usecases::presign::{self as usecase, ChecksumOf, Presigned};
use upload_contract::{
    BatchPresignedUrlsRequest, BatchPresignedUrlsResponse, ErrorCode, PartUrl, PresignedUrlRequest,
    PresignedUrlResponse,
};

pub async fn presigned_url(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let request: PresignedUrlRequest = read(deps, parsed)?;
    let record = owned_request(deps, &owner, &request.upload_id, request.key.as_ref()).await?;
    let part = part_number(request.part_number, "partNumber")?;
    let checksum = Single(request.checksum.as_deref());
    let (urls, expires_at) = sign(deps, &record, part..=part, &checksum).await?;
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
    let request: BatchPresignedUrlsRequest = read(deps, parsed)?;
    let record = owned_request(deps, &owner, &request.upload_id, request.key.as_ref()).await?;
    let parts =
        part_number(request.start_part, "startPart")?..=part_number(request.end_part, "endPart")?;
    let checksums = Batch(request.checksums.as_ref());
    let (urls, expires_at) = sign(deps, &record, parts, &checksums).await?;
    answer(
        StatusCode::OK,
        &BatchPresignedUrlsResponse { urls, expires_at },
    )
}

/// A part number the parser checked already, as the domain's type.
fn part_number(n: u32, field: &str) -> Result<PartNumber, ApiError> {
    PartNumber::new(n).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("{field} must be a whole number from 1 to 10000"),
        )
    })
}

/// The one part's `checksum` of `POST /presigned-url`.
struct Single<'a>(Option<&'a str>);

impl ChecksumOf for Single<'_> {
    fn checksum(&self, _part: PartNumber) -> Result<Option<&str>, UploadError> {
        Ok(self.0)
    }

    fn field(&self, _part: PartNumber) -> String {
        "checksum".to_owned()
    }
}

/// The batch's `checksums` (`{"1": "base64", ...}`), the entries of its range.
struct Batch<'a>(Option<&'a BTreeMap<String, String>>);

impl ChecksumOf for Batch<'_> {
    fn checksum(&self, part: PartNumber) -> Result<Option<&str>, UploadError> {
        Ok(self
            .0
            .and_then(|c| c.get(&part.to_string()))
            .map(String::as_str))
    }

    fn field(&self, part: PartNumber) -> String {
        format!("checksums[\"{part}\"]")
    }
}

/// The URLs of `parts` of the caller's `record`, as the wire lists them, and when they expire.
async fn sign(
    deps: &Deps, record: &UploadRecord, parts: RangeInclusive<PartNumber>,
    checksums: &dyn ChecksumOf,
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
        part_number: part.number.get(),
        presigned_url: part.url,
        headers: part.headers,
    }
}

fn expires_at(presigned: &Presigned) -> String {
    let secs = presigned.expires_at.duration_since(UNIX_EPOCH);
    rfc3339(secs.map_or(0, |d| d.as_secs() as i64))
}
