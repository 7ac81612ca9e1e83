//! The use cases as a phone and the platform call them: one invocation, what the client saw, and
//! what each function may call.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::SystemTime;

use shared::domain::ids::{ObjectKey, Owner, PartNumber, S3UploadId, UploadId};
use shared::domain::Status;
use shared::domain::{UploadError, UploadRecord};
use shared::ports::{BoxFuture, PartRef, PartUrls, SigningError, UrlSigner};
use shared::usecases::cleanup::{Limits, ORPHAN_MARGIN_SECS};
use shared::usecases::initialize::NewUpload;
use shared::usecases::presign::{self, ChecksumOf};
use shared::usecases::{abort, cleanup, complete, initialize, listing, owned, parts};
use shared::ApiError;
use shared::Endpoint;
use support::World;

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UseCase {
    Initialize,
    /// Initialize with a fingerprint; the client's retries carry the same one.
    InitializeFingerprint,
    Complete,
    CompleteWithParts,
    /// Complete again after the function that held COMPLETING died once storage had completed.
    CompleteTakeover,
    Abort,
    /// Abort an upload whose parts a lifecycle rule dropped.
    AbortLost,
    ListParts,
    Status,
    /// Part URLs for every part of the upload (the batch endpoint's use case).
    Presign,
    /// The caller's uploads, with the parts held of the unfinished one.
    ListUploads,
    Cleanup,
}

pub(crate) const USE_CASES: [UseCase; 12] = [
    UseCase::Initialize,
    UseCase::InitializeFingerprint,
    UseCase::Complete,
    UseCase::CompleteWithParts,
    UseCase::CompleteTakeover,
    UseCase::Abort,
    UseCase::AbortLost,
    UseCase::ListParts,
    UseCase::Status,
    UseCase::Presign,
    UseCase::ListUploads,
    UseCase::Cleanup,
];

#[derive(Debug)]
pub(crate) enum Reply {
    Initialized(Box<UploadRecord>),
    Completed(Box<UploadRecord>),
    Aborted(Status),
    Read,
    Swept,
}

/// What the client saw: an answer, or nothing at all (the function died; API Gateway answers 502
/// and the client retries as for any 5xx).
#[derive(Debug)]
pub(crate) enum Seen {
    Answer(Result<Reply, ApiError>),
    Died,
}

impl Seen {
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Seen::Died => true,
            Seen::Answer(Ok(_)) => false,
            Seen::Answer(Err(e)) => {
                e.status() == 503 || e.status() == 429 || e.code() == "COMPLETION_IN_PROGRESS"
            }
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Seen::Died => "died".into(),
            Seen::Answer(Ok(r)) => format!("ok {}", reply_name(r)),
            Seen::Answer(Err(e)) => format!("{} {}", e.status().as_u16(), e.code()),
        }
    }
}

pub(crate) fn reply_name(r: &Reply) -> &'static str {
    match r {
        Reply::Initialized(_) => "initialized",
        Reply::Completed(_) => "completed",
        Reply::Aborted(_) => "aborted",
        Reply::Read => "read",
        Reply::Swept => "swept",
    }
}

/// Runs one invocation; if the function dies, the future is dropped right after the fatal call.
pub(crate) async fn invoke<F>(world: &World, fut: F) -> Seen
where
    F: Future<Output = Result<Reply, UploadError>>,
{
    let mut fut = pin!(fut);
    let dead = || world.faults.dead.load(Ordering::SeqCst);
    let seen = std::future::poll_fn(|cx| {
        if dead() {
            return Poll::Ready(Seen::Died);
        }
        match fut.as_mut().poll(cx) {
            Poll::Ready(_) if dead() => Poll::Ready(Seen::Died),
            Poll::Ready(answer) => Poll::Ready(Seen::Answer(answer.map_err(ApiError::from))),
            Poll::Pending if dead() => Poll::Ready(Seen::Died),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    world.faults.dead.store(false, Ordering::SeqCst);
    seen
}

pub(crate) fn new_upload() -> NewUpload {
    NewUpload {
        owner: USER.into(),
        file_name: "match.mp4".into(),
        file_type: "video/mp4".into(),
        file_size: FILE_SIZE,
        metadata: [("album".to_owned(), "finals".to_owned())].into(),
        checksum_algorithm: None,
        part_size: Some(PART_SIZE),
        fingerprint: None,
    }
}

pub(crate) fn fingerprinted() -> NewUpload {
    NewUpload {
        fingerprint: Some("match.mp4|12582912|1795600000".into()),
        ..new_upload()
    }
}

pub(crate) fn sizes(record: &UploadRecord) -> Vec<(u32, u64)> {
    (1..=record.total_parts)
        .map(|n| {
            let size = if n < record.total_parts {
                record.part_size
            } else {
                record.file_size - record.part_size * u64::from(record.total_parts - 1)
            };
            (n, size)
        })
        .collect()
}

/// The phone PUTs parts to storage.
pub(crate) fn put_parts(world: &World, record: &UploadRecord, numbers: impl Fn(u32) -> bool) {
    for (n, size) in sizes(record) {
        if numbers(n) {
            world.objects.put_part(&record.s3_upload_id, n, size, 7);
        }
    }
}

pub(crate) fn part_refs(world: &World, record: &UploadRecord) -> Vec<PartRef> {
    let uploads = world.objects.uploads();
    let upload = &uploads
        .iter()
        .find(|(id, _)| *id == record.s3_upload_id)
        .expect("the upload exists")
        .1;
    upload
        .parts
        .iter()
        .map(|(n, (etag, _))| PartRef {
            number: PartNumber::new(*n).expect("a part number"),
            etag: etag.clone(),
            checksum: None,
        })
        .collect()
}

pub(crate) async fn call(
    world: &World, use_case: UseCase, upload_id: &str, parts_sent: Option<&[PartRef]>,
) -> Result<Reply, UploadError> {
    let upload_id = &UploadId::from(upload_id);
    let user = &Owner::from(USER);
    let ports = world.ports();
    let config = &world.config;
    if !world.racing() {
        *world.faults.function.lock().unwrap() = Some(function(use_case));
    }
    match use_case {
        UseCase::Initialize => initialize::initialize(ports, config, new_upload(), None)
            .await
            .map(|r| Reply::Initialized(Box::new(r.record))),
        UseCase::InitializeFingerprint => {
            initialize::initialize(ports, config, fingerprinted(), None)
                .await
                .map(|r| Reply::Initialized(Box::new(r.record)))
        }
        UseCase::Complete | UseCase::CompleteWithParts | UseCase::CompleteTakeover => {
            let holding = complete::begin(ports, config, upload_id, user).await?;
            complete::complete(ports, config, holding, parts_sent, None)
                .await
                .map(|r| Reply::Completed(Box::new(r)))
        }
        UseCase::Abort | UseCase::AbortLost => {
            let record = owned(ports, upload_id, user).await?;
            abort::abort(ports, config, record)
                .await
                .map(Reply::Aborted)
        }
        UseCase::ListParts => {
            let record = owned(ports, upload_id, user).await?;
            parts::list(ports, &record).await.map(|_| Reply::Read)
        }
        UseCase::Status => {
            let record = owned(ports, upload_id, user).await?;
            parts::progress(ports, &record).await.map(|_| Reply::Read)
        }
        UseCase::Presign => {
            let record = owned(ports, upload_id, user).await?;
            let last = PartNumber::new(record.total_parts).expect("a part number");
            let parts = PartNumber::new(1).expect("part 1")..=last;
            presign::presign(ports, &LocalSigner, config, &record, parts, &Unverified)
                .await
                .map(|_| Reply::Read)
        }
        UseCase::ListUploads => {
            let query = listing::PageQuery {
                owner: USER.into(),
                filter: None,
                after: None,
                limit: 20,
            };
            let (page, _) = listing::list(ports, &query, None).await?;
            if !page.iter().any(|l| l.record.upload_id == *upload_id) {
                return Err(UploadError::Inconsistent(format!(
                    "{upload_id} is not in its owner's listing"
                )));
            }
            Ok(Reply::Read)
        }
        UseCase::Cleanup => {
            cleanup::run(ports, config, &far_limits()).await;
            Ok(Reply::Swept)
        }
    }
}

/// The function (Lambda) that runs `use_case`.
pub(crate) fn function(use_case: UseCase) -> &'static str {
    match use_case {
        UseCase::Initialize | UseCase::InitializeFingerprint => Endpoint::Initialize.name(),
        UseCase::Complete | UseCase::CompleteWithParts | UseCase::CompleteTakeover => {
            Endpoint::Complete.name()
        }
        UseCase::Abort | UseCase::AbortLost => Endpoint::Abort.name(),
        UseCase::ListParts => Endpoint::ListParts.name(),
        UseCase::Status => Endpoint::Status.name(),
        UseCase::Presign => Endpoint::BatchPresignedUrls.name(),
        UseCase::ListUploads => Endpoint::ListUploads.name(),
        UseCase::Cleanup => shared::cleanup::FUNCTION_NAME,
    }
}

/// What each function declares it may call: the list its IAM policy is checked against.
pub(crate) fn declared(function: &str) -> &'static [&'static str] {
    Endpoint::ALL
        .iter()
        .find(|e| e.name() == function)
        .map_or(shared::cleanup::OPERATIONS, |e| e.operations())
}

/// `TransactWriteItems(expire)` is a `TransactWriteItems`; only the create's puts differ.
pub(crate) fn operation(op: &str) -> &str {
    match op.split_once('(') {
        Some(("TransactWriteItems", "create)")) => op,
        Some((base, _)) => base,
        None => op,
    }
}

pub(crate) fn far_limits() -> Limits {
    Limits {
        max_aborts: 1000,
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
    }
}

/// Past every window: the stale completion window, the upload lifetime and the orphan margin.
pub(crate) fn past_every_window(world: &World) -> i64 {
    world.config.upload_ttl_secs as i64
        + world.config.completing_stale_secs as i64
        + ORPHAN_MARGIN_SECS
        + 60
}

/// Signs part URLs as SigV4 does, locally: no call to storage, so nothing to inject a fault into.
struct LocalSigner;

struct LocalUrls(SystemTime);

impl PartUrls for LocalUrls {
    fn url(&self, part: PartNumber, length: u64, _checksum: Option<&str>) -> String {
        format!("https://storage.test/part/{part}?length={length}")
    }

    fn expires_at(&self) -> SystemTime {
        self.0
    }
}

impl UrlSigner for LocalSigner {
    fn sign_upload<'a>(
        &'a self, _key: &'a ObjectKey, _s3_upload_id: &'a S3UploadId,
        _checksum: Option<shared::domain::checksum::ChecksumAlgorithm>, _signed_at: SystemTime,
        wanted_expiry: SystemTime,
    ) -> BoxFuture<'a, Result<Box<dyn PartUrls>, SigningError>> {
        Box::pin(async move { Ok(Box::new(LocalUrls(wanted_expiry)) as Box<dyn PartUrls>) })
    }
}

/// The matrix's uploads are unverified: their part URLs carry no checksum.
struct Unverified;

impl ChecksumOf for Unverified {
    fn checksum(&self, _part: PartNumber) -> Result<Option<&str>, UploadError> {
        Ok(None)
    }

    fn field(&self, _part: PartNumber) -> String {
        "checksums".to_owned()
    }
}
