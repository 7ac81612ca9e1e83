//! The file a client describes when it starts an upload, checked: its name, media type, size and
//! fingerprint. Each refusal says what would be accepted.

use crate::domain::UploadError;
use upload_contract::ErrorCode;

/// The optional `fingerprint` a client computes for its file: 1 to 128 characters.
pub fn fingerprint(raw: Option<&str>) -> Result<Option<String>, UploadError> {
    match raw {
        None => Ok(None),
        Some(f) if !f.trim().is_empty() && f.chars().count() <= 128 => Ok(Some(f.to_owned())),
        Some(_) => Err(UploadError::invalid(
            ErrorCode::InvalidFingerprint,
            "fingerprint must be 1 to 128 characters, for example a hash of the file's name, size and modification time",
        )),
    }
}

/// Every invalid `fileSize` (not a number, negative, zero, too large) is refused with this range.
pub fn file_size_message(max: u64) -> String {
    format!("fileSize must be a whole number of bytes from 1 to {max} (the largest file this service accepts)")
}

pub const MAX_FILE_NAME_CHARS: usize = 1024;

/// The client's file name: required, at most 1,024 characters. Its content is sanitised into the key,
/// so odd characters are not refused here.
pub fn file_name(raw: &str) -> Result<&str, UploadError> {
    if raw.trim().is_empty() {
        return Err(UploadError::invalid(
            ErrorCode::InvalidFileName,
            "fileName must not be empty",
        ));
    }
    if raw.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(UploadError::invalid(
            ErrorCode::InvalidFileName,
            format!("fileName must be at most {MAX_FILE_NAME_CHARS} characters"),
        ));
    }
    Ok(raw)
}

/// A media type `type/subtype` (RFC 6838 characters, no parameters), checked against the allow-list
/// (`type/*` wildcards; empty = any). Returned lower-cased.
pub fn content_type(raw: &str, allowed: &[String]) -> Result<String, UploadError> {
    // No trimming: whitespace is not part of a media type, and openapi.yaml's pattern says so.
    let lower = raw.to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let well_formed = matches!(lower.split_once('/'), Some((t, s)) if token(t) && token(s));
    if !well_formed {
        return Err(UploadError::invalid(
            ErrorCode::InvalidFileType,
            "fileType must be a media type such as video/mp4",
        ));
    }
    let permitted = allowed.is_empty()
        || allowed
            .iter()
            .any(|pattern| match pattern.strip_suffix("/*") {
                Some(prefix) => lower.split_once('/').is_some_and(|(t, _)| t == prefix),
                None => *pattern == lower,
            });
    if !permitted {
        return Err(UploadError::TypeNotAllowed(format!(
            "fileType {lower} is not accepted; allowed: {}",
            allowed.join(", ")
        )));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<impl std::fmt::Debug, UploadError>) -> ErrorCode {
        match result.unwrap_err() {
            UploadError::Invalid { code, .. } => code,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn file_names_are_bounded() {
        assert!(file_name("a.mp4").is_ok());
        assert!(
            file_name("../\u{202E}weird\0name").is_ok(),
            "sanitised later, not refused"
        );
        assert_eq!(code(file_name("   ")), "INVALID_FILE_NAME");
        assert_eq!(code(file_name(&"a".repeat(1025))), "INVALID_FILE_NAME");
    }

    #[test]
    fn content_types_are_checked() {
        assert_eq!(content_type("Video/MP4", &[]).unwrap(), "video/mp4");
        assert_eq!(code(content_type("video", &[])), "INVALID_FILE_TYPE");
        assert_eq!(code(content_type(" video/mp4", &[])), "INVALID_FILE_TYPE");
        assert_eq!(
            code(content_type("video/mp4\r\nx-evil: 1", &[])),
            "INVALID_FILE_TYPE"
        );
        assert_eq!(
            code(content_type("video/mp4; codecs=avc1", &[])),
            "INVALID_FILE_TYPE"
        );
        let allowed = vec!["video/*".to_string(), "image/jpeg".to_string()];
        assert!(content_type("video/quicktime", &allowed).is_ok());
        assert!(content_type("image/jpeg", &allowed).is_ok());
        let err = content_type("image/png", &allowed).unwrap_err();
        assert!(
            matches!(&err, UploadError::TypeNotAllowed(m) if m.contains("image/png")),
            "{err:?}"
        );
    }
}
