//! The DynamoDB adapter against a local endpoint that answers as DynamoDB does under contention:
//! a transaction cancelled for a conflict is retried with a fresh `ClientRequestToken` (a retry
//! with the cancelled attempt's token would be answered from that attempt for ten minutes), each
//! retry is counted as `DependencyRetries`, and a write that stays contended past every attempt is
//! a contended error (answered 429 by the API), not a failure. moto never conflicts, so this
//! server stands in for that one behaviour.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use serde_json::{json, Value};
use shared::adapters::dynamodb::MAX_ATTEMPTS;
use shared::adapters::metrics::Metrics;
use shared::adapters::DynamoRecords;
use shared::domain::metadata::Metadata;
use shared::domain::record::Transition;
use shared::domain::{Status, UploadRecord};
use shared::ports::{Holding, RecordStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"}]}"#;
const UPDATE_CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#;

/// What the endpoint saw (each request's target and body) and will answer next (status, body).
#[derive(Default)]
struct Endpoint {
    seen: Mutex<Vec<(String, Value)>>,
    answers: Mutex<VecDeque<(u16, String)>>,
}

/// Serves `endpoint` on 127.0.0.1 and returns its URL. Once the scripted answers run out, every
/// request is answered with `fallback`.
async fn serve(endpoint: Arc<Endpoint>, fallback: (u16, &'static str)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    // One request: headers, then Content-Length bytes of body.
                    let end = loop {
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        let mut chunk = [0u8; 8192];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                            .map(|v| v.trim().to_owned())
                    };
                    let length: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let target = header("x-amz-target").unwrap_or_default();
                    while buffer.len() < end + length {
                        let mut chunk = [0u8; 8192];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Value =
                        serde_json::from_slice(&buffer[end..end + length]).unwrap_or(Value::Null);
                    buffer.drain(..end + length);
                    endpoint.seen.lock().unwrap().push((target, body));
                    let (status, answer) = endpoint
                        .answers
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((fallback.0, fallback.1.to_owned()));
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn records(url: &str, metrics: &Metrics) -> DynamoRecords {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("k", "s", None, None, "test"))
        .build();
    DynamoRecords::new(aws_sdk_dynamodb::Client::from_conf(config), "uploads")
        .with_metrics(metrics.clone())
}

fn record() -> UploadRecord {
    UploadRecord {
        upload_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        owner: "alice".into(),
        key: "uploads/alice/0f8fad5b-d9cb-469f-a165-70867728950e/a.mp4".into(),
        s3_upload_id: "s3-upload".into(),
        file_name: "a.mp4".into(),
        file_type: "video/mp4".into(),
        metadata: Metadata::default(),
        file_size: 10,
        part_size: 10,
        total_parts: 1,
        checksum_algorithm: None,
        status: Status::Initiated,
        created_at: 1_800_000_000,
        expires_at: 1_800_086_400,
        ttl: 1_800_990_000,
        completing_since: None,
        completion: None,
    }
}

/// The `DependencyRetries` lines the metrics captured.
fn retries(metrics: &Metrics) -> Vec<String> {
    metrics
        .captured()
        .into_iter()
        .filter(|line| line.contains("DependencyRetries"))
        .collect()
}

#[tokio::test]
async fn a_cancelled_transaction_is_retried_with_a_fresh_token_and_counted() {
    let endpoint = Arc::new(Endpoint::default());
    endpoint
        .answers
        .lock()
        .unwrap()
        .extend([(400, CONFLICT.to_owned()), (400, CONFLICT.to_owned())]);
    let url = serve(endpoint.clone(), (200, "{}")).await;
    let metrics = Metrics::default();
    metrics.capture();
    let abort = Transition::Abort { stale_before: 0 };
    let applied = records(&url, &metrics)
        .transition(&record(), &abort)
        .await
        .expect("applied after two conflicts");
    assert!(applied);

    let seen = endpoint.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        3,
        "two cancelled attempts, then the one applied"
    );
    assert!(seen
        .iter()
        .all(|(target, _)| target.ends_with("transactwriteitems")));
    let tokens: Vec<&str> = seen
        .iter()
        .map(|(_, body)| body["ClientRequestToken"].as_str().expect("a token"))
        .collect();
    assert!(
        tokens[0] != tokens[1] && tokens[1] != tokens[2] && tokens[0] != tokens[2],
        "each attempt after a cancellation needs a token of its own: {tokens:?}"
    );
    let counted = retries(&metrics);
    assert_eq!(counted.len(), 2, "{counted:#?}");
    assert!(counted
        .iter()
        .all(|line| line.contains("TRANSACTION_CONFLICT") && line.contains("dynamodb")));
}

#[tokio::test]
async fn a_write_contended_past_every_attempt_is_contended_not_failed() {
    let endpoint = Arc::new(Endpoint::default());
    let url = serve(endpoint.clone(), (400, CONFLICT)).await;
    let metrics = Metrics::default();
    metrics.capture();
    let err = records(&url, &metrics)
        .transition(&record(), &Transition::Abort { stale_before: 0 })
        .await
        .expect_err("never applied");
    assert!(err.contended, "{err}");
    assert_eq!(endpoint.seen.lock().unwrap().len(), MAX_ATTEMPTS as usize);
    assert_eq!(retries(&metrics).len(), MAX_ATTEMPTS as usize - 1);
}

#[tokio::test]
async fn a_claim_that_meets_a_transaction_is_retried_and_answers_the_record() {
    let endpoint = Arc::new(Endpoint::default());
    let before = json!({
        "Attributes": {
            "uploadId": {"S": "0f8fad5b-d9cb-469f-a165-70867728950e"},
            "owner": {"S": "alice"},
            "objectKey": {"S": "uploads/alice/0f8fad5b-d9cb-469f-a165-70867728950e/a.mp4"},
            "s3UploadId": {"S": "s3-upload"},
            "fileName": {"S": "a.mp4"},
            "fileType": {"S": "video/mp4"},
            "fileSize": {"N": "10"},
            "partSize": {"N": "10"},
            "totalParts": {"N": "1"},
            "status": {"S": "INITIATED"},
            "createdAt": {"N": "1800000000"},
            "expiresAt": {"N": "1800086400"},
            "ttl": {"N": "1800990000"}
        }
    });
    endpoint
        .answers
        .lock()
        .unwrap()
        .extend([(400, UPDATE_CONFLICT.to_owned()), (200, before.to_string())]);
    let url = serve(endpoint.clone(), (500, "{}")).await;
    let metrics = Metrics::default();
    metrics.capture();
    let now = 1_800_000_100;
    let begin = Transition::BeginCompleting {
        now,
        stale_before: now - 60,
    };
    let holding = records(&url, &metrics)
        .begin_completing(&record().upload_id, &"alice".into(), &begin)
        .await
        .expect("claimed after one conflict");
    match holding {
        Holding::Held { record, took_over } => {
            assert_eq!(record.status, Status::Completing);
            assert_eq!(record.completing_since, Some(now));
            assert!(!took_over);
        }
        other => panic!("expected the hold: {other:?}"),
    }
    let seen = endpoint.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let condition = seen[1].1["ConditionExpression"]
        .as_str()
        .unwrap_or_default();
    assert!(
        condition.contains("#owner = :owner"),
        "the claim is the owner's only: {condition}"
    );
    assert_eq!(seen[1].1["ReturnValues"], "ALL_OLD");
    assert_eq!(retries(&metrics).len(), 1);
}
