//! Part checksums as S3 computes them, written independently of the service and the client: SHA-256,
//! CRC-32C and CRC-64/NVME of a part, the composite value of a multipart object, and a checksummed
//! upload started with each part's digest signed into its URL.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};
use upload_contract::{
    BatchPresignedUrlsRequest, ChecksumAlgorithm, CompletedPart, InitializeResponse,
};

use testkit::*;

#[derive(Clone, Copy, PartialEq)]
pub enum Algorithm {
    Sha256,
    Crc32c,
    Crc64Nvme,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
        }
    }

    /// The contract's name for it.
    pub fn wire(self) -> ChecksumAlgorithm {
        ChecksumAlgorithm::parse(self.name())
    }

    /// Where a completed part carries this checksum.
    pub fn part_checksum(self, part: &mut CompletedPart) -> &mut Option<String> {
        match self {
            Self::Sha256 => &mut part.checksum_sha256,
            Self::Crc32c => &mut part.checksum_crc32c,
            Self::Crc64Nvme => &mut part.checksum_crc64nvme,
        }
    }

    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(bytes).to_vec(),
            Self::Crc32c => crc32c(bytes).to_be_bytes().to_vec(),
            Self::Crc64Nvme => crc64nvme(bytes).to_be_bytes().to_vec(),
        }
    }

    /// What S3 reports for a multipart object: the digest of the parts' digests, then `-N`; for
    /// CRC64NVME (full object) the whole file's own CRC.
    pub fn composite(self, parts: &[&[u8]]) -> String {
        if self == Self::Crc64Nvme {
            return base64(&self.digest(&parts.concat()));
        }
        let digests: Vec<u8> = parts.iter().flat_map(|p| self.digest(p)).collect();
        format!("{}-{}", base64(&self.digest(&digests)), parts.len())
    }
}

/// CRC-64/NVME, bit by bit (independent of the client's SIMD crate): S3's
/// `x-amz-checksum-crc64nvme` is its big-endian base64.
pub fn crc64nvme(bytes: &[u8]) -> u64 {
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
pub fn crc32c(bytes: &[u8]) -> u32 {
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
pub fn crc32c_matches_known_vectors() {
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(base64(&crc32c(b"").to_be_bytes()), "AAAAAA==");
    assert_eq!(crc64nvme(b"123456789"), 0xAE8B_1486_0A79_9888);
}

/// Each part's presigned URL and the checksum header value signed into it, by part number.
pub type ChecksummedUrls = HashMap<u32, (String, String)>;

/// Starts an upload of `file` (two parts: 5 MiB and the rest) whose parts carry `algorithm`'s
/// digest; checks that each URL signs the checksum header and answers the value to send with it.
pub async fn checksummed_upload(
    stack: &Stack, user: &str, algorithm: Algorithm, name: &str, file: &[u8],
) -> (InitializeResponse, ChecksummedUrls) {
    let mut request = video(name, file.len());
    request.checksum_algorithm = Some(algorithm.wire());
    let init = stack.initialize(user, &request).await.unwrap();
    assert_eq!(init.checksum_header.as_deref(), Some(algorithm.header()));
    let sums: BTreeMap<String, String> = [
        ("1".to_owned(), base64(&algorithm.digest(&file[..5 * MIB]))),
        ("2".to_owned(), base64(&algorithm.digest(&file[5 * MIB..]))),
    ]
    .into();
    let request = BatchPresignedUrlsRequest {
        checksums: Some(sums.clone()),
        ..batch_request(&init.upload_id, 1, 2)
    };
    let answer = stack.batch(user, &request).await.unwrap();
    let signed = format!(
        "X-Amz-SignedHeaders=content-length%3Bhost%3B{}",
        algorithm.header()
    );
    let urls = answer
        .urls
        .into_iter()
        .map(|u| {
            let url = u.presigned_url;
            assert!(url.contains(&signed), "checksum header is signed: {url}");
            let value = u.headers[algorithm.header()].clone();
            assert_eq!(value, sums[&u.part_number.to_string()]);
            (u.part_number, (url, value))
        })
        .collect();
    (init, urls)
}
