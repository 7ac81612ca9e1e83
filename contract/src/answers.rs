//! The answer bodies: one per endpoint, and the error body every error answer carries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::enums::{ChecksumAlgorithm, ChecksumType, ErrorCode, UploadStatus};
use crate::ids::{ObjectKey, UploadId};

/// `201` of `POST /initialize`: the server's plan for the file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "key": "uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4", "chunkSize": 16777216, "totalParts": 192, "expiresAt": "2026-11-26T10:00:00Z", "checksumAlgorithm": "SHA256", "checksumHeader": "x-amz-checksum-sha256"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResponse {
    pub upload_id: UploadId,
    pub key: ObjectKey,
    /// Every part's size in bytes except the last one's (which holds the rest).
    pub chunk_size: u64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub total_parts: u32,
    /// After this time the upload expires and its parts are discarded (RFC 3339, UTC).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The header each part's `PUT` carries its digest in (`x-amz-checksum-sha256`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_header: Option<String>,
    /// `true` (with `200`) when an unfinished upload with the same fingerprint was answered.
    #[serde(default)]
    pub resumed: bool,
    /// When resumed: where the upload is (`INITIATED`, or `COMPLETING`: complete again for the outcome).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UploadStatus>,
    /// When resumed: the parts storage already holds; send the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<ListedPart>>,
}

/// A presigned `PUT` URL for one part. Send the part's bytes to `presignedUrl` with every entry of
/// `headers` verbatim (they are signed); keep the `ETag` response header (it completes the part);
/// a `403` means the URL expired: ask for a new one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"partNumber": 1, "presignedUrl": "https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4?partNumber=1&uploadId=2~abc&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=...", "headers": {"x-amz-checksum-sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartUrl {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    #[cfg_attr(feature = "openapi", schema(format = "uri"))]
    pub presigned_url: String,
    /// Headers the `PUT` must carry: `content-length` (the part's exact size, signed into the URL:
    /// let the HTTP stack set it from the body, which browsers, URLSession and OkHttp do by
    /// themselves) and, for checksummed uploads, the signed checksum header, verbatim.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `200` of `POST /presigned-url`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"partNumber": 1, "presignedUrl": "https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4?partNumber=1&uploadId=2~abc&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=...", "expiresAt": "2026-11-25T11:00:00Z"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrlResponse {
    #[serde(flatten)]
    pub url: PartUrl,
    /// When the URL stops working (RFC 3339, UTC).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
}

/// `200` of `POST /batch-presigned-urls`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"urls": [{"partNumber": 1, "presignedUrl": "https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4?partNumber=1&uploadId=2~abc&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=..."}], "expiresAt": "2026-11-25T11:00:00Z"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPresignedUrlsResponse {
    pub urls: Vec<PartUrl>,
    /// When the URLs stop working (RFC 3339, UTC).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
}

/// `200` of `POST /complete`: the object, completed now or by an earlier request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "status": "COMPLETED", "key": "uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4", "location": "https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4", "etag": "\"3858f62230ac3c915f300c664312c11f-192\"", "size": 3221225472u64, "completedAt": "2026-11-25T10:30:00Z", "checksum": null})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteResponse {
    pub upload_id: UploadId,
    /// Always `COMPLETED`.
    pub status: UploadStatus,
    pub key: ObjectKey,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    /// The object's size in bytes.
    pub size: u64,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub completed_at: Option<String>,
    /// The object's checksum as storage reports it: the whole file's CRC64NVME (`FULL_OBJECT`,
    /// checked against the client's value), or `base64-N` (`COMPOSITE`); `null` when unverified.
    #[serde(default)]
    pub checksum: Option<String>,
    /// The upload's algorithm; absent when the upload was not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}

/// `200` of `POST /abort`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "status": "ABORTED"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortResponse {
    pub upload_id: UploadId,
    /// `ABORTED`, or `EXPIRED` when the upload had already expired.
    pub status: UploadStatus,
}

/// A part storage holds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"PartNumber": 1, "ETag": "\"b54357faf0632cce46e942fa68356b38\"", "Size": 16777216})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedPart {
    #[serde(rename = "PartNumber")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    #[serde(rename = "ETag", default)]
    pub etag: Option<String>,
    /// Bytes.
    #[serde(rename = "Size")]
    pub size: u64,
    /// The part's base64 checksum in the upload's `checksumAlgorithm`, where storage reports one:
    /// compare it with the local bytes before keeping the part.
    #[serde(rename = "Checksum", default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// `200` of `GET /parts/{uploadId}`: the parts storage holds, in part order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "parts": [{"PartNumber": 1, "ETag": "\"b54357faf0632cce46e942fa68356b38\"", "Size": 16777216}]})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPartsResponse {
    pub upload_id: UploadId,
    pub parts: Vec<ListedPart>,
}

/// `200` of `GET /status/{uploadId}`: the upload and its progress.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "status": "INITIATED", "key": "uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4", "fileName": "video.mp4", "fileType": "video/mp4", "fileSize": 3221225472u64, "chunkSize": 16777216, "totalParts": 192, "uploadedParts": 1, "uploadedBytes": 16777216, "createdAt": "2026-11-25T10:00:00Z", "expiresAt": "2026-11-26T10:00:00Z"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub upload_id: UploadId,
    pub status: UploadStatus,
    pub key: ObjectKey,
    pub file_name: String,
    pub file_type: String,
    /// The user metadata sent to `initialize`, when there was any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub file_size: u64,
    pub chunk_size: u64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub total_parts: u32,
    #[serde(default)]
    pub uploaded_parts: u32,
    #[serde(default)]
    pub uploaded_bytes: u64,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}

/// One of the caller's uploads in a listing. `uploadedParts` and `uploadedBytes` (what storage holds)
/// are there for unfinished uploads only (INITIATED, COMPLETING), and only for the first 8 of them on
/// a page, so a page costs a bounded number of storage calls; `GET /status/{uploadId}` gives them for
/// any one upload.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "status": "INITIATED", "key": "uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4", "fileName": "video.mp4", "fileType": "video/mp4", "fileSize": 3221225472u64, "chunkSize": 16777216, "totalParts": 192, "uploadedParts": 40, "uploadedBytes": 671088640, "createdAt": "2026-11-25T10:00:00Z", "expiresAt": "2026-11-26T10:00:00Z"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSummary {
    pub upload_id: UploadId,
    pub status: UploadStatus,
    pub key: ObjectKey,
    pub file_name: String,
    pub file_type: String,
    pub file_size: u64,
    pub chunk_size: u64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub total_parts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_parts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_bytes: Option<u64>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub completed_at: Option<String>,
}

/// `200` of `GET /uploads`: a page of the caller's uploads, newest first. When `nextCursor` is
/// present there may be more: ask again with `cursor` set to it (and the same `status`). A page
/// may hold fewer than `limit` uploads, even none, and still have a `nextCursor`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"uploads": [{"uploadId": "6f9619ff-8b86-4d01-b42d-00c04fc964ff", "status": "INITIATED", "key": "uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4", "fileName": "video.mp4", "fileType": "video/mp4", "fileSize": 3221225472u64, "chunkSize": 16777216, "totalParts": 192, "uploadedParts": 40, "uploadedBytes": 671088640, "createdAt": "2026-11-25T10:00:00Z", "expiresAt": "2026-11-26T10:00:00Z"}], "nextCursor": "c1.1795515330.6f9619ff8b864d01b42d00c04fc964ff.5d41402abc4b2a76b9719d91"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListUploadsResponse {
    pub uploads: Vec<UploadSummary>,
    /// Opaque; valid only for the caller and the same `status` filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"error": {"code": "UPLOAD_NOT_FOUND", "message": "no upload with this uploadId exists for the caller"}})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

/// What went wrong: a stable code to branch on and a message that says what to fix.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"code": "MISSING_PARTS", "message": "storage is missing parts 3, 7: upload them again, then complete"})))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}
