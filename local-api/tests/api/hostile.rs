//! Hostile and broken clients: odd file names become safe keys, odd bodies get exact 4xx codes, and
//! none of it touches another user's upload, which still completes afterwards.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn hostile_file_names_become_safe_keys() {
    let stack = Stack::start(S3Server::Moto).await;
    let cases = [
        ("../../../etc/passwd", "passwd"),
        ("/absolute/path.mp4", "path.mp4"),
        ("..", "file"),
        ("nul\0byte.mp4", "nul_byte.mp4"),
        ("line\nbreak\r\ttab.mp4", "line_break_tab.mp4"),
        ("evil\u{202E}4pm.exe", "evil_4pm.exe"),
        ("\u{200F}\u{2066}hidden.mov", "hidden.mov"),
        ("クリップ.mp4", "クリップ.mp4"),
    ];
    for (name, expected) in cases {
        let init = stack.initialize("mallory", name, 10).await;
        let id = init["uploadId"].as_str().unwrap();
        assert_eq!(
            init["key"],
            format!("uploads/mallory/{id}/{expected}"),
            "{name:?}"
        );
    }
    let long = "x".repeat(1000) + ".mp4";
    let init = stack.initialize("mallory", &long, 10).await;
    let key = init["key"].as_str().unwrap();
    assert!(key.len() < 300 && key.ends_with(".mp4"), "{key}");
    // Identity is sanitised into the key too.
    let init = stack.initialize("../other-user", "a.mp4", 10).await;
    assert!(
        init["key"]
            .as_str()
            .unwrap()
            .starts_with("uploads/other-user/"),
        "{init}"
    );
}

#[tokio::test]
async fn odd_bodies_get_exact_codes_and_the_victim_still_completes() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_BODY_BYTES".into(), "4096".into());
    })
    .await;
    let victim = stack.initialize("victim", "v.mp4", 100).await;
    let vid = victim["uploadId"].as_str().unwrap();
    let mine = stack.initialize("mallory", "m.mp4", 100).await;
    let mid = mine["uploadId"].as_str().unwrap();

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/initialize", "{\"fileName\":\"a\",\"fileType\":\"video/mp4\",\"fileSize\":1".into(), 400, "INVALID_JSON"),
        ("/initialize", "null".into(), 400, "INVALID_JSON"),
        ("/initialize", "\"string\"".into(), 400, "INVALID_JSON"),
        ("/initialize", json!({ "fileName": ["a"], "fileType": "video/mp4", "fileSize": 1 }).to_string(), 400, "INVALID_FIELD"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": 18446744073709551615u64 }).to_string(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", "{\"fileName\":\"a\",\"fileType\":\"video/mp4\",\"fileSize\":18446744073709551616}".into(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": 1.5 }).to_string(), 400, "INVALID_FILE_SIZE"),
        ("/initialize", json!({ "fileName": "a", "fileType": "video/mp4\u{0}", "fileSize": 1 }).to_string(), 400, "INVALID_FILE_TYPE"),
        ("/initialize", format!("{{\"fileName\":\"{}\"}}", "a".repeat(5000)), 413, "PAYLOAD_TOO_LARGE"),
        ("/presigned-url", json!({ "uploadId": vid, "partNumber": 1 }).to_string(), 404, "UPLOAD_NOT_FOUND"),
        ("/presigned-url", json!({ "uploadId": 12345, "partNumber": 1 }).to_string(), 400, "INVALID_FIELD"),
        ("/presigned-url", json!({ "uploadId": mid, "partNumber": -1 }).to_string(), 400, "INVALID_FIELD"),
        ("/presigned-url", json!({ "uploadId": mid, "partNumber": 1e20 }).to_string(), 400, "INVALID_FIELD"),
        ("/presigned-url", json!({ "uploadId": mid, "partNumber": 2 }).to_string(), 400, "INVALID_PART_NUMBER"),
        ("/presigned-url", json!({ "uploadId": mid, "partNumber": 1, "key": victim["key"] }).to_string(), 400, "KEY_MISMATCH"),
        ("/batch-presigned-urls", json!({ "uploadId": mid, "startPart": -3, "endPart": 1 }).to_string(), 400, "INVALID_FIELD"),
        ("/batch-presigned-urls", json!({ "uploadId": mid, "startPart": 2, "endPart": 3 }).to_string(), 400, "INVALID_PART_NUMBER"),
        ("/batch-presigned-urls", json!({ "uploadId": mid, "startPart": 1, "endPart": 10_001 }).to_string(), 400, "INVALID_FIELD"),
        ("/complete", json!({ "uploadId": vid }).to_string(), 404, "UPLOAD_NOT_FOUND"),
        ("/complete", json!({ "uploadId": mid, "parts": [{ "PartNumber": 1, "ETag": 7 }] }).to_string(), 400, "INVALID_PARTS"),
        ("/complete", json!({ "uploadId": mid, "parts": [{ "PartNumber": 2, "ETag": "\"x\"" }] }).to_string(), 400, "MISSING_PARTS"),
        ("/abort", json!({ "uploadId": vid }).to_string(), 404, "UPLOAD_NOT_FOUND"),
        ("/abort", json!({ "uploadId": "3F2C9D1E-8A4B-4C6D-9E0F-1A2B3C4D5E6F" }).to_string(), 404, "UPLOAD_NOT_FOUND"),
    ];
    for (path, body, status, expected) in cases {
        let (got, answer) = stack.post_raw(Some("mallory"), path, body.clone()).await;
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{path} {}: {answer}",
            &body[..body.len().min(100)]
        );
    }
    // Extra fields are ignored, not refused: old and new apps share one API.
    let (status, body) = stack
        .post(
            Some("mallory"),
            "/initialize",
            &json!({ "fileName": "a", "fileType": "video/mp4", "fileSize": 1, "colour": "blue" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // A whole number written as a float is that number, as the spec's JSON Schema `integer` says
    // (found by the schemathesis fuzz run: `partNumber: 1.0` was refused as INVALID_FIELD).
    let (status, body) = stack
        .post_raw(
            Some("mallory"),
            "/initialize",
            r#"{"fileName":"a","fileType":"video/mp4","fileSize":100.0}"#,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = stack
        .post_raw(
            Some("mallory"),
            "/presigned-url",
            format!(r#"{{"uploadId":"{mid}","partNumber":1.0}}"#),
        )
        .await;
    assert_eq!(
        (status, body["partNumber"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = stack
        .post_raw(
            Some("mallory"),
            "/batch-presigned-urls",
            format!(r#"{{"uploadId":"{mid}","startPart":1.0,"endPart":1e0}}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // ... but only when it is exact and whole.
    for number in ["1.5", "9007199254740993.0", "-1.0"] {
        let (status, body) = stack
            .post_raw(
                Some("mallory"),
                "/presigned-url",
                format!(r#"{{"uploadId":"{mid}","partNumber":{number}}}"#),
            )
            .await;
        assert_eq!((status, code(&body)), (400, "INVALID_FIELD"), "{number}");
    }
    // A path with another method answers 405 naming the methods it takes (RFC 9110).
    let response = stack
        .http
        .get(format!("{}/initialize", stack.base))
        .header("x-user-id", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    for path in [
        format!("/parts/{vid}"),
        format!("/status/{vid}"),
        "/status/..%2F..%2Fetc".to_owned(),
    ] {
        let (status, _) = stack.get(Some("mallory"), &path).await;
        assert!(status == 404 || status == 400, "{path}: {status}");
    }

    let urls = stack.urls("victim", vid, 1, 1).await;
    let file = file_bytes(100, 31);
    stack.upload_parts(&urls, &file, 100, &[1]).await;
    let (status, body) = stack
        .post(Some("victim"), "/complete", &json!({ "uploadId": vid }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sha256(&stack.read_object(victim["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}
