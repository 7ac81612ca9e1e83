//! Per-part checksums: the URL is signed with the part's checksum header, so storage refuses a PUT
//! without it, and (where the server checks digests) a PUT whose bytes differ.

use serde_json::json;
use upload_contract::{ChecksumAlgorithm, CompleteRequest};

use crate::digests::{checksummed_upload, Algorithm};
use testkit::*;

const USER: &str = "carol";
const SIZE: usize = 5 * MIB + 4321;

async fn put_with_checksum(
    stack: &Stack, url: &str, bytes: &[u8], checksum: Option<&str>,
) -> (u16, Option<String>) {
    stack
        .put_with(url, bytes, checksum.map(|c| ("x-amz-checksum-sha256", c)))
        .await
}

/// A SHA-256 upload: s3s-fs, which checks signatures, refuses a part without its signed checksum
/// header or with another value; on both servers the parts with the right header complete, on s3s-fs
/// with the client's parts and their checksums, on moto from storage's own list without ETags.
async fn checksummed_upload_is_signed_and_completes(server: S3Server) {
    let stack = Stack::start(server).await;
    let file = file_bytes(SIZE, if server == S3Server::Moto { 12 } else { 11 });
    let (init, urls) = checksummed_upload(&stack, USER, Algorithm::Sha256, "sum.mp4", &file).await;
    assert_eq!(init.checksum_algorithm, Some(ChecksumAlgorithm::Sha256));
    if server == S3Server::S3sFs {
        let (url1, _) = &urls[&1];
        // Without the signed header the signature does not match.
        let (status, _) = put_with_checksum(&stack, url1, &file[..5 * MIB], None).await;
        assert!(
            put_refused(status),
            "PUT refused for a bad signature, got {status}"
        );
        // A different checksum header breaks the signature too.
        let wrong = sha256_base64(b"something else");
        let (status, _) = put_with_checksum(&stack, url1, &file[..5 * MIB], Some(&wrong)).await;
        assert!(
            put_refused(status),
            "PUT refused for a bad signature, got {status}"
        );
    }
    // s3s-fs 0.14 does not compare the body with x-amz-checksum-sha256 (a corrupted part with the
    // right header is stored), and neither does moto, so the proof here is the signature: the header
    // cannot be left out or changed. Real S3 then refuses a body whose digest differs (BadDigest);
    // LocalStack does too (localstack.rs).
    let mut parts = Vec::new();
    for (n, range) in [(1u32, 0..5 * MIB), (2, 5 * MIB..SIZE)] {
        let (url, sum) = &urls[&n];
        let (status, etag) = put_with_checksum(&stack, url, &file[range], Some(sum)).await;
        assert_eq!(status, 200, "part {n}");
        let mut part = completed(&[(n, etag.unwrap_or_default())]).remove(0);
        part.checksum_sha256 = Some(sum.clone());
        parts.push(part);
    }
    let request = CompleteRequest {
        upload_id: init.upload_id,
        key: None,
        parts: (server == S3Server::S3sFs).then_some(parts),
        checksum: None,
    };
    stack.complete_with(USER, &request).await.unwrap();
    stack.assert_stored(init.key.as_str(), &file).await;
}

per_server!(
    checksummed_upload_is_signed_and_completes:
    strict_s3_refuses_parts_that_do_not_match_their_signed_checksum => S3sFs,
    checksummed_upload_completes_without_etags_on_moto => Moto,
);

/// An initialize request for 10 bytes with the checksum algorithm spelled `algorithm`.
fn with_algorithm(name: &str, algorithm: &str) -> upload_contract::InitializeRequest {
    let mut request = video(name, 10);
    request.checksum_algorithm = Some(ChecksumAlgorithm::parse(algorithm));
    request
}

#[tokio::test]
async fn checksum_fields_are_validated() {
    let stack = Stack::start(S3Server::Moto).await;
    let refused = stack
        .initialize(USER, &with_algorithm("a", "MD5"))
        .await
        .refused();
    assert_eq!(refused, (400, "INVALID_CHECKSUM_ALGORITHM"));
    // The algorithm's name is matched without regard to case.
    stack
        .initialize(USER, &with_algorithm("a", "sha256"))
        .await
        .unwrap();

    let init = stack
        .initialize(USER, &with_algorithm("a", "CRC32C"))
        .await
        .unwrap();
    let id = &init.upload_id;
    let wrong_digest = sha256_base64(b"x");
    let cases = [
        (None, "MISSING_CHECKSUM"),
        (Some("not base64!"), "INVALID_CHECKSUM"),
        (Some(wrong_digest.as_str()), "INVALID_CHECKSUM"),
    ];
    for (checksum, expected) in cases {
        let request = presign_request(id, 1, checksum);
        let refused = stack.presign_with(USER, &request).await.refused();
        assert_eq!(refused, (400, expected), "{request:?}");
    }
    let answer = stack
        .presign_with(USER, &presign_request(id, 1, Some("AAAAAA==")))
        .await
        .unwrap();
    assert_eq!(
        answer
            .url
            .headers
            .get("x-amz-checksum-crc32c")
            .map(String::as_str),
        Some("AAAAAA==")
    );
    let refused = stack.batch(USER, &batch_request(id, 1, 1)).await.refused();
    assert_eq!(refused, (400, "MISSING_CHECKSUM"));

    let plain = stack.begin(USER, "plain.mp4", 10).await;
    let request = presign_request(&plain.upload_id, 1, Some("AAAAAA=="));
    let refused = stack.presign_with(USER, &request).await.refused();
    assert_eq!(refused, (400, "CHECKSUM_NOT_ENABLED"));
}

/// A deployment may require checksums (REQUIRE_CHECKSUM): initialize without one is a clear 400;
/// with CRC64NVME the parts are signed with `x-amz-checksum-crc64nvme` and complete takes only a
/// whole-file value of the right shape.
#[tokio::test]
async fn required_checksums_and_whole_file_values_are_validated() {
    let stack = &Stack::start_with(S3Server::Moto, |v| {
        v.insert("REQUIRE_CHECKSUM".into(), "true".into());
    })
    .await;
    let refused = stack.initialize(USER, &video("a.mp4", 10)).await.refused();
    assert_eq!(refused, (400, "CHECKSUM_REQUIRED"), "{refused:?}");
    let init = stack
        .initialize(USER, &with_algorithm("a.mp4", "CRC64NVME"))
        .await
        .unwrap();
    assert_eq!(
        init.checksum_header.as_deref(),
        Some("x-amz-checksum-crc64nvme")
    );
    let id = &init.upload_id;
    let url = |checksum: &'static str| {
        let request = presign_request(id, 1, Some(checksum));
        async move { stack.presign_with(USER, &request).await }
    };
    let refused = url("AAAAAA==").await.refused();
    assert_eq!(refused, (400, "INVALID_CHECKSUM"), "{refused:?}");
    let answer = url("rosUhgp5mIg=").await.unwrap();
    assert!(answer
        .url
        .presigned_url
        .contains("X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-crc64nvme"));
    assert_eq!(
        answer
            .url
            .headers
            .get("x-amz-checksum-crc64nvme")
            .map(String::as_str),
        Some("rosUhgp5mIg=")
    );
    // Sent raw: a checksum of the wrong JSON type is malformed on purpose.
    for (checksum, expected) in [
        (json!(null), "MISSING_CHECKSUM"),
        (json!("AAAAAA=="), "INVALID_CHECKSUM"),
        (json!(7), "INVALID_FIELD"),
    ] {
        let (status, body) = stack
            .post(
                Some(USER),
                "/complete",
                &json!({ "uploadId": id, "checksum": checksum }),
            )
            .await;
        assert_eq!((status, code(&body)), (400, expected), "{checksum}: {body}");
    }

    let open = Stack::start(S3Server::Moto).await;
    let plain = open.begin(USER, "plain.mp4", 10).await;
    assert_eq!(plain.checksum_algorithm, None, "{plain:?}");
    let request = CompleteRequest {
        upload_id: plain.upload_id,
        key: None,
        parts: None,
        checksum: Some("rosUhgp5mIg=".to_owned()),
    };
    let refused = open.complete_with(USER, &request).await.refused();
    assert_eq!(refused, (400, "CHECKSUM_NOT_ENABLED"), "{refused:?}");
}
