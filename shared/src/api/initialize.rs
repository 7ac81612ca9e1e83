//! `POST /initialize`: parses the file's description, starts the upload, answers its plan.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::{answer, caller, json_body, lookups, wire_id, Deps, Outcome};
use crate::clock::rfc3339;
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::{metadata, validate};
use crate::usecases::initialize::{initialize, Initialized, NewUpload};
use upload_contract::{InitializeResponse, ListedPart, ObjectKey, UploadStatus};

pub async fn handle(deps: &Deps, req: &Request) -> Outcome {
    let owner = caller(req)?;
    let body = json_body(deps, req)?;
    let new = NewUpload {
        owner,
        file_name: validate::file_name(body.string("fileName")?)?.to_owned(),
        file_type: validate::content_type(
            body.string("fileType")?,
            &deps.config.allowed_content_types,
        )?,
        file_size: validate::file_size(&body, deps.config.max_file_size)?,
        metadata: metadata::parse(body.opt_object("metadata")?)?,
        checksum_algorithm: body
            .opt_string("checksumAlgorithm")?
            .map(ChecksumAlgorithm::parse)
            .transpose()?,
        part_size: body.opt_integer("partSize", 0, u64::MAX)?,
        fingerprint: validate::fingerprint(body.opt_string("fingerprint")?)?,
    };
    if new.checksum_algorithm.is_none() && deps.config.require_checksum {
        return Err(crate::error::ApiError::bad_request(
            "CHECKSUM_REQUIRED",
            format!(
                "this service requires checksumAlgorithm (one of {}; CRC64NVME recommended)",
                ChecksumAlgorithm::NAMES
            ),
        ));
    }
    let first = lookups(&new.owner, new.fingerprint.as_deref());
    let Initialized { record, resumed } =
        initialize(deps.ports(), &deps.config, new, first).await?;
    let algorithm = record.checksum_algorithm;
    let status = match resumed {
        Some(_) => StatusCode::OK,
        None => StatusCode::CREATED,
    };
    answer(
        status,
        &InitializeResponse {
            upload_id: wire_id(&record)?,
            key: ObjectKey(record.key.clone()),
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
            parts: resumed.map(|parts| {
                parts
                    .into_iter()
                    .map(|p| ListedPart {
                        part_number: p.number,
                        etag: p.etag,
                        size: p.size,
                        checksum: p.checksum,
                    })
                    .collect()
            }),
        },
    )
}
