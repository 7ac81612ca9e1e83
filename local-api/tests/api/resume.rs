//! Resume by fingerprint: an app that lost everything but the file asks to initialize it again and
//! gets its unfinished upload back, with the parts storage already holds.

use serde_json::{json, Value};
use shared::ports::QuotaUsage;

use crate::harness::*;

async fn initialize_fp(stack: &Stack, user: &str, size: usize, fingerprint: &str) -> (u16, Value) {
    stack
        .post(
            Some(user),
            "/initialize",
            &json!({ "fileName": "match.mp4", "fileType": "video/mp4", "fileSize": size,
                     "fingerprint": fingerprint }),
        )
        .await
}

#[tokio::test]
async fn the_same_file_resumes_its_unfinished_upload() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "fp-alice";
    let size = 12 * MIB;
    let file = file_bytes(size, 21);
    let (status, first) = initialize_fp(&stack, user, size, "match.mp4|12582912|1700000000").await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["resumed"], false);
    let id = first["uploadId"].as_str().unwrap();
    let chunk = first["chunkSize"].as_u64().unwrap() as usize;
    let urls = stack.urls(user, id, 1, 1).await;
    stack.upload_parts(&urls, &file, chunk, &[1]).await;

    // The app was reinstalled: same file, same fingerprint, no upload id.
    let (status, again) = initialize_fp(&stack, user, size, "match.mp4|12582912|1700000000").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["resumed"], true);
    assert_eq!(again["uploadId"], id);
    assert_eq!(again["key"], first["key"]);
    let held: Vec<u64> = again["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PartNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(held, vec![1]);
    let usage = stack.deps.records.quota_usage(user).await.unwrap();
    assert_eq!(usage.active_uploads, 1, "no second quota reservation");

    // Another size, or another user with the same fingerprint: a new upload.
    let (status, other_size) =
        initialize_fp(&stack, user, size + 1, "match.mp4|12582912|1700000000").await;
    assert_eq!(status, 201);
    assert_ne!(other_size["uploadId"], id);
    let (status, other_user) =
        initialize_fp(&stack, "fp-mallory", size, "match.mp4|12582912|1700000000").await;
    assert_eq!(status, 201);
    assert_ne!(other_user["uploadId"], id);

    // Finish it (the rest of the parts, then complete): the next initialize starts afresh.
    let total = first["totalParts"].as_u64().unwrap() as u32;
    let urls = stack.urls(user, id, 2, total).await;
    let rest: Vec<u32> = (2..=total).collect();
    stack.upload_parts(&urls, &file, chunk, &rest).await;
    let (status, body) = stack
        .post(Some(user), "/complete", &json!({ "uploadId": id }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        stack.read_object(first["key"].as_str().unwrap()).await,
        file
    );
    let (status, fresh) = initialize_fp(&stack, user, size, "match.mp4|12582912|1700000000").await;
    assert_eq!(status, 201, "{fresh}");
    assert_ne!(fresh["uploadId"], id);
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
        let (status, body) = task.await.unwrap();
        assert!(status == 200 || status == 201, "{status} {body}");
        created += usize::from(status == 201);
        ids.insert(body["uploadId"].as_str().unwrap().to_owned());
    }
    assert_eq!((ids.len(), created), (1, 1), "one upload, started once");
    assert_eq!(
        stack.deps.records.quota_usage(user).await.unwrap(),
        QuotaUsage {
            active_uploads: 1,
            bytes_in_flight: 7 * MIB as i64
        }
    );
    let (uploads, _) = stack
        .deps
        .objects
        .multipart_uploads("uploads/", None)
        .await
        .unwrap();
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
        let (status, body) = initialize_fp(&stack, "fp-carol", 10, &bad).await;
        assert_eq!((status, code(&body)), (400, "INVALID_FINGERPRINT"));
    }
}
