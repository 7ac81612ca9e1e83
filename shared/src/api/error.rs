//! The one error type every endpoint returns: a stable machine `code`, an HTTP status and a message
//! that tells the client what to fix. Internal faults keep their cause for the log and show the client
//! an opaque body.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::adapters::metrics::{
    dependency_cause, Dependency, INTERNAL_ERROR, STORAGE_INCONSISTENT,
};
use crate::domain::error::{error_chain, SigningError};
use crate::domain::{Status, UploadError};
use upload_contract::{ApiErrorBody, ApiErrorDetail, ErrorCode};

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// A mistake of the caller's (4xx).
    #[error("{code}: {message}")]
    Client {
        status: StatusCode,
        code: ErrorCode,
        message: String,
        /// Seconds after which the same request may succeed, when the refusal says so.
        retry_after: Option<u32>,
    },
    /// A fault of this service or of AWS (5xx). `detail` goes to the log only.
    #[error("{context}: {detail}")]
    Internal {
        status: StatusCode,
        context: &'static str,
        detail: String,
    },
}

impl ApiError {
    pub fn client(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::client(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "no caller identity: send a valid bearer token",
        )
    }

    /// The same answer for a missing upload and for somebody else's, so ids cannot be probed.
    pub fn upload_not_found() -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            ErrorCode::UploadNotFound,
            "no upload with this uploadId exists for the caller",
        )
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, message)
    }

    pub fn expired() -> Self {
        Self::client(
            StatusCode::GONE,
            ErrorCode::UploadExpired,
            "this upload has expired and its parts are discarded: start a new upload",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the request body exceeds {limit} bytes"),
        )
    }

    /// A fault that is not the caller's. `err` is formatted with its whole source chain.
    pub fn internal(context: &'static str, err: impl std::error::Error) -> Self {
        Self::Internal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            context,
            detail: error_chain(&err),
        }
    }

    /// A dependency (S3, DynamoDB) failed or was unreachable.
    pub fn upstream(context: &'static str, err: impl std::error::Error) -> Self {
        Self::Internal {
            status: StatusCode::BAD_GATEWAY,
            context,
            detail: error_chain(&err),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Client { status, .. } | Self::Internal { status, .. } => *status,
        }
    }

    /// Where a 5xx came from and why, as the `ServerErrors` metric's `Dependency` and `ErrorCode`
    /// dimensions; `None` for a client error.
    pub fn cause(&self) -> Option<(Dependency, &'static str)> {
        let Self::Internal {
            context, detail, ..
        } = self
        else {
            return None;
        };
        if *context == STORAGE_CHECK {
            return Some((Dependency::S3, STORAGE_INCONSISTENT));
        }
        Some(match Dependency::of_call(context) {
            Dependency::None => (Dependency::None, INTERNAL_ERROR),
            dependency => (dependency, dependency_cause(detail)),
        })
    }

    /// The answer's `error.code`: the caller's mistake, or `INTERNAL_ERROR` for every 5xx.
    pub fn code(&self) -> &ErrorCode {
        match self {
            Self::Client { code, .. } => code,
            Self::Internal { .. } => &ErrorCode::InternalError,
        }
    }

    /// Seconds after which the same request may succeed, for the answers where retrying helps:
    /// a dependency that failed, and a completion still in progress.
    pub fn retry_after(&self) -> Option<u32> {
        if let Self::Client {
            retry_after: Some(secs),
            ..
        } = self
        {
            return Some(*secs);
        }
        match (self.status(), self.code()) {
            (StatusCode::SERVICE_UNAVAILABLE, _) => Some(1),
            (_, ErrorCode::CompletionInProgress) => Some(5),
            _ => None,
        }
    }

    /// The JSON response; 5xx bodies say nothing about the cause.
    pub fn to_response(&self) -> Response<Body> {
        let message = match self {
            Self::Client { message, .. } => message.as_str(),
            Self::Internal { .. } => "the service failed to handle this request; try again later",
        };
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: self.code().clone(),
                message: message.to_owned(),
            },
        };
        let body = serde_json::to_value(&body).unwrap_or_default();
        let mut response = json_response(self.status(), &body);
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert(
                lambda_http::http::header::RETRY_AFTER,
                lambda_http::http::HeaderValue::from(secs),
            );
        }
        response
    }
}

/// The one place upload errors become HTTP answers.
impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::NotFound => Self::upload_not_found(),
            UploadError::Invalid { code, message } => Self::bad_request(code, message),
            UploadError::TypeNotAllowed(message) => Self::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::FileTypeNotAllowed,
                message,
            ),
            UploadError::WrongState(status) => not_uploading(status),
            UploadError::QuotaExceeded(quota) => Self::client(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::QuotaExceeded,
                format!(
                    "too many unfinished uploads: at most {} at once and {} bytes in flight per \
                     user; complete or abort some first",
                    quota.max_active_uploads, quota.max_bytes_in_flight
                ),
            ),
            UploadError::RateLimited {
                limit,
                retry_after_secs,
            } => {
                let per_minute = |n: u64| {
                    if n == 0 {
                        "no limit".to_owned()
                    } else {
                        n.to_string()
                    }
                };
                Self::Client {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    code: ErrorCode::RateLimited,
                    message: format!(
                        "too many requests: per user and minute at most {} requests and {} part \
                         URLs; retry after {retry_after_secs} s",
                        per_minute(limit.requests),
                        per_minute(limit.urls)
                    ),
                    retry_after: Some(retry_after_secs),
                }
            }
            UploadError::ObjectExists => Self::conflict(
                ErrorCode::ObjectExists,
                "an object already exists under this upload's key",
            ),
            // One user's writes kept colliding on their own items (a burst): nothing was applied.
            UploadError::Unavailable(err) if err.contended => Self::Client {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: ErrorCode::RateLimited,
                message: "too many concurrent requests for this user; retry after 1 s".to_owned(),
                retry_after: Some(1),
            },
            UploadError::Unavailable(err) => Self::Internal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                context: err.call,
                detail: err.detail,
            },
            UploadError::Signing(err) => err.into(),
            UploadError::Inconsistent(detail) => Self::Internal {
                status: StatusCode::BAD_GATEWAY,
                context: STORAGE_CHECK,
                detail,
            },
        }
    }
}

/// Part URLs could not be signed: a fault of this service (its endpoint or credentials).
impl From<SigningError> for ApiError {
    fn from(err: SigningError) -> Self {
        Self::Internal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            context: err.context,
            detail: err.detail,
        }
    }
}

/// The context of a 502 for storage answering something that cannot be right.
const STORAGE_CHECK: &str = "checking what storage holds";

/// The answer to an operation that needs an INITIATED upload but found `status`.
pub fn not_uploading(status: Status) -> ApiError {
    match status {
        Status::Initiated => {
            ApiError::conflict(ErrorCode::InvalidState, "the upload is still in progress")
        }
        Status::Completing => ApiError::conflict(
            ErrorCode::CompletionInProgress,
            "the upload is being completed; poll GET /status or complete again for the outcome",
        ),
        Status::Completed => ApiError::conflict(
            ErrorCode::UploadCompleted,
            "the upload is already completed; no more parts can be sent",
        ),
        Status::Aborted => ApiError::conflict(
            ErrorCode::UploadAborted,
            "the upload was aborted; start a new upload",
        ),
        Status::Expired => ApiError::expired(),
    }
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn client_errors_carry_code_and_message() {
        let response = ApiError::bad_request(ErrorCode::InvalidField, "fileSize must be a number")
            .to_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = body_of(&response);
        assert_eq!(body["error"]["code"], "INVALID_FIELD");
        assert_eq!(body["error"]["message"], "fileSize must be a number");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let io = std::io::Error::other("secret detail from AWS");
        let err = ApiError::upstream("calling S3", io);
        assert!(err.to_string().contains("secret detail"));
        let response = err.to_response();
        assert_eq!(response.status(), 502);
        let body = body_of(&response);
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert!(!body.to_string().contains("secret"));
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

    #[test]
    fn retryable_answers_say_when_to_retry() {
        let unavailable: ApiError =
            UploadError::Unavailable(crate::ports::PortError::new("GetItem", "timed out")).into();
        let response = unavailable.to_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(!body_of(&response).to_string().contains("timed out"));
        let busy = not_uploading(Status::Completing).to_response();
        assert_eq!(busy.headers()["retry-after"], "5");
        assert!(ApiError::upload_not_found()
            .to_response()
            .headers()
            .get("retry-after")
            .is_none());
    }

    #[test]
    fn server_errors_name_their_dependency_and_cause() {
        let throttled: ApiError = UploadError::Unavailable(crate::ports::PortError::new(
            "TransactWriteItems",
            "service error: ThrottlingException: rate exceeded",
        ))
        .into();
        assert_eq!(
            throttled.cause(),
            Some((Dependency::DynamoDb, crate::adapters::metrics::THROTTLED))
        );
        let s3: ApiError =
            UploadError::Unavailable(crate::ports::PortError::new("ListParts", "timed out")).into();
        assert_eq!(s3.cause(), Some((Dependency::S3, "TIMEOUT")));
        let odd: ApiError = UploadError::Inconsistent("sizes differ".into()).into();
        assert_eq!(odd.cause(), Some((Dependency::S3, STORAGE_INCONSISTENT)));
        let ours = ApiError::internal("rendering the answer", std::io::Error::other("x"));
        assert_eq!(ours.cause(), Some((Dependency::None, "INTERNAL_ERROR")));
        assert_eq!(ApiError::upload_not_found().cause(), None);
    }

    #[test]
    fn unsigned_urls_are_our_fault() {
        let err: ApiError = SigningError {
            context: "loading AWS credentials",
            detail: "none configured".into(),
        }
        .into();
        assert_eq!(err.status(), 500);
        assert_eq!(err.cause(), Some((Dependency::None, "INTERNAL_ERROR")));
    }

    #[test]
    fn a_type_off_the_allow_list_is_415() {
        let allowed = vec!["video/*".to_string(), "image/jpeg".to_string()];
        let err: ApiError = crate::domain::file::content_type("image/png", &allowed)
            .unwrap_err()
            .into();
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (415, &ErrorCode::FileTypeNotAllowed)
        );
    }

    #[test]
    fn not_found_and_unauthenticated_statuses() {
        assert_eq!(ApiError::upload_not_found().status(), 404);
        assert_eq!(ApiError::unauthenticated().status(), 401);
        assert_eq!(ApiError::expired().status(), 410);
        assert_eq!(ApiError::payload_too_large(10).status(), 413);
    }
}
