//! Against LocalStack's S3 (DynamoDB still from moto), the one local S3 here that compares a part's
//! bytes with its `x-amz-checksum-*` header and checks presigned URLs' signature and expiry: a part
//! whose bytes changed on the way is refused with 400 `BadDigest` and can then be sent again; a URL
//! whose signature, part number or lifetime changed is refused with 403; the bucket's CORS rule
//! answers the demo page's preflight. `scripts/stack.sh --localstack` starts it (`make test` does).

use std::collections::HashMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::*;

const USER: &str = "lena";
/// Two parts: 5 MiB and 4,321 bytes.
const SIZE: usize = 5 * MIB + 4321;

#[derive(Clone, Copy, PartialEq)]
enum Algorithm {
    Sha256,
    Crc32c,
    Crc64Nvme,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
        }
    }

    /// The field `complete` takes a part's checksum in, as S3's CompletedPart names it.
    fn part_field(self) -> &'static str {
        match self {
            Self::Sha256 => "ChecksumSHA256",
            Self::Crc32c => "ChecksumCRC32C",
            Self::Crc64Nvme => "ChecksumCRC64NVME",
        }
    }

    fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(bytes).to_vec(),
            Self::Crc32c => crc32c(bytes).to_be_bytes().to_vec(),
            Self::Crc64Nvme => crc64nvme(bytes).to_be_bytes().to_vec(),
        }
    }

    /// What S3 reports for a multipart object: the digest of the parts' digests, then `-N`; for
    /// CRC64NVME (full object) the whole file's own CRC.
    fn composite(self, parts: &[&[u8]]) -> String {
        if self == Self::Crc64Nvme {
            return base64(&self.digest(&parts.concat()));
        }
        let digests: Vec<u8> = parts.iter().flat_map(|p| self.digest(p)).collect();
        format!("{}-{}", base64(&self.digest(&digests)), parts.len())
    }
}

/// CRC-64/NVME, bit by bit (independent of the client's SIMD crate): S3's
/// `x-amz-checksum-crc64nvme` is its big-endian base64.
fn crc64nvme(bytes: &[u8]) -> u64 {
    let mut crc = !0u64;
    for &byte in bytes {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// CRC-32C (Castagnoli), bit by bit: S3's `x-amz-checksum-crc32c` is its big-endian base64.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32c_matches_known_vectors() {
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(base64(&crc32c(b"").to_be_bytes()), "AAAAAA==");
    assert_eq!(crc64nvme(b"123456789"), 0xAE8B_1486_0A79_9888);
}

/// A PUT to a presigned URL with optional headers; the status and S3's error `<Code>`, if any.
async fn put(
    stack: &Stack,
    url: &str,
    bytes: &[u8],
    headers: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    // LocalStack may answer a refused PUT from its headers alone and close the connection while
    // the body is still being written; reqwest then reports only a broken pipe. A refused PUT
    // stores nothing, so sending it again until an answer is read changes nothing.
    let mut attempts = 0;
    let response = loop {
        attempts += 1;
        let mut request = stack
            .http
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send().await {
            Ok(response) => break response,
            Err(err) if err.is_request() && attempts < 8 => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(err) => panic!("LocalStack answers: {}", err.without_url()),
        }
    };
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_default();
    (status, etag, code)
}

/// Starts a checksummed upload of `file` and returns its id, key and each part's (URL, header value).
async fn checksummed_upload(
    stack: &Stack,
    algorithm: Algorithm,
    name: &str,
    file: &[u8],
) -> (String, String, HashMap<u32, (String, String)>) {
    let (status, init) = stack
        .post(
            Some(USER),
            "/initialize",
            &json!({ "fileName": name, "fileType": "video/mp4", "fileSize": file.len(), "checksumAlgorithm": algorithm.name() }),
        )
        .await;
    assert_eq!(status, 201, "{init}");
    assert_eq!(init["checksumHeader"], algorithm.header());
    let id = init["uploadId"].as_str().unwrap().to_owned();
    let key = init["key"].as_str().unwrap().to_owned();
    let sums = json!({
        "1": base64(&algorithm.digest(&file[..5 * MIB])),
        "2": base64(&algorithm.digest(&file[5 * MIB..])),
    });
    let (status, body) = stack
        .post(
            Some(USER),
            "/batch-presigned-urls",
            &json!({ "uploadId": id, "startPart": 1, "endPart": 2, "checksums": sums }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let urls = body["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let n = u["partNumber"].as_u64().unwrap() as u32;
            let value = u["headers"][algorithm.header()]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(json!(value), sums[n.to_string()]);
            (n, (u["presignedUrl"].as_str().unwrap().to_owned(), value))
        })
        .collect();
    (id, key, urls)
}

/// One part's bytes change on the way: storage refuses them (400 BadDigest), the same URL then
/// takes the right bytes, and the upload completes with the object's composite checksum.
async fn corrupted_part_is_refused_then_resent(algorithm: Algorithm, with_client_parts: bool) {
    let stack = Stack::start(S3Server::LocalStack).await;
    let file = file_bytes(SIZE, 31);
    let (id, key, urls) = checksummed_upload(&stack, algorithm, "digest.mp4", &file).await;
    let (url1, sum1) = &urls[&1];
    let header = algorithm.header();

    let mut corrupted = file[..5 * MIB].to_vec();
    corrupted[MIB + 7] ^= 0x40;
    let (status, _, code) = put(&stack, url1, &corrupted, &[(header, sum1)]).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "BadDigest"),
        "{} part whose bytes differ from the signed digest",
        algorithm.name()
    );
    // The header is signed into the URL: another value (even the corrupted bytes' own digest) or
    // none at all breaks the signature.
    let own = base64(&algorithm.digest(&corrupted));
    let (status, _, code) = put(&stack, url1, &corrupted, &[(header, &own)]).await;
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));
    let (status, _, _) = put(&stack, url1, &file[..5 * MIB], &[]).await;
    assert!(refused(status), "PUT without its checksum header: {status}");

    // Nothing was stored, so the upload is still resumable: the right bytes go up on the same URL.
    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["uploadedParts"], 0, "{body}");
    let mut parts = Vec::new();
    for (n, range) in [(1u32, 0..5 * MIB), (2, 5 * MIB..SIZE)] {
        let (url, sum) = &urls[&n];
        let (status, etag, code) = put(&stack, url, &file[range], &[(header, sum)]).await;
        assert_eq!(status, 200, "part {n}: {code}");
        parts.push(json!({ "PartNumber": n, "ETag": etag.unwrap(), algorithm.part_field(): sum }));
    }
    let mut request = if with_client_parts {
        json!({ "uploadId": id, "parts": parts })
    } else {
        json!({ "uploadId": id })
    };
    if algorithm == Algorithm::Crc64Nvme {
        request["checksum"] = json!(base64(&algorithm.digest(&file)));
    }
    let (status, body) = stack.post(Some(USER), "/complete", &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(
        body["checksum"],
        algorithm.composite(&[&file[..5 * MIB], &file[5 * MIB..]]),
        "complete answers the object's composite checksum: {body}"
    );
    assert_eq!(sha256(&stack.read_object(&key).await), sha256(&file));
}

#[tokio::test]
async fn localstack_refuses_a_sha256_part_whose_bytes_changed_and_takes_the_right_ones() {
    corrupted_part_is_refused_then_resent(Algorithm::Sha256, true).await;
}

#[tokio::test]
async fn localstack_refuses_a_crc64nvme_part_whose_bytes_changed_and_takes_the_right_ones() {
    corrupted_part_is_refused_then_resent(Algorithm::Crc64Nvme, true).await;
}

/// Storage checks the whole file's CRC64NVME at complete: a wrong value is a clear 400 that
/// destroys nothing (the parts stay, the upload stays INITIATED), and the right one completes an
/// object that carries the client's value.
#[tokio::test]
async fn localstack_refuses_a_wrong_whole_file_crc64nvme_and_completes_with_the_right_one() {
    let stack = Stack::start(S3Server::LocalStack).await;
    let algorithm = Algorithm::Crc64Nvme;
    let file = file_bytes(SIZE, 33);
    let (id, key, urls) = checksummed_upload(&stack, algorithm, "whole.mp4", &file).await;
    for (n, range) in [(1u32, 0..5 * MIB), (2, 5 * MIB..SIZE)] {
        let (url, sum) = &urls[&n];
        let (status, _, code) = put(&stack, url, &file[range], &[(algorithm.header(), sum)]).await;
        assert_eq!(status, 200, "part {n}: {code}");
    }
    let right = base64(&algorithm.digest(&file));
    let mut edited = file.clone();
    edited[5 * MIB + 100] ^= 1;
    let wrong = base64(&algorithm.digest(&edited));
    let stack = &stack;
    let complete = |checksum: Option<&str>| {
        let mut request = json!({ "uploadId": id });
        if let Some(checksum) = checksum {
            request["checksum"] = json!(checksum);
        }
        async move { stack.post(Some(USER), "/complete", &request).await }
    };
    let (status, body) = complete(None).await;
    assert_eq!((status, code(&body)), (400, "MISSING_CHECKSUM"), "{body}");
    let (status, body) = complete(Some(&wrong)).await;
    assert_eq!((status, code(&body)), (400, "CHECKSUM_MISMATCH"), "{body}");
    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["status"], &body["uploadedParts"]),
        (&json!("INITIATED"), &json!(2)),
        "a refused complete leaves the upload resumable: {body}"
    );
    let (status, body) = stack.get(Some(USER), &format!("/parts/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["parts"][1]["Checksum"],
        json!(base64(&algorithm.digest(&file[5 * MIB..]))),
        "parts answer each part's stored CRC64NVME, for clients to compare: {body}"
    );

    let (status, body) = complete(Some(&right)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checksum"], json!(right), "{body}");
    assert_eq!(body["checksumAlgorithm"], "CRC64NVME", "{body}");
    assert_eq!(body["checksumType"], "FULL_OBJECT", "{body}");
    let (_, status_body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!(status_body["checksum"], json!(right), "{status_body}");
    let head = stack
        .deps
        .aws
        .s3
        .head_object()
        .bucket(&stack.deps.config.bucket)
        .key(&key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(head.checksum_crc64_nvme.as_deref(), Some(right.as_str()));
    assert_eq!(
        head.checksum_type.as_ref().map(|t| t.as_str()),
        Some("FULL_OBJECT")
    );
    assert_eq!(sha256(&stack.read_object(&key).await), sha256(&file));
}

#[tokio::test]
async fn localstack_refuses_a_crc32c_part_whose_bytes_changed_and_takes_the_right_ones() {
    // Completed from storage's own part list (no client ETags or checksums).
    corrupted_part_is_refused_then_resent(Algorithm::Crc32c, false).await;
}

/// `url` with the value of query parameter `name` replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    assert_ne!(
        format!("{base}?{}", query.join("&")),
        url,
        "{name} is in {url}"
    );
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .expect("a query")
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} is in {url}"))
}

#[tokio::test]
async fn localstack_refuses_tampered_renumbered_and_expired_part_urls() {
    let stack = Stack::start_with(S3Server::LocalStack, |v| {
        v.insert("PRESIGNED_URL_TTL_SECONDS".into(), "60".into());
    })
    .await;
    let file = file_bytes(SIZE, 32);
    let init = stack.initialize(USER, "urls.mp4", SIZE).await;
    let id = init["uploadId"].as_str().unwrap();
    let urls = stack.urls(USER, id, 1, 2).await;
    let url = &urls[&1];
    let part = &file[..5 * MIB];

    let signature = param(url, "X-Amz-Signature");
    let last = signature.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let tampered = with_param(url, "X-Amz-Signature", &flipped);
    let (status, _, code) = put(&stack, &tampered, part, &[]).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "SignatureDoesNotMatch"),
        "tampered signature"
    );

    // Part 1's URL used for part 2: the part number is signed.
    let renumbered = with_param(url, "partNumber", "2");
    let (status, _, code) = put(&stack, &renumbered, &file[5 * MIB..], &[]).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "SignatureDoesNotMatch"),
        "changed partNumber"
    );
    let longer = with_param(url, "X-Amz-Expires", "3600");
    let (status, _, _) = put(&stack, &longer, part, &[]).await;
    assert_eq!(status, 403, "lifetime stretched in the URL");

    // Signed two minutes ago with a one-minute lifetime: expired when used.
    stack.deps.clock.advance(-120);
    let (status, body) = stack
        .post(
            Some(USER),
            "/presigned-url",
            &json!({ "uploadId": id, "partNumber": 1 }),
        )
        .await;
    stack.deps.clock.advance(120);
    assert_eq!(status, 200, "{body}");
    let expired = body["presignedUrl"].as_str().unwrap();
    let (status, _, code) = put(&stack, expired, part, &[]).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "AccessDenied"),
        "expired URL"
    );

    // None of that stored anything; the URLs as issued work and the upload completes.
    let (status, body) = stack.get(Some(USER), &format!("/status/{id}")).await;
    assert_eq!((status, &body["uploadedParts"]), (200, &json!(0)), "{body}");
    let etags = stack.upload_parts(&urls, &file, 5 * MIB, &[1, 2]).await;
    let (status, body) = stack
        .post(
            Some(USER),
            "/complete",
            &json!({ "uploadId": id, "parts": parts_json(&etags) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sha256(&stack.read_object(init["key"].as_str().unwrap()).await),
        sha256(&file)
    );
}

#[tokio::test]
async fn localstack_answers_the_demo_page_s_preflight_by_the_bucket_rule() {
    let stack = Stack::start(S3Server::LocalStack).await;
    let origin = stack
        .base
        .strip_suffix(shared::api::BASE_PATH)
        .expect("base ends with the API path")
        .to_owned();
    let preflight = |method: &'static str| {
        stack
            .http
            .request(
                reqwest::Method::OPTIONS,
                format!(
                    "{}/{}/uploads/alice/x/f.bin?partNumber=1&uploadId=y",
                    std::env::var("TEST_LOCALSTACK_URL").expect("TEST_LOCALSTACK_URL"),
                    stack.deps.objects.bucket()
                ),
            )
            .header("origin", &origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type,x-amz-checksum-sha256",
            )
            .send()
    };
    let answer = preflight("PUT").await.expect("preflight");
    assert_eq!(answer.status(), 200);
    let header = |name: &str| -> Option<String> {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(header("access-control-allow-origin").is_some_and(|o| o == "*" || o == origin));
    assert!(header("access-control-allow-methods").is_some_and(|m| m.contains("PUT")));
    assert_eq!(
        header("access-control-expose-headers").as_deref(),
        Some("ETag"),
        "the page reads each part's ETag"
    );
    // The rule allows PUT only: the answer comes from it, not from a blanket allow.
    for method in ["DELETE", "GET"] {
        let refused = preflight(method).await.expect("preflight");
        assert_eq!(
            refused.status(),
            403,
            "{method} is not in the bucket's rule"
        );
    }
}
