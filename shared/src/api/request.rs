//! Parsing of request bodies and fields into checked values, each failure a 4xx that names the field
//! and says what would be accepted.

use serde_json::{Map, Value};

use crate::api::error::ApiError;

/// A JSON object request body.
#[derive(Debug)]
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "INVALID_JSON",
                "the request body is empty: send a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::bad_request(
                "INVALID_JSON",
                "the request body must be a JSON object",
            )),
            Err(err) => Err(ApiError::bad_request(
                "INVALID_JSON",
                format!("the request body is not valid JSON: {err}"),
            )),
        }
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn string(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_string(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name, "must be a string")),
        }
    }

    /// A whole number in `min..=max`.
    pub fn integer(&self, name: &str, min: u64, max: u64) -> Result<u64, ApiError> {
        let value = self.field(name).ok_or_else(|| missing(name))?;
        integer_in(value, name, min, max)
    }

    /// An optional whole number in `min..=max`.
    pub fn opt_integer(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        self.field(name)
            .map(|value| integer_in(value, name, min, max))
            .transpose()
    }

    pub fn opt_object(&self, name: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(invalid(name, "must be an object")),
        }
    }

    pub fn opt_array(&self, name: &str) -> Result<Option<&Vec<Value>>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(invalid(name, "must be an array")),
        }
    }
}

/// The optional `fingerprint` a client computes for its file: 1 to 128 characters.
pub fn fingerprint(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw {
        None => Ok(None),
        Some(f) if !f.trim().is_empty() && f.chars().count() <= 128 => Ok(Some(f.to_owned())),
        Some(_) => Err(ApiError::bad_request(
            "INVALID_FINGERPRINT",
            "fingerprint must be 1 to 128 characters, for example a hash of the file's name, size and modification time",
        )),
    }
}

/// Below 2^53 every whole number has an exact `f64`, so `5.0` can be read as `5` without guessing.
const EXACT_F64_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// `value` as a whole number in `min..=max`, or a 400 naming `name`.
///
/// JSON has one number type, and JSON Schema (so `openapi.yaml`) counts `5.0` as the integer 5;
/// some encoders write whole doubles that way. Such a number is accepted as long as it is exact.
/// `fileSize`: a whole number of bytes from 1 to `max` (MAX_FILE_SIZE). Every invalid size (not a
/// number, negative, zero, too large) answers INVALID_FILE_SIZE with that range.
pub fn file_size(body: &JsonBody, max: u64) -> Result<u64, ApiError> {
    let value = body.field("fileSize").ok_or_else(|| missing("fileSize"))?;
    integer_in(value, "fileSize", 1, max)
        .map_err(|_| ApiError::bad_request("INVALID_FILE_SIZE", file_size_message(max)))
}

pub fn file_size_message(max: u64) -> String {
    format!("fileSize must be a whole number of bytes from 1 to {max} (the largest file this service accepts)")
}

pub fn integer_in(value: &Value, name: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..EXACT_F64_INTEGERS).contains(f))
            .map(|f| f as u64)
    });
    match whole {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            &format!("must be a whole number from {min} to {max}"),
        )),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::bad_request("MISSING_FIELD", format!("{name} is required"))
}

fn invalid(name: &str, what: &str) -> ApiError {
    ApiError::bad_request("INVALID_FIELD", format!("{name} {what}"))
}

/// An upload id as the service issues them (a UUID), in canonical lower-case form.
pub fn upload_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| {
            ApiError::bad_request(
                "INVALID_UPLOAD_ID",
                "uploadId is not an id this service issued (expected a UUID)",
            )
        })
}

pub const MAX_FILE_NAME_CHARS: usize = 1024;

/// The client's file name: required, at most 1,024 characters. Its content is sanitised into the key,
/// so odd characters are not refused here.
pub fn file_name(raw: &str) -> Result<&str, ApiError> {
    if raw.trim().is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_FILE_NAME",
            "fileName must not be empty",
        ));
    }
    if raw.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(ApiError::bad_request(
            "INVALID_FILE_NAME",
            format!("fileName must be at most {MAX_FILE_NAME_CHARS} characters"),
        ));
    }
    Ok(raw)
}

/// A media type `type/subtype` (RFC 6838 characters, no parameters), checked against the allow-list
/// (`type/*` wildcards; empty = any). Returned lower-cased.
pub fn content_type(raw: &str, allowed: &[String]) -> Result<String, ApiError> {
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
        return Err(ApiError::bad_request(
            "INVALID_FILE_TYPE",
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
        return Err(ApiError::client(
            lambda_http::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "FILE_TYPE_NOT_ALLOWED",
            format!(
                "fileType {lower} is not accepted; allowed: {}",
                allowed.join(", ")
            ),
        ));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<impl std::fmt::Debug, ApiError>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn body_must_be_a_json_object() {
        assert_eq!(code(JsonBody::parse(b"")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"  \n")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"{\"fileName\":")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"[1,2]")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"\xff\xfe")), "INVALID_JSON");
        assert!(JsonBody::parse(b"{}").is_ok());
    }

    #[test]
    fn fields_are_typed() {
        let body = JsonBody::parse(
            br#"{"a":"x","n":5,"n2":5.0,"neg":-1,"f":1.5,"big":1e30,"inexact":9007199254740993.0,"negz":-0.0,"s":"5","nul":null}"#,
        )
        .unwrap();
        assert_eq!(body.string("a").unwrap(), "x");
        assert_eq!(code(body.string("n")), "INVALID_FIELD");
        assert_eq!(code(body.string("missing")), "MISSING_FIELD");
        assert_eq!(code(body.string("nul")), "MISSING_FIELD");
        assert_eq!(body.integer("n", 1, 10).unwrap(), 5);
        assert_eq!(code(body.integer("n", 6, 10)), "INVALID_FIELD");
        // A whole number written as a float is the same number (JSON Schema's `integer`).
        assert_eq!(body.integer("n2", 1, 10).unwrap(), 5);
        assert_eq!(code(body.integer("n2", 6, 10)), "INVALID_FIELD");
        assert_eq!(body.integer("negz", 0, 10).unwrap(), 0);
        for name in ["neg", "f", "big", "inexact", "s", "a"] {
            assert_eq!(
                code(body.integer(name, 0, u64::MAX)),
                "INVALID_FIELD",
                "{name}"
            );
        }
        let err = body.integer("neg", 1, 10).unwrap_err();
        assert!(err
            .to_string()
            .contains("neg must be a whole number from 1 to 10"));
    }

    #[test]
    fn upload_ids_are_uuids() {
        let id = upload_id("3F2C9D1E-8A4B-4C6D-9E0F-1A2B3C4D5E6F").unwrap();
        assert_eq!(id, "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f");
        for bad in [
            "",
            "abc",
            "../../etc",
            "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6",
            "3f2c9d1e\0",
        ] {
            assert_eq!(code(upload_id(bad)), "INVALID_UPLOAD_ID", "{bad:?}");
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
        assert_eq!(
            (err.status().as_u16(), err.code()),
            (415, "FILE_TYPE_NOT_ALLOWED")
        );
    }
}
