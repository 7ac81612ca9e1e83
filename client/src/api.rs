//! The upload API's endpoints as typed calls: one `reqwest` client, the caller's identity on every
//! request, `{"error": {"code", "message"}}` answers turned into [`Error::Api`].

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::Error;

/// Who the caller is: the local API's `x-user-id` header, or a JWT for the deployed API.
#[derive(Clone, Debug)]
pub enum Identity {
    /// `x-user-id: USER`, honoured by the local API only.
    User(String),
    /// `Authorization: Bearer TOKEN`, verified by API Gateway's JWT authorizer.
    Token(String),
}

/// `POST /initialize`'s answer: the server's plan for the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Initialized {
    pub upload_id: String,
    pub key: String,
    pub chunk_size: u64,
    pub total_parts: u32,
    pub expires_at: String,
    /// An unfinished upload of the same file (same fingerprint and size) was answered.
    #[serde(default)]
    pub resumed: bool,
    /// When resumed: the parts storage already holds.
    #[serde(default)]
    pub parts: Vec<ListedPart>,
}

/// One presigned part URL, with the headers its `PUT` must carry (checksummed uploads).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartUrl {
    pub part_number: u32,
    pub presigned_url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working, seconds since the epoch (from the answer's `expiresAt`).
    #[serde(skip)]
    pub expires_at: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchUrls {
    urls: Vec<PartUrl>,
    expires_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SingleUrl {
    #[serde(flatten)]
    url: PartUrl,
    expires_at: String,
}

/// A part that storage holds, from `GET /parts/{uploadId}`.
#[derive(Clone, Debug, Deserialize)]
pub struct ListedPart {
    #[serde(rename = "PartNumber")]
    pub number: u32,
    #[serde(rename = "ETag", default)]
    pub etag: Option<String>,
    #[serde(rename = "Size")]
    pub size: u64,
}

#[derive(Deserialize)]
struct Parts {
    parts: Vec<ListedPart>,
}

/// `GET /status/{uploadId}`: the fields the client needs, plus the whole answer in `raw`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    pub upload_id: String,
    pub status: String,
    pub key: String,
    pub file_size: u64,
    pub chunk_size: u64,
    pub total_parts: u32,
    #[serde(default)]
    pub uploaded_parts: u32,
    #[serde(default)]
    pub uploaded_bytes: u64,
    /// `SHA256` or `CRC32C` when parts carry checksums.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    #[serde(skip)]
    pub raw: Value,
}

/// A part number and the ETag storage answered for it, as `complete` takes them.
#[derive(Clone, Debug, Serialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
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
        &self,
        file_name: &str,
        file_type: &str,
        file_size: u64,
        checksum_algorithm: Option<&str>,
        fingerprint: Option<&str>,
    ) -> Result<Initialized, Error> {
        let mut body =
            json!({ "fileName": file_name, "fileType": file_type, "fileSize": file_size });
        if let Some(algorithm) = checksum_algorithm {
            body["checksumAlgorithm"] = json!(algorithm);
        }
        if let Some(fingerprint) = fingerprint {
            body["fingerprint"] = json!(fingerprint);
        }
        self.call(Method::POST, "/initialize", Some(body)).await
    }

    /// URLs for parts `start..=end` (at most the server's batch limit, 1000 by default).
    pub async fn batch_urls(
        &self,
        upload_id: &str,
        start: u32,
        end: u32,
        checksums: Option<&BTreeMap<String, String>>,
    ) -> Result<Vec<PartUrl>, Error> {
        let mut body = json!({ "uploadId": upload_id, "startPart": start, "endPart": end });
        if let Some(checksums) = checksums {
            body["checksums"] = json!(checksums);
        }
        let answer: BatchUrls = self
            .call(Method::POST, "/batch-presigned-urls", Some(body))
            .await?;
        let expires_at = parse_rfc3339(&answer.expires_at);
        Ok(answer
            .urls
            .into_iter()
            .map(|mut url| {
                url.expires_at = expires_at;
                url
            })
            .collect())
    }

    /// A fresh URL for one part (after a `403` from storage: the old one expired).
    pub async fn part_url(
        &self,
        upload_id: &str,
        part: u32,
        checksum: Option<&str>,
    ) -> Result<PartUrl, Error> {
        let mut body = json!({ "uploadId": upload_id, "partNumber": part });
        if let Some(checksum) = checksum {
            body["checksum"] = json!(checksum);
        }
        let answer: SingleUrl = self
            .call(Method::POST, "/presigned-url", Some(body))
            .await?;
        let mut url = answer.url;
        url.expires_at = parse_rfc3339(&answer.expires_at);
        Ok(url)
    }

    /// The parts storage holds for the upload.
    pub async fn parts(&self, upload_id: &str) -> Result<Vec<ListedPart>, Error> {
        let answer: Parts = self
            .call(Method::GET, &format!("/parts/{upload_id}"), None)
            .await?;
        Ok(answer.parts)
    }

    pub async fn status(&self, upload_id: &str) -> Result<UploadStatus, Error> {
        let raw: Value = self
            .call(Method::GET, &format!("/status/{upload_id}"), None)
            .await?;
        let mut status: UploadStatus =
            serde_json::from_value(raw.clone()).map_err(|e| Error::Protocol {
                what: "GET /status".into(),
                detail: e.to_string(),
            })?;
        status.raw = raw;
        Ok(status)
    }

    /// Completes the upload; without `parts` the server reads them from storage.
    pub async fn complete(
        &self,
        upload_id: &str,
        parts: Option<&[CompletedPart]>,
    ) -> Result<Value, Error> {
        let mut body = json!({ "uploadId": upload_id });
        if let Some(parts) = parts {
            body["parts"] = json!(parts);
        }
        self.call(Method::POST, "/complete", Some(body)).await
    }

    pub async fn abort(&self, upload_id: &str) -> Result<Value, Error> {
        let body = json!({ "uploadId": upload_id });
        self.call(Method::POST, "/abort", Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, Error> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        request = match &self.identity {
            Identity::User(user) => request.header("x-user-id", user),
            Identity::Token(token) => request.bearer_auth(token),
        };
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
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

fn api_error(status: StatusCode, text: &str) -> Error {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let field = |name: &str| body["error"][name].as_str().map(str::to_owned);
    Error::Api {
        status: status.as_u16(),
        code: field("code").unwrap_or_else(|| "HTTP_ERROR".into()),
        message: field("message").unwrap_or_else(|| excerpt(text)),
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
