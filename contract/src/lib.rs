//! The upload API's contract: every request and answer body, the upload status and the error codes,
//! as Rust types. The server (`shared::api`) renders its answers from these structs and the Rust
//! client (`upload-client`) sends and reads them, so both sides share one definition.
//!
//! Field names are the wire's (`camelCase`, plus the S3-style `PartNumber`/`ETag`/`Size` of part
//! lists that seed-era apps send and read). Optional request fields may be absent or `null`.
//!
//! Enums ([`UploadStatus`], [`ErrorCode`], [`ChecksumAlgorithm`], [`ChecksumType`]) read a value this build does not
//! know as `Unknown(value)` instead of failing: a newer server may add one, and a client must treat
//! an unknown status as "not finished" and an unknown error code by its HTTP status.

mod answers;
mod enums;
mod ids;
#[cfg(feature = "openapi")]
mod openapi;
mod requests;

pub use answers::{
    AbortResponse, ApiErrorBody, ApiErrorDetail, BatchPresignedUrlsResponse, CompleteResponse,
    InitializeResponse, ListPartsResponse, ListUploadsResponse, ListedPart, PartUrl,
    PresignedUrlResponse, StatusResponse, UploadSummary,
};
pub use enums::{ChecksumAlgorithm, ChecksumType, ErrorCode, UploadStatus};
pub use ids::{ObjectKey, UploadId};
#[cfg(feature = "openapi")]
pub use openapi::{spec, Spec};
pub use requests::{
    AbortRequest, BatchPresignedUrlsRequest, CompleteRequest, CompletedPart, InitializeRequest,
    PresignedUrlRequest,
};

/// The largest part number S3 accepts, and so the most parts an upload can have.
pub const MAX_PARTS: u32 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_round_trip_and_keep_unknown_values() {
        for text in UploadStatus::KNOWN {
            let status: UploadStatus = serde_json::from_value(json!(text)).unwrap();
            assert!(status.is_known());
            assert_eq!(serde_json::to_value(&status).unwrap(), json!(text));
        }
        let later: UploadStatus = serde_json::from_value(json!("PAUSED")).unwrap();
        assert_eq!(later, UploadStatus::Unknown("PAUSED".into()));
        assert!(!later.is_final());
        assert_eq!(ErrorCode::parse("QUOTA_EXCEEDED"), ErrorCode::QuotaExceeded);
        assert_eq!(
            serde_json::to_value(ErrorCode::Unknown("NEW_CODE".into())).unwrap(),
            json!("NEW_CODE")
        );
    }

    #[test]
    fn upload_ids_are_uuids_spelled_hyphenated() {
        let id: UploadId =
            serde_json::from_value(json!("6F9619FF8B86D011B42D00C04FC964FF")).unwrap();
        assert_eq!(id.to_string(), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
        assert!(serde_json::from_value::<UploadId>(json!("not-an-id")).is_err());
    }

    #[test]
    fn seed_era_field_names_are_the_wire_names() {
        let request: CompleteRequest = serde_json::from_value(json!({
            "uploadId": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "key": null,
            "parts": [{"PartNumber": 1, "ETag": "\"abc\""}],
        }))
        .unwrap();
        assert_eq!(request.key, None);
        let parts = request.parts.unwrap();
        assert_eq!(
            (parts[0].part_number, parts[0].etag.as_str()),
            (1, "\"abc\"")
        );
        let listed = serde_json::to_value(ListedPart {
            part_number: 2,
            etag: None,
            size: 5 << 30,
            checksum: None,
        })
        .unwrap();
        assert_eq!(
            listed,
            json!({"PartNumber": 2, "ETag": null, "Size": 5u64 << 30})
        );
    }

    #[test]
    fn single_url_answer_is_flat() {
        let answer = PresignedUrlResponse {
            url: PartUrl {
                part_number: 3,
                presigned_url: "http://s3/x".into(),
                headers: [("content-length".to_owned(), "5".to_owned())].into(),
            },
            expires_at: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            json!({"partNumber": 3, "presignedUrl": "http://s3/x",
                   "headers": {"content-length": "5"}, "expiresAt": "2026-01-01T00:00:00Z"})
        );
    }
}
