//! The front door: API Gateway's route buckets and Lambda's concurrency, then the endpoint.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use lambda_http::{Body, Request};
use serde_json::{json, Value};
use shared::adapters::clock::Clock;
use shared::adapters::metrics::Metrics;
use shared::adapters::presign::{Addressing, Presigner};
use shared::app::Aws;
use shared::config::Config;
use shared::{Deps, Endpoint};
use support::{FakeObjects, FakeRecords, FakeTime, Faults};
use tokio::time::Instant;

use super::*;

// ---------------------------------------------------------------------------------------------
// The front door: API Gateway's route buckets and Lambda's concurrency, then the endpoint.

#[derive(Clone, Copy)]
pub(crate) struct Front {
    /// Per route: steady requests/s and burst.
    pub(crate) route_rate: f64,
    pub(crate) route_burst: f64,
    /// Per function.
    pub(crate) lambda_concurrency: usize,
    /// The stack's `ExpiryShards`.
    pub(crate) expiry_shards: u32,
}

/// The template's defaults.
pub(crate) const DEFAULTS: Front = Front {
    route_rate: 1_000.0,
    route_burst: 2_000.0,
    lambda_concurrency: 50,
    expiry_shards: 16,
};

/// Account limits raised: API Gateway 30,000/s per route, 3,000 concurrent executions per
/// function, and `ExpiryShards` sized for 10,000 uploads/s (docs/scale.md).
pub(crate) const RAISED: Front = Front {
    route_rate: 30_000.0,
    route_burst: 15_000.0,
    lambda_concurrency: 3_000,
    expiry_shards: 128,
};

pub(crate) struct Bucket {
    pub(crate) tokens: f64,
    pub(crate) at: Instant,
}

#[derive(Default)]
pub(crate) struct EndpointStats {
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) round_trips: Vec<usize>,
    pub(crate) lambda_seconds: f64,
    pub(crate) statuses: BTreeMap<u16, u64>,
    pub(crate) codes: BTreeMap<String, u64>,
}

pub(crate) struct Sim {
    pub(crate) deps: Deps,
    pub(crate) records: Arc<SimRecords>,
    pub(crate) objects: Arc<SimObjects>,
    pub(crate) model: Arc<Model>,
    pub(crate) front: Front,
    pub(crate) buckets: Mutex<HashMap<&'static str, Bucket>>,
    pub(crate) in_flight: Mutex<HashMap<&'static str, usize>>,
    pub(crate) stats: Mutex<BTreeMap<&'static str, EndpointStats>>,
    pub(crate) gateway_refused: AtomicU64,
    pub(crate) lambda_refused: AtomicU64,
    pub(crate) part_puts: AtomicU64,
    pub(crate) completed: AtomicU64,
}

pub(crate) fn request(
    endpoint: Endpoint, user: &str, body: Option<&Value>, query: &str,
) -> Request {
    let route = shared::ROUTES
        .iter()
        .find(|r| r.endpoint == endpoint)
        .expect("a route");
    let method = route.method;
    // A path's `{uploadId}` comes from the query `uploadId=...` here (GET /parts, GET /status).
    let in_path = route
        .path
        .contains("{uploadId}")
        .then(|| query.strip_prefix("uploadId="))
        .flatten();
    let (path, query) = match in_path {
        Some(id) => (route.path.replace("{uploadId}", id), ""),
        None => (route.path.to_owned(), query),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "000000000000", "apiId": "sim", "domainName": "sim",
            "domainPrefix": "sim", "requestId": "sim", "routeKey": format!("{method} {path}"),
            "stage": "$default", "time": "04/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "sim"},
            "authorizer": {"jwt": {"claims": {"sub": user}, "scopes": null}},
        },
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    if let Some(id) = in_path {
        event["pathParameters"] = json!({ "uploadId": id });
    }
    if !query.is_empty() {
        let parameters: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect();
        event["queryStringParameters"] = Value::Object(parameters);
    }
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
}

impl Sim {
    pub(crate) async fn new(front: Front, vars: &[(&str, &str)], seed: u64) -> Arc<Self> {
        let model = Arc::new(Model::new(seed));
        let faults = Arc::new(Faults::default());
        let time = Arc::new(FakeTime::at(support::START));
        let mut fake_records = FakeRecords::new(faults.clone(), time.clone());
        fake_records.shards = front.expiry_shards;
        let records = Arc::new(SimRecords {
            fake: fake_records,
            model: model.clone(),
        });
        let objects = Arc::new(SimObjects {
            fake: FakeObjects::new(faults, time),
            model: model.clone(),
        });
        let mut all: HashMap<String, String> = [
            ("UPLOADS_BUCKET", "fake-bucket"),
            ("UPLOADS_TABLE", "fake-table"),
        ]
        .into_iter()
        .chain(vars.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        all.insert("EXPIRY_SHARDS".into(), front.expiry_shards.to_string());
        let config = Config::from_vars(&all).expect("simulated configuration is valid");
        let sdk = aws_config::SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDSIMULATION",
                "secret",
                None,
                None,
                "sim",
            )))
            .behavior_version(BehaviorVersion::latest())
            .build();
        let metrics = Metrics::default();
        metrics.capture();
        let deps = Deps {
            presigner: Presigner::new(&sdk, &config.bucket, Addressing::of(&config)).await,
            records: records.clone(),
            objects: objects.clone(),
            clock: Clock::system(),
            metrics,
            aws: Aws {
                s3: aws_sdk_s3::Client::new(&sdk),
                dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            },
            config,
        };
        Arc::new(Self {
            deps,
            records,
            objects,
            model,
            front,
            buckets: Mutex::default(),
            in_flight: Mutex::default(),
            stats: Mutex::default(),
            gateway_refused: AtomicU64::new(0),
            lambda_refused: AtomicU64::new(0),
            part_puts: AtomicU64::new(0),
            completed: AtomicU64::new(0),
        })
    }

    /// One request through API Gateway and Lambda to the endpoint: its status and body.
    pub(crate) async fn call(
        &self, endpoint: Endpoint, user: &str, body: Option<Value>, query: &str,
    ) -> (u16, Value) {
        let name = endpoint.name();
        let begun = Instant::now();
        tokio::time::sleep(self.model.latency("ApiGateway")).await;
        let admitted = {
            let mut buckets = self.buckets.lock().unwrap();
            let bucket = buckets.entry(name).or_insert(Bucket {
                tokens: self.front.route_burst,
                at: Instant::now(),
            });
            let now = Instant::now();
            bucket.tokens = (bucket.tokens
                + (now - bucket.at).as_secs_f64() * self.front.route_rate)
                .min(self.front.route_burst);
            bucket.at = now;
            let ok = bucket.tokens >= 1.0;
            if ok {
                bucket.tokens -= 1.0;
            }
            ok
        };
        if !admitted {
            self.gateway_refused.fetch_add(1, Ordering::Relaxed);
            self.record(name, 429, "GATEWAY_THROTTLED", begun, 0, 0.0);
            return (429, json!({"error": {"code": "GATEWAY_THROTTLED"}}));
        }
        let running = {
            let mut in_flight = self.in_flight.lock().unwrap();
            let running = in_flight.entry(name).or_default();
            let ok = *running < self.front.lambda_concurrency;
            if ok {
                *running += 1;
            }
            ok
        };
        if !running {
            self.lambda_refused.fetch_add(1, Ordering::Relaxed);
            // API Gateway answers a throttled Lambda invocation with a 500 (the function never ran).
            self.record(name, 500, "LAMBDA_THROTTLED", begun, 0, 0.0);
            return (500, json!({"error": {"code": "LAMBDA_THROTTLED"}}));
        }
        tokio::time::sleep(self.model.latency("LambdaInvoke")).await;
        let invoked = Instant::now();
        let req = request(endpoint, user, body.as_ref(), query);
        let (response, calls) = TRACE
            .scope(RefCell::new(Vec::new()), async {
                let response = endpoint.handle(&self.deps, req).await;
                (response, TRACE.with(|trace| trace.borrow().clone()))
            })
            .await;
        let lambda_seconds = invoked.elapsed().as_secs_f64();
        *self.in_flight.lock().unwrap().get_mut(name).unwrap() -= 1;
        let status = response.status().as_u16();
        let body: Value = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        self.record(
            name,
            status,
            &code,
            begun,
            sequential(&calls),
            lambda_seconds,
        );
        (status, body)
    }

    pub(crate) fn record(
        &self, name: &'static str, status: u16, code: &str, begun: Instant, trips: usize,
        lambda: f64,
    ) {
        let mut stats = self.stats.lock().unwrap();
        let entry = stats.entry(name).or_default();
        *entry.statuses.entry(status).or_default() += 1;
        if !code.is_empty() {
            *entry.codes.entry(code.to_owned()).or_default() += 1;
        }
        if status < 300 {
            entry.latencies_us.push(begun.elapsed().as_micros() as u64);
            entry.round_trips.push(trips);
        }
        entry.lambda_seconds += lambda;
    }

    /// A phone's whole upload of `size` bytes: initialize, one batch of URLs per 1,000 parts,
    /// the part PUTs, and complete with the parts' ETags. Whether it completed.
    pub(crate) async fn upload(&self, user: &str, size: u64) -> bool {
        // Each file's fingerprint, as the clients send by default (resumable uploads).
        static FILES: AtomicU64 = AtomicU64::new(0);
        let fingerprint = format!("file-{}", FILES.fetch_add(1, Ordering::Relaxed));
        let (status, init) = self
            .call(
                Endpoint::Initialize,
                user,
                Some(json!({
                    "fileName": "video.mp4",
                    "fileType": "video/mp4",
                    "fileSize": size,
                    "fingerprint": fingerprint,
                })),
                "",
            )
            .await;
        if status != 201 {
            return false;
        }
        let upload_id = init["uploadId"].as_str().unwrap_or_default().to_owned();
        let total = init["totalParts"].as_u64().unwrap_or(0) as u32;
        let chunk = init["chunkSize"].as_u64().unwrap_or(0);
        let key = init["key"].as_str().unwrap_or_default().to_owned();
        let batch = self.deps.config.max_parts_per_batch;
        let mut start = 1;
        while start <= total {
            let end = (start + batch - 1).min(total);
            let (status, _) = self
                .call(
                    Endpoint::BatchPresignedUrls,
                    user,
                    Some(json!({"uploadId": upload_id, "startPart": start, "endPart": end})),
                    "",
                )
                .await;
            if status != 200 {
                return false;
            }
            start = end + 1;
        }
        let Some(record) = self.records.fake.record(&upload_id) else {
            return false;
        };
        for n in 1..=total {
            let size = if n == total {
                size - chunk * u64::from(total - 1)
            } else {
                chunk
            };
            self.model.s3("UploadPart", &key, true);
            self.objects.fake.put_part(&record.s3_upload_id, n, size, 7);
        }
        self.part_puts
            .fetch_add(u64::from(total), Ordering::Relaxed);
        let parts: Vec<Value> = self
            .objects
            .fake
            .etags(&record.s3_upload_id)
            .into_iter()
            .map(|(n, etag)| json!({"PartNumber": n, "ETag": etag}))
            .collect();
        let (status, _) = self
            .call(
                Endpoint::Complete,
                user,
                Some(json!({"uploadId": upload_id, "parts": parts})),
                "",
            )
            .await;
        if status == 200 {
            self.completed.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Sum of a status class over every endpoint.
    pub(crate) fn count(&self, pick: impl Fn(u16) -> bool) -> u64 {
        self.stats
            .lock()
            .unwrap()
            .values()
            .flat_map(|s| s.statuses.iter())
            .filter(|(status, _)| pick(**status))
            .map(|(_, n)| n)
            .sum()
    }

    /// $ per 1,000 completed uploads, and the S3 request cost of the same uploads alone.
    pub(crate) fn cost_per_thousand(&self) -> (f64, f64) {
        let m = &self.model;
        let s3_put_class = m.calls("CreateMultipartUpload")
            + m.calls("UploadPart")
            + m.calls("CompleteMultipartUpload")
            + m.calls("ListParts")
            + m.calls("ListMultipartUploads");
        let s3 = s3_put_class as f64 * S3_PUT_CLASS + m.calls("HeadObject") as f64 * S3_GET_CLASS;
        let baseline = (m.calls("CreateMultipartUpload")
            + m.calls("UploadPart")
            + m.calls("CompleteMultipartUpload")) as f64
            * S3_PUT_CLASS;
        let dynamodb = m.write_units.load(Ordering::Relaxed) as f64 * DDB_WRITE_UNIT
            + m.read_units.load(Ordering::Relaxed) as f64 * DDB_READ_UNIT;
        let stats = self.stats.lock().unwrap();
        let requests: u64 = stats.values().flat_map(|s| s.statuses.values()).sum();
        let invoked: u64 = stats
            .values()
            .map(|s| s.statuses.values().sum::<u64>())
            .sum::<u64>()
            - self.gateway_refused.load(Ordering::Relaxed)
            - self.lambda_refused.load(Ordering::Relaxed);
        let lambda_seconds: f64 = stats.values().map(|s| s.lambda_seconds).sum();
        let lambda = invoked as f64 * LAMBDA_REQUEST
            + lambda_seconds * LAMBDA_MEMORY_GB * LAMBDA_GB_SECOND_ARM;
        let gateway = requests as f64 * HTTP_API_REQUEST;
        let per = 1_000.0 / self.completed.load(Ordering::Relaxed).max(1) as f64;
        ((s3 + dynamodb + lambda + gateway) * per, baseline * per)
    }
}
