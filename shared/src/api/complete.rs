//! `POST /complete`: parses the optional part list, completes the upload (`usecases::complete`), and
//! answers the completed object.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::Value;

use super::error::ApiError;
use super::request::integer_in;
use super::{answer, body, caller, check_key, claim, wire_id, Deps, Outcome, Parsed};
use crate::adapters::clock::rfc3339;
use crate::domain::ids::UploadId;
use crate::domain::sizing::MAX_PARTS;
use crate::domain::{UploadError, UploadRecord};
use crate::ports::PartRef;
use crate::usecases::complete::{self as usecase, let_go};
use upload_contract::{ChecksumType, CompleteResponse, ErrorCode, ObjectKey, UploadStatus};

pub async fn complete(deps: &Deps, req: &Request, parsed: &Parsed) -> Outcome {
    let owner = caller(req)?;
    let body = body(parsed)?;
    let client_parts = body
        .opt_array("parts")?
        .map(|items| parse_parts(items))
        .transpose()?;
    let whole_file = body.opt_string("checksum")?;
    let upload_id = UploadId::parse(body.string("uploadId")?)?;
    let client_key = body.opt_string("key")?;
    let holding = claim(deps, &owner, &upload_id).await?;
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

/// The client's `parts`: objects with `PartNumber` and `ETag`, in ascending order, no duplicates.
fn parse_parts(items: &[Value]) -> Result<Vec<PartRef>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidParts,
            "parts must not be empty; omit it to complete with the parts storage holds",
        ));
    }
    if items.len() > MAX_PARTS as usize {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidParts,
            "parts has more than 10000 entries",
        ));
    }
    let mut parts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| item.get(name).filter(|v| !v.is_null());
        let number = field("PartNumber").ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidParts,
                format!("parts[{i}].PartNumber is required"),
            )
        })?;
        let number = integer_in(number, &format!("parts[{i}].PartNumber"), 1, MAX_PARTS)? as u32;
        let etag = match field("ETag") {
            Some(Value::String(etag)) if !etag.trim().is_empty() && etag.len() <= 1024 => {
                etag.clone()
            }
            _ => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidParts,
                    format!(
                        "parts[{i}].ETag must be the ETag header S3 returned for part {number}"
                    ),
                ))
            }
        };
        let checksum = match field("ChecksumCRC64NVME")
            .or_else(|| field("ChecksumSHA256"))
            .or_else(|| field("ChecksumCRC32C"))
        {
            None => None,
            Some(Value::String(value)) => Some(value.clone()),
            Some(_) => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidParts,
                    format!("parts[{i}] checksum must be a base64 string"),
                ))
            }
        };
        if let Some(PartRef {
            number: previous, ..
        }) = parts.last()
        {
            if number <= *previous {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidParts,
                    format!("parts must be in ascending PartNumber order without duplicates (part {number} after {previous})"),
                ));
            }
        }
        parts.push(PartRef {
            number,
            etag,
            checksum,
        });
    }
    Ok(parts)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(json: &str) -> Result<Vec<PartRef>, ApiError> {
        let value: Value = serde_json::from_str(json).unwrap();
        parse_parts(value.as_array().unwrap())
    }

    #[test]
    fn accepts_ascending_parts() {
        let p = parts(
            r#"[{"PartNumber":1,"ETag":"\"a\""},{"PartNumber":3,"ETag":"b","ChecksumCRC32C":"AAAAAA=="}]"#,
        )
        .unwrap();
        let simple: Vec<_> = p
            .iter()
            .map(|p| (p.number, p.etag.as_str(), p.checksum.as_deref()))
            .collect();
        assert_eq!(simple, vec![(1, "\"a\"", None), (3, "b", Some("AAAAAA=="))]);
    }

    #[test]
    fn refuses_bad_part_lists() {
        for (json, needle) in [
            ("[]", "must not be empty"),
            (
                r#"[{"PartNumber":2,"ETag":"a"},{"PartNumber":1,"ETag":"b"}]"#,
                "ascending",
            ),
            (
                r#"[{"PartNumber":1,"ETag":"a"},{"PartNumber":1,"ETag":"b"}]"#,
                "duplicates",
            ),
            (r#"[{"PartNumber":0,"ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"PartNumber":10001,"ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"PartNumber":-1,"ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"PartNumber":"1","ETag":"a"}]"#, "from 1 to 10000"),
            (r#"[{"ETag":"a"}]"#, "PartNumber is required"),
            (r#"[{"PartNumber":1}]"#, "ETag"),
            (r#"[{"PartNumber":1,"ETag":""}]"#, "ETag"),
            (r#"[1]"#, "PartNumber is required"),
        ] {
            let err = parts(json).unwrap_err();
            assert_eq!(err.status(), 400, "{json}");
            assert!(err.to_string().contains(needle), "{json}: {err}");
        }
    }
}
