//! Request bodies read once into the contract's request types (`upload_contract::*Request`, the
//! types the clients send), each field checked in turn so that a 400 names the field's path and
//! what would be accepted (`fileSize must be ...`, `parts[3].ETag must be ...`). The handlers then
//! take typed fields only and build the domain's types from them (`UploadId`, `NewUpload`,
//! `PartRef`); checks that need the upload or the service's settings stay in the domain.

use std::collections::BTreeMap;

use serde_json::Value;
use upload_contract::{
    AbortRequest, BatchPresignedUrlsRequest, CompleteRequest, CompletedPart, ErrorCode,
    InitializeRequest, ObjectKey, PresignedUrlRequest,
};

use super::error::ApiError;
use super::request::{self, integer_in, JsonBody};
use crate::config::Config;
use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::ids::UploadId;
use crate::domain::metadata;
use crate::domain::sizing::MAX_PARTS;

/// A contract request type read from a JSON body.
pub trait FromBody: Sized {
    /// Reads `body`; `config` gives the limits a field's message names.
    fn from_body(body: &JsonBody, config: &Config) -> Result<Self, ApiError>;
}

impl FromBody for InitializeRequest {
    fn from_body(body: &JsonBody, config: &Config) -> Result<Self, ApiError> {
        Ok(Self {
            file_name: body.string("fileName")?.to_owned(),
            file_type: body.string("fileType")?.to_owned(),
            file_size: request::file_size(body, config.max_file_size)?,
            metadata: body
                .opt_object("metadata")?
                .map(|map| {
                    let entries = map
                        .iter()
                        .map(|(key, value)| (key.as_str(), value.as_str()));
                    metadata::parse(entries)
                })
                .transpose()?,
            checksum_algorithm: body
                .opt_string("checksumAlgorithm")?
                .map(|name| {
                    let known = ChecksumAlgorithm::parse(name)?;
                    Ok::<_, ApiError>(upload_contract::ChecksumAlgorithm::parse(known.as_str()))
                })
                .transpose()?,
            part_size: body.opt_integer("partSize", 0, u64::MAX)?,
            fingerprint: body.opt_string("fingerprint")?.map(str::to_owned),
        })
    }
}

impl FromBody for PresignedUrlRequest {
    fn from_body(body: &JsonBody, _: &Config) -> Result<Self, ApiError> {
        let part_number = body.integer("partNumber", 1, MAX_PARTS)? as u32;
        let checksum = body.opt_string("checksum")?.map(str::to_owned);
        let (upload_id, key) = upload(body)?;
        Ok(Self {
            upload_id,
            key,
            part_number,
            checksum,
        })
    }
}

impl FromBody for BatchPresignedUrlsRequest {
    fn from_body(body: &JsonBody, config: &Config) -> Result<Self, ApiError> {
        let start_part = body.integer("startPart", 1, MAX_PARTS)? as u32;
        let end_part = body.integer("endPart", 1, MAX_PARTS)? as u32;
        if start_part > end_part {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidPartRange,
                format!("startPart ({start_part}) must not be greater than endPart ({end_part})"),
            ));
        }
        let limit = config.max_parts_per_batch;
        if end_part - start_part + 1 > limit {
            return Err(ApiError::bad_request(
                ErrorCode::BatchTooLarge,
                format!("at most {limit} parts per request; ask for the rest in further requests"),
            ));
        }
        // Entries for parts outside the range are not this request's and are left unread.
        let in_range = |key: &str| {
            key.parse::<u32>()
                .is_ok_and(|part| (start_part..=end_part).contains(&part))
        };
        let checksums = body
            .opt_object("checksums")?
            .map(|map| {
                let mut read = BTreeMap::new();
                for (key, value) in map.iter().filter(|(key, _)| in_range(key)) {
                    match value {
                        Value::Null => {}
                        Value::String(value) => {
                            read.insert(key.clone(), value.clone());
                        }
                        _ => {
                            return Err(ApiError::bad_request(
                                ErrorCode::InvalidField,
                                format!("checksums[\"{key}\"] must be a string"),
                            ))
                        }
                    }
                }
                Ok(read)
            })
            .transpose()?;
        let (upload_id, key) = upload(body)?;
        Ok(Self {
            upload_id,
            key,
            start_part,
            end_part,
            checksums,
        })
    }
}

impl FromBody for CompleteRequest {
    fn from_body(body: &JsonBody, _: &Config) -> Result<Self, ApiError> {
        let parts = body
            .opt_array("parts")?
            .map(|items| parts(items))
            .transpose()?;
        let checksum = body.opt_string("checksum")?.map(str::to_owned);
        let (upload_id, key) = upload(body)?;
        Ok(Self {
            upload_id,
            key,
            parts,
            checksum,
        })
    }
}

impl FromBody for AbortRequest {
    fn from_body(body: &JsonBody, _: &Config) -> Result<Self, ApiError> {
        let (upload_id, key) = upload(body)?;
        Ok(Self { upload_id, key })
    }
}

/// The domain's id of a request's `uploadId` (which [`FromBody`] checked already).
pub fn upload_id(wire: &upload_contract::UploadId) -> Result<UploadId, ApiError> {
    Ok(UploadId::parse(&wire.to_string())?)
}

/// `uploadId` (an id this service issued) and the optional `key` old apps send.
fn upload(body: &JsonBody) -> Result<(upload_contract::UploadId, Option<ObjectKey>), ApiError> {
    let raw = body.string("uploadId")?;
    let id = UploadId::parse(raw)?;
    let wire = upload_contract::UploadId::parse(&id).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidUploadId,
            "uploadId is not an id this service issued (expected a UUID)",
        )
    })?;
    let key = body.opt_string("key")?.map(ObjectKey::from);
    Ok((wire, key))
}

/// `parts`: objects with `PartNumber` and `ETag` (and the upload's checksum, if any), in
/// ascending order without duplicates.
fn parts(items: &[Value]) -> Result<Vec<CompletedPart>, ApiError> {
    let refused = |message: String| ApiError::bad_request(ErrorCode::InvalidParts, message);
    if items.is_empty() {
        return Err(refused(
            "parts must not be empty; omit it to complete with the parts storage holds".into(),
        ));
    }
    if items.len() > MAX_PARTS as usize {
        return Err(refused("parts has more than 10000 entries".into()));
    }
    let mut parts: Vec<CompletedPart> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| item.get(name).filter(|v| !v.is_null());
        let number = field("PartNumber")
            .ok_or_else(|| refused(format!("parts[{i}].PartNumber is required")))?;
        let number = integer_in(number, &format!("parts[{i}].PartNumber"), 1, MAX_PARTS)? as u32;
        let etag = match field("ETag") {
            Some(Value::String(etag)) if !etag.trim().is_empty() && etag.len() <= 1024 => {
                etag.clone()
            }
            _ => {
                return Err(refused(format!(
                    "parts[{i}].ETag must be the ETag header S3 returned for part {number}"
                )))
            }
        };
        let mut part = CompletedPart {
            part_number: number,
            etag,
            checksum_sha256: None,
            checksum_crc32c: None,
            checksum_crc64nvme: None,
        };
        // The first of the checksum fields the part carries, as storage names them.
        let named = ["ChecksumCRC64NVME", "ChecksumSHA256", "ChecksumCRC32C"]
            .into_iter()
            .find_map(|name| field(name).map(|value| (name, value)));
        if let Some((name, value)) = named {
            let Value::String(value) = value else {
                return Err(refused(format!(
                    "parts[{i}] checksum must be a base64 string"
                )));
            };
            let slot = match name {
                "ChecksumCRC64NVME" => &mut part.checksum_crc64nvme,
                "ChecksumSHA256" => &mut part.checksum_sha256,
                _ => &mut part.checksum_crc32c,
            };
            *slot = Some(value.clone());
        }
        if let Some(previous) = parts.last().map(|p| p.part_number) {
            if number <= previous {
                return Err(refused(format!("parts must be in ascending PartNumber order without duplicates (part {number} after {previous})")));
            }
        }
        parts.push(part);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::complete::part_ref;
    use crate::ports::PartRef;

    fn parts(json: &str) -> Result<Vec<PartRef>, ApiError> {
        let value: Value = serde_json::from_str(json).unwrap();
        let read = super::parts(value.as_array().unwrap())?;
        read.into_iter().map(part_ref).collect()
    }

    #[test]
    fn accepts_ascending_parts() {
        let p = parts(
            r#"[{"PartNumber":1,"ETag":"\"a\""},{"PartNumber":3,"ETag":"b","ChecksumCRC32C":"AAAAAA=="}]"#,
        )
        .unwrap();
        let simple: Vec<_> = p
            .iter()
            .map(|p| (p.number.get(), p.etag.as_str(), p.checksum.as_deref()))
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

    fn config() -> Config {
        let vars: std::collections::HashMap<String, String> =
            [("UPLOADS_BUCKET", "b"), ("UPLOADS_TABLE", "t")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        Config::from_vars(&vars).unwrap()
    }

    fn read<T: FromBody>(json: &str) -> Result<T, ApiError> {
        T::from_body(&JsonBody::parse(json.as_bytes())?, &config())
    }

    const ID: &str = "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f";

    #[test]
    fn initialize_reads_into_the_contract_type() {
        let request: InitializeRequest = read(
            r#"{"fileName":"a.mp4","fileType":"video/mp4","fileSize":5.0,"checksumAlgorithm":"crc64nvme","metadata":{"album":"x"}}"#,
        )
        .unwrap();
        assert_eq!(request.file_size, 5);
        assert_eq!(
            request.checksum_algorithm.map(|a| a.as_str().to_owned()),
            Some("CRC64NVME".to_owned())
        );
        assert_eq!(request.metadata.unwrap()["album"], "x");
        for (json, code) in [
            (r#"{"fileType":"video/mp4","fileSize":5}"#, "MISSING_FIELD"),
            (
                r#"{"fileName":"a","fileType":"v/m","fileSize":0}"#,
                "INVALID_FILE_SIZE",
            ),
            (
                r#"{"fileName":"a","fileType":"v/m","fileSize":5,"checksumAlgorithm":"md5"}"#,
                "INVALID_CHECKSUM_ALGORITHM",
            ),
            (
                r#"{"fileName":"a","fileType":"v/m","fileSize":5,"metadata":{"a":1}}"#,
                "INVALID_METADATA",
            ),
        ] {
            let err = read::<InitializeRequest>(json).unwrap_err();
            assert_eq!(err.code(), code, "{json}: {err}");
        }
    }

    #[test]
    fn a_batch_reads_the_checksums_of_its_range_only() {
        let request: BatchPresignedUrlsRequest = read(&format!(
            r#"{{"uploadId":"{ID}","startPart":2,"endPart":3,"checksums":{{"2":"AAAA","9":7,"x":null}}}}"#
        ))
        .unwrap();
        let checksums = request.checksums.unwrap();
        assert_eq!(checksums.len(), 1);
        assert_eq!(checksums["2"], "AAAA");
        let err = read::<BatchPresignedUrlsRequest>(&format!(
            r#"{{"uploadId":"{ID}","startPart":2,"endPart":3,"checksums":{{"3":7}}}}"#
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"checksums["3"] must be a string"#),
            "{err}"
        );
        let err = read::<AbortRequest>(r#"{"uploadId":"../x"}"#).unwrap_err();
        assert_eq!(err.code(), "INVALID_UPLOAD_ID");
    }
}
