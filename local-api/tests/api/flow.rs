//! The upload flow end to end: real bytes PUT to presigned URLs, the object read back and compared.

use serde_json::json;
use upload_contract::UploadStatus;

use testkit::*;

const USER: &str = "alice";
/// Two full 5 MiB parts and a short last one.
const SIZE: usize = 2 * 5 * MIB + 123_457;

async fn full_upload(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 1);
    let init = stack.begin(USER, "../../holiday video.mp4", SIZE).await;
    let id = &init.upload_id;
    let key = init.key.as_str();
    assert_eq!(init.total_parts, 3);
    assert_eq!(init.chunk_size, 5 * MIB as u64);
    assert_eq!(key, format!("uploads/{USER}/{id}/holiday_video.mp4"));
    assert!(init.expires_at.ends_with('Z'));

    let urls = stack.urls(USER, id, 1, 3).await;
    let parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2, 3]).await;
    let done = stack
        .complete_with(
            USER,
            &upload_contract::CompleteRequest {
                upload_id: *id,
                key: Some(init.key.clone()),
                parts: Some(completed(&parts)),
                checksum: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(done.key, init.key);
    assert_eq!(done.size, SIZE as u64);
    assert!(done.etag.as_deref().unwrap().len() > 2);

    let stored = stack.read_object(key).await;
    assert_eq!(stored.len(), SIZE);
    assert_eq!(sha256(&stored), sha256(&file));

    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.status, UploadStatus::Completed);
    assert_eq!(status.uploaded_bytes, SIZE as u64);
    assert_eq!(status.uploaded_parts, 3);
    assert_eq!(status.etag, done.etag);

    // A repeated complete (the phone lost the first answer) gets the same answer.
    let again = stack.complete(USER, id, Some(&parts)).await.unwrap();
    assert_eq!(again, done);

    let refused = stack.presign(USER, id, 1).await.refused();
    assert_eq!(refused, (409, "UPLOAD_COMPLETED"));
}

per_server!(full_upload: full_upload_on_moto => Moto, full_upload_on_strict_s3 => S3sFs);

async fn resume(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 3);
    let init = stack.begin(USER, "resume.mp4", SIZE).await;
    let id = &init.upload_id;
    let urls = stack.urls(USER, id, 1, 3).await;
    let mut parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 3]).await;

    // The app was killed: it asks what storage already holds.
    let listed = stack.parts(USER, id).await.unwrap();
    let held: Vec<(u32, u64)> = listed
        .parts
        .iter()
        .map(|p| (p.part_number, p.size))
        .collect();
    assert_eq!(held, vec![(1, 5 * MIB as u64), (3, 123_457)]);
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.status, UploadStatus::Initiated);
    assert_eq!(status.uploaded_parts, 2);
    assert_eq!(status.uploaded_bytes, 5 * MIB as u64 + 123_457);

    // Fresh URLs after the restart, then the missing part only.
    let urls = stack.urls(USER, id, 2, 2).await;
    parts.extend(stack.upload_parts(&urls, &file, 5 * MIB, &[2]).await);
    parts.sort();
    let client_parts = match server {
        // Without ETags: the server reads them from S3 (s3s-fs's ListParts has none).
        S3Server::Moto | S3Server::LocalStack => None,
        S3Server::S3sFs => Some(parts.as_slice()),
    };
    stack.complete(USER, id, client_parts).await.unwrap();
    stack.assert_stored(init.key.as_str(), &file).await;
}

per_server!(resume: resume_on_moto_completes_without_etags => Moto, resume_on_strict_s3 => S3sFs);

async fn abort(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 4);
    let init = stack.begin(USER, "abort.mp4", SIZE).await;
    let id = &init.upload_id;
    let urls = stack.urls(USER, id, 1, 3).await;
    stack.upload_parts(&urls, &file, 5 * MIB, &[1]).await;

    let aborted = stack.abort(USER, id).await.unwrap();
    assert_eq!(aborted.status, UploadStatus::Aborted, "{aborted:?}");
    let again = stack.abort(USER, id).await;
    assert!(again.is_ok(), "abort is idempotent: {again:?}");

    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.status, UploadStatus::Aborted);
    let refused = stack.batch(USER, &batch_request(id, 1, 3)).await.refused();
    assert_eq!(refused, (409, "UPLOAD_ABORTED"));
    let refused = stack.complete(USER, id, None).await.refused();
    assert_eq!(refused, (409, "UPLOAD_ABORTED"));
    let (status, _) = stack.put(&urls[&2], &file[5 * MIB..10 * MIB]).await;
    assert!(
        !(200..300).contains(&status),
        "a URL of an aborted upload must not store bytes ({status})"
    );
}

per_server!(abort: abort_on_moto => Moto, abort_on_strict_s3 => S3sFs);

async fn missing_part_is_named_and_upload_still_finishes(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 5);
    let init = stack.begin(USER, "gap.mp4", SIZE).await;
    let id = &init.upload_id;
    let urls = stack.urls(USER, id, 1, 3).await;
    let mut parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 3]).await;

    let refused = stack.complete(USER, id, Some(&parts)).await.refused();
    assert_eq!(refused, (400, "MISSING_PARTS"), "{refused:?}");
    assert!(refused.message.contains("part 2"), "{refused:?}");

    // A part of the wrong size: its URL is signed for the planned length, so strict storage refuses
    // it at the PUT; moto does not check signatures, and complete names it (the second line).
    let (status, _) = stack.put(&urls[&2], &file[5 * MIB..6 * MIB]).await;
    match server {
        S3Server::S3sFs | S3Server::LocalStack => {
            assert!(put_refused(status), "a short part is refused, got {status}")
        }
        S3Server::Moto => {
            assert_eq!(status, 200);
            let refused = stack.complete(USER, id, None).await.refused();
            assert_eq!(refused, (400, "PART_SIZE_MISMATCH"), "{refused:?}");
            assert!(
                refused.message.contains("part 2 is 1048576 bytes"),
                "{refused:?}"
            );
        }
    }

    parts.extend(stack.upload_parts(&urls, &file, 5 * MIB, &[2]).await);
    parts.sort();
    stack.complete(USER, id, Some(&parts)).await.unwrap();
    stack.assert_stored(init.key.as_str(), &file).await;
}

per_server!(
    missing_part_is_named_and_upload_still_finishes:
    missing_part_on_moto => Moto,
    missing_part_on_strict_s3 => S3sFs,
);

#[tokio::test]
async fn wrong_etag_is_refused_and_upload_stays_resumable() {
    let stack = Stack::start(S3Server::Moto).await;
    let file = file_bytes(6 * MIB, 6);
    let init = stack.begin(USER, "etag.mp4", file.len()).await;
    let id = &init.upload_id;
    let urls = stack.urls(USER, id, 1, 2).await;
    let parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2]).await;
    let mut wrong = parts.clone();
    wrong[1].1 = "\"0123456789abcdef0123456789abcdef\"".into();
    let refused = stack.complete(USER, id, Some(&wrong)).await.refused();
    assert_eq!(refused, (400, "ETAG_MISMATCH"), "{refused:?}");
    assert!(refused.message.contains("part 2"));
    stack.complete(USER, id, Some(&parts)).await.unwrap();
}

#[tokio::test]
async fn concurrent_completes_give_one_result() {
    let stack = std::sync::Arc::new(Stack::start(S3Server::Moto).await);
    let file = file_bytes(SIZE, 7);
    let init = stack.begin(USER, "race.mp4", SIZE).await;
    let id = init.upload_id;
    let urls = stack.urls(USER, &id, 1, 3).await;
    stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2, 3]).await;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move { stack.complete(USER, &id, None).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0], "every complete gets the same answer");
    }
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    stack.assert_stored(init.key.as_str(), &file).await;
}

#[tokio::test]
async fn expired_upload_is_gone_everywhere() {
    let stack = Stack::start(S3Server::Moto).await;
    let init = stack.begin(USER, "old.mp4", 100).await;
    let id = &init.upload_id;
    stack.deps.clock.advance(8 * 24 * 3600);
    let refused = stack.presign(USER, id, 1).await.refused();
    assert_eq!(refused, (410, "UPLOAD_EXPIRED"));
    let refused = stack.complete(USER, id, None).await.refused();
    assert_eq!(refused, (410, "UPLOAD_EXPIRED"));
    let refused = stack.parts(USER, id).await.refused();
    assert_eq!(refused, (410, "UPLOAD_EXPIRED"));
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.status, UploadStatus::Expired);
}

#[tokio::test]
async fn urls_never_outlive_the_upload() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("UPLOAD_TTL_SECONDS".into(), "600".into());
        v.insert("PRESIGNED_URL_TTL_SECONDS".into(), "3600".into());
    })
    .await;
    let init = stack.begin(USER, "short.mp4", 100).await;
    let answer = stack.presign(USER, &init.upload_id, 1).await.unwrap();
    assert_eq!(answer.expires_at, init.expires_at);
    let url = &answer.url.presigned_url;
    let expires: u64 = url
        .split("X-Amz-Expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((598..=600).contains(&expires), "X-Amz-Expires={expires}");
}

#[tokio::test]
async fn other_users_and_anonymous_callers_get_nothing() {
    let stack = Stack::start(S3Server::Moto).await;
    let init = stack.begin(USER, "private.mp4", 100).await;
    let id = &init.upload_id;
    let missing = upload_contract::UploadId::new_v4();

    for (who, target) in [("mallory", id), ("mallory", &missing), (USER, &missing)] {
        let answers = [
            stack.presign(who, target, 1).await.map(|_| ()),
            stack
                .batch(who, &batch_request(target, 1, 1))
                .await
                .map(|_| ()),
            stack.complete(who, target, None).await.map(|_| ()),
            stack.abort(who, target).await.map(|_| ()),
            stack.parts(who, target).await.map(|_| ()),
            stack.status(who, target).await.map(|_| ()),
        ];
        for answer in answers {
            let refused = answer.refused();
            assert_eq!(refused.status, 404, "{who} on {target}: {refused:?}");
            assert_eq!(
                refused.body,
                json!({ "error": { "code": "UPLOAD_NOT_FOUND", "message": "no upload with this uploadId exists for the caller" } })
            );
        }
    }

    // No identity, or a blank one: sent raw, since the typed calls always name a user.
    let anonymous = [
        stack
            .post(
                None,
                "/initialize",
                &json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": 1 }),
            )
            .await,
        stack
            .post(
                None,
                "/presigned-url",
                &json!({ "uploadId": id, "partNumber": 1 }),
            )
            .await,
        stack
            .post(
                None,
                "/batch-presigned-urls",
                &json!({ "uploadId": id, "startPart": 1, "endPart": 1 }),
            )
            .await,
        stack
            .post(None, "/complete", &json!({ "uploadId": id }))
            .await,
        stack.post(None, "/abort", &json!({ "uploadId": id })).await,
        stack.get(None, &format!("/parts/{id}")).await,
        stack.get(None, &format!("/status/{id}")).await,
        stack
            .post(Some("  "), "/abort", &json!({ "uploadId": id }))
            .await,
    ];
    for (status, body) in anonymous {
        assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("x-user-id header"), "{body}");
    }

    // The owner's upload is untouched by all of that.
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.status, UploadStatus::Initiated);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_FILE_SIZE".into(), "1073741824".into());
        v.insert("ALLOWED_CONTENT_TYPES".into(), "video/*".into());
        v.insert("MAX_PARTS_PER_BATCH".into(), "100".into());
    })
    .await;
    let init = stack.begin(USER, "x.mp4", 20 * MIB).await;
    let id = &init.upload_id;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/initialize", "{\"fileName\":".into(), 400, "INVALID_JSON"),
        ("/initialize", "".into(), 400, "INVALID_JSON"),
        ("/initialize", "[]".into(), 400, "INVALID_JSON"),
        ("/initialize", json!({ "fileType": "video/mp4", "fileSize": 1 }).to_string(), 400, "MISSING_FIELD"),
        ("/initialize", json!({ "fileName": 5, "fileType": "video/mp4", "fileSize": 1 }).to_string(), 400, "INVALID_FIELD"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": 0 }).to_string(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": -5 }).to_string(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": "5" }).to_string(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": 1073741825u64 }).to_string(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", "{\"fileName\":\"a\",\"fileType\":\"video/mp4\",\"fileSize\":1e300}".into(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", json!({ "fileName": "a", "fileType": "image/png", "fileSize": 1 }).to_string(), 415, "FILE_TYPE_NOT_ALLOWED"),
        ("/initialize", json!({ "fileName": "a", "fileType": "nonsense", "fileSize": 1 }).to_string(), 400, "INVALID_FILE_TYPE"),
        ("/initialize", json!({ "fileName": "a".repeat(10_000), "fileType": "video/mp4", "fileSize": 1 }).to_string(), 400, "INVALID_FILE_NAME"),
        ("/initialize", format!("{{\"fileName\":\"{}\"}}", "a".repeat(2 * MIB)), 413, "PAYLOAD_TOO_LARGE"),
        ("/presigned-url", json!({ "uploadId": id, "partNumber": 0 }).to_string(), 400, "INVALID_FIELD"),
        ("/presigned-url", json!({ "uploadId": id, "partNumber": 5 }).to_string(), 400, "INVALID_PART_NUMBER"),
        ("/presigned-url", json!({ "uploadId": id, "partNumber": 10_001 }).to_string(), 400, "INVALID_FIELD"),
        ("/presigned-url", json!({ "uploadId": "../../x", "partNumber": 1 }).to_string(), 400, "INVALID_UPLOAD_ID"),
        ("/presigned-url", json!({ "uploadId": id, "partNumber": 1, "key": "uploads/mallory/x" }).to_string(), 400, "KEY_MISMATCH"),
        ("/batch-presigned-urls", json!({ "uploadId": id, "startPart": 3, "endPart": 2 }).to_string(), 400, "INVALID_PART_RANGE"),
        ("/batch-presigned-urls", json!({ "uploadId": id, "startPart": 1, "endPart": 101 }).to_string(), 400, "BATCH_TOO_LARGE"),
        ("/batch-presigned-urls", json!({ "uploadId": id, "startPart": 1, "endPart": 5 }).to_string(), 400, "INVALID_PART_NUMBER"),
        ("/complete", json!({ "uploadId": id, "parts": [] }).to_string(), 400, "INVALID_PARTS"),
        ("/complete", json!({ "uploadId": id, "parts": [{ "PartNumber": 2, "ETag": "a" }, { "PartNumber": 1, "ETag": "b" }] }).to_string(), 400, "INVALID_PARTS"),
        ("/complete", json!({ "uploadId": id, "parts": "all" }).to_string(), 400, "INVALID_FIELD"),
        ("/complete", json!({ "uploadId": id }).to_string(), 400, "MISSING_PARTS"),
    ];
    for (path, body, status, expected) in cases {
        let (got, answer) = stack.post_raw(Some(USER), path, body.clone()).await;
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{path} {}: {answer}",
            &body[..body.len().min(120)]
        );
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (status, body) = stack.get(Some(USER), "/status/not-a-uuid").await;
    assert_eq!((status, code(&body)), (400, "INVALID_UPLOAD_ID"));
    let (status, body) = stack.get(Some(USER), "/nowhere").await;
    assert_eq!((status, code(&body)), (404, "ROUTE_NOT_FOUND"));

    // None of that hurt the upload: it still finishes.
    let file = file_bytes(20 * MIB, 8);
    let urls = stack.urls(USER, id, 1, 4).await;
    stack
        .upload_parts(&urls, &file, 5 * MIB, &[1, 2, 3, 4])
        .await;
    stack.complete(USER, id, None).await.unwrap();
    stack.assert_stored(init.key.as_str(), &file).await;
}
