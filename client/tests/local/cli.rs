//! The local API in-process on a free port with its own bucket and table (as local-api's tests do),
//! scratch files, and the built `upload` binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::{Clock, Config, Deps};

pub const MIB: usize = 1024 * 1024;
pub const USER: &str = "alice";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through scripts/stack.sh (make test), which starts the local S3 and DynamoDB")
    })
}

pub struct Stack {
    pub base: String,
    pub deps: Arc<Deps>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Stack {
    /// S3 and DynamoDB from moto.
    pub async fn start() -> Self {
        Self::start_on(None, false).await
    }

    /// S3 from s3s-fs, which checks SigV4 presigned URLs strictly (DynamoDB still from moto);
    /// `None` when scripts/stack.sh was run without `--strict`.
    pub async fn start_strict() -> Option<Self> {
        let s3 = std::env::var("TEST_S3S_URL").ok()?;
        Some(Self::start_on(Some(s3), false).await)
    }

    /// S3 from LocalStack, which also checks each part's bytes against its checksum header
    /// (DynamoDB still from moto); `None` when scripts/stack.sh was run without `--localstack`.
    pub async fn start_localstack() -> Option<Self> {
        let s3 = std::env::var("TEST_LOCALSTACK_URL").ok()?;
        Some(Self::start_on(Some(s3), true).await)
    }

    async fn start_on(s3: Option<String>, localstack: bool) -> Self {
        let moto = env("TEST_MOTO_URL");
        let s3 = s3.unwrap_or_else(|| moto.clone());
        let name = format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let vars: HashMap<String, String> = [
            ("UPLOADS_BUCKET", name.as_str()),
            ("UPLOADS_TABLE", name.as_str()),
            ("S3_ENDPOINT_URL", s3.as_str()),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("DYNAMODB_ENDPOINT_URL", moto.as_str()),
            ("PREFERRED_PART_SIZE", "5242880"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = Config::from_vars(&vars).expect("test configuration is valid");
        let mut deps = Deps::new(config, Clock::system()).await;
        if localstack {
            // LocalStack checks presigned URLs against its fixed secret key `test`.
            let credentials =
                aws_sdk_s3::config::Credentials::new("test", "test", None, None, "localstack");
            let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
            deps.presigner = shared::presign::Presigner::with_credentials(
                credentials,
                &deps.config.bucket,
                &region,
                Some(&s3),
                true,
            )
            .await;
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
        Self { base, deps, server }
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
        object
            .body
            .collect()
            .await
            .expect("object body")
            .into_bytes()
            .to_vec()
    }

    /// The `upload` binary against this stack as `alice`, with plain progress lines.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_upload"));
        command
            .args(args)
            .args(["--api", &self.base, "--user", USER, "--no-progress"])
            .env_remove("UPLOAD_TOKEN")
            .env_remove("UPLOAD_FAIL_PUTS")
            .env_remove("UPLOAD_EXPIRE_PUTS")
            .env_remove("UPLOAD_PART_DELAY_MS")
            .env("UPLOAD_RETRY_BASE_MS", "20")
            .stdin(Stdio::null());
        command
    }
}

/// Runs a command to its end off the async threads (the API answering it runs on them).
pub async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the CLI runs"))
        .await
        .expect("the CLI finishes")
}

pub fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("upload-client-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }

    /// Writes `bytes` to `name` in the directory.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn state_file(file: &Path) -> PathBuf {
    upload_client::state::state_path(file)
}

/// The state file as JSON (`done` holds the stored parts), read the way the CLI reads it.
pub fn read_state(file: &Path) -> Option<Value> {
    let state = upload_client::state::load(&state_file(file)).ok()??;
    let mut value = serde_json::to_value(&state).ok()?;
    value["done"] = serde_json::to_value(&state.done).ok()?;
    Some(value)
}

/// Waits until the state file records at least `parts` stored parts; panics after `limit`.
pub async fn wait_for_parts(file: &Path, parts: usize, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        if let Some(state) = read_state(file) {
            if state["done"].as_object().map_or(0, |d| d.len()) >= parts {
                return state;
            }
        }
        assert!(
            started.elapsed() < limit,
            "the state file did not reach {parts} parts in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
