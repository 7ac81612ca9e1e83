//! `POST /complete`: parses the optional part list, completes the upload (`usecases::complete`), and
//! answers the completed object.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::error::ApiError;
use super::{answer, caller, check_key, claim, parse, read, wire_id, Deps, Outcome, Parsed};
use crate::adapters::clock::rfc3339;
use crate::domain::ids::PartNumber;
use crate::domain::{UploadError, UploadRecord};
use crate::ports::PartRef;
use crate::usecases::complete::{self as usecase, let_go};
use upload_contract::{
    ChecksumType, CompleteRequest, CompleteResponse, CompletedPart, ErrorCode, ObjectKey,
    UploadStatus,
};

pub async fn complete(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let request: CompleteRequest = read(deps, parsed)?;
    let client_parts: Option<Vec<PartRef>> = request
        .parts
        .map(|parts| parts.into_iter().map(part_ref).collect())
        .transpose()?;
    let whole_file = request.checksum.as_deref();
    let client_key = request.key.as_ref().map(|key| key.0.as_str());
    let holding = claim(deps, &owner, &parse::upload_id(&request.upload_id)?).await?;
    let checked = match holding.record() {
        Some(record) => {
            check_key(record, client_key).and_then(|()| whole_file_checksum(record, whole_file))
        }
        None => Err(UploadError::NotFound.into()),
    };
    let whole_file = match checked {
        Ok(whole_file) => whole_file,
        Err(refused) => {
            let_go(deps.ports(), &holding).await;
            return Err(refused);
        }
    };
    let record = usecase::complete(
        deps.ports(),
        &deps.config,
        holding,
        client_parts.as_deref(),
        whole_file,
    )
    .await?;
    completed_response(&record)
}

/// The client's whole-file checksum: required for full-object uploads (storage checks it against
/// the bytes it holds), refused for others.
fn whole_file_checksum<'a>(
    record: &UploadRecord, value: Option<&'a str>,
) -> Result<Option<&'a str>, ApiError> {
    match (record.checksum_algorithm, value) {
        (Some(algorithm), Some(value)) if algorithm.full_object() => {
            Ok(Some(algorithm.check_value(value, "checksum")?))
        }
        (Some(algorithm), None) if algorithm.full_object() => Err(ApiError::bad_request(
            ErrorCode::MissingChecksum,
            format!(
                "this upload is verified as a whole file: send checksum, the file's base64 {}",
                algorithm.as_str()
            ),
        )),
        (_, Some(_)) => Err(ApiError::bad_request(
            ErrorCode::ChecksumNotEnabled,
            "checksum (the whole file's) applies to CRC64NVME uploads only; omit it",
        )),
        (_, None) => Ok(None),
    }
}

/// The upload's checksum algorithm and what its object's checksum covers, as the wire names them;
/// both `None` for an unverified upload.
pub(super) fn wire_checksum(
    record: &UploadRecord,
) -> (
    Option<upload_contract::ChecksumAlgorithm>,
    Option<ChecksumType>,
) {
    let algorithm = record.checksum_algorithm;
    (
        algorithm.map(|a| upload_contract::ChecksumAlgorithm::parse(a.as_str())),
        algorithm.map(|a| {
            if a.full_object() {
                ChecksumType::FullObject
            } else {
                ChecksumType::Composite
            }
        }),
    )
}

/// A part as the client listed it, as storage is given it: the checksum is the one field of the
/// three it sent.
pub(super) fn part_ref(part: CompletedPart) -> Result<PartRef, ApiError> {
    let number = PartNumber::new(part.part_number).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidParts,
            format!(
                "PartNumber {} is not a part number (1 to 10000)",
                part.part_number
            ),
        )
    })?;
    Ok(PartRef {
        number,
        etag: part.etag,
        checksum: part
            .checksum_crc64nvme
            .or(part.checksum_sha256)
            .or(part.checksum_crc32c),
    })
}

fn completed_response(record: &UploadRecord) -> Outcome {
    let c = record.completion.as_ref();
    let (checksum_algorithm, checksum_type) = wire_checksum(record);
    answer(
        StatusCode::OK,
        &CompleteResponse {
            upload_id: wire_id(record)?,
            status: UploadStatus::Completed,
            key: ObjectKey(record.key.to_string()),
            location: c.map(|c| c.location.clone()),
            etag: c.map(|c| c.etag.clone()),
            size: c.map_or(record.file_size, |c| c.size),
            completed_at: c.map(|c| rfc3339(c.completed_at)),
            checksum: c.and_then(|c| c.checksum.clone()),
            checksum_algorithm,
            checksum_type,
        },
    )
}
