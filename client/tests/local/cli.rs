//! The built `upload` binary against a [`Stack`], its output, and the state file it keeps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::Stack;

pub const USER: &str = "alice";

/// The `upload` binary against a stack.
pub trait Cli {
    /// The `upload` binary against this stack as `alice`, with plain progress lines.
    fn cli(&self, args: &[&str]) -> Command;
}

impl Cli for Stack {
    fn cli(&self, args: &[&str]) -> Command {
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
