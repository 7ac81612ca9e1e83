//! The OpenAPI document, generated from the wire types (`--features openapi`). `openapi.yaml` is
//! the published contract (JWT only, the deployed stage as server); `openapi.dev.yaml` adds
//! `make dev`'s local server and its `x-user-id` identity header. `cargo run -p upload-contract
//! --features openapi --bin openapi` writes both; a test fails when the committed files differ.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, SecurityRequirement, ServerBuilder};
use utoipa::{Modify, OpenApi};

use crate::answers::*;
use crate::enums::*;
use crate::ids::*;
use crate::requests::*;

/// Which document: the published contract or the local dev overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spec {
    /// `openapi.yaml`: what API Gateway serves; callers authenticate with a JWT.
    Published,
    /// `openapi.dev.yaml`: `make dev`'s local API, where `x-user-id` stands in for the JWT.
    Dev,
}

impl Spec {
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Published => "openapi.yaml",
            Self::Dev => "openapi.dev.yaml",
        }
    }
}

/// The document as YAML.
pub fn spec(which: Spec) -> String {
    let mut doc = ApiDoc::openapi();
    if which == Spec::Dev {
        dev_overlay(&mut doc);
    }
    let yaml = doc.to_yaml().expect("the document serializes");
    format!(
        "# Generated from the wire types in contract/src (cargo run -p upload-contract --features openapi \
         --bin openapi); do not edit.\n{yaml}"
    )
}

const UNKNOWN_VALUES: &str = "Enums may gain values: a client must accept a value it does not \
know (openapi-generator: `--additional-properties=enumUnknownDefaultCase=true`, which maps it to \
`unknown_default_open_api`). An unknown upload status means \"not finished\"; an unknown error \
code is handled by its HTTP status.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Multipart upload API",
        version = "1.0.0",
        description = "Orchestrates direct-to-S3 multipart uploads through presigned URLs. The bytes \
never pass through this API: clients PUT each part to its presigned URL (see `PartUrl`). Unknown \
request fields are ignored, and an optional field that is null counts as absent.\n\nEnums may gain \
values: a client must accept a value it does not know (openapi-generator: \
`--additional-properties=enumUnknownDefaultCase=true`). An unknown upload status means \"not \
finished\"; an unknown error code is handled by its HTTP status.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers(
        (
            url = "https://{apiId}.execute-api.{region}.amazonaws.com",
            description = "A deployed stack (the ApiUrl output of `sam deploy`)",
            variables(
                ("apiId" = (default = "abcdef1234", description = "The HTTP API's id")),
                ("region" = (default = "eu-west-1", description = "The AWS region of the stack"))
            )
        )
    ),
    tags(
        (name = "uploads", description = "Start, sign, complete and abort multipart uploads"),
        (name = "progress", description = "What an upload holds, for resuming and polling")
    ),
    paths(initialize, presigned_url, batch_presigned_urls, complete, abort, list_parts, status, list_uploads),
    components(schemas(
        UploadId, ObjectKey, UploadStatus, ChecksumAlgorithm, ChecksumType, ErrorCode, ApiErrorBody, ApiErrorDetail,
        InitializeRequest, InitializeResponse, PresignedUrlRequest, PresignedUrlResponse,
        BatchPresignedUrlsRequest, BatchPresignedUrlsResponse, PartUrl, CompleteRequest,
        CompletedPart, CompleteResponse, AbortRequest, AbortResponse, ListPartsResponse, ListedPart,
        StatusResponse, UploadSummary, ListUploadsResponse
    )),
    modifiers(&Jwt, &Links),
    security(("jwt" = []))
)]
struct ApiDoc;

struct Jwt;

impl Modify for Jwt {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        scheme.description = Some(
            "Verified by API Gateway's JWT authorizer; the caller is the token's `sub` claim."
                .into(),
        );
        components.add_security_scheme("jwt", SecurityScheme::Http(scheme));
    }
}

/// Links from an answer's `uploadId` to the operations that take it in their path (OpenAPI links can
/// fill parameters only from an expression; a request body cannot be assembled from fields).
struct Links;

impl Modify for Links {
    fn modify(&self, doc: &mut Document) {
        const BASE: &str = "/api/v1/multipart-upload";
        let follow = [
            ("initialize", "201", &["listParts", "status"][..]),
            ("complete", "200", &["status"][..]),
            ("abort", "200", &["status"][..]),
        ];
        for (path, status, targets) in follow {
            let Some(item) = doc.paths.paths.get_mut(&format!("{BASE}/{path}")) else {
                continue;
            };
            let Some(operation) = item.post.as_mut() else {
                continue;
            };
            let Some(utoipa::openapi::RefOr::T(response)) =
                operation.responses.responses.get_mut(status)
            else {
                continue;
            };
            for target in targets {
                let link = utoipa::openapi::link::LinkBuilder::new()
                    .operation_id(*target)
                    .parameter("path.uploadId", "$response.body#/uploadId")
                    .description(format!("`{target}` of the upload this answer names"))
                    .build();
                response
                    .links
                    .insert((*target).to_owned(), utoipa::openapi::RefOr::T(link));
            }
        }
    }
}

fn dev_overlay(doc: &mut Document) {
    doc.servers = Some(vec![ServerBuilder::new()
        .url("http://127.0.0.1:3000")
        .description(Some(
            "make dev (the identity comes from the x-user-id header instead of a JWT)",
        ))
        .build()]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "localUser",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-user-id",
            "make dev's local API only: the caller's id, standing in for the JWT's `sub` claim. \
             The deployed functions never read this header.",
        ))),
    );
    doc.security = Some(vec![
        SecurityRequirement::new("jwt", Vec::<String>::new()),
        SecurityRequirement::new("localUser", Vec::<String>::new()),
    ]);
}

#[utoipa::path(
    post,
    path = "/api/v1/multipart-upload/initialize",
    operation_id = "initialize",
    tag = "uploads",
    summary = "Start an upload; the server plans the parts and chooses the key.",
    description = "Checks the file's size against MAX_FILE_SIZE and its type against \
ALLOWED_CONTENT_TYPES, reserves the caller's quota, starts the S3 multipart upload and answers the \
plan: `chunkSize` bytes per part (the last part holds the rest), `totalParts`, and the `uploadId` \
every later call takes. Without a `fingerprint` it is not idempotent: a retried initialize starts a \
second upload. With one, an unfinished upload of the caller's with the same fingerprint and \
`fileSize` is answered instead (`200`, `resumed: true`, with the parts storage holds).",
    request_body = InitializeRequest,
    responses(
        (status = 200, description = "An unfinished upload of the same file (same fingerprint and fileSize) resumed, with the parts storage holds.", body = InitializeResponse),
        (status = 201, description = "Upload started.", body = InitializeResponse),
        (status = 400, description = "A field is missing or invalid (`fileSize` outside 1 byte to MAX_FILE_SIZE: INVALID_FILE_SIZE; `metadata` keys, values or size: INVALID_METADATA).", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 413, description = "The request body is too large.", body = ApiErrorBody),
        (status = 415, description = "`fileType` is not allowed.", body = ApiErrorBody),
        (status = 429, description = "QUOTA_EXCEEDED: the caller's quota of unfinished uploads is used up; or RATE_LIMITED: more requests than the caller's per-minute limit allows, and `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass (RATE_LIMITED only)."))),
        (status = "5XX", description = "A fault of the service (opaque message; retry after `Retry-After` when sent).", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn initialize() {}

#[utoipa::path(
    post,
    path = "/api/v1/multipart-upload/presigned-url",
    operation_id = "presignedUrl",
    tag = "uploads",
    summary = "One part's upload URL.",
    description = "A fresh URL for one part, e.g. after its `PUT` got 403 (the URL expired). The \
URL works until `expiresAt`, at most until the upload expires.",
    request_body = PresignedUrlRequest,
    responses(
        (status = 200, description = "The URL.", body = PresignedUrlResponse),
        (status = 400, description = "A field is missing or invalid.", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 404, description = "No such upload for the caller.", body = ApiErrorBody),
        (status = 409, description = "The upload no longer takes parts.", body = ApiErrorBody),
        (status = 410, description = "The upload expired.", body = ApiErrorBody),
        (status = 413, description = "The request body is too large.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests, or part URLs, than the caller's per-minute limits allow; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn presigned_url() {}

#[utoipa::path(
    post,
    path = "/api/v1/multipart-upload/batch-presigned-urls",
    operation_id = "batchPresignedUrls",
    tag = "uploads",
    summary = "Upload URLs for a range of parts (at most MAX_PARTS_PER_BATCH).",
    description = "URLs for parts `startPart` to `endPart`, all valid until `expiresAt`. Ask for \
the rest of a large upload in further requests.",
    request_body = BatchPresignedUrlsRequest,
    responses(
        (status = 200, description = "The URLs, in part order.", body = BatchPresignedUrlsResponse),
        (status = 400, description = "A field is missing or invalid, or the range is too large.", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 404, description = "No such upload for the caller.", body = ApiErrorBody),
        (status = 409, description = "The upload no longer takes parts.", body = ApiErrorBody),
        (status = 410, description = "The upload expired.", body = ApiErrorBody),
        (status = 413, description = "The request body is too large.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests, or part URLs, than the caller's per-minute limits allow; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn batch_presigned_urls() {}

#[utoipa::path(
    post,
    path = "/api/v1/multipart-upload/complete",
    operation_id = "complete",
    tag = "uploads",
    summary = "Verify every part and complete, exactly once; repeats return the same result.",
    description = "Checks that storage holds every part with the planned size (and the sent \
ETags, when `parts` is given), then assembles the object. Safe to retry: a repeat answers the same \
completion; 409 COMPLETION_IN_PROGRESS (with `Retry-After`) while another request is completing.",
    request_body = CompleteRequest,
    responses(
        (status = 200, description = "Completed (now or by an earlier request).", body = CompleteResponse),
        (status = 400, description = "A field is invalid, or parts are missing or do not match.", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 404, description = "No such upload for the caller.", body = ApiErrorBody),
        (status = 409, description = "Aborted, being completed, or the key is taken.", body = ApiErrorBody),
        (status = 410, description = "The upload expired.", body = ApiErrorBody),
        (status = 413, description = "The request body is too large.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests, or part URLs, than the caller's per-minute limits allow; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn complete() {}

#[utoipa::path(
    post,
    path = "/api/v1/multipart-upload/abort",
    operation_id = "abort",
    tag = "uploads",
    summary = "Abort the upload and free its parts (idempotent).",
    description = "Drops the S3 multipart upload and its parts and releases the caller's quota. \
Aborting twice is fine; an upload that expired answers `EXPIRED`.",
    request_body = AbortRequest,
    responses(
        (status = 200, description = "Aborted (or already expired).", body = AbortResponse),
        (status = 400, description = "A field is missing or invalid.", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 404, description = "No such upload for the caller.", body = ApiErrorBody),
        (status = 409, description = "The upload is completed or being completed.", body = ApiErrorBody),
        (status = 413, description = "The request body is too large.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests, or part URLs, than the caller's per-minute limits allow; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn abort() {}

#[utoipa::path(
    get,
    path = "/api/v1/multipart-upload/parts/{uploadId}",
    operation_id = "listParts",
    tag = "progress",
    summary = "The parts S3 already holds, for resuming.",
    description = "Storage's view: send the parts that are missing (or have the wrong size), then \
complete.",
    params(("uploadId" = UploadId, Path, description = "The id initialize returned")),
    responses(
        (status = 200, description = "Stored parts in part-number order.", body = ListPartsResponse),
        (status = 400, description = "The uploadId is not a UUID.", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 404, description = "No such upload for the caller.", body = ApiErrorBody),
        (status = 409, description = "The upload is completed or aborted.", body = ApiErrorBody),
        (status = 410, description = "The upload expired.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests, or part URLs, than the caller's per-minute limits allow; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn list_parts() {}

#[utoipa::path(
    get,
    path = "/api/v1/multipart-upload/status/{uploadId}",
    operation_id = "status",
    tag = "progress",
    summary = "The upload's state and progress.",
    description = "The record and what storage holds; poll it while a completion is in progress.",
    params(("uploadId" = UploadId, Path, description = "The id initialize returned")),
    responses(
        (status = 200, description = "The upload and its progress.", body = StatusResponse),
        (status = 400, description = "The uploadId is not a UUID.", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 404, description = "No such upload for the caller.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests, or part URLs, than the caller's per-minute limits allow; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn status() {}

#[utoipa::path(
    get,
    path = "/api/v1/multipart-upload/uploads",
    operation_id = "listUploads",
    tag = "progress",
    summary = "The caller's uploads, newest first.",
    description = "Only the caller's own uploads, from an index on the owner. Unfinished uploads show the parts storage holds. Page with `nextCursor`: a cursor is bound to the caller and to the `status` filter it was issued with, and any other is refused with INVALID_CURSOR.",
    params(
        ("status" = Option<UploadStatus>, Query, description = "Only uploads in this status (as `status` reports it: an INITIATED upload past its expiry is EXPIRED)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Uploads per page (default 20)."),
        ("cursor" = Option<String>, Query, description = "The previous page's `nextCursor`, unchanged."),
    ),
    responses(
        (status = 200, description = "A page of uploads.", body = ListUploadsResponse),
        (status = 400, description = "`status` or `limit` is invalid (INVALID_FIELD), or the cursor was not issued to the caller with this filter (INVALID_CURSOR).", body = ApiErrorBody),
        (status = 401, description = "No caller identity.", body = ApiErrorBody),
        (status = 429, description = "RATE_LIMITED: more requests than the caller's per-minute limit allows; `Retry-After` says when the minute ends.", body = ApiErrorBody, headers(("Retry-After" = u32, description = "Seconds until the same request may pass."))),
        (status = "5XX", description = "A fault of the service.", body = ApiErrorBody),
    )
)]
#[allow(dead_code)]
fn list_uploads() {}

/// A string schema with a description and an example.
pub(crate) fn string_schema(
    description: &str, format: Option<utoipa::openapi::schema::SchemaFormat>, example: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .format(format)
        .description(Some(description))
        .examples([serde_json::Value::from(example)])
        .into()
}

/// An enum of strings: the known values, and the rule for unknown ones.
pub(crate) fn enum_schema(
    description: &str, values: &[&str],
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(format!("{description}\n\n{UNKNOWN_VALUES}")))
        .examples([serde_json::Value::from(values[0])])
        .into()
}

impl utoipa::PartialSchema for UploadId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "The id this service gives an upload (a UUID); not S3's multipart upload id.",
            Some(utoipa::openapi::schema::SchemaFormat::Custom("uuid".into())),
            "6f9619ff-8b86-4d01-b42d-00c04fc964ff",
        )
    }
}

impl utoipa::ToSchema for UploadId {}

impl utoipa::PartialSchema for ObjectKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "The S3 object key the server chose for the upload.",
            None,
            "uploads/user-123/6f9619ff-8b86-4d01-b42d-00c04fc964ff/video.mp4",
        )
    }
}

impl utoipa::ToSchema for ObjectKey {}

macro_rules! enum_schemas {
    ($($name:ident: $description:literal,)+) => {$(
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                enum_schema($description, $name::KNOWN)
            }
        }

        impl utoipa::ToSchema for $name {}
    )+};
}

enum_schemas! {
    UploadStatus: "Where an upload is: INITIATED (parts may be sent), COMPLETING (a complete is \
assembling the object), COMPLETED, ABORTED, EXPIRED (not completed in time; parts discarded).",
    ChecksumAlgorithm: "The digest every part's PUT carries, signed into its URL. CRC64NVME \
(recommended): storage also checks the whole file's CRC64NVME, sent at complete.",
    ChecksumType: "What an object's checksum covers: FULL_OBJECT (the whole file, checked against the \
client's value) or COMPOSITE (the parts' digests).",
    ErrorCode: "The machine-readable code of an error answer; branch on it, show the message.",
}
