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
use crate::domain::{UploadError, UploadRecord};
use crate::usecases::presign::{self as usecase, ChecksumOf, Presigned};
use upload_contract::{
    BatchPresignedUrlsRequest, BatchPresignedUrlsResponse, PartUrl, PresignedUrlRequest,
    PresignedUrlResponse,
};

pub async fn presigned_url(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let request: PresignedUrlRequest = read(deps, parsed)?;
    let record = owned_request(deps, &owner, &request.upload_id, request.key.as_ref()).await?;
    let part = request.part_number;
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
    let parts = request.start_part..=request.end_part;
    let checksums = Batch(request.checksums.as_ref());
    let (urls, expires_at) = sign(deps, &record, parts, &checksums).await?;
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

/// The batch's `checksums` (`{"1": "base64", ...}`), the entries of its range.
struct Batch<'a>(Option<&'a BTreeMap<String, String>>);

impl ChecksumOf for Batch<'_> {
    fn checksum(&self, part: u32) -> Result<Option<&str>, UploadError> {
        Ok(self
            .0
            .and_then(|c| c.get(&part.to_string()))
            .map(String::as_str))
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
