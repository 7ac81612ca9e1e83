//! Seeded random interleavings of racing requests (`FAULT_SEED=N` replays one).

use std::future::Future;
use std::task::Poll;

use shared::domain::Status;
use shared::domain::UploadRecord;
use shared::error::ApiError;
use shared::usecases::initialize;
use support::{Rng, World};

use super::*;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Race {
    /// Ten initializes of one file with one fingerprint.
    FingerprintTen,
    CompleteComplete,
    CompleteAbort,
    CompleteCleanup,
    InitializeAtLimitAbort,
}

pub(crate) const RACES: [Race; 5] = [
    Race::FingerprintTen,
    Race::CompleteComplete,
    Race::CompleteAbort,
    Race::CompleteCleanup,
    Race::InitializeAtLimitAbort,
];

pub(crate) async fn fingerprint_race(seed: u64) -> Result<(), String> {
    let world = World::new(&[]);
    world.faults.interleave(Some(seed));
    world
        .racing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let ports = world.ports();
    let all = (0..10).map(|_| initialize::initialize(ports, &world.config, fingerprinted(), None));
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
pub(crate) async fn futures_join_all<F: Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
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

pub(crate) async fn race(kind: Race, seed: u64) -> Result<(), String> {
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
    let record = initialize::initialize(ports, config, new_upload(), None)
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
            // The abort wins with the record ABORTED, or EXPIRED when its storage abort beat a
            // completion that began after its read (that completion then settles it as lost).
            let completed = matches!(a, Ok(Reply::Completed(_)));
            let aborted = matches!(b, Ok(Reply::Aborted(Status::Aborted | Status::Expired)));
            if completed == aborted {
                problems.push("exactly one of complete and abort must win".into());
            }
            let answered = match &b {
                Ok(Reply::Aborted(said)) => Some(*said),
                _ => None,
            };
            if completed && status != Some(Status::Completed) || aborted && status != answered {
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

pub(crate) async fn races() -> (usize, usize) {
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
