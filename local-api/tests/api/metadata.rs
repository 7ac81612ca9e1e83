//! User metadata: sent to initialize, it is on the stored object as `x-amz-meta-*` (read back with
//! HeadObject) and in `status`; bad metadata is a 400 that starts nothing.

use std::collections::BTreeMap;

use serde_json::json;

use testkit::*;

const USER: &str = "meta-user";

async fn metadata_reaches_the_stored_object_and_status(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(1000, 7);
    let metadata: BTreeMap<String, String> =
        [("album", "Summer 2026"), ("shot-by", "ana"), ("take", "3")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
    let mut request = video("clip.mp4", file.len());
    request.metadata = Some(metadata.clone());
    let init = stack.initialize(USER, &request).await.unwrap();
    let id = &init.upload_id;
    let shown = stack.status(USER, id).await.unwrap();
    assert_eq!(shown.metadata.as_ref(), Some(&metadata), "{server:?}");
    let urls = stack.urls(USER, id, 1, 1).await;
    let etags = stack.upload_parts(&urls, &file, file.len(), &[1]).await;
    stack.complete(USER, id, Some(&etags)).await.unwrap();
    let key = init.key.as_str();
    assert_eq!(stack.read_object(key).await, file, "{server:?}");
    let head = stack.head_object(key).await;
    let stored = head.metadata().cloned().unwrap_or_default();
    let expected: std::collections::HashMap<String, String> =
        metadata.clone().into_iter().collect();
    assert_eq!(stored, expected, "{server:?}");
    let shown = stack.status(USER, id).await.unwrap();
    assert_eq!(shown.status, upload_contract::UploadStatus::Completed);
    assert_eq!(shown.metadata.as_ref(), Some(&metadata), "{server:?}");
}

per_server!(
    metadata_reaches_the_stored_object_and_status:
    metadata_reaches_the_stored_object_and_status_on_moto => Moto,
    metadata_reaches_the_stored_object_and_status_on_strict_s3 => S3sFs,
);

#[tokio::test]
async fn an_upload_without_metadata_shows_none() {
    let stack = Stack::start(S3Server::Moto).await;
    let init = stack.begin(USER, "plain.mp4", 10).await;
    let id = &init.upload_id;
    // Raw: the field is absent, not null.
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
    let listed = stack.uploads(USER, "").await.unwrap();
    assert!(listed.uploads.is_empty(), "nothing was started: {listed:?}");
}
