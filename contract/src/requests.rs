//! The request bodies, one per `POST` endpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::enums::ChecksumAlgorithm;
use crate::ids::{ObjectKey, UploadId};

/// `POST /initialize`: the file to upload. The server plans the parts and chooses the key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"fileName": "video.mp4", "fileType": "video/mp4", "fileSize": 3221225472u64, "checksumAlgorithm": "CRC64NVME"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeRequest {
    /// The file's name (1 to 1,024 characters, not only whitespace); sanitised into the key.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub file_name: String,
    /// Media type `type/subtype` without parameters, from the server's allowed list (else 415).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}$")
    )]
    pub file_type: String,
    /// Bytes: 1 to the server's MAX_FILE_SIZE (default 5 TiB, S3's largest object).
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 5_497_558_138_880u64)
    )]
    pub file_size: u64,
    /// Verify every part with this digest (the `PUT`s then carry it). `CRC64NVME` (recommended)
    /// also has storage check the whole file at complete. Without it the upload is unverified
    /// (a deployment may require it: `400 CHECKSUM_REQUIRED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Preferred part size in bytes: 5 MiB to 5 GiB, and large enough that `fileSize` fits in
    /// 10,000 parts (else INVALID_PART_SIZE, whose message names the smallest that fits). Without it
    /// the server chooses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 5_242_880, maximum = 5_368_709_120u64)
    )]
    pub part_size: Option<u64>,
    /// The client's fingerprint of the file (1 to 128 characters, not only whitespace), e.g. a hash
    /// of its size and first and last MiB. When the caller has an unfinished upload with the same
    /// fingerprint and `fileSize`, that upload is answered (`200`, `resumed: true`) instead of a
    /// new one, so a retried initialize, or an app that lost the upload id, continues it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub fingerprint: Option<String>,
    /// User metadata, set on the stored object as S3 user metadata (`x-amz-meta-{key}`) and shown
    /// by `status`. Keys: 1 to 128 characters of `a-z`, `0-9` and `-`; values: printable ASCII
    /// strings without leading or trailing spaces; keys and values at most 2,048 bytes in all
    /// (else INVALID_METADATA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!({"album": "summer-2026"})))]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /presigned-url`: one part's upload URL.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "partNumber": 1, "checksum": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrlRequest {
    pub upload_id: UploadId,
    /// Optional; when sent it must equal the key `initialize` returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ObjectKey>,
    /// 1 to the upload's `totalParts`.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    /// The part's base64 digest; required for checksummed uploads, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// `POST /batch-presigned-urls`: URLs for parts `startPart..=endPart`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "startPart": 1, "endPart": 2})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPresignedUrlsRequest {
    pub upload_id: UploadId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ObjectKey>,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub start_part: u32,
    /// At most the server's MAX_PARTS_PER_BATCH (default 1,000) parts per request.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub end_part: u32,
    /// Base64 digest per part number (`"1"`, `"2"`, ...); required for checksummed uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksums: Option<BTreeMap<String, String>>,
}

/// A part to complete with, named as S3 names them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"PartNumber": 1, "ETag": "\"b54357faf0632cce46e942fa68356b38\""})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    /// The `ETag` response header of the part's `PUT`, verbatim.
    #[serde(rename = "ETag")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub etag: String,
    #[serde(
        rename = "ChecksumSHA256",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub checksum_sha256: Option<String>,
    #[serde(
        rename = "ChecksumCRC32C",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub checksum_crc32c: Option<String>,
    #[serde(
        rename = "ChecksumCRC64NVME",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub checksum_crc64nvme: Option<String>,
}

/// `POST /complete`: verify every part and assemble the object, exactly once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRequest {
    pub upload_id: UploadId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ObjectKey>,
    /// Optional, in ascending part order; without it the server reads the parts from storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10000))]
    pub parts: Option<Vec<CompletedPart>>,
    /// The whole file's base64 CRC64NVME (big-endian, 8 bytes); required for `CRC64NVME` uploads,
    /// refused for others. Storage refuses to create an object whose bytes differ
    /// (`400 CHECKSUM_MISMATCH`; the upload stays resumable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// `POST /abort`: drop the upload and its parts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortRequest {
    pub upload_id: UploadId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ObjectKey>,
}
