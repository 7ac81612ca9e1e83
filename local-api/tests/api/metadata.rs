//! User metadata: sent to initialize, it is on the stored object as `x-amz-meta-*` (read back with
//! HeadObject) and in `status`; bad metadata is a 400 that starts nothing.

use serde_json::json;

use crate::harness::*;

const USER: &str = "meta-user";

#[tokio::test]
async fn metadata_reaches_the_stored_object_and_status() {
    for server in [S3Server::Moto, S3Server::Strict] {
        let stack = Stack::start(server).await;
        let file = file_bytes(1000, 7);
        let metadata = json!({"album": "Summer 2026", "shot-by": "ana", "take": "3"});
        let (status, init) = stack
            .post(
                Some(USER),
                "/initialize",
                &json!({ "fileName": "clip.mp4", "fileType": "video/mp4",
                         "fileSize": file.len(), "metadata": metadata }),
            )
            .await;
        assert_eq!(status, 201, "{server:?}: {init}");
        let id = init["uploadId"].as_str().unwrap();
        let (_, shown) = stack.get(Some(USER), &format!("/status/{id}")).await;
        assert_eq!(shown["metadata"], metadata, "{server:?}");
        let urls = stack.urls(USER, id, 1, 1).await;
        let etags = stack.upload_parts(&urls, &file, file.len(), &[1]).await;
        let (status, done) = stack
            .post(
                Some(USER),
                "/complete",
                &json!({ "uploadId": id, "parts": parts_json(&etags) }),
            )
            .await;
        assert_eq!(status, 200, "{server:?}: {done}");
        let key = init["key"].as_str().unwrap();
        assert_eq!(stack.read_object(key).await, file, "{server:?}");
        let head = stack.head_object(key).await;
        let stored = head.metadata().cloned().unwrap_or_default();
        let expected: std::collections::HashMap<String, String> =
            serde_json::from_value(metadata.clone()).unwrap();
        assert_eq!(stored, expected, "{server:?}");
        let (_, shown) = stack.get(Some(USER), &format!("/status/{id}")).await;
        assert_eq!(shown["status"], "COMPLETED");
        assert_eq!(shown["metadata"], metadata, "{server:?}");
    }
}

#[tokio::test]
async fn an_upload_without_metadata_shows_none() {
    let stack = Stack::start(S3Server::Moto).await;
    let init = stack.initialize(USER, "plain.mp4", 10).await;
    let id = init["uploadId"].as_str().unwrap();
    let (status, shown) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!(status, 200);
    assert!(shown.get("metadata").is_none(), "{shown}");
}

#[tokio::test]
async fn bad_metadata_is_a_400_and_starts_nothing() {
    let stack = Stack::start(S3Server::Moto).await;
    for metadata in [
        json!({"Album": "x"}),
        json!({"a": 5}),
        json!({"a": "caf\u{e9}"}),
        json!({"a": "x\r\nx-amz-acl: public-read"}),
        json!({"a": "x".repeat(2048)}),
        json!(["a"]),
    ] {
        let (status, body) = stack
            .post(
                Some(USER),
                "/initialize",
                &json!({ "fileName": "bad.mp4", "fileType": "video/mp4", "fileSize": 10,
                         "metadata": metadata }),
            )
            .await;
        assert_eq!(status, 400, "{metadata}: {body}");
        assert!(
            ["INVALID_METADATA", "INVALID_FIELD"].contains(&code(&body)),
            "{metadata}: {body}"
        );
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("metadata"));
    }
    let (_, listed) = stack.get(Some(USER), "/uploads").await;
    assert_eq!(listed["uploads"], json!([]), "nothing was started");
}
