//! The bytes tests upload and the digests they compare them by.

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub const MIB: usize = 1024 * 1024;

/// Deterministic bytes that differ from part to part (a repeated pattern would hide misplaced parts).
pub fn file_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `bytes` in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Standard padded base64, as S3's checksum headers carry digests.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The SHA-256 of `bytes` in base64, as `x-amz-checksum-sha256` carries it.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(
            sha256_base64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[test]
    fn file_bytes_are_deterministic_and_seeded() {
        assert_eq!(file_bytes(64, 1), file_bytes(64, 1));
        assert_ne!(file_bytes(64, 1), file_bytes(64, 2));
        assert_ne!(file_bytes(64, 1)[..32], file_bytes(64, 1)[32..]);
    }
}
