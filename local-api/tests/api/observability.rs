//! What operators see: EMF metrics lines for a whole flow, and logs that never carry a presigned
//! URL's signature or the secret key.

use std::collections::HashMap;

use serde_json::{json, Value};

use testkit::*;

/// Sums of each metric over the captured EMF lines, keyed by (metric, ErrorCode dimension).
fn totals(lines: &[String]) -> HashMap<(String, Option<String>), f64> {
    let mut totals = HashMap::new();
    for line in lines {
        let doc: Value = serde_json::from_str(line).expect("an EMF line is JSON");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert!(
            doc["_aws"]["Timestamp"]
                .as_u64()
                .is_some_and(|t| t > 1_600_000_000_000),
            "{line}"
        );
        assert_eq!(directive["Namespace"], "MultipartUpload", "{line}");
        for dimension in directive["Dimensions"][0]
            .as_array()
            .expect("a dimension set")
        {
            let name = dimension.as_str().unwrap();
            assert!(
                doc[name].is_string(),
                "dimension {name} has a value: {line}"
            );
        }
        assert!(doc["Function"].is_string());
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let unit = metric["Unit"].as_str().unwrap();
            let expected_unit = match name {
                "BytesCompleted" => "Bytes",
                "CompletionLatency" => "Seconds",
                _ => "Count",
            };
            assert_eq!(unit, expected_unit, "{name}");
            let value = doc[name]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} has a numeric value: {line}"));
            let code = doc["ErrorCode"].as_str().map(str::to_owned);
            *totals.entry((name.to_owned(), code)).or_insert(0.0) += value;
        }
    }
    totals
}

#[tokio::test]
async fn a_flow_emits_business_metrics_and_logs_no_secrets() {
    let stack = Stack::start(S3Server::S3sFs).await;
    stack.deps.metrics.capture();
    let user = "ivy";
    let size = 5 * MIB + 10;
    let file = file_bytes(size, 21);
    let init = stack.begin(user, "m.mp4", size).await;
    let id = &init.upload_id;
    let urls = stack.urls(user, id, 1, 2).await;
    let parts = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2]).await;
    let url = stack.presign(user, id, 1).await.unwrap();
    assert!(url.url.presigned_url.contains("X-Amz-Signature="));
    for _ in 0..2 {
        stack.complete(user, id, Some(&parts)).await.unwrap();
    }
    let other = stack.begin(user, "n.mp4", 10).await;
    stack.abort(user, &other.upload_id).await.unwrap();
    stack.abort(user, &other.upload_id).await.unwrap();
    let refused = stack.initialize(user, &video("x", 0)).await.refused();
    assert_eq!(refused.status, 400);

    let totals = totals(&stack.deps.metrics.captured());
    let get = |name: &str, code: Option<&str>| {
        totals
            .get(&(name.to_owned(), code.map(str::to_owned)))
            .copied()
    };
    assert_eq!(get("UploadsInitiated", None), Some(2.0));
    assert_eq!(get("PartsPresigned", None), Some(3.0));
    assert_eq!(
        get("UploadsCompleted", None),
        Some(1.0),
        "a repeated complete is not counted twice"
    );
    assert_eq!(get("BytesCompleted", None), Some(size as f64));
    assert!(get("CompletionLatency", None).is_some_and(|s| (0.0..60.0).contains(&s)));
    assert_eq!(
        get("UploadsAborted", None),
        Some(1.0),
        "a repeated abort is not counted twice"
    );
    assert_eq!(get("ClientErrors", Some("INVALID_FILE_SIZE")), Some(1.0));

    let logs = logs();
    assert!(
        logs.contains(&id.to_string()),
        "the flow's log lines carry its upload id"
    );
    assert!(
        logs.contains("user=\"ivy\"") || logs.contains("user=ivy"),
        "and the user id"
    );
    assert!(
        !logs.contains("X-Amz-Signature"),
        "a presigned URL reached the logs"
    );
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    assert!(!logs.contains(&secret), "the secret key reached the logs");
}

/// The `ServerErrors` lines captured, as (Function, Dependency, ErrorCode), each checked to be
/// declared per function and per function, dependency and code.
fn server_errors(lines: &[String]) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for line in lines {
        let doc: Value = serde_json::from_str(line).expect("an EMF line is JSON");
        for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            let names = directive["Metrics"].as_array().unwrap();
            if !names.iter().any(|m| m["Name"] == "ServerErrors") {
                continue;
            }
            assert_eq!(
                directive["Dimensions"],
                json!([["Function"], ["Function", "Dependency", "ErrorCode"]]),
                "{line}"
            );
            assert_eq!(doc["ServerErrors"], 1.0, "{line}");
            let value = |name: &str| doc[name].as_str().unwrap_or_default().to_owned();
            found.push((value("Function"), value("Dependency"), value("ErrorCode")));
        }
    }
    found
}

#[tokio::test]
async fn a_failing_dependency_emits_the_server_error_metric_with_its_dimensions() {
    let stack = Stack::start(S3Server::Moto).await;
    stack.deps.metrics.capture();
    let user = "otto";

    // S3 fails: the bucket is gone. The request is a 503 the client may retry, not a Lambda error.
    stack
        .s3()
        .delete_bucket()
        .bucket(stack.bucket())
        .send()
        .await
        .expect("the empty bucket is deleted");
    let refused = stack.initialize(user, &video("a.mp4", 100)).await.refused();
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(
        server_errors(&stack.deps.metrics.captured()),
        [(
            "initialize".to_owned(),
            "s3".to_owned(),
            "DEPENDENCY_ERROR".to_owned()
        )]
    );

    // DynamoDB fails: the table is gone, so even the rate counter's write fails.
    stack
        .deps
        .aws
        .dynamodb
        .delete_table()
        .table_name(&stack.deps.config.table)
        .send()
        .await
        .expect("the table is deleted");
    let missing = upload_contract::UploadId::new_v4();
    let refused = stack.status(user, &missing).await.refused();
    assert_eq!(refused.status, 503, "{refused:?}");
    let errors = server_errors(&stack.deps.metrics.captured());
    assert_eq!(
        errors.last(),
        Some(&(
            "status".to_owned(),
            "dynamodb".to_owned(),
            "DEPENDENCY_ERROR".to_owned()
        )),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 2, "one line per failed request: {errors:?}");
    let logs = logs();
    assert!(
        logs.contains("dependency=\"dynamodb\"") || logs.contains("dependency=dynamodb"),
        "the ERROR line names the dependency"
    );
}

#[tokio::test]
async fn a_lost_completion_the_cleanup_settles_is_counted_once() {
    use shared::cleanup::{self, Limits};
    use shared::domain::record::Transition;

    let stack = Stack::start(S3Server::Moto).await;
    let init = stack.begin("lost", "l.mp4", 100).await;
    let id = &init.upload_id;
    // A complete died in COMPLETING, and storage has dropped the multipart upload: nothing is left.
    let held = stack.record(id).await;
    let now = stack.deps.clock.epoch_secs();
    let stale = stack.deps.config.completing_stale_secs as i64;
    let begin = Transition::BeginCompleting {
        now,
        stale_before: now - stale,
    };
    assert!(stack.deps.records.transition(&held, &begin).await.unwrap());
    assert!(stack
        .deps
        .objects
        .abort(&held.key, &held.s3_upload_id)
        .await
        .unwrap());
    stack.deps.clock.advance(stale + 1);
    stack.deps.metrics.capture();
    let limits = Limits {
        max_aborts: 100,
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
    };
    let summary = cleanup::run(&stack.deps, &limits).await;
    assert_eq!(
        (summary.already_gone, summary.errors),
        (1, 0),
        "{summary:?}"
    );
    let totals = totals(&stack.deps.metrics.captured());
    assert_eq!(
        totals.get(&("UploadsExpired".to_owned(), None)),
        Some(&1.0),
        "one lost upload, one expiry: {totals:?}"
    );
}
