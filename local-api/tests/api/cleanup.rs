//! The scheduled cleanup against the local S3 and DynamoDB (moto: s3s-fs has no
//! ListMultipartUploads). Time moves with the stack's clock.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::cleanup::{self, Limits, Summary};
use upload_contract::{UploadId, UploadStatus};

use testkit::*;

const DAY: i64 = 24 * 3600;

async fn multipart_uploads(stack: &Stack) -> BTreeSet<String> {
    stack.open_multiparts().await.into_iter().collect()
}

fn limits(max_aborts: usize) -> Limits {
    Limits {
        max_aborts,
        deadline: Instant::now() + Duration::from_secs(60),
    }
}

async fn put_first_part(stack: &Stack, user: &str, id: &UploadId, file: &[u8]) {
    let urls = stack.urls(user, id, 1, 1).await;
    stack.upload_parts(&urls, file, file.len(), &[1]).await;
}

#[tokio::test]
async fn cleanup_aborts_exactly_the_stale_and_orphaned_uploads() {
    let stack = Stack::start(S3Server::Moto).await;
    let user = "jack";
    let small = file_bytes(100, 41);

    // Stale: started eight days ago (uploads live seven), one with a part stored.
    let mut stale = Vec::new();
    for i in 0..3 {
        let init = stack.begin(user, &format!("stale{i}.mp4"), 100).await;
        if i == 0 {
            put_first_part(&stack, user, &init.upload_id, &small).await;
        }
        stale.push(init);
    }
    // Completed back then: must stay untouched.
    let done = stack.begin(user, "done.mp4", 100).await;
    let done_id = &done.upload_id;
    put_first_part(&stack, user, done_id, &small).await;
    stack.complete(user, done_id, None).await.unwrap();
    // Orphan: a multipart upload in S3 with no record at all.
    let orphan_key = format!("uploads/ghost/{}/lost.mp4", uuid::Uuid::new_v4());
    stack.orphan_multipart(&orphan_key).await;

    stack.deps.clock.advance(8 * DAY);
    // Live: started now.
    let live = stack.begin(user, "live.mp4", 100).await;
    let live_id = &live.upload_id;

    let before = multipart_uploads(&stack).await;
    assert_eq!(before.len(), 5, "{before:?}");
    let summary = cleanup::run(&stack.deps, &limits(100)).await;
    assert_eq!(
        summary,
        Summary {
            found: 3,
            expired: 3,
            aborted: 3,
            orphans_aborted: 1,
            aws_calls: summary.aws_calls,
            ..Summary::default()
        }
    );
    let after = multipart_uploads(&stack).await;
    assert_eq!(after, BTreeSet::from([live.key.as_str().to_owned()]));
    for init in &stale {
        let status = stack.status(user, &init.upload_id).await.unwrap();
        assert_eq!(status.status, UploadStatus::Expired);
    }

    // The completed object is untouched and the live upload still completes.
    assert_eq!(stack.read_object(done.key.as_str()).await, small);
    put_first_part(&stack, user, live_id, &small).await;
    stack.complete(user, live_id, None).await.unwrap();

    // A second run finds nothing to do.
    let again = cleanup::run(&stack.deps, &limits(100)).await;
    assert_eq!(
        (
            again.found,
            again.aborted,
            again.orphans_aborted,
            again.errors
        ),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_run_is_bounded_and_the_next_one_goes_on() {
    let stack = Stack::start(S3Server::Moto).await;
    for i in 0..5 {
        stack.begin("kate", &format!("s{i}.mp4"), 100).await;
    }
    stack.deps.clock.advance(8 * DAY);
    stack.deps.metrics.capture();
    let first = cleanup::run(&stack.deps, &limits(2)).await;
    assert_eq!((first.aborted, first.incomplete), (2, true), "{first:?}");
    // A lower bound: what was seen on pages read but not taken on (shards whose pages the run did
    // not read are not counted).
    assert!(first.left <= 3, "{first:?}");
    let second = cleanup::run(&stack.deps, &limits(100)).await;
    assert_eq!(
        (second.aborted, second.left, second.incomplete),
        (3, 0, false),
        "{second:?}"
    );
    // The backlog is in the function's output: its EMF lines and its summary log line.
    let backlog: Vec<(f64, f64, f64, f64, f64)> = stack
        .deps
        .metrics
        .captured()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|doc| doc["Function"] == cleanup::FUNCTION_NAME)
        .map(|doc| {
            let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            let value = |name: &str| {
                assert!(names.contains(&name), "{name} is declared: {doc}");
                doc[name].as_f64().unwrap_or(-1.0)
            };
            (
                value("CleanupFound"),
                value("CleanupAborted"),
                value("CleanupLeft"),
                value("CleanupIncomplete"),
                value("UploadsExpired"),
            )
        })
        .collect();
    assert_eq!(
        backlog,
        [
            (2.0, 2.0, first.left as f64, 1.0, 2.0),
            (3.0, 3.0, 0.0, 0.0, 3.0)
        ],
        "found, aborted, left, incomplete, expired per run"
    );
    assert!(
        logs().contains(&format!("left={}", first.left)),
        "the summary line says what is left"
    );
    assert!(multipart_uploads(&stack).await.is_empty());
    let third = cleanup::run(&stack.deps, &limits(100)).await;
    assert_eq!((third.found, third.aborted), (0, 0));
}

#[tokio::test]
async fn a_late_complete_racing_the_cleanup_has_one_outcome() {
    let stack = std::sync::Arc::new(
        Stack::start_with(S3Server::Moto, |v| {
            v.insert("UPLOAD_TTL_SECONDS".into(), "2".into());
        })
        .await,
    );
    let file = file_bytes(100, 42);
    let mut outcomes = BTreeSet::new();
    for _ in 0..4 {
        let init = stack.begin("liam", "race.mp4", 100).await;
        let id = init.upload_id;
        put_first_part(&stack, "liam", &id, &file).await;
        // Let the upload reach its expiry while both race.
        tokio::time::sleep(Duration::from_millis(1900)).await;
        let completer = {
            let stack = stack.clone();
            tokio::spawn(async move { stack.complete("liam", &id, None).await })
        };
        let sweeper = {
            let stack = stack.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                cleanup::run(&stack.deps, &limits(100)).await
            })
        };
        let answer = completer.await.unwrap();
        let summary = sweeper.await.unwrap();
        assert_eq!(summary.errors, 0);
        let record = stack.record(&id).await;
        let object = stack
            .deps
            .objects
            .head(&init.key.as_str().into())
            .await
            .unwrap();
        match answer {
            Ok(done) => {
                assert_eq!(record.status, shared::domain::Status::Completed, "{done:?}");
                assert_eq!(object.map(|head| head.size), Some(100));
                outcomes.insert("completed");
            }
            Err(refused) if refused.status == 410 => {
                assert_eq!(
                    record.status,
                    shared::domain::Status::Expired,
                    "{refused:?}"
                );
                assert!(object.is_none(), "an expired upload left an object");
                outcomes.insert("expired");
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(
            multipart_uploads(&stack)
                .await
                .iter()
                .all(|key| key != init.key.as_str()),
            "no parts left behind either way"
        );
    }
    assert!(!outcomes.is_empty());
}

#[tokio::test]
async fn the_sample_event_drives_the_real_entry_point() {
    let stack = Stack::start(S3Server::Moto).await;
    stack.begin("mona", "s.mp4", 100).await;
    stack.deps.clock.advance(8 * DAY);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/cleanup-stale-uploads-scheduled.json");
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(payload["detail-type"], "Scheduled Event");
    let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
    let summary = cleanup::handle(&stack.deps, event)
        .await
        .expect("the sweep succeeds");
    assert_eq!((summary.found, summary.aborted, summary.errors), (1, 1, 0));
}
