//! Per-user rate limits: one user past a limit gets 429 `RATE_LIMITED` with `Retry-After` (the
//! seconds left in the minute), while another user's requests in the same minute pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

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

/// `POST` answering the status, `Retry-After` and body.
async fn post(stack: &Stack, user: &str, path: &str, body: &Value) -> (u16, Option<u64>, Value) {
    let response = stack
        .http
        .post(format!("{}{path}", stack.base))
        .header("x-user-id", user)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry_after, response.json().await.unwrap())
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
    let ask = json!({ "uploadId": id, "partNumber": 1 });
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(post(&stack, "greedy", "/presigned-url", &ask).await);
    }
    let passed = answers.iter().filter(|(s, _, _)| *s == 200).count();
    assert_eq!(passed, 9, "10 requests a minute: initialize and 9 more");
    for (status, retry_after, body) in &answers[9..] {
        assert_eq!((*status, code(body)), (429, "RATE_LIMITED"), "{body}");
        let secs = retry_after.expect("429 carries Retry-After");
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
    }
    // Another user, same minute: unaffected.
    let other = stack.begin("patient", "b.mp4", 100).await;
    let other_id = &other.upload_id;
    for _ in 0..5 {
        let (status, _, body) = post(
            &stack,
            "patient",
            "/presigned-url",
            &json!({ "uploadId": other_id, "partNumber": 1 }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
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
    let batch = json!({ "uploadId": id, "startPart": 1, "endPart": 3 });
    let (status, _, body) = post(&stack, "greedy", "/batch-presigned-urls", &batch).await;
    assert_eq!(status, 200, "{body}");
    // 3 + 3 > 5: refused whole, nothing counted; 3 + 2 fits.
    let (status, retry_after, body) = post(&stack, "greedy", "/batch-presigned-urls", &batch).await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
    assert!(retry_after.is_some());
    let two = json!({ "uploadId": id, "startPart": 2, "endPart": 3 });
    let (status, _, body) = post(&stack, "greedy", "/batch-presigned-urls", &two).await;
    assert_eq!(status, 200, "{body}");
    let one = json!({ "uploadId": id, "partNumber": 1 });
    let (status, _, _) = post(&stack, "greedy", "/presigned-url", &one).await;
    assert_eq!(status, 429);
    // Other endpoints are not URL-limited, and another user still gets URLs.
    stack.status("greedy", id).await.unwrap();
    let other = stack.begin("patient", "b.mp4", 3 * MIB * 5).await;
    let other_id = &other.upload_id;
    let (status, _, body) = post(
        &stack,
        "patient",
        "/batch-presigned-urls",
        &json!({ "uploadId": other_id, "startPart": 1, "endPart": 3 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
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
        let ask = json!({ "uploadId": init.upload_id, "partNumber": 1 });
        let mut times = Vec::new();
        for _ in 0..200 {
            let started = Instant::now();
            let (status, _) = stack.post(Some("timer"), "/presigned-url", &ask).await;
            times.push(started.elapsed());
            assert_eq!(status, 200);
        }
        times.sort();
        report.push((label, times[100], times[180]));
    }
    for (label, p50, p90) in &report {
        eprintln!("rate limits {label:>3}: presigned-url p50 {p50:.2?} p90 {p90:.2?}");
    }
}
