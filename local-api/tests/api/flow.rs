//! The upload flow end to end: real bytes PUT to presigned URLs, the object read back and compared.

use serde_json::json;

use crate::harness::*;

const USER: &str = "alice";
/// Two full 5 MiB parts and a short last one.
const SIZE: usize = 2 * 5 * MIB + 123_457;

async fn full_upload(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 1);
    let init = stack
        .initialize(USER, "../../holiday video.mp4", SIZE)
        .await;
    let id = init["uploadId"].as_str().unwrap();
    let key = init["key"].as_str().unwrap();
    assert_eq!(init["totalParts"], 3);
    assert_eq!(init["chunkSize"], 5 * MIB);
    assert_eq!(key, format!("uploads/{USER}/{id}/holiday_video.mp4"));
    assert!(init["expiresAt"].as_str().unwrap().ends_with('Z'));

    let urls = stack.urls(USER, id, 1, 3).await;
    let parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2, 3]).await;
    let (status, done) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "key": key, "parts": parts_json(&parts) }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["key"], key);
    assert_eq!(done["size"], SIZE);
    assert!(done["etag"].as_str().unwrap().len() > 2);

    let stored = stack.read_object(key).await;
    assert_eq!(stored.len(), SIZE);
    assert_eq!(sha256(&stored), sha256(&file));

    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["uploadedBytes"], SIZE);
    assert_eq!(body["uploadedParts"], 3);
    assert_eq!(body["etag"], done["etag"]);

    // A repeated complete (the phone lost the first answer) gets the same answer.
    let (status, again) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": parts_json(&parts) }),
        )
        .await;
    assert_eq!((status, &again), (200, &done));

    let (status, body) = stack
        .post(
            Some(USER),
            "/presigned-url",
            &json!({ "uploadId": id, "partNumber": 1 }),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "UPLOAD_COMPLETED"));
}

#[tokio::test]
async fn full_upload_on_moto() {
    full_upload(S3Server::Moto).await;
}

#[tokio::test]
async fn full_upload_on_strict_s3() {
    full_upload(S3Server::Strict).await;
}

#[tokio::test]
async fn strict_s3_refuses_expired_and_tampered_urls() {
    let stack = Stack::start_with(S3Server::Strict, |v| {
        v.insert("PRESIGNED_URL_TTL_SECONDS".into(), "60".into());
    })
    .await;
    let file = file_bytes(1000, 2);
    let init = stack.initialize(USER, "a.bin", file.len()).await;
    let id = init["uploadId"].as_str().unwrap();

    // Signed two minutes in the past with a one-minute lifetime: expired when used.
    stack.deps.clock.advance(-120);
    let (status, body) = stack
        .post(
            Some(USER),
            "/presigned-url",
            &json!({ "uploadId": id, "partNumber": 1 }),
        )
        .await;
    stack.deps.clock.advance(120);
    assert_eq!(status, 200, "{body}");
    let expired = body["presignedUrl"].as_str().unwrap();
    assert_eq!(
        stack.put(expired, &file).await.0,
        403,
        "expired URL must be refused"
    );

    let url = stack.urls(USER, id, 1, 1).await.remove(&1).unwrap();
    let (prefix, signature) = url.split_once("X-Amz-Signature=").unwrap();
    let last = signature.chars().next().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = format!("{prefix}X-Amz-Signature={flipped}{}", &signature[1..]);
    assert_eq!(
        stack.put(&tampered, &file).await.0,
        403,
        "tampered URL must be refused"
    );
    let other_part = url.replace("partNumber=1", "partNumber=2");
    assert_eq!(
        stack.put(&other_part, &file).await.0,
        403,
        "URL bound to its part number"
    );

    let (status, etag) = stack.put(&url, &file).await;
    assert_eq!(status, 200, "the genuine URL works");
    let (status, body) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": [{ "PartNumber": 1, "ETag": etag.unwrap() }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sha256(&stack.read_object(init["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}

async fn resume(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 3);
    let init = stack.initialize(USER, "resume.mp4", SIZE).await;
    let id = init["uploadId"].as_str().unwrap();
    let urls = stack.urls(USER, id, 1, 3).await;
    let mut parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 3]).await;

    // The app was killed: it asks what storage already holds.
    let (status, listed) = stack.get(Some(USER), &format!("/parts/{id}")).await;
    assert_eq!(status, 200, "{listed}");
    let held: Vec<(u64, u64)> = listed["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["PartNumber"].as_u64().unwrap(),
                p["Size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(held, vec![(1, 5 * MIB as u64), (3, 123_457)]);
    let (_, status_body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!(status_body["status"], "INITIATED");
    assert_eq!(status_body["uploadedParts"], 2);
    assert_eq!(status_body["uploadedBytes"], 5 * MIB + 123_457);

    // Fresh URLs after the restart, then the missing part only.
    let urls = stack.urls(USER, id, 2, 2).await;
    parts.extend(stack.upload_parts(&urls, &file, 5 * MIB, &[2]).await);
    parts.sort();
    let request = match server {
        // Without ETags: the server reads them from S3 (s3s-fs's ListParts has none).
        S3Server::Moto | S3Server::LocalStack => json!({ "uploadId": id }),
        S3Server::Strict => json!({ "uploadId": id, "parts": parts_json(&parts) }),
    };
    let (status, body) = stack.post(Some(USER), "/complete", &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sha256(&stack.read_object(init["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}

#[tokio::test]
async fn resume_on_moto_completes_without_etags() {
    resume(S3Server::Moto).await;
}

#[tokio::test]
async fn resume_on_strict_s3() {
    resume(S3Server::Strict).await;
}

async fn abort(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 4);
    let init = stack.initialize(USER, "abort.mp4", SIZE).await;
    let id = init["uploadId"].as_str().unwrap();
    let urls = stack.urls(USER, id, 1, 3).await;
    stack.upload_parts(&urls, &file, 5 * MIB, &[1]).await;

    let (status, body) = stack
        .post(Some(USER), "/abort", &json!({ "uploadId": id }))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ABORTED")),
        "{body}"
    );
    let (status, _) = stack
        .post(Some(USER), "/abort", &json!({ "uploadId": id }))
        .await;
    assert_eq!(status, 200, "abort is idempotent");

    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ABORTED")));
    let (status, body) = stack
        .post(
            Some(USER),
            "/batch-presigned-urls",
            &json!({ "uploadId": id, "startPart": 1, "endPart": 3 }),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "UPLOAD_ABORTED"));
    let (status, body) = stack
        .post(Some(USER), "/complete", &json!({ "uploadId": id }))
        .await;
    assert_eq!((status, code(&body)), (409, "UPLOAD_ABORTED"));
    let (status, _) = stack.put(&urls[&2], &file[5 * MIB..10 * MIB]).await;
    assert!(
        !(200..300).contains(&status),
        "a URL of an aborted upload must not store bytes ({status})"
    );
}

#[tokio::test]
async fn abort_on_moto() {
    abort(S3Server::Moto).await;
}

#[tokio::test]
async fn abort_on_strict_s3() {
    abort(S3Server::Strict).await;
}

async fn missing_part_is_named_and_upload_still_finishes(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, 5);
    let init = stack.initialize(USER, "gap.mp4", SIZE).await;
    let id = init["uploadId"].as_str().unwrap();
    let urls = stack.urls(USER, id, 1, 3).await;
    let mut parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 3]).await;

    let (status, body) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": parts_json(&parts) }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "MISSING_PARTS"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("part 2"),
        "{body}"
    );

    // A part of the wrong size: its URL is signed for the planned length, so strict storage refuses
    // it at the PUT; moto does not check signatures, and complete names it (the second line).
    let (status, _) = stack.put(&urls[&2], &file[5 * MIB..6 * MIB]).await;
    match server {
        S3Server::Strict | S3Server::LocalStack => {
            assert!(refused(status), "a short part is refused, got {status}")
        }
        S3Server::Moto => {
            assert_eq!(status, 200);
            let (status, body) = stack
                .post(Some(USER), "/complete", &json!({ "uploadId": id }))
                .await;
            assert_eq!((status, code(&body)), (400, "PART_SIZE_MISMATCH"), "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("part 2 is 1048576 bytes"),
                "{body}"
            );
        }
    }

    parts.extend(stack.upload_parts(&urls, &file, 5 * MIB, &[2]).await);
    parts.sort();
    let (status, body) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": parts_json(&parts) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sha256(&stack.read_object(init["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}

#[tokio::test]
async fn missing_part_on_moto() {
    missing_part_is_named_and_upload_still_finishes(S3Server::Moto).await;
}

#[tokio::test]
async fn missing_part_on_strict_s3() {
    missing_part_is_named_and_upload_still_finishes(S3Server::Strict).await;
}

#[tokio::test]
async fn wrong_etag_is_refused_and_upload_stays_resumable() {
    let stack = Stack::start(S3Server::Moto).await;
    let file = file_bytes(6 * MIB, 6);
    let init = stack.initialize(USER, "etag.mp4", file.len()).await;
    let id = init["uploadId"].as_str().unwrap();
    let urls = stack.urls(USER, id, 1, 2).await;
    let parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2]).await;
    let mut wrong = parts.clone();
    wrong[1].1 = "\"0123456789abcdef0123456789abcdef\"".into();
    let (status, body) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": parts_json(&wrong) }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "ETAG_MISMATCH"), "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("part 2"));
    let (status, body) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": parts_json(&parts) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn concurrent_completes_give_one_result() {
    let stack = std::sync::Arc::new(Stack::start(S3Server::Moto).await);
    let file = file_bytes(SIZE, 7);
    let init = stack.initialize(USER, "race.mp4", SIZE).await;
    let id = init["uploadId"].as_str().unwrap().to_owned();
    let urls = stack.urls(USER, &id, 1, 3).await;
    stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2, 3]).await;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let stack = stack.clone();
            let id = id.clone();
            tokio::spawn(async move {
                stack
                    .post(Some(USER), "/complete", &json!({ "uploadId": id }))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0], "every complete gets the same answer");
    }
    assert_eq!(answers[0].0, 200, "{:?}", answers[0]);
    assert_eq!(
        sha256(&stack.read_object(init["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}

#[tokio::test]
async fn expired_upload_is_gone_everywhere() {
    let stack = Stack::start(S3Server::Moto).await;
    let init = stack.initialize(USER, "old.mp4", 100).await;
    let id = init["uploadId"].as_str().unwrap();
    stack.deps.clock.advance(8 * 24 * 3600);
    let (status, body) = stack
        .post(
            Some(USER),
            "/presigned-url",
            &json!({ "uploadId": id, "partNumber": 1 }),
        )
        .await;
    assert_eq!((status, code(&body)), (410, "UPLOAD_EXPIRED"));
    let (status, body) = stack
        .post(Some(USER), "/complete", &json!({ "uploadId": id }))
        .await;
    assert_eq!((status, code(&body)), (410, "UPLOAD_EXPIRED"));
    let (status, body) = stack.get(Some(USER), &format!("/parts/{id}")).await;
    assert_eq!((status, code(&body)), (410, "UPLOAD_EXPIRED"));
    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("EXPIRED")));
}

#[tokio::test]
async fn urls_never_outlive_the_upload() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("UPLOAD_TTL_SECONDS".into(), "600".into());
        v.insert("PRESIGNED_URL_TTL_SECONDS".into(), "3600".into());
    })
    .await;
    let init = stack.initialize(USER, "short.mp4", 100).await;
    let id = init["uploadId"].as_str().unwrap();
    let (status, body) = stack
        .post(
            Some(USER),
            "/presigned-url",
            &json!({ "uploadId": id, "partNumber": 1 }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expiresAt"], init["expiresAt"]);
    let url = body["presignedUrl"].as_str().unwrap();
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
    let init = stack.initialize(USER, "private.mp4", 100).await;
    let id = init["uploadId"].as_str().unwrap();
    let missing = uuid::Uuid::new_v4().to_string();

    for (who, target) in [
        ("mallory", id),
        ("mallory", missing.as_str()),
        (USER, missing.as_str()),
    ] {
        let bodies = [
            json!({ "uploadId": target, "partNumber": 1 }),
            json!({ "uploadId": target, "startPart": 1, "endPart": 1 }),
            json!({ "uploadId": target }),
            json!({ "uploadId": target }),
        ];
        let mut answers = Vec::new();
        for (path, body) in [
            "/presigned-url",
            "/batch-presigned-urls",
            "/complete",
            "/abort",
        ]
        .iter()
        .zip(&bodies)
        {
            answers.push(stack.post(Some(who), path, body).await);
        }
        answers.push(stack.get(Some(who), &format!("/parts/{target}")).await);
        answers.push(stack.get(Some(who), &format!("/status/{target}")).await);
        for (status, body) in answers {
            assert_eq!(status, 404, "{who} on {target}: {body}");
            assert_eq!(
                body,
                json!({ "error": { "code": "UPLOAD_NOT_FOUND", "message": "no upload with this uploadId exists for the caller" } })
            );
        }
    }

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
    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("INITIATED")));
}

#[tokio::test]
async fn bad_input_gets_clear_4xx() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_FILE_SIZE".into(), "1073741824".into());
        v.insert("ALLOWED_CONTENT_TYPES".into(), "video/*".into());
        v.insert("MAX_PARTS_PER_BATCH".into(), "100".into());
    })
    .await;
    let init = stack.initialize(USER, "x.mp4", 20 * MIB).await;
    let id = init["uploadId"].as_str().unwrap();
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
    let (status, body) = stack
        .post(Some(USER), "/complete", &json!({ "uploadId": id }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sha256(&stack.read_object(init["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}
