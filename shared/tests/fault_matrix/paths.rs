//! The paths: every use case, every external call it makes, each fault; then the client's retries
//! and the cleanup.

use shared::domain::Status;
use shared::domain::UploadRecord;
use shared::ports::PartRef;
use shared::usecases::{complete, initialize};
use support::{Fault, World, FAULT_KINDS};

use super::*;

/// The world before the faulted call: an upload with every part (or some) stored, or for the
/// cleanup every state it must deal with.
pub(crate) async fn prepare(world: &World, use_case: UseCase) -> Option<UploadRecord> {
    let ports = world.ports();
    let start = || async {
        initialize::initialize(ports, &world.config, new_upload(), None)
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
        UseCase::Abort
        | UseCase::ListParts
        | UseCase::Status
        | UseCase::Presign
        | UseCase::ListUploads => {
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
            let holding = complete::begin(ports, &world.config, &done.upload_id, &USER.into())
                .await
                .expect("set-up claim");
            complete::complete(ports, &world.config, holding, None, None)
                .await
                .expect("set-up complete");
            let lost = start().await;
            world.objects.lose(&lost.s3_upload_id);
            world.time.advance(past_every_window(world));
            None
        }
    }
}

pub(crate) trait Now {
    fn time_now(&self) -> i64;
}

impl Now for World {
    fn time_now(&self) -> i64 {
        use shared::ports::Time;
        self.time.now()
    }
}

/// Retries `use_case` as a phone does while the answers say retrying helps.
pub(crate) async fn retry(
    world: &World, path: &mut Path, use_case: UseCase, upload_id: &str,
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
pub(crate) async fn run_path(use_case: UseCase, fault: Option<Fault>) -> (Path, Vec<&'static str>) {
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
        UseCase::ListParts | UseCase::Status | UseCase::Presign | UseCase::ListUploads => {
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
            if !declared(function).iter().any(|d| operation(d) == op) {
                path.fail(format!(
                    "{function} called {op}, which its operations (and so its IAM policy) lack"
                ));
            }
        }
    }
    (path, calls)
}

pub(crate) async fn matrix() -> (usize, usize, usize) {
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
