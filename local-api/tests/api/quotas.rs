//! Per-user quotas: enforced atomically in DynamoDB, released by complete, abort and expiry.

use std::sync::Arc;

use shared::domain::Transition;
use upload_contract::InitializeResponse;

use testkit::*;

/// Initializes `q.mp4` of `size` bytes as `user`.
async fn initialize(stack: &Stack, user: &str, size: usize) -> Answer<InitializeResponse> {
    stack.initialize(user, &video("q.mp4", size)).await
}

#[tokio::test]
async fn active_upload_limit_is_enforced_and_released() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_ACTIVE_UPLOADS_PER_USER".into(), "2".into());
    })
    .await;
    let first = stack.begin("dave", "a.mp4", 100).await;
    let second = stack.begin("dave", "b.mp4", 100).await;
    let refused = initialize(&stack, "dave", 100).await.refused();
    assert_eq!(refused, (429, "QUOTA_EXCEEDED"), "{refused:?}");
    // Another user is not affected.
    stack.begin("erin", "c.mp4", 100).await;

    // Aborting releases a share...
    stack.abort("dave", &first.upload_id).await.unwrap();
    stack.begin("dave", "d.mp4", 100).await;
    // ...and a repeated abort does not release it twice.
    stack.abort("dave", &first.upload_id).await.unwrap();
    let refused = initialize(&stack, "dave", 100).await.refused();
    assert_eq!(refused.status, 429);

    // Completing releases one too.
    let id = &second.upload_id;
    let urls = stack.urls("dave", id, 1, 1).await;
    stack
        .upload_parts(&urls, &file_bytes(100, 1), 100, &[1])
        .await;
    stack.complete("dave", id, None).await.unwrap();
    stack.complete("dave", id, None).await.unwrap();
    stack.begin("dave", "e.mp4", 100).await;
    let refused = initialize(&stack, "dave", 100).await.refused();
    assert_eq!(
        refused.status, 429,
        "repeated complete released the share only once"
    );
}

#[tokio::test]
async fn bytes_in_flight_limit_is_enforced() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_BYTES_IN_FLIGHT_PER_USER".into(), "1000".into());
    })
    .await;
    let refused = initialize(&stack, "frank", 1001).await.refused();
    assert_eq!(refused, (429, "QUOTA_EXCEEDED"), "{refused:?}");
    stack.begin("frank", "a.mp4", 600).await;
    let refused = initialize(&stack, "frank", 401).await.refused();
    assert_eq!(refused.status, 429);
    stack.begin("frank", "b.mp4", 400).await;
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
                let answer = initialize(&stack, "gina", 100).await;
                answer.map_or_else(|refused| refused.status, |_| 201)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
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
    let init = stack.begin("hank", "a.mp4", 100).await;
    stack.deps.clock.advance(8 * 24 * 3600);
    let now = stack.deps.clock.epoch_secs();
    let id = &init.upload_id;
    let record = stack.record(id).await;
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
    stack.begin("hank", "b.mp4", 100).await;
}
