//! The workers: one upload in progress ([`Run`]), its part URLs fetched in batches ahead of the
//! workers, each part read from disk and `PUT` until storage takes it (retried alone, with a fresh
//! URL after a `403`), and a journal line after every stored part.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::api::{Api, PartUrl};
use crate::digest::Verify;
use crate::error::Error;
use crate::state::{self, UploadState};

use super::check::Checked;
use super::file::read_part;
use super::local_sums::LocalSums;
use super::options::Options;
use super::plan::Plan;
use super::progress::Progress;
use super::put::{put_part, FailureKind, PutFailure};
use super::retry::{backoff, retry_api};
use super::stats::Counters;

/// One upload in progress, shared by its tasks.
pub(super) struct Run {
    pub api: Api,
    pub options: Arc<Options>,
    pub file: PathBuf,
    pub state_path: PathBuf,
    pub plan: Plan,
    pub saved: Mutex<UploadState>,
    /// The local parts' checksums: for their URLs, and combined into the whole file's.
    pub sums: LocalSums,
    /// The state file, open for appending once the first part is stored.
    pub journal: Arc<Mutex<Option<state::Journal>>>,
    pub progress: Arc<dyn Progress>,
    pub counters: Counters,
}

impl Run {
    /// Sends parts `todo` with `concurrency` workers; returns at the first part that gave up.
    pub async fn send_parts(self: Arc<Self>, todo: Vec<u32>) -> Result<(), Error> {
        let workers = self.options.concurrency.max(1);
        let (tx, rx) = mpsc::channel::<PartUrl>(workers);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut tasks = JoinSet::new();
        let run = self.clone();
        tasks.spawn(async move { run.fetch_urls(todo, tx).await });
        for _ in 0..workers {
            let run = self.clone();
            let rx = rx.clone();
            tasks.spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    match next {
                        Some(url) => run.send_part(url).await?,
                        None => return Ok(()),
                    }
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined
                .map_err(|e| Error::State(format!("an upload task stopped unexpectedly: {e}")))
                .and_then(|r| r);
            if let Err(err) = outcome {
                // Dropping the set aborts the other parts; the state file has what is stored.
                tasks.abort_all();
                return Err(err);
            }
        }
        Ok(())
    }
    /// Fetches URLs in batches, in part order, and hands them to the workers. The channel holds
    /// only `concurrency` URLs, so the next batch is asked for while the last of this one are sent.
    async fn fetch_urls(&self, todo: Vec<u32>, tx: mpsc::Sender<PartUrl>) -> Result<(), Error> {
        let per_batch = match self.options.urls_per_batch {
            0 => (self.options.concurrency as u32)
                .saturating_mul(4)
                .clamp(8, 1000),
            n => n.min(1000),
        };
        let mut i = 0;
        while i < todo.len() {
            let start = todo[i];
            let mut j = i;
            while j + 1 < todo.len() && todo[j + 1] - start < per_batch {
                j += 1;
            }
            let end = todo[j];
            let wanted: HashSet<u32> = todo[i..=j].iter().copied().collect();
            let checksums = match self.plan.verify {
                Verify::Unverified => None,
                _ => {
                    let mut sums = BTreeMap::new();
                    for &part in &todo[i..=j] {
                        sums.insert(part.to_string(), self.sums.for_url(part).await?);
                    }
                    Some(sums)
                }
            };
            let urls = self
                .retry_api(|| {
                    self.api
                        .batch_urls(&self.plan.upload_id, start, end, checksums.as_ref())
                })
                .await?;
            self.counters.url_batches.fetch_add(1, Ordering::Relaxed);
            let mut urls: Vec<PartUrl> = urls
                .into_iter()
                .filter(|u| wanted.contains(&u.part_number))
                .collect();
            urls.sort_by_key(|u| u.part_number);
            if urls.len() != wanted.len() {
                return Err(Error::Protocol {
                    what: "POST /batch-presigned-urls".into(),
                    detail: format!(
                        "asked for parts {start}..={end}, got {} of the {} needed",
                        urls.len(),
                        wanted.len()
                    ),
                });
            }
            for url in urls {
                if tx.send(url).await.is_err() {
                    return Ok(()); // the workers stopped; their error is reported
                }
            }
            i = j + 1;
        }
        Ok(())
    }

    /// Runs an API call of this upload, trying again while it fails transiently (each try counted).
    pub async fn retry_api<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        retry_api(
            &self.options,
            self.progress.as_ref(),
            Some(&self.counters),
            call,
        )
        .await
    }

    /// Reads one part from disk and `PUT`s it until storage takes it or the tries run out.
    async fn send_part(&self, url: PartUrl) -> Result<(), Error> {
        let part = url.part_number;
        let (offset, len) = self.plan.range(part);
        let data = read_part(&self.file, offset, len).await?;
        if !self.options.part_delay.is_zero() {
            tokio::time::sleep(self.options.part_delay).await;
        }
        let mut url = url;
        let mut tries = 0;
        loop {
            tries += 1;
            if expires_soon(&url) {
                url = self.refresh(part).await?;
            }
            let failure = match self.put(&url, &data).await {
                Ok(etag) => return self.stored(part, etag, len).await,
                Err(failure) => failure,
            };
            if failure.kind == FailureKind::Fatal || tries > self.options.max_retries {
                return Err(Error::PartFailed {
                    part,
                    tries,
                    last: failure.message,
                });
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            if failure.kind == FailureKind::Refused {
                self.progress
                    .retrying(part, &failure.message, tries + 1, Duration::ZERO);
                url = self.refresh(part).await?;
            } else {
                let wait = backoff(&self.options, tries);
                self.progress
                    .retrying(part, &failure.message, tries + 1, wait);
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Takes over what a check of the stored parts learnt: the local CRCs and the differing count.
    pub fn checked(&self, checked: &Checked) {
        self.sums.learn(&checked.crcs);
        self.counters
            .parts_differing
            .fetch_add(checked.differing, Ordering::Relaxed);
    }

    async fn refresh(&self, part: u32) -> Result<PartUrl, Error> {
        let checksum = match self.plan.verify {
            Verify::Unverified => None,
            _ => Some(self.sums.for_url(part).await?),
        };
        let url = self
            .retry_api(|| {
                self.api
                    .part_url(&self.plan.upload_id, part, checksum.as_deref())
            })
            .await?;
        self.counters.url_refreshes.fetch_add(1, Ordering::Relaxed);
        Ok(url)
    }

    /// One `PUT` of a part, counted (here and in the state file); the ETag storage answered.
    async fn put(&self, url: &PartUrl, data: &Bytes) -> Result<Option<String>, PutFailure> {
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut saved) = self.saved.lock() {
            saved.puts += 1;
        }
        if let Some(failure) = self.injected(url.part_number) {
            return Err(failure);
        }
        put_part(
            self.api.http(),
            url,
            data,
            self.options.put_timeout,
            &self.progress,
        )
        .await
    }

    /// A failure staged for this `PUT` by the tests (the `fault-injection` feature).
    #[cfg(feature = "fault-injection")]
    fn injected(&self, part: u32) -> Option<PutFailure> {
        self.options.faults.inject(part)
    }

    #[cfg(not(feature = "fault-injection"))]
    fn injected(&self, _part: u32) -> Option<PutFailure> {
        None
    }

    /// Records the `PUT` count in the state file after a failure; best effort, the error comes first.
    pub fn save(&self) {
        let puts = match self.saved.lock() {
            Ok(saved) => saved.puts,
            Err(_) => return,
        };
        if let Ok(mut journal) = self.journal.lock() {
            if let Some(journal) = journal.as_mut() {
                let _ = journal.puts(puts);
            }
        }
    }

    /// Records a stored part: one line appended to the journal and synced, on a blocking thread.
    async fn stored(&self, part: u32, etag: Option<String>, len: u64) -> Result<(), Error> {
        self.counters.parts_uploaded.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_uploaded
            .fetch_add(len, Ordering::Relaxed);
        let puts = {
            let mut saved = self
                .saved
                .lock()
                .map_err(|_| Error::State("the upload state lock was poisoned".into()))?;
            saved.done.insert(part, etag.clone());
            saved.puts
        };
        let (journal, path) = (self.journal.clone(), self.state_path.clone());
        tokio::task::spawn_blocking(move || {
            let mut journal = journal
                .lock()
                .map_err(|_| Error::State("the journal lock was poisoned".into()))?;
            let journal = match journal.as_mut() {
                Some(open) => open,
                None => journal.insert(state::Journal::open(&path)?),
            };
            journal.stored(part, etag, puts)
        })
        .await
        .map_err(|e| Error::State(format!("writing the state file stopped unexpectedly: {e}")))??;
        self.progress.part_stored(part, len);
        Ok(())
    }
}

fn expires_soon(url: &PartUrl) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    url.expires_at.is_some_and(|at| at - now < 30)
}
