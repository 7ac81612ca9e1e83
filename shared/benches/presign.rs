//! Per-URL cost of presigning an UploadPart URL, three ways, in one run:
//! - `ours`: `shared::adapters::sigv4::PartSigner::url`, as the batch endpoint uses it (signer built once per
//!   request, so its setup is spread over the batch; `ours_single` includes that setup);
//! - `sdk`: aws-sdk-s3's `presigned()`, one call per URL;
//! - `lower_bound`: what no SigV4 presigner can avoid, written here only: one SHA-256 of a
//!   canonical request of the real length, one HMAC with a cached signing key, and the hex.
//!
//! And the batch endpoint's handler for 1,000 parts, end to end without network: the sample API
//! Gateway event parsed, the real handler run, the JSON response built; the one read of the upload
//! record store is stubbed with a record in memory.
//!
//! Credentials look like a Lambda role's (with a session token of realistic length).
//! `make bench` runs this and prints the figures as one table.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::PresigningConfig;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use shared::adapters::presign::Presigner;
use shared::adapters::sigv4::hex;
use shared::domain::ids::{Owner, UploadId};
use shared::domain::listing::Position;
use shared::domain::Transition;
use shared::domain::{Status, UploadRecord};
use shared::ports::{
    BoxFuture, Created, FingerprintClaim, Holding, OwnerPage, PageToken, Paged, PortError, Quota,
    QuotaUsage, RateUse, RecordStore,
};
use shared::{Clock, Config, Deps, Endpoint};

const ACCESS_KEY: &str = "ASIAEXAMPLEEXAMPLE12";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "eu-west-3";
const BUCKET: &str = "multipart-uploads-prod-123456789012";
const KEY: &str = "uploads/6d1f3a52-09c4-4b1e-8f0e-2b7a9c4d1e55/0b7e8c1a-3f2d-4e5b-9a6c-7d8e9f0a1b2c/holiday video.mp4";
const S3_UPLOAD_ID: &str = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA.exampleexampleexampleexampleexampleexampleexample--";

fn session_token() -> String {
    // Lambda's tokens run to about a kilobyte.
    "IQoJb3JpZ2luX2VjEXAMPLE/+=".repeat(36)
}

fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, Some(session_token()), None, "bench")
}

fn signed_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_000)
}

fn presign_url(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let presigner = runtime.block_on(Presigner::with_credentials(
        credentials(),
        BUCKET,
        REGION,
        None,
        false,
    ));
    let expiry = signed_at() + Duration::from_secs(3600);
    let signed = runtime
        .block_on(presigner.for_upload(KEY, S3_UPLOAD_ID, None, signed_at(), expiry))
        .unwrap();
    let sdk = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(credentials())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build(),
    );
    let sample = signed.signer.url(1, PART_LENGTH, None);
    assert_eq!(
        sample,
        runtime.block_on(sdk_url(&sdk, 1)),
        "the benchmark compares equal URLs"
    );

    let mut group = c.benchmark_group("presign_url");
    group.throughput(Throughput::Elements(1));
    let mut part = 0u32;
    group.bench_function("ours", |b| {
        b.iter(|| {
            part = part % 10_000 + 1;
            black_box(signed.signer.url(black_box(part), PART_LENGTH, None))
        })
    });
    group.bench_function("ours_single", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let signed = presigner
                    .for_upload(KEY, S3_UPLOAD_ID, None, signed_at(), expiry)
                    .await
                    .unwrap();
                black_box(signed.signer.url(black_box(7), PART_LENGTH, None))
            })
        })
    });
    group.bench_function("sdk", |b| {
        b.iter(|| black_box(runtime.block_on(sdk_url(&sdk, black_box(7)))))
    });

    // The lower bound: the canonical request of the real URL (same length), hashed once, and the
    // string to sign MACed once with the signing key already derived.
    let canonical = canonical_request_like(&sample);
    let string_to_sign_head =
        "AWS4-HMAC-SHA256\n20261124T073320Z\n20261124/eu-west-3/s3/aws4_request\n";
    let signing_key = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).unwrap();
    group.bench_function("lower_bound", |b| {
        b.iter(|| {
            let hashed = hex(&Sha256::digest(black_box(canonical.as_bytes())));
            let mut mac = signing_key.clone();
            mac.update(string_to_sign_head.as_bytes());
            mac.update(&hashed);
            black_box(hex(&mac.finalize().into_bytes()))
        })
    });
    group.finish();
}

/// Every part URL signs its exact length (an 8 MiB part here).
const PART_LENGTH: u64 = 8 * 1024 * 1024;

async fn sdk_url(client: &aws_sdk_s3::Client, part: u32) -> String {
    let config = PresigningConfig::builder()
        .start_time(signed_at())
        .expires_in(Duration::from_secs(3600))
        .build()
        .unwrap();
    client
        .upload_part()
        .bucket(BUCKET)
        .key(KEY)
        .upload_id(S3_UPLOAD_ID)
        .part_number(part as i32)
        .content_length(PART_LENGTH as i64)
        .presigned(config)
        .await
        .unwrap()
        .uri()
        .to_owned()
}

/// A string as long as the URL's canonical request: method, path, sorted query, host, signed
/// headers and payload hash (the query is the URL's, less the signature).
fn canonical_request_like(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let (origin, path) = base.split_at(base.find(".com").unwrap() + 4);
    let host = origin.trim_start_matches("https://");
    let query = query.split("&X-Amz-Signature=").next().unwrap();
    format!(
        "PUT\n{path}\n{query}&X-Amz-Security-Token={}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        session_token()
    )
}

/// The record a real handler would read from DynamoDB, in memory: the record store stubbed, bench
/// only (the batch handler only reads).
struct InMemory(UploadRecord);

fn unused<T: Send + 'static>() -> BoxFuture<'static, Result<T, PortError>> {
    Box::pin(std::future::ready(Err(PortError::new(
        "bench",
        "the batch handler only reads its record",
    ))))
}

impl RecordStore for InMemory {
    fn get<'a>(
        &'a self, upload_id: &'a UploadId,
    ) -> BoxFuture<'a, Result<Option<UploadRecord>, PortError>> {
        let found = (self.0.upload_id == *upload_id).then(|| self.0.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn create<'a>(
        &'a self, _: &'a UploadRecord, _: Quota,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        unused()
    }

    fn fingerprint<'a>(
        &'a self, _: &'a Owner, _: &'a str,
    ) -> BoxFuture<'a, Result<Option<UploadId>, PortError>> {
        unused()
    }

    fn create_claiming<'a>(
        &'a self, _: &'a UploadRecord, _: Quota, _: FingerprintClaim<'a>,
    ) -> BoxFuture<'a, Result<Created, PortError>> {
        unused()
    }

    fn transition<'a>(
        &'a self, _: &'a UploadRecord, _: &'a Transition,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        unused()
    }

    fn begin_completing<'a>(
        &'a self, _: &'a UploadId, _: &'a Owner, _: &'a Transition,
    ) -> BoxFuture<'a, Result<Holding, PortError>> {
        unused()
    }

    fn expiry_shards(&self) -> u32 {
        1
    }

    fn due<'a>(
        &'a self, _: u32, _: i64, _: Option<PageToken>, _: u32,
    ) -> BoxFuture<'a, Result<Paged<UploadRecord>, PortError>> {
        unused()
    }

    fn by_owner<'a>(
        &'a self, _: &'a Owner, _: Option<Status>, _: i64, _: Option<Position>, _: u32,
    ) -> BoxFuture<'a, Result<OwnerPage, PortError>> {
        unused()
    }

    fn quota_usage<'a>(&'a self, _: &'a Owner) -> BoxFuture<'a, Result<QuotaUsage, PortError>> {
        unused()
    }

    /// Always admitted: the benchmark measures signing, not the counter's round trip.
    fn count_rate<'a>(
        &'a self, _: &'a Owner, _: i64, _: i64, _: RateUse, _: RateUse,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(std::future::ready(Ok(true)))
    }
}

fn batch_handler(c: &mut Criterion) {
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    std::env::set_var("AWS_SESSION_TOKEN", session_token());
    std::env::set_var("AWS_REGION", REGION);
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let vars: HashMap<String, String> = [
        ("UPLOADS_BUCKET", BUCKET),
        ("UPLOADS_TABLE", "uploads"),
        ("MAX_PARTS_PER_BATCH", "1000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut deps = runtime.block_on(Deps::new(
        Config::from_vars(&vars).unwrap(),
        Clock::system(),
    ));
    deps.metrics.capture(); // EMF lines into a buffer, not the bench's output
    let now = deps.clock.epoch_secs();
    let upload_id = "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f";
    deps.records = Arc::new(InMemory(UploadRecord {
        upload_id: upload_id.into(),
        owner: "user-123".into(), // the sample event's JWT subject
        key: KEY.into(),
        s3_upload_id: S3_UPLOAD_ID.into(),
        file_name: "holiday video.mp4".into(),
        file_type: "video/mp4".into(),
        metadata: Default::default(),
        file_size: 10_000 * 8 * 1024 * 1024,
        part_size: 8 * 1024 * 1024,
        total_parts: 10_000,
        checksum_algorithm: None,
        status: Status::Initiated,
        created_at: now,
        expires_at: now + 86_400,
        ttl: now + 30 * 86_400,
        completing_since: None,
        completion: None,
    }));
    // The sample API Gateway event from events/, asking for 1,000 parts.
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/batch-presigned-urls-ok.json"
        ))
        .unwrap(),
    )
    .unwrap();
    event["body"] = serde_json::json!({ "uploadId": upload_id, "startPart": 1, "endPart": 1000 })
        .to_string()
        .into();
    let event = event.to_string();
    let invoke = || async {
        let request = lambda_http::request::from_str(&event).unwrap();
        Endpoint::BatchPresignedUrls.handle(&deps, request).await
    };
    let response = runtime.block_on(invoke());
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["urls"].as_array().map(Vec::len), Some(1000));

    let mut group = c.benchmark_group("batch_handler");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000_parts", |b| {
        b.iter(|| black_box(runtime.block_on(invoke())))
    });
    group.finish();
}

criterion_group!(benches, presign_url, batch_handler);
criterion_main!(benches);
