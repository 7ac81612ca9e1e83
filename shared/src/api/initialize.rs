//! `POST /initialize`: parses the file's description, starts the upload, answers its plan.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::{answer, caller, lookups, read, wire_id, wire_part, Deps, Outcome, Parsed};
use crate::adapters::clock::rfc3339;
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::file;
use crate::usecases::initialize::{self as usecase, Initialized, NewUpload};
use upload_contract::{ErrorCode, InitializeRequest, InitializeResponse, ObjectKey, UploadStatus};

pub async fn initialize(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let request: InitializeRequest = read(deps, parsed)?;
    let new = NewUpload {
        owner,
        file_name: file::file_name(&request.file_name)?.to_owned(),
        file_type: file::content_type(&request.file_type, &deps.config.allowed_content_types)?,
        file_size: request.file_size,
        metadata: request.metadata.unwrap_or_default(),
        checksum_algorithm: request
            .checksum_algorithm
            .map(|algorithm| ChecksumAlgorithm::parse(algorithm.as_str()))
            .transpose()?,
        part_size: request.part_size,
        fingerprint: file::fingerprint(request.fingerprint.as_deref())?,
    };
    if new.checksum_algorithm.is_none() && deps.config.require_checksum {
        return Err(super::error::ApiError::bad_request(
            ErrorCode::ChecksumRequired,
            format!(
                "this service requires checksumAlgorithm (one of {}; CRC64NVME recommended)",
                ChecksumAlgorithm::NAMES
            ),
        ));
    }
    let first = lookups(&new.owner, new.fingerprint.as_deref());
    let Initialized { record, resumed } =
        usecase::initialize(deps.ports(), &deps.config, new, first).await?;
    let algorithm = record.checksum_algorithm;
    let status = match resumed {
        Some(_) => StatusCode::OK,
        None => StatusCode::CREATED,
    };
    answer(
        status,
        &InitializeResponse {
            upload_id: wire_id(&record)?,
            key: ObjectKey(record.key.to_string()),
            chunk_size: record.part_size,
            total_parts: record.total_parts,
            expires_at: rfc3339(record.expires_at),
            checksum_algorithm: algorithm
                .map(|a| upload_contract::ChecksumAlgorithm::parse(a.as_str())),
            checksum_header: algorithm.map(|a| a.header().to_owned()),
            resumed: resumed.is_some(),
            status: resumed
                .as_ref()
                .map(|_| UploadStatus::parse(record.status_at(deps.clock.epoch_secs()).as_str())),
            parts: resumed.map(|parts| parts.into_iter().map(wire_part).collect()),
        },
    )
}
