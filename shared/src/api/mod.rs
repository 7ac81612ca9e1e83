//! The HTTP endpoints: each an `async fn(&Deps, &Request)` named for its endpoint that parses the
//! request, calls its use case and renders the answer, plus the request plumbing they share
//! (identity from the authorizer context, JSON bodies, path parameters). `routes.rs` lists the
//! endpoints, `prefetch.rs` their first calls (made alongside the rate write), `error.rs` the one
//! error answer.

mod abort;
mod complete;
pub mod error;
mod initialize;
mod listing;
mod parse;
mod parts;
mod prefetch;
mod presign;
pub(crate) mod request;
mod routes;

use std::cell::RefCell;

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use tracing::Instrument;

use self::error::{json_response, ApiError};
use self::prefetch::{claim, give_back_untaken, lookups, owned, page, PREFETCHED};
use self::request::JsonBody;
pub use self::routes::{Endpoint, Route, BASE_PATH, ROUTES};
use crate::adapters::metrics::INTERNAL_ERROR;
use crate::app::Deps;
use crate::domain::file;
use crate::domain::ids::{Owner, UploadId};
use crate::domain::Status;
use crate::domain::UploadRecord;
use crate::ports::{Metric, StoredPart};
use upload_contract::{ErrorCode, ListedPart, ObjectKey, UploadStatus};

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

/// A part storage holds, as the wire lists it.
fn wire_part(part: StoredPart) -> ListedPart {
    ListedPart {
        part_number: part.number.get(),
        etag: part.etag,
        size: part.size,
        checksum: part.checksum,
    }
}

/// A record's upload id as the wire's type (the server generated it as a UUID).
fn wire_id(record: &UploadRecord) -> Result<upload_contract::UploadId, ApiError> {
    upload_contract::UploadId::parse(&record.upload_id).ok_or_else(|| ApiError::Internal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        context: "reading the upload record",
        detail: format!("stored uploadId {:?} is not a UUID", record.upload_id),
    })
}

impl Endpoint {
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
            // The body is read once, for admission, the prefetch and the handler alike. The rate
            // write and the record's read run at once; a refused request still changes nothing
            // (the read has no effect), and the handler takes the record read here.
            let body = json_body(deps, &req);
            let (admitted, prefetched) = futures_util::join!(
                self.admit(deps, &req, &body),
                self.prefetch(deps, &req, &body)
            );
            let outcome = match admitted {
                Err(refused) => {
                    give_back_untaken(deps, prefetched).await;
                    Err(refused)
                }
                Ok(()) => {
                    PREFETCHED
                        .scope(RefCell::new(prefetched), async {
                            let outcome = match self {
                                Self::Initialize => initialize::initialize(deps, &req, &body).await,
                                Self::PresignedUrl => {
                                    presign::presigned_url(deps, &req, &body).await
                                }
                                Self::BatchPresignedUrls => {
                                    presign::batch_presigned_urls(deps, &req, &body).await
                                }
                                Self::Complete => complete::complete(deps, &req, &body).await,
                                Self::Abort => abort::abort(deps, &req, &body).await,
                                Self::ListParts => parts::list_parts(deps, &req).await,
                                Self::Status => parts::status(deps, &req).await,
                                Self::ListUploads => listing::list_uploads(deps, &req).await,
                            };
                            // What the handler did not take (it refused the request first).
                            let left = PREFETCHED.with(|cell| cell.borrow_mut().take());
                            give_back_untaken(deps, left).await;
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
                        code = err.code().as_str(),
                        "refused: {err}"
                    );
                    err.to_response()
                }
                Err(err) => {
                    let (dependency, cause) = err
                        .cause()
                        .map_or(("none", INTERNAL_ERROR), |(d, c)| (d.as_str(), c));
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
        crate::adapters::metrics::in_function(self.name(), work.instrument(span)).await
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
                    &[("ErrorCode", err.code().as_str())],
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
pub fn caller(req: &Request) -> Result<Owner, ApiError> {
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
            Ok(Owner::from(sub.as_str()))
        }
        _ => Err(ApiError::unauthenticated()),
    }
}

/// A request's JSON object body as read once, or why it cannot be read.
type Parsed = Result<JsonBody, ApiError>;

/// The handler's view of the body read once: the body, or its refusal.
fn body(parsed: &Parsed) -> Result<&JsonBody, ApiError> {
    parsed.as_ref().map_err(ApiError::clone)
}

/// The request body as the contract's request type `T` ([`parse::FromBody`]).
fn read<T: parse::FromBody>(deps: &Deps, parsed: &Parsed) -> Result<T, ApiError> {
    T::from_body(body(parsed)?, &deps.config)
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

/// `uploadId` from the path (`GET .../{uploadId}`).
fn path_upload_id(req: &Request) -> Result<UploadId, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|params| params.first("uploadId"))
        .ok_or_else(|| {
            ApiError::bad_request(ErrorCode::MissingField, "uploadId is required in the path")
        })?;
    Ok(UploadId::parse(raw)?)
}

/// The caller's upload a request names (`uploadId`), checking the optional `key` old apps send.
async fn owned_request(
    deps: &Deps, owner: &Owner, upload_id: &upload_contract::UploadId, key: Option<&ObjectKey>,
) -> Result<UploadRecord, ApiError> {
    let record = owned(deps, owner, &parse::upload_id(upload_id)?).await?;
    check_key(&record, key.map(|key| key.0.as_str()))?;
    Ok(record)
}

/// The optional `key` old apps send must be the upload's.
fn check_key(record: &UploadRecord, client_key: Option<&str>) -> Result<(), ApiError> {
    if client_key.is_some_and(|key| record.key != key) {
        return Err(ApiError::bad_request(
            ErrorCode::KeyMismatch,
            "key does not match this upload's key; omit it or send the key initialize returned",
        ));
    }
    Ok(())
}
