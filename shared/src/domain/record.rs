//! The upload record and its states:
//!
//! ```text
//! INITIATED ──complete──▶ COMPLETING ──▶ COMPLETED
//!     │                       │ (S3 refused the parts: back to INITIATED, still resumable)
//!     ├──abort──▶ ABORTED
//!     └──past expiresAt──▶ EXPIRED (whether or not anything has written it yet)
//! ```

use crate::domain::checksum::ChecksumAlgorithm;
use crate::domain::error::UploadError;
use crate::domain::ids::{ObjectKey, Owner, S3UploadId, UploadId};
use crate::domain::metadata::Metadata;

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
    pub upload_id: UploadId,
    pub owner: Owner,
    pub key: ObjectKey,
    pub s3_upload_id: S3UploadId,
    pub file_name: String,
    pub file_type: String,
    /// The client's user metadata, also set on the object (`x-amz-meta-*`).
    pub metadata: Metadata,
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
    /// The exact size part `number` (1-based) must have: the planned part size, and the remainder
    /// for the last part. Part URLs are signed for this length.
    pub fn part_length(&self, number: u32) -> u64 {
        crate::domain::sizing::PartPlan {
            part_size: self.part_size,
            total_parts: self.total_parts,
        }
        .expected_size(self.file_size, number)
    }

    /// The status as of `now`: an INITIATED upload past its expiry is EXPIRED even if no cleanup has
    /// written that yet (and DynamoDB TTL may not have deleted the record yet either).
    pub fn status_at(&self, now: i64) -> Status {
        match self.status {
            Status::Initiated if now >= self.expires_at => Status::Expired,
            status => status,
        }
    }

    /// Refuses anything but a live, INITIATED upload: presigning and listing parts need one.
    pub fn require_uploading(&self, now: i64) -> Result<(), UploadError> {
        match self.status_at(now) {
            Status::Initiated => Ok(()),
            status => Err(UploadError::WrongState(status)),
        }
    }

    /// Whether `transition`'s guard holds on this record.
    pub fn allows(&self, transition: &Transition) -> bool {
        let completing_since =
            |since: i64| self.status == Status::Completing && self.completing_since == Some(since);
        let stale_completing = |stale_before: i64| {
            self.status == Status::Completing && self.completing_since.unwrap_or(0) < stale_before
        };
        match *transition {
            Transition::BeginCompleting { now, stale_before } => {
                (self.status == Status::Initiated && self.expires_at > now)
                    || stale_completing(stale_before)
            }
            Transition::Abandon { since } | Transition::Release { since } => {
                completing_since(since)
            }
            Transition::Complete(_) => {
                matches!(self.status, Status::Initiated | Status::Completing)
            }
            Transition::Abort { stale_before } => {
                self.status == Status::Initiated || stale_completing(stale_before)
            }
            Transition::Expire { now } => {
                self.status == Status::Initiated && self.expires_at <= now
            }
            Transition::Lost { since: None } => self.status == Status::Initiated,
            Transition::Lost { since: Some(since) } => completing_since(since),
        }
    }

    /// Applies `transition` if its guard holds; `true` when it did. What a store does atomically.
    pub fn apply(&mut self, transition: &Transition) -> bool {
        if !self.allows(transition) {
            return false;
        }
        match transition {
            Transition::BeginCompleting { now, .. } => {
                self.status = Status::Completing;
                self.completing_since = Some(*now);
            }
            Transition::Abandon { .. } => self.completing_since = Some(0),
            Transition::Release { .. } => {
                self.status = Status::Initiated;
                self.completing_since = None;
            }
            Transition::Complete(completion) => {
                self.status = Status::Completed;
                self.completing_since = None;
                self.completion = Some(completion.clone());
            }
            Transition::Abort { .. } => self.status = Status::Aborted,
            Transition::Expire { .. } | Transition::Lost { .. } => self.status = Status::Expired,
        }
        true
    }
}

/// A state change of an upload record, with the guard it is conditional on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// INITIATED and not expired, or COMPLETING since before `stale_before` (its holder died) →
    /// COMPLETING since `now`.
    BeginCompleting { now: i64, stale_before: i64 },
    /// COMPLETING since `since` → still COMPLETING, but stale at once: the holder could not tell
    /// whether storage completed, so the next complete or cleanup takes over and finds out.
    Abandon { since: i64 },
    /// COMPLETING since `since` → INITIATED: storage refused the parts, the upload stays resumable.
    Release { since: i64 },
    /// INITIATED or COMPLETING → COMPLETED: storage holds the object. Releases the quota share.
    Complete(Completion),
    /// INITIATED, or a COMPLETING since before `stale_before` → ABORTED. Releases the quota share.
    Abort { stale_before: i64 },
    /// INITIATED past its expiry → EXPIRED. Releases the quota share.
    Expire { now: i64 },
    /// Storage lost the multipart upload and holds no object (a lifecycle rule, an earlier abort):
    /// INITIATED (`since: None`) or COMPLETING since `since` → EXPIRED. Releases the quota share.
    Lost { since: Option<i64> },
}

impl Transition {
    /// Whether it ends the upload, and so gives back its quota share.
    pub fn releases_quota(&self) -> bool {
        matches!(
            self,
            Self::Complete(_) | Self::Abort { .. } | Self::Expire { .. } | Self::Lost { .. }
        )
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
            metadata: Metadata::new(),
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
        assert!(matches!(
            r.require_uploading(250),
            Err(UploadError::WrongState(Status::Expired))
        ));
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
    fn transitions_follow_their_guards() {
        let mut r = record(Status::Initiated);
        assert!(!r.clone().apply(&Transition::Expire { now: 199 }));
        assert!(!r.clone().apply(&Transition::BeginCompleting {
            now: 200,
            stale_before: 0
        }));
        assert!(r.apply(&Transition::BeginCompleting {
            now: 150,
            stale_before: 0
        }));
        assert_eq!(
            (r.status, r.completing_since),
            (Status::Completing, Some(150))
        );
        // A fresh COMPLETING is neither taken over nor aborted; a stale one is.
        assert!(!r.clone().apply(&Transition::BeginCompleting {
            now: 160,
            stale_before: 150
        }));
        assert!(!r.clone().apply(&Transition::Abort { stale_before: 150 }));
        assert!(r.clone().apply(&Transition::Abort { stale_before: 151 }));
        // Only the holder (the same `since`) may release, abandon or lose it.
        assert!(!r.clone().apply(&Transition::Release { since: 149 }));
        assert!(!r.clone().apply(&Transition::Lost { since: None }));
        assert!(r.clone().apply(&Transition::Lost { since: Some(150) }));
        assert!(r.apply(&Transition::Abandon { since: 150 }));
        assert_eq!(r.completing_since, Some(0));
        assert!(r.clone().apply(&Transition::BeginCompleting {
            now: 170,
            stale_before: 1
        }));
        let done = Completion {
            etag: "e".into(),
            size: 1,
            location: "l".into(),
            completed_at: 171,
            checksum: None,
        };
        assert!(r.apply(&Transition::Complete(done.clone())));
        assert_eq!(r.status, Status::Completed);
        for t in [
            Transition::Complete(done),
            Transition::Abort {
                stale_before: i64::MAX,
            },
            Transition::Expire { now: i64::MAX },
            Transition::Lost { since: None },
        ] {
            assert!(!r.clone().apply(&t), "{t:?} must not leave COMPLETED");
        }
    }

    #[test]
    fn only_ending_transitions_release_quota() {
        assert!(Transition::Abort { stale_before: 0 }.releases_quota());
        assert!(Transition::Lost { since: None }.releases_quota());
        assert!(!Transition::Release { since: 0 }.releases_quota());
        assert!(!Transition::BeginCompleting {
            now: 0,
            stale_before: 0
        }
        .releases_quota());
    }
}
