//! The local API in-process on a free port, with a bucket and table of its own, on one of the S3
//! servers `scripts/stack.sh` started (DynamoDB always from moto), and phone-like HTTP calls to it
//! and to the presigned URLs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use shared::{Clock, Config, Deps};

use crate::config::{unique_name, vars};

/// The S3 servers the tests run against; `scripts/stack.sh` starts them and exports their URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Server {
    /// moto: S3 and DynamoDB; does not check signatures.
    Moto,
    /// s3s-fs: checks SigV4 presigned URLs strictly (`scripts/stack.sh --strict`).
    S3sFs,
    /// LocalStack's S3: checks presigned URLs and part checksums (BadDigest)
    /// (`scripts/stack.sh --localstack`).
    LocalStack,
}

impl S3Server {
    /// The variable `scripts/stack.sh` exports the server's URL in.
    pub fn url_var(self) -> &'static str {
        match self {
            S3Server::Moto => "TEST_MOTO_URL",
            S3Server::S3sFs => "TEST_S3S_URL",
            S3Server::LocalStack => "TEST_LOCALSTACK_URL",
        }
    }

    /// Whether `scripts/stack.sh` started this server for the run.
    pub fn is_running(self) -> bool {
        std::env::var(self.url_var()).is_ok()
    }

    fn url(self) -> String {
        env(self.url_var())
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the integration tests through scripts/stack.sh (make test), which starts the local S3 and DynamoDB servers")
    })
}

pub struct Stack {
    /// The API's base URL, `http://127.0.0.1:PORT/api/v1/multipart-upload`.
    pub base: String,
    pub deps: Arc<Deps>,
    pub http: reqwest::Client,
    /// The S3 server's endpoint, `http://127.0.0.1:PORT`.
    pub s3_url: String,
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

    /// [`Stack::start`], or `None` (said on stderr) when `scripts/stack.sh` was run without the
    /// flag that starts `server` (moto always runs: without it this panics as `start` does).
    pub async fn start_if_running(server: S3Server) -> Option<Self> {
        if server != S3Server::Moto && !server.is_running() {
            eprintln!(
                "{} unset (scripts/stack.sh without that server): skipped",
                server.url_var()
            );
            return None;
        }
        Some(Self::start(server).await)
    }

    /// A stack with its own bucket and table; `tweak` overrides configuration variables.
    pub async fn start_with(
        server: S3Server, tweak: impl FnOnce(&mut HashMap<String, String>),
    ) -> Self {
        crate::logs::init();
        let moto = S3Server::Moto.url();
        let s3 = server.url();
        let name = unique_name("t");
        let mut vars = vars(&[
            ("UPLOADS_BUCKET", &name),
            ("UPLOADS_TABLE", &name),
            ("S3_ENDPOINT_URL", &s3),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("DYNAMODB_ENDPOINT_URL", &moto),
            ("PREFERRED_PART_SIZE", "5242880"),
            ("COMPLETION_WAIT_SECONDS", "30"),
        ]);
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("bound address");
        let base = format!("http://{addr}{}", shared::api::BASE_PATH);
        let server = tokio::spawn(local_api::serve(deps.clone(), listener));
        Self {
            base,
            deps,
            http: reqwest::Client::new(),
            s3_url: s3,
            server,
        }
    }

    /// The API's origin, `http://127.0.0.1:PORT` (where the demo page is served).
    pub fn origin(&self) -> &str {
        self.base
            .strip_suffix(shared::api::BASE_PATH)
            .expect("base ends with the API path")
    }

    /// The browser's preflight for a part `PUT` to storage from the demo page's origin: `method`
    /// and the request headers it names.
    pub async fn storage_preflight(&self, method: &str, headers: &str) -> reqwest::Response {
        let url = format!(
            "{}/{}/uploads/alice/x/f.bin?partNumber=1&uploadId=y",
            self.s3_url,
            self.deps.objects.bucket()
        );
        self.http
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", self.origin())
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .expect("storage answers the preflight")
    }

    /// POSTs a JSON body as `user` (`None`: no identity header); the status and the JSON answer.
    pub async fn post(&self, user: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(user, path, body.to_string()).await
    }

    /// POSTs any body, also one that is not JSON or not valid.
    pub async fn post_raw(
        &self, user: Option<&str>, path: &str, body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        send(request, user).await.into()
    }

    pub async fn get(&self, user: Option<&str>, path: &str) -> (u16, Value) {
        send(self.http.get(format!("{}{path}", self.base)), user)
            .await
            .into()
    }

    /// A JSON POST of `body` (a GET without one) as `user`, with the whole reply.
    pub(crate) async fn exchange(&self, user: &str, path: &str, body: Option<&Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let request = match body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        send(request, Some(user)).await
    }

    /// PUTs `bytes` to a presigned URL as a phone would; returns the status and the ETag header.
    /// Status 0: the server refused before reading the body and closed the connection (s3s-fs does
    /// that with large bodies it will not accept).
    pub async fn put(&self, url: &str, bytes: &[u8]) -> (u16, Option<String>) {
        self.put_with(url, bytes, None).await
    }

    /// [`Stack::put`] with an extra header.
    pub async fn put_with(
        &self, url: &str, bytes: &[u8], header: Option<(&str, &str)>,
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
        (response.status().as_u16(), etag(&response))
    }

    /// A PUT with `headers` that also reads S3's error `<Code>`: the status, the ETag, the code ("" on
    /// success). LocalStack may answer a refused PUT from its headers alone and close the connection
    /// while the body is still being written; reqwest then reports only a broken pipe. A refused PUT
    /// stores nothing, so it is sent again until an answer is read.
    pub async fn put_for_code(
        &self, url: &str, bytes: &[u8], headers: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let mut attempts = 0;
        let response = loop {
            attempts += 1;
            let mut request = self
                .http
                .put(url)
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            match request.send().await {
                Ok(response) => break response,
                Err(err) if err.is_request() && attempts < 8 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(err) => panic!("storage answers: {}", err.without_url()),
            }
        };
        let status = response.status().as_u16();
        let etag = etag(&response);
        let body = response.text().await.unwrap_or_default();
        let code = body
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_owned())
            .unwrap_or_default();
        (status, etag, code)
    }

    /// The client's own (number, ETag) list after uploading `file` into `urls`.
    pub async fn upload_parts(
        &self, urls: &HashMap<u32, String>, file: &[u8], chunk: usize, numbers: &[u32],
    ) -> Vec<(u32, String)> {
        let mut etags = Vec::new();
        for &n in numbers {
            let start = (n as usize - 1) * chunk;
            let end = (start + chunk).min(file.len());
            // A pooled connection that storage closed after refusing an earlier PUT fails with no
            // answer at all (status 0); a phone sends the part again, and so does this.
            let mut attempts = 0;
            let (status, etag) = loop {
                attempts += 1;
                let answer = self.put(&urls[&n], &file[start..end]).await;
                if answer.0 != 0 || attempts == 3 {
                    break answer;
                }
            };
            assert_eq!(status, 200, "PUT part {n}");
            etags.push((n, etag.expect("S3 returns an ETag")));
        }
        etags
    }
}

fn etag(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Sends an API request as `user` (`None`: no identity header); the status and the JSON answer.
async fn send(request: reqwest::RequestBuilder, user: Option<&str>) -> Reply {
    let request = match user {
        Some(user) => request.header("x-user-id", user),
        None => request,
    };
    read(request.send().await.expect("local API answers")).await
}

/// LocalStack verifies presigned URLs against its fixed secret key `test` (whatever the access key),
/// so part URLs for it are signed with that; its SDK calls are not checked.
async fn localstack_presigner(bucket: &str, endpoint: &str) -> shared::Presigner {
    let credentials =
        aws_sdk_s3::config::Credentials::new("test", "test", None, None, "localstack");
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    shared::Presigner::with_credentials(credentials, bucket, &region, Some(endpoint), true).await
}

/// An API answer: its status, its JSON body, and `Retry-After` (seconds) when it carries one.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
}

impl From<Reply> for (u16, Value) {
    fn from(reply: Reply) -> Self {
        (reply.status, reply.body)
    }
}

/// The reply to an API request; every answer is JSON.
async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("(not text)")),
        Some("application/json"),
        "every answer is JSON"
    );
    let body = response.json().await.expect("JSON body");
    Reply {
        status,
        body,
        retry_after,
    }
}
