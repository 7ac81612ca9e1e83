//! Every sample event in `events/` goes through its function's handler, exactly as Lambda would pass
//! it, and gets the expected status. The events' placeholder upload id is replaced with a real one.

use std::path::Path;

use serde_json::Value;
use shared::Endpoint;

use testkit::*;

const PLACEHOLDER_ID: &str = "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f";

fn endpoint_and_case(stem: &str) -> (Endpoint, String) {
    let matches: Vec<(Endpoint, &str)> = Endpoint::ALL
        .iter()
        .filter_map(|e| {
            stem.strip_prefix(&format!("{}-", e.name()))
                .map(|case| (*e, case))
        })
        .collect();
    assert_eq!(
        matches.len(),
        1,
        "events/{stem}.json must be named <function>-<case>.json"
    );
    (matches[0].0, matches[0].1.to_owned())
}

fn expected_status(endpoint: Endpoint, case: &str) -> u16 {
    match case {
        "ok" if endpoint == Endpoint::Initialize => 201,
        "ok" => 200,
        "invalid" => 400,
        "unauthenticated" => 401,
        other => panic!("no expected status for event case {other:?}: add it here"),
    }
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let stack = Stack::start(S3Server::Moto).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("events/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut covered = std::collections::HashSet::new();
    for path in &files {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        if stem.starts_with("cleanup-stale-uploads-") {
            // Not an HTTP event: cleanup.rs drives it through the function's entry point.
            continue;
        }
        let (endpoint, case) = endpoint_and_case(stem);
        covered.insert(endpoint.name());
        let mut text = std::fs::read_to_string(path).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(
            event["version"], "2.0",
            "{stem} is an HTTP API payload v2 event"
        );
        if text.contains(PLACEHOLDER_ID) {
            let user = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
                .as_str()
                .unwrap_or("user-123");
            let id = if endpoint == Endpoint::Complete {
                // Completing needs every part in storage: one small part.
                let init = stack.begin(user, "event.bin", 100).await;
                let id = init.upload_id;
                let urls = stack.urls(user, &id, 1, 1).await;
                stack
                    .upload_parts(&urls, &file_bytes(100, 9), 100, &[1])
                    .await;
                id
            } else {
                let init = stack.begin(user, "event.mp4", 10 * 5 * MIB).await;
                init.upload_id
            };
            text = text.replace(PLACEHOLDER_ID, &id.to_string());
        }
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let response = endpoint.handle(&stack.deps, request).await;
        let body = match response.body() {
            lambda_http::Body::Text(t) => t.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            response.status().as_u16(),
            expected_status(endpoint, &case),
            "{stem}: {body}"
        );
    }
    for endpoint in Endpoint::ALL {
        assert!(
            covered.contains(endpoint.name()),
            "no sample event for {}",
            endpoint.name()
        );
    }
}
