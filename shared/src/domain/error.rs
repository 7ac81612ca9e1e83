//! What can go wrong with an upload, in upload terms. The HTTP layer maps each case to a status
//! once (`impl From<UploadError> for ApiError`); nothing below it knows about HTTP.

use crate::domain::limits::{Quota, RateUse};
use crate::domain::Status;
use upload_contract::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No upload with this id for the caller (a missing one and somebody else's look alike).
    #[error("no such upload")]
    NotFound,
    /// The request is wrong and the client must change it: `code` is the API's error code.
    #[error("{code}: {message}")]
    Invalid { code: ErrorCode, message: String },
    /// The file's media type is well formed but not on the deployment's allow-list.
    #[error("{0}")]
    TypeNotAllowed(String),
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
    /// Part URLs could not be signed (the service's endpoint or credentials are unusable).
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// Storage answered something that cannot be right.
    #[error("{0}")]
    Inconsistent(String),
}

impl UploadError {
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
}

/// A call to S3 or DynamoDB failed, timed out, or its answer was lost: whether it was applied is
/// unknown. `call` names the operation, for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{call}: {detail}")]
pub struct PortError {
    pub call: &'static str,
    pub detail: String,
    /// Known not applied: the item kept being taken by other writes (transaction conflicts or
    /// throttling past every retry). The caller is told to retry shortly (429), not that the
    /// service failed.
    pub contended: bool,
}

impl PortError {
    pub fn new(call: &'static str, detail: impl Into<String>) -> Self {
        Self {
            call,
            detail: detail.into(),
            contended: false,
        }
    }

    /// A call that applied nothing because its items stayed contended past every retry.
    pub fn contended(call: &'static str, detail: impl Into<String>) -> Self {
        Self {
            contended: true,
            ..Self::new(call, detail)
        }
    }
}

/// Part URLs could not be signed: the endpoint or the credentials are unusable. The service's own
/// fault (its configuration or role), not the caller's and not a dependency's answer.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {detail}")]
pub struct SigningError {
    pub context: &'static str,
    pub detail: String,
}

impl SigningError {
    pub fn new(context: &'static str, err: &dyn std::error::Error) -> Self {
        Self {
            context,
            detail: error_chain(err),
        }
    }
}

/// `err` and all its sources, joined with ": ".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
