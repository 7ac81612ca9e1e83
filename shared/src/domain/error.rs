//! What can go wrong with an upload, in upload terms. The HTTP layer maps each case to a status
//! once (`impl From<UploadError> for ApiError`); nothing below it knows about HTTP.

use crate::domain::Status;
use crate::ports::{PortError, Quota, RateUse};

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No upload with this id for the caller (a missing one and somebody else's look alike).
    #[error("no such upload")]
    NotFound,
    /// The request is wrong and the client must change it: `code` is the API's error code.
    #[error("{code}: {message}")]
    Invalid { code: &'static str, message: String },
    /// The upload is not in a state that allows this.
    #[error("the upload is {}", .0.as_str())]
    WrongState(Status),
    /// The caller is at a quota limit.
    #[error("quota exceeded")]
    QuotaExceeded(Quota),
    /// The caller is at a rate limit (`limit` per minute) until the window ends.
    #[error("rate limited")]
    RateLimited {
        limit: RateUse,
        retry_after_secs: u32,
    },
    /// The key already holds an object that is not this upload's.
    #[error("an object already exists under this upload's key")]
    ObjectExists,
    /// S3 or DynamoDB failed or did not answer: the same request may be retried.
    #[error(transparent)]
    Unavailable(#[from] PortError),
    /// Storage answered something that cannot be right.
    #[error("{0}")]
    Inconsistent(String),
}

impl UploadError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
}
