//! User metadata of an upload: the client's `metadata` object, stored on the record and set on the
//! object as S3 user metadata (`x-amz-meta-{key}`), as Uppy's `allowedMetaFields`, tus's
//! `Upload-Metadata` and Amplify's `metadata` do.
//!
//! Keys are lower-case `[a-z0-9-]` (S3 lower-cases metadata names anyway, and `_` or `.` do not
//! survive every proxy); values are printable ASCII, since S3 sends metadata in HTTP headers and
//! would mangle anything else (leading or trailing spaces included). Keys and values together are
//! at most 2 KB, S3's limit for user metadata.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::error::ApiError;

/// Key → value, ordered by key.
pub type Metadata = BTreeMap<String, String>;

/// S3's limit: the UTF-8 bytes of every key and value together.
pub const MAX_METADATA_BYTES: usize = 2048;
/// A key's longest spelling.
pub const MAX_KEY_CHARS: usize = 128;

fn refused(message: String) -> ApiError {
    ApiError::bad_request("INVALID_METADATA", message)
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

/// The checked `metadata` of a request body; empty when it was absent.
pub fn parse(raw: Option<&Map<String, Value>>) -> Result<Metadata, ApiError> {
    let Some(raw) = raw else {
        return Ok(Metadata::new());
    };
    let mut metadata = Metadata::new();
    let mut bytes = 0usize;
    for (key, value) in raw {
        if !key_ok(key) {
            return Err(refused(format!(
                "metadata key {key:?} must be 1 to {MAX_KEY_CHARS} characters of a-z, 0-9 and -"
            )));
        }
        let Value::String(value) = value else {
            return Err(refused(format!("metadata.{key} must be a string")));
        };
        if !value_ok(value) {
            return Err(refused(format!(
                "metadata.{key} must be printable ASCII without leading or trailing spaces \
                 (S3 stores metadata in HTTP headers): percent-encode other characters"
            )));
        }
        bytes += key.len() + value.len();
        metadata.insert(key.clone(), value.clone());
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
    use serde_json::json;

    fn check(value: Value) -> Result<Metadata, ApiError> {
        parse(value.as_object())
    }

    #[test]
    fn absent_is_empty_and_good_metadata_is_kept() {
        assert!(parse(None).unwrap().is_empty());
        let m = check(json!({"album": "Summer 2026", "shot-by": "ana", "n-1": "x y"})).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["shot-by"], "ana");
        assert_eq!(m["album"], "Summer 2026");
    }

    #[test]
    fn bad_keys_values_and_sizes_are_400s() {
        for bad in [
            json!({"Album": "x"}),
            json!({"al_bum": "x"}),
            json!({"": "x"}),
            json!({"a.b": "x"}),
            json!({"a": 1}),
            json!({"a": null}),
            json!({"a": {"b": "c"}}),
            json!({"a": "caf\u{e9}"}),
            json!({"a": "line\r\nx-amz-acl: public-read"}),
            json!({"a": " padded"}),
            json!({"a": "x".repeat(2048)}),
            json!({"k".repeat(129): "x"}),
        ] {
            let err = check(bad.clone()).unwrap_err();
            assert_eq!(
                (err.status().as_u16(), err.code()),
                (400, "INVALID_METADATA"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_limit_counts_keys_and_values() {
        // 1 + 2047 = 2048 bytes: exactly the limit.
        assert!(check(json!({"a": "x".repeat(2047)})).is_ok());
        let err = check(json!({"a": "x".repeat(2047), "b": ""})).unwrap_err();
        assert!(err.to_string().contains("2049 bytes"), "{err}");
    }
}
