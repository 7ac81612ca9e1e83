//! The string enums of the wire: the upload status, the checksum algorithm and type, and the error
//! codes. Each reads a value this build does not know as `Unknown(value)`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

        /// Compares with the wire's spelling (`code == "QUOTA_EXCEEDED"`).
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
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
