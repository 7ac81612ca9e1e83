//! The upload engine: parts in parallel from a file on disk, URLs fetched in batches ahead of the
//! workers, one part retried alone with backoff, a state file after every stored part, completion.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::api::{excerpt, Api, PartUrl};
use crate::digest::{self, PartDigests, Verify, Wanted};
use crate::error::{error_chain, Error};
use crate::state::{self, UploadState};
use upload_contract::{CompletedPart, ListedPart, ObjectKey, UploadId, UploadStatus};

use body::CountingBody;

mod body;

/// How an upload runs.
#[derive(Debug)]
pub struct Options {
    /// Parts in flight at once; memory is about `concurrency × chunkSize`.
    pub concurrency: usize,
    /// Further tries of one failed part (or API call) before giving up.
    pub max_retries: u32,
    /// First backoff pause; doubled per try, capped at `retry_cap`, half of it random.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// URLs per `batch-presigned-urls` request; 0 chooses `4 × concurrency` (at least 8).
    pub urls_per_batch: u32,
    /// Media type sent to `initialize`; `None` guesses from the file name.
    pub content_type: Option<String>,
    /// One part `PUT` may take this long before it counts as failed.
    pub put_timeout: Duration,
    /// Test aid: a pause before each part's first `PUT`, to make runs slow enough to interrupt.
    pub part_delay: Duration,
    /// Test aid: failures to inject (see [`Faults`]).
    pub faults: Faults,
    /// How new uploads are verified by storage (resumes follow what the upload was started with):
    /// CRC64NVME of every part and of the whole file by default.
    pub verify: Verify,
    /// User metadata for new uploads (`--meta k=v`), set on the stored object as `x-amz-meta-k`.
    pub metadata: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_retries: 5,
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(30),
            urls_per_batch: 0,
            content_type: None,
            put_timeout: Duration::from_secs(600),
            part_delay: Duration::ZERO,
            faults: Faults::default(),
            verify: Verify::default(),
            metadata: BTreeMap::new(),
        }
    }
}

/// Test-only fault injection: `UPLOAD_FAIL_PUTS=2,5` makes the first `PUT` of parts 2 and 5 fail
/// as a dropped connection would; `2:3` makes part 2's first three fail. `UPLOAD_EXPIRE_PUTS` (same
/// syntax) answers `403` as an expired URL would, so the client must fetch a fresh one.
#[derive(Debug, Default)]
pub struct Faults {
    fail: Mutex<HashMap<u32, u32>>,
    expire: Mutex<HashMap<u32, u32>>,
}

impl Faults {
    pub fn parse(fail: &str, expire: &str) -> Result<Self, Error> {
        Ok(Self {
            fail: Mutex::new(parse_faults("UPLOAD_FAIL_PUTS", fail)?),
            expire: Mutex::new(parse_faults("UPLOAD_EXPIRE_PUTS", expire)?),
        })
    }

    /// From `UPLOAD_FAIL_PUTS` and `UPLOAD_EXPIRE_PUTS`; none when unset.
    pub fn from_env() -> Result<Self, Error> {
        let var = |name| std::env::var(name).unwrap_or_default();
        Self::parse(&var("UPLOAD_FAIL_PUTS"), &var("UPLOAD_EXPIRE_PUTS"))
    }

    pub fn is_empty(&self) -> bool {
        let empty = |m: &Mutex<HashMap<u32, u32>>| m.lock().map(|m| m.is_empty()).unwrap_or(true);
        empty(&self.fail) && empty(&self.expire)
    }

    fn take(map: &Mutex<HashMap<u32, u32>>, part: u32) -> bool {
        let Ok(mut map) = map.lock() else {
            return false;
        };
        match map.get_mut(&part) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }
}

fn parse_faults(name: &str, text: &str) -> Result<HashMap<u32, u32>, Error> {
    let mut faults = HashMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (part, times) = item.split_once(':').unwrap_or((item, "1"));
        match (part.trim().parse::<u32>(), times.trim().parse::<u32>()) {
            (Ok(part), Ok(times)) if part >= 1 => {
                faults.insert(part, times);
            }
            _ => {
                return Err(Error::Usage(format!(
                    "{name}: expected part numbers like 2,5 or 2:3, got {item:?}"
                )))
            }
        }
    }
    Ok(faults)
}

/// The server's plan for the file.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub upload_id: UploadId,
    pub key: ObjectKey,
    pub chunk_size: u64,
    pub total_parts: u32,
    pub file_size: u64,
    /// What parts carry, signed into their URLs (and, for CRC64NVME, what complete checks).
    pub verify: Verify,
}

impl Plan {
    /// Offset and length of part `part` (1-based) in the file.
    pub fn range(&self, part: u32) -> (u64, u64) {
        let offset = u64::from(part.saturating_sub(1)) * self.chunk_size;
        let len = self.chunk_size.min(self.file_size.saturating_sub(offset));
        (offset, len)
    }

    fn check(&self) -> Result<(), Error> {
        let parts = u64::from(self.total_parts);
        let fits = self.chunk_size > 0
            && parts > 0
            && (parts - 1) * self.chunk_size < self.file_size
            && parts * self.chunk_size >= self.file_size;
        if fits {
            Ok(())
        } else {
            Err(Error::Protocol {
                what: "the upload plan".into(),
                detail: format!(
                    "{} parts of {} bytes do not cover {} bytes",
                    self.total_parts, self.chunk_size, self.file_size
                ),
            })
        }
    }
}

/// What the caller sees of a running upload. Every method has a do-nothing default.
pub trait Progress: Send + Sync {
    /// Parts are about to go out; `stored_bytes` of the file are in storage already.
    fn started(&self, _plan: &Plan, _stored_bytes: u64, _parts_to_send: u32) {}
    /// Bytes of a part went out on the wire.
    fn sent(&self, _bytes: u64) {}
    /// A failed attempt's bytes, to take back off.
    fn unsent(&self, _bytes: u64) {}
    /// Storage accepted a part.
    fn part_stored(&self, _part: u32, _bytes: u64) {}
    /// A part (or, with `part` 0, an API call) failed and will be tried again after `wait`.
    fn retrying(&self, _part: u32, _failure: &str, _next_try: u32, _wait: Duration) {}
    /// Every part is stored; `complete` is running.
    fn completing(&self) {}
}

/// No progress reporting.
pub struct Silent;

impl Progress for Silent {}

/// Counts of one run.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Parts storage held that differ from the local bytes (or could not be checked): sent again.
    pub parts_differing: u64,
    /// Completes storage refused because the whole file's checksum did not match what it held.
    pub checksum_mismatches: u64,
    /// Part `PUT` requests made (first tries and retries).
    pub puts: u64,
    /// Tries after a failure (parts and API calls).
    pub retries: u64,
    /// Part URLs fetched again after storage answered `403`.
    pub url_refreshes: u64,
    /// `batch-presigned-urls` requests.
    pub url_batches: u64,
    /// Parts this run stored.
    pub parts_uploaded: u64,
    /// Parts storage held before this run started.
    pub parts_already_stored: u64,
    pub bytes_uploaded: u64,
}

#[derive(Default)]
struct Counters {
    parts_differing: AtomicU64,
    checksum_mismatches: AtomicU64,
    puts: AtomicU64,
    retries: AtomicU64,
    url_refreshes: AtomicU64,
    url_batches: AtomicU64,
    parts_uploaded: AtomicU64,
    bytes_uploaded: AtomicU64,
}

/// A finished upload.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub upload_id: UploadId,
    pub key: ObjectKey,
    /// `complete`'s answer (or `status`'s, when the upload had completed already).
    pub completion: Value,
    /// Whether `complete` was sent the client's own ETags (else the server read them from storage).
    pub sent_etags: bool,
    pub stats: Stats,
}

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
    pub async fn upload(&self, file: &Path, progress: Arc<dyn Progress>) -> Result<Outcome, Error> {
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
        let checked = check_stored(file, &plan, &listed).await?;
        let saved = UploadState {
            upload_id: plan.upload_id,
            key: plan.key.clone(),
            chunk_size: plan.chunk_size,
            total_parts: plan.total_parts,
            file_size: plan.file_size,
            api: self.api.base().to_owned(),
            done: checked.held.clone(),
            puts: 0,
        };
        state::save(&state_path, &saved)?;
        let todo: Vec<u32> = (1..=plan.total_parts)
            .filter(|n| !saved.done.contains_key(n))
            .collect();
        let already = u64::from(plan.total_parts) - todo.len() as u64;
        let run = self.run_for(file, state_path, plan, saved, progress);
        run.checked(&checked);
        run.progress
            .started(&run.plan, checked.held_bytes, todo.len() as u32);
        run.clone()
            .send_parts(todo)
            .await
            .inspect_err(|_| run.save())?;
        run.finish(already).await
    }

    /// Continues upload `upload_id` of `file`: asks storage which parts it holds, sends the rest,
    /// completes. Works with or without the state file.
    pub async fn resume(
        &self,
        upload_id: &UploadId,
        file: &Path,
        progress: Arc<dyn Progress>,
    ) -> Result<Outcome, Error> {
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
        let mut saved = saved.unwrap_or_else(|| UploadState {
            upload_id: plan.upload_id,
            key: plan.key.clone(),
            chunk_size: plan.chunk_size,
            total_parts: plan.total_parts,
            file_size: plan.file_size,
            api: self.api.base().to_owned(),
            done: BTreeMap::new(),
            puts: 0,
        });
        match &status.status {
            UploadStatus::Completed => {
                state::remove(&state_path)?;
                return Ok(Outcome {
                    upload_id: plan.upload_id,
                    key: plan.key,
                    completion: serde_json::to_value(&status).unwrap_or_default(),
                    sent_etags: false,
                    stats: Stats::default(),
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
        let checked = check_stored(file, &plan, &listed).await?;
        saved.done = checked.held.clone();
        state::save(&state_path, &saved)?;
        let todo: Vec<u32> = (1..=plan.total_parts)
            .filter(|n| !saved.done.contains_key(n))
            .collect();
        let already = (plan.total_parts as usize - todo.len()) as u64;
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
        &self,
        file: &Path,
        state_path: PathBuf,
        plan: Plan,
        saved: UploadState,
        progress: Arc<dyn Progress>,
    ) -> Arc<Run> {
        Arc::new(Run {
            api: self.api.clone(),
            options: self.options.clone(),
            file: file.to_owned(),
            state_path,
            plan,
            saved: Mutex::new(saved),
            crcs: Mutex::new(BTreeMap::new()),
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

/// One upload in progress, shared by its tasks.
struct Run {
    api: Api,
    options: Arc<Options>,
    file: PathBuf,
    state_path: PathBuf,
    plan: Plan,
    saved: Mutex<UploadState>,
    /// Each part's CRC64NVME of the local bytes, computed once: before its URL is asked for, or
    /// when its stored copy was checked. Complete combines them into the whole file's.
    crcs: Mutex<BTreeMap<u32, u64>>,
    /// The state file, open for appending once the first part is stored.
    journal: Arc<Mutex<Option<state::Journal>>>,
    progress: Arc<dyn Progress>,
    counters: Counters,
}

/// Why one `PUT` did not store its part.
struct PutFailure {
    message: String,
    kind: FailureKind,
}

#[derive(PartialEq, Eq)]
enum FailureKind {
    /// Worth a pause and another try.
    Transient,
    /// `403`: the URL expired (or was refused); ask for a new one.
    Refused,
    /// Trying again cannot help (e.g. `400 BadDigest`, `404 NoSuchUpload`).
    Fatal,
}

impl Run {
    /// Sends parts `todo` with `concurrency` workers; returns at the first part that gave up.
    async fn send_parts(self: Arc<Self>, todo: Vec<u32>) -> Result<(), Error> {
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
                        sums.insert(part.to_string(), self.part_checksum(part).await?);
                    }
                    Some(sums)
                }
            };
            let urls = retry_api(
                &self.options,
                self.progress.as_ref(),
                Some(&self.counters),
                || {
                    self.api
                        .batch_urls(&self.plan.upload_id, start, end, checksums.as_ref())
                },
            )
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

    /// Part `part`'s checksum in the upload's algorithm, as its URL is signed with it: computed
    /// from the local bytes, or (CRC64NVME) the value computed earlier, so the part that goes out
    /// is the one the whole file's value is combined from.
    async fn part_checksum(&self, part: u32) -> Result<String, Error> {
        let known = self.crcs.lock().ok().and_then(|c| c.get(&part).copied());
        if let (Verify::Crc64Nvme, Some(crc)) = (self.plan.verify, known) {
            return Ok(digest::crc64nvme_base64(crc));
        }
        let wanted = Wanted {
            sha256: self.plan.verify == Verify::Sha256,
            md5: false,
        };
        let digests = self.local_digests(part, wanted).await?;
        Ok(match self.plan.verify {
            Verify::Sha256 => digests.sha256.unwrap_or_default(),
            _ => digest::crc64nvme_base64(digests.crc64nvme),
        })
    }

    /// The digests of part `part`'s local bytes; remembers its CRC64NVME.
    async fn local_digests(&self, part: u32, wanted: Wanted) -> Result<PartDigests, Error> {
        let (offset, len) = self.plan.range(part);
        let digests = digest::part_digests(&self.file, offset, len, wanted).await?;
        if let Ok(mut crcs) = self.crcs.lock() {
            crcs.insert(part, digests.crc64nvme);
        }
        Ok(digests)
    }

    /// Takes over what a check of the stored parts learnt: the local CRCs and the differing count.
    fn checked(&self, checked: &Checked) {
        if let Ok(mut crcs) = self.crcs.lock() {
            crcs.extend(checked.crcs.iter().map(|(n, c)| (*n, *c)));
        }
        self.counters
            .parts_differing
            .fetch_add(checked.differing, Ordering::Relaxed);
    }

    async fn refresh(&self, part: u32) -> Result<PartUrl, Error> {
        let checksum = match self.plan.verify {
            Verify::Unverified => None,
            _ => Some(self.part_checksum(part).await?),
        };
        let url = retry_api(
            &self.options,
            self.progress.as_ref(),
            Some(&self.counters),
            || {
                self.api
                    .part_url(&self.plan.upload_id, part, checksum.as_deref())
            },
        )
        .await?;
        self.counters.url_refreshes.fetch_add(1, Ordering::Relaxed);
        Ok(url)
    }

    /// One `PUT` of a part; the ETag storage answered, if it sent one.
    async fn put(&self, url: &PartUrl, data: &Bytes) -> Result<Option<String>, PutFailure> {
        let part = url.part_number;
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut saved) = self.saved.lock() {
            saved.puts += 1;
        }
        if Faults::take(&self.options.faults.fail, part) {
            return Err(PutFailure {
                message: "injected failure (UPLOAD_FAIL_PUTS)".into(),
                kind: FailureKind::Transient,
            });
        }
        if Faults::take(&self.options.faults.expire, part) {
            return Err(PutFailure {
                message: "403 injected (UPLOAD_EXPIRE_PUTS): the URL counts as expired".into(),
                kind: FailureKind::Refused,
            });
        }
        let sent = Arc::new(AtomicU64::new(0));
        let body = CountingBody::new(data.clone(), self.progress.clone(), sent.clone());
        let mut request = self
            .api
            .http()
            .put(&url.presigned_url)
            .timeout(self.options.put_timeout)
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
            self.progress.unsent(sent.load(Ordering::Relaxed));
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

    /// Records the `PUT` count in the state file after a failure; best effort, the error comes first.
    fn save(&self) {
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

    /// `complete`, with the client's ETags when it has every part's (and, for CRC64NVME, the whole
    /// file's value for storage to check), then removes the state file. When storage finds that
    /// the file's value does not match what it holds, the differing parts are found, sent again
    /// and completed again, at most [`REPAIRS`] times.
    async fn finish(self: &Arc<Self>, already_stored: u64) -> Result<Outcome, Error> {
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
        let listed = retry_api(
            &self.options,
            self.progress.as_ref(),
            Some(&self.counters),
            || self.api.parts(&id),
        )
        .await?;
        if let Ok(mut crcs) = self.crcs.lock() {
            crcs.clear();
        }
        let checked = check_stored(&self.file, &self.plan, &listed).await?;
        self.checked(&checked);
        let todo: Vec<u32> = (1..=self.plan.total_parts)
            .filter(|n| !checked.held.contains_key(n))
            .collect();
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

    async fn complete_once(&self, already_stored: u64) -> Result<Outcome, Error> {
        self.progress.completing();
        let whole_file = match self.plan.verify {
            Verify::Crc64Nvme => Some(self.whole_file_crc().await?),
            _ => None,
        };
        let crcs = self.crcs.lock().map(|c| c.clone()).unwrap_or_default();
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
                                .and(crcs.get(&n))
                                .map(|c| digest::crc64nvme_base64(*c)),
                        })
                })
                .collect()
        };
        let id = &self.plan.upload_id;
        let whole_file = whole_file.map(digest::crc64nvme_base64);
        let completion = retry_api(
            &self.options,
            self.progress.as_ref(),
            Some(&self.counters),
            || {
                self.api
                    .complete(id, parts.as_deref(), whole_file.as_deref())
            },
        )
        .await?;
        state::remove(&self.state_path)?;
        Ok(Outcome {
            upload_id: self.plan.upload_id,
            key: self.plan.key.clone(),
            completion: serde_json::to_value(&completion).unwrap_or_default(),
            sent_etags: parts.is_some(),
            stats: self.stats(already_stored),
        })
    }

    /// The whole file's CRC64NVME, combined from its parts' (computing any not known yet, e.g.
    /// when this run joins a complete another one started).
    async fn whole_file_crc(&self) -> Result<u64, Error> {
        let mut parts = Vec::with_capacity(self.plan.total_parts as usize);
        for n in 1..=self.plan.total_parts {
            let known = self.crcs.lock().ok().and_then(|c| c.get(&n).copied());
            let crc = match known {
                Some(crc) => crc,
                None => self.local_digests(n, Wanted::default()).await?.crc64nvme,
            };
            parts.push((crc, self.plan.range(n).1));
        }
        digest::combine(parts).ok_or_else(|| Error::State("an upload has at least one part".into()))
    }

    fn stats(&self, already_stored: u64) -> Stats {
        let c = &self.counters;
        Stats {
            puts: c.puts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            url_refreshes: c.url_refreshes.load(Ordering::Relaxed),
            url_batches: c.url_batches.load(Ordering::Relaxed),
            parts_uploaded: c.parts_uploaded.load(Ordering::Relaxed),
            parts_differing: c.parts_differing.load(Ordering::Relaxed),
            checksum_mismatches: c.checksum_mismatches.load(Ordering::Relaxed),
            parts_already_stored: already_stored,
            bytes_uploaded: c.bytes_uploaded.load(Ordering::Relaxed),
        }
    }
}

/// How many times complete repairs differing parts after storage refused the whole file's value.
const REPAIRS: u32 = 2;

/// The stored parts whose bytes are the local ones, with what checking them learnt.
struct Checked {
    /// Part number to its ETag, as storage reports it.
    held: BTreeMap<u32, Option<String>>,
    held_bytes: u64,
    /// The local bytes' CRC64NVME of every part read.
    crcs: BTreeMap<u32, u64>,
    /// Parts storage holds that differ from the local bytes or could not be checked.
    differing: u64,
}

/// Compares every part storage holds (`listed`) with the local bytes: by its stored checksum where
/// there is one, else by its ETag as an MD5; a part of the wrong size, or one that cannot be
/// checked, is not kept. Reads each listed part once, one at a time (memory stays at 1 MiB).
async fn check_stored(file: &Path, plan: &Plan, listed: &[ListedPart]) -> Result<Checked, Error> {
    let mut checked = Checked {
        held: BTreeMap::new(),
        held_bytes: 0,
        crcs: BTreeMap::new(),
        differing: 0,
    };
    for part in listed {
        let n = part.part_number;
        let (offset, len) = plan.range(n);
        if n < 1 || n > plan.total_parts || checked.held.contains_key(&n) {
            continue;
        }
        if part.size != len {
            checked.differing += 1;
            continue;
        }
        let wanted = digest::wanted_for(part, plan.verify);
        let local = digest::part_digests(file, offset, len, wanted).await?;
        checked.crcs.insert(n, local.crc64nvme);
        if digest::same_bytes(part, &local, plan.verify) {
            checked.held.insert(n, part.etag.clone());
            checked.held_bytes += len;
        } else {
            checked.differing += 1;
        }
    }
    Ok(checked)
}

/// Runs an API call, trying again after a pause while it fails transiently.
async fn retry_api<T, F, Fut>(
    options: &Options,
    progress: &dyn Progress,
    counters: Option<&Counters>,
    mut call: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && tries <= options.max_retries => {
                let wait = backoff(options, tries);
                if let Some(counters) = counters {
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                progress.retrying(0, &err.to_string(), tries + 1, wait);
                tokio::time::sleep(wait).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The pause after failed try `tries` (1-based): `retry_base × 2^(tries-1)`, at most `retry_cap`,
/// of which a random half ("equal jitter"), so parts that failed together do not retry together.
pub fn backoff(options: &Options, tries: u32) -> Duration {
    let exponent = tries.saturating_sub(1).min(20);
    let full = options
        .retry_base
        .saturating_mul(1u32 << exponent)
        .min(options.retry_cap);
    let half = full / 2;
    half + half.mul_f64(random_unit())
}

/// A number in [0, 1) from a xorshift generator seeded by the clock; jitter needs no more.
fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x2545_F491_4F6C_DD1D)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn expires_soon(url: &PartUrl) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    url.expires_at.is_some_and(|at| at - now < 30)
}

fn file_size(file: &Path) -> Result<u64, Error> {
    let meta = std::fs::metadata(file).map_err(|e| Error::io(file, e))?;
    if !meta.is_file() {
        return Err(Error::Usage(format!("{} is not a file", file.display())));
    }
    if meta.len() == 0 {
        return Err(Error::Usage(format!(
            "{} is empty: there is nothing to upload",
            file.display()
        )));
    }
    Ok(meta.len())
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
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

/// One part's bytes: seek and read into a buffer of its own, off the async threads.
async fn read_part(file: &Path, offset: u64, len: u64) -> Result<Bytes, Error> {
    let path = file.to_owned();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut handle = std::fs::File::open(&path)?;
        handle.seek(SeekFrom::Start(offset))?;
        let mut buffer = vec![0; len as usize];
        handle.read_exact(&mut buffer)?;
        Ok(buffer)
    })
    .await
    .map_err(|e| Error::State(format!("reading a part stopped unexpectedly: {e}")))?;
    match read {
        Ok(buffer) => Ok(Bytes::from(buffer)),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::State(format!(
            "{} is shorter than when the upload started: it changed, and cannot be resumed",
            file.display()
        ))),
        Err(err) => Err(Error::io(file, err)),
    }
}

/// A media type for `initialize` from the file's extension.
pub fn guess_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "heic" => "image/heic",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "json" => "application/json",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// What identifies `file` across runs, reinstalls and renames: a SHA-256 of its size, whether the
/// upload is verified and how, and its first and last MiB (read on a blocking thread). The
/// TypeScript client computes the same value (clients/js/src/checksum.ts).
async fn file_fingerprint(file: &Path, size: u64, verify: Verify) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    const EDGE: u64 = 1024 * 1024;
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let read = |offset: u64, len: u64| -> std::io::Result<Vec<u8>> {
            let mut f = std::fs::File::open(&path)?;
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = vec![0; len as usize];
            f.read_exact(&mut buf)?;
            Ok(buf)
        };
        let edge = EDGE.min(size);
        let mut hasher = Sha256::new();
        let word = verify.fingerprint_word();
        hasher.update(format!("upload-fingerprint-v1|{size}|{word}|").as_bytes());
        hasher.update(read(0, edge)?);
        hasher.update(read(size - edge, edge)?);
        Ok::<_, std::io::Error>(
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        )
    })
    .await
    .map_err(|e| Error::State(format!("fingerprinting the file stopped unexpectedly: {e}")))?
    .map_err(|e| Error::io(file, e))
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

    use super::*;

    #[test]
    fn faults_parse() -> Result<(), Error> {
        let faults = Faults::parse("2, 5:2", "3")?;
        assert!(Faults::take(&faults.fail, 2));
        assert!(!Faults::take(&faults.fail, 2));
        assert!(Faults::take(&faults.fail, 5));
        assert!(Faults::take(&faults.fail, 5));
        assert!(!Faults::take(&faults.fail, 5));
        assert!(!Faults::take(&faults.fail, 3));
        assert!(Faults::take(&faults.expire, 3));
        assert!(Faults::parse("", "")?.is_empty());
        assert!(Faults::parse("0", "").is_err());
        assert!(Faults::parse("two", "").is_err());
        Ok(())
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let options = Options {
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_millis(1000),
            ..Options::default()
        };
        for _ in 0..100 {
            let first = backoff(&options, 1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = backoff(&options, 3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = backoff(&options, 40);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1000)).contains(&late));
        }
    }

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn plans_cover_the_file() {
        let plan = Plan {
            upload_id: upload_contract::UploadId::new_v4(),
            key: "k".into(),
            chunk_size: 10,
            total_parts: 3,
            file_size: 25,
            verify: Verify::Unverified,
        };
        assert!(plan.check().is_ok());
        assert_eq!(plan.range(1), (0, 10));
        assert_eq!(plan.range(3), (20, 5));
        assert!(Plan {
            total_parts: 2,
            ..plan.clone()
        }
        .check()
        .is_err());
        assert!(Plan {
            total_parts: 4,
            ..plan
        }
        .check()
        .is_err());
    }

    #[test]
    fn content_types_are_guessed() {
        assert_eq!(guess_content_type("Match.MP4"), "video/mp4");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
    }
}
