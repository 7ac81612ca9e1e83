//! Shared helpers: a fresh bucket, table and API per test, and phone-like HTTP calls.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::{Clock, Config, Deps};

pub const MIB: usize = 1024 * 1024;

/// Every log line of this test binary, so a test can check what the service logs.
pub static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogBuffer;

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let writer = tracing_subscriber::fmt::TestWriter::new().and(|| LogBuffer);
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter("info,shared=debug,local_api=debug")
        .try_init();
}

pub fn logs() -> String {
    LOGS.lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Server {
    /// moto: S3 and DynamoDB; does not check signatures.
    Moto,
    /// s3s-fs: checks SigV4 presigned URLs strictly; DynamoDB still from moto.
    Strict,
    /// LocalStack's S3: checks presigned URLs and part checksums (BadDigest); DynamoDB still from
    /// moto. `scripts/stack.sh --localstack` starts it.
    LocalStack,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the integration tests through `make test`, which starts the local S3 and DynamoDB servers")
    })
}

pub struct Stack {
    pub base: String,
    pub deps: Arc<Deps>,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Stack {
    pub async fn start(server: S3Server) -> Self {
        Self::start_with(server, |_| {}).await
    }

    /// A stack with its own bucket and table; `vars` overrides configuration variables.
    pub async fn start_with(
        server: S3Server,
        tweak: impl FnOnce(&mut HashMap<String, String>),
    ) -> Self {
        init_logs();
        let moto = env("TEST_MOTO_URL");
        let s3 = match server {
            S3Server::Moto => moto.clone(),
            S3Server::Strict => env("TEST_S3S_URL"),
            S3Server::LocalStack => env("TEST_LOCALSTACK_URL"),
        };
        let name = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let mut vars: HashMap<String, String> = [
            ("UPLOADS_BUCKET", name.as_str()),
            ("UPLOADS_TABLE", name.as_str()),
            ("S3_ENDPOINT_URL", s3.as_str()),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("DYNAMODB_ENDPOINT_URL", moto.as_str()),
            ("PREFERRED_PART_SIZE", "5242880"),
            ("COMPLETION_WAIT_SECONDS", "30"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        tweak(&mut vars);
        let config = Config::from_vars(&vars).expect("test configuration is valid");
        let mut deps = Deps::new(config, Clock::system()).await;
        if server == S3Server::LocalStack {
            deps.presigner = localstack_presigner(&deps.config.bucket, &s3).await;
        }
        let deps = Arc::new(deps);
        local_api::bootstrap(&deps)
            .await
            .expect("bucket and table are created");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            shared::api::BASE_PATH
        );
        let server = tokio::spawn(local_api::serve(deps.clone(), listener));
        Self {
            base,
            deps,
            http: reqwest::Client::new(),
            server,
        }
    }

    pub async fn post(&self, user: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(user, path, body.to_string()).await
    }

    pub async fn post_raw(
        &self,
        user: Option<&str>,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(user) = user {
            request = request.header("x-user-id", user);
        }
        read(request.send().await.expect("local API answers")).await
    }

    pub async fn get(&self, user: Option<&str>, path: &str) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(user) = user {
            request = request.header("x-user-id", user);
        }
        read(request.send().await.expect("local API answers")).await
    }

    /// Starts an upload of `size` bytes and returns the initialize response.
    pub async fn initialize(&self, user: &str, name: &str, size: usize) -> Value {
        let (status, body) = self
            .post(
                Some(user),
                "/initialize",
                &serde_json::json!({ "fileName": name, "fileType": "video/mp4", "fileSize": size }),
            )
            .await;
        assert_eq!(status, 201, "initialize: {body}");
        body
    }

    /// URLs for parts `start..=end`, by part number.
    pub async fn urls(
        &self,
        user: &str,
        upload_id: &str,
        start: u32,
        end: u32,
    ) -> HashMap<u32, String> {
        let (status, body) = self
            .post(
                Some(user),
                "/batch-presigned-urls",
                &serde_json::json!({ "uploadId": upload_id, "startPart": start, "endPart": end }),
            )
            .await;
        assert_eq!(status, 200, "batch-presigned-urls: {body}");
        body["urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["partNumber"].as_u64().unwrap() as u32,
                    u["presignedUrl"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// PUTs `bytes` to a presigned URL as a phone would; returns the status and the ETag header.
    /// Status 0: the server refused before reading the body and closed the connection (s3s-fs does
    /// that with large bodies it will not accept).
    pub async fn put(&self, url: &str, bytes: &[u8]) -> (u16, Option<String>) {
        self.put_with(url, bytes, None).await
    }

    /// [`Stack::put`] with an extra header.
    pub async fn put_with(
        &self,
        url: &str,
        bytes: &[u8],
        header: Option<(&str, &str)>,
    ) -> (u16, Option<String>) {
        let mut request = self
            .http
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec());
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) if err.is_request() => return (0, None),
            Err(err) => panic!("S3 server unreachable: {err}"),
        };
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), etag)
    }

    /// The stored object, read back from S3.
    pub async fn read_object(&self, key: &str) -> Vec<u8> {
        let object = self
            .deps
            .aws
            .s3
            .get_object()
            .bucket(&self.deps.config.bucket)
            .key(key)
            .send()
            .await
            .expect("object exists");
        object.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// The stored object's headers (content type, disposition, user metadata), read back from S3.
    pub async fn head_object(
        &self,
        key: &str,
    ) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.deps
            .aws
            .s3
            .head_object()
            .bucket(&self.deps.config.bucket)
            .key(key)
            .send()
            .await
            .expect("object exists")
    }

    /// The client's own (number, ETag) list after uploading `file` into `urls`.
    pub async fn upload_parts(
        &self,
        urls: &HashMap<u32, String>,
        file: &[u8],
        chunk: usize,
        numbers: &[u32],
    ) -> Vec<(u32, String)> {
        let mut etags = Vec::new();
        for &n in numbers {
            let start = (n as usize - 1) * chunk;
            let end = (start + chunk).min(file.len());
            let (status, etag) = self.put(&urls[&n], &file[start..end]).await;
            assert_eq!(status, 200, "PUT part {n}");
            etags.push((n, etag.expect("S3 returns an ETag")));
        }
        etags
    }
}

/// LocalStack verifies presigned URLs against its fixed secret key `test` (whatever the access key),
/// so part URLs for it are signed with that; its SDK calls are not checked.
async fn localstack_presigner(bucket: &str, endpoint: &str) -> shared::Presigner {
    let credentials =
        aws_sdk_s3::config::Credentials::new("test", "test", None, None, "localstack");
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    shared::Presigner::with_credentials(credentials, bucket, &region, Some(endpoint), true).await
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "every answer is JSON"
    );
    let body = response.json().await.expect("JSON body");
    (status, body)
}

/// Deterministic bytes that differ from part to part (a repeated pattern would hide misplaced parts).
pub fn file_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn parts_json(parts: &[(u32, String)]) -> Value {
    Value::Array(
        parts
            .iter()
            .map(|(n, e)| serde_json::json!({ "PartNumber": n, "ETag": e }))
            .collect(),
    )
}

/// A PUT that storage did not accept: a 4xx, or the connection closed before the body was read.
pub fn refused(status: u16) -> bool {
    status == 0 || (400..500).contains(&status)
}

pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Standard padded base64, as S3's checksum headers carry digests.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn sha256_base64(bytes: &[u8]) -> String {
    base64(&Sha256::digest(bytes))
}

#[test]
fn base64_matches_known_vectors() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(
        sha256_base64(b""),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
}
