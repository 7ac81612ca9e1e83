//! The upload API's endpoints as typed calls: one `reqwest` client, the caller's identity on every
//! request, `{"error": {"code", "message"}}` answers turned into [`Error::Api`].

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use upload_contract::{
    AbortRequest, AbortResponse, ApiErrorBody, BatchPresignedUrlsRequest,
    BatchPresignedUrlsResponse, ChecksumAlgorithm, CompleteRequest, CompleteResponse,
    CompletedPart, InitializeRequest, InitializeResponse, ListPartsResponse, ListUploadsResponse,
    ListedPart, PartUrl as WirePartUrl, PresignedUrlRequest, PresignedUrlResponse, StatusResponse,
    UploadId, UploadStatus,
};

use crate::error::Error;

/// Who the caller is: the local API's `x-user-id` header, or a JWT for the deployed API.
#[derive(Clone, Debug)]
pub enum Identity {
    /// `x-user-id: USER`, honoured by the local API only.
    User(String),
    /// `Authorization: Bearer TOKEN`, verified by API Gateway's JWT authorizer.
    Token(String),
}

/// One presigned part URL (the contract's [`WirePartUrl`]) and when it stops working.
#[derive(Clone, Debug)]
pub struct PartUrl {
    pub part: WirePartUrl,
    /// When the URL stops working, seconds since the epoch (from the answer's `expiresAt`).
    pub expires_at: Option<i64>,
}

impl std::ops::Deref for PartUrl {
    type Target = WirePartUrl;

    fn deref(&self) -> &WirePartUrl {
        &self.part
    }
}

/// The upload API at one base URL (`.../api/v1/multipart-upload`) for one caller.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    identity: Identity,
}

impl Api {
    pub fn new(base: &str, identity: Identity) -> Result<Self, Error> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Usage(format!(
                "the API URL must start with http:// or https://, got {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("upload-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|source| Error::Http {
                what: "building the HTTP client".into(),
                source,
            })?;
        Ok(Self {
            http,
            base,
            identity,
        })
    }

    /// The HTTP client, shared with the part uploads.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn initialize(
        &self, file_name: &str, file_type: &str, file_size: u64,
        checksum_algorithm: Option<ChecksumAlgorithm>, fingerprint: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<InitializeResponse, Error> {
        let body = InitializeRequest {
            file_name: file_name.to_owned(),
            file_type: file_type.to_owned(),
            file_size,
            checksum_algorithm,
            part_size: None,
            fingerprint: fingerprint.map(str::to_owned),
            metadata: (!metadata.is_empty()).then(|| metadata.clone()),
        };
        self.call(Method::POST, "/initialize", Some(&body)).await
    }

    /// URLs for parts `start..=end` (at most the server's batch limit, 1000 by default).
    pub async fn batch_urls(
        &self, upload_id: &UploadId, start: u32, end: u32,
        checksums: Option<&BTreeMap<String, String>>,
    ) -> Result<Vec<PartUrl>, Error> {
        let body = BatchPresignedUrlsRequest {
            upload_id: *upload_id,
            key: None,
            start_part: start,
            end_part: end,
            checksums: checksums.cloned(),
        };
        let answer: BatchPresignedUrlsResponse = self
            .call(Method::POST, "/batch-presigned-urls", Some(&body))
            .await?;
        let expires_at = parse_rfc3339(&answer.expires_at);
        Ok(answer
            .urls
            .into_iter()
            .map(|part| PartUrl { part, expires_at })
            .collect())
    }

    /// A fresh URL for one part (after a `403` from storage: the old one expired).
    pub async fn part_url(
        &self, upload_id: &UploadId, part: u32, checksum: Option<&str>,
    ) -> Result<PartUrl, Error> {
        let body = PresignedUrlRequest {
            upload_id: *upload_id,
            key: None,
            part_number: part,
            checksum: checksum.map(str::to_owned),
        };
        let answer: PresignedUrlResponse = self
            .call(Method::POST, "/presigned-url", Some(&body))
            .await?;
        Ok(PartUrl {
            part: answer.url,
            expires_at: parse_rfc3339(&answer.expires_at),
        })
    }

    /// The parts storage holds for the upload.
    pub async fn parts(&self, upload_id: &UploadId) -> Result<Vec<ListedPart>, Error> {
        let answer: ListPartsResponse = self
            .call(Method::GET, &format!("/parts/{upload_id}"), NO_BODY)
            .await?;
        Ok(answer.parts)
    }

    pub async fn status(&self, upload_id: &UploadId) -> Result<StatusResponse, Error> {
        self.call(Method::GET, &format!("/status/{upload_id}"), NO_BODY)
            .await
    }

    /// One page of the caller's uploads, newest first: at most `limit` (the server's default if
    /// `None`), only those in `status` if given, after the page whose `nextCursor` is `cursor`.
    pub async fn list_uploads(
        &self, status: Option<&UploadStatus>, limit: Option<u32>, cursor: Option<&str>,
    ) -> Result<ListUploadsResponse, Error> {
        let mut query = Vec::new();
        if let Some(status) = status {
            query.push(format!("status={}", query_value(status.as_str())));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", query_value(cursor)));
        }
        let path = match query.is_empty() {
            true => "/uploads".to_owned(),
            false => format!("/uploads?{}", query.join("&")),
        };
        self.call(Method::GET, &path, NO_BODY).await
    }

    /// Completes the upload; without `parts` the server reads them from storage. `checksum` is
    /// the whole file's base64 CRC64NVME (CRC64NVME uploads), which storage checks.
    pub async fn complete(
        &self, upload_id: &UploadId, parts: Option<&[CompletedPart]>, checksum: Option<&str>,
    ) -> Result<CompleteResponse, Error> {
        let body = CompleteRequest {
            upload_id: *upload_id,
            key: None,
            parts: parts.map(<[CompletedPart]>::to_vec),
            checksum: checksum.map(str::to_owned),
        };
        self.call(Method::POST, "/complete", Some(&body)).await
    }

    pub async fn abort(&self, upload_id: &UploadId) -> Result<AbortResponse, Error> {
        let body = AbortRequest {
            upload_id: *upload_id,
            key: None,
        };
        self.call(Method::POST, "/abort", Some(&body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self, method: Method, path: &str, body: Option<&impl Serialize>,
    ) -> Result<T, Error> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        request = match &self.identity {
            Identity::User(user) => request.header("x-user-id", user),
            Identity::Token(token) => request.bearer_auth(token),
        };
        if let Some(body) = body {
            let body = serde_json::to_string(body).map_err(|e| Error::Protocol {
                what: what.clone(),
                detail: e.to_string(),
            })?;
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(api_error(status, &text));
        }
        serde_json::from_str(&text).map_err(|e| Error::Protocol {
            what,
            detail: format!("{e}: {}", excerpt(&text)),
        })
    }
}

/// `value` percent-encoded for a query string (everything but unreserved characters).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A request without a body.
const NO_BODY: Option<&()> = None;

fn api_error(status: StatusCode, text: &str) -> Error {
    match serde_json::from_str::<ApiErrorBody>(text) {
        Ok(body) => Error::Api {
            status: status.as_u16(),
            code: body.error.code.as_str().to_owned(),
            message: body.error.message,
        },
        Err(_) => Error::Api {
            status: status.as_u16(),
            code: "HTTP_ERROR".into(),
            message: excerpt(text),
        },
    }
}

/// The start of a response body, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Seconds since the epoch for the API's `YYYY-MM-DDTHH:MM:SSZ` times; `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|n| n.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let time = time.split('.').next()?;
    let mut time = time.splitn(3, ':').map(|n| n.parse::<i64>().ok());
    let (hour, minute, second) = (time.next()??, time.next()??, time.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(parse_rfc3339("2026-11-24T10:20:30Z"), Some(1_795_515_630));
        assert_eq!(parse_rfc3339("2026-11-24T10:20:30.5Z"), Some(1_795_515_630));
        assert_eq!(parse_rfc3339("2026-11-24 10:20:30"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn error_bodies_become_codes() {
        let err = api_error(
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"UPLOAD_NOT_FOUND","message":"no such upload"}}"#,
        );
        assert_eq!(err.to_string(), "404 UPLOAD_NOT_FOUND: no such upload");
        let err = api_error(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
        assert_eq!(err.to_string(), "502 HTTP_ERROR: <html>bad gateway</html>");
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(Api::new("127.0.0.1:3000", Identity::User("a".into())).is_err());
        let api = match Api::new(
            "http://h/api/v1/multipart-upload/",
            Identity::User("a".into()),
        ) {
            Ok(api) => api,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(api.base(), "http://h/api/v1/multipart-upload");
    }
}
