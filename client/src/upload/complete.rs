//! The end of an upload: `complete` with the client's ETags and the whole file's CRC64NVME, a repair
//! of the parts storage holds wrongly when it refuses that value, and the [`Finished`] upload.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use upload_contract::{CompletedPart, ObjectKey, UploadId};

use crate::digest::{self, Verify};
use crate::error::Error;
use crate::state;

use super::check::check_stored;
use super::engine::Run;
use super::stats::Stats;

/// A finished upload: the stored object, `complete`'s answer and what the run counted.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finished {
    pub upload_id: UploadId,
    pub key: ObjectKey,
    /// `complete`'s answer (or `status`'s, when the upload had completed already).
    pub completion: Value,
    /// Whether `complete` was sent the client's own ETags (else the server read them from storage).
    pub sent_etags: bool,
    pub stats: Stats,
}

/// How many times complete repairs differing parts after storage refused the whole file's value.
const REPAIRS: u32 = 2;

impl Run {
    /// `complete`, with the client's ETags when it has every part's (and, for CRC64NVME, the whole
    /// file's value for storage to check), then removes the state file. When storage finds that
    /// the file's value does not match what it holds, the differing parts are found, sent again
    /// and completed again, at most [`REPAIRS`] times.
    pub async fn finish(self: &Arc<Self>, already_stored: u64) -> Result<Finished, Error> {
        let mut repairs = 0;
        loop {
            match self.complete_once(already_stored).await {
                Err(Error::Api { code, message, .. }) if code == "CHECKSUM_MISMATCH" => {
                    self.counters
                        .checksum_mismatches
                        .fetch_add(1, Ordering::Relaxed);
                    repairs += 1;
                    if repairs > REPAIRS {
                        return Err(Error::State(format!(
                            "storage still refuses the file after {REPAIRS} repairs ({message}): is the file being written to? The upload stays resumable"
                        )));
                    }
                    self.progress.retrying(
                        0,
                        &format!("{code}: {message}"),
                        repairs + 1,
                        Duration::ZERO,
                    );
                    self.repair().await?;
                }
                other => return other,
            }
        }
    }

    /// After storage refused the whole file's checksum: compares every stored part with the local
    /// bytes (read again), and sends again those that differ.
    async fn repair(self: &Arc<Self>) -> Result<(), Error> {
        let id = self.plan.upload_id;
        let listed = self.retry_api(|| self.api.parts(&id)).await?;
        self.sums.forget();
        let checked = check_stored(&self.file, &self.plan, &listed).await?;
        self.checked(&checked);
        let todo = checked.missing(&self.plan);
        if let Ok(mut saved) = self.saved.lock() {
            saved.done = checked.held;
        }
        if todo.is_empty() {
            return Ok(()); // the file's value is computed afresh from the bytes just read
        }
        self.clone()
            .send_parts(todo)
            .await
            .inspect_err(|_| self.save())
    }

    async fn complete_once(&self, already_stored: u64) -> Result<Finished, Error> {
        self.progress.completing();
        let whole_file = match self.plan.verify {
            Verify::Crc64Nvme => Some(self.sums.whole_file().await?),
            _ => None,
        };
        let parts: Option<Vec<CompletedPart>> = {
            let saved = self
                .saved
                .lock()
                .map_err(|_| Error::State("the upload state lock was poisoned".into()))?;
            state::save(&self.state_path, &saved)?;
            (1..=self.plan.total_parts)
                .map(|n| {
                    saved
                        .done
                        .get(&n)
                        .cloned()
                        .flatten()
                        .map(|etag| CompletedPart {
                            part_number: n,
                            etag,
                            checksum_sha256: None,
                            checksum_crc32c: None,
                            checksum_crc64nvme: whole_file
                                .and(self.sums.known(n))
                                .map(digest::crc64nvme_base64),
                        })
                })
                .collect()
        };
        let id = &self.plan.upload_id;
        let whole_file = whole_file.map(digest::crc64nvme_base64);
        let completion = self
            .retry_api(|| {
                self.api
                    .complete(id, parts.as_deref(), whole_file.as_deref())
            })
            .await?;
        state::remove(&self.state_path)?;
        Ok(Finished {
            upload_id: self.plan.upload_id,
            key: self.plan.key.clone(),
            completion: serde_json::to_value(&completion).unwrap_or_default(),
            sent_etags: parts.is_some(),
            stats: self.counters.stats(already_stored),
        })
    }
}
