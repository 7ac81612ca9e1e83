//! Per-user rate limits: one user past a limit gets 429 `RATE_LIMITED` with `Retry-After` (the
//! seconds left in the minute), while another user's requests in the same minute pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testkit::*;

/// Waits for a fresh minute when too little of this one is left for the test to fit in it.
async fn within_one_minute(needed_secs: u64) {
    let into = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into + needed_secs >= 60 {
        tokio::time::sleep(Duration::from_secs(60 - into) + Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_burst_from_one_user_gets_429_with_retry_after_while_another_user_passes() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("RATE_LIMIT_REQUESTS_PER_MINUTE".into(), "10".into());
        v.insert("RATE_LIMIT_URLS_PER_MINUTE".into(), "0".into());
    })
    .await;
    within_one_minute(20).await;
    let init = stack.begin("greedy", "a.mp4", 100).await; // request 1
    let id = &init.upload_id;
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(stack.presign("greedy", id, 1).await);
    }
    let passed = answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(passed, 9, "10 requests a minute: initialize and 9 more");
    for answer in &answers[9..] {
        let refused = answer.clone().refused();
        assert_eq!(refused, (429, "RATE_LIMITED"), "{refused:?}");
        let secs = refused.retry_after.expect("429 carries Retry-After");
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
    }
    // Another user, same minute: unaffected.
    let other = stack.begin("patient", "b.mp4", 100).await;
    let other_id = &other.upload_id;
    for _ in 0..5 {
        stack.presign("patient", other_id, 1).await.unwrap();
    }
    // Every endpoint counts, GETs too.
    let refused = stack.status("greedy", id).await.refused();
    assert_eq!(refused.status, 429);
}

#[tokio::test]
async fn part_urls_are_limited_per_user_and_minute() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("RATE_LIMIT_REQUESTS_PER_MINUTE".into(), "0".into());
        v.insert("MAX_PARTS_PER_BATCH".into(), "3".into());
        v.insert("RATE_LIMIT_URLS_PER_MINUTE".into(), "5".into());
    })
    .await;
    within_one_minute(20).await;
    let init = stack.begin("greedy", "a.mp4", 3 * MIB * 5).await;
    let id = &init.upload_id;
    let batch = batch_request(id, 1, 3);
    stack.batch("greedy", &batch).await.unwrap();
    // 3 + 3 > 5: refused whole, nothing counted; 3 + 2 fits.
    let refused = stack.batch("greedy", &batch).await.refused();
    assert_eq!(refused, (429, "RATE_LIMITED"), "{refused:?}");
    assert!(refused.retry_after.is_some());
    stack
        .batch("greedy", &batch_request(id, 2, 3))
        .await
        .unwrap();
    let refused = stack.presign("greedy", id, 1).await.refused();
    assert_eq!(refused.status, 429);
    // Other endpoints are not URL-limited, and another user still gets URLs.
    stack.status("greedy", id).await.unwrap();
    let other = stack.begin("patient", "b.mp4", 3 * MIB * 5).await;
    let other_id = &other.upload_id;
    stack
        .batch("patient", &batch_request(other_id, 1, 3))
        .await
        .unwrap();
}

/// What the counter adds to a request: p50/p90 of 200 sequential `presigned-url` requests with
/// the limits off and on, same stack (printed; BENCHMARKS.md quotes it).
#[tokio::test]
async fn the_counter_s_added_latency_is_one_write() {
    use std::time::Instant;
    let mut report = Vec::new();
    for (label, requests, urls) in [("off", "0", "0"), ("on", "1000000", "1000000")] {
        let stack = Stack::start_with(S3Server::Moto, |v| {
            v.insert("RATE_LIMIT_REQUESTS_PER_MINUTE".into(), requests.into());
            v.insert("RATE_LIMIT_URLS_PER_MINUTE".into(), urls.into());
        })
        .await;
        let init = stack.begin("timer", "a.mp4", 100).await;
        let mut times = Vec::new();
        for _ in 0..200 {
            let started = Instant::now();
            let answer = stack.presign("timer", &init.upload_id, 1).await;
            times.push(started.elapsed());
            answer.unwrap();
        }
        times.sort();
        report.push((label, times[100], times[180]));
    }
    for (label, p50, p90) in &report {
        eprintln!("rate limits {label:>3}: presigned-url p50 {p50:.2?} p90 {p90:.2?}");
    }
}
