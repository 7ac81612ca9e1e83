//! The fault matrix: every use case, every external call it makes, each of four faults (an error
//! answer, a timeout, applied-but-answer-lost, death of the function right after the call). After
//! each fault the client does what a phone does (retries with backoff, reads the status, completes
//! again) and the scheduled cleanup runs past every stale window; then the invariants must hold.
//! Then seeded random interleavings of racing requests. `FAULT_SEED=N` replays one interleaving.
//!
//! A plain binary (`harness = false`) so that `make test` shows the matrix size and its count.

#[path = "../support/mod.rs"]
mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;

use shared::domain::Status;
use shared::domain::{UploadError, UploadRecord};
use shared::error::ApiError;
use shared::ports::PartRef;
use shared::usecases::cleanup::{Limits, ORPHAN_MARGIN_SECS};
use shared::usecases::initialize::NewUpload;
use shared::usecases::{abort, cleanup, complete, initialize, listing, owned, parts};
use shared::Endpoint;
use support::{Fault, Rng, World, FAULT_KINDS, MIB};

const USER: &str = "user-1";
const FILE_SIZE: u64 = 12 * MIB;
const PART_SIZE: u64 = 5 * MIB;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UseCase {
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
    /// The caller's uploads, with the parts held of the unfinished one.
    ListUploads,
    Cleanup,
}

const USE_CASES: [UseCase; 11] = [
    UseCase::Initialize,
    UseCase::InitializeFingerprint,
    UseCase::Complete,
    UseCase::CompleteWithParts,
    UseCase::CompleteTakeover,
    UseCase::Abort,
    UseCase::AbortLost,
    UseCase::ListParts,
    UseCase::Status,
    UseCase::ListUploads,
    UseCase::Cleanup,
];

#[derive(Debug)]
enum Reply {
    Initialized(Box<UploadRecord>),
    Completed(Box<UploadRecord>),
    Aborted(Status),
    Read,
    Swept,
}

/// What the client saw: an answer, or nothing at all (the function died; API Gateway answers 502
/// and the client retries as for any 5xx).
#[derive(Debug)]
enum Seen {
    Answer(Result<Reply, ApiError>),
    Died,
}

impl Seen {
    fn retryable(&self) -> bool {
        match self {
            Seen::Died => true,
            Seen::Answer(Ok(_)) => false,
            Seen::Answer(Err(e)) => {
                e.status() == 503 || e.status() == 429 || e.code() == "COMPLETION_IN_PROGRESS"
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Seen::Died => "died".into(),
            Seen::Answer(Ok(r)) => format!("ok {}", reply_name(r)),
            Seen::Answer(Err(e)) => format!("{} {}", e.status().as_u16(), e.code()),
        }
    }
}

fn reply_name(r: &Reply) -> &'static str {
    match r {
        Reply::Initialized(_) => "initialized",
        Reply::Completed(_) => "completed",
        Reply::Aborted(_) => "aborted",
        Reply::Read => "read",
        Reply::Swept => "swept",
    }
}

/// Runs one invocation; if the function dies, the future is dropped right after the fatal call.
async fn invoke<F>(world: &World, fut: F) -> Seen
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

fn new_upload() -> NewUpload {
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

fn fingerprinted() -> NewUpload {
    NewUpload {
        fingerprint: Some("match.mp4|12582912|1795600000".into()),
        ..new_upload()
    }
}

fn sizes(record: &UploadRecord) -> Vec<(u32, u64)> {
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
fn put_parts(world: &World, record: &UploadRecord, numbers: impl Fn(u32) -> bool) {
    for (n, size) in sizes(record) {
        if numbers(n) {
            world.objects.put_part(&record.s3_upload_id, n, size, 7);
        }
    }
}

fn part_refs(world: &World, record: &UploadRecord) -> Vec<PartRef> {
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
            number: *n,
            etag: etag.clone(),
            checksum: None,
        })
        .collect()
}

async fn call(
    world: &World,
    use_case: UseCase,
    upload_id: &str,
    parts_sent: Option<&[PartRef]>,
) -> Result<Reply, UploadError> {
    let ports = world.ports();
    let config = &world.config;
    if !world.racing() {
        *world.faults.function.lock().unwrap() = Some(function(use_case));
    }
    match use_case {
        UseCase::Initialize => initialize::initialize(ports, config, new_upload())
            .await
            .map(|r| Reply::Initialized(Box::new(r.record))),
        UseCase::InitializeFingerprint => initialize::initialize(ports, config, fingerprinted())
            .await
            .map(|r| Reply::Initialized(Box::new(r.record))),
        UseCase::Complete | UseCase::CompleteWithParts | UseCase::CompleteTakeover => {
            let record = owned(ports, upload_id, USER).await?;
            complete::complete(ports, config, record, parts_sent, None)
                .await
                .map(|r| Reply::Completed(Box::new(r)))
        }
        UseCase::Abort | UseCase::AbortLost => {
            let record = owned(ports, upload_id, USER).await?;
            abort::abort(ports, config, record)
                .await
                .map(Reply::Aborted)
        }
        UseCase::ListParts => {
            let record = owned(ports, upload_id, USER).await?;
            parts::list(ports, &record).await.map(|_| Reply::Read)
        }
        UseCase::Status => {
            let record = owned(ports, upload_id, USER).await?;
            parts::progress(ports, &record).await.map(|_| Reply::Read)
        }
        UseCase::ListUploads => {
            let (page, _) = listing::list(ports, USER, None, None, 20).await?;
            if !page.iter().any(|l| l.record.upload_id == upload_id) {
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
fn function(use_case: UseCase) -> &'static str {
    match use_case {
        UseCase::Initialize | UseCase::InitializeFingerprint => Endpoint::Initialize.name(),
        UseCase::Complete | UseCase::CompleteWithParts | UseCase::CompleteTakeover => {
            Endpoint::Complete.name()
        }
        UseCase::Abort | UseCase::AbortLost => Endpoint::Abort.name(),
        UseCase::ListParts => Endpoint::ListParts.name(),
        UseCase::Status => Endpoint::Status.name(),
        UseCase::ListUploads => Endpoint::ListUploads.name(),
        UseCase::Cleanup => shared::cleanup::FUNCTION_NAME,
    }
}

/// What each function declares it may call: the list its IAM policy is checked against.
fn declared(function: &str) -> &'static [&'static str] {
    Endpoint::ALL
        .iter()
        .find(|e| e.name() == function)
        .map_or(shared::cleanup::OPERATIONS, |e| e.operations())
}

/// `TransactWriteItems(expire)` is a `TransactWriteItems`; only the create's puts differ.
fn operation(op: &str) -> &str {
    match op.split_once('(') {
        Some(("TransactWriteItems", "create)")) => op,
        Some((base, _)) => base,
        None => op,
    }
}

fn far_limits() -> Limits {
    Limits {
        max_aborts: 1000,
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
    }
}

/// Past every window: the stale completion window, the upload lifetime and the orphan margin.
fn past_every_window(world: &World) -> i64 {
    world.config.upload_ttl_secs as i64
        + world.config.completing_stale_secs as i64
        + ORPHAN_MARGIN_SECS
        + 60
}

/// What one path left behind, checked against the invariants.
struct Path {
    use_case: UseCase,
    /// What the client saw, in order.
    seen: Vec<String>,
    /// Uploads a complete answered 200 for.
    completed: Vec<UploadRecord>,
    failures: Vec<String>,
}

impl Path {
    fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    /// Notes what the client saw; a 5xx other than 503 is never right.
    fn saw(&mut self, seen: &Seen) {
        self.seen.push(seen.describe());
        if let Seen::Answer(Err(e)) = seen {
            if e.status().is_server_error() && e.status() != 503 {
                self.fail(format!("the client saw {}", seen.describe()));
            }
        }
    }
}

/// The world before the faulted call: an upload with every part (or some) stored, or for the
/// cleanup every state it must deal with.
async fn prepare(world: &World, use_case: UseCase) -> Option<UploadRecord> {
    let ports = world.ports();
    let start = || async {
        initialize::initialize(ports, &world.config, new_upload())
            .await
            .expect("set-up initialize")
            .record
    };
    match use_case {
        UseCase::Initialize | UseCase::InitializeFingerprint => None,
        UseCase::Complete | UseCase::CompleteWithParts => {
            let record = start().await;
            put_parts(world, &record, |_| true);
            Some(record)
        }
        UseCase::CompleteTakeover => {
            let record = start().await;
            put_parts(world, &record, |_| true);
            let mut stuck = record.clone();
            stuck.status = Status::Completing;
            stuck.completing_since = Some(world.time_now());
            world.records.overwrite(stuck);
            world.objects.complete_raw(&record.s3_upload_id);
            world
                .time
                .advance(world.config.completing_stale_secs as i64 + 1);
            Some(record)
        }
        UseCase::AbortLost => {
            let record = start().await;
            put_parts(world, &record, |n| n <= 2);
            world.objects.lose(&record.s3_upload_id);
            Some(record)
        }
        UseCase::Abort | UseCase::ListParts | UseCase::Status | UseCase::ListUploads => {
            let record = start().await;
            put_parts(world, &record, |n| n <= 2);
            Some(record)
        }
        UseCase::Cleanup => {
            // (a) will expire with its parts; (b) an orphan without a record; (c) a completion that
            // went through in storage before its function died; (d) one that died before storage
            // completed; (e) a finished upload; (f) one whose parts a lifecycle rule dropped.
            let expiring = start().await;
            put_parts(world, &expiring, |n| n == 1);
            world
                .objects
                .create_raw("uploads/user-1/0f8fad5b-d9cb-469f-a165-70867728950e/x.mp4");
            for died_after_storage in [true, false] {
                let record = start().await;
                put_parts(world, &record, |_| true);
                let mut stuck = world.records.record(&record.upload_id).unwrap();
                stuck.status = Status::Completing;
                stuck.completing_since = Some(world.time_now());
                world.records.overwrite(stuck);
                if died_after_storage {
                    world.objects.complete_raw(&record.s3_upload_id);
                }
            }
            let done = start().await;
            put_parts(world, &done, |_| true);
            complete::complete(ports, &world.config, done, None, None)
                .await
                .expect("set-up complete");
            let lost = start().await;
            world.objects.lose(&lost.s3_upload_id);
            world.time.advance(past_every_window(world));
            None
        }
    }
}

trait Now {
    fn time_now(&self) -> i64;
}

impl Now for World {
    fn time_now(&self) -> i64 {
        use shared::ports::Time;
        self.time.now()
    }
}

/// Retries `use_case` as a phone does while the answers say retrying helps.
async fn retry(
    world: &World,
    path: &mut Path,
    use_case: UseCase,
    upload_id: &str,
    parts_sent: Option<&[PartRef]>,
) -> Option<Reply> {
    let mut backoff = 1;
    for _ in 0..6 {
        world.faults.arm(None);
        let seen = invoke(world, call(world, use_case, upload_id, parts_sent)).await;
        path.saw(&seen);
        let retryable = seen.retryable();
        if let Seen::Answer(Ok(reply)) = seen {
            if let Reply::Completed(record) = &reply {
                path.completed.push((**record).clone());
            }
            return Some(reply);
        }
        if !retryable {
            return None;
        }
        world.time.advance(backoff);
        backoff *= 2;
    }
    None
}

/// One path: prepare, inject, let the client and the cleanup do what they do, check.
async fn run_path(use_case: UseCase, fault: Option<Fault>) -> (Path, Vec<&'static str>) {
    let world = World::new(&[]);
    let mut path = Path {
        use_case,
        seen: Vec::new(),
        completed: Vec::new(),
        failures: Vec::new(),
    };
    let prepared = prepare(&world, use_case).await;
    let upload_id = prepared
        .as_ref()
        .map(|r| r.upload_id.clone())
        .unwrap_or_default();
    let sent = prepared
        .as_ref()
        .filter(|_| use_case == UseCase::CompleteWithParts)
        .map(|r| part_refs(&world, r));

    world.faults.arm(fault);
    let first = invoke(&world, call(&world, use_case, &upload_id, sent.as_deref())).await;
    let calls = world.faults.calls();
    world.faults.arm(None);
    let mut target = prepared.clone();
    let first_ok = match &first {
        Seen::Answer(Ok(Reply::Initialized(r))) => {
            target = Some((**r).clone());
            true
        }
        Seen::Answer(Ok(Reply::Completed(r))) => {
            path.completed.push((**r).clone());
            true
        }
        Seen::Answer(Ok(_)) => true,
        _ => false,
    };
    let first_retryable = first.retryable();
    path.saw(&first);

    // What the client does next.
    match use_case {
        UseCase::Initialize | UseCase::InitializeFingerprint => {
            if !first_ok {
                if !first_retryable {
                    path.fail("initialize answered a final error".into());
                }
                if let Some(Reply::Initialized(r)) =
                    retry(&world, &mut path, use_case, "", None).await
                {
                    target = Some(*r);
                }
            }
            match &target {
                Some(record) => {
                    put_parts(&world, record, |_| true);
                    let id = record.upload_id.clone();
                    if retry(&world, &mut path, UseCase::Complete, &id, None)
                        .await
                        .is_none()
                    {
                        path.fail("the upload could not be completed after initialize".into());
                    }
                }
                None => path.fail("initialize never succeeded".into()),
            }
        }
        UseCase::Complete | UseCase::CompleteWithParts | UseCase::CompleteTakeover => {
            let id = upload_id.clone();
            let mut done = first_ok
                || retry(&world, &mut path, use_case, &id, sent.as_deref())
                    .await
                    .is_some();
            if !done {
                let _ = retry(&world, &mut path, UseCase::Status, &id, None).await;
                world
                    .time
                    .advance(world.config.completing_stale_secs as i64 + 1);
                let _ = invoke(&world, call(&world, UseCase::Cleanup, "", None)).await;
                done = retry(&world, &mut path, use_case, &id, sent.as_deref())
                    .await
                    .is_some();
            }
            if !done {
                path.fail("the upload never completed".into());
            }
        }
        UseCase::Abort | UseCase::AbortLost => {
            if !first_ok
                && retry(&world, &mut path, use_case, &upload_id, None)
                    .await
                    .is_none()
            {
                path.fail("abort never succeeded".into());
            }
        }
        UseCase::ListParts | UseCase::Status | UseCase::ListUploads => {
            if !first_ok
                && retry(&world, &mut path, use_case, &upload_id, None)
                    .await
                    .is_none()
            {
                path.fail(format!("{use_case:?} never answered"));
            }
        }
        UseCase::Cleanup => {
            // The next scheduled run.
            let _ = invoke(&world, call(&world, UseCase::Cleanup, "", None)).await;
        }
    }

    // Later, the scheduled cleanup runs past every window.
    world.time.advance(past_every_window(&world));
    let _ = invoke(&world, call(&world, UseCase::Cleanup, "", None)).await;

    check(&world, &mut path, target.as_ref());
    for (function, ops) in world.faults.observed.lock().unwrap().iter() {
        for op in ops {
            let op = operation(op);
            if !declared(function).contains(&op) {
                path.fail(format!(
                    "{function} called {op}, which its operations (and so its IAM policy) lack"
                ));
            }
        }
    }
    (path, calls)
}

fn check(world: &World, path: &mut Path, target: Option<&UploadRecord>) {
    let records = world.records.all();
    // A complete that answered 200: the object exists with the planned size, and stays.
    for done in path.completed.clone() {
        match world.objects.object(&done.key) {
            Some(head) if head.size == done.file_size => {}
            other => path.fail(format!("complete answered 200 but storage holds {other:?}")),
        }
        let status = world.records.record(&done.upload_id).map(|r| r.status);
        if status != Some(Status::Completed) {
            path.fail(format!(
                "complete answered 200 but the record is {status:?}"
            ));
        }
    }
    // An object in storage means its record ends COMPLETED.
    for record in &records {
        if world.objects.object(&record.key).is_some() && record.status != Status::Completed {
            path.fail(format!(
                "an object exists but its record is {}",
                record.status.as_str()
            ));
        }
    }
    // The quota counts exactly the unfinished uploads.
    let unfinished: Vec<&UploadRecord> = records
        .iter()
        .filter(|r| r.owner == USER && matches!(r.status, Status::Initiated | Status::Completing))
        .collect();
    let usage = world.records.usage(USER);
    let expected = (
        unfinished.len() as i64,
        unfinished.iter().map(|r| r.file_size as i64).sum::<i64>(),
    );
    if (usage.active_uploads, usage.bytes_in_flight) != expected {
        path.fail(format!(
            "quota {usage:?} but unfinished uploads {expected:?}"
        ));
    }
    // After the cleanup, no multipart upload without a live record.
    for (s3_id, upload) in world.objects.uploads() {
        let live = records.iter().any(|r| {
            r.s3_upload_id == s3_id && matches!(r.status, Status::Initiated | Status::Completing)
        });
        if !live {
            path.fail(format!(
                "multipart upload {s3_id} at {} has no live record",
                upload.key
            ));
        }
    }
    // What each use case is for happened.
    let target_status = target
        .and_then(|t| world.records.record(&t.upload_id))
        .map(|r| r.status);
    match path.use_case {
        UseCase::Initialize
        | UseCase::InitializeFingerprint
        | UseCase::Complete
        | UseCase::CompleteWithParts
        | UseCase::CompleteTakeover => {
            if target_status != Some(Status::Completed) {
                path.fail(format!("the upload ended {target_status:?}, not COMPLETED"));
            }
            // With a fingerprint, the retries find the first attempt's upload instead of leaving
            // it to expire.
            let expired = records
                .iter()
                .filter(|r| r.status == Status::Expired)
                .count();
            if path.use_case == UseCase::InitializeFingerprint && expired != 0 {
                path.fail(format!(
                    "{expired} uploads of the same file were left to expire"
                ));
            }
        }
        UseCase::Abort | UseCase::AbortLost => {
            if target_status != Some(Status::Aborted) {
                path.fail(format!("the upload ended {target_status:?}, not ABORTED"));
            }
        }
        UseCase::Cleanup => {
            // Two stuck completions: the one storage completed is COMPLETED, the other EXPIRED;
            // nothing else is COMPLETED but the finished upload.
            let completed = records
                .iter()
                .filter(|r| r.status == Status::Completed)
                .count();
            if completed != 2 || world.objects.object_count() != 2 {
                path.fail(format!(
                    "{completed} completed records and {} objects, expected 2 and 2",
                    world.objects.object_count()
                ));
            }
        }
        UseCase::ListParts | UseCase::Status | UseCase::ListUploads => {}
    }
}

async fn matrix() -> (usize, usize, usize) {
    let mut total = 0;
    let mut passed = 0;
    let mut cells = 0;
    println!(
        "fault matrix: use case, external calls, paths (calls x 4 faults + the fault-free run)"
    );
    for use_case in USE_CASES {
        let (clean, calls) = run_path(use_case, None).await;
        let mut failed: Vec<String> = Vec::new();
        total += 1;
        if clean.failures.is_empty() {
            passed += 1;
        } else {
            failed.push(format!("no fault: {}", clean.failures.join("; ")));
        }
        for (index, op) in calls.iter().enumerate() {
            for kind in FAULT_KINDS {
                total += 1;
                cells += 1;
                let (path, _) = run_path(use_case, Some(Fault { call: index, kind })).await;
                if path.failures.is_empty() {
                    passed += 1;
                } else {
                    failed.push(format!(
                        "call {index} ({op}) {kind:?}: {} [client saw: {}]",
                        path.failures.join("; "),
                        path.seen.join(", ")
                    ));
                }
            }
        }
        println!(
            "  {:<18} {:>2} calls  {:>3} paths  {}",
            format!("{use_case:?}"),
            calls.len(),
            calls.len() * 4 + 1,
            calls.join(" > ")
        );
        for f in failed {
            println!("    FAILED {f}");
        }
    }
    (total, passed, cells)
}

#[derive(Clone, Copy, Debug)]
enum Race {
    /// Ten initializes of one file with one fingerprint.
    FingerprintTen,
    CompleteComplete,
    CompleteAbort,
    CompleteCleanup,
    InitializeAtLimitAbort,
}

const RACES: [Race; 5] = [
    Race::FingerprintTen,
    Race::CompleteComplete,
    Race::CompleteAbort,
    Race::CompleteCleanup,
    Race::InitializeAtLimitAbort,
];

async fn fingerprint_race(seed: u64) -> Result<(), String> {
    let world = World::new(&[]);
    world.faults.interleave(Some(seed));
    world
        .racing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let ports = world.ports();
    let all = (0..10).map(|_| initialize::initialize(ports, &world.config, fingerprinted()));
    let answers = futures_join_all(all).await;
    world.faults.interleave(None);
    let mut ids = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for answer in answers {
        match answer {
            Ok(done) => {
                ids.insert(done.record.upload_id);
            }
            Err(e) => problems.push(format!("an initialize failed: {e}")),
        }
    }
    let usage = world.records.usage(USER);
    if ids.len() != 1 || usage.active_uploads != 1 || world.objects.uploads().len() != 1 {
        problems.push(format!(
            "{} uploads answered, quota {usage:?}, {} multipart uploads",
            ids.len(),
            world.objects.uploads().len()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Polls every future in turn until all are done (the fakes yield at each call, so they interleave).
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

async fn race(kind: Race, seed: u64) -> Result<(), String> {
    if let Race::FingerprintTen = kind {
        return fingerprint_race(seed).await;
    }
    let limit = match kind {
        Race::InitializeAtLimitAbort => "1",
        _ => "3",
    };
    let world = World::new(&[("MAX_ACTIVE_UPLOADS_PER_USER", limit)]);
    let ports = world.ports();
    let config = &world.config;
    let record = initialize::initialize(ports, config, new_upload())
        .await
        .map_err(|e| e.to_string())?
        .record;
    put_parts(&world, &record, |_| true);
    let mut rng = Rng::new(seed);
    if let Race::CompleteCleanup = kind {
        // A completion whose function died, maybe after storage completed.
        let mut stuck = record.clone();
        stuck.status = Status::Completing;
        stuck.completing_since = Some(world.time_now());
        world.records.overwrite(stuck);
        if rng.below(2) == 0 {
            world.objects.complete_raw(&record.s3_upload_id);
        }
        world.time.advance(config.completing_stale_secs as i64 + 1);
    }
    world.faults.interleave(Some(seed));
    world
        .racing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let id = record.upload_id.as_str();
    let complete = || async { call(&world, UseCase::Complete, id, None).await };
    let (a, b) = match kind {
        Race::CompleteComplete => tokio::join!(complete(), complete()),
        Race::CompleteAbort => tokio::join!(complete(), call(&world, UseCase::Abort, id, None)),
        Race::CompleteCleanup => tokio::join!(complete(), call(&world, UseCase::Cleanup, "", None)),
        Race::InitializeAtLimitAbort => tokio::join!(
            call(&world, UseCase::Initialize, "", None),
            call(&world, UseCase::Abort, id, None)
        ),
        Race::FingerprintTen => unreachable!("raced above"),
    };
    world.faults.interleave(None);
    let a = a.map_err(ApiError::from);
    let b = b.map_err(ApiError::from);
    let describe = |r: &Result<Reply, ApiError>| match r {
        Ok(reply) => format!("ok {}", reply_name(reply)),
        Err(e) => format!("{} {}", e.status().as_u16(), e.code()),
    };
    let outcome = format!("{} / {}", describe(&a), describe(&b));
    let status = world.records.record(id).map(|r| r.status);
    let object = world.objects.object(&record.key);
    let mut problems = Vec::new();
    for r in [&a, &b] {
        if let Err(e) = r {
            if e.status().is_server_error() {
                problems.push(format!("a server error {}", e.code()));
            }
        }
    }
    if object.is_some() != (status == Some(Status::Completed)) {
        problems.push(format!("object {object:?} but record {status:?}"));
    }
    match kind {
        Race::CompleteComplete => {
            let etags: Vec<_> = [&a, &b]
                .iter()
                .filter_map(|r| match r {
                    Ok(Reply::Completed(rec)) => rec.completion.as_ref().map(|c| c.etag.clone()),
                    _ => None,
                })
                .collect();
            if etags.len() != 2 || etags[0] != etags[1] {
                problems.push("both completes must answer the one object".into());
            }
        }
        Race::CompleteAbort => {
            let completed = matches!(a, Ok(Reply::Completed(_)));
            let aborted = matches!(b, Ok(Reply::Aborted(Status::Aborted)));
            if completed == aborted {
                problems.push("exactly one of complete and abort must win".into());
            }
            if completed && status != Some(Status::Completed)
                || aborted && status != Some(Status::Aborted)
            {
                problems.push(format!("the record says {status:?}"));
            }
        }
        Race::CompleteCleanup => {
            if !matches!(a, Ok(Reply::Completed(_))) {
                problems.push("the client's complete must finish the upload".into());
            }
        }
        Race::FingerprintTen => {}
        Race::InitializeAtLimitAbort => {
            if !matches!(b, Ok(Reply::Aborted(_))) {
                problems.push("the abort must succeed".into());
            }
            match &a {
                Ok(Reply::Initialized(_)) => {}
                Err(e) if e.code() == "QUOTA_EXCEEDED" => {}
                _ => problems.push("initialize must start an upload or answer 429".into()),
            }
            // No multipart upload left behind by a refused initialize, right away.
            let records = world.records.all();
            for (s3_id, _) in world.objects.uploads() {
                if !records
                    .iter()
                    .any(|r| r.s3_upload_id == s3_id && r.status == Status::Initiated)
                {
                    problems.push(format!("multipart upload {s3_id} has no live record"));
                }
            }
        }
    }
    let unfinished: Vec<UploadRecord> = world
        .records
        .all()
        .into_iter()
        .filter(|r| matches!(r.status, Status::Initiated | Status::Completing))
        .collect();
    let usage = world.records.usage(USER);
    if usage.active_uploads != unfinished.len() as i64 {
        problems.push(format!(
            "quota {usage:?} for {} unfinished uploads",
            unfinished.len()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{outcome}: {}", problems.join("; ")))
    }
}

async fn races() -> (usize, usize) {
    let replay: Option<u64> = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let base = replay.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let seeds: Vec<u64> = match replay {
        Some(seed) => vec![seed],
        None => (0..100).map(|i| base.wrapping_add(i)).collect(),
    };
    println!(
        "races: {} pairs x {} seeds from FAULT_SEED={base} (set FAULT_SEED to replay one)",
        RACES.len(),
        seeds.len()
    );
    let (mut total, mut passed) = (0, 0);
    for kind in RACES {
        for &seed in &seeds {
            total += 1;
            match race(kind, seed).await {
                Ok(()) => passed += 1,
                Err(problem) => println!("  FAILED {kind:?} FAULT_SEED={seed}: {problem}"),
            }
        }
    }
    (total, passed)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let started = std::time::Instant::now();
    let (paths, paths_passed, cells) = runtime.block_on(matrix());
    println!(
        "matrix: {} use cases x their calls x {} fault kinds = {cells} fault paths (+{} fault-free)",
        USE_CASES.len(),
        FAULT_KINDS.len(),
        USE_CASES.len()
    );
    let (raced, races_passed) = runtime.block_on(races());
    let total = paths + raced;
    let passed = paths_passed + races_passed;
    println!("in {:.1} s", started.elapsed().as_secs_f64());
    println!("fault-matrix: {passed} passed, {} failed", total - passed);
    if passed != total {
        std::process::exit(1);
    }
}
