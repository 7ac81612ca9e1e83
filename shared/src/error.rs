//! The one error type every endpoint returns: a stable machine `code`, an HTTP status and a message
//! that tells the client what to fix. Internal faults keep their cause for the log and show the client
//! an opaque body.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A mistake of the caller's (4xx).
    #[error("{code}: {message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
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
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::client(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "no caller identity: send a valid bearer token",
        )
    }

    /// The same answer for a missing upload and for somebody else's, so ids cannot be probed.
    pub fn upload_not_found() -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            "UPLOAD_NOT_FOUND",
            "no upload with this uploadId exists for the caller",
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, message)
    }

    pub fn expired() -> Self {
        Self::client(
            StatusCode::GONE,
            "UPLOAD_EXPIRED",
            "this upload has expired and its parts are discarded: start a new upload",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
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

    pub fn code(&self) -> &'static str {
        match self {
            Self::Client { code, .. } => code,
            Self::Internal { .. } => "INTERNAL_ERROR",
        }
    }

    /// The JSON response; 5xx bodies say nothing about the cause.
    pub fn to_response(&self) -> Response<Body> {
        let message = match self {
            Self::Client { message, .. } => message.as_str(),
            Self::Internal { .. } => "the service failed to handle this request; try again later",
        };
        json_response(
            self.status(),
            &json!({ "error": { "code": self.code(), "message": message } }),
        )
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
        let response =
            ApiError::bad_request("INVALID_FIELD", "fileSize must be a number").to_response();
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
    fn not_found_and_unauthenticated_statuses() {
        assert_eq!(ApiError::upload_not_found().status(), 404);
        assert_eq!(ApiError::unauthenticated().status(), 401);
        assert_eq!(ApiError::expired().status(), 410);
        assert_eq!(ApiError::payload_too_large(10).status(), 413);
    }
}
