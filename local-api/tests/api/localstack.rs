//! Against LocalStack's S3 (DynamoDB still from moto), the one local S3 here that compares a part's
//! bytes with its `x-amz-checksum-*` header: a part whose bytes changed on the way is refused with
//! 400 `BadDigest` and can then be sent again, and the whole file's CRC64NVME is checked at complete.
//! Its checks of part URLs are in part_urls.rs, its CORS rule in demo_page.rs.
//! `scripts/stack.sh --localstack` starts it (`make test` does).

use crate::digests::{checksummed_upload, Algorithm};
use testkit::*;

const USER: &str = "lena";
/// Two parts: 5 MiB and 4,321 bytes.
const SIZE: usize = 5 * MIB + 4321;

/// One part's bytes change on the way: storage refuses them (400 BadDigest), the same URL then
/// takes the right bytes, and the upload completes with the object's composite checksum.
async fn corrupted_part_is_refused_then_resent(algorithm: Algorithm, with_client_parts: bool) {
    let stack = Stack::start(S3Server::LocalStack).await;
    let file = file_bytes(SIZE, 31);
    let (init, urls) = checksummed_upload(&stack, USER, algorithm, "digest.mp4", &file).await;
    let id = &init.upload_id;
    let (url1, sum1) = &urls[&1];
    let header = algorithm.header();

    let mut corrupted = file[..5 * MIB].to_vec();
    corrupted[MIB + 7] ^= 0x40;
    let (status, _, code) = stack
        .put_for_code(url1, &corrupted, &[(header, sum1)])
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "BadDigest"),
        "{} part whose bytes differ from the signed digest",
        algorithm.name()
    );
    // The header is signed into the URL: another value (even the corrupted bytes' own digest) or
    // none at all breaks the signature.
    let own = base64(&algorithm.digest(&corrupted));
    let (status, _, code) = stack
        .put_for_code(url1, &corrupted, &[(header, &own)])
        .await;
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));
    let (status, _, _) = stack.put_for_code(url1, &file[..5 * MIB], &[]).await;
    assert!(
        put_refused(status),
        "PUT without its checksum header: {status}"
    );

    // Nothing was stored, so the upload is still resumable: the right bytes go up on the same URL.
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(status.uploaded_parts, 0, "{status:?}");
    let mut parts = Vec::new();
    for (n, range) in [(1u32, 0..5 * MIB), (2, 5 * MIB..SIZE)] {
        let (url, sum) = &urls[&n];
        let (status, etag, code) = stack
            .put_for_code(url, &file[range], &[(header, sum)])
            .await;
        assert_eq!(status, 200, "part {n}: {code}");
        let mut part = completed(&[(n, etag.unwrap())]).remove(0);
        *algorithm.part_checksum(&mut part) = Some(sum.clone());
        parts.push(part);
    }
    let whole = (algorithm == Algorithm::Crc64Nvme).then(|| base64(&algorithm.digest(&file)));
    let request = upload_contract::CompleteRequest {
        upload_id: *id,
        key: None,
        parts: with_client_parts.then_some(parts),
        checksum: whole,
    };
    let done = stack.complete_with(USER, &request).await.unwrap();
    assert_eq!(done.status, upload_contract::UploadStatus::Completed);
    assert_eq!(
        done.checksum.as_deref(),
        Some(
            algorithm
                .composite(&[&file[..5 * MIB], &file[5 * MIB..]])
                .as_str()
        ),
        "complete answers the object's composite checksum: {done:?}"
    );
    stack.assert_stored(init.key.as_str(), &file).await;
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
    let (init, urls) = checksummed_upload(&stack, USER, algorithm, "whole.mp4", &file).await;
    let id = &init.upload_id;
    for (n, range) in [(1u32, 0..5 * MIB), (2, 5 * MIB..SIZE)] {
        let (url, sum) = &urls[&n];
        let (status, _, code) = stack
            .put_for_code(url, &file[range], &[(algorithm.header(), sum)])
            .await;
        assert_eq!(status, 200, "part {n}: {code}");
    }
    let right = base64(&algorithm.digest(&file));
    let mut edited = file.clone();
    edited[5 * MIB + 100] ^= 1;
    let wrong = base64(&algorithm.digest(&edited));
    let stack = &stack;
    let complete = |checksum: Option<&str>| {
        let request = upload_contract::CompleteRequest {
            upload_id: *id,
            key: None,
            parts: None,
            checksum: checksum.map(str::to_owned),
        };
        async move { stack.complete_with(USER, &request).await }
    };
    let refused = complete(None).await.refused();
    assert_eq!(refused, (400, "MISSING_CHECKSUM"), "{refused:?}");
    let refused = complete(Some(&wrong)).await.refused();
    assert_eq!(refused, (400, "CHECKSUM_MISMATCH"), "{refused:?}");
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(
        (&status.status, status.uploaded_parts),
        (&upload_contract::UploadStatus::Initiated, 2),
        "a refused complete leaves the upload resumable: {status:?}"
    );
    let listed = stack.parts(USER, id).await.unwrap();
    assert_eq!(
        listed.parts[1].checksum,
        Some(base64(&algorithm.digest(&file[5 * MIB..]))),
        "parts answer each part's stored CRC64NVME, for clients to compare: {listed:?}"
    );

    let done = complete(Some(&right)).await.unwrap();
    assert_eq!(done.checksum.as_deref(), Some(right.as_str()), "{done:?}");
    assert_eq!(done.checksum_algorithm, Some(algorithm.wire()), "{done:?}");
    assert_eq!(
        done.checksum_type.as_ref().map(|t| t.as_str()),
        Some("FULL_OBJECT"),
        "{done:?}"
    );
    let status = stack.status(USER, id).await.unwrap();
    assert_eq!(
        status.checksum.as_deref(),
        Some(right.as_str()),
        "{status:?}"
    );
    let key = init.key.as_str();
    let head = stack.head_object_checksum(key).await;
    assert_eq!(head.checksum_crc64_nvme.as_deref(), Some(right.as_str()));
    assert_eq!(
        head.checksum_type.as_ref().map(|t| t.as_str()),
        Some("FULL_OBJECT")
    );
    stack.assert_stored(key, &file).await;
}

#[tokio::test]
async fn localstack_refuses_a_crc32c_part_whose_bytes_changed_and_takes_the_right_ones() {
    // Completed from storage's own part list (no client ETags or checksums).
    corrupted_part_is_refused_then_resent(Algorithm::Crc32c, false).await;
}
