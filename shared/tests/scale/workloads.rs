//! The workloads.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::cleanup::Limits;
use shared::domain::{Status, UploadRecord};
use shared::Endpoint;
use support::Rng;
use tokio::time::Instant;

use super::*;

// ---------------------------------------------------------------------------------------------
// The workloads.

/// Offers `rate` uploads/s of `size` for `seconds`, spread over `users`; the uploads/s completed.
pub(crate) async fn offer(
    sim: &Arc<Sim>, rate: u64, seconds: u64, users: u64, size: u64, seed: u64,
) -> f64 {
    let mut rng = Rng::new(seed);
    let mut tasks = Vec::new();
    let per_ms = rate as f64 / 1_000.0;
    let mut owed = 0.0;
    for _ in 0..seconds * 1_000 {
        owed += per_ms;
        while owed >= 1.0 {
            owed -= 1.0;
            let user = format!("user-{}", rng.below(users));
            let sim = sim.clone();
            tasks.push(tokio::spawn(async move { sim.upload(&user, size).await }));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        sim.deps.metrics.clear_captured();
    }
    let mut completed = 0;
    for task in tasks {
        if task.await.unwrap_or(false) {
            completed += 1;
        }
    }
    completed as f64 / seconds as f64
}

/// Workload 1: steps of offered uploads/s; the highest step that completes 99% with no 5xx.
pub(crate) async fn ramp(front: Front, label: &str, sizes: &Sizes) -> Report {
    let steps = if front.lambda_concurrency == DEFAULTS.lambda_concurrency {
        sizes.default_steps
    } else {
        sizes.raised_steps
    };
    let mut best = 0.0;
    let mut lines = vec![
        String::new(),
        "| offered uploads/s | completed/s | 429 | 5xx |".into(),
        "|---:|---:|---:|---:|".into(),
    ];
    let mut last = None;
    for (i, &rate) in steps.iter().enumerate() {
        let sim = Sim::new(front, &[], 11 + i as u64).await;
        let done = offer(
            &sim,
            rate,
            sizes.step_secs,
            sizes.users,
            sizes.file_size,
            100 + i as u64,
        )
        .await;
        let (r429, r5xx) = (sim.count(|s| s == 429), sim.count(|s| s >= 500));
        lines.push(format!("| {rate} | {done:.0} | {r429} | {r5xx} |"));
        if done >= rate as f64 * 0.99 && r5xx == 0 {
            best = done;
            last = Some(sim);
        } else {
            last.get_or_insert(sim);
            break;
        }
    }
    let sim = last.expect("at least one step ran");
    let mut report = Report::of(&sim, format!("Workload 1: ramp, {label}"), best);
    report.extra = lines;
    report
}

/// Every endpoint once, as a phone calls them, for the round-trip budgets of all eight: a whole
/// upload (initialize, a batch of URLs, the parts, complete), then a second upload's part URL,
/// parts, status, the listing, and its abort.
pub(crate) async fn tour() -> Report {
    let sim = Sim::new(RAISED, &[], 41).await;
    let user = "tourist";
    let completed = sim.upload(user, 64 << 20).await;
    let (_, init) = sim
        .call(
            Endpoint::Initialize,
            user,
            Some(json!({"fileName": "b.mp4", "fileType": "video/mp4", "fileSize": 64 << 20})),
            "",
        )
        .await;
    let id = init["uploadId"].as_str().unwrap_or_default().to_owned();
    let in_path = format!("uploadId={id}");
    let one_url = json!({"uploadId": id, "partNumber": 1});
    sim.call(Endpoint::PresignedUrl, user, Some(one_url), "")
        .await;
    sim.call(Endpoint::ListParts, user, None, &in_path).await;
    sim.call(Endpoint::Status, user, None, &in_path).await;
    sim.call(Endpoint::ListUploads, user, None, "").await;
    sim.call(Endpoint::Abort, user, Some(json!({"uploadId": id})), "")
        .await;
    let mut report = Report::of(&sim, "Workload 0: every endpoint once", 0.0);
    if !completed {
        report.extra.push(
            "
the whole upload did not complete"
                .into(),
        );
    }
    report
}

/// Workload 2: one user starts `n` uploads at the same instant.
pub(crate) async fn burst(n: u64) -> Report {
    let sim = Sim::new(RAISED, &[], 21).await;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let sim = sim.clone();
            tokio::spawn(async move { sim.upload("one-user", 64 << 20).await })
        })
        .collect();
    let mut completed = 0u64;
    for task in tasks {
        completed += u64::from(task.await.unwrap_or(false));
    }
    let mut report = Report::of(
        &sim,
        format!("Workload 2: one user starts {n} uploads at once"),
        0.0,
    );
    report.extra.push(format!(
        "\n{completed} of {n} uploads completed; the rest were refused with the 4xx codes above."
    ));
    report
}

/// Workload 3: many uploads/s across many users, account limits raised.
pub(crate) async fn steady(sizes: &Sizes) -> Report {
    let sim = Sim::new(RAISED, &[], 31).await;
    let (rate, users) = (sizes.steady_rate, sizes.users);
    let done = offer(&sim, rate, sizes.step_secs, users, sizes.file_size, 300).await;
    Report::of(
        &sim,
        format!(
            "Workload 3: {rate} uploads/s of {} MiB across {users} users",
            sizes.file_size >> 20
        ),
        done,
    )
}

/// Workload 4: the cleanup drains `n` stale uploads.
pub(crate) async fn drain(n: u64) -> Report {
    let sim = Sim::new(RAISED, &[], 41).await;
    let now = sim.deps.clock.epoch_secs();
    for i in 0..n {
        let owner = format!("user-{}", i % 1_000);
        let upload_id = uuid::Uuid::new_v4().hyphenated().to_string();
        let key = format!("uploads/{owner}/{upload_id}/v.mp4");
        let s3_upload_id = sim.objects.fake.create_raw(&key);
        sim.records.fake.put_raw(UploadRecord {
            upload_id: upload_id.into(),
            owner: owner.into(),
            key: key.into(),
            s3_upload_id: s3_upload_id.into(),
            file_name: "v.mp4".into(),
            file_type: "video/mp4".into(),
            file_size: GIB,
            part_size: 8 << 20,
            total_parts: 128,
            checksum_algorithm: None,
            metadata: Default::default(),
            status: Status::Initiated,
            created_at: now - 8 * 86_400,
            expires_at: now - 86_400,
            ttl: now + 30 * 86_400,
            completing_since: None,
            completion: None,
        });
    }
    let begun = Instant::now();
    let mut runs = 0;
    let mut expired = 0;
    // One run of the cleanup function: a 300 s timeout, stopping 10 s early.
    while expired < n && runs < 100 {
        runs += 1;
        let limits = Limits {
            max_aborts: usize::MAX,
            deadline: std::time::Instant::now() + Duration::from_secs(3_600),
        };
        let summary = shared::cleanup::run(&sim.deps, &limits).await;
        expired += summary.aborted + summary.already_gone;
        sim.deps.metrics.clear_captured();
    }
    let seconds = begun.elapsed().as_secs_f64();
    let quota_left: i64 = (0..1_000)
        .map(|i| sim.records.fake.usage(&format!("user-{i}")).active_uploads)
        .sum();
    let mut report = Report::of(
        &sim,
        format!("Workload 4: the cleanup drains {n} stale uploads"),
        0.0,
    );
    report.stale_quota = quota_left;
    report.extra.push(format!(
        "\n{expired} expired and aborted in {runs} run(s), {seconds:.1} virtual seconds: {:.0} uploads/s drained \
         ({} shards, {} at once, {} uploads at once per shard); quota still counted afterwards: {quota_left}.",
        expired as f64 / seconds.max(1e-9),
        sim.records.fake.shards,
        shared::usecases::cleanup::SHARDS_AT_ONCE,
        shared::usecases::cleanup::UPLOADS_AT_ONCE,
    ));
    report.uploads_per_sec = expired as f64 / seconds.max(1e-9);
    report
}

/// A listing page of 40 unfinished uploads makes at most 8 storage calls.
pub(crate) async fn listing_budget() -> usize {
    let sim = Sim::new(RAISED, &[], 51).await;
    for i in 0..40 {
        let (status, _) = sim
            .call(
                Endpoint::Initialize,
                "lister",
                Some(json!({"fileName": format!("f{i}.mp4"), "fileType": "video/mp4", "fileSize": 1 << 20})),
                "",
            )
            .await;
        assert_eq!(status, 201);
    }
    let before = sim.model.calls("ListParts");
    let (status, body) = sim
        .call(Endpoint::ListUploads, "lister", None, "limit=100")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["uploads"].as_array().map(Vec::len), Some(40));
    (sim.model.calls("ListParts") - before) as usize
}
