//! Resume by fingerprint: an app that lost everything but the file asks to initialize it again and
//! gets its unfinished upload back, with the parts storage already holds.

use shared::ports::QuotaUsage;
use upload_contract::InitializeResponse;

use testkit::*;

/// Initializes `match.mp4` of `size` bytes with `fingerprint` (201 new, 200 resumed).
async fn initialize_fp(
    stack: &Stack, user: &str, size: usize, fingerprint: &str,
) -> Answer<InitializeResponse> {
    let mut request = video("match.mp4", size);
    request.fingerprint = Some(fingerprint.to_owned());
    stack.initialize(user, &request).await
}

#[tokio::test]
async fn the_same_file_resumes_its_unfinished_upload() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "fp-alice";
    let size = 12 * MIB;
    let file = file_bytes(size, 21);
    let first = initialize_fp(&stack, user, size, "match.mp4|12582912|1700000000")
        .await
        .unwrap();
    assert!(!first.resumed, "201, a new upload: {first:?}");
    let id = &first.upload_id;
    let chunk = first.chunk_size as usize;
    let urls = stack.urls(user, id, 1, 1).await;
    stack.upload_parts(&urls, &file, chunk, &[1]).await;

    // The app was reinstalled: same file, same fingerprint, no upload id.
    let again = initialize_fp(&stack, user, size, "match.mp4|12582912|1700000000")
        .await
        .unwrap();
    assert!(again.resumed, "200, resumed: {again:?}");
    assert_eq!(&again.upload_id, id);
    assert_eq!(again.key, first.key);
    let held: Vec<u32> = again
        .parts
        .iter()
        .flatten()
        .map(|p| p.part_number)
        .collect();
    assert_eq!(held, vec![1]);
    let usage = stack.deps.records.quota_usage(&user.into()).await.unwrap();
    assert_eq!(usage.active_uploads, 1, "no second quota reservation");

    // Another size, or another user with the same fingerprint: a new upload.
    let other_size = initialize_fp(&stack, user, size + 1, "match.mp4|12582912|1700000000")
        .await
        .unwrap();
    assert!(!other_size.resumed);
    assert_ne!(&other_size.upload_id, id);
    let other_user = initialize_fp(&stack, "fp-mallory", size, "match.mp4|12582912|1700000000")
        .await
        .unwrap();
    assert!(!other_user.resumed);
    assert_ne!(&other_user.upload_id, id);

    // Finish it (the rest of the parts, then complete): the next initialize starts afresh.
    let total = first.total_parts;
    let urls = stack.urls(user, id, 2, total).await;
    let rest: Vec<u32> = (2..=total).collect();
    stack.upload_parts(&urls, &file, chunk, &rest).await;
    stack.complete(user, id, None).await.unwrap();
    assert_eq!(stack.read_object(first.key.as_str()).await, file);
    let fresh = initialize_fp(&stack, user, size, "match.mp4|12582912|1700000000")
        .await
        .unwrap();
    assert!(!fresh.resumed, "201, a new upload: {fresh:?}");
    assert_ne!(&fresh.upload_id, id);
}

#[tokio::test]
async fn ten_concurrent_initializes_of_one_file_start_one_upload() {
    let stack = std::sync::Arc::new(Stack::start(S3Server::Moto).await);
    let user = "fp-bob";
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move { initialize_fp(&stack, user, 7 * MIB, "same-file").await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        // 201 or 200, as `resumed` says (checked by the typed call).
        let answer = task.await.unwrap().unwrap();
        created += usize::from(!answer.resumed);
        ids.insert(answer.upload_id);
    }
    assert_eq!((ids.len(), created), (1, 1), "one upload, started once");
    assert_eq!(
        stack.deps.records.quota_usage(&user.into()).await.unwrap(),
        QuotaUsage {
            active_uploads: 1,
            bytes_in_flight: 7 * MIB as i64
        }
    );
    let uploads = stack.open_multiparts().await;
    assert_eq!(
        uploads.len(),
        1,
        "the losers' multipart uploads were aborted"
    );
}

#[tokio::test]
async fn a_fingerprint_must_be_short_and_not_blank() {
    let stack = Stack::start(S3Server::Moto).await;
    for bad in [String::new(), "  ".into(), "x".repeat(129)] {
        let refused = initialize_fp(&stack, "fp-carol", 10, &bad).await.refused();
        assert_eq!(refused, (400, "INVALID_FINGERPRINT"));
    }
}
