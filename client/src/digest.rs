//! What the client knows of a part's bytes, to have storage check them and to check what storage
//! holds: CRC64NVME (SIMD, `crc-fast`; combined into the whole file's value without another pass),
//! SHA-256 for uploads that chose it, and MD5 to compare with a part's ETag where storage reports
//! no checksum.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crc_fast::CrcAlgorithm::Crc64Nvme;
use serde::Serialize;

use crate::error::Error;
use upload_contract::{ChecksumAlgorithm, ListedPart};

/// How an upload's parts (and, for CRC64NVME, its whole file) are verified by storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Verify {
    /// CRC64NVME of every part signed into its URL, and the whole file's CRC64NVME checked by
    /// storage at complete (`FULL_OBJECT`): the object is the file or the upload fails.
    #[default]
    #[serde(rename = "CRC64NVME")]
    Crc64Nvme,
    /// SHA-256 of every part signed into its URL (`COMPOSITE`).
    #[serde(rename = "SHA256")]
    Sha256,
    /// Nothing for storage to check (what apps shipped before checksums send).
    #[serde(rename = "NONE")]
    Unverified,
}

impl Verify {
    /// The algorithm `initialize` names, if any.
    pub fn algorithm(self) -> Option<ChecksumAlgorithm> {
        match self {
            Self::Crc64Nvme => Some(ChecksumAlgorithm::Crc64Nvme),
            Self::Sha256 => Some(ChecksumAlgorithm::Sha256),
            Self::Unverified => None,
        }
    }

    /// The choice an upload was started with, from its status.
    pub fn of(algorithm: Option<&ChecksumAlgorithm>) -> Result<Self, String> {
        match algorithm {
            None => Ok(Self::Unverified),
            Some(ChecksumAlgorithm::Crc64Nvme) => Ok(Self::Crc64Nvme),
            Some(ChecksumAlgorithm::Sha256) => Ok(Self::Sha256),
            Some(other) => Err(format!(
                "this client computes CRC64NVME and SHA256, not {other}"
            )),
        }
    }

    /// The fingerprint's word for it: `false`/`true` as before CRC64NVME existed (unverified,
    /// SHA-256), so uploads fingerprinted by earlier versions are still found.
    pub fn fingerprint_word(self) -> &'static str {
        match self {
            Self::Unverified => "false",
            Self::Sha256 => "true",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }
}

/// The digests of one part's local bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartDigests {
    pub crc64nvme: u64,
    pub sha256: Option<String>,
    /// Lower-case hex, as a single-part upload's ETag spells it.
    pub md5: Option<String>,
}

/// Which digests to compute besides CRC64NVME (always: it is cheap and the whole file needs it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    pub sha256: bool,
    pub md5: bool,
}

/// Reads `len` bytes of `file` from `offset` in 1 MiB pieces (memory stays small whatever the part
/// size) on a blocking thread, and digests them.
pub async fn part_digests(
    file: &Path, offset: u64, len: u64, wanted: Wanted,
) -> Result<PartDigests, Error> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || digest_range(&path, offset, len, wanted))
        .await
        .map_err(|e| Error::State(format!("hashing a part stopped unexpectedly: {e}")))?
        .map_err(|e| Error::State(format!("reading {} to hash a part: {e}", file.display())))
}

fn digest_range(
    path: &Path, offset: u64, len: u64, wanted: Wanted,
) -> std::io::Result<PartDigests> {
    use md5::Digest as _;
    let mut handle = std::fs::File::open(path)?;
    handle.seek(SeekFrom::Start(offset))?;
    let mut piece = vec![0; (1 << 20).min(len.max(1) as usize)];
    let mut crc = crc_fast::Digest::new(Crc64Nvme);
    let mut sha = wanted.sha256.then(sha2::Sha256::new);
    let mut md5 = wanted.md5.then(md5::Md5::new);
    let mut left = len;
    while left > 0 {
        let n = left.min(piece.len() as u64) as usize;
        handle.read_exact(&mut piece[..n])?;
        crc.update(&piece[..n]);
        if let Some(sha) = sha.as_mut() {
            sha.update(&piece[..n]);
        }
        if let Some(md5) = md5.as_mut() {
            md5.update(&piece[..n]);
        }
        left -= n as u64;
    }
    Ok(PartDigests {
        crc64nvme: crc.finalize(),
        sha256: sha.map(|s| base64(&s.finalize())),
        md5: md5.map(|m| hex(&m.finalize())),
    })
}

/// Standard base64 with padding, as S3's checksum headers carry digests.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Lower-case hex, as an MD5 ETag or a fingerprint spells a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The CRC64NVME of `bytes`.
pub fn crc64nvme(bytes: &[u8]) -> u64 {
    crc_fast::checksum(Crc64Nvme, bytes)
}

/// A CRC64NVME as S3's `x-amz-checksum-crc64nvme` carries it: base64 of its 8 big-endian bytes.
pub fn crc64nvme_base64(crc: u64) -> String {
    base64(&crc.to_be_bytes())
}

/// The CRC64NVME of the whole file from its parts' values and lengths, in part order: CRC
/// combination math, no second pass over the file. crc(A‖B) = shift(crc(A), |B|) ^ crc(B), where
/// shift (appending |B| zero bytes to the register) is a 64×64 matrix over GF(2), built once per
/// distinct part length (every part but the last has the same), so a part costs 64 XORs at most.
pub fn combine(parts: impl IntoIterator<Item = (u64, u64)>) -> Option<u64> {
    let mut parts = parts.into_iter();
    let (first, _) = parts.next()?;
    let mut shifts: Vec<(u64, Matrix)> = Vec::new();
    Some(parts.fold(first, |crc, (next, len)| {
        let at = match shifts.iter().position(|(l, _)| *l == len) {
            Some(at) => at,
            None => {
                shifts.push((len, shift(len)));
                shifts.len() - 1
            }
        };
        times(&shifts[at].1, crc) ^ next
    }))
}

/// A linear map over GF(2)^64: column `i` is the image of bit `i`.
type Matrix = [u64; 64];

/// CRC-64/NVME's polynomial, reflected.
const POLY: u64 = 0x9A6C_9329_AC4B_C9B5;

fn times(matrix: &Matrix, mut vector: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vector != 0 {
        if vector & 1 == 1 {
            sum ^= matrix[i];
        }
        vector >>= 1;
        i += 1;
    }
    sum
}

fn square(matrix: &Matrix) -> Matrix {
    std::array::from_fn(|j| times(matrix, matrix[j]))
}

/// The map that appends `len` zero bytes to a CRC64NVME register.
fn shift(len: u64) -> Matrix {
    // One zero bit: the register shifts right, the polynomial folded in when bit 0 was set.
    let one_bit: Matrix = std::array::from_fn(|i| if i == 0 { POLY } else { 1 << (i - 1) });
    let mut power = square(&square(&square(&one_bit))); // one zero byte
    let mut result: Matrix = std::array::from_fn(|i| 1 << i);
    let mut n = len;
    while n > 0 {
        if n & 1 == 1 {
            result = std::array::from_fn(|j| times(&power, result[j]));
        }
        n >>= 1;
        if n > 0 {
            power = square(&power);
        }
    }
    result
}

/// An ETag that is the MD5 of the part (S3 with SSE-S3 or no encryption; not SSE-KMS/SSE-C).
fn md5_etag(etag: &str) -> Option<String> {
    let etag = etag.trim().trim_matches('"');
    (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| etag.to_ascii_lowercase())
}

/// What a check of a stored part needs computed: its stored checksum where storage reports one
/// in the upload's algorithm, else the MD5 its ETag may be.
pub fn wanted_for(part: &ListedPart, verify: Verify) -> Wanted {
    let by_checksum = part.checksum.is_some() && verify != Verify::Unverified;
    Wanted {
        sha256: by_checksum && verify == Verify::Sha256,
        md5: !by_checksum && part.etag.as_deref().and_then(md5_etag).is_some(),
    }
}

/// Whether storage's part is the local bytes: by the part's stored checksum where there is one,
/// else by its ETag as an MD5. `false` when neither can be checked: such a part is sent again.
pub fn same_bytes(part: &ListedPart, local: &PartDigests, verify: Verify) -> bool {
    if let (Some(stored), false) = (&part.checksum, verify == Verify::Unverified) {
        let ours = match verify {
            Verify::Crc64Nvme => Some(crc64nvme_base64(local.crc64nvme)),
            Verify::Sha256 => local.sha256.clone(),
            Verify::Unverified => None,
        };
        return ours.as_deref() == Some(stored.trim());
    }
    match (part.etag.as_deref().and_then(md5_etag), &local.md5) {
        (Some(stored), Some(ours)) => stored == *ours,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn crc64nvme_matches_the_published_check_value() {
        // CRC-64/NVME of "123456789" (the catalogue's check value).
        assert_eq!(crc64nvme(b"123456789"), 0xae8b_1486_0a79_9888);
        assert_eq!(crc64nvme_base64(0xae8b_1486_0a79_9888), "rosUhgp5mIg=");
    }

    #[test]
    fn part_values_combine_into_the_whole_file_s() {
        let bytes: Vec<u8> = (0..100_003u32).map(|i| (i * 31 % 253) as u8).collect();
        let cuts = [0usize, 40_000, 80_000, 100_003];
        let parts = cuts
            .windows(2)
            .map(|w| (crc64nvme(&bytes[w[0]..w[1]]), (w[1] - w[0]) as u64));
        assert_eq!(combine(parts), Some(crc64nvme(&bytes)));
        assert_eq!(combine([(7, 3)]), Some(7));
        assert_eq!(combine([]), None);
        // The same as crc-fast's own combination, for any values and lengths.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..50 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (a, b, len) = (x, x.rotate_left(17), x % (64 << 20));
            assert_eq!(
                combine([(a, 1), (b, len)]),
                Some(crc_fast::checksum_combine(Crc64Nvme, a, b, len)),
                "{len}"
            );
        }
    }

    #[tokio::test]
    async fn a_part_s_digests_are_of_exactly_its_bytes() {
        use md5::Digest as _;
        let bytes: Vec<u8> = (0..3_000_001u32).map(|i| (i * 7 % 251) as u8).collect();
        let path = std::env::temp_dir().join(format!("part-digest-{}.bin", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        // Crosses the 1 MiB read pieces, and starts mid-file as every part after the first does.
        let (offset, len) = (1_000_003u64, 1_900_000u64);
        let all = Wanted {
            sha256: true,
            md5: true,
        };
        let ours = part_digests(&path, offset, len, all).await.unwrap();
        let slice = &bytes[offset as usize..(offset + len) as usize];
        assert_eq!(ours.crc64nvme, crc64nvme(slice));
        assert_eq!(ours.sha256, Some(base64(&sha2::Sha256::digest(slice))));
        let md5: String = md5::Md5::digest(slice)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(ours.md5.as_deref(), Some(md5.as_str()));
        assert_ne!(ours.crc64nvme, crc64nvme(&slice[1..]));
        let none = part_digests(&path, offset, len, Wanted::default())
            .await
            .unwrap();
        assert_eq!((none.sha256, none.md5), (None, None));
        assert!(
            part_digests(&path, 2_000_000, 1_000_002, all)
                .await
                .is_err(),
            "a file shorter than the plan is an error"
        );
        std::fs::remove_file(&path).unwrap();
    }

    fn listed(etag: Option<&str>, checksum: Option<&str>) -> ListedPart {
        ListedPart {
            part_number: 1,
            etag: etag.map(str::to_owned),
            size: 3,
            checksum: checksum.map(str::to_owned),
        }
    }

    #[test]
    fn stored_parts_are_kept_only_when_they_check_out() {
        let local = PartDigests {
            crc64nvme: 0xae8b_1486_0a79_9888,
            sha256: None,
            md5: Some("25f9e794323b453885f5181f1b624d0b".into()),
        };
        let crc = Verify::Crc64Nvme;
        assert!(same_bytes(&listed(None, Some("rosUhgp5mIg=")), &local, crc));
        assert!(!same_bytes(
            &listed(None, Some("AAAAAAAAAAA=")),
            &local,
            crc
        ));
        // A stored checksum decides, whatever the ETag says.
        let md5_etag = "\"25F9E794323B453885F5181F1B624D0B\"";
        assert!(!same_bytes(
            &listed(Some(md5_etag), Some("AAAAAAAAAAA=")),
            &local,
            crc
        ));
        // No checksum: the ETag as an MD5, quoted or not, any case.
        assert!(same_bytes(&listed(Some(md5_etag), None), &local, crc));
        assert!(!same_bytes(
            &listed(Some("\"00f9e794323b453885f5181f1b624d0b\""), None),
            &local,
            Verify::Unverified
        ));
        // Nothing to check by (an SSE-KMS ETag, or none): not kept.
        assert!(!same_bytes(&listed(Some("\"abc-2\""), None), &local, crc));
        assert!(!same_bytes(&listed(None, None), &local, crc));
        assert!(wanted_for(&listed(Some(md5_etag), None), crc).md5);
        assert!(!wanted_for(&listed(Some(md5_etag), Some("x")), crc).md5);
        assert!(wanted_for(&listed(None, Some("x")), Verify::Sha256).sha256);
    }
}
