//! Per-part checksums, chosen per upload. The phone sends each part's checksum when it asks for the
//! part's URL; the URL is signed with the checksum header, so storage refuses bytes that differ.
//! With CRC64NVME (full object) the client also sends the whole file's CRC64NVME at complete, and
//! storage refuses to create an object whose bytes differ from the client's file.

use crate::domain::UploadError;
use upload_contract::ErrorCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha256,
    Crc32c,
    /// Full-object: storage checks the whole file's CRC64NVME at complete.
    Crc64Nvme,
}

impl ChecksumAlgorithm {
    pub const NAMES: &'static str = "CRC64NVME, SHA256, CRC32C";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, UploadError> {
        match raw.to_ascii_uppercase().as_str() {
            "SHA256" | "SHA-256" => Ok(Self::Sha256),
            "CRC32C" => Ok(Self::Crc32c),
            "CRC64NVME" => Ok(Self::Crc64Nvme),
            _ => Err(UploadError::invalid(
                ErrorCode::InvalidChecksumAlgorithm,
                format!("checksumAlgorithm must be one of {}", Self::NAMES),
            )),
        }
    }

    /// The header the phone must send with each part's `PUT`.
    pub fn header(self) -> &'static str {
        match self {
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
        }
    }

    /// Whether storage checks the whole object's checksum (CRC64NVME, `FULL_OBJECT`) rather than
    /// a checksum of the parts' checksums (`COMPOSITE`).
    pub fn full_object(self) -> bool {
        self == Self::Crc64Nvme
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
        }
    }

    /// Checks that `value` is the base64 of a digest of this algorithm's length.
    pub fn check_value<'a>(self, value: &'a str, field: &str) -> Result<&'a str, UploadError> {
        if base64_len(value) == Some(self.digest_len()) {
            Ok(value)
        } else {
            Err(UploadError::invalid(
                ErrorCode::InvalidChecksum,
                format!(
                    "{field} must be the base64 {} digest of the part ({} bytes)",
                    self.as_str(),
                    self.digest_len()
                ),
            ))
        }
    }
}

/// The decoded length of standard, padded base64 text, or `None` if it is not such text.
fn base64_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let body = &bytes[..bytes.len() - padding];
    if !body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return None;
    }
    Some(bytes.len() / 4 * 3 - padding)
}

/// The headers a part URL was signed with, as the answer's `headers` lists them: `content-length`
/// (which HTTP clients set themselves from a fixed-size body: a browser's `fetch` must not, and
/// cannot, set it) and, for checksummed uploads, the checksum header with its value.
pub fn part_headers(
    content_length: u64, checksum: Option<(ChecksumAlgorithm, &str)>,
) -> std::collections::BTreeMap<String, String> {
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("content-length".into(), content_length.to_string());
    if let Some((algorithm, value)) = checksum {
        headers.insert(algorithm.header().into(), value.into());
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_parse() {
        assert_eq!(
            ChecksumAlgorithm::parse("sha256").unwrap(),
            ChecksumAlgorithm::Sha256
        );
        assert_eq!(
            ChecksumAlgorithm::parse("CRC32C").unwrap(),
            ChecksumAlgorithm::Crc32c
        );
        assert_eq!(
            ChecksumAlgorithm::parse("crc64nvme").unwrap(),
            ChecksumAlgorithm::Crc64Nvme
        );
        assert!(ChecksumAlgorithm::Crc64Nvme.full_object());
        assert!(!ChecksumAlgorithm::Sha256.full_object());
        assert!(matches!(
            ChecksumAlgorithm::parse("md5").unwrap_err(),
            UploadError::Invalid {
                code: ErrorCode::InvalidChecksumAlgorithm,
                ..
            }
        ));
    }

    #[test]
    fn values_must_be_base64_digests_of_the_right_length() {
        let sha = ChecksumAlgorithm::Sha256;
        assert!(sha
            .check_value("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "c")
            .is_ok());
        assert!(sha.check_value("AAAAAA==", "c").is_err());
        assert!(sha
            .check_value("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", "c")
            .is_err());
        assert!(sha
            .check_value("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu\nU=", "c")
            .is_err());
        let crc = ChecksumAlgorithm::Crc32c;
        assert!(crc.check_value("AAAAAA==", "c").is_ok());
        assert!(matches!(
            crc.check_value("", "c").unwrap_err(),
            UploadError::Invalid {
                code: ErrorCode::InvalidChecksum,
                ..
            }
        ));
        assert!(crc.check_value("A===", "c").is_err());
        let crc64 = ChecksumAlgorithm::Crc64Nvme;
        assert!(crc64.check_value("AAAAAAAAAAA=", "c").is_ok());
        assert!(crc64.check_value("AAAAAA==", "c").is_err());
    }
}
