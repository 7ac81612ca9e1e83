//! User metadata of an upload: the client's `metadata` object, stored on the record and set on the
//! object as S3 user metadata (`x-amz-meta-{key}`), as Uppy's `allowedMetaFields`, tus's
//! `Upload-Metadata` and Amplify's `metadata` do.
//!
//! Keys are lower-case `[a-z0-9-]` (S3 lower-cases metadata names anyway, and `_` or `.` do not
//! survive every proxy); values are printable ASCII, since S3 sends metadata in HTTP headers and
//! would mangle anything else (leading or trailing spaces included). Keys and values together are
//! at most 2 KB, S3's limit for user metadata.

use std::collections::BTreeMap;

use crate::domain::UploadError;
use upload_contract::ErrorCode;

/// Key → value, ordered by key.
pub type Metadata = BTreeMap<String, String>;

/// S3's limit: the UTF-8 bytes of every key and value together.
pub const MAX_METADATA_BYTES: usize = 2048;
/// A key's longest spelling.
pub const MAX_KEY_CHARS: usize = 128;

fn refused(message: String) -> UploadError {
    UploadError::invalid(ErrorCode::InvalidMetadata, message)
}

fn key_ok(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn value_ok(value: &str) -> bool {
    value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.trim_matches(' ').len() == value.len()
}

/// The checked `metadata` of a request body, from its entries in order (a value `None` when it is
/// not a string); empty when it was absent.
pub fn parse<'a>(
    raw: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<Metadata, UploadError> {
    let mut metadata = Metadata::new();
    let mut bytes = 0usize;
    for (key, value) in raw {
        if !key_ok(key) {
            return Err(refused(format!(
                "metadata key {key:?} must be 1 to {MAX_KEY_CHARS} characters of a-z, 0-9 and -"
            )));
        }
        let Some(value) = value else {
            return Err(refused(format!("metadata.{key} must be a string")));
        };
        if !value_ok(value) {
            return Err(refused(format!(
                "metadata.{key} must be printable ASCII without leading or trailing spaces \
                 (S3 stores metadata in HTTP headers): percent-encode other characters"
            )));
        }
        bytes += key.len() + value.len();
        metadata.insert(key.to_owned(), value.to_owned());
    }
    if bytes > MAX_METADATA_BYTES {
        return Err(refused(format!(
            "metadata keys and values add up to {bytes} bytes; at most {MAX_METADATA_BYTES} are allowed"
        )));
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries as the API layer hands them over: `None` for a value that is not a string.
    fn check(entries: &[(&str, Option<&str>)]) -> Result<Metadata, UploadError> {
        parse(entries.iter().copied())
    }

    #[test]
    fn absent_is_empty_and_good_metadata_is_kept() {
        assert!(parse([]).unwrap().is_empty());
        let m = check(&[
            ("album", Some("Summer 2026")),
            ("shot-by", Some("ana")),
            ("n-1", Some("x y")),
        ])
        .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["shot-by"], "ana");
        assert_eq!(m["album"], "Summer 2026");
    }

    #[test]
    fn bad_keys_values_and_sizes_are_400s() {
        let long_value = "x".repeat(2048);
        let long_key = "k".repeat(129);
        for bad in [
            ("Album", Some("x")),
            ("al_bum", Some("x")),
            ("", Some("x")),
            ("a.b", Some("x")),
            // A number, null or an object in the JSON.
            ("a", None),
            ("a", Some("caf\u{e9}")),
            ("a", Some("line\r\nx-amz-acl: public-read")),
            ("a", Some(" padded")),
            ("a", Some(long_value.as_str())),
            (long_key.as_str(), Some("x")),
        ] {
            let err = check(&[bad]).unwrap_err();
            assert!(
                matches!(
                    err,
                    UploadError::Invalid {
                        code: ErrorCode::InvalidMetadata,
                        ..
                    }
                ),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn the_limit_counts_keys_and_values() {
        // 1 + 2047 = 2048 bytes: exactly the limit.
        let value = "x".repeat(2047);
        assert!(check(&[("a", Some(value.as_str()))]).is_ok());
        let err = check(&[("a", Some(value.as_str())), ("b", Some(""))]).unwrap_err();
        assert!(err.to_string().contains("2049 bytes"), "{err}");
    }
}
