//! The states a crashed function or a vanished multipart upload leaves, made real on the local
//! stack (written straight through the adapters, as the dead function would have), then driven
//! through the API as a phone would: every one of them converges.

use std::time::{Duration, Instant};

use shared::cleanup::{self, Limits};
use shared::domain::record::Transition;
use shared::domain::{Status, UploadRecord};
use shared::ports::{Expected, PartRef, QuotaUsage};
use upload_contract::{UploadId, UploadStatus};

use testkit::*;

const CHUNK: usize = 5 * MIB;

fn limits() -> Limits {
    Limits {
        max_aborts: 1000,
        deadline: Instant::now() + Duration::from_secs(60),
    }
}

async fn record(stack: &Stack, id: &UploadId) -> UploadRecord {
    stack.record(id).await
}

async fn usage(stack: &Stack, user: &str) -> QuotaUsage {
    stack.deps.records.quota_usage(&user.into()).await.unwrap()
}

/// An upload of `file` with every part stored; its id, key and the parts' ETags.
async fn uploaded(stack: &Stack, user: &str, file: &[u8]) -> (UploadId, String, Vec<PartRef>) {
    let init = stack.begin(user, "match.mp4", file.len()).await;
    let id = init.upload_id;
    let total = init.total_parts;
    let urls = stack.urls(user, &id, 1, total).await;
    let numbers: Vec<u32> = (1..=total).collect();
    let parts = part_refs(stack.upload_parts(&urls, file, CHUNK, &numbers).await);
    (id, init.key.as_str().to_owned(), parts)
}

/// What a complete leaves when its function dies after taking the upload into COMPLETING and,
/// if `storage_completed`, after storage completed it too.
async fn die_while_completing(
    stack: &Stack, id: &UploadId, parts: &[PartRef], storage_completed: bool,
) {
    let held = record(stack, id).await;
    let now = stack.deps.clock.epoch_secs();
    let begin = Transition::BeginCompleting {
        now,
        stale_before: now - stack.deps.config.completing_stale_secs as i64,
    };
    assert!(stack.deps.records.transition(&held, &begin).await.unwrap());
    if storage_completed {
        stack
            .deps
            .objects
            .complete(
                &held.key,
                &held.s3_upload_id,
                parts,
                Expected {
                    size: held.file_size,
                    checksum: None,
                    whole_file: None,
                },
            )
            .await
            .expect("storage completes");
    }
}

async fn completes_after_a_crash_past_storage(server: S3Server) {
    let stack = Stack::start(server).await;
    let user = "crash-after-storage";
    let file = file_bytes(7 * MIB, 11);
    let (id, key, parts) = uploaded(&stack, user, &file).await;
    die_while_completing(&stack, &id, &parts, true).await;

    // Within the window a complete reports the completion in progress and says when to retry.
    assert_eq!(record(&stack, &id).await.status, Status::Completing);
    stack
        .deps
        .clock
        .advance(stack.deps.config.completing_stale_secs as i64 + 1);
    // Past it, the next complete takes over, finds the object and finishes the record.
    let done = stack.complete(user, &id, None).await.unwrap();
    assert_eq!(done.key.as_str(), key.as_str());
    assert_eq!(done.size, file.len() as u64);
    assert_eq!(stack.read_object(&key).await, file);
    let status = stack.status(user, &id).await.unwrap();
    assert_eq!(status.status, UploadStatus::Completed);
    assert_eq!(usage(&stack, user).await, QuotaUsage::default());
    // Abort of a completed upload is refused, and the object stays.
    let refused = stack.abort(user, &id).await.refused();
    assert_eq!(refused, (409, "UPLOAD_COMPLETED"), "{refused:?}");
    assert_eq!(stack.read_object(&key).await, file);
}

#[tokio::test]
async fn a_complete_that_died_after_storage_completed_is_finished_by_the_next_one() {
    completes_after_a_crash_past_storage(S3Server::Moto).await;
}

#[tokio::test]
async fn a_complete_that_died_after_storage_completed_is_finished_on_strict_s3() {
    completes_after_a_crash_past_storage(S3Server::S3sFs).await;
}

#[tokio::test]
async fn the_cleanup_settles_completions_whose_function_died() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "crash-cleanup";
    let file = file_bytes(6 * MIB, 12);
    let (done_id, done_key, done_parts) = uploaded(&stack, user, &file).await;
    die_while_completing(&stack, &done_id, &done_parts, true).await;
    let (open_id, open_key, open_parts) = uploaded(&stack, user, &file).await;
    die_while_completing(&stack, &open_id, &open_parts, false).await;

    stack
        .deps
        .clock
        .advance(stack.deps.config.completing_stale_secs as i64 + 1);
    let summary = cleanup::run(&stack.deps, &limits()).await;
    assert_eq!((summary.reconciled, summary.errors), (2, 0), "{summary:?}");
    // The one storage completed is COMPLETED; the other is INITIATED again and still completes.
    assert_eq!(record(&stack, &done_id).await.status, Status::Completed);
    assert_eq!(stack.read_object(&done_key).await, file);
    assert_eq!(record(&stack, &open_id).await.status, Status::Initiated);
    assert_eq!(
        usage(&stack, user).await,
        QuotaUsage {
            active_uploads: 1,
            bytes_in_flight: file.len() as i64
        }
    );
    stack.complete(user, &open_id, None).await.unwrap();
    assert_eq!(stack.read_object(&open_key).await, file);
    assert_eq!(usage(&stack, user).await, QuotaUsage::default());
}

#[tokio::test]
async fn an_upload_whose_parts_storage_dropped_ends_cleanly() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "lifecycle";
    let file = file_bytes(100, 13);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let init = stack.begin(user, "a.mp4", file.len()).await;
        let id = init.upload_id;
        let urls = stack.urls(user, &id, 1, 1).await;
        stack.upload_parts(&urls, &file, file.len(), &[1]).await;
        // A lifecycle rule (or an earlier abort) drops the multipart upload behind the record's back.
        let held = record(&stack, &id).await;
        stack
            .deps
            .objects
            .abort(&held.key, &held.s3_upload_id)
            .await
            .unwrap();
        ids.push(id);
    }
    assert_eq!(usage(&stack, user).await.active_uploads, 2);

    // Complete: storage has neither the parts nor an object, so the upload is expired for good.
    let refused = stack.complete(user, &ids[0], None).await.refused();
    assert_eq!(refused, (410, "UPLOAD_EXPIRED"), "{refused:?}");
    let status = stack.status(user, &ids[0]).await.unwrap();
    assert_eq!(status.status, UploadStatus::Expired);
    // Abort ends the other one cleanly.
    let aborted = stack.abort(user, &ids[1]).await.unwrap();
    assert_eq!(aborted.status, UploadStatus::Aborted);
    assert_eq!(usage(&stack, user).await, QuotaUsage::default());
}

#[tokio::test]
async fn the_cleanup_gives_back_what_a_dead_initialize_held() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "dead-initialize";
    // Died after writing the record, before answering: the client never learned the id, and the
    // rollback never ran. Its multipart upload may be gone already.
    let now = stack.deps.clock.epoch_secs();
    let ghost_id = uuid::Uuid::new_v4().to_string();
    let ghost = UploadRecord {
        upload_id: ghost_id.clone().into(),
        owner: user.into(),
        key: format!("uploads/{user}/{ghost_id}/ghost.mp4").into(),
        s3_upload_id: "never-created".into(),
        file_name: "ghost.mp4".into(),
        file_type: "video/mp4".into(),
        metadata: Default::default(),
        file_size: 1234,
        part_size: CHUNK as u64,
        total_parts: 1,
        checksum_algorithm: None,
        status: Status::Initiated,
        created_at: now,
        expires_at: now + stack.deps.config.upload_ttl_secs as i64,
        ttl: now + 2 * stack.deps.config.upload_ttl_secs as i64,
        completing_since: None,
        completion: None,
    };
    let quota = shared::usecases::initialize::quota(&stack.deps.config);
    assert!(stack.deps.records.create(&ghost, quota).await.unwrap());
    // Died after creating the multipart upload, before writing the record: an orphan.
    let orphan_key = format!("uploads/{user}/{}/orphan.mp4", uuid::Uuid::new_v4());
    stack.orphan_multipart(&orphan_key).await;
    assert_eq!(usage(&stack, user).await.active_uploads, 1);

    stack.deps.clock.advance(8 * 24 * 3600);
    let summary = cleanup::run(&stack.deps, &limits()).await;
    assert_eq!(summary.errors, 0, "{summary:?}");
    let ghost_id: UploadId = ghost_id.parse().unwrap();
    assert_eq!(record(&stack, &ghost_id).await.status, Status::Expired);
    assert_eq!(usage(&stack, user).await, QuotaUsage::default());
    let left = stack.open_multiparts().await;
    assert!(left.is_empty(), "left behind: {left:?}");
}
