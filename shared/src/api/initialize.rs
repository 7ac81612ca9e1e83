//! `POST /initialize`: parses the file's description, starts the upload, answers its plan.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{caller, json_body, Deps, Outcome};
use crate::clock::rfc3339;
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::validate;
use crate::usecases::initialize::{initialize, Initialized, NewUpload};

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
        file_size: body.integer("fileSize", 0, u64::MAX)?,
        checksum_algorithm: body
            .opt_string("checksumAlgorithm")?
            .map(ChecksumAlgorithm::parse)
            .transpose()?,
        part_size: body.opt_integer("partSize", 0, u64::MAX)?,
        fingerprint: validate::fingerprint(body.opt_string("fingerprint")?)?,
    };
    let Initialized { record, resumed } = initialize(deps.ports(), &deps.config, new).await?;
    let mut body = json!({
        "uploadId": record.upload_id,
        "key": record.key,
        "chunkSize": record.part_size,
        "totalParts": record.total_parts,
        "expiresAt": rfc3339(record.expires_at),
    });
    if let Some(algorithm) = record.checksum_algorithm {
        body["checksumAlgorithm"] = json!(algorithm.as_str());
        body["checksumHeader"] = json!(algorithm.header());
    }
    body["resumed"] = json!(resumed.is_some());
    match resumed {
        None => Ok((StatusCode::CREATED, body)),
        Some(parts) => {
            body["status"] = json!(record.status_at(deps.clock.epoch_secs()).as_str());
            body["parts"] = parts
                .iter()
                .map(|p| json!({ "PartNumber": p.number, "ETag": p.etag, "Size": p.size }))
                .collect();
            Ok((StatusCode::OK, body))
        }
    }
}
