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

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
#[cfg(feature = "openapi")]
mod openapi;
#[cfg(feature = "openapi")]
pub use openapi::{spec, Spec};

/// The largest part number S3 accepts, and so the most parts an upload can have.
pub const MAX_PARTS: u32 = 10_000;

/// The id this service gives an upload (a UUID). Not S3's multipart upload id, which never leaves
/// the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(uuid::Uuid);

impl UploadId {
    pub fn new_v4() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Any UUID spelling (hyphenated, simple, braced, urn); `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::try_parse(raw).ok().map(Self)
    }

    pub fn uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl From<uuid::Uuid> for UploadId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl std::str::FromStr for UploadId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::try_parse(s).map(Self)
    }
}

impl Serialize for UploadId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UploadId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse()
            .map_err(|_| serde::de::Error::custom("uploadId must be a UUID"))
    }
}

/// The S3 object key the server chose for an upload (`uploads/{owner}/{uploadId}/{name}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectKey(pub String);

impl ObjectKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ObjectKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl From<&str> for ObjectKey {
    fn from(key: &str) -> Self {
        Self(key.to_owned())
    }
}

/// A string enum of the wire: known values as variants, anything else kept as `Unknown(value)`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this build does not know (sent by a newer server), kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this build knows, in the order the contract lists them.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Unknown(value) => value,
                }
            }

            /// The variant for `value`; `Unknown` for a value this build does not know.
            pub fn parse(value: &str) -> Self {
                match value {
                    $($text => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok(Self::parse(&String::deserialize(deserializer)?))
            }
        }
    };
}

wire_enum! {
    /// Where an upload is in its life.
    UploadStatus {
        /// Parts may be sent.
        Initiated = "INITIATED",
        /// A `complete` is assembling the object; poll `status` or complete again.
        Completing = "COMPLETING",
        /// The object exists.
        Completed = "COMPLETED",
        /// Aborted by its owner; its parts are gone.
        Aborted = "ABORTED",
        /// Not completed in time; its parts are discarded.
        Expired = "EXPIRED",
    }
}

impl UploadStatus {
    /// No further change will happen (completed, aborted or expired).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Aborted | Self::Expired)
    }
}

wire_enum! {
    /// How parts are verified: every part's `PUT` carries this digest, signed into its URL.
    ChecksumAlgorithm {
        /// Full object: complete also carries the whole file's CRC64NVME, which storage checks.
        Crc64Nvme = "CRC64NVME",
        Sha256 = "SHA256",
        Crc32c = "CRC32C",
    }
}

wire_enum! {
    /// What an object's checksum covers.
    ChecksumType {
        /// The whole file's bytes (CRC64NVME), checked by storage against the client's value.
        FullObject = "FULL_OBJECT",
        /// A digest of the parts' digests (`base64-N`); every part was checked.
        Composite = "COMPOSITE",
    }
}

wire_enum! {
    /// The machine-readable `error.code` of every error answer.
    ErrorCode {
        // 400: the request is malformed or a field is invalid.
        InvalidJson = "INVALID_JSON",
        MissingField = "MISSING_FIELD",
        InvalidField = "INVALID_FIELD",
        InvalidUploadId = "INVALID_UPLOAD_ID",
        InvalidFileName = "INVALID_FILE_NAME",
        InvalidFileType = "INVALID_FILE_TYPE",
        InvalidFileSize = "INVALID_FILE_SIZE",
        InvalidPartSize = "INVALID_PART_SIZE",
        InvalidFingerprint = "INVALID_FINGERPRINT",
        InvalidMetadata = "INVALID_METADATA",
        InvalidPartNumber = "INVALID_PART_NUMBER",
        InvalidPartRange = "INVALID_PART_RANGE",
        InvalidParts = "INVALID_PARTS",
        InvalidChecksum = "INVALID_CHECKSUM",
        InvalidChecksumAlgorithm = "INVALID_CHECKSUM_ALGORITHM",
        InvalidCursor = "INVALID_CURSOR",
        MissingChecksum = "MISSING_CHECKSUM",
        ChecksumNotEnabled = "CHECKSUM_NOT_ENABLED",
        BatchTooLarge = "BATCH_TOO_LARGE",
        KeyMismatch = "KEY_MISMATCH",
        MissingParts = "MISSING_PARTS",
        EtagMismatch = "ETAG_MISMATCH",
        PartSizeMismatch = "PART_SIZE_MISMATCH",
        PartsRejected = "PARTS_REJECTED",
        /// Complete: storage's bytes differ from the whole-file checksum sent; resend differing parts.
        ChecksumMismatch = "CHECKSUM_MISMATCH",
        /// Initialize: this deployment requires `checksumAlgorithm`.
        ChecksumRequired = "CHECKSUM_REQUIRED",
        // 401, 403, 404, 405
        Unauthenticated = "UNAUTHENTICATED",
        CorsOriginNotAllowed = "CORS_ORIGIN_NOT_ALLOWED",
        UploadNotFound = "UPLOAD_NOT_FOUND",
        RouteNotFound = "ROUTE_NOT_FOUND",
        MethodNotAllowed = "METHOD_NOT_ALLOWED",
        // 409, 410: the upload's state forbids the operation.
        InvalidState = "INVALID_STATE",
        CompletionInProgress = "COMPLETION_IN_PROGRESS",
        UploadCompleted = "UPLOAD_COMPLETED",
        UploadAborted = "UPLOAD_ABORTED",
        ObjectExists = "OBJECT_EXISTS",
        UploadExpired = "UPLOAD_EXPIRED",
        // 413, 415, 429
        PayloadTooLarge = "PAYLOAD_TOO_LARGE",
        FileTypeNotAllowed = "FILE_TYPE_NOT_ALLOWED",
        QuotaExceeded = "QUOTA_EXCEEDED",
        RateLimited = "RATE_LIMITED",
        // 5xx: the message is opaque; retry after `Retry-After` when it is sent.
        InternalError = "INTERNAL_ERROR",
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

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

// ---------------------------------------------------------------------------------------------
// Answers

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
