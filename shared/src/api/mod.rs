//! The HTTP endpoints: one module per endpoint, each an `async fn(&Deps, &Request)` that parses the
//! request, calls its use case and renders the answer, plus the request plumbing they share
//! (identity from the authorizer context, JSON bodies, path parameters).

mod abort;
mod complete;
mod initialize;
mod listing;
mod parts;
mod presign;

use std::cell::RefCell;
use std::sync::Arc;

use aws_sdk_dynamodb::config::BehaviorVersion;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use tracing::Instrument;

use crate::adapters::{DynamoRecords, S3Objects};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::domain::sizing::MAX_PARTS;
use crate::domain::validate::{self, JsonBody};
use crate::domain::Status;
use crate::domain::UploadRecord;
use crate::error::{json_response, ApiError};
use crate::metrics::{Metric, Metrics};
use crate::ports::{Holding, ObjectStore, OwnerPage, Ports, RecordStore};
use crate::presign::{Addressing, Presigner};
use crate::usecases;
use upload_contract::{UploadId, UploadStatus};

pub const BASE_PATH: &str = "/api/v1/multipart-upload";

/// One function per endpoint; the name is its crate under `functions/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Initialize,
    PresignedUrl,
    BatchPresignedUrls,
    Complete,
    Abort,
    ListParts,
    Status,
    ListUploads,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
}

/// Every route of `template.yaml` (a test keeps the two in step).
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/initialize",
        endpoint: Endpoint::Initialize,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/presigned-url",
        endpoint: Endpoint::PresignedUrl,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/batch-presigned-urls",
        endpoint: Endpoint::BatchPresignedUrls,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/complete",
        endpoint: Endpoint::Complete,
    },
    Route {
        method: "POST",
        path: "/api/v1/multipart-upload/abort",
        endpoint: Endpoint::Abort,
    },
    Route {
        method: "GET",
        path: "/api/v1/multipart-upload/parts/{uploadId}",
        endpoint: Endpoint::ListParts,
    },
    Route {
        method: "GET",
        path: "/api/v1/multipart-upload/status/{uploadId}",
        endpoint: Endpoint::Status,
    },
    Route {
        method: "GET",
        path: "/api/v1/multipart-upload/uploads",
        endpoint: Endpoint::ListUploads,
    },
];

/// What every handler needs, built once at cold start.
#[derive(Clone)]
pub struct Deps {
    pub config: Config,
    pub records: Arc<dyn RecordStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub presigner: Presigner,
    pub clock: Clock,
    pub metrics: Metrics,
    /// The SDK clients behind the adapters, for local set-up and tests.
    pub aws: Aws,
}

#[derive(Clone, Debug)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Deps {
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_env()?, Clock::system()).await)
    }

    /// SDK clients for `config`. Loads credentials and region lazily: nothing touches the network here.
    pub async fn new(config: Config, clock: Clock) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.s3_force_path_style)
            // Checksums are the client's choice per part; the SDK must not add its own to URLs.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .interceptor(crate::xray::Subsegments::new("S3"));
        if let Some(endpoint) = &config.s3_endpoint {
            s3 = s3.endpoint_url(endpoint);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(crate::xray::Subsegments::new("DynamoDB"));
        if let Some(endpoint) = &config.dynamodb_endpoint {
            dynamodb = dynamodb.endpoint_url(endpoint);
        }
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
        // One sink for the handlers and the adapters' retries, so a test's capture sees both.
        let metrics = Metrics::default();
        Self {
            records: Arc::new(
                DynamoRecords::new(dynamodb.clone(), &config.table)
                    .with_expiry_shards(config.expiry_shards)
                    .with_metrics(metrics.clone()),
            ),
            objects: Arc::new(S3Objects::new(s3.clone(), &config.bucket)),
            presigner: Presigner::new(&sdk, &config.bucket, Addressing::of(&config)).await,
            clock,
            metrics,
            aws: Aws { s3, dynamodb },
            config,
        }
    }

    /// The ports the use cases run over.
    pub fn ports(&self) -> Ports<'_> {
        Ports {
            records: self.records.as_ref(),
            objects: self.objects.as_ref(),
            time: &self.clock,
            metrics: &self.metrics,
        }
    }
}

type Outcome = Result<(StatusCode, Value), ApiError>;

/// A handler's answer, rendered from its wire type.
fn answer<T: serde::Serialize>(status: StatusCode, body: &T) -> Outcome {
    serde_json::to_value(body)
        .map(|body| (status, body))
        .map_err(|err| ApiError::internal("rendering the answer", err))
}

/// A status as the wire spells it.
fn wire_status(status: Status) -> UploadStatus {
    match status {
        Status::Initiated => UploadStatus::Initiated,
        Status::Completing => UploadStatus::Completing,
        Status::Completed => UploadStatus::Completed,
        Status::Aborted => UploadStatus::Aborted,
        Status::Expired => UploadStatus::Expired,
    }
}

/// A record's upload id as the wire's type (the server generated it as a UUID).
fn wire_id(record: &UploadRecord) -> Result<UploadId, ApiError> {
    UploadId::parse(&record.upload_id).ok_or_else(|| ApiError::Internal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        context: "reading the upload record",
        detail: format!("stored uploadId {:?} is not a UUID", record.upload_id),
    })
}

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Self::Initialize,
        Self::PresignedUrl,
        Self::BatchPresignedUrls,
        Self::Complete,
        Self::Abort,
        Self::ListParts,
        Self::Status,
        Self::ListUploads,
    ];

    /// The function (and crate) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::PresignedUrl => "presigned-url",
            Self::BatchPresignedUrls => "batch-presigned-urls",
            Self::Complete => "complete",
            Self::Abort => "abort",
            Self::ListParts => "list-parts",
            Self::Status => "status",
            Self::ListUploads => "list-uploads",
        }
    }

    /// Every AWS operation the endpoint's code may make, on any path (retries, takeovers,
    /// settling a vanished upload). The fault matrix checks the use cases make no other; a
    /// template test checks each function's IAM policy covers them.
    pub fn operations(self) -> &'static [&'static str] {
        match self {
            Self::Initialize => &[
                "UpdateItem(rate)",
                "GetItem",
                "TransactWriteItems(create)",
                "TransactWriteItems",
                "CreateMultipartUpload",
                "AbortMultipartUpload",
                // Resuming by fingerprint: the parts held, or settling an upload S3 dropped.
                "ListParts",
                "HeadObject",
            ],
            Self::PresignedUrl | Self::BatchPresignedUrls => {
                &["UpdateItem(rate)", "GetItem", "PresignUploadPart"]
            }
            Self::Complete => &[
                "UpdateItem(rate)",
                "UpdateItem(begin-completing)",
                "GetItem",
                "TransactWriteItems",
                "ListParts",
                "HeadObject",
                "CompleteMultipartUpload",
            ],
            Self::Abort => &[
                "UpdateItem(rate)",
                "GetItem",
                "TransactWriteItems",
                "ListParts",
                "HeadObject",
                "AbortMultipartUpload",
            ],
            Self::ListParts => &[
                "UpdateItem(rate)",
                "GetItem",
                "TransactWriteItems",
                "ListParts",
                "HeadObject",
            ],
            Self::Status => &["UpdateItem(rate)", "GetItem", "ListParts"],
            Self::ListUploads => &["UpdateItem(rate)", "Query", "ListParts"],
        }
    }

    /// Runs the endpoint; every outcome, error or not, is a JSON response.
    pub async fn handle(self, deps: &Deps, req: Request) -> Response<Body> {
        let span = tracing::info_span!(
            "request",
            endpoint = self.name(),
            request_id = request_id(&req).unwrap_or_default(),
            user = tracing::field::Empty,
            upload_id = tracing::field::Empty,
        );
        let work = async move {
            // The rate write and the record's read run at once; a refused request still changes
            // nothing (the read has no effect), and the handler takes the record read here.
            let (admitted, prefetched) =
                futures_util::join!(self.admit(deps, &req), self.prefetch(deps, &req));
            let outcome = match admitted {
                Err(refused) => {
                    // Refused: a claim made alongside the rate write is given back.
                    if let Some(Prefetched::Claim(_, holding)) = &prefetched {
                        usecases::complete::let_go(deps.ports(), holding).await;
                    }
                    Err(refused)
                }
                Ok(()) => {
                    PREFETCHED
                        .scope(RefCell::new(prefetched), async {
                            let outcome = match self {
                                Self::Initialize => initialize::handle(deps, &req).await,
                                Self::PresignedUrl => presign::single(deps, &req).await,
                                Self::BatchPresignedUrls => presign::batch(deps, &req).await,
                                Self::Complete => complete::handle(deps, &req).await,
                                Self::Abort => abort::handle(deps, &req).await,
                                Self::ListParts => parts::list(deps, &req).await,
                                Self::Status => parts::status(deps, &req).await,
                                Self::ListUploads => listing::list(deps, &req).await,
                            };
                            // A claim the handler did not take (it refused the request first).
                            let left = PREFETCHED.with(|cell| cell.borrow_mut().take());
                            if let Some(Prefetched::Claim(_, holding)) = &left {
                                usecases::complete::let_go(deps.ports(), holding).await;
                            }
                            outcome
                        })
                        .await
                }
            };
            self.count(deps, &outcome);
            match outcome {
                Ok((status, body)) => {
                    tracing::info!(status = status.as_u16(), "handled");
                    json_response(status, &body)
                }
                Err(err @ ApiError::Client { .. }) => {
                    tracing::info!(
                        status = err.status().as_u16(),
                        code = err.code(),
                        "refused: {err}"
                    );
                    err.to_response()
                }
                Err(err) => {
                    let (dependency, cause) = err
                        .cause()
                        .map_or(("none", "INTERNAL_ERROR"), |(d, c)| (d.as_str(), c));
                    tracing::error!(
                        status = err.status().as_u16(),
                        code = cause,
                        dependency,
                        "failed: {err}"
                    );
                    err.to_response()
                }
            }
        };
        crate::metrics::in_function(self.name(), work.instrument(span)).await
    }
}

tokio::task_local! {
    /// What the endpoint's first call answered, made alongside the rate write.
    static PREFETCHED: RefCell<Option<Prefetched>>;
}

/// An endpoint's first call, made alongside the rate write, for its handler to take.
enum Prefetched {
    /// The upload record read, for [`owned`]: (upload id, what was read).
    Record(String, Option<UploadRecord>),
    /// Complete's claim on the upload ([`usecases::complete::begin`]): (upload id, the claim).
    Claim(String, Holding),
    /// Initialize's reads ([`usecases::initialize::look_up`]): (owner, fingerprint, what they found).
    Lookups(String, Option<String>, usecases::initialize::Lookups),
    /// The listing's page ([`usecases::listing::read_page`]): what was asked, when, what was read.
    Page(usecases::listing::PageQuery, i64, OwnerPage),
}

impl Endpoint {
    /// Reads the upload record the request names (path or body `uploadId`), if it names one, so
    /// that this read runs concurrently with the rate write. Any failure leaves it to the handler.
    async fn prefetch(self, deps: &Deps, req: &Request) -> Option<Prefetched> {
        let upload_id = match self {
            Self::ListParts | Self::Status => path_upload_id(req).ok()?,
            Self::PresignedUrl | Self::BatchPresignedUrls | Self::Complete | Self::Abort => {
                let body = json_body(deps, req).ok()?;
                validate::upload_id(body.string("uploadId").ok()?).ok()?
            }
            Self::Initialize => {
                // Initialize's first calls are reads of the owner's items.
                let owner = caller(req).ok()?;
                let body = json_body(deps, req).ok()?;
                let fingerprint =
                    validate::fingerprint(body.opt_string("fingerprint").ok()?).ok()?;
                let lookups =
                    usecases::initialize::look_up(deps.ports(), &owner, fingerprint.as_deref())
                        .await
                        .ok()?;
                return Some(Prefetched::Lookups(owner, fingerprint, lookups));
            }
            Self::ListUploads => {
                // The listing's first call is its page's read.
                let query = listing::page_query(req).ok()?;
                let now = deps.clock.epoch_secs();
                let page = usecases::listing::read_page(deps.ports(), &query, now)
                    .await
                    .ok()?;
                return Some(Prefetched::Page(query, now, page));
            }
        };
        let owner = caller(req).ok()?;
        if self == Self::Complete {
            // Complete's first call is its claim, which answers with the record.
            let claim = usecases::complete::begin(deps.ports(), &deps.config, &upload_id, &owner)
                .await
                .ok()?;
            return Some(Prefetched::Claim(upload_id, claim));
        }
        let record = deps.records.get(&upload_id).await.ok()?;
        Some(Prefetched::Record(upload_id, record))
    }

    /// Counts the request, and the part URLs it asks for, against the caller's per-minute limits
    /// (one conditional DynamoDB write). Requests without identity are left to the handler's 401.
    async fn admit(self, deps: &Deps, req: &Request) -> Result<(), ApiError> {
        let Ok(owner) = caller(req) else {
            return Ok(());
        };
        let urls = match self {
            Self::PresignedUrl => 1,
            // The range asked for; a malformed body counts as one and is refused by the handler.
            Self::BatchPresignedUrls => json_body(deps, req)
                .ok()
                .and_then(|body| {
                    let start = body.integer("startPart", 1, MAX_PARTS).ok()?;
                    let end = body.integer("endPart", 1, MAX_PARTS).ok()?;
                    Some(end.saturating_sub(start) + 1)
                })
                .unwrap_or(1),
            _ => 0,
        };
        usecases::rate::admit(deps.ports(), &deps.config, &owner, urls).await?;
        Ok(())
    }

    /// The metrics an outcome implies by itself; transitions that happen once (completed,
    /// aborted) are counted where they happen.
    fn count(self, deps: &Deps, outcome: &Outcome) {
        let name = self.name();
        match (self, outcome) {
            (Self::Initialize, Ok(_)) => {
                deps.metrics
                    .emit(name, &[], &[(Metric::UploadsInitiated, 1.0)])
            }
            (Self::PresignedUrl, Ok(_)) => {
                deps.metrics
                    .emit(name, &[], &[(Metric::PartsPresigned, 1.0)])
            }
            (Self::BatchPresignedUrls, Ok((_, body))) => {
                let urls = body["urls"].as_array().map_or(0, Vec::len);
                deps.metrics
                    .emit(name, &[], &[(Metric::PartsPresigned, urls as f64)]);
            }
            (_, Err(err @ ApiError::Client { .. })) => {
                deps.metrics.emit(
                    name,
                    &[("ErrorCode", err.code())],
                    &[(Metric::ClientErrors, 1.0)],
                );
            }
            (_, Err(err)) => {
                if let Some((dependency, code)) = err.cause() {
                    deps.metrics.server_error(name, dependency, code);
                }
            }
            _ => {}
        }
    }
}

fn request_id(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
}

/// The caller: the `sub` claim the API Gateway JWT authorizer verified. Never taken from a header.
pub fn caller(req: &Request) -> Result<String, ApiError> {
    let sub = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get("sub")),
        _ => None,
    };
    match sub {
        Some(sub) if !sub.trim().is_empty() && sub.len() <= 256 => {
            tracing::Span::current().record("user", sub.as_str());
            Ok(sub.clone())
        }
        _ => Err(ApiError::unauthenticated()),
    }
}

/// The JSON object body, refused with 413 above the configured size.
fn json_body(deps: &Deps, req: &Request) -> Result<JsonBody, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > deps.config.max_body_bytes {
        return Err(ApiError::payload_too_large(deps.config.max_body_bytes));
    }
    JsonBody::parse(bytes)
}

/// The caller's upload `upload_id`, with the span naming it.
async fn owned(deps: &Deps, owner: &str, upload_id: &str) -> Result<UploadRecord, ApiError> {
    let prefetched = take_prefetched(|p| matches!(p, Prefetched::Record(id, _) if id == upload_id));
    let record = match prefetched {
        Some(Prefetched::Record(_, Some(record))) if record.owner == owner => record,
        // A missing id and somebody else's look exactly alike.
        Some(_) => return Err(crate::domain::UploadError::NotFound.into()),
        None => usecases::owned(deps.ports(), upload_id, owner).await?,
    };
    tracing::Span::current().record("upload_id", record.upload_id.as_str());
    Ok(record)
}

/// What the endpoint's first call answered, if `wanted` says it is the one this handler needs.
fn take_prefetched(wanted: impl Fn(&Prefetched) -> bool) -> Option<Prefetched> {
    PREFETCHED
        .try_with(|cell| {
            let mut cell = cell.borrow_mut();
            cell.as_ref()
                .is_some_and(&wanted)
                .then(|| cell.take())
                .flatten()
        })
        .ok()
        .flatten()
}

/// Initialize's reads for `owner` and `fingerprint`, if they were made alongside the rate write.
fn lookups(owner: &str, fingerprint: Option<&str>) -> Option<usecases::initialize::Lookups> {
    match take_prefetched(
        |p| matches!(p, Prefetched::Lookups(o, f, _) if o == owner && f.as_deref() == fingerprint),
    ) {
        Some(Prefetched::Lookups(_, _, lookups)) => Some(lookups),
        _ => None,
    }
}

/// The listing's page for `query`, if it was read alongside the rate write (and when).
fn page(query: &usecases::listing::PageQuery) -> Option<(i64, OwnerPage)> {
    match take_prefetched(|p| matches!(p, Prefetched::Page(q, ..) if q == query)) {
        Some(Prefetched::Page(_, now, page)) => Some((now, page)),
        _ => None,
    }
}

/// Complete's claim on the caller's upload `upload_id`: the one made alongside the rate write, or
/// a new one.
async fn claim(deps: &Deps, owner: &str, upload_id: &str) -> Result<Holding, ApiError> {
    let prefetched = take_prefetched(|p| matches!(p, Prefetched::Claim(id, _) if id == upload_id));
    let holding = match prefetched {
        Some(Prefetched::Claim(_, holding)) => holding,
        _ => usecases::complete::begin(deps.ports(), &deps.config, upload_id, owner).await?,
    };
    if let Some(record) = holding.record() {
        tracing::Span::current().record("upload_id", record.upload_id.as_str());
    }
    Ok(holding)
}

/// `uploadId` from the path (`GET .../{uploadId}`).
fn path_upload_id(req: &Request) -> Result<String, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|params| params.first("uploadId"))
        .ok_or_else(|| {
            ApiError::bad_request("MISSING_FIELD", "uploadId is required in the path")
        })?;
    validate::upload_id(raw)
}

/// The caller's upload named in the body's `uploadId`, checking the optional `key` old apps send.
async fn owned_upload(deps: &Deps, owner: &str, body: &JsonBody) -> Result<UploadRecord, ApiError> {
    let upload_id = validate::upload_id(body.string("uploadId")?)?;
    let client_key = body.opt_string("key")?;
    let record = owned(deps, owner, &upload_id).await?;
    check_key(&record, client_key)?;
    Ok(record)
}

/// The optional `key` old apps send must be the upload's.
fn check_key(record: &UploadRecord, client_key: Option<&str>) -> Result<(), ApiError> {
    if client_key.is_some_and(|key| key != record.key) {
        return Err(ApiError::bad_request(
            "KEY_MISMATCH",
            "key does not match this upload's key; omit it or send the key initialize returned",
        ));
    }
    Ok(())
}
