//! Hostile and broken clients: odd file names become safe keys, odd bodies get exact 4xx codes, and
//! none of it touches another user's upload, which still completes afterwards.

use serde_json::json;

use testkit::*;

#[tokio::test]
async fn hostile_file_names_become_safe_keys() {
    let stack = Stack::start(S3Server::Moto).await;
    let cases = [
        ("../../../etc/passwd", "passwd"),
        ("/absolute/path.mp4", "path.mp4"),
        ("..", "file"),
        ("nul\0byte.mp4", "nul_byte.mp4"),
        ("line\nbreak\r\ttab.mp4", "line_break_tab.mp4"),
        // Bidi controls, zero-width and other invisible characters are removed, not replaced.
        ("evil\u{202E}4pm.exe", "evil4pm.exe"),
        ("\u{200F}\u{2066}hidden.mov", "hidden.mov"),
        ("pa\u{200B}y\u{FEFF}pal\u{2060}.mp4", "paypal.mp4"),
        // U+3164 HANGUL FILLER (and its half-width twin) is a "letter" that displays as nothing.
        ("\u{3164}\u{FFA0}.mp4", "mp4"),
        ("a\u{3164}b.mp4", "ab.mp4"),
        // One spelling per name: decomposed (e + U+0301) becomes the precomposed NFC form.
        ("e\u{0301}te\u{0301}.mp4", "\u{00E9}t\u{00E9}.mp4"),
        // Stacked combining marks with nothing to compose with become one `_`.
        ("z\u{0335}\u{0336}\u{0337}\u{0338}a.mp4", "z_a.mp4"),
        ("クリップ.mp4", "クリップ.mp4"),
    ];
    for (name, expected) in cases {
        let init = stack.begin("mallory", name, 10).await;
        let id = &init.upload_id;
        assert_eq!(
            init.key.as_str(),
            format!("uploads/mallory/{id}/{expected}"),
            "{name:?}"
        );
    }
    let long = "x".repeat(1000) + ".mp4";
    let init = stack.begin("mallory", &long, 10).await;
    let key = init.key.as_str();
    assert!(key.len() < 300 && key.ends_with(".mp4"), "{key}");
    // Lengths are capped in bytes, not characters: 200 four-byte letters (U+20000) are 800 bytes.
    let init = stack
        .begin("mallory", &("\u{20000}".repeat(200) + ".mp4"), 10)
        .await;
    let name = init.key.as_str().rsplit('/').next().unwrap();
    assert!(
        name.len() <= 200 && name.len() > 190 && name.ends_with(".mp4"),
        "{name}"
    );
    // The display name kept in the record: NFC, invisible characters removed, bounded in bytes.
    let id = &init.upload_id;
    let status = stack.status("mallory", id).await.unwrap();
    assert!(status.file_name.len() <= 255, "{status:?}");
    let init = stack
        .begin("mallory", "My\u{202E} e\u{0301}te\u{0301}\u{3164}.mov", 10)
        .await;
    let id = &init.upload_id;
    let status = stack.status("mallory", id).await.unwrap();
    assert_eq!(status.file_name, "My \u{00E9}t\u{00E9}.mov", "{status:?}");
    // Identity is encoded into the key too: no path, no `..`, nobody else's prefix.
    let init = stack.begin("../other-user", "a.mp4", 10).await;
    assert!(
        init.key
            .as_str()
            .starts_with("uploads/_2E_2E_2Fother-user/"),
        "{init:?}"
    );
}

/// Users whose ids differ only in punctuation (`a|b`, `a_b`, `a b`) once shared `uploads/a_b/`. Each
/// now has a prefix of its own, which holds its objects and nobody else's, and each stored object is
/// that user's bytes. Neither the file name nor the key reaches the logs at INFO and above.
#[tokio::test]
async fn users_differing_in_punctuation_get_their_own_prefixes() {
    let stack = Stack::start(S3Server::Moto).await;
    let users = ["a|b", "a_b", "a b"];
    let name = "grandmas-birthday-4d1c9e.mp4";
    let mut prefixes = Vec::new();
    for (seed, user) in users.into_iter().enumerate() {
        let file = file_bytes(1000, seed as u64);
        let init = stack.begin(user, name, file.len()).await;
        let id = &init.upload_id;
        let key = init.key.as_str().to_owned();
        let prefix = format!("uploads/{}/", shared::domain::key::owner_segment(user));
        assert_eq!(key, format!("{prefix}{id}/{name}"));
        let urls = stack.urls(user, id, 1, 1).await;
        let parts = stack.upload_parts(&urls, &file, file.len(), &[1]).await;
        stack.complete(user, id, Some(&parts)).await.unwrap();
        stack.assert_stored(&key, &file).await;
        prefixes.push((prefix, key));
    }
    for (prefix, key) in &prefixes {
        let keys = stack.object_keys(prefix).await;
        assert_eq!(keys, [key.as_str()], "{prefix}");
    }
    shared::cleanup::run(
        &stack.deps,
        &shared::cleanup::Limits {
            max_aborts: 10,
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
        },
    )
    .await;
    let logged: Vec<String> = logs()
        .lines()
        .filter(|l| {
            [" INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|level| l.contains(level))
        })
        .map(str::to_owned)
        .collect();
    assert!(!logged.is_empty(), "the flow logs at INFO");
    for line in logged {
        assert!(!line.contains(name), "a file name reached the logs: {line}");
    }
}

#[tokio::test]
async fn odd_bodies_get_exact_codes_and_the_victim_still_completes() {
    let stack = Stack::start_with(S3Server::Moto, |v| {
        v.insert("MAX_BODY_BYTES".into(), "4096".into());
    })
    .await;
    let victim = stack.begin("victim", "v.mp4", 100).await;
    let vid = &victim.upload_id;
    let mine = stack.begin("mallory", "m.mp4", 100).await;
    let mid = &mine.upload_id;

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
        ("/presigned-url", json!({ "uploadId": mid, "partNumber": 1, "key": victim.key }).to_string(), 400, "KEY_MISMATCH"),
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
    stack.complete("victim", vid, None).await.unwrap();
    stack.assert_stored(victim.key.as_str(), &file).await;
}

/// Every part URL signs its part's exact length: strict storage refuses a body one byte short or
/// one byte long at the PUT itself (403), whichever part it is, and takes the exact size (200).
#[tokio::test]
async fn strict_storage_refuses_parts_of_the_wrong_length() {
    const SIZE: usize = 5 * MIB + 4321;
    let stack = Stack::start(S3Server::S3sFs).await;
    let file = file_bytes(SIZE + 1, 31);
    let init = stack.begin("mallory", "sized.mp4", SIZE).await;
    let id = &init.upload_id;
    let answer = stack
        .batch("mallory", &batch_request(id, 1, 2))
        .await
        .unwrap();
    let planned = [5 * MIB, 4321];
    let mut parts = Vec::new();
    for (url, (n, length)) in answer.urls.iter().zip([(1u32, 5 * MIB), (2, 4321)]) {
        assert_eq!(url.part_number, n);
        assert_eq!(
            url.headers.get("content-length"),
            Some(&length.to_string()),
            "{url:?}"
        );
        let presigned = url.presigned_url.as_str();
        assert!(
            presigned.contains("X-Amz-SignedHeaders=content-length%3Bhost&"),
            "{presigned}"
        );
        let start = if n == 1 { 0 } else { planned[0] };
        // (body length, expected status): the table of wrong lengths, then the right one.
        let table = [
            (length - 1, 403),
            (length + 1, 403),
            (1, 403),
            (length, 200),
        ];
        for (sent, expected) in table {
            let (status, etag) = if expected == 200 {
                stack.put(presigned, &file[start..start + sent]).await
            } else {
                (
                    raw_put_status(presigned, &file[start..start + sent]).await,
                    None,
                )
            };
            assert_eq!(
                status, expected,
                "part {n}: {sent} bytes for a {length}-byte URL"
            );
            if let (200, Some(etag)) = (status, etag) {
                parts.push((n, etag));
            }
        }
    }
    // What was stored is exactly the plan, so the upload completes.
    stack.complete("mallory", id, Some(&parts)).await.unwrap();
    stack.assert_stored(init.key.as_str(), &file[..SIZE]).await;
}

/// The status of a `PUT` of `body` to `url`, read even when the server answers from the headers
/// alone and closes the connection without reading the body (s3s-fs does that for a bad signature;
/// reqwest then reports only a broken pipe). The headers go first; the body only if no answer came.
async fn raw_put_status(url: &str, body: &[u8]) -> u16 {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let rest = url
        .strip_prefix("http://")
        .expect("local storage speaks http");
    let (authority, target) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let early = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
    match early {
        Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
        _ => {
            let _ = stream.write_all(body).await;
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to the PUT: {text:?}"))
}

/// Active content (what a browser would run or render as a document) is stored as opaque bytes, and
/// every object downloads as an attachment named by its sanitized file name (RFC 6266 `filename*`).
#[tokio::test]
async fn active_content_types_are_stored_opaque_and_objects_download_as_attachments() {
    let stack = Stack::start(S3Server::Moto).await;
    let cases = [
        ("text/html", "page.html", "application/octet-stream"),
        ("image/svg+xml", "logo.svg", "application/octet-stream"),
        (
            "application/xhtml+xml",
            "x.xhtml",
            "application/octet-stream",
        ),
        ("text/xml", "feed.xml", "application/octet-stream"),
        (
            "application/javascript",
            "app.js",
            "application/octet-stream",
        ),
        ("text/javascript", "app.mjs", "application/octet-stream"),
        ("application/pdf", "doc.pdf", "application/octet-stream"),
        ("text/css", "s.css", "application/octet-stream"),
        ("video/mp4", "e\u{0301}te\u{0301} clip.mp4", "video/mp4"),
        ("image/jpeg", "photo.jpg", "image/jpeg"),
    ];
    let body = b"<script>alert(document.domain)</script>";
    for (declared, name, stored) in cases {
        let mut request = video(name, body.len());
        request.file_type = declared.to_owned();
        let init = stack.initialize("mallory", &request).await.unwrap();
        let id = &init.upload_id;
        let record = stack.status("mallory", id).await.unwrap();
        assert_eq!(record.file_type, stored, "{declared}");
        let urls = stack.urls("mallory", id, 1, 1).await;
        let (status, etag) = stack.put(&urls[&1], body).await;
        assert_eq!(status, 200);
        let parts = [(1, etag.unwrap())];
        stack.complete("mallory", id, Some(&parts)).await.unwrap();
        let key = init.key.as_str();
        let head = stack.head_object(key).await;
        assert_eq!(head.content_type(), Some(stored), "{declared}");
        let file = key.rsplit('/').next().unwrap();
        let mut encoded = String::new();
        for b in file.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        let disposition = head.content_disposition().unwrap_or_default();
        assert!(
            disposition.starts_with("attachment; filename=\"")
                && disposition.ends_with(&format!("; filename*=UTF-8''{encoded}")),
            "{declared}: {disposition}"
        );
    }
}

/// DNS rebinding: a page on `evil.example` whose name now resolves to 127.0.0.1 reaches the local API
/// with `Host: evil.example:PORT`. It is refused before any route runs, the demo page included, with
/// a JSON error; the loopback names still work.
#[tokio::test]
async fn foreign_host_headers_are_refused() {
    let stack = Stack::start(S3Server::Moto).await;
    let port = stack
        .base
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let root = stack.base.trim_end_matches(shared::api::BASE_PATH);
    let init_body = json!({ "fileName": "a.mp4", "fileType": "video/mp4", "fileSize": 10 });
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let requests = [
            stack
                .http
                .post(format!("{}/initialize", stack.base))
                .json(&init_body),
            stack.http.get(format!("{}/uploads", stack.base)),
            stack.http.get(format!("{root}/")),
            stack
                .http
                .request(
                    reqwest::Method::OPTIONS,
                    format!("{}/initialize", stack.base),
                )
                .header("origin", "http://localhost:5173")
                .header("access-control-request-method", "POST"),
        ];
        for request in requests {
            let response = request
                .header("host", &host)
                .header("x-user-id", "victim")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(
                (status, code(&body)),
                (403, "HOST_NOT_ALLOWED"),
                "{host}: {body}"
            );
        }
    }
    let (status, listing) = stack.get(Some("victim"), "/uploads").await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(
        listing["uploads"],
        json!([]),
        "nothing was created for the victim"
    );
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let response = stack
            .http
            .get(format!("{}/uploads", stack.base))
            .header("host", &host)
            .header("x-user-id", "victim")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
}
