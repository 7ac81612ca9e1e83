//! The upload record and its states:
//!
//! ```text
//! INITIATED ──complete──▶ COMPLETING ──▶ COMPLETED
//!     │                       │ (S3 refused the parts: back to INITIATED, still resumable)
//!     ├──abort──▶ ABORTED
//!     └──past expiresAt──▶ EXPIRED (whether or not anything has written it yet)
//! ```

use crate::domain::checksum::ChecksumAlgorithm;
use crate::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Initiated,
    Completing,
    Completed,
    Aborted,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiated => "INITIATED",
            Self::Completing => "COMPLETING",
            Self::Completed => "COMPLETED",
            Self::Aborted => "ABORTED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "INITIATED" => Self::Initiated,
            "COMPLETING" => Self::Completing,
            "COMPLETED" => Self::Completed,
            "ABORTED" => Self::Aborted,
            "EXPIRED" => Self::Expired,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub owner: String,
    pub key: String,
    pub s3_upload_id: String,
    pub file_name: String,
    pub file_type: String,
    pub file_size: u64,
    pub part_size: u64,
    pub total_parts: u32,
    /// Per-part checksums the phone must send, if the upload opted in.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub status: Status,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds; after this the upload is EXPIRED.
    pub expires_at: i64,
    /// Epoch seconds; DynamoDB TTL deletes the record some time after this.
    pub ttl: i64,
    /// Epoch seconds at which a complete took the upload into COMPLETING.
    pub completing_since: Option<i64>,
    pub completion: Option<Completion>,
}

/// What a finished upload reports, stored so a repeated complete returns the same answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub etag: String,
    pub size: u64,
    pub location: String,
    pub completed_at: i64,
    /// The object's checksum as S3 reports it (composite: `base64-N`), when the upload had one.
    pub checksum: Option<String>,
}

impl UploadRecord {
    /// The status as of `now`: an INITIATED upload past its expiry is EXPIRED even if no cleanup has
    /// written that yet (and DynamoDB TTL may not have deleted the record yet either).
    pub fn status_at(&self, now: i64) -> Status {
        match self.status {
            Status::Initiated if now >= self.expires_at => Status::Expired,
            status => status,
        }
    }

    /// Refuses anything but a live, INITIATED upload: presigning and listing parts need one.
    pub fn require_uploading(&self, now: i64) -> Result<(), ApiError> {
        match self.status_at(now) {
            Status::Initiated => Ok(()),
            status => Err(not_uploading(status)),
        }
    }
}

/// The error for an operation that needs an INITIATED upload but found `status`.
pub fn not_uploading(status: Status) -> ApiError {
    match status {
        Status::Initiated => ApiError::conflict("INVALID_STATE", "the upload is still in progress"),
        Status::Completing => ApiError::conflict(
            "COMPLETION_IN_PROGRESS",
            "the upload is being completed; poll GET /status for the outcome",
        ),
        Status::Completed => ApiError::conflict(
            "UPLOAD_COMPLETED",
            "the upload is already completed; no more parts can be sent",
        ),
        Status::Aborted => ApiError::conflict(
            "UPLOAD_ABORTED",
            "the upload was aborted; start a new upload",
        ),
        Status::Expired => ApiError::expired(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: Status) -> UploadRecord {
        UploadRecord {
            upload_id: "id".into(),
            owner: "u".into(),
            key: "uploads/u/id/f".into(),
            s3_upload_id: "s3".into(),
            file_name: "f".into(),
            file_type: "video/mp4".into(),
            file_size: 1,
            part_size: 5 << 20,
            total_parts: 1,
            checksum_algorithm: None,
            status,
            created_at: 100,
            expires_at: 200,
            ttl: 300,
            completing_since: None,
            completion: None,
        }
    }

    #[test]
    fn status_round_trips() {
        for s in [
            Status::Initiated,
            Status::Completing,
            Status::Completed,
            Status::Aborted,
            Status::Expired,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("initiated"), None);
    }

    #[test]
    fn initiated_past_expiry_reads_as_expired() {
        let r = record(Status::Initiated);
        assert_eq!(r.status_at(199), Status::Initiated);
        assert_eq!(r.status_at(200), Status::Expired);
        assert_eq!(r.require_uploading(250).unwrap_err().status(), 410);
        assert!(r.require_uploading(150).is_ok());
    }

    #[test]
    fn finished_states_do_not_expire_into_something_else() {
        assert_eq!(
            record(Status::Completed).status_at(10_000),
            Status::Completed
        );
        assert_eq!(record(Status::Aborted).status_at(10_000), Status::Aborted);
    }

    #[test]
    fn each_state_has_its_own_code() {
        assert_eq!(not_uploading(Status::Completed).code(), "UPLOAD_COMPLETED");
        assert_eq!(not_uploading(Status::Aborted).code(), "UPLOAD_ABORTED");
        assert_eq!(
            not_uploading(Status::Completing).code(),
            "COMPLETION_IN_PROGRESS"
        );
        assert_eq!(not_uploading(Status::Expired).status(), 410);
    }
}
