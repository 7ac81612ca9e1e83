//! Typed calls to the API: the contract's request types in, its answer types out, or a [`Refused`]
//! (status, code, message, body). Each success is checked for the status its endpoint documents,
//! and every answer for being JSON. Tests that send malformed or hostile input on purpose, or check
//! which fields an answer leaves out, use the raw calls ([`Stack::post`], [`Stack::get`]) instead.

use std::collections::HashMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use upload_contract::{
    AbortRequest, AbortResponse, BatchPresignedUrlsRequest, BatchPresignedUrlsResponse,
    CompleteRequest, CompleteResponse, CompletedPart, InitializeRequest, InitializeResponse,
    ListPartsResponse, ListUploadsResponse, PresignedUrlRequest, PresignedUrlResponse,
    StatusResponse, UploadId,
};

use crate::stack::Stack;

/// An error answer: its status, the body's `error.code` and `error.message`, the whole body, and
/// `Retry-After` in seconds when the answer carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub body: Value,
    pub retry_after: Option<u64>,
}

/// `refused == (409, "UPLOAD_ABORTED")`: the status and code, as most tests check them.
impl PartialEq<(u16, &str)> for Refused {
    fn eq(&self, (status, code): &(u16, &str)) -> bool {
        self.status == *status && self.code == *code
    }
}

/// What a typed call returns.
pub type Answer<T> = Result<T, Refused>;

/// The refusal a call was expected to get; panics with the answer when it succeeded.
pub trait Refusal {
    fn refused(self) -> Refused;
}

impl<T: Debug> Refusal for Answer<T> {
    #[track_caller]
    fn refused(self) -> Refused {
        match self {
            Ok(answer) => panic!("expected an error answer, got {answer:?}"),
            Err(refused) => refused,
        }
    }
}

/// The `error.code` of an answer body ("" when it has none).
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// A PUT that storage did not accept: a 4xx, or the connection closed before the body was read.
pub fn put_refused(status: u16) -> bool {
    status == 0 || (400..500).contains(&status)
}

/// `(number, ETag)` pairs as the complete request's `parts`.
pub fn completed(parts: &[(u32, String)]) -> Vec<CompletedPart> {
    parts
        .iter()
        .map(|(part_number, etag)| CompletedPart {
            part_number: *part_number,
            etag: etag.clone(),
            checksum_sha256: None,
            checksum_crc32c: None,
            checksum_crc64nvme: None,
        })
        .collect()
}

/// A request for one part's URL, with the part's checksum if the upload has an algorithm.
pub fn presign_request(id: &UploadId, part: u32, checksum: Option<&str>) -> PresignedUrlRequest {
    PresignedUrlRequest {
        upload_id: *id,
        key: None,
        part_number: part,
        checksum: checksum.map(str::to_owned),
    }
}

/// A batch request for parts `start..=end`, without checksums.
pub fn batch_request(id: &UploadId, start: u32, end: u32) -> BatchPresignedUrlsRequest {
    BatchPresignedUrlsRequest {
        upload_id: *id,
        key: None,
        start_part: start,
        end_part: end,
        checksums: None,
    }
}

/// An initialize request for `size` bytes of `video/mp4`.
pub fn video(name: &str, size: usize) -> InitializeRequest {
    InitializeRequest {
        file_name: name.to_owned(),
        file_type: "video/mp4".to_owned(),
        file_size: size as u64,
        checksum_algorithm: None,
        part_size: None,
        fingerprint: None,
        metadata: None,
    }
}

impl Stack {
    /// A typed call as `user`: POST with `body`, or GET without. `success` is the status the
    /// endpoint documents for this answer.
    async fn call<T: DeserializeOwned>(
        &self, user: &str, path: &str, body: Option<&impl Serialize>, success: impl Fn(&T) -> u16,
    ) -> Answer<T> {
        let body = body.map(|b| serde_json::to_value(b).expect("requests serialize"));
        let reply = self.exchange(user, path, body.as_ref()).await;
        let (status, answer) = (reply.status, reply.body);
        if !(200..300).contains(&status) {
            let refused = Refused {
                status,
                code: code(&answer).to_owned(),
                message: answer["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body: answer,
                retry_after: reply.retry_after,
            };
            assert!(
                !refused.code.is_empty() && !refused.message.is_empty(),
                "{path}: an error answer names its code and says what to fix: {}",
                refused.body
            );
            return Err(refused);
        }
        let typed: T = serde_json::from_value(answer.clone())
            .unwrap_or_else(|e| panic!("{path}: the answer is not the contract's ({e}): {answer}"));
        assert_eq!(status, success(&typed), "{path}: {answer}");
        Ok(typed)
    }

    /// `POST /initialize`: 201 for a new upload, 200 for one resumed by its fingerprint.
    pub async fn initialize(
        &self, user: &str, request: &InitializeRequest,
    ) -> Answer<InitializeResponse> {
        self.call(
            user,
            "/initialize",
            Some(request),
            |a: &InitializeResponse| {
                if a.resumed {
                    200
                } else {
                    201
                }
            },
        )
        .await
    }

    /// Starts a new upload of `size` bytes of video; panics unless it was created.
    pub async fn begin(&self, user: &str, name: &str, size: usize) -> InitializeResponse {
        let init = self
            .initialize(user, &video(name, size))
            .await
            .unwrap_or_else(|e| panic!("initialize: {e:?}"));
        assert!(!init.resumed, "a new upload: {init:?}");
        init
    }

    /// `POST /presigned-url` for one part, without a checksum.
    pub async fn presign(
        &self, user: &str, id: &UploadId, part: u32,
    ) -> Answer<PresignedUrlResponse> {
        self.presign_with(user, &presign_request(id, part, None))
            .await
    }

    /// `POST /presigned-url` with a request built by the test.
    pub async fn presign_with(
        &self, user: &str, request: &PresignedUrlRequest,
    ) -> Answer<PresignedUrlResponse> {
        self.call(user, "/presigned-url", Some(request), |_| 200)
            .await
    }

    /// `POST /batch-presigned-urls` for parts `start..=end`.
    pub async fn batch(
        &self, user: &str, request: &BatchPresignedUrlsRequest,
    ) -> Answer<BatchPresignedUrlsResponse> {
        self.call(user, "/batch-presigned-urls", Some(request), |_| 200)
            .await
    }

    /// URLs for parts `start..=end`, by part number; panics unless they were given.
    pub async fn urls(
        &self, user: &str, id: &UploadId, start: u32, end: u32,
    ) -> HashMap<u32, String> {
        let answer = self
            .batch(user, &batch_request(id, start, end))
            .await
            .unwrap_or_else(|e| panic!("batch-presigned-urls: {e:?}"));
        answer
            .urls
            .into_iter()
            .map(|u| (u.part_number, u.presigned_url))
            .collect()
    }

    /// `POST /complete`, with the client's `(number, ETag)` list or without (storage's list).
    pub async fn complete(
        &self, user: &str, id: &UploadId, parts: Option<&[(u32, String)]>,
    ) -> Answer<CompleteResponse> {
        let request = CompleteRequest {
            upload_id: *id,
            key: None,
            parts: parts.map(completed),
            checksum: None,
        };
        self.complete_with(user, &request).await
    }

    /// `POST /complete` with a request built by the test.
    pub async fn complete_with(
        &self, user: &str, request: &CompleteRequest,
    ) -> Answer<CompleteResponse> {
        self.call(user, "/complete", Some(request), |_| 200).await
    }

    /// `POST /abort`.
    pub async fn abort(&self, user: &str, id: &UploadId) -> Answer<AbortResponse> {
        let request = AbortRequest {
            upload_id: *id,
            key: None,
        };
        self.call(user, "/abort", Some(&request), |_| 200).await
    }

    /// `GET /status/{id}`.
    pub async fn status(&self, user: &str, id: &UploadId) -> Answer<StatusResponse> {
        self.call(user, &format!("/status/{id}"), NO_BODY, |_| 200)
            .await
    }

    /// `GET /parts/{id}`: what storage holds.
    pub async fn parts(&self, user: &str, id: &UploadId) -> Answer<ListPartsResponse> {
        self.call(user, &format!("/parts/{id}"), NO_BODY, |_| 200)
            .await
    }

    /// `GET /uploads?QUERY` (`query` without the `?`, or empty).
    pub async fn uploads(&self, user: &str, query: &str) -> Answer<ListUploadsResponse> {
        let path = match query {
            "" => "/uploads".to_owned(),
            query => format!("/uploads?{query}"),
        };
        self.call(user, &path, NO_BODY, |_| 200).await
    }
}

/// A GET's missing body.
const NO_BODY: Option<&()> = None;
