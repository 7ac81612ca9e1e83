//! A bounded soak: many concurrent small uploads through the local API, each going through
//! initialize, batch URLs, PUT and then complete, abort or a resume (list parts, then complete),
//! while the cleanup runs in a loop with a one-second stale window. It must end with no 5xx, no
//! lost object and no leaked quota. `SOAK_UPLOADS` (default 200) sets the size. It prints its
//! throughput and each endpoint's p50/p99 (on moto, whose DynamoDB applies one call at a time,
//! so the latencies are mostly queueing behind 200 concurrent phones).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::cleanup::{self, Limits};
use shared::ports::QuotaUsage;

use testkit::*;

const USERS: usize = 20;

#[derive(Default)]
struct Timings(Mutex<BTreeMap<&'static str, Vec<Duration>>>);

impl Timings {
    async fn time<T>(
        &self, endpoint: &'static str, call: impl std::future::Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let out = call.await;
        self.0
            .lock()
            .unwrap()
            .entry(endpoint)
            .or_default()
            .push(started.elapsed());
        out
    }
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Completed { key: String, size: usize },
    Aborted,
}

/// One phone's upload; every status it sees is returned for the 5xx count.
async fn one_upload(stack: &Stack, timings: &Timings, i: usize) -> (End, Vec<u16>) {
    let user = format!("soak-{}", i % USERS);
    let user = user.as_str();
    let size = 1000 + i * 7;
    let file = file_bytes(size, i as u64);
    let mut seen = Vec::new();
    let init = timings
        .time(
            "initialize",
            stack.initialize(user, &video(&format!("s{i}.bin"), size)),
        )
        .await;
    seen.push(status_of(&init, 201));
    let init = init.unwrap();
    let id = &init.upload_id;
    let urls = timings
        .time("batch-presigned-urls", stack.urls(user, id, 1, 1))
        .await;
    let (status, _) = timings.time("PUT part", stack.put(&urls[&1], &file)).await;
    seen.push(status);
    match i % 5 {
        0 => {
            let aborted = timings.time("abort", stack.abort(user, id)).await;
            seen.push(status_of(&aborted, 200));
            aborted.unwrap();
            (End::Aborted, seen)
        }
        kind => {
            if kind == 1 {
                // Resume: what does storage hold?
                let held = timings.time("parts", stack.parts(user, id)).await;
                seen.push(status_of(&held, 200));
                assert_eq!(held.unwrap().parts.len(), 1);
            }
            let done = timings
                .time("complete", stack.complete(user, id, None))
                .await;
            seen.push(status_of(&done, 200));
            let done = done.unwrap();
            let status = timings.time("status", stack.status(user, id)).await;
            seen.push(status_of(&status, 200));
            (
                End::Completed {
                    key: done.key.as_str().to_owned(),
                    size,
                },
                seen,
            )
        }
    }
}

/// The status an answer came with: `success` (what the typed call checked), or the refusal's.
fn status_of<T>(answer: &Answer<T>, success: u16) -> u16 {
    answer
        .as_ref()
        .map_or_else(|refused| refused.status, |_| success)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_ends_with_no_5xx_no_lost_object_and_no_leaked_quota() {
    let uploads: usize = std::env::var("SOAK_UPLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let stack = Arc::new(
        Stack::start_with(S3Server::Moto, |v| {
            v.insert("COMPLETING_STALE_SECONDS".into(), "1".into());
        })
        .await,
    );
    let timings = Arc::new(Timings::default());
    let done = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let (stack, done) = (stack.clone(), done.clone());
        tokio::spawn(async move {
            let mut runs = 0;
            while !done.load(Ordering::SeqCst) {
                let limits = Limits {
                    max_aborts: 1000,
                    deadline: Instant::now() + Duration::from_secs(30),
                };
                let summary = cleanup::run(&stack.deps, &limits).await;
                assert_eq!(summary.errors, 0, "{summary:?}");
                runs += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            runs
        })
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..uploads)
        .map(|i| {
            let (stack, timings) = (stack.clone(), timings.clone());
            tokio::spawn(async move { one_upload(&stack, &timings, i).await })
        })
        .collect();
    let mut ends = Vec::new();
    for task in tasks {
        ends.push(task.await.expect("an upload task panicked"));
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let sweeps = sweeper.await.expect("the cleanup loop panicked");

    let server_errors: usize = ends
        .iter()
        .flat_map(|(_, seen)| seen)
        .filter(|s| **s >= 500)
        .count();
    assert_eq!(server_errors, 0, "5xx answers during the soak");
    let mut completed = 0;
    for (end, _) in &ends {
        if let End::Completed { key, size } = end {
            let head = stack.deps.objects.head(&key.as_str().into()).await.unwrap();
            assert_eq!(
                head.map(|h| h.size),
                Some(*size as u64),
                "lost object {key}"
            );
            completed += 1;
        }
    }
    for user in 0..USERS {
        let usage = stack
            .deps
            .records
            .quota_usage(&format!("soak-{user}").into())
            .await
            .unwrap();
        assert_eq!(usage, QuotaUsage::default(), "leaked quota of soak-{user}");
    }
    let left = stack.open_multiparts().await;
    assert!(left.is_empty(), "multipart uploads left: {}", left.len());

    // Written to the stream itself, so the figures show in `make test` (print! is captured).
    let mut report = String::new();
    report.push_str(&format!(
        "soak: {uploads} uploads ({completed} completed, {} aborted) in {:.1} s, {:.0} uploads/s, \
         {sweeps} cleanup runs alongside, 0 5xx, 0 lost objects, 0 leaked quota\n",
        uploads - completed,
        elapsed.as_secs_f64(),
        uploads as f64 / elapsed.as_secs_f64()
    ));
    for (endpoint, times) in timings.0.lock().unwrap().iter_mut() {
        times.sort();
        report.push_str(&format!(
            "  {endpoint:<22} n={:<5} p50={:>7.1} ms  p99={:>7.1} ms\n",
            times.len(),
            percentile(times, 0.5).as_secs_f64() * 1000.0,
            percentile(times, 0.99).as_secs_f64() * 1000.0
        ));
    }
    use std::io::Write;
    let _ = std::io::stderr().write_all(report.as_bytes());
}
