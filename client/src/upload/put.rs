//! One `PUT` of a part's bytes to its presigned URL, and what a failure means for the next try.
//! Nothing of the URL reaches a message: a presigned URL is a bearer credential.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::api::{excerpt, PartUrl};
use crate::error::error_chain;

use super::body::CountingBody;
use super::progress::Progress;

/// Why one `PUT` did not store its part.
pub(super) struct PutFailure {
    pub message: String,
    pub kind: FailureKind,
}

#[derive(PartialEq, Eq)]
pub(super) enum FailureKind {
    /// Worth a pause and another try.
    Transient,
    /// `403`: the URL expired (or was refused); ask for a new one.
    Refused,
    /// Trying again cannot help (e.g. `400 BadDigest`, `404 NoSuchUpload`).
    Fatal,
}

/// One `PUT` of a part, its bytes reported to `progress` as they go out (and taken back off when
/// it fails); the ETag storage answered, if it sent one.
pub(super) async fn put_part(
    http: &reqwest::Client, url: &PartUrl, data: &Bytes, timeout: Duration,
    progress: &Arc<dyn Progress>,
) -> Result<Option<String>, PutFailure> {
    let sent = Arc::new(AtomicU64::new(0));
    let body = CountingBody::new(data.clone(), progress.clone(), sent.clone());
    let mut request = http
        .put(&url.presigned_url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(reqwest::header::CONTENT_LENGTH, data.len())
        .body(reqwest::Body::wrap(body));
    // `headers` lists every header the URL was signed with, `content-length` included; reqwest
    // already sends the body's length (set above), so that one is not copied a second time.
    for (name, value) in &url.headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        request = request.header(name.as_str(), value.as_str());
    }
    let failed = |message: String, kind| {
        progress.unsent(sent.load(Ordering::Relaxed));
        Err(PutFailure { message, kind })
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return failed(send_failure(err), FailureKind::Transient),
    };
    let status = response.status();
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(etag);
    }
    let message = format!("storage answered {status}: {}", storage_error(&text));
    let kind = match status.as_u16() {
        403 => FailureKind::Refused,
        408 | 429 | 500..=599 => FailureKind::Transient,
        _ => FailureKind::Fatal,
    };
    failed(message, kind)
}

/// Why a `PUT` got no answer, without its URL: a presigned URL is a bearer credential (its
/// signature and session token), and reqwest's message names the URL it failed to reach.
fn send_failure(err: reqwest::Error) -> String {
    format!(
        "storage did not answer: {}",
        error_chain(&err.without_url())
    )
}

/// Storage's error answer, reduced to its `Code` and `Message`: S3's `SignatureDoesNotMatch` body
/// also carries the canonical request, which holds the URL's credential and session token.
fn storage_error(body: &str) -> String {
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_owned())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => excerpt(&format!("{code}: {message}")),
        (Some(code), None) => code,
        _ if body.contains("X-Amz-") => {
            "(an answer naming the URL's credentials, not shown)".into()
        }
        _ => excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PUT to a closed port: the error says what failed, and nothing of the presigned URL.
    #[tokio::test]
    async fn a_failed_put_never_shows_the_presigned_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // bound, then dropped: nothing listens there now
        let url = format!(
            "http://127.0.0.1:{port}/bucket/k?partNumber=1&uploadId=u&X-Amz-Credential=AKIDSECRETID\
             &X-Amz-Security-Token=TOKENSECRET&X-Amz-Signature=deadbeefsignature"
        );
        let err = reqwest::Client::new()
            .put(&url)
            .body("x")
            .send()
            .await
            .expect_err("nothing listens on the port");
        assert!(
            error_chain(&err).contains("deadbeefsignature"),
            "reqwest's own message names the URL: the test would prove nothing otherwise"
        );
        let message = send_failure(err);
        assert!(message.starts_with("storage did not answer"), "{message}");
        for secret in [
            "deadbeefsignature",
            "TOKENSECRET",
            "AKIDSECRETID",
            "X-Amz",
            "127.0.0.1",
        ] {
            assert!(!message.contains(secret), "{secret} in {message:?}");
        }
    }

    #[test]
    fn storage_errors_keep_code_and_message_only() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
            <Message>The request signature we calculated does not match</Message>\
            <CanonicalRequest>PUT /k X-Amz-Security-Token=TOKENSECRET</CanonicalRequest></Error>";
        assert_eq!(
            storage_error(body),
            "SignatureDoesNotMatch: The request signature we calculated does not match"
        );
        assert!(!storage_error("?X-Amz-Security-Token=TOKENSECRET").contains("TOKENSECRET"));
        assert_eq!(storage_error("plain text"), "plain text");
    }
}
