//! The upload engine: parts in parallel from a file on disk, URLs fetched in batches ahead of the
//! workers, one part retried alone with backoff, a state file after every stored part, completion.
//!
//! [`Uploader`] starts or resumes an upload and hands it to the workers (`engine`), which read the
//! file (`file`), `PUT` each part (`put`, through a counting `body`) and try again (`retry`);
//! `complete` ends it. `local_sums` keeps the local parts' checksums; `check` compares what
//! storage holds with the local bytes.

mod body;
mod check;
mod complete;
mod engine;
#[cfg(feature = "fault-injection")]
mod faults;
mod file;
mod local_sums;
mod options;
mod plan;
mod progress;
mod put;
mod retry;
mod stats;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use upload_contract::{ListedPart, UploadId, UploadStatus};

use crate::api::Api;
use crate::digest::Verify;
use crate::error::Error;
use crate::state::{self, UploadState};

use check::check_stored;
use engine::Run;
use file::{file_fingerprint, file_size};
use local_sums::LocalSums;
use retry::retry_api;
use stats::Counters;

pub use complete::Finished;
#[cfg(feature = "fault-injection")]
pub use faults::Faults;
pub use file::guess_content_type;
pub use options::Options;
pub use plan::Plan;
pub use progress::{Progress, Silent};
pub use retry::backoff;
pub use stats::Stats;

/// Uploads files through one [`Api`].
pub struct Uploader {
    api: Api,
    options: Arc<Options>,
}

impl Uploader {
    pub fn new(api: Api, options: Options) -> Self {
        Self {
            api,
            options: Arc::new(options),
        }
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Starts a new upload of `file` and runs it to completion. Refuses when `FILE.upload.json` says
    /// an earlier upload of it is unfinished (resume that one, or delete the state file).
    pub async fn upload(
        &self, file: &Path, progress: Arc<dyn Progress>,
    ) -> Result<Finished, Error> {
        let size = file_size(file)?;
        let state_path = state::state_path(file);
        if let Some(earlier) = state::load(&state_path)? {
            return Err(Error::State(format!(
                "{} records unfinished upload {id} of this file: continue it with `upload resume {id} {}`, or delete the state file to start over",
                state_path.display(),
                file.display(),
                id = earlier.upload_id,
            )));
        }
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload.bin".into());
        let content_type = match &self.options.content_type {
            Some(t) => t.clone(),
            None => guess_content_type(&name).to_owned(),
        };
        let verify = self.options.verify;
        let algorithm = verify.algorithm();
        // With the file's fingerprint a repeated initialize answers the same upload, so a lost
        // answer is retried safely, and a run whose state file was lost picks its upload up again.
        let fingerprint = file_fingerprint(file, size, verify).await?;
        let init = self
            .retry_api(&progress, || {
                self.api.initialize(
                    &name,
                    &content_type,
                    size,
                    algorithm.clone(),
                    Some(&fingerprint),
                    &self.options.metadata,
                )
            })
            .await?;
        let plan = Plan {
            upload_id: init.upload_id,
            key: init.key,
            chunk_size: init.chunk_size,
            total_parts: init.total_parts,
            file_size: size,
            verify: Verify::of(init.checksum_algorithm.as_ref()).map_err(Error::State)?,
        };
        plan.check()?;
        // A resumed upload (same fingerprint) may hold parts of another file with the same size
        // and edges: keep only the parts whose stored bytes are the local ones.
        let listed = init.parts.unwrap_or_default();
        let saved = plan.new_state(self.api.base());
        self.send_missing(file, state_path, plan, saved, &listed, progress)
            .await
    }

    /// Continues upload `upload_id` of `file`: asks storage which parts it holds, sends the rest,
    /// completes. Works with or without the state file.
    pub async fn resume(
        &self, upload_id: &UploadId, file: &Path, progress: Arc<dyn Progress>,
    ) -> Result<Finished, Error> {
        let size = file_size(file)?;
        let state_path = state::state_path(file);
        let saved = state::load(&state_path)?;
        if let Some(saved) = &saved {
            if saved.upload_id != *upload_id {
                return Err(Error::State(format!(
                    "{} belongs to upload {}, not {upload_id}: resume that one, or delete the state file",
                    state_path.display(),
                    saved.upload_id
                )));
            }
        }
        let status = self
            .retry_api(&progress, || self.api.status(upload_id))
            .await?;
        if status.file_size != size {
            return Err(Error::State(format!(
                "{} has {size} bytes but upload {upload_id} was started for {} bytes: not the same file",
                file.display(),
                status.file_size
            )));
        }
        let plan = Plan {
            upload_id: status.upload_id,
            key: status.key.clone(),
            chunk_size: status.chunk_size,
            total_parts: status.total_parts,
            file_size: status.file_size,
            verify: Verify::of(status.checksum_algorithm.as_ref())
                .map_err(|e| Error::State(format!("upload {upload_id}: {e}")))?,
        };
        plan.check()?;
        let saved = saved.unwrap_or_else(|| plan.new_state(self.api.base()));
        match &status.status {
            UploadStatus::Completed => {
                state::remove(&state_path)?;
                return Ok(Finished {
                    upload_id: plan.upload_id,
                    key: plan.key,
                    completion: serde_json::to_value(&status).unwrap_or_default(),
                    sent_etags: false,
                    stats: Default::default(),
                });
            }
            UploadStatus::Completing => {
                // Someone's complete is running: join it.
                let run = self.run_for(file, state_path, plan, saved, progress);
                return run.finish(0).await;
            }
            UploadStatus::Initiated => {}
            other => {
                return Err(Error::NotResumable {
                    upload_id: upload_id.to_string(),
                    status: other.to_string(),
                })
            }
        }
        // Storage is the truth: a part the killed run sent but never recorded counts, a recorded
        // one storage lost (or holds with the wrong size) is sent again, and so is one whose
        // stored bytes are not the local ones (the file was edited since).
        let listed = self
            .retry_api(&progress, || self.api.parts(upload_id))
            .await?;
        self.send_missing(file, state_path, plan, saved, &listed, progress)
            .await
    }

    /// Keeps the `listed` parts storage holds that are the local bytes, records them, sends the
    /// others and completes.
    async fn send_missing(
        &self, file: &Path, state_path: PathBuf, plan: Plan, mut saved: UploadState,
        listed: &[ListedPart], progress: Arc<dyn Progress>,
    ) -> Result<Finished, Error> {
        let checked = check_stored(file, &plan, listed).await?;
        saved.done = checked.held.clone();
        state::save(&state_path, &saved)?;
        let todo = checked.missing(&plan);
        let already = u64::from(plan.total_parts) - todo.len() as u64;
        let run = self.run_for(file, state_path, plan, saved, progress);
        run.checked(&checked);
        run.progress
            .started(&run.plan, checked.held_bytes, todo.len() as u32);
        if !todo.is_empty() {
            run.clone()
                .send_parts(todo)
                .await
                .inspect_err(|_| run.save())?;
        }
        run.finish(already).await
    }

    fn run_for(
        &self, file: &Path, state_path: PathBuf, plan: Plan, saved: UploadState,
        progress: Arc<dyn Progress>,
    ) -> Arc<Run> {
        Arc::new(Run {
            sums: LocalSums::new(file, &plan),
            api: self.api.clone(),
            options: self.options.clone(),
            file: file.to_owned(),
            state_path,
            plan,
            saved: Mutex::new(saved),
            journal: Arc::new(Mutex::new(None)),
            progress,
            counters: Counters::default(),
        })
    }

    async fn retry_api<T, F, Fut>(&self, progress: &Arc<dyn Progress>, call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        retry_api(&self.options, progress.as_ref(), None, call).await
    }
}
