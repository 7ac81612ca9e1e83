//! Per-user quotas: enforced atomically in DynamoDB, released by complete, abort and expiry.

use std::sync::Arc;

use serde_json::json;

use crate::harness::*;
use shared::domain::Transition;

fn init_body(size: usize) -> serde_json::Value {
    json!({ "fileName": "q.mp4", "fileType": "video/mp4", "fileSize": size })
}

#[tokio::test]
async fn active_upload_limit_is_enforced_and_released() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_ACTIVE_UPLOADS_PER_USER".into(), "2".into());
    })
    .await;
    let first = stack.initialize("dave", "a.mp4", 100).await;
    let second = stack.initialize("dave", "b.mp4", 100).await;
    let (status, body) = stack
        .post(Some("dave"), "/initialize", &init_body(100))
        .await;
    assert_eq!((status, code(&body)), (429, "QUOTA_EXCEEDED"), "{body}");
    // Another user is not affected.
    stack.initialize("erin", "c.mp4", 100).await;

    // Aborting releases a share...
    let (status, _) = stack
        .post(
            Some("dave"),
            "/abort",
            &json!({ "uploadId": first["uploadId"] }),
        )
        .await;
    assert_eq!(status, 200);
    stack.initialize("dave", "d.mp4", 100).await;
    // ...and a repeated abort does not release it twice.
    let (status, _) = stack
        .post(
            Some("dave"),
            "/abort",
            &json!({ "uploadId": first["uploadId"] }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = stack
        .post(Some("dave"), "/initialize", &init_body(100))
        .await;
    assert_eq!(status, 429);

    // Completing releases one too.
    let id = second["uploadId"].as_str().unwrap();
    let urls = stack.urls("dave", id, 1, 1).await;
    stack
        .upload_parts(&urls, &file_bytes(100, 1), 100, &[1])
        .await;
    let (status, _) = stack
        .post(Some("dave"), "/complete", &json!({ "uploadId": id }))
        .await;
    assert_eq!(status, 200);
    let (status, _) = stack
        .post(Some("dave"), "/complete", &json!({ "uploadId": id }))
        .await;
    assert_eq!(status, 200);
    stack.initialize("dave", "e.mp4", 100).await;
    let (status, _) = stack
        .post(Some("dave"), "/initialize", &init_body(100))
        .await;
    assert_eq!(
        status, 429,
        "repeated complete released the share only once"
    );
}

#[tokio::test]
async fn bytes_in_flight_limit_is_enforced() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_BYTES_IN_FLIGHT_PER_USER".into(), "1000".into());
    })
    .await;
    let (status, body) = stack
        .post(Some("frank"), "/initialize", &init_body(1001))
        .await;
    assert_eq!((status, code(&body)), (429, "QUOTA_EXCEEDED"), "{body}");
    stack.initialize("frank", "a.mp4", 600).await;
    let (status, _) = stack
        .post(Some("frank"), "/initialize", &init_body(401))
        .await;
    assert_eq!(status, 429);
    stack.initialize("frank", "b.mp4", 400).await;
}

#[tokio::test]
async fn concurrent_initializes_cannot_slip_past_the_limit() {
    let stack = Arc::new(
        Stack::start_with(S3Server::Moto, |v| {
            v.insert("MAX_ACTIVE_UPLOADS_PER_USER".into(), "3".into());
        })
        .await,
    );
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move {
                stack
                    .post(Some("gina"), "/initialize", &init_body(100))
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap().0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn expiry_releases_the_share() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_ACTIVE_UPLOADS_PER_USER".into(), "1".into());
    })
    .await;
    let init = stack.initialize("hank", "a.mp4", 100).await;
    stack.deps.clock.advance(8 * 24 * 3600);
    let now = stack.deps.clock.epoch_secs();
    let id = init["uploadId"].as_str().unwrap();
    let record = stack.deps.records.get(id).await.unwrap().unwrap();
    let expire = Transition::Expire { now };
    assert!(stack
        .deps
        .records
        .transition(&record, &expire)
        .await
        .unwrap());
    assert!(
        !stack
            .deps
            .records
            .transition(&record, &expire)
            .await
            .unwrap(),
        "only once"
    );
    stack.initialize("hank", "b.mp4", 100).await;
}
